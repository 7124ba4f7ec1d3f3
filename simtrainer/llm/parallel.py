"""Several completions of one prompt at once, on one llama.cpp context.

The steered patient chooses among candidate replies. Generated one after another, k candidates cost k times the
wait; decoded together (one llama.cpp sequence each, all sharing the prompt's KV cache), a step for k sequences
costs little more than a step for one on a CPU, where reading the weights dominates (docs/models.md has the
figures). Sampling follows llama-cpp-python's default chain (repeat penalty over the last 64 tokens, top-k 40,
top-p, min-p 0.05, temperature), in numpy, one seeded generator per sequence, so a seed replays a candidate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simtrainer.llm.base import GenParams

MAX_SEQUENCES = 8  # sequences a context is created for (one per candidate)
TOP_K = 40
MIN_P = 0.05
PENALTY_LAST_N = 64


class DecodeError(RuntimeError):
    """llama.cpp could not decode the candidates (no room in the context, a context made for fewer sequences,
    a model whose state cannot be cut back to the prompt)."""


def sample(logits: np.ndarray, recent: Sequence[int], params: GenParams, rng: np.random.Generator) -> int:
    """One token from `logits`: greedy at temperature 0, else llama.cpp's default chain. `recent`: the tokens
    this completion has sampled so far (llama-cpp-python's sampler penalises those, not the prompt's)."""
    logits = logits.astype(np.float64)
    penalty = float(params.extra.get("repeat_penalty", 1.1))
    if recent and penalty != 1.0:
        ids = np.unique(np.asarray(recent[-PENALTY_LAST_N:], dtype=np.int64))
        seen = logits[ids]
        logits[ids] = np.where(seen > 0, seen / penalty, seen * penalty)
    if params.temperature <= 0:
        return int(np.argmax(logits))
    top = np.argpartition(-logits, TOP_K)[:TOP_K] if logits.size > TOP_K else np.arange(logits.size)
    top = top[np.argsort(-logits[top])]
    probs = np.exp(logits[top] - logits[top[0]])
    probs /= probs.sum()
    keep = int(np.searchsorted(np.cumsum(probs), params.top_p)) + 1  # the smallest set reaching top_p
    top, probs = top[:keep], probs[:keep]
    above = probs >= MIN_P * probs[0]
    top = top[above]
    scaled = logits[top] / params.temperature
    weights = np.exp(scaled - scaled.max())
    return int(top[rng.choice(len(top), p=weights / weights.sum())])


@dataclass
class _Run:
    params: GenParams
    rng: np.random.Generator
    tokens: list[int] = field(default_factory=list)
    raw: bytes = b""
    pieces: list[str] = field(default_factory=list)
    done: bool = False

    @property
    def text(self) -> str:
        return "".join(self.pieces)


def _cut_at_stop(run: _Run) -> bool:
    """End `run` at the first stop string in its text (removed, as a streamed completion does)."""
    text = run.text
    hits = [text.find(stop) for stop in run.params.stop if stop and stop in text]
    if not hits:
        return False
    keep = min(hits)
    pieces, length = [], 0
    for piece in run.pieces:
        if length + len(piece) > keep:
            pieces.append(piece[: keep - length])
            break
        pieces.append(piece)
        length += len(piece)
    run.pieces = pieces
    return True


def complete_parallel(llm: Any, prompt: str, params: Sequence[GenParams],
                      stop_when: Callable[[str], bool] | None = None) -> Iterator[list[str]]:
    """One completion of `prompt` per entry of `params`, decoded together and given as each one ends (so the
    caller may stop at the first good one: closing the generator ends the rest). Each is the list of its
    tokens' text (a token that ends inside a character gives ""), cut at its stop strings, as a stream would
    give it. `stop_when(text)` ends a sequence early (enough sentences, or already unusable). Afterwards the
    context holds the prompt alone, so the next call reuses it as usual."""
    import llama_cpp.llama_cpp as native
    from llama_cpp import _internals

    if not params:
        return []
    if len(params) > MAX_SEQUENCES:
        raise DecodeError(f"at most {MAX_SEQUENCES} sequences at once")
    ctx = llm._ctx.ctx
    if native.llama_n_seq_max(ctx) < len(params):
        raise DecodeError(f"the context was made for {native.llama_n_seq_max(ctx)} sequences, not {len(params)}")
    if getattr(llm, "_is_recurrent", False) or getattr(llm, "_is_hybrid", False):
        raise DecodeError("a recurrent model's state cannot be cut back to the prompt")
    vocab = native.llama_model_get_vocab(llm._model.model)
    tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
    if llm._model.add_bos_token() and llm.token_bos() >= 0:
        tokens = [llm.token_bos(), *tokens]
    shared = 0
    for have, want in zip(llm._input_ids, tokens, strict=False):
        if have != want:
            break
        shared += 1
    # The last prompt token is always decoded on its own, for the first logits: decoded with other tokens its
    # logits differ in the last bits, and a seed would not replay the same candidates when the prompt is cached.
    shared = min(shared, len(tokens) - 1)
    llm.n_tokens = shared
    try:
        if shared < len(tokens) - 1:
            llm.eval(tokens[shared:-1])  # into sequence 0, dropping whatever followed the shared prefix
        llm.eval(tokens[-1:])
    except RuntimeError as exc:
        raise DecodeError(str(exc)) from None
    n_past = llm.n_tokens
    memory = native.llama_get_memory(ctx)
    n_vocab = llm.n_vocab()
    runs = [_Run(p, np.random.default_rng(p.seed)) for p in params]
    batch = _internals.LlamaBatch(n_tokens=len(runs), embd=0, n_seq_max=1, verbose=False)
    try:
        for seq in range(1, len(runs)):
            native.llama_memory_seq_rm(memory, seq, -1, -1)
            native.llama_memory_seq_cp(memory, 0, seq, -1, -1)
        logits = [np.ctypeslib.as_array(native.llama_get_logits_ith(ctx, -1), shape=(n_vocab,)).copy()] * len(runs)
        step = 0
        while True:
            active, ended = [], []
            for seq, run in enumerate(runs):
                if run.done:
                    continue
                token = sample(logits[seq], run.tokens, run.params, run.rng)
                if native.llama_vocab_is_eog(vocab, token):
                    run.done = True
                    ended.append(run)
                    continue
                run.tokens.append(token)
                run.raw += llm.detokenize([token])
                text = run.raw.decode("utf-8", errors="ignore")
                run.pieces.append(text[len(run.text):] if text.startswith(run.text) else "")
                if _cut_at_stop(run) or len(run.tokens) >= run.params.max_tokens or (
                        stop_when is not None and stop_when(run.text)):
                    run.done = True
                    ended.append(run)
                    continue
                active.append(seq)
            for run in ended:
                yield run.pieces
            if not active:
                break
            b = batch.batch
            b.n_tokens = len(active)
            for i, seq in enumerate(active):
                b.token[i] = runs[seq].tokens[-1]
                b.pos[i] = n_past + step
                b.seq_id[i][0] = seq
                b.n_seq_id[i] = 1
                b.logits[i] = True
            if (code := native.llama_decode(ctx, b)) != 0:
                raise DecodeError(f"llama_decode returned {code} for {len(active)} sequences")
            for i, seq in enumerate(active):
                logits[seq] = np.ctypeslib.as_array(native.llama_get_logits_ith(ctx, i), shape=(n_vocab,)).copy()
            step += 1
    finally:
        for seq in range(1, len(runs)):
            native.llama_memory_seq_rm(memory, seq, -1, -1)
        native.llama_memory_seq_rm(memory, 0, n_past, -1)
        llm.n_tokens = n_past
        llm._requires_eval = True  # the context's logits are the candidates' now, not the prompt's
        batch.close()
