"""The whole-session CTRS model: per item a ridge regression on the session's features (cue rates from both
speakers, and optionally the mean frozen-encoder embedding of each speaker's content turns), clipped to 0-6.

Every cue feature is a sum of per-turn shares, so what each turn added to or took from an item through that
item's own cues is exact: the turns that raised it most are its evidence, those that lowered it its "against".
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from simtrainer.errors import UserError
from simtrainer.feedback.ctrs.cues import CueDetector
from simtrainer.feedback.ctrs.data import ITEMS
from simtrainer.feedback.ctrs.features import NAMES, PRIOR, is_filler, session_features, turn_cues

EVIDENCE_MIN = 0.15  # a turn must move an item by this much (points of 0-6) to be named as evidence
EVIDENCE_MAX = 3
CACHE = 4096  # turns whose cues are kept
#: The cues that speak to each item (rubrics/ctrs.toml). Scores use every feature (raters' items move together);
#: evidence names the turns that moved an item through its own cues, so it reads as the rubric does.
ITEM_CUES = {
    "agenda": ("agenda",),
    "feedback": ("feedback",),
    "understanding": ("reflection", "warmth", "lecture", "reassure", "hostile", "long", "understood", "pushback"),
    "interpersonal_effectiveness": ("warmth", "hostile", "reassure", "chat", "pushback"),
    "collaboration": ("collaboration", "lecture", "long", "commitment", "pushback"),
    "pacing": ("agenda", "feedback", "homework", "chat", "filler"),
    "guided_discovery": ("discovery", "cognition", "lecture", "reassure", "long", "insight"),
    "focus_on_key_cognitions": ("cognition", "rating", "chat"),
    "strategy_for_change": ("plan", "technique", "homework"),
    "application_of_cb_techniques": ("technique", "rating", "discovery"),
    "homework": ("homework", "obstacles", "commitment"),
}


def design(turns: list[tuple[str, str]], cue_of, encoder: Callable[[str], np.ndarray] | None, dim: int):
    """(cue features, cue shares, embedding block, embedding shares per turn) for one session."""
    x, shares = session_features(turns, cue_of)
    if encoder is None or not dim:
        return x, shares, np.zeros(0, np.float32), np.zeros((len(turns), 0), np.float32)
    per = np.zeros((len(turns), 2 * dim), dtype=np.float32)
    for speaker, offset in (("therapist", 0), ("patient", dim)):
        mine = [i for i, (s, t) in enumerate(turns) if s == speaker and not is_filler(t)]
        for i in mine:
            per[i, offset:offset + dim] = encoder(turns[i][1]) / (len(mine) + PRIOR)
    return x, shares, per.sum(axis=0), per


def _uses(name: str, cues: tuple[str, ...]) -> bool:
    parts = name.split("_")
    return any(c in parts for c in cues)


_MASK = np.array([[_uses(n, ITEM_CUES[i]) for n in NAMES] for i in ITEMS], dtype=np.float32)


class SessionModel:
    def __init__(self, arrays: dict[str, np.ndarray], meta: dict, encoder: Callable[[str], np.ndarray] | None):
        """`encoder` None: features given directly (training); otherwise turns are read with the detectors."""
        self.mean, self.scale = arrays["mean"], arrays["scale"]
        self.coef, self.intercept = arrays["coef"], arrays["intercept"]
        self.emb_weight = float(meta["embedding_weight"])
        self.dim = int(meta["embedding_dim"]) if self.emb_weight else 0
        self.encoder = encoder if self.dim else None
        if list(meta["features"]) != list(NAMES):
            raise ValueError("features changed since training")
        self.detector = CueDetector(arrays, meta["cues"], encoder) if encoder is not None else None
        self._cues: OrderedDict[tuple[str, str], dict[str, float]] = OrderedDict()

    def forget(self, speaker: str, text: str) -> None:
        """Drop a turn's cues (benchmarks time the uncached path a new turn takes)."""
        self._cues.pop((speaker, text), None)

    def cue_of(self, speaker: str, text: str) -> dict[str, float]:
        """A turn's cues, cached: the live estimate re-reads the whole session after every turn."""
        key = (speaker, text)
        hit = self._cues.get(key)
        if hit is None:
            hit = self._cues[key] = turn_cues(speaker, text, self.detector)
            if len(self._cues) > CACHE:
                self._cues.popitem(last=False)
        return hit

    @classmethod
    def load(cls, folder: Path, encoder) -> SessionModel:
        try:
            meta = json.loads((folder / "meta.json").read_text())["session_model"]
            with np.load(folder / "session.npz", allow_pickle=False) as w:
                arrays = {k: w[k] for k in w.files}
            model = cls(arrays, meta, encoder)
        except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
            raise UserError(f"The CTRS session model is missing, corrupt or out of date ({exc}).", where=str(folder),
                            fix="Reinstall simtrainer, or rebuild it with `simtrainer train ctrs-scorer`.") from None
        if model.dim and encoder is not None and len(encoder("ok")) != model.dim:
            raise UserError("The CTRS session model was trained with another sentence encoder.", where=str(folder),
                            fix="Rebuild it with `simtrainer train ctrs-scorer`.")
        return model

    def contributions(self, turns: list[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray]:
        """(raw item predictions before clipping, per-turn contributions through each item's own cues)."""
        x, shares, e, _ = design(turns, self.cue_of, self.encoder, self.dim)
        k = len(NAMES)
        w_cue = self.coef[:, :k] / self.scale  # items x features, on the unscaled features
        raw = self.intercept - w_cue @ self.mean + w_cue @ x
        if self.dim:
            raw = raw + (self.coef[:, k:] * self.emb_weight) @ e
        return raw, shares @ (w_cue * _MASK).T

    def score(self, turns: list[tuple[str, str]]) -> dict[str, dict]:
        """{item: {"score": 0-6, "evidence": [turn numbers that raised it], "against": [that lowered it]}}."""
        raw, per_turn = self.contributions(turns)
        out = {}
        for j, item in enumerate(ITEMS):
            col = per_turn[:, j] if len(turns) else np.zeros(0)
            up = [int(i) + 1 for i in np.argsort(-col) if col[i] >= EVIDENCE_MIN][:EVIDENCE_MAX]
            down = [int(i) + 1 for i in np.argsort(col) if col[i] <= -EVIDENCE_MIN][:EVIDENCE_MAX]
            out[item] = {"score": int(np.clip(round(float(raw[j])), 0, 6)), "evidence": sorted(up),
                         "against": sorted(down)}
        return out
