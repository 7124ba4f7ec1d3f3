"""`simtrainer bench coder`: per-utterance coding latency (p50 / p95) and throughput for each rubric's coder.

Each utterance is coded once as a warm-up pass, then timed one at a time as in a live session: the utterance
itself is never cached, the previous turn (its context) is, as it is in a session where it was coded first; the
turn before that (the speaker's own previous turn) is passed too, as the session does. Targets: p95 < 20 ms for
the MI coder, < 50 ms for every default scorer, on two CPU cores.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from simtrainer.bench.scripts import GENERIC_TRAINEE_LINES

PATIENT_LINES = [
    "I don't know, it's just how I unwind after a shift.",
    "My sister keeps on at me about it.",
    "I guess I'd like mornings to be calmer with the kids.",
    "I'm not going to stop completely, that's not happening.",
]


DEARMAN_LINES = [
    "The heating has been off for a week. I'm worried about the kids getting sick. I need it fixed by Friday.",
    "If you can do that, I'll take the Saturday shifts.",
    "I hear you, and I still need those evenings off.",
    "Could we try it for a month and see?",
    "Sorry, um, maybe it could be a bit quieter, if that's okay?",
    "Fix it by Monday or I'm reporting you.",
]
CTRS_LINES = [
    "What would you like to put on the agenda today?",
    "What went through your mind right then?",
    "What evidence is there for that thought, and against it?",
    "For homework, could you try one thought record this week?",
    "How has today's session been for you?",
]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _time(fn, items: list[tuple[str, str, str]], rounds: int, forget=lambda _text: None) -> dict[str, Any]:
    for text, context, earlier in items:
        fn(text, context, earlier)
    times = []
    started = time.perf_counter()
    for _ in range(rounds):
        for text, context, earlier in items:
            forget(text)  # a new line is never cached; its context (the previous turn) already is, as live
            t0 = time.perf_counter()
            fn(text, context, earlier)
            times.append((time.perf_counter() - t0) * 1000)
    total = time.perf_counter() - started
    return {
        "n": len(times),
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(_percentile(times, 0.95), 2),
        "max_ms": round(max(times), 2),
        "throughput_per_s": round(len(times) / total, 1),
    }


def _time_ctrs_updates(scorer, forget, rounds: int, turns: int = 40) -> dict[str, Any]:
    """The live CTRS update after each trainee turn of a 40-turn session: code the new turn, then re-score the
    whole session so far (the running estimate). The new turn is never cached; earlier turns are, as live."""
    from simtrainer.feedback.base import TurnView

    lines = CTRS_LINES + GENERIC_TRAINEE_LINES
    times = []
    started = time.perf_counter()
    for r in range(rounds):
        views: list[TurnView] = []
        for n in range(turns // 2):
            text = f"{lines[n % len(lines)]} ({r}.{n})"  # a new line each turn, as in a session
            forget(text)
            scorer.session_model.forget("therapist", text)
            t0 = time.perf_counter()
            views.append(TurnView("trainee", text, scorer.code(text)))
            scorer.summarize(views)
            times.append((time.perf_counter() - t0) * 1000)
            views.append(TurnView("patient", f"{PATIENT_LINES[n % len(PATIENT_LINES)]} ({r}.{n})"))
    total = time.perf_counter() - started
    return {"n": len(times), "p50_ms": round(statistics.median(times), 2), "p95_ms": round(_percentile(times, 0.95), 2),
            "max_ms": round(max(times), 2), "throughput_per_s": round(len(times) / total, 1)}


def bench_coder(rounds: int = 3) -> dict[str, Any]:
    from simtrainer.feedback.mi import load_mi_coder

    started = time.perf_counter()
    coder = load_mi_coder()
    load_s = time.perf_counter() - started
    n = len(GENERIC_TRAINEE_LINES)
    trainee = [(line, PATIENT_LINES[i % len(PATIENT_LINES)], GENERIC_TRAINEE_LINES[i - 1])
               for i, line in enumerate(GENERIC_TRAINEE_LINES)]
    patient = [(line, GENERIC_TRAINEE_LINES[i % n], PATIENT_LINES[i % len(PATIENT_LINES) - 1])
               for i, line in enumerate(PATIENT_LINES * 5)]
    forget = coder.model.encoder.forget
    mi = _time(coder.code, trainee, rounds, forget)
    talk = _time(coder.code_patient, patient, rounds, forget)
    from simtrainer.feedback.ctrs.scorer import load_ctrs_scorer
    from simtrainer.feedback.dearman.coder import load_dearman_coder

    dearman = _time(load_dearman_coder().code, [(line, "", "") for line in DEARMAN_LINES], rounds, forget)
    ctrs_scorer = load_ctrs_scorer()
    ctrs = _time(ctrs_scorer.code, [(line, "", "") for line in CTRS_LINES], rounds, forget)
    update = _time_ctrs_updates(ctrs_scorer, forget, rounds)
    return {
        "scorer": coder.scorer,
        "load_s": round(load_s, 3),
        "p50_ms": mi["p50_ms"],
        "p95_ms": mi["p95_ms"],
        "throughput_per_s": mi["throughput_per_s"],
        "rubrics": {"mi": mi, "mi_client_talk": talk, "dearman": dearman, "ctrs": ctrs,
                     "ctrs_update": update},
    }
