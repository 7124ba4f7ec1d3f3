"""Which coders run for a scenario: the MI coder on every session (counseling microskills), plus the rubric
of the scenario's modality (DEAR MAN or CTRS)."""

from __future__ import annotations

from simtrainer.config import Settings
from simtrainer.feedback.base import Coder
from simtrainer.scenarios.card import Card


def coders_for(card: Card, settings: Settings) -> list[Coder]:
    """The coders for a session on `card`."""
    from simtrainer.feedback.mi import load_mi_coder

    coders: list[Coder] = [load_mi_coder()]
    if card.modality == "dearman":
        from simtrainer.feedback.dearman.coder import load_dearman_coder

        coders.append(load_dearman_coder())
    if card.modality == "cbt":
        from simtrainer.feedback.ctrs.scorer import load_ctrs_scorer

        coders.append(load_ctrs_scorer())
    return coders
