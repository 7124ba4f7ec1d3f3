"""Total-score r, competence agreement, per-item MAE and the spread of predicted totals of the CTRS scorer on
rated sessions (either file format; see data.py)."""

from __future__ import annotations

from pathlib import Path

from simtrainer.feedback.base import TurnView
from simtrainer.feedback.ctrs.data import ITEMS, folder, read_sessions, session_turns

HELDOUT = "sessions-heldout-both.json"


def evaluate(path: Path | None = None, coder=None) -> dict:
    """`coder` (e.g. an LLM judge) replaces the trained scorer when given; it codes each trainee turn as a live
    session would, then summarises the whole session."""
    from simtrainer.feedback.ctrs.scorer import load_ctrs_scorer
    from simtrainer.feedback.ctrs.train import metrics

    sessions = read_sessions(path or folder() / HELDOUT)
    scorer = coder or load_ctrs_scorer()
    pred = []
    for s in sessions:
        views, context = [], None
        for speaker, text in session_turns(s):
            if speaker == "therapist":
                views.append(TurnView("trainee", text, coder.code(text, context) if coder else []))
            else:
                views.append(TurnView("patient", text))
                context = text
        items = scorer.summarize(views)["items"]
        pred.append({i: int(items[i]["score"]) for i in ITEMS})
    return metrics(pred, sessions)
