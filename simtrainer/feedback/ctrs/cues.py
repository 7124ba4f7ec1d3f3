"""Per-sentence cue detectors: for each cue of features.py, a logistic regression on the frozen sentence
embedding, trained on the example sentences of models/ctrs-scorer/cues.toml. They find a cue in wording the
hand-written patterns do not list ("I'd propose we spend today on..." is agenda-setting too)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path

import numpy as np

SENTENCE = re.compile(r"(?<=[.!?])\s+")
SPEAKERS = ("therapist", "patient")


def load_examples(path: Path) -> dict[str, dict[str, list[str]]]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def sentences(text: str) -> list[str]:
    return [s for s in SENTENCE.split(text.strip()) if s] or [text]


class CueDetector:
    def __init__(self, arrays: dict[str, np.ndarray], names: dict[str, list[str]],
                 encoder: Callable[[str], np.ndarray]):
        self.names = names
        self.coef = {s: arrays[f"cue_{s}_coef"] for s in SPEAKERS}
        self.intercept = {s: arrays[f"cue_{s}_intercept"] for s in SPEAKERS}
        self.encoder = encoder

    def __call__(self, speaker: str, text: str) -> dict[str, float]:
        """Per cue, how surely some sentence of the turn shows it: 0 below even odds, up to 1."""
        emb = np.stack([self.encoder(s) for s in sentences(text)])
        p = 1.0 / (1.0 + np.exp(-(emb @ self.coef[speaker].T + self.intercept[speaker])))
        sure = np.clip((p.max(axis=0) - 0.5) * 2.0, 0.0, 1.0)
        return dict(zip(self.names[speaker], sure.tolist(), strict=True))


def fit_detectors(examples: dict[str, dict[str, list[str]]], encoder) -> tuple[dict[str, np.ndarray], dict]:
    """One-vs-rest logistic regressions per speaker; "other" sentences are negatives for every cue."""
    from sklearn.linear_model import LogisticRegression

    arrays, names = {}, {}
    for speaker in SPEAKERS:
        pools = examples[speaker]
        cues = [c for c in pools if c != "other"]
        texts = [t for c in pools for t in pools[c]]
        labels = [c for c in pools for _ in pools[c]]
        X = np.stack([encoder(t) for t in texts])
        coefs, intercepts = [], []
        for cue in cues:
            y = np.array([lab == cue for lab in labels])
            clf = LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000).fit(X, y)
            coefs.append(clf.coef_[0])
            intercepts.append(clf.intercept_[0])
        arrays[f"cue_{speaker}_coef"] = np.array(coefs, dtype=np.float32)
        arrays[f"cue_{speaker}_intercept"] = np.array(intercepts, dtype=np.float32)
        names[speaker] = cues
    return arrays, names
