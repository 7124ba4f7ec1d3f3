"""`simtrainer bench llama`: what llama.cpp's extra buffer types (repacked weights) buy on this machine.

They are off wherever the CPU reports AMX or the probe saw a crash with them (`llm/cpu.py`, `llm/probe.py`). This bench measures what keeping them on
elsewhere is worth: prompt and generation tokens/s with and without them, in one run, as a ratio. Rounds
alternate the two settings so a busy machine slows both alike.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from simtrainer.llm.base import GenParams

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


def bench_llama(path: Path, *, extra_ok: bool, rounds: int = 3, n_threads: int | None = None) -> dict[str, Any]:
    """`extra_ok`: what the probe found; where they are off (AMX, or a build that crashed) only that is said."""
    if not extra_ok:
        return {"model": path.name, "skipped": "extra buffer types are off on this machine (AMX, or a crash)"}
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
    }
