"""The CTRS coder: indicators per trainee turn (agenda set? feedback asked? homework agreed?), 11 item
scores with evidence turns, total /66 and the competence flag at the end."""

from __future__ import annotations

from functools import cache
from typing import Any

from simtrainer.feedback.base import Code, TurnView
from simtrainer.feedback.ctrs.data import ITEMS, folder
from simtrainer.feedback.ctrs.model import CTRSModel
from simtrainer.rubrics import Rubric, load_rubric

SHORT = {"agenda": "Agenda", "feedback": "Fb", "understanding": "Und", "interpersonal_effectiveness": "IPE",
         "collaboration": "Collab", "pacing": "Pace", "guided_discovery": "GD", "focus_on_key_cognitions": "Cog",
         "strategy_for_change": "Strat", "application_of_cb_techniques": "Tech", "homework": "HW"}


@cache
def _model() -> CTRSModel:
    from simtrainer.feedback.mi import load_mi_coder

    return CTRSModel(folder(), load_mi_coder().model.encoder)


class CTRSScorer:
    rubric = "ctrs"
    scorer = "ctrs-scorer v1 (line classifier trained on project-written CBT lines)"

    def __init__(self, model: CTRSModel, rubric: Rubric):
        self.model = model
        self.rubric_def = rubric

    def code(self, text: str, context: str | None = None, earlier: str | None = None) -> list[Code]:
        item, conf, level = self.model.line(text)
        if item == "none":
            return []
        return [Code("ctrs", item, SHORT[item], round(conf, 3), str(level), self.scorer,
                     f"{self.rubric_def.item(item).name}, at about level {level} of 6")]

    def summarize(self, turns: list[TurnView]) -> dict[str, Any]:
        items = {i: {"score": 0, "evidence": []} for i in ITEMS}
        for n, turn in enumerate(turns, start=1):  # the transcript's turn number, as every view shows it
            if turn.speaker != "trainee":
                continue
            for code in turn.codes:
                if code.rubric == "ctrs" and code.code in items:
                    items[code.code]["evidence"].append(n)
                    items[code.code]["score"] = max(items[code.code]["score"], int(code.detail or 0))
        total = sum(v["score"] for v in items.values())
        threshold = self.rubric_def.competence_threshold or 40
        return {
            "indicators": {
                "agenda_set": bool(items["agenda"]["evidence"]),
                "feedback_asked": bool(items["feedback"]["evidence"]),
                "homework_agreed": bool(items["homework"]["evidence"]),
                "guided_discovery_questions": len(items["guided_discovery"]["evidence"]),
            },
            "items": items,
            "total": total,
            "max": self.rubric_def.total_max,
            "competence_threshold": threshold,
            "competent": total >= threshold,
        }


def load_ctrs_scorer() -> CTRSScorer:
    return CTRSScorer(_model(), load_rubric("ctrs"))
