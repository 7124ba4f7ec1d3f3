"""`simtrainer bench patient`: load time, first-token time as a session grows, app vs raw speed, memory.

How each figure is computed:
- load_s: wall time to open the model behind the ChatBackend seam.
- first_token_s_turnN: time from sending trainee turn N to the first streamed patient token, in one scripted
  session whose cache was primed with the persona and opening line (as the app does while the trainee reads).
  One turn is one draw (a card line comes at once, model text after its candidates), so also
  first_token_s_late_median (turns 21-30) and first_token_s_by_source (median where the reply was model text
  and where it was a card line).
- raw_tok_s / app_tok_s: generated tokens per second of wall time (prompt reuse included), greedy, same
  stops, over the prompts of the session's last 8 turns, each prompt evaluated once beforehand so both
  sides reuse the same cache; raw calls llama-cpp-python directly, app goes through
  the Patient (backend seam, guard, trimming). Raw and app alternate per prompt, the order flipping each round; `rounds` (5) rounds summed.
  speed_ratio = app_tok_s / raw_tok_s, so both sides share the machine's load at that moment.
- rss_mb: resident memory of this process at the end; peak_rss_mb: its peak.

Patient realism (every MI card, two scripts each: MI-consistent and MI-inconsistent, 8 turns, app settings):
- on_persona_rate: share of patient replies that contradict none of the card's facts (each fact lists regular
  expressions that would contradict it; `patient/judge.py`).
- in_character_rate: share of replies that pass both the guard's checks (`guard.check_reply`) and the separate
  rule-based judge (`judge.judge`: counselor-style moves, assistant phrasing, third-person self-talk, length).
- change_talk_delta: share of replies coded change talk by the client-talk coder after the MI-consistent
  scripts, minus that share after the MI-inconsistent ones.
- card_line_share: share of replies that are card-authored lines (disclosures, change / sustain lines,
  pressure reactions) rather than model text;
- relevance_rate: share of replies the answer check (`patient/answer_model.py`) says answer the trainee's turn;
  relevance_rate_similarity: the same by the older encoder-similarity check (`patient/relevance.py`), which the
  patient no longer chooses by, so it is not flattered by the choosing; relevance_check: the answer check's
  accuracy / F1 on the dev set (where its threshold was chosen) and on three evaluation sets written by other
  authors and never tuned on (`bench/relevance.py`);
- stage_directions (chat-style models only): trigger turns where the model was told how the person takes the
  turn (`given`), replies in the model's own words that kept to it (`voiced`), and replies that only restated
  the scripted example (`echoed`, counted as card lines);
- repeat_count: reply lines said a second time within a session (the opening line counts as said);
  near_repeat_count: replies that say again what an earlier reply of the session said (encoder similarity at
  least `lines.NEAR_REPEAT`), exact repeats included;
- cross_seed_difference: share of replies that differ, turn by turn, between the MI-consistent script run with
  the bench seed and with the next seed (0: seeds change nothing; 1: every reply differs); candidate_*_reject_rate: share of generated candidates the
  steering rejected for contradicting the card or breaking character (what an unsteered patient would show).
"""

from __future__ import annotations

import dataclasses
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from simtrainer.bench.scripts import GENERIC_MI_SCRIPTS, GENERIC_TRAINEE_LINES, MI_SCRIPTS
from simtrainer.config import PatientSettings, Settings
from simtrainer.events import PatientDone
from simtrainer.llm import open_backend, resolve_model
from simtrainer.llm.base import GenParams
from simtrainer.patient import Line, Patient
from simtrainer.scenarios.card import Card
from simtrainer.session import Session
from simtrainer.storage import Store


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _speed(patient: Patient, histories: list[list[Line]], raw_llama: Any | None, rounds: int = 5) -> dict:
    """Tokens per second over the same prompts, raw llama-cpp-python vs the app's Patient path (greedy)."""
    count = patient.backend.count_tokens
    stops = list(patient.prompt.stops)
    tokens = 0
    app_time = raw_time = 0.0

    chat = patient.budget.prompt_style == "chat"

    def run_raw(history: list[Line]) -> tuple[float, str]:
        """The same prompt straight through llama-cpp-python (its chat template for chat-style models)."""
        started, text = time.perf_counter(), ""
        args = {"max_tokens": patient.settings.max_tokens, "temperature": 0.0, "top_p": patient.settings.top_p,
                "stop": stops, "stream": True, "repeat_penalty": 1.1}
        if chat:
            for chunk in raw_llama.create_chat_completion(patient.chat_messages(history), **args):
                text += chunk["choices"][0]["delta"].get("content") or ""
        else:
            for chunk in raw_llama.create_completion(patient.render(history), **args):
                text += chunk["choices"][0]["text"]
        return time.perf_counter() - started, text

    def run_app(history: list[Line]) -> tuple[float, str]:
        started, text = time.perf_counter(), ""
        for event in patient.reply(history):
            if isinstance(event, PatientDone):
                text = event.text
        return time.perf_counter() - started, text

    for round_no in range(rounds):
        for history in histories:
            for _ in patient.stream(history, GenParams(max_tokens=1, temperature=0.0)):
                pass  # both sides then start from the same cached prompt
            if raw_llama is None:
                elapsed, text = run_app(history)
                app_time += elapsed
                tokens += count(text)
                continue
            order = (run_raw, run_app) if round_no % 2 == 0 else (run_app, run_raw)
            for fn in order:
                elapsed, text = fn(history)
                if fn is run_raw:
                    raw_time += elapsed
                    tokens += count(text)  # greedy: the app generates these same tokens, then trims the text
                else:
                    app_time += elapsed
    app = tokens / app_time
    raw = tokens / raw_time if raw_time else None
    return {
        "app_tok_s": round(app, 1),
        "raw_tok_s": round(raw, 1) if raw else None,
        "speed_ratio": round(app / raw, 3) if raw else None,
    }


