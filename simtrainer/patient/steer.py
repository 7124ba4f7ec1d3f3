"""Steering by choosing, not by asking: tiny models ignore prompt hints ("lean toward change talk" was followed
in 0 of 12 replies on SmolLM2), so the patient generates candidate replies and keeps the one whose client-talk
probabilities match the state's leaning, after the guard, the card's facts and the judge have had their say.
Candidates are also ranked by how well they answer the trainee's turn (`relevance.py`). When no candidate
fits, the card line that best answers the turn for that leaning stands in (`lines.py`).
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
CARD_LINE_BELOW = 0.2  # if even the best candidate is less likely than this, use a card line (0.34 gave more
# card lines and no larger change-talk difference on four MI cards: docs/patient.md)
# A tiny model's candidate must fit the trainee's turn at least this well (relevance.py) to be said; else a card
# line speaks. Read blind (docs/benchmarks.md), SmolLM2 replies at 0.2-0.3 answered the turn 43% of the time and
# were coherent 11%; from 0.3 up 67-92% and 33-54%; card lines 88% and 98% at any fit. The model keeps the turns
# where two in three of its replies answer, so that a session is not all card lines.
MODEL_RELEVANT_FROM = 0.3


@dataclass
class Candidate:
    text: str
    probs: dict[str, float]
    relevance: float = 0.0  # `relevance.relevance` of (trainee turn, text)

    def score(self, target: str) -> float:
        if target == "neutral":
            return 1.0 - abs(self.probs.get("change", 0) - self.probs.get("sustain", 0))
        return self.probs.get(target, 0.0)

    def rank(self, target: str, relevance_weight: float) -> float:
        """Fit to the leaning and to the trainee's turn together (how candidates are ordered)."""
        return self.score(target) + relevance_weight * self.relevance

    def fits(self, target: str, at_least: float, relevant_from: float) -> bool:
        """Carries the wanted talk (likely at least `at_least`; any for neutral) and answers the turn."""
        leaning_ok = target == "neutral" or self.score(target) >= at_least
        return leaning_ok and self.relevance >= relevant_from


def vet(card: Card, text: str) -> str | None:
    """Why a guarded candidate still may not be used (contradicts the card, or not in character)."""
    broken = contradictions(card, text)
    if broken:
        return f"contradicts the card: {broken[0]}"
    return judge(card, text)


def disclosure(card: Card, state: PatientState, said: Callable[[str], bool] = lambda _: False) -> str | None:
    """The next thing the person reveals once trust is high enough (one at a time, spaced out), passing over
    what the session has `said` in other words already."""
    if not state.may_disclose:
        return None
    remaining = [line for line in card.reveal_when_trusted if line not in state.disclosed and not said(line)]
    return remaining[0] if remaining else None
