"""Steering by choosing, not by asking: tiny models ignore prompt hints ("lean toward change talk" was followed
in 0 of 12 replies on SmolLM2), so the patient generates candidate replies and keeps the one whose client-talk
probabilities match the state's leaning, after the guard, the card's facts and the judge have had their say.
When no candidate fits, a line the card's author wrote for that leaning stands in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from simtrainer.patient.judge import contradictions, judge
from simtrainer.patient.state import PatientState
from simtrainer.scenarios.card import Card

# (reply, trainee text, the line before the trainee's) -> {change, neutral, sustain}
TalkScorer = Callable[[str, str, str], dict[str, float]]
ACCEPT_AT = 0.5  # a candidate this likely to carry the wanted talk is taken at once
CARD_LINE_BELOW = 0.34  # if even the best candidate is less likely than this, use a card line


@dataclass
class Candidate:
    text: str
    probs: dict[str, float]
    problem: str | None = None

    def score(self, target: str) -> float:
        if target == "neutral":
            return 1.0 - abs(self.probs.get("change", 0) - self.probs.get("sustain", 0))
        return self.probs.get(target, 0.0)


def vet(card: Card, text: str) -> str | None:
    """Why a guarded candidate still may not be used (contradicts the card, or not in character)."""
    broken = contradictions(card, text)
    if broken:
        return f"contradicts the card: {broken[0]}"
    return judge(card, text)


def card_line(card: Card, state: PatientState, target: str, pressured: bool, used: set[str]) -> tuple[str, str] | None:
    """An unused card-authored line for the wanted leaning, and where it came from."""
    pools: list[tuple[str, list[str]]] = []
    if target == "sustain":
        if pressured:
            pools.append(("card:pressure", card.pressure_reactions))
        pools.append(("card:sustain", card.voice.sustain_examples))
    elif target == "change":
        pools.append(("card:change", card.voice.change_examples))
    for source, lines in pools:
        for line in lines:
            if line not in used:
                return line, source
    return None


def disclosure(card: Card, state: PatientState) -> str | None:
    """The next thing the person reveals once trust is high enough (one at a time, spaced out)."""
    if not state.may_disclose:
        return None
    remaining = [line for line in card.reveal_when_trusted if line not in state.disclosed]
    return remaining[0] if remaining else None
