"""DEAR MAN codes per trainee turn (multi-label, each with its evidence sentence), a session checklist and a tip."""

from __future__ import annotations

from functools import cache
from typing import Any

from simtrainer.feedback.base import Code, TurnView
from simtrainer.feedback.dearman.data import SKILLS, folder
from simtrainer.feedback.dearman.model import DearManModel
from simtrainer.rubrics import Rubric, load_rubric

LABELS = {"describe": "D", "express": "E", "assert": "A", "reinforce": "R", "mindful": "M",
          "appear_confident": "Conf", "negotiate": "Neg"}


@cache
def _model() -> DearManModel:
    return DearManModel(folder())


class DearManCoder:
    rubric = "dearman"
    scorer = "dearman-coder v1 (sentence classifier trained on project-written examples)"

    def __init__(self, model: DearManModel, rubric: Rubric):
        self.model = model
        self.rubric_def = rubric

    def code(self, text: str, context: str | None = None, earlier: str | None = None) -> list[Code]:
        found = self.model.skills(text)
        return [
            Code("dearman", skill, LABELS[skill], round(found[skill][0], 3), "", self.scorer,
                 f'{self.rubric_def.item(skill).name}: "{found[skill][1].strip()}"')
            for skill in SKILLS
            if skill in found
        ]

    def summarize(self, turns: list[TurnView]) -> dict[str, Any]:
        shown: dict[str, list[int]] = {s: [] for s in SKILLS}
        for number, turn in enumerate(turns, start=1):  # the transcript's turn number, as every view shows it
            if turn.speaker != "trainee":
                continue
            for code in turn.codes:
                if code.rubric == "dearman" and code.code in shown:
                    shown[code.code].append(number)
        checklist = {s: bool(turns_) for s, turns_ in shown.items()}
        return {
            "checklist": checklist,
            "turns_shown": shown,
            "skills_shown": sum(checklist.values()),
            "skills_total": len(SKILLS),
            "tip": tip(checklist, self.rubric_def),
        }


def tip(checklist: dict[str, bool], rubric: Rubric) -> str:
    """The next step: the first missing skill in DEAR MAN order, said against what was done."""
    missing = [s for s in SKILLS if not checklist[s]]
    if not missing:
        return "Every DEAR MAN skill showed up. Next time, try getting there in fewer turns."
    done = [rubric.item(s).name.lower() for s in SKILLS if checklist[s]]
    first = rubric.item(missing[0])
    lead = f"You used {', '.join(done)} but not {first.name.lower()}" if done else f"Start with {first.name.lower()}"
    return f"{lead}: {first.tip[0].lower() + first.tip[1:]}"


def load_dearman_coder() -> DearManCoder:
    return DearManCoder(_model(), load_rubric("dearman"))
