"""Which rubric judges a session, and which of its codes a person is shown.

Every session is coded by the MI coder, because the patient's steering reads those codes. But a trainee
practising DEAR MAN is asking for something, not counselling, and a CBT session is rated on the CTRS: MITI codes
and bands there would judge the turn by the wrong standard. So a DEAR MAN session shows DEAR MAN alone, a CBT
session the CTRS with its question and reflection counts as micro-skills (no MITI thresholds), and an MI session
MI. The codes stay stored; this decides what is shown and scored.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from simtrainer.feedback.base import Code, TurnView

MAIN_RUBRIC = {"mi": "mi", "dearman": "dearman", "cbt": "ctrs"}
#: MI codes a CBT session shows as counselling micro-skills
MICROSKILLS = ("Q", "SR", "CR")


def main_rubric(modality: str) -> str:
    return MAIN_RUBRIC.get(modality, "mi")


def shown_rubrics(modality: str) -> tuple[str, ...]:
    """The rubrics whose codes a person sees in a session of this modality (the scorers worth naming)."""
    main = main_rubric(modality)
    return (main, "mi") if main == "ctrs" else (main,)


def is_shown(modality: str, rubric: str, code: str) -> bool:
    main = main_rubric(modality)
    if rubric == main or main == "mi":
        return True
    return main == "ctrs" and rubric == "mi" and code in MICROSKILLS


def shown_codes(modality: str, codes: Iterable[Any]) -> list[Any]:
    """The codes of a turn a person sees: `Code` objects or stored rows (dicts with "rubric" and "code")."""
    def key(c: Any) -> tuple[str, str]:
        return (c.rubric, c.code) if isinstance(c, Code) else (c["rubric"], c["code"])

    return [c for c in codes if is_shown(modality, *key(c))]


def microskills(views: list[TurnView]) -> dict[str, int]:
    """Question and reflection counts over the trainee's turns (from the MI coder), without MITI's bands."""
    counts = {"questions": 0, "questions_open": 0, "questions_closed": 0, "reflections": 0,
              "reflections_simple": 0, "reflections_complex": 0}
    for view in views:
        if view.speaker != "trainee":
            continue
        for c in view.codes:
            if c.rubric != "mi":
                continue
            if c.code == "Q":
                counts["questions"] += 1
                if c.detail in ("open", "closed"):
                    counts[f"questions_{c.detail}"] += 1
            elif c.code in ("SR", "CR"):
                counts["reflections"] += 1
                counts["reflections_simple" if c.code == "SR" else "reflections_complex"] += 1
    return counts
