"""`simtrainer train dearman-coder`: compose the labelled utterances, fit the sentence classifier on the
training scenarios, and write models/dearman-coder/ (labelled.csv, vocab.json, weights.npz)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from simtrainer.feedback.dearman.data import (
    HELD_OUT,
    SENTENCE_CLASSES,
    SKILLS,
    compose,
    load_sentences,
    sentence_rows,
)
from simtrainer.feedback.dearman.model import DearManModel
from simtrainer.feedback.mi.features import char_ngrams, word_ngrams

THRESHOLDS = (0.15, 0.2, 0.25, 0.3, 0.35)


def _fit(rows: list[tuple[str, str, str]]):
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    texts = [s for _, s, _ in rows]
    vectorizers = {
        "word": TfidfVectorizer(analyzer=word_ngrams, sublinear_tf=True, lowercase=False),
        "char": TfidfVectorizer(analyzer=char_ngrams, sublinear_tf=True, lowercase=False, min_df=2),
    }
    X = hstack([v.fit_transform(texts) for v in vectorizers.values()]).tocsr()
    clf = LogisticRegression(C=4.0, max_iter=5000, class_weight="balanced").fit(X, [label for *_, label in rows])
    return vectorizers, clf


def _write(out: Path, vectorizers, clf, meta: dict) -> None:
    order = [list(clf.classes_).index(c) for c in SENTENCE_CLASSES]
    vocab = {}
    arrays = {"coef": clf.coef_[order].astype(np.float32), "intercept": clf.intercept_[order].astype(np.float32)}
    for name, vec in vectorizers.items():
        terms = [""] * len(vec.vocabulary_)
        for term, i in vec.vocabulary_.items():
            terms[i] = term
        vocab[name] = terms
        arrays[f"idf_{name}"] = vec.idf_.astype(np.float32)
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    np.savez_compressed(out / "weights.npz", **arrays)
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


def _macro_f1(model, utterances: list[dict]) -> float:
    tp = dict.fromkeys(SKILLS, 0)
    fp = dict.fromkeys(SKILLS, 0)
    fn = dict.fromkeys(SKILLS, 0)
    for u in utterances:
        gold = set(u["skills"].split("|")) - {""}
        got = set(model.skills(u["utterance"]))
        for s in SKILLS:
            tp[s] += s in gold and s in got
            fp[s] += s not in gold and s in got
            fn[s] += s in gold and s not in got
    return sum(2 * tp[s] / (2 * tp[s] + fp[s] + fn[s]) if tp[s] + fp[s] + fn[s] else 0 for s in SKILLS) / len(SKILLS)


def choose_threshold(scenarios, utterances, work: Path) -> tuple[float, dict]:
    """Leave-one-scenario-out over the training scenarios (the held-out one is never looked at)."""
    train_names = [name for name in scenarios if name != HELD_OUT]
    scores: dict[float, list[float]] = {t: [] for t in THRESHOLDS}
    for held in train_names:
        rows = [r for r in sentence_rows(scenarios) if r[0] not in (held, HELD_OUT)]
        vectorizers, clf = _fit(rows)
        for t in THRESHOLDS:
            _write(work, vectorizers, clf, {"threshold": t})
            model = DearManModel(work)
            scores[t].append(_macro_f1(model, [u for u in utterances if u["scenario"] == held]))
    means = {t: round(sum(v) / len(v), 4) for t, v in scores.items()}
    return max(means, key=means.get), means


def train_dearman(out: Path) -> dict:
    import tempfile

    scenarios = load_sentences()
    utterances = compose(scenarios)
    with (out / "labelled.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["scenario", "split", "utterance", "skills"])
        writer.writeheader()
        writer.writerows(utterances)
    with (out / "heldout.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["scenario", "split", "utterance", "skills"])
        writer.writeheader()
        writer.writerows(u for u in utterances if u["split"] == "test")
    with tempfile.TemporaryDirectory() as tmp:
        threshold, cv = choose_threshold(scenarios, utterances, Path(tmp))
    rows = [r for r in sentence_rows(scenarios) if r[0] != HELD_OUT]
    vectorizers, clf = _fit(rows)
    meta = {"threshold": threshold, "threshold_cv_macro_f1": cv, "trained_on": sorted({r[0] for r in rows}),
            "held_out": HELD_OUT}
    _write(out, vectorizers, clf, meta)
    return {"sentences": len(rows), "utterances": len(utterances),
            "test_utterances": sum(u["split"] == "test" for u in utterances), **meta}
