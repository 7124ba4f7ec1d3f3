"""Sentence classifier for DEAR MAN skills: TF-IDF word and character n-grams -> logistic regression (NumPy at
run time). A turn shows a skill when one of its sentences is classified as that skill; that sentence is the
evidence. "Appear confident" is an assert with no hedging anywhere in the turn."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from simtrainer.errors import UserError
from simtrainer.feedback.dearman.data import HEDGE, SENTENCE_CLASSES, split_sentences
from simtrainer.feedback.mi.features import char_ngrams, tfidf, word_ngrams

BLOCKS = (("word", word_ngrams), ("char", char_ngrams))


class DearManModel:
    def __init__(self, folder: Path):
        try:
            vocab = json.loads((folder / "vocab.json").read_text())
            # the sentence-probability cut-off, chosen by leave-one-scenario-out cross-validation in training
            self.threshold = float(json.loads((folder / "meta.json").read_text())["threshold"])
            with np.load(folder / "weights.npz", allow_pickle=False) as weights:
                self.idf = {name: weights[f"idf_{name}"] for name, _ in BLOCKS}
                self.coef, self.intercept = weights["coef"], weights["intercept"]
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            raise UserError(f"The DEAR MAN coder model is missing or corrupt ({exc}).", where=str(folder),
                            fix="Reinstall simtrainer, or rebuild it with `simtrainer train dearman-coder`.") from None
        self.vocab = {name: {t: i for i, t in enumerate(vocab[name])} for name, _ in BLOCKS}
        self.offsets = {"word": 0, "char": len(self.idf["word"])}

    def sentence_probs(self, sentence: str) -> dict[str, float]:
        z = self.intercept.astype(np.float64).copy()
        for name, analyzer in BLOCKS:
            idx, val = tfidf(analyzer(sentence), self.vocab[name], self.idf[name])
            if len(idx):
                z += self.coef[:, idx + self.offsets[name]] @ val
        p = np.exp(z - z.max())
        p /= p.sum()
        return dict(zip(SENTENCE_CLASSES, map(float, p), strict=True))

    def skills(self, text: str) -> dict[str, tuple[float, str]]:
        """{skill: (confidence, evidence sentence)} for one trainee turn."""
        found: dict[str, tuple[float, str]] = {}
        asserts: list[tuple[float, str]] = []
        for start, end in split_sentences(text):
            sentence = text[start:end]
            probs = self.sentence_probs(sentence)
            label = max(probs, key=probs.get)
            if label != "none" and probs[label] >= self.threshold:
                if label not in found or probs[label] > found[label][0]:
                    found[label] = (probs[label], sentence)
                if label == "assert":
                    asserts.append((probs[label], sentence))
        # confident: the request is made plainly at least once and never hedged
        if asserts and not any(HEDGE.search(sentence) for _, sentence in asserts):
            found["appear_confident"] = max(asserts)
        return found
