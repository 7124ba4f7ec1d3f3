"""Does a reply answer what the trainee just said? And which card line fits it best?

Both questions use one sentence encoder: the MI coder's frozen all-MiniLM-L6-v2 (`Encoder`, already loaded for
coding, so nothing new is loaded), or, without the MI coder (tests with the fake backend, a bare `Patient`), a
hashed bag of word stems, so the logic still runs. The relevance check is the encoder similarity of (trainee
turn, reply) plus a small cue for the type of turn: a question answered with a question back reads as
dodging it; a yes/no question or a reflection answered with "yes", "no", "exactly"... reads as an answer.
THRESHOLD was chosen on the hand-written dev set `evaluation/patient_relevance_dev.csv` (never on the
evaluation set `evaluation/patient_relevance.csv`, which only reports the check's accuracy):
`simtrainer bench relevance` prints both.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

import numpy as np

Embed = Callable[[str], np.ndarray]  # text -> unit-length sentence vector

#: chosen on the dev set (best accuracy there, the lower of tied thresholds); see the module docstring
THRESHOLD = 0.2
CUE_WEIGHT = 0.1
_WH = re.compile(r"^\s*(how|what|why|when|where|who|which|tell me)\b", re.IGNORECASE)
_YESNO = re.compile(r"^\s*(do|does|did|is|are|was|were|can|could|would|will|have|has|had|should|shall|any)\b",
                    re.IGNORECASE)
_ANSWER_OPENING = re.compile(
    r"^\s*(yes|yeah|yep|no|nope|nah|not really|sort of|kind of|maybe|exactly|right|true|i do|i don'?t|i did|"
    r"i didn'?t|i have|i haven'?t|i am|i'?m not|it is|it isn'?t|it was|it wasn'?t|probably|definitely|never|"
    r"sometimes|a bit|a little|honestly)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z']+")
_STOP = frozenset(
    "a an the and or but so to of in on at for with is are was were be been am i you he she it we they me my your "
    "his her its our their this that these those do does did have has had not no yes just really very what how why "
    "when where who which there here about would could should will can can't don't i'm you're it's that's".split()
)
_DIM = 512


def is_question(text: str) -> bool:
    text = text.strip()
    return text.endswith("?") or bool(_WH.match(text) or _YESNO.match(text))


def lexical_embed(text: str) -> np.ndarray:
    """A hashed bag of word stems (first five letters), unit length: the stand-in when no encoder is loaded."""
    vector = np.zeros(_DIM, dtype=np.float32)
    for word in _WORD.findall(text.lower()):
        if word in _STOP:
            continue
        digest = hashlib.blake2b(word[:5].encode(), digest_size=4).digest()
        vector[int.from_bytes(digest, "little") % _DIM] += 1.0
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


def shares_words(trainee: str, reply: str) -> bool:
    """Whether the reply reuses a content word of the turn (first five letters). Hand-written sets tend to make
    their near-misses share words and their hard answers share none; a check can score well there by that
    alone (a rule "answers if it shares no word" reaches 0.61 and 0.68 on two of the sets), so the figures also
    give the accuracy averaged over the four cells (answers or not) x (shares words or not)."""
    def stems(text: str) -> set[str]:
        return {w[:5] for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2}

    return bool(stems(trainee) & stems(reply))


def similarity(embed: Embed, a: str, b: str) -> float:
    if not a.strip() or not b.strip():
        return 0.0
    return float(np.dot(embed(a), embed(b)))


def turn_cue(trainee: str, reply: str) -> float:
    """+1 when the reply's form answers the turn's form, -1 when a question is met with a question, else 0."""
    asked = is_question(trainee)
    if asked and reply.strip().endswith("?") and not _ANSWER_OPENING.match(reply):
        return -1.0
    if _ANSWER_OPENING.match(reply) and (not asked or _YESNO.match(trainee)):
        return 1.0
    return 0.0


def asks_for_content(trainee: str) -> bool:
    """A question, or a turn with at least two content words; "Hm." or "Okay." leaves the reply free."""
    return is_question(trainee) or sum(w not in _STOP for w in _WORD.findall(trainee.lower())) >= 2


def relevance(embed: Embed, trainee: str, reply: str) -> float:
    """How well `reply` answers `trainee` (higher is better; compare with THRESHOLD). After a minimal
    encourager any reply answers, so it scores at least THRESHOLD."""
    score = similarity(embed, trainee, reply) + CUE_WEIGHT * turn_cue(trainee, reply)
    return score if asks_for_content(trainee) else max(score, THRESHOLD)


def is_relevant(embed: Embed, trainee: str, reply: str, threshold: float = THRESHOLD) -> bool:
    return relevance(embed, trainee, reply) >= threshold


class AnswerCheck:
    """Does a reply answer the turn? The encoder similarity above and the cross-encoder of `answer_model.py`,
    mixed: each is blind where the other sees. The similarity takes shared topic for an answer ("Regular
    unleaded's gone up" after "Do you drive regularly?"); the cross-encoder, trained on hand-written pairs whose
    answers seldom reuse the turn's words, learned to distrust shared words ("They hate it." scored as no answer
    to "How do your kids feel about the smoking?"). The weight and threshold are in the model's meta.json, chosen
    on the dev set, held-out written settings and held-out AnnoMI transcripts (`answer_train.choose_mix`)."""

    def __init__(self, embed: Embed, model):
        self.embed = embed
        self.model = model
        mix = model.meta["mix"]
        self.weight = float(mix["weight"])
        self.scale = float(mix["similarity_scale"])
        self.threshold = float(mix["threshold"])

    def scores(self, trainee: str, replies: list[str]) -> list[float]:
        """Higher answers better (compare with `threshold`); after a minimal encourager any reply answers."""
        if not replies:
            return []
        probs = self.model.probabilities(trainee, replies)
        mixed = [mix_scores(float(p), relevance(self.embed, trainee, reply), self.weight, self.scale)
                 for p, reply in zip(probs, replies, strict=True)]
        return mixed if asks_for_content(trainee) else [max(s, self.threshold) for s in mixed]


def mix_scores(probability: float, similarity_score: float, weight: float, scale: float) -> float:
    return weight * probability + (1 - weight) * min(1.0, max(0.0, similarity_score / scale))
