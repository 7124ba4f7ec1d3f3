"""Events a session emits while it runs a turn; the CLI prints them, the TUI turns them into messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simtrainer.feedback.base import Code


@dataclass(frozen=True)
class TraineeSaved:
    turn_id: int
    text: str


@dataclass(frozen=True)
class CodesReady:
    turn_id: int
    codes: list[Code]


@dataclass(frozen=True)
class PatientToken:
    text: str


@dataclass(frozen=True)
class PatientReset:
    """The guard rejected what streamed so far; the UI clears the reply and a new one follows."""

    reason: str


@dataclass(frozen=True)
class PatientNotice:
    """The reply that follows is not the model's (it failed, or all it wrote was rejected): show this, unhidden."""

    text: str


@dataclass(frozen=True)
class PatientDone:
    text: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReplySaved:
    turn_id: int
    text: str
    meta: dict[str, Any] = field(default_factory=dict)


SessionEvent = (TraineeSaved | CodesReady | PatientToken | PatientReset | PatientNotice | PatientDone
                | ReplySaved)
