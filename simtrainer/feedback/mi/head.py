"""Learned heads over the frozen encoder: the 11 MITI codes of a counselor line, and the talk type of a client line.

A head is one linear layer (multinomial logistic regression, trained by `train_heads.py`) over: every layer of
the frozen all-MiniLM-L6-v2 encoder for the line, the sentence embedding of the turn before it and their
product, word and character n-grams of the line, a few surface and question cues, and which phrase rules fire
(`rules.py`; a rule is one feature among many, never the decision). It runs with numpy only, reusing the
encoder the AnnoMI model already ran (its embeddings are cached by text), so it adds well under a millisecond.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from simtrainer.feedback.mi.features import ANALYZERS, question_features, shape_features, tfidf
from simtrainer.feedback.mi.rules import PERMISSION, change_phrase, rule_codes, sustain_phrase

CODES = ("Q", "SR", "CR", "GI", "PERSUADE", "PWP", "AF", "SEEK", "AUTO", "CONFRONT", "NEUTRAL")
TALK = ("change", "neutral", "sustain")
RULE_CODES = ("AF", "SEEK", "AUTO", "CONFRONT", "PERSUADE", "PWP")
# The sparse blocks every head reads: n-grams of the line itself.
SPARSE = (("word", "word"), ("char", "char"))


def rule_features(text: str) -> list[float]:
    """Which counselor-code rules fire, and whether the line asks or grants permission."""
    fired = {code for code, _ in rule_codes(text)}
    return [1.0 if code in fired else 0.0 for code in RULE_CODES] + [1.0 if PERMISSION.search(text) else 0.0]


def talk_rule_features(text: str) -> list[float]:
    """Whether the plain sustain-talk and change-talk rules fire."""
    return [1.0 if sustain_phrase(text) else 0.0, 1.0 if change_phrase(text) else 0.0]


def dense_blocks(layers: np.ndarray, e_prev: np.ndarray, cur: str) -> dict[str, np.ndarray]:
    """Every dense block a head may read, by name, from the line's encoder layers and the previous turn's
    sentence embedding."""
    return {
        "layers": layers.reshape(-1),
        "last": layers[-1],
        "mid": layers[len(layers) // 2],
        "prev": e_prev,
        "product": layers[-1] * e_prev,
        "shape": np.array(shape_features(cur), dtype=np.float32),
        "question": np.array(question_features(cur), dtype=np.float32),
        "rules": np.array(rule_features(cur), dtype=np.float32),
        "talk_rules": np.array(talk_rule_features(cur), dtype=np.float32),
    }


class HeadError(Exception):
    """A head's files are missing or do not fit together."""


class LinearHead:
    """One trained head: `<name>.json` (labels, dense blocks, n-gram vocabularies, measured figures) and
    `<name>.npz` (idf per n-gram block, coefficients, intercept)."""

    def __init__(self, folder: Path, name: str):
        try:
            spec: dict[str, Any] = json.loads((folder / f"{name}.json").read_text())
            with np.load(folder / f"{name}.npz", allow_pickle=False) as arrays:
                weights = {key: arrays[key] for key in arrays.files}
            self.labels: tuple[str, ...] = tuple(spec["labels"])
            self.dense_names: tuple[str, ...] = tuple(spec["dense"])
            self.scale: dict[str, float] = {k: float(v) for k, v in spec.get("scale", {}).items()}
            self.vocab = {block: {term: i for i, term in enumerate(spec["vocab"][block])} for block, _ in SPARSE}
            self.idf = {block: weights[f"idf_{block}"] for block, _ in SPARSE}
            coef, self.intercept = weights["coef"], weights["intercept"]
        except (OSError, ValueError, KeyError, json.JSONDecodeError, zipfile.BadZipFile) as exc:
            raise HeadError(f"{name}: {str(exc)[:120]}") from None
        self.meta: dict[str, Any] = spec.get("meta", {})
        self.threshold = float(self.meta.get("uncertain_below", 0.0))
        offsets, start = {}, 0
        for block, _ in SPARSE:
            offsets[block] = start
            start += len(self.idf[block])
        self.offsets = offsets
        if coef.shape != (len(self.labels), start + int(spec["dense_size"])):
            raise HeadError(f"{name}: coefficients of shape {coef.shape} do not fit the vocabularies")
        self.sparse_coef = {block: np.ascontiguousarray(coef[:, offsets[block]:offsets[block] + len(self.idf[block])])
                            for block, _ in SPARSE}
        self.dense_coef = np.ascontiguousarray(coef[:, start:])

    def dense(self, blocks: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([blocks[name] * self.scale.get(name, 1.0) for name in self.dense_names])

    def logits(self, cur: str, blocks: dict[str, np.ndarray]) -> np.ndarray:
        z = self.intercept + self.dense_coef @ self.dense(blocks)
        for block, analyzer in SPARSE:
            indices, values = tfidf(ANALYZERS[analyzer](cur), self.vocab[block], self.idf[block])
            if len(indices):
                z = z + self.sparse_coef[block][:, indices] @ values
        return z

    def probabilities(self, cur: str, blocks: dict[str, np.ndarray]) -> dict[str, float]:
        z = self.logits(cur, blocks)
        e = np.exp(z - z.max())
        return dict(zip(self.labels, map(float, e / e.sum()), strict=True))
