"""Total-score correlation, item MAE and competence accuracy of the CTRS scorer on scored sessions."""

from __future__ import annotations

from pathlib import Path

from simtrainer.feedback.ctrs.data import folder, read_sessions


def evaluate(path: Path | None = None, coder=None) -> dict:
    """`coder` (e.g. an LLM judge) replaces the trained scorer when given."""
    from simtrainer.feedback.ctrs.scorer import load_ctrs_scorer
    from simtrainer.feedback.ctrs.train import session_metrics

    sessions = read_sessions(path or folder() / "sessions-heldout.json")
    return session_metrics(_Sessions(coder) if coder else load_ctrs_scorer().model, sessions)


class _Sessions:
    """Scores whole sessions with any CTRS coder, turn by turn, as a live session would."""

    def __init__(self, coder):
        self.coder = coder

    def score_session(self, turns: list[str]) -> dict:
        from simtrainer.feedback.base import TurnView

        return self.coder.summarize([TurnView("trainee", t, self.coder.code(t)) for t in turns])["items"]
