"""Turns the trained model's probabilities and the rules into MITI 4.2.1 codes, one set per utterance."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from simtrainer.feedback.base import Code, TurnView
from simtrainer.feedback.mi.model import MICodeModel
from simtrainer.feedback.mi.rules import change_phrase, rule_codes, sustain_phrase
from simtrainer.feedback.mi.summary import miti_summary
from simtrainer.feedback.mi.tendency import tendencies
from simtrainer.resources import data_folder
from simtrainer.rubrics import Rubric, load_rubric

WHY = {
    "Q": "asks for the client's view or facts",
    "SR": "gives back what the client said",
    "CR": "gives back what the client said and adds meaning",
    "GI": "offers information or feedback",
    "PERSUADE": "advises or argues for change without permission",
    "PWP": "advises after permission, leaving the client free",
    "SEEK": "shares the agenda or asks the client's ideas",
    "NEUTRAL": "no MI behaviour (greeting, filler, procedure)",
}


def default_model_dir() -> Path:
    return data_folder("models") / "mi-coder"


@cache
def _model(folder: Path) -> MICodeModel:
    return MICodeModel(folder)


class MICoder:
    """Codes trainee turns (MITI behaviours) and patient turns (change / sustain / neutral talk).

    One coder serves one session: it keeps the counselor's running tendency (`tendency.py`), so a trainee turn
    is coded in the light of the turns coded before it."""

    rubric = "mi"

    def __init__(self, model: MICodeModel, rubric: Rubric):
        self.model = model
        self.rubric_def = rubric
        version = model.meta.get("version", "?")
        self.scorer = f"mi-coder v{version} (AnnoMI-trained MiniLM ensemble + rules)"
        self.seen = tendencies(model.meta)

    def _code(self, code_id: str, confidence: float, detail: str = "", reason: str = "") -> Code:
        definition = self.rubric_def.code(code_id)
        label = definition.label if code_id != "Q" or not detail else f"Q {detail}"
        return Code("mi", code_id, label, round(confidence, 3), detail, self.scorer, reason)

    def code(self, text: str, context: str | None = None, earlier: str | None = None) -> list[Code]:
        probs = self.model.probabilities(text, "therapist", context or "", earlier or "")
        behaviour = probs["therapist_behaviour"]
        if "therapist_behaviour" in self.seen:
            behaviour = self.seen["therapist_behaviour"].observe(behaviour)
        main = max(behaviour, key=behaviour.get)
        p = behaviour[main]
        fired = rule_codes(text)
        fired_ids = {code for code, _ in fired}
        codes: list[Code] = []
        if main == "question":
            sub = probs["question"]
            kind = max(sub, key=sub.get)
            codes.append(self._code("Q", p, kind, f"{kind} question ({sub[kind]:.0%}): {WHY['Q']}"))
        elif main == "reflection":
            sub = probs["reflection"]
            kind = max(sub, key=sub.get)
            code_id = "CR" if kind == "complex" else "SR"
            codes.append(self._code(code_id, p, kind, f"{kind} reflection ({sub[kind]:.0%}): {WHY[code_id]}"))
        elif main == "therapist_input":
            sub = probs["input"]
            kind = max(sub, key=sub.get)
            if kind == "advice":
                code_id = "PWP" if ("PWP" in fired_ids or "SEEK" in fired_ids) else "PERSUADE"
            elif kind == "negotiation":
                code_id = "SEEK"
            else:
                code_id = "GI"
            codes.append(self._code(code_id, p, kind, f"counselor input: {kind} ({sub[kind]:.0%}): {WHY[code_id]}"))
        if fired_ids & {"CONFRONT", "PERSUADE", "PWP"}:
            # MITI: a confrontation or unasked advice phrased as a reflection, question or information is coded
            # as what it does, so the rule's code replaces the model's
            codes = [c for c in codes if c.code in ("PERSUADE", "PWP")]
        for code_id, phrase in fired:
            if code_id == "PERSUADE" and any(c.code == "PWP" for c in codes):
                continue
            if not any(c.code == code_id for c in codes):
                name = self.rubric_def.code(code_id).name
                codes.append(self._code(code_id, 0.9, "rule", f'{name}: "{phrase}"'))
        if not codes:
            codes.append(self._code("NEUTRAL", p, "", f"other ({p:.0%}): {WHY['NEUTRAL']}"))
        return codes

    def _talk(self, text: str, context: str | None, earlier: str | None) -> tuple[dict[str, float], dict[str, str]]:
        """P(change / neutral / sustain talk), and the phrases the rules found; each rule adds half a vote."""
        talk = self.model.probabilities(text, "client", context or "", earlier or "")["client_talk_type"]
        phrases = {kind: phrase for kind, phrase in (("sustain", sustain_phrase(text)), ("change", change_phrase(text)))
                   if phrase}
        if phrases:
            votes = {k: v + (0.5 if k in phrases else 0.0) for k, v in talk.items()}
            total = sum(votes.values())
            talk = {k: v / total for k, v in votes.items()}
        return talk, phrases

    def talk_probabilities(self, text: str, context: str | None = None, earlier: str | None = None
                           ) -> dict[str, float]:
        """P(change / neutral / sustain talk) of a patient utterance; the steered patient ranks candidates by it."""
        return self._talk(text, context, earlier)[0]

    def code_patient(self, text: str, context: str | None = None, earlier: str | None = None) -> list[Code]:
        talk, phrases = self._talk(text, context, earlier)
        kind = max(talk, key=talk.get)
        definition = self.rubric_def.client_codes[kind]
        why = f'{definition.name} ({talk[kind]:.0%})' + (f': "{phrases[kind]}"' if kind in phrases else "")
        return [Code("mi", kind, definition.label, round(talk[kind], 3), "client talk", self.scorer, why)]

    def summarize(self, turns: list[TurnView]) -> dict[str, Any]:
        return miti_summary(turns, self.rubric_def)


def load_mi_coder(folder: Path | None = None) -> MICoder:
    """The shipped MI coder (loaded once per process)."""
    return MICoder(_model(folder or default_model_dir()), load_rubric("mi"))
