"""Per line: which CTRS item it serves (or none) and at what level of skill, from the MI coder's sentence
embedding and TF-IDF n-grams (NumPy at run time). These are the live badges on trainee turns; the item scores
come from the whole-session model (session_model.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from simtrainer.errors import UserError
from simtrainer.feedback.ctrs.data import ITEMS
from simtrainer.feedback.mi.features import tfidf, word_ngrams

ITEM_CLASSES = (*ITEMS, "none")


def line_features(encoder, text: str, vocab: dict[str, int], idf: np.ndarray) -> np.ndarray:
    dense = np.concatenate([encoder(text), [min(len(text.split()), 40) / 40]])
    sparse = np.zeros(len(idf), dtype=np.float32)
    idx, val = tfidf(word_ngrams(text), vocab, idf)
    sparse[idx] = val
    return np.concatenate([sparse, dense]).astype(np.float32)


class CTRSModel:
    def __init__(self, folder: Path, encoder):
        try:
            meta = json.loads((folder / "meta.json").read_text())
            vocab = json.loads((folder / "vocab.json").read_text())
            with np.load(folder / "weights.npz", allow_pickle=False) as w:
                self.idf, self.item_coef, self.item_b = w["idf"], w["item_coef"], w["item_intercept"]
                self.level_coef, self.level_b = w["level_coef"], float(w["level_intercept"])
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            raise UserError(f"The CTRS scorer model is missing or corrupt ({exc}).", where=str(folder),
                            fix="Reinstall simtrainer, or rebuild it with `simtrainer train ctrs-scorer`.") from None
        self.threshold = float(meta["threshold"])
        self.vocab = {t: i for i, t in enumerate(vocab)}
        self.encoder = encoder

    def line(self, text: str) -> tuple[str, float, int]:
        """(item or "none", confidence, level 1-6) for one trainee line."""
        x = line_features(self.encoder, text, self.vocab, self.idf)
        z = self.item_coef @ x + self.item_b
        p = np.exp(z - z.max())
        p /= p.sum()
        k = int(np.argmax(p))
        level = int(np.clip(round(float(self.level_coef @ x + self.level_b)), 1, 6))
        item = ITEM_CLASSES[k] if p[k] >= self.threshold else "none"
        return item, float(p[k]), level
