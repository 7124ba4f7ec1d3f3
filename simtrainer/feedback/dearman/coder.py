"""DEAR MAN codes per trainee turn (multi-label, each with its evidence sentence), a session checklist and a tip.
Threats, insults and ultimatums come out as codes of their own ("Threat"): never skills, counted apart in the
summary, and they harden the counterpart (patient/state.py)."""

from __future__ import annotations

from functools import cache
from typing import Any

from simtrainer.feedback.base import Code, TurnView
from simtrainer.feedback.dearman.data import FLAGS, SKILLS, folder
from simtrainer.feedback.dearman.model import DearManModel
from simtrainer.rubrics import Rubric, load_rubric

FLAG_NAMES = {"threat": "Threat", "insult": "Insult", "ultimatum": "Ultimatum"}
LABELS = {"describe": "D", "express": "E", "assert": "A", "reinforce": "R", "mindful": "M",
          "appear_confident": "Conf", "negotiate": "Neg", **FLAG_NAMES}


@cache
def _model() -> DearManModel:
    from simtrainer.feedback.mi import load_mi_coder

    # the MI coder runs on every session: its encoder (and its cache of embedded turns) is shared
    return DearManModel(folder(), load_mi_coder().model.encoder)


class DearManCoder:
    rubric = "dearman"
    scorer = "dearman-coder v2 (MiniLM + word n-grams, multi-label, trained on project-written examples)"

    def __init__(self, model: DearManModel, rubric: Rubric):
        self.model = model
        self.rubric_def = rubric

    def code(self, text: str, context: str | None = None, earlier: str | None = None) -> list[Code]:
        found = self.model.codes(text)
        return [
            Code("dearman", name, LABELS[name], round(found[name][0], 3), "", self.scorer,
                 f'{FLAG_NAMES[name] if name in FLAGS else self.rubric_def.item(name).name}: '
                 f'"{found[name][1].strip()}"')
            for name in (*SKILLS, *FLAGS)
            if name in found
        ]

    def summarize(self, turns: list[TurnView]) -> dict[str, Any]:
        shown: dict[str, list[int]] = {s: [] for s in (*SKILLS, *FLAGS)}
        for number, turn in enumerate(turns, start=1):  # the transcript's turn number, as every view shows it
            if turn.speaker != "trainee":
                continue
            for code in turn.codes:
                if code.rubric == "dearman" and code.code in shown:
                    shown[code.code].append(number)
        checklist = {s: bool(shown[s]) for s in SKILLS}
        flags = {f: shown[f] for f in FLAGS}
        return {
            "checklist": checklist,
            "turns_shown": {s: shown[s] for s in SKILLS},
            "skills_shown": sum(checklist.values()),
            "skills_total": len(SKILLS),
            # not skills: moves that harden the other side, counted apart
            "hardening": flags,
            "hardening_total": sum(len(t) for t in flags.values()),
            "tip": tip(checklist, self.rubric_def, flags),
        }


def tip(checklist: dict[str, bool], rubric: Rubric, hardening: dict[str, list[int]] | None = None) -> str:
    """The next step: drop a threat, insult or ultimatum first; else the first missing skill in DEAR MAN order,
    said against what was done."""
    used = [FLAG_NAMES[f].lower() for f, at in (hardening or {}).items() if at]
    if used:
        return (f"Leave out the {' and '.join(used)}: it makes the other side dig in. Say what's in it for "
                "them, or what you can offer, instead.")
    missing = [s for s in SKILLS if not checklist[s]]
    if not missing:
        return "Every DEAR MAN skill showed up. Next time, try getting there in fewer turns."
    done = [rubric.item(s).name.lower() for s in SKILLS if checklist[s]]
    first = rubric.item(missing[0])
    lead = f"You used {', '.join(done)} but not {first.name.lower()}" if done else f"Start with {first.name.lower()}"
    return f"{lead}: {first.tip[0].lower() + first.tip[1:]}"


def load_dearman_coder() -> DearManCoder:
    return DearManCoder(_model(), load_rubric("dearman"))