def realism(settings: Settings, backend, model_name: str, cards: list[Card], store: Store) -> dict[str, Any]:
    """Patient realism over every MI card's two scripts (MI-consistent, MI-inconsistent)."""
    from simtrainer.bench.relevance import validate
    from simtrainer.feedback.mi import load_mi_coder
    from simtrainer.feedback.registry import coders_for
    from simtrainer.patient.answer_model import load_answer_model
    from simtrainer.patient.guard import check_reply
    from simtrainer.patient.judge import contradictions, judge
    from simtrainer.patient.lines import LineBank
    from simtrainer.patient.patient import norm_text
    from simtrainer.patient.relevance import AnswerCheck, is_relevant

    talk: dict[str, list[str]] = {"consistent": [], "inconsistent": []}
    replies = on_persona = in_character = from_card = relevant = relevant_similarity = repeats = near_repeats = 0
    directions = {"given": 0, "voiced": 0, "echoed": 0}
    sources: dict[str, int] = {}
    generated = rejected_persona = rejected_character = 0
    per_card = {}
    seed = settings.seed if settings.seed is not None else 7
    embed = load_mi_coder().model.encoder
    answers = AnswerCheck(embed, load_answer_model())
    bank = LineBank(embed)
    first_seed: dict[str, list[str]] = {}
    differ = compared = 0
    for card in cards:
        scripts = MI_SCRIPTS.get(card.id) or GENERIC_MI_SCRIPTS
        per_card[card.id] = {}
        runs = [(kind, lines, seed) for kind, lines in scripts.items()] + [("consistent", scripts["consistent"],
                                                                            seed + 1)]
        for kind, lines, run_seed in runs:
            session = Session(store, card, backend, patient_settings=settings.patient, coders=coders_for(card, settings),
                              seed=run_seed, model_name=model_name)
            session.prime()
            shares, texts = [], []
            for line in lines:
                for event in session.submit(line):
                    if isinstance(event, PatientDone):
                        meta = event.meta
                        text = event.text
                texts.append(text)
                if run_seed != seed:
                    continue
                code = session.turn_codes[-1][0].code if session.turn_codes[-1] else "neutral"
                talk[kind].append(code)
                shares.append(code)
                replies += 1
                on_persona += not contradictions(card, text)
                in_character += check_reply(text, line).ok and judge(card, text) is None
                from_card += meta.get("source", "model").startswith("card")
                sources[meta.get("source", "model")] = sources.get(meta.get("source", "model"), 0) + 1
                if meta.get("trigger") and session.patient.follows_directions:
                    directions["given"] += 1
                    directions["voiced"] += meta.get("source") == "model" and bool(meta.get("directed"))
                    directions["echoed"] += bool(meta.get("echoed"))
                relevant += answers.scores(line, [text])[0] >= answers.threshold
                relevant_similarity += is_relevant(embed, line, text)
                generated += len(meta.get("candidates", [])) + len(meta.get("rejected", []))
                rejected_persona += sum(r.startswith("contradicts") for r in meta.get("rejected", []))
                rejected_character += sum(not r.startswith("contradicts") for r in meta.get("rejected", []))
            session.end()
            said = [norm_text(t) for t in [card.opening_line, *texts]]
            repeats += len(said) - len(set(said))
            near_repeats += sum(bool(bank.near_repeats([text], [card.opening_line, *texts[:i]]))
                                for i, text in enumerate(texts))
            if run_seed != seed:
                differ += sum(a != b for a, b in zip(first_seed[card.id], texts, strict=False))
                compared += min(len(first_seed[card.id]), len(texts))
                continue
            if kind == "consistent":
                first_seed[card.id] = texts
            per_card[card.id][kind] = {"change_share": round(shares.count("change") / len(shares), 3),
                                       "change": shares.count("change"), "sustain": shares.count("sustain"),
                                       "neutral": shares.count("neutral"), "final_state": session.state.as_dict(),
                                       "replies": texts}

    for figures in per_card.values():
        if "consistent" in figures and "inconsistent" in figures:
            figures["change_talk_delta"] = round(figures["consistent"]["change_share"]
                                                 - figures["inconsistent"]["change_share"], 3)
    deltas = [f["change_talk_delta"] for f in per_card.values() if "change_talk_delta" in f]

    def share(kind: str, code: str) -> float:
        return round(talk[kind].count(code) / len(talk[kind]), 3) if talk[kind] else 0.0

    return {
        "realism_replies": replies,
        "on_persona_rate": round(on_persona / replies, 3) if replies else None,
        "in_character_rate": round(in_character / replies, 3) if replies else None,
        "change_talk_delta": round(share("consistent", "change") - share("inconsistent", "change"), 3),
        "change_talk_delta_min": min(deltas) if deltas else None,
        "change_share_consistent": share("consistent", "change"),
        "change_share_inconsistent": share("inconsistent", "change"),
        "sustain_share_consistent": share("consistent", "sustain"),
        "sustain_share_inconsistent": share("inconsistent", "sustain"),
        "card_line_share": round(from_card / replies, 3) if replies else None,
        "relevance_rate": round(relevant / replies, 3) if replies else None,
        "relevance_rate_similarity": round(relevant_similarity / replies, 3) if replies else None,
        "repeat_count": repeats,
        "near_repeat_count": near_repeats,
        "reply_sources": dict(sorted(sources.items())),
        "stage_directions": directions,
        "cross_seed_difference": round(differ / compared, 3) if compared else None,
        "relevance_check": validate(embed, answers),
        "candidates_generated": generated,
        "candidate_persona_reject_rate": round(rejected_persona / generated, 3) if generated else None,
        "candidate_character_reject_rate": round(rejected_character / generated, 3) if generated else None,
        "per_card": per_card,
    }


