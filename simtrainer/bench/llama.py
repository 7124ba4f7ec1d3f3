"""`simtrainer bench llama`: two choices about running llama.cpp on this machine, each measured as a ratio in one run.

- Extra buffer types (repacked weights): off wherever the CPU reports AMX or the probe saw a crash with them
  (`llm/cpu.py`, `llm/probe.py`). The bench measures what keeping them on elsewhere is worth: prompt and
  generation tokens/s with and without them. Rounds alternate the two settings so a busy machine slows both alike.
- Parallel candidates (`parallel_candidates`, `llm/parallel.py`): the time of one decoding step for 1, 3 and 8
  sequences at once. `parallel_step_ratio_kN` is a step for N over a step for one; N divided by it is how many
  candidates parallel decoding gives in the wait for one (`candidates_per_wait_kN`). Rounds alternate the sizes.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from simtrainer.llm.base import GenParams

PARALLEL_SIZES = (1, 3, 8)
PARALLEL_TOKENS = 32

PROMPT = "COUNSELOR: " + " ".join(["Tell me more about how the last few weeks have been for you at home."] * 20)


def _speeds(path: Path, extra_buffers: bool, n_threads: int | None) -> tuple[float, float]:
    from simtrainer.llm.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend(path, name=path.stem, n_ctx=1024, n_threads=n_threads, seed=1,
                              extra_buffers=extra_buffers)
    try:
        n_prompt = backend.count_tokens(PROMPT)
        start = time.perf_counter()
        stream = backend.complete(PROMPT + "\nCLIENT:", GenParams(max_tokens=64, temperature=0, stop=()))
        next(stream)
        first = time.perf_counter()
        generated = 1 + sum(1 for _ in stream)
        end = time.perf_counter()
    finally:
        backend.close()
    return n_prompt / (first - start), (generated - 1) / max(end - first, 1e-6)


def parallel_steps(path: Path, *, extra_ok: bool, rounds: int = 3, n_threads: int | None = None) -> dict[str, Any]:
    """Milliseconds per decoding step for each number of sequences in PARALLEL_SIZES, and their ratios."""
    from simtrainer.llm.llamacpp import LlamaCppBackend
    from simtrainer.llm.parallel import MAX_SEQUENCES

    backend = LlamaCppBackend(path, name=path.stem, n_ctx=1024, n_threads=n_threads, seed=1, extra_buffers=extra_ok,
                              sequences=MAX_SEQUENCES)
    prompt = PROMPT + "\nCLIENT:"
    steps: dict[int, list[float]] = {k: [] for k in PARALLEL_SIZES}
    try:
        list(backend.complete_parallel(prompt, [GenParams(max_tokens=1, temperature=0)]))  # evaluate the prompt
        for _ in range(rounds):
            for k in PARALLEL_SIZES:
                params = [GenParams(max_tokens=PARALLEL_TOKENS, temperature=0.8, stop=(), seed=i) for i in range(k)]
                start = time.perf_counter()
                longest = max(len(pieces) for pieces in backend.complete_parallel(prompt, params))
                steps[k].append((time.perf_counter() - start) / max(longest, 1))
    finally:
        backend.close()
    ms = {k: statistics.median(v) * 1000 for k, v in steps.items()}
    result: dict[str, Any] = {"parallel_ms_per_step_k1": round(ms[1], 1)}
    for k in PARALLEL_SIZES[1:]:
        result[f"parallel_ms_per_step_k{k}"] = round(ms[k], 1)
        result[f"parallel_step_ratio_k{k}"] = round(ms[k] / ms[1], 2)
        result[f"candidates_per_wait_k{k}"] = round(k * ms[1] / ms[k], 2)
    return result


def bench_llama(path: Path, *, extra_ok: bool, rounds: int = 3, n_threads: int | None = None) -> dict[str, Any]:
    """`extra_ok`: what the probe found; where they are off (AMX, or a build that crashed) only that is said."""
    parallel = parallel_steps(path, extra_ok=extra_ok, rounds=rounds, n_threads=n_threads)
    if not extra_ok:
        return {"model": path.name, "extra_buffers": "skipped: off on this machine (AMX, or a crash)", **parallel}
    runs: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for _ in range(rounds):
        for setting in (True, False):
            runs[setting].append(_speeds(path, setting, n_threads))

    def median(setting: bool, i: int) -> float:
        return round(statistics.median(r[i] for r in runs[setting]), 1)

    return {
        "model": path.name,
        "rounds": rounds,
        "prompt_tok_s_with_extra": median(True, 0),
        "prompt_tok_s_without": median(False, 0),
        "gen_tok_s_with_extra": median(True, 1),
        "gen_tok_s_without": median(False, 1),
        "prompt_ratio_without_over_with": round(median(False, 0) / median(True, 0), 3),
        "gen_ratio_without_over_with": round(median(False, 1) / median(True, 1), 3),
        **parallel,
    }
