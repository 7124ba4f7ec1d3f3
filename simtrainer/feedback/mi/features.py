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


ANALYZERS = {"word": word_ngrams, "char": char_ngrams}
# (name, analyzer, which text): the sparse blocks, in feature order.
BLOCKS = (
    ("cur_word", "word", "cur"),
    ("cur_char", "char", "cur"),
    ("last_word", "word", "last"),
    ("prev_word", "word", "prev"),
)


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
