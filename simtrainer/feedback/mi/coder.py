"""Turns the learned heads' probabilities into MITI 4.2.1 codes (one per utterance) and client talk types."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from simtrainer.feedback.base import Code, TurnView
from simtrainer.feedback.mi.head import HeadError, LinearHead, dense_blocks
from simtrainer.feedback.mi.model import MICodeModel, _broken
from simtrainer.feedback.mi.rules import change_phrase, rule_codes, sustain_phrase
from simtrainer.feedback.mi.summary import miti_summary
from simtrainer.resources import data_folder
from simtrainer.rubrics import Rubric, load_rubric

WHY = {
    "Q": "asks for the client's view or facts",
    "SR": "gives back what the client said",
    "CR": "gives back what the client said and adds meaning",
    "GI": "offers information or feedback",
    "PERSUADE": "advises or argues for change without permission",
    "PWP": "advises after permission, leaving the client free",
    "AF": "names a strength, effort or value of the client",
    "SEEK": "shares the agenda or asks the client's ideas",
    "AUTO": "leaves the choice with the client",
    "CONFRONT": "argues, labels, blames or shames",
    "NEUTRAL": "no MI behaviour (greeting, filler, procedure)",
}


def default_model_dir() -> Path:
    return data_folder("models") / "mi-coder"


@cache
def _model(folder: Path) -> MICodeModel:
    return MICodeModel(folder)


class MICoder:
    """Codes trainee turns (MITI behaviours) and patient turns (change / sustain / neutral talk).

    The learned code head decides a trainee turn's code (`head.py`); the AnnoMI model adds the open / closed
    subtype of a question. A code whose confidence is under the head's measured threshold is marked uncertain,
    and every code names the runner-up."""

    rubric = "mi"

    def __init__(self, model: MICodeModel, codes: LinearHead, talk: LinearHead, rubric: Rubric):
        self.model = model
        self.codes = codes
        self.talk = talk
        self.rubric_def = rubric
        version = model.meta.get("version", "?")
        self.scorer = f"mi-coder v{version} (learned code head + AnnoMI-trained MiniLM)"

    def _blocks(self, text: str, context: str) -> dict:
        encoder = self.model.encoder
        return dense_blocks(encoder.layers(text), encoder(context), text)

    def code_probabilities(self, text: str, context: str | None = None) -> dict[str, float]:
        """P(code) over the 11 MITI codes of a trainee utterance, from the learned head alone."""
        return self.codes.probabilities(text, self._blocks(text, context or ""))

    def code(self, text: str, context: str | None = None, earlier: str | None = None) -> list[Code]:
        p = self.code_probabilities(text, context)
        top, second = sorted(p, key=p.get, reverse=True)[:2]
        detail = ""
        asked = top == "SEEK" and text.rstrip().endswith("?")
        if top == "Q" or asked:
            sub = self.model.probabilities(text, "therapist", context or "", earlier or "")["question"]
            detail = max(sub, key=sub.get)
        elif top in ("SR", "CR"):
            detail = "simple" if top == "SR" else "complex"
        phrase = next((phrase for code_id, phrase in rule_codes(text) if code_id == top), "")
        uncertain = p[top] < self.codes.threshold
        runner_up = self.rubric_def.code(second).name
        reason = (f"{'uncertain: ' if uncertain else ''}{WHY[top]} ({p[top]:.0%}; next {runner_up} {p[second]:.0%})"
                  + (f': "{phrase}"' if phrase else ""))
        if asked:  # a Seek phrased as a question also counts as one (R:Q, CBT micro-skills), as in MI coder v6
            return [Code("mi", "SEEK", self.rubric_def.code("SEEK").label, round(p[top], 3), "", self.scorer, reason,
                         uncertain, second),
                    Code("mi", "Q", f"Q {detail}", round(p[top], 3), detail, self.scorer,
                         f"{detail} question: {WHY['Q']}", uncertain)]
        label = f"Q {detail}" if top == "Q" and detail else self.rubric_def.code(top).label
        return [Code("mi", top, label, round(p[top], 3), detail, self.scorer, reason, uncertain, second)]

    def _talk(self, text: str, context: str | None) -> tuple[dict[str, float], dict[str, str]]:
        """P(change / neutral / sustain talk) from the talk head, and the phrases the plain-talk rules found; each
        rule adds half a vote (the head reads them as features too, but on the project's plain patient lines
        (`eval rules`) the head alone misses owned problem statements the votes catch)."""
        talk = self.talk.probabilities(text, self._blocks(text, context or ""))
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
        return self._talk(text, context)[0]

    def code_patient(self, text: str, context: str | None = None, earlier: str | None = None) -> list[Code]:
        talk, phrases = self._talk(text, context)
        kind, second = sorted(talk, key=talk.get, reverse=True)[:2]
        phrase = phrases.get(kind)
        definition = self.rubric_def.client_codes[kind]
        uncertain = talk[kind] < self.talk.threshold
        why = (f"{'uncertain: ' if uncertain else ''}{definition.name} ({talk[kind]:.0%}; next {second} "
               f"{talk[second]:.0%})" + (f': "{phrase}"' if phrase else ""))
        return [Code("mi", kind, definition.label, round(talk[kind], 3), "client talk", self.scorer, why,
                     uncertain, second)]

    def summarize(self, turns: list[TurnView]) -> dict[str, Any]:
        return miti_summary(turns, self.rubric_def)


@cache
def _heads(folder: Path) -> tuple[LinearHead, LinearHead]:
    try:
        return LinearHead(folder, "codes"), LinearHead(folder, "talk")
    except HeadError as exc:
        raise _broken(folder, str(exc)) from None


def load_mi_coder(folder: Path | None = None) -> MICoder:
    """The shipped MI coder (loaded once per process)."""
    folder = folder or default_model_dir()
    return MICoder(_model(folder), *_heads(folder), load_rubric("mi"))
