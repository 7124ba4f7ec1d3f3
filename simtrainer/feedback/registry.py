"""Which coders run for a scenario: the MI coder on every session (counseling microskills), plus the rubric
of the scenario's modality (DEAR MAN or CTRS)."""

from __future__ import annotations

from simtrainer.config import Settings
from simtrainer.feedback.base import Coder
from simtrainer.llm.base import ChatBackend
from simtrainer.scenarios.card import Card


def coders_for(card: Card, settings: Settings, backend: ChatBackend | None = None) -> list[Coder]:
    """The coders for a session on `card`; with `[feedback] judge = "llm"`, `backend` judges the rubric."""
    return coders_for_modality(card.modality, settings, backend)


def coders_for_modality(modality: str, settings: Settings, backend: ChatBackend | None = None) -> list[Coder]:
    """As `coders_for`, for a modality alone (an imported transcript may have no scenario card)."""
    from simtrainer.feedback.mi import load_mi_coder

    coders: list[Coder] = [load_mi_coder()]
    rubric_coder: Coder | None = None
    if modality == "dearman":
        from simtrainer.feedback.dearman.coder import load_dearman_coder

        rubric_coder = load_dearman_coder()
    if modality == "cbt":
        from simtrainer.feedback.ctrs.scorer import load_ctrs_scorer

        rubric_coder = load_ctrs_scorer()
    if rubric_coder is not None:
        if settings.feedback.judge == "llm" and backend is not None:
            from simtrainer.feedback.llm_judge import LLMJudge

            rubric_coder = LLMJudge(rubric_coder.rubric_def, backend, rubric_coder.summarize)
        coders.append(rubric_coder)
    return coders
