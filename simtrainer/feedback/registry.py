"""Which coders run for a scenario. The MI coder codes every session's counseling microskills."""

from __future__ import annotations

from simtrainer.config import Settings
from simtrainer.feedback.base import Coder
from simtrainer.scenarios.card import Card


def coders_for(card: Card, settings: Settings) -> list[Coder]:
    """The coders for a session on `card`."""
    from simtrainer.feedback.mi import load_mi_coder

    return [load_mi_coder()]
