"""How far supervisors agree with the coder: Cohen's kappa, percent agreement, per code, and a confusion table.

What is compared, per turn: the coder's primary code for the rubric (its first code on the turn: the model's
main behaviour, before any rule codes; for DEAR MAN every skill it gave, joined as a correction joins them,
`describe+assert`; "none" when it gave none) against the supervisor's code. A turn counts
when a supervisor corrected it (the latest correction per turn and rubric), or when its session is marked
reviewed (`sessions review ID --done`): then a turn the supervisor left alone counts as agreement, where the
session showed its code (a DEAR MAN session's MI codes are stored, never shown, so never agreed with). Turns of
sessions never marked reviewed count only where corrected, since a correction may just not have been made yet.
MI codes are compared by id (a question is Q, open or closed).

Per code K: `n` is the turns where the coder or the supervisor said K; `agreement` is the share of those where
both did. A DEAR MAN turn may show several skills, so there each skill is read on its own: describe+assert
against describe agrees on describe and misses on assert (the overall figures still ask for the same set).
`by_speaker` gives the trainee's behaviour codes and the patient's talk apart. Kappa is None when it is undefined
(no turns, or both raters used one and the same category).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from simtrainer.feedback.labels import SEVERAL
from simtrainer.feedback.shown import is_shown
from simtrainer.review.corrections import NONE, coder_code, latest_corrections, turn_number
from simtrainer.storage import Store


def pairs(store: Store, rubric: str = "mi", trainee: str | None = None) -> list[dict[str, Any]]:
    """One row per compared turn: session, turn number, speaker, coder's code, supervisor's code, author."""
    out = []
    for session in store.list_sessions(limit=1_000_000, trainee=trainee):
        corrected = latest_corrections([c for c in store.corrections(session["id"]) if c["rubric"] == rubric])
        if not corrected and not session.get("reviewed_at"):
            continue
        for turn in store.turns(session["id"]):
            auto = coder_code(rubric, turn["codes"])
            fix = corrected.get((turn["idx"], rubric))
            if fix is None and (not session.get("reviewed_at") or auto == NONE
                                or not is_shown(session["modality"], rubric, auto.split(SEVERAL)[0])):
                continue  # not looked at, nothing the coder said to agree with, or a code the session never showed
            out.append({"session_id": session["id"], "turn": turn_number(turn["idx"]), "speaker": turn["speaker"],
                        "coder": auto, "supervisor": fix["code"] if fix else auto,
                        "author": fix["author"] if fix else session.get("reviewed_by") or ""})
    return out


def cohen_kappa(coder: list[str], supervisor: list[str]) -> float | None:
    """Cohen's kappa of two raters' labels on the same items; None when undefined."""
    n = len(coder)
    if n == 0:
        return None
    observed = sum(a == b for a, b in zip(coder, supervisor, strict=True)) / n
    a, b = Counter(coder), Counter(supervisor)
    expected = sum(a[k] * b[k] for k in a) / (n * n)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1 - expected)


def agreement(store: Store, rubric: str = "mi", trainee: str | None = None) -> dict[str, Any]:
    """The figures `simtrainer agreement --json` prints."""
    rows = pairs(store, rubric, trainee)
    coder = [r["coder"] for r in rows]
    supervisor = [r["supervisor"] for r in rows]
    n = len(rows)
    kappa = cohen_kappa(coder, supervisor)

    def parts(code: str) -> set[str]:
        return set(code.split(SEVERAL)) if rubric == "dearman" else {code}

    said = [(parts(r["coder"]), parts(r["supervisor"])) for r in rows]
    per_code = {}
    for code in sorted(set().union(*(a | b for a, b in said))):
        either = [(a, b) for a, b in said if code in a | b]
        both = sum(code in a and code in b for a, b in either)
        per_code[code] = {"n": len(either), "agreement": round(both / len(either), 3),
                          "coder": sum(code in a for a, _ in said), "supervisor": sum(code in b for _, b in said)}
    confusion: dict[str, dict[str, int]] = {}
    for r in rows:
        row = confusion.setdefault(r["coder"], {})
        row[r["supervisor"]] = row.get(r["supervisor"], 0) + 1
    by_speaker = {}
    for speaker in ("trainee", "patient"):  # behaviour codes and client talk are separate tasks
        part = [r for r in rows if r["speaker"] == speaker]
        if part:
            k = cohen_kappa([r["coder"] for r in part], [r["supervisor"] for r in part])
            by_speaker[speaker] = {"n": len(part), "kappa": None if k is None else round(k, 3),
                                   "agreement": round(sum(r["coder"] == r["supervisor"] for r in part) / len(part), 3)}
    return {
        "rubric": rubric,
        "trainee": trainee,
        "n": n,
        "sessions": len({r["session_id"] for r in rows}),
        "corrected": sum(r["coder"] != r["supervisor"] for r in rows),
        "kappa": None if kappa is None else round(kappa, 3),
        "agreement": None if not n else round(sum(a == b for a, b in zip(coder, supervisor, strict=True)) / n, 3),
        "per_code": per_code,
        "by_speaker": by_speaker,
        "confusion": confusion,
    }
