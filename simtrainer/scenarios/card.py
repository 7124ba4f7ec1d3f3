"""The persona card schema. Cards are TOML files in `scenarios/`, written in this project's own words."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Modality = Literal["mi", "dearman", "cbt"]
Difficulty = Literal["easy", "moderate", "hard"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Person(_Strict):
    """Who the patient (or counterpart) is."""

    name: str = Field(min_length=1, max_length=40)
    age: int = Field(ge=10, le=110)
    pronouns: str = ""
    background: str = Field(min_length=10, description="Life situation, in a few sentences.")


class Themes(_Strict):
    """What the person says for and against change (MI: change talk and sustain talk)."""

    change: list[str] = Field(min_length=1)
    sustain: list[str] = Field(min_length=1)


class Voice(_Strict):
    """How the person talks; example lines anchor a small model to the persona."""

    style: str = Field(min_length=3)
    examples: list[str] = Field(min_length=2)
    change_examples: list[str] = Field(
        default_factory=list, description="Lines leaning toward change (DEAR MAN: giving in or negotiating)."
    )
    sustain_examples: list[str] = Field(
        default_factory=list, description="Lines defending the status quo (DEAR MAN: pushing back)."
    )


class Line(_Strict):
    """A line the person could say, written in the card so a reply can come from the card and still answer the
    trainee: `theme` says what it speaks to, so it is chosen by fit to what was just said, never twice."""

    text: str = Field(min_length=2, max_length=400)
    leaning: Literal["change", "sustain", "neutral"] = Field(
        description="MI: for / against change; DEAR MAN: toward yes / holding out; CBT: opening up / avoiding."
    )
    theme: str = Field(min_length=2, max_length=120, description="What the line speaks to, e.g. 'sleep after shifts'.")


class Reaction(_Strict):
    """How the person reacts when the trainee hits one of the card's triggers."""

    trigger: str = Field(min_length=2, description="One of the card's `triggers`, word for word.")
    lines: list[str] = Field(min_length=1)


class Fact(_Strict):
    """Something true of the person, and phrases that would contradict it (regular expressions)."""

    claim: str = Field(min_length=3)
    contradicted_by: list[str] = Field(min_length=1)

    @field_validator("contradicted_by")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {pattern!r} ({exc})") from None
        return patterns


class DearMan(_Strict):
    """A DEAR MAN exercise: the trainee asks the counterpart (played by the model) for something."""

    counterpart: str = Field(min_length=2, description="Who the model plays, relative to the trainee.")
    trainee_role: str = Field(min_length=2, description="Who the trainee plays, e.g. 'Tenant'.")
    request: str = Field(min_length=5, description="What the trainee must ask for.")
    pushback: list[str] = Field(min_length=1, description="How the counterpart resists.")
    would_agree_if: list[str] = Field(min_length=1, description="What could make the counterpart say yes.")


class CognitiveModel(_Strict):
    """A CBT case formulation the patient's replies draw on."""

    situation: str = Field(min_length=5)
    automatic_thoughts: list[str] = Field(min_length=1)
    emotions: list[str] = Field(min_length=1)
    behaviours: list[str] = Field(min_length=1)
    core_belief: str = Field(min_length=3)
    intermediate_beliefs: list[str] = Field(min_length=1)


class Card(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,60}$")
    title: str = Field(min_length=3, max_length=80)
    modality: Modality
    difficulty: Difficulty
    summary: str = Field(min_length=10, max_length=300, description="One or two lines for scenario lists.")
    person: Person
    presenting_concern: str = Field(min_length=5)
    wants: list[str] = Field(min_length=1)
    fears: list[str] = Field(min_length=1)
    themes: Themes
    triggers: list[str] = Field(min_length=1, description="What the trainee could say that raises defences.")
    voice: Voice
    opening_line: str = Field(min_length=2)
    reveal_when_trusted: list[str] = Field(
        default_factory=list, description="Lines the person says only once trust is high (disclosures)."
    )
    pressure_reactions: list[str] = Field(
        default_factory=list, description="How the person answers confrontation or pressure."
    )
    facts: list[Fact] = Field(default_factory=list, description="Checked in every reply (on-persona rate).")
    lines: list[Line] = Field(default_factory=list, description="Card lines by leaning and theme (see Line).")
    reactions: list[Reaction] = Field(default_factory=list, description="Scripted reactions to the triggers.")
    dearman: DearMan | None = None
    cbt: CognitiveModel | None = None

    @model_validator(mode="after")
    def _modality_section(self) -> Card:
        if self.modality == "dearman" and self.dearman is None:
            raise ValueError("a dearman card needs a [dearman] table (counterpart, trainee_role, request, ...)")
        if self.modality == "cbt" and self.cbt is None:
            raise ValueError("a cbt card needs a [cbt] table (situation, automatic_thoughts, core_belief, ...)")
        return self

    @model_validator(mode="after")
    def _reactions_name_triggers(self) -> Card:
        for reaction in self.reactions:
            if reaction.trigger not in self.triggers:
                raise ValueError(f"reaction for {reaction.trigger!r}, which is not one of the card's triggers "
                                 f"({'; '.join(self.triggers)})")
        return self

    @property
    def trainee_label(self) -> str:
        """The speaker label the trainee gets in the transcript."""
        return self.dearman.trainee_role if self.dearman else "Counselor"

    @property
    def modality_name(self) -> str:
        return {"mi": "Motivational Interviewing", "dearman": "DBT DEAR MAN", "cbt": "Cognitive therapy"}[
            self.modality
        ]
