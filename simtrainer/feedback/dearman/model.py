"""Multi-label DEAR MAN classifier, NumPy at run time: one logistic output per skill and per flag (threat, insult,
ultimatum) over the whole turn. Features: the frozen all-MiniLM-L6-v2 encoder's mean-pooled output at its last layer
and at a middle one, which keeps more of the wording (the MI coder's encoder, shared with it, so a turn both
coders see is embedded once), TF-IDF word uni- and bigrams (with "I", "you" and
contractions kept: they carry who the sentence is about), and two surface cues (hedging, a question mark).
Each output has its own cut-off, chosen by cross-validation grouped by situation in training. The evidence for a
code is the sentence whose words push that output furthest."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simtrainer.errors import UserError
from simtrainer.feedback.dearman.data import FLAGS, HEDGE, SKILLS, split_sentences
from simtrainer.feedback.mi.features import tfidf

if TYPE_CHECKING:
    from simtrainer.feedback.mi.model import Encoder

OUTPUTS = SKILLS + FLAGS
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def word_grams(text: str) -> list[str]:
    """Lowercased words (one letter ones too) as unigrams and bigrams; curly apostrophes read as straight."""
    tokens = _WORD.findall(text.lower().replace("\u2019", "'"))
    return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]


def cues(text: str) -> np.ndarray:
    """Surface cues the embedding blurs: a hedge or apology anywhere, and a question."""
    return np.array([bool(HEDGE.search(text)), "?" in text], dtype=np.float32)


def dense(encoder: Encoder, text: str, layers: list[int]) -> np.ndarray:
    """The dense block: the pooled output of each of `layers` (meta.json), then the cues."""
    pooled = encoder.layers(text)
    return np.concatenate([*(pooled[k] for k in layers), cues(text)])


class DearManModel:
    def __init__(self, folder: Path, encoder: Encoder):
        try:
            vocab = json.loads((folder / "vocab.json").read_text())["word"]
            meta = json.loads((folder / "meta.json").read_text())
            self.thresholds = np.array([float(meta["thresholds"][name]) for name in OUTPUTS])
            self.layers = [int(k) for k in meta["layers"]]
            with np.load(folder / "weights.npz", allow_pickle=False) as weights:
                self.idf, coef, self.intercept = weights["idf_word"], weights["coef"], weights["intercept"]
        except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
            raise UserError(f"The DEAR MAN coder model is missing or corrupt ({exc}).", where=str(folder),
                            fix="Reinstall simtrainer, or rebuild it with `simtrainer train dearman-coder`.") from None
        if coef.shape != (len(OUTPUTS), len(vocab) + len(self.layers) * encoder.dim + 2):
            raise UserError(f"The DEAR MAN coder weights do not fit its vocabulary and encoder ({coef.shape}).",
                            where=str(folder), fix="Rebuild it with `simtrainer train dearman-coder`.")
        self.encoder = encoder
        self.vocab = {term: i for i, term in enumerate(vocab)}
        # contiguous blocks: a strided view makes every product slower
        self.word_coef = np.ascontiguousarray(coef[:, : len(vocab)])
        self.dense_coef = np.ascontiguousarray(coef[:, len(vocab) :])

    def _words(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        return tfidf(word_grams(text), self.vocab, self.idf)

    def probabilities(self, text: str) -> np.ndarray:
        """P(output) for every name in OUTPUTS, for one turn."""
        z = self.intercept.astype(np.float64) + self.dense_coef @ dense(self.encoder, text, self.layers)
        idx, val = self._words(text)
        if len(idx):
            z += self.word_coef[:, idx] @ val
        return 1.0 / (1.0 + np.exp(-z))

    def codes(self, text: str) -> dict[str, tuple[float, str]]:
        """{skill or flag: (probability, evidence sentence)} for the outputs over their cut-offs."""
        p = self.probabilities(text)
        on = [i for i in range(len(OUTPUTS)) if p[i] >= self.thresholds[i]]
        if not on:
            return {}
        spans = split_sentences(text) or [(0, len(text))]
        sentences = [text[a:b] for a, b in spans]
        if len(sentences) == 1:
            return {OUTPUTS[i]: (float(p[i]), sentences[0]) for i in on}
        pushes = []
        for sentence in sentences:
            idx, val = self._words(sentence)
            pushes.append(self.word_coef[on][:, idx] @ val if len(idx) else np.zeros(len(on)))
        best = np.argmax(np.array(pushes), axis=0)
        return {OUTPUTS[i]: (float(p[i]), sentences[best[k]]) for k, i in enumerate(on)}
