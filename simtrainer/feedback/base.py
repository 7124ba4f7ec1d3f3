"""The coder seam: the session calls every configured coder on each trainee turn, then at the end."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Code:
    """One code on one utterance, e.g. rubric "mi", code "CR" (complex reflection). `uncertain` marks a code whose
    confidence is under the level the coder measured its top code to be right less than the time it picked;
    `runner_up` is the code it would have given next (both only where the coder knows them)."""

    rubric: str
    code: str
    label: str
    confidence: float | None = None
    detail: str = ""
    scorer: str = ""
    reason: str = ""
    uncertain: bool = False
    runner_up: str = ""

    def as_row(self) -> dict[str, Any]:
        row = asdict(self)
        row.pop("label")
        return row

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TurnView:
    """What a coder sees of a turn when summarising a session."""

    speaker: str  # "trainee" | "patient"
    text: str
    codes: list[Code] = field(default_factory=list)


class Coder(Protocol):
    """Codes trainee utterances for one rubric; fast enough to run before the patient answers."""

    rubric: str
    #: Which scorer produced the codes (shown in the UI and exports), e.g. "mi-coder 1 (trained, AnnoMI)".
    scorer: str

    def code(self, text: str, context: str | None = None, earlier: str | None = None) -> list[Code]:
        """Codes for one trainee utterance; `context` is the patient's previous turn and `earlier` the trainee's
        turn before that (a coder may ignore either)."""
        ...

    def summarize(self, turns: list[TurnView]) -> dict[str, Any]:
        """Session-level scores from all turns (with the codes this coder gave them)."""
        ...

    # Optional: `code_patient(text, context, earlier) -> list[Code]` codes the patient's replies (e.g. change talk).
