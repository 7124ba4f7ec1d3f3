"""`simtrainer train ctrs-scorer`: the whole-session model from the hand-written, rated sessions
(models/ctrs-scorer/sessions-both-*.json), its ridge strength and embedding weight chosen by cross-validation
grouped by problem (each fold holds out every session about one problem); and the per-turn badge model from
lines.toml. Writes models/ctrs-scorer/ and records the data and CV figures in meta.json."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from simtrainer.feedback.ctrs.cues import CueDetector, fit_detectors, load_examples
from simtrainer.feedback.ctrs.data import ITEMS, folder, line_rows, load_lines, session_turns, training_sessions
from simtrainer.feedback.ctrs.features import NAMES, SIGNS, turn_cues
from simtrainer.feedback.ctrs.model import ITEM_CLASSES, line_features
from simtrainer.feedback.ctrs.session_model import _MASK, SessionModel, design
from simtrainer.feedback.mi.features import word_ngrams

ALPHAS = (3.0, 10.0, 30.0)
DEV_ALPHAS = (3.0, 10.0, 30.0)
EMB_WEIGHTS = (0.0, 5.0)
LINE_THRESHOLD = 0.1  # the per-turn badge cut-off (chosen on the old scripted sessions; badges no longer score)
COMPETENCE = 40


def _fit_lines(rows, fillers, encoder):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, Ridge

    texts = [r[0] for r in rows] + fillers
    vec = TfidfVectorizer(analyzer=word_ngrams, sublinear_tf=True, lowercase=False).fit(texts)
    vocab = {t: i for i, t in vec.vocabulary_.items()}
    terms = [vocab[i] for i in range(len(vocab))]
    index = {t: i for i, t in enumerate(terms)}
    X = np.stack([line_features(encoder, t, index, vec.idf_.astype(np.float32)) for t in texts])
    items = [r[1] for r in rows] + ["none"] * len(fillers)
    clf = LogisticRegression(C=4.0, max_iter=5000, class_weight="balanced").fit(X, items)
    order = [list(clf.classes_).index(c) for c in ITEM_CLASSES]
    reg = Ridge(alpha=1.0).fit(X[: len(rows)], [r[2] for r in rows])
    arrays = {"idf": vec.idf_.astype(np.float32), "item_coef": clf.coef_[order].astype(np.float32),
              "item_intercept": clf.intercept_[order].astype(np.float32),
              "level_coef": reg.coef_.astype(np.float32), "level_intercept": np.float32(reg.intercept_)}
    return terms, arrays


def fit_session(X: np.ndarray, E: np.ndarray, Y: np.ndarray, alpha: float, emb_weight: float,
                dev_alpha: float) -> dict:
    """A session level plus item deviations. The level (the mean item score) is a ridge regression on every
    standardised feature and the weighted embedding block; each item's deviation from it is a ridge regression
    on that item's own cues only (ITEM_CUES), so a lecture lowers understanding more than it lowers agenda.
    Cue coefficients keep the rubric's sign (SIGNS; non-negative least squares on the oriented features), so
    padding with filler or adding a lecture can never raise a score. Both parts are linear: one row per item."""
    from sklearn.linear_model import Ridge

    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale = np.where(scale > 1e-6, scale, 1.0)
    sign = np.array(SIGNS, dtype=np.float32)
    Z = (X - mean) / scale * sign
    k = Z.shape[1]
    full = np.hstack([Z, E * emb_weight, -E * emb_weight]) if emb_weight else Z  # +/- copies: a free sign
    level = Ridge(alpha=alpha, positive=True).fit(full, Y.mean(axis=1))
    cue_level = level.coef_[:k]
    emb = level.coef_[k:k + E.shape[1]] - level.coef_[k + E.shape[1]:] if emb_weight else np.zeros(0)
    coef = np.tile(np.concatenate([cue_level * sign, emb]), (Y.shape[1], 1))
    intercept = np.full(Y.shape[1], level.intercept_)
    for j in range(Y.shape[1]):
        cols = np.flatnonzero(_MASK[j])
        dev = Ridge(alpha=dev_alpha, positive=True).fit(Z[:, cols], Y[:, j] - Y.mean(axis=1))
        coef[j, cols] += dev.coef_ * sign[cols]
        intercept[j] += dev.intercept_
    return {"mean": mean.astype(np.float32), "scale": scale.astype(np.float32),
            "coef": coef.astype(np.float32), "intercept": intercept.astype(np.float32)}


def _meta(setting: tuple[float, float, float], dim: int, cues: dict | None = None) -> dict:
    alpha, emb_weight, dev_alpha = setting
    return {"features": list(NAMES), "alpha": alpha, "embedding_weight": emb_weight, "item_alpha": dev_alpha,
            "embedding_dim": dim, "cues": cues or {}}


def metrics(pred: list[dict[str, int]], sessions: list[dict]) -> dict:
    """Total-score r, competence (>= 40) agreement, per-item MAE and the spread of predicted totals."""
    true_t = [sum(s["scores"][i] for i in ITEMS) for s in sessions]
    pred_t = [sum(p[i] for i in ITEMS) for p in pred]
    per_item = {i: round(float(np.mean([abs(p[i] - s["scores"][i]) for p, s in zip(pred, sessions, strict=True)])), 3)
                for i in ITEMS}
    r = float(np.corrcoef(true_t, pred_t)[0, 1]) if len(set(pred_t)) > 1 and len(set(true_t)) > 1 else 0.0
    agree = sum((p >= COMPETENCE) == (t >= COMPETENCE) for p, t in zip(pred_t, true_t, strict=True))
    return {"n": len(sessions), "total_r": round(r, 4), "competence_agreement": f"{agree}/{len(sessions)}",
            "competence_accuracy": round(agree / len(sessions), 4),
            "item_mae": round(float(np.mean(list(per_item.values()))), 4), "per_item_mae": per_item,
            "total_mae": round(float(np.mean([abs(p - t) for p, t in zip(pred_t, true_t, strict=True)])), 3),
            "predicted_total_range": [min(pred_t), max(pred_t)], "rated_total_range": [min(true_t), max(true_t)]}


def _predict(arrays: dict, meta: dict, X: np.ndarray, E: np.ndarray) -> list[dict[str, int]]:
    model = SessionModel(arrays, meta, None)
    k = len(NAMES)
    raw = model.intercept + ((X - model.mean) / model.scale) @ model.coef[:, :k].T
    if model.emb_weight:
        raw = raw + (E * model.emb_weight) @ model.coef[:, k:].T
    return [{i: int(np.clip(round(float(v)), 0, 6)) for i, v in zip(ITEMS, row, strict=True)} for row in raw]


def cross_validate(sessions: list[dict], X: np.ndarray, E: np.ndarray, dim: int) -> dict:
    """Leave-one-problem-out predictions for every (alpha, embedding weight); figures per setting."""
    Y = np.array([[s["scores"][i] for i in ITEMS] for s in sessions], dtype=np.float32)
    groups = [s.get("problem", s["id"]) for s in sessions]
    results = {}
    settings = [(a, w, d) for w in (EMB_WEIGHTS if dim else (0.0,)) for a in ALPHAS for d in DEV_ALPHAS]
    for setting in settings:
        pred: list[dict[str, int] | None] = [None] * len(sessions)
        for g in dict.fromkeys(groups):
            test = [i for i, x in enumerate(groups) if x == g]
            train = [i for i, x in enumerate(groups) if x != g]
            arrays = fit_session(X[train], E[train], Y[train], *setting)
            for i, p in zip(test, _predict(arrays, _meta(setting, dim), X[test], E[test]), strict=True):
                pred[i] = p
        results[setting] = metrics(pred, sessions)
    return results


def train_ctrs(out: Path, encoder: Callable | None = None) -> dict:
    from simtrainer.feedback.mi import load_mi_coder

    encoder = encoder or load_mi_coder().model.encoder
    sessions = training_sessions()
    dim = len(encoder("ok"))
    cue_arrays, cue_names = fit_detectors(load_examples(folder() / "cues.toml"), encoder)
    detector = CueDetector(cue_arrays, cue_names, encoder)
    designs = [design(session_turns(s), lambda sp, t: turn_cues(sp, t, detector), encoder, dim) for s in sessions]
    X = np.stack([d[0] for d in designs])
    E = np.stack([d[2] for d in designs])
    Y = np.array([[s["scores"][i] for i in ITEMS] for s in sessions], dtype=np.float32)
    cv = cross_validate(sessions, X, E, dim)
    setting, best = min(cv.items(), key=lambda kv: (kv[1]["item_mae"], -kv[1]["total_r"]))
    arrays = {**fit_session(X, E, Y, *setting), **cue_arrays}
    lines = load_lines()
    terms, line_arrays = _fit_lines(line_rows(lines["a"]), lines["fillers"]["a"], encoder)
    totals = [int(sum(s["scores"].values())) for s in sessions]
    meta = {
        "threshold": LINE_THRESHOLD,
        "session_model": _meta(setting, dim, cue_names),
        "data": {"sessions": len(sessions), "problems": len({s["problem"] for s in sessions}),
                 "turns": sum(len(s["turns"]) for s in sessions),
                 "turns_per_session": [min(len(s["turns"]) for s in sessions), max(len(s["turns"]) for s in sessions)],
                 "rated_totals": [min(totals), max(totals)],
                 "files": sorted(p.name for p in folder().glob("sessions-both-*.json"))},
        "cv": {"scheme": "leave one problem out", "chosen": best,
               "grid": {f"alpha={a:g} embedding_weight={w:g} item_alpha={d:g}": {
                   k: v[k] for k in ("total_r", "item_mae", "competence_accuracy")} for (a, w, d), v in cv.items()}},
        "lines_pool": "a",
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.json").write_text(json.dumps(terms, ensure_ascii=False))
    np.savez_compressed(out / "weights.npz", **line_arrays)
    np.savez_compressed(out / "session.npz", **arrays)
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta
