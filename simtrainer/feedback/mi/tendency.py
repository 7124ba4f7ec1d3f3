"""What the counselor has been doing so far in a session, as a prior on their next turn.

Human coders read an ambiguous line in the light of the session: a counselor who has mostly been giving advice
is probably giving advice again. The coder does the same with its own output: the running mean of the
counselor's predicted behaviour probabilities, shrunk toward the corpus mean by `smoothing` pseudo-turns, tilts
the next prediction by (running / corpus) ** `strength`. With no history the tilt is one, so a single utterance
is coded as before. `train.py` chooses both numbers by cross-validation (strength 0 turns the prior off) and
stores them, with the corpus mean, in meta.json. The same prior on the client's talk type did not help under
cross-validation and made the coding of a sustain-heavy session stickier, so it is not used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# The speaker whose earlier utterances set the prior, per task.
SPEAKER = {"therapist_behaviour": "therapist"}


def tilt(p: np.ndarray, total: np.ndarray, count: np.ndarray | float, base: np.ndarray, smoothing: float,
         strength: float) -> np.ndarray:
    """`p` (rows of probabilities, or one row) tilted toward the running mean `total / count`; rows sum to 1."""
    count = np.asarray(count, dtype=float)[..., None] if np.ndim(count) else count
    prior = (total + base * smoothing) / (count + smoothing)
    q = p * (prior / base) ** strength
    return q / q.sum(axis=-1, keepdims=True)


@dataclass
class Tendency:
    """One speaker's running probabilities for one task within one session."""

    labels: list[str]
    base: np.ndarray
    smoothing: float
    strength: float
    total: np.ndarray = field(init=False)
    count: int = 0

    def __post_init__(self) -> None:
        self.total = np.zeros(len(self.labels))

    def observe(self, probs: dict[str, float]) -> dict[str, float]:
        """`probs` tilted by what came before; the utterance then joins the running mean."""
        p = np.array([probs[label] for label in self.labels])
        q = tilt(p, self.total, self.count, self.base, self.smoothing, self.strength) if self.strength else p
        self.total += p
        self.count += 1
        return dict(zip(self.labels, map(float, q), strict=True))


def tendencies(meta: dict[str, Any]) -> dict[str, Tendency]:
    """A fresh set for a new session from meta.json's "session_prior" (none for an artifact without one)."""
    out = {}
    for task, prior in meta.get("session_prior", {}).items():
        out[task] = Tendency(list(meta["tasks"][task]), np.asarray(prior["base"], dtype=float),
                             float(prior["smoothing"]), float(prior["strength"]))
    return out


def running_totals(transcripts: list[str], speakers: list[str], probs: np.ndarray, speaker: str
                   ) -> tuple[np.ndarray, np.ndarray]:
    """For rows in transcript order: the sum of `speaker`'s probabilities before each row in its transcript, and
    how many rows that sum covers (training's batch form of `Tendency`)."""
    totals, counts = np.zeros_like(probs), np.zeros(len(probs))
    total, count, current = np.zeros(probs.shape[1]), 0, None
    for i, (tid, who) in enumerate(zip(transcripts, speakers, strict=True)):
        if tid != current:
            total, count, current = np.zeros(probs.shape[1]), 0, tid
        totals[i], counts[i] = total, count
        if who == speaker:
            total = total + probs[i]
            count += 1
    return totals, counts
