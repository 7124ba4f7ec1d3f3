"""The card's own lines, chosen by fit to what the trainee just said, never twice in a session.

A card line stands in when no model candidate fits (or a trigger scripts the answer). Choosing it by leaning
alone made every Dana session answer its first question with the same line, whatever was asked; here each line
(its text and theme) is compared with the trainee's turn (and, more lightly, the patient's previous line) by the
sentence encoder, lines of the wanted leaning come first, and a seeded draw among the near-best keeps two
sessions from being copies. Line vectors are cached per card text, so each is encoded once per process. Where
the answer check is loaded (`relevance.AnswerCheck`), the best few lines are read with the turn by it and the draw is
among those it says answer the turn: the encoder alone sees shared topic, not whether a line answers.

A line that says again what the session already said ("I slept through Leo's school play." after the disclosure
"I missed Leo's school play because I slept through it.") counts as used, like the line itself: cards hold
close variants of one memory, and said one after another they read as a loop.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

import numpy as np

from simtrainer.patient.relevance import Embed
from simtrainer.scenarios.card import Card

CONTEXT_WEIGHT = 0.25  # the patient's previous line, against the trainee's turn
LEANING_BONUS = 0.15  # a line of the wanted leaning beats a slightly better-fitting neutral one
NEAR_BEST = 0.04  # lines this close to the best are drawn from at random (seeded)
SHORTLIST = 5  # lines the answer check reads per pick (about 7 ms each on two cores)
# Encoder similarity at which two lines say the same thing. Over the 24 cards' own lines (28,395 pairs) 0.4% of
# pairs reach it, all variants of one event ("I went for a walk with my nan on Sunday" / "Sunday I went down the
# beach with Nan"); near-repeats read in one bench session scored 0.78-0.91.
NEAR_REPEAT = 0.7


@dataclass(frozen=True)
class CardLine:
    text: str
    leaning: str  # change | sustain | neutral
    theme: str
    source: str  # card:<leaning> | card:reaction | card:pressure ...


def card_lines(card: Card) -> list[CardLine]:
    """Every line the card offers for ordinary replies: `[[lines]]`, then the voice examples, no duplicates."""
    found: dict[str, CardLine] = {}
    for line in card.lines:
        found.setdefault(line.text, CardLine(line.text, line.leaning, line.theme, f"card:{line.leaning}"))
    for leaning, texts in (("change", card.voice.change_examples), ("sustain", card.voice.sustain_examples),
                           ("neutral", card.voice.examples)):
        for text in texts:
            found.setdefault(text, CardLine(text, leaning, "", f"card:{leaning}"))
    return list(found.values())


class LineBank:
    """Ranks lines against a trainee turn with one encoder; caches each line's vector."""

    def __init__(self, embed: Embed, answers=None):
        self.embed = embed
        self.answers = answers  # `relevance.AnswerCheck`, or None: the encoder's fit alone decides
        self._vectors: dict[tuple[str, str], np.ndarray] = {}
        self._plain: dict[str, np.ndarray] = {}

    def vector(self, line: CardLine) -> np.ndarray:
        key = (line.text, line.theme)
        if key not in self._vectors:
            text_vec = self.embed(line.text)
            vec = text_vec + 0.5 * self.embed(line.theme) if line.theme else text_vec
            norm = float(np.linalg.norm(vec))
            self._vectors[key] = vec / norm if norm else vec
        return self._vectors[key]

    def plain(self, text: str) -> np.ndarray:
        """The vector of `text` alone (no theme), cached: what near-repeats are judged on."""
        if text not in self._plain:
            self._plain[text] = self.embed(text)
        return self._plain[text]

    def near_repeats(self, texts: list[str], said: list[str]) -> set[str]:
        """Those of `texts` that say what one of the `said` replies said (similarity at least NEAR_REPEAT)."""
        if not texts or not said:
            return set()
        lines = np.stack([self.plain(text) for text in texts])
        earlier = np.stack([self.plain(text) for text in said])
        closest = (lines @ earlier.T).max(axis=1)
        return {text for text, sim in zip(texts, closest, strict=True) if sim >= NEAR_REPEAT}

    def echoes(self, sentence: str, said: list[str]) -> bool:
        """Whether `sentence` says again one of the `said` sentences. Only sentences of four words or more count
        ("I know." may come back), and the encoder is asked only about said sentences sharing half the words:
        a streamed reply is checked sentence by sentence, and this keeps that off the reading-speed path."""
        words = set(re.findall(r"[a-z']+", sentence.lower()))
        if len(words) < 4:
            return False
        close = [text for text in said if len(words & set(re.findall(r"[a-z']+", text.lower()))) * 2 >= len(words)]
        return bool(close) and bool(self.near_repeats([sentence], close))

    def fit(self, line: CardLine, trainee: str, context: str = "") -> float:
        query = self.embed(trainee) if trainee.strip() else None
        score = float(np.dot(query, self.vector(line))) if query is not None else 0.0
        if context.strip():
            score += CONTEXT_WEIGHT * float(np.dot(self.embed(context), self.vector(line)))
        return score

    def pick(self, lines: list[CardLine], trainee: str, context: str, target: str | None, used: set[str],
             rng: random.Random, *, answering_only: bool = False) -> CardLine | None:
        """The unused line that best fits the turn, lines of the `target` leaning first (None: any leaning).
        Unsure (`target` "neutral"), a plain line, unless none answers the turn and a line of either leaning
        does ("What does vaping do for you before a game?" is not answered by "School's fine."). `answering_only`: None
        rather than a line the answer check says does not answer."""
        fresh = [line for line in lines if line.text not in used]
        if target in ("change", "sustain"):
            # a change line never answers for sustain talk (or the reverse): neutral lines may stand in
            fresh = [line for line in fresh if line.leaning in (target, "neutral")]
        if target == "neutral" and (plain := [line for line in fresh if line.leaning == "neutral"]):
            line, answers = self._best(plain, trainee, context, target, rng)
            others = [other for other in fresh if other.leaning != "neutral"]
            if not answers and others:  # the answer check passes no plain line: one of either leaning may answer
                other, other_answers = self._best(others, trainee, context, None, rng)
                if other_answers:
                    line, answers = other, True
            return line if answers or not answering_only else None
        if not fresh:
            return None
        line, answers = self._best(fresh, trainee, context, target, rng)
        return line if answers or not answering_only else None

    def _scored(self, lines: list[CardLine], trainee: str, context: str, target: str | None) -> list[tuple[float, CardLine]]:
        return [(self.fit(line, trainee, context) + (LEANING_BONUS if line.leaning == target else 0.0), line)
                for line in lines]

    def _best(self, lines: list[CardLine], trainee: str, context: str, target: str | None,
              rng: random.Random) -> tuple[CardLine, bool]:
        """A seeded draw among the near-best of `lines`, and whether the answer check says it answers the turn
        (True where no answer check is loaded). The draw is among answering lines where there are any."""
        scored = self._scored(lines, trainee, context, target)
        best = max(score for score, _ in scored)
        near = [line for score, line in scored if score >= best - NEAR_BEST]
        if self.answers is None or not trainee.strip():
            return rng.choice(near), True
        shortlist = [line for _, line in sorted(scored, key=lambda pair: -pair[0])[:SHORTLIST]]
        fits = self.answers.scores(trainee, [line.text for line in shortlist])
        answering = [line for line, fit in zip(shortlist, fits, strict=True) if fit >= self.answers.threshold]
        if not answering:
            return rng.choice(near), False
        return rng.choice([line for line in answering if line.leaning == target] or answering), True
