"""Text features shared by training and run time, so both compute them identically.

The analyzers below are what scikit-learn's TfidfVectorizer calls during training (passed as `analyzer`), and
what `model.py` calls at run time; the vocabulary and idf weights come from training.
"""

from __future__ import annotations

import math
import re

import numpy as np

_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_SPACE = re.compile(r"\s\s+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def word_ngrams(text: str) -> list[str]:
    """Lowercased words of two or more characters, as unigrams and bigrams."""
    tokens = _TOKEN.findall(text.lower())
    return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]


def char_ngrams(text: str) -> list[str]:
    """Character 2- to 5-grams inside word boundaries (each word padded with a space)."""
    grams: list[str] = []
    for word in _SPACE.sub(" ", text.lower()).split():
        padded = f" {word} "
        for n in range(2, 6):
            if len(padded) < n:
                break
            grams += [padded[i : i + n] for i in range(len(padded) - n + 1)]
    return grams


def last_sentence(text: str) -> str:
    """The utterance's last sentence: a question or reflection usually ends a counselor's turn."""
    parts = [p for p in _SENTENCE.split(text.strip()) if p]
    return parts[-1] if parts else ""


def shape_features(text: str) -> list[float]:
    """A few surface cues: ends with '?', number of '?', length, starts with a question word."""
    t = text.strip().lower()
    last = last_sentence(t)
    first_word = (re.findall(r"[a-z']+", last) or [""])[0]
    return [
        1.0 if t.endswith("?") else 0.0,
        min(t.count("?"), 3) / 3,
        min(len(t), 400) / 400,
        math.log1p(len(t.split())) / 5,
        1.0 if first_word in {"what", "how", "why", "tell", "where", "when", "which", "who"} else 0.0,
        1.0 if first_word in {"do", "does", "did", "is", "are", "was", "were", "have", "has", "can", "could",
                              "would", "will", "should", "am", "any"} else 0.0,
    ]


_FILLERS = {"so", "and", "um", "uh", "okay", "ok", "well", "yeah", "yes", "like", "now", "then", "but", "mm", "hmm",
            "mm-hmm", "right", "alright", "oh", "just", "i", "guess", "mean", "you", "know", "great", "good", "sure",
            "all"}
_WH = {"what", "how", "why", "where", "when", "which", "who", "whose", "whom"}
_AUX = {"do", "does", "did", "is", "are", "was", "were", "have", "has", "had", "can", "could", "would", "will",
        "should", "am", "may", "might", "shall", "any", "anything", "isn't", "aren't", "don't", "doesn't", "didn't",
        "won't", "wouldn't", "haven't", "hasn't", "can't", "couldn't", "shouldn't"}
_WORD = re.compile(r"[a-z][a-z'-]*")
_CLAUSE = re.compile(r"[,;:\u2014\u2013-]\s*")


def _question_sentence(text: str) -> str:
    """The last sentence that ends in '?' (else the last sentence): where a spoken question's form shows."""
    parts = [p for p in _SENTENCE.split(text.lower().replace("\u2019", "'").strip()) if p]
    asked = [p for p in parts if p.endswith("?")]
    return asked[-1] if asked else (parts[-1] if parts else "")


def _clause_heads(sentence: str) -> list[str]:
    """First word of each comma clause once fillers ("so, um, okay") are skipped."""
    heads = []
    for clause in _CLAUSE.split(sentence):
        words = _WORD.findall(clause)
        while words and words[0] in _FILLERS:
            words = words[1:]
        if words:
            heads.append(words[0])
    return heads


def question_features(text: str) -> list[float]:
    """Cues that separate open from closed questions in speech, where the question word often follows fillers
    or a lead-in clause: wh-word or auxiliary heads, tag questions, "how much/often", scaling questions."""
    s = _question_sentence(text)
    words = _WORD.findall(s)
    heads = _clause_heads(s) or [""]
    return [
        1.0 if heads[0] in _WH else 0.0,
        1.0 if heads[0] in _AUX else 0.0,
        1.0 if heads[-1] in _WH else 0.0,
        1.0 if heads[-1] in _AUX else 0.0,
        1.0 if any(w in _WH for w in words) else 0.0,
        1.0 if "tell me" in s or "talk about" in s or "describe" in s else 0.0,
        1.0 if re.search(r"\b(or|is that right|right\?|correct|yeah\?|okay\?|huh\?)", s) else 0.0,
        1.0 if re.search(r"\bhow (much|many|often|long|old|far)\b", s) else 0.0,
        1.0 if re.search(r"\b(scale|zero|one to ten|1 to 10|0 to 10|number)\b", s) else 0.0,
        1.0 if re.search(r"\b(else|other)\b", s) else 0.0,
        min(len(words), 30) / 30,
        1.0 if s.endswith("?") else 0.0,
    ]


ANALYZERS = {"word": word_ngrams, "char": char_ngrams}
# (name, analyzer, which text): the sparse blocks, in feature order.
BLOCKS = (
    ("cur_word", "word", "cur"),
    ("cur_char", "char", "cur"),
    ("last_word", "word", "last"),
    ("prev_word", "word", "prev"),
)


# The dense blocks (from the encoder and the cue functions above), in feature order after the sparse ones.
DENSE_BLOCKS = ("layers", "prev", "product", "shape", "question")


# The fine-tuned model reads the utterance paired with its context: the last words of the turn before it, after
# the last words of the turn before that ("earlier | prev"); TUNED_START stands in at a transcript's start. The
# pair is cut to TUNED_MAX_LEN tokens, the longer side first.
TUNED_START = "(start)"
TUNED_MAX_LEN = 128
PREV_WORDS, EARLIER_WORDS = 60, 30


def _tail(text: str, words: int) -> str:
    return " ".join((text or "").split()[-words:])


def tuned_pair(text: str, prev: str, earlier: str = "") -> tuple[str, str]:
    if not prev:
        return text or "", TUNED_START
    before = _tail(earlier, EARLIER_WORDS)
    return text or "", (before + " | " if before else "") + _tail(prev, PREV_WORDS)


def block_text(kind: str, cur: str, prev: str) -> str:
    return {"cur": cur, "prev": prev, "last": last_sentence(cur)}[kind]


def tfidf(grams: list[str], vocab: dict[str, int], idf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sparse (indices, values) of a sublinear-tf, idf-weighted, l2-normalised vector."""
    counts: dict[int, int] = {}
    for gram in grams:
        index = vocab.get(gram)
        if index is not None:
            counts[index] = counts.get(index, 0) + 1
    if not counts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    indices = np.fromiter(counts, dtype=np.int64, count=len(counts))
    values = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))) * idf[indices]
    values /= np.linalg.norm(values)
    return indices, values.astype(np.float32)
