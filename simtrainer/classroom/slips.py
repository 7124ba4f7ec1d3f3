"""The moments students slip: patterns found in a hand-in's coded turns, each with the line that showed it.

Each detector reads one session (its turns with their codes, and its summary) and returns the first moment that
shows the pattern, or None. They read the coders' codes as handed in, so they are as good as the coders: a
pointer to where an instructor might look, not a verdict. The threat pattern is a plain wording rule, as the
DEAR MAN coder has no code for a threat.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

EXAMPLE_CHARS = 160
PUSH = {"PERSUADE", "CONFRONT"}
REFLECTIONS = {"SR", "CR"}
CLOSED_RUN = 3
_THREAT = re.compile(
    r"\bif you (?:don[’']?t|do not|won[’']?t|will not|refuse)\b.{0,80}?\b(?:i[’']ll|i will|i[’']m going to|"
    r"i am going to|we[’']ll|you[’']ll regret)\b|\bor (?:else|i[’']ll|i will)\b",
    re.IGNORECASE | re.DOTALL,
)


@dataclass
class Turn:
    number: int
    speaker: str
    text: str
    #: (rubric, code, detail) of each code on the turn
    codes: list[tuple[str, str, str]]

    def has(self, rubric: str, *codes: str, detail: str | None = None) -> bool:
        return any(r == rubric and c in codes and (detail is None or d == detail) for r, c, d in self.codes)


def turns_of(bundle: dict[str, Any]) -> list[Turn]:
    """A bundle's turns as `Turn`s (numbered as `practice --json` numbers them; by position where a turn has
    no number)."""
    out = []
    for n, t in enumerate(bundle["turns"], start=1):
        if not isinstance(t, dict):
            continue
        codes = [(str(c.get("rubric", "")), str(c.get("code", "")), str(c.get("detail") or ""))
                 for c in t.get("codes") or [] if isinstance(c, dict)]
        number = t.get("turn")
        out.append(Turn(number if isinstance(number, int) else n, str(t.get("speaker", "")), str(t.get("text", "")),
                        codes))
    return out


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1].rstrip() + "…"


def moment(turn: Turn, before: Turn | None = None) -> dict[str, Any]:
    """An example: the trainee's line (and the patient's line before it, when that is the point)."""
    return {"turn": turn.number, "before": _short(before.text) if before else "", "text": _short(turn.text)}


def _pairs(turns: list[Turn]):
    """(patient turn, the trainee's next turn) pairs."""
    return [(a, b) for a, b in itertools.pairwise(turns) if a.speaker == "patient" and b.speaker == "trainee"]


def push_after_sustain(turns: list[Turn], summary: dict[str, Any]) -> dict[str, Any] | None:
    for patient, trainee in _pairs(turns):
        if patient.has("mi", "sustain") and trainee.has("mi", *PUSH):
            return moment(trainee, patient)
    return None


def closed_question_run(turns: list[Turn], summary: dict[str, Any]) -> dict[str, Any] | None:
    run = 0
    for t in turns:
        if t.speaker != "trainee":
            continue
        run = run + 1 if t.has("mi", "Q", detail="closed") else 0
        if run == CLOSED_RUN:
            return moment(t)
    return None


def change_talk_passed_over(turns: list[Turn], summary: dict[str, Any]) -> dict[str, Any] | None:
    for patient, trainee in _pairs(turns):
        if (patient.has("mi", "change") and not trainee.has("mi", *REFLECTIONS)
                and (trainee.has("mi", "GI", *PUSH) or trainee.has("mi", "Q", detail="closed"))):
            return moment(trainee, patient)
    return None


def _dearman(summary: dict[str, Any]) -> bool:
    return "dearman" in (summary.get("rubrics") or {})


def assert_before_describe(turns: list[Turn], summary: dict[str, Any]) -> dict[str, Any] | None:
    described = False
    for t in turns:
        if t.speaker != "trainee":
            continue
        described = described or t.has("dearman", "describe")
        if t.has("dearman", "assert") and not described:
            return moment(t)
    return None


def threat(turns: list[Turn], summary: dict[str, Any]) -> dict[str, Any] | None:
    if not _dearman(summary):
        return None
    for n, t in enumerate(turns):
        if t.speaker == "trainee" and _THREAT.search(t.text):
            before = turns[n - 1] if n and turns[n - 1].speaker == "patient" else None
            return moment(t, before)
    return None


def _ctrs_missing(indicator: str, pick: Callable[[list[Turn]], Turn]):
    def detect(turns: list[Turn], summary: dict[str, Any]) -> dict[str, Any] | None:
        ctrs = (summary.get("rubrics") or {}).get("ctrs")
        said = [t for t in turns if t.speaker == "trainee"]
        if not isinstance(ctrs, dict) or (ctrs.get("indicators") or {}).get(indicator, True) or not said:
            return None
        return moment(pick(said))

    return detect


@dataclass(frozen=True)
class Pattern:
    id: str
    title: str
    #: what the example line is
    example_is: str
    detect: Callable[[list[Turn], dict[str, Any]], dict[str, Any] | None]


PATTERNS = (
    Pattern("push_after_sustain", "Advice, persuasion or confrontation right after the patient's sustain talk",
            "the trainee's reply to sustain talk", push_after_sustain),
    Pattern("closed_question_run", f"{CLOSED_RUN} or more closed questions in a row",
            f"the closed question that made {CLOSED_RUN} in a row", closed_question_run),
    Pattern("change_talk_passed_over", "Change talk answered with information, advice or a closed question, "
            "not a reflection", "the trainee's reply to change talk", change_talk_passed_over),
    Pattern("assert_before_describe", "DEAR MAN: asked (Assert) before describing the facts",
            "the request made before any Describe", assert_before_describe),
    Pattern("threat", "DEAR MAN: a threat where Reinforce should offer something", "the threatening line", threat),
    Pattern("no_agenda", "CBT: no agenda set", "how the session opened",
            _ctrs_missing("agenda_set", lambda said: said[0])),
    Pattern("no_feedback", "CBT: the patient's feedback never asked for", "how the session ended",
            _ctrs_missing("feedback_asked", lambda said: said[-1])),
)


def session_slips(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each pattern one hand-in shows, by id, with its first moment."""
    turns = turns_of(bundle)
    summary = bundle["summary"]
    found = {}
    for pattern in PATTERNS:
        example = pattern.detect(turns, summary)
        if example is not None:
            found[pattern.id] = example
    return found
