"""Total-score correlation, item MAE and competence accuracy of the CTRS scorer on scored sessions."""

from __future__ import annotations

from pathlib import Path

from simtrainer.feedback.ctrs.data import folder, read_sessions


def evaluate(path: Path | None = None) -> dict:
    from simtrainer.feedback.ctrs.scorer import load_ctrs_scorer
    from simtrainer.feedback.ctrs.train import session_metrics

    sessions = read_sessions(path or folder() / "sessions-heldout.json")
    return session_metrics(load_ctrs_scorer().model, sessions)
