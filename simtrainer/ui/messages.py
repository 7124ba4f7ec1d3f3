"""Messages posted from worker threads to the practice screen (never touch widgets from a thread)."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from simtrainer.feedback.base import Code


class SessionReady(Message):
    def __init__(self, session: Any, summaries: dict[str, dict[str, Any]]) -> None:
        super().__init__()
        self.session = session
        self.summaries = summaries


class TraineeCoded(Message):
    def __init__(self, turn_id: int, codes: list[Code], summaries: dict[str, dict[str, Any]]) -> None:
        super().__init__()
        self.turn_id = turn_id
        self.codes = codes
        self.summaries = summaries


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
    def __init__(self, turn_id: int, codes: list[Code], summaries: dict[str, dict[str, Any]]) -> None:
        super().__init__()
        self.turn_id = turn_id
        self.codes = codes
        self.summaries = summaries


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
