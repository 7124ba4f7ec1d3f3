"""Which coders run for a scenario. The MI coder runs on every session; rubric coders by modality."""

from __future__ import annotations

from simtrainer.config import Settings
from simtrainer.feedback.base import Coder
from simtrainer.scenarios.card import Card


def coders_for(card: Card, settings: Settings) -> list[Coder]:
    """The coders for a session on `card` (none are built in yet: the MI coder plugs in here)."""
    return []
