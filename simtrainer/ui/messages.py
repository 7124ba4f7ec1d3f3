"""Messages posted from worker threads to the practice screen (never touch widgets from a thread).

The summaries messages carry, in an exercise session, `progress`: the goals so far (`goals.evaluate`'s results)
and the trainee's turn count, computed in the worker with the running scores."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from simtrainer.feedback.base import Code

Progress = tuple[list[dict[str, Any]], int]  # (a result per goal, trainee turns so far)


class SessionReady(Message):
    def __init__(self, session: Any, summaries: dict[str, dict[str, Any]], progress: Progress | None = None) -> None:
        super().__init__()
        self.session = session
        self.summaries = summaries
        self.progress = progress


class TraineeCoded(Message):
    def __init__(self, turn_id: int, codes: list[Code], summaries: dict[str, dict[str, Any]],
                 progress: Progress | None = None) -> None:
        super().__init__()
        self.turn_id = turn_id
        self.codes = codes
        self.summaries = summaries
        self.progress = progress


class ReplyToken(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class ReplyWithdrawn(Message):
    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class ReplyNotice(Message):
    """The reply that follows is a card line, not the model's; `text` says why."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class ReplyFinished(Message):
    def __init__(self, turn_id: int, text: str, meta: dict[str, Any]) -> None:
        super().__init__()
        self.turn_id = turn_id
        self.text = text
        self.meta = meta


class PatientCoded(Message):
    def __init__(self, turn_id: int, codes: list[Code], summaries: dict[str, dict[str, Any]],
                 progress: Progress | None = None) -> None:
        super().__init__()
        self.turn_id = turn_id
        self.codes = codes
        self.summaries = summaries
        self.progress = progress


class TurnFailed(Message):
    def __init__(self, text: str, error: str, fix: str | None = None) -> None:
        super().__init__()
        self.text = text
        self.error = error
        self.fix = fix


class SpeechReady(Message):
    def __init__(self, speech: Any) -> None:
        super().__init__()
        self.speech = speech


class Transcribed(Message):
    def __init__(self, text: str, meta: dict[str, Any]) -> None:
        super().__init__()
        self.text = text
        self.meta = meta


class TurnComplete(Message):
    """A trainee turn is answered and coded (or a resumed session caught up): an exercise checks its limits."""

    def __init__(self, trainee_turns: int) -> None:
        super().__init__()
        self.trainee_turns = trainee_turns