def bench_patient(settings: Settings, card: Card, *, model: str | None = None, turns: int = 30, rounds: int = 5,
                  mi_cards: list[Card] | None = None) -> dict[str, Any]:
    entry = resolve_model(settings, model)
    started = time.perf_counter()
    backend = open_backend(settings, model)
    load_s = time.perf_counter() - started
    lines = (GENERIC_TRAINEE_LINES * (turns // len(GENERIC_TRAINEE_LINES) + 1))[:turns]
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        from simtrainer.feedback.registry import coders_for

        session = Session(store, card, backend, patient_settings=settings.patient, seed=settings.seed or 7,
                          model_name=entry.name, coders=coders_for(card, settings))
        session.prime()
        first_tokens, reply_times, fallbacks, resets, by_source = [], [], 0, 0, {"model": [], "card": []}
        for line in lines:
            for event in session.submit(line):
                if isinstance(event, PatientDone):
                    first_tokens.append(event.meta["first_token_s"])
                    source = "card" if event.meta.get("source", "model").startswith("card") else "model"
                    by_source[source].append(event.meta["first_token_s"])
                    reply_times.append(event.meta["elapsed_s"])
                    fallbacks += bool(event.meta.get("fallback"))
                    resets += len(event.meta["rejected"])
        session.end()
        store.close()
    greedy = Patient(card, backend, PatientSettings(**{**settings.patient.model_dump(), "temperature": 0.0,
                                                       "max_sentences": 10, "retries": 0}))
    greedy.budget = dataclasses.replace(greedy.budget, sentences=None)  # raw is not cut either
    greedy.prime(session.history[:1])  # as a session does before its first turn: card lines encoded
    ends = [i for i, line in enumerate(session.history) if line.speaker == "trainee"][-8:]
    speed = _speed(greedy, [session.history[: i + 1] for i in ends], getattr(backend, "llama", None), rounds)

    def at(turn: int) -> float | None:
        return first_tokens[turn - 1] if len(first_tokens) >= turn else None

    result = {
        "model": entry.name,
        "backend": backend.label,
        "scenario": card.id,
        "turns": len(first_tokens),
        "load_s": round(load_s, 3),
        "first_token_s_turn1": at(1),
        "first_token_s_turn10": at(10),
        "first_token_s_turn30": at(30),
        "first_token_s_median": round(statistics.median(first_tokens), 4) if first_tokens else None,
        "first_token_s_max": round(max(first_tokens), 4) if first_tokens else None,
        "first_token_s_late_median": round(statistics.median(first_tokens[20:30]), 4) if first_tokens[20:] else None,
        "first_token_s_by_source": {k: round(statistics.median(v), 4) for k, v in by_source.items() if v},
        "median_reply_s": round(statistics.median(reply_times), 3) if reply_times else None,
        "guard_resets": resets,
        "fallback_replies": fallbacks,
        **speed,
    }
    if mi_cards:
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(Path(tmp) / "realism.db")
            result.update(realism(settings, backend, entry.name, mi_cards, store))
            store.close()
    result["rss_mb"] = round(_rss_mb(), 1)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    backend.close()
    return result
