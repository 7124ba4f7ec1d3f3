"""Run the MI coder with numpy and onnxruntime: no torch, no scikit-learn at run time.

Per utterance: one pass of the int8 all-MiniLM-L6-v2 encoder (each layer's pooled output), TF-IDF vectors of
the utterance, its last sentence and the previous turn, and a few surface cues; then one linear layer per task
(therapist behaviour, reflection and question subtypes, input subtype, client talk type), each trained on the
feature blocks that cross-validation found useful for it (the others carry zero weights). A second pass, of
the encoder fine-tuned on AnnoMI (`tune.py`) over the utterance paired with the two turns before it, gives its own
probabilities; the two are mixed per task (`tuned_weight` in meta.json, chosen by cross-validation), since
they err differently. `predict_many` and the coder then apply the session prior (`tendency.py`).
Frozen embeddings are cached by text, so the patient's reply, embedded when it is coded, is free as the next
turn's context.
"""

from __future__ import annotations

import json
import zipfile
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from simtrainer.errors import UserError
from simtrainer.feedback.mi.annomi import Utterance
from simtrainer.feedback.mi.features import (
    ANALYZERS,
    BLOCKS,
    DENSE_BLOCKS,
    TUNED_MAX_LEN,
    block_text,
    question_features,
    shape_features,
    tfidf,
    tuned_pair,
)
from simtrainer.feedback.mi.tendency import tendencies

MAX_LEN = 128
FILES = ("encoder.onnx", "tuned.onnx", "tokenizer.json", "meta.json", "vocab.json", "weights.npz")
THERAPIST_TASKS = ("therapist_behaviour", "reflection", "question", "input")


def _broken(folder: Path, why: str) -> UserError:
    return UserError(
        f"The MI coder model is missing or corrupt ({why}).",
        where=str(folder),
        fix="Reinstall simtrainer, or rebuild it with `simtrainer train mi-coder` (needs the [train] extra).",
    )


def _load(folder: Path, onnx_name: str, max_len: int, threads: int):
    """The shared tokenizer (truncating at `max_len`, unpadded) and one ONNX session on the CPU."""
    import onnxruntime
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception as exc:  # tokenizers raises a bare Exception on a bad file
        raise _broken(folder, f"tokenizer.json: {exc}") from None
    tokenizer.enable_truncation(max_length=max_len)
    tokenizer.no_padding()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        session = onnxruntime.InferenceSession(str(folder / onnx_name), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail / InvalidProtobuf types
        raise _broken(folder, f"{onnx_name}: {str(exc)[:120]}") from None
    return tokenizer, session


class Encoder:
    """all-MiniLM-L6-v2 (int8 ONNX): text -> the mean-pooled, unit-length output of each of its 7 layers
    (embeddings + 6 transformer blocks). The last one is the usual sentence embedding; the lower ones keep
    more of the wording (question form, hedges) that the coder's subtypes turn on."""

    def __init__(self, folder: Path, *, threads: int = 1, cache_size: int = 256):
        self.tokenizer, self.session = _load(folder, "encoder.onnx", MAX_LEN, threads)
        shape = self.session.get_outputs()[0].shape
        if len(shape) != 3:
            raise _broken(folder, "encoder.onnx is an older single-output export")
        self.layers_n, self.dim = int(shape[1]), int(shape[2])
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def forget(self, text: str) -> None:
        """Drop `text` from the cache (benchmarks time the uncached path a new trainee line takes)."""
        self._cache.pop(text, None)

    def __call__(self, text: str) -> np.ndarray:
        """The sentence embedding (last layer)."""
        return self.layers(text)[-1]

    def layers(self, text: str) -> np.ndarray:
        """(layers, dim): every layer's unit-length mean-pooled output."""
        if not text:
            return np.zeros((self.layers_n, self.dim), dtype=np.float32)
        hit = self._cache.get(text)
        if hit is not None:
            self._cache.move_to_end(text)
            return hit
        enc = self.tokenizer.encode(text)
        ids = np.array([enc.ids], dtype=np.int64)
        mask = np.array([enc.attention_mask], dtype=np.int64)
        vector = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0][0].astype(np.float32)
        self._cache[text] = vector
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return vector


class TunedModel:
    """all-MiniLM-L6-v2 fine-tuned on AnnoMI (int8 ONNX): (utterance, the two turns before it) -> logits per task."""

    def __init__(self, folder: Path, *, threads: int = 1):
        self.tokenizer, self.session = _load(folder, "tuned.onnx", TUNED_MAX_LEN, threads)
        self.outputs = [o.name for o in self.session.get_outputs()]

    def logits(self, text: str, prev: str, earlier: str = "") -> dict[str, np.ndarray]:
        enc = self.tokenizer.encode(*tuned_pair(text, prev, earlier))
        feeds = {
            "input_ids": np.array([enc.ids], dtype=np.int64),
            "attention_mask": np.array([enc.attention_mask], dtype=np.int64),
            "token_type_ids": np.array([enc.type_ids], dtype=np.int64),
        }
        return {name: z[0] for name, z in zip(self.outputs, self.session.run(None, feeds), strict=True)}


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def dense_blocks(encoder: Encoder, cur: str, prev: str) -> dict[str, np.ndarray]:
    """The dense feature blocks of one utterance, by name (see DENSE_BLOCKS for their order)."""
    layers = encoder.layers(cur)
    e_prev = encoder(prev)
    return {
        "layers": layers.reshape(-1),
        "prev": e_prev,
        "product": layers[-1] * e_prev,
        "shape": np.array(shape_features(cur), dtype=np.float32),
        "question": np.array(question_features(cur), dtype=np.float32),
    }


def dense_features(encoder: Encoder, cur: str, prev: str) -> np.ndarray:
    blocks = dense_blocks(encoder, cur, prev)
    return np.concatenate([blocks[name] for name in DENSE_BLOCKS])


class MICodeModel:
    """The trained classifiers behind the MI coder.

    Each ONNX session runs on one thread and the fine-tuned pass runs beside the frozen one: for inputs of a few
    dozen tokens that is faster than two threads inside each session (measured on two cores: p50 / p95 6.4 /
    8.1 ms against 15.6 / 23.0 ms one after the other on two threads each)."""

    def __init__(self, folder: Path, *, threads: int = 1):
        for name in FILES:
            if not (folder / name).is_file():
                raise _broken(folder, f"{name} not found")
        try:
            self.meta: dict[str, Any] = json.loads((folder / "meta.json").read_text())
            self.tasks: dict[str, list[str]] = self.meta["tasks"]
            vocab_lists: dict[str, list[str]] = json.loads((folder / "vocab.json").read_text())
        except (json.JSONDecodeError, KeyError) as exc:
            raise _broken(folder, f"meta.json or vocab.json: {exc}") from None
        try:
            with np.load(folder / "weights.npz", allow_pickle=False) as weights:
                arrays = {key: weights[key] for key in weights.files}
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise _broken(folder, f"weights.npz: {exc}") from None
        self.encoder = Encoder(folder, threads=threads)
        self.tuned = TunedModel(folder, threads=threads)
        self._beside = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mi-tuned")
        self.tuned_weight: dict[str, float] = self.meta.get("tuned_weight", {})
        self.vocab = {name: {term: i for i, term in enumerate(vocab_lists[name])} for name, _, _ in BLOCKS}
        self.idf = {name: arrays[f"idf_{name}"] for name, _, _ in BLOCKS}
        self.offsets: dict[str, int] = {}
        offset = 0
        for name, _, _ in BLOCKS:
            self.offsets[name] = offset
            offset += len(self.idf[name])
        self.dense_offset = offset
        try:
            self.coef = {task: arrays[f"coef_{task}"] for task in self.tasks}
            self.intercept = {task: arrays[f"intercept_{task}"] for task in self.tasks}
        except KeyError as exc:
            raise _broken(folder, f"weights.npz lacks {exc}") from None
        # contiguous copies of the dense columns: a strided view makes every matrix product slower
        self.dense_coef = {task: np.ascontiguousarray(c[:, self.dense_offset :]) for task, c in self.coef.items()}

    def _logits(self, cur: str, prev: str, tasks: tuple[str, ...]) -> dict[str, np.ndarray]:
        dense = dense_features(self.encoder, cur, prev)
        out = {}
        sparse = []
        for name, analyzer, kind in BLOCKS:
            indices, values = tfidf(ANALYZERS[analyzer](block_text(kind, cur, prev)), self.vocab[name], self.idf[name])
            sparse.append((indices + self.offsets[name], values))
        for task in tasks:
            coef = self.coef[task]
            z = self.intercept[task] + self.dense_coef[task] @ dense
            for indices, values in sparse:
                if len(indices):
                    z = z + coef[:, indices] @ values
            out[task] = z
        return out

    def probabilities(self, text: str, speaker: str, prev: str = "", earlier: str = "") -> dict[str, dict]:
        """{task: {label: probability}} for one utterance (therapist tasks or client talk, by speaker), given the
        turn before it (`prev`) and the one before that (`earlier`)."""
        tasks = THERAPIST_TASKS if speaker == "therapist" else ("client_talk_type",)
        weights = {task: float(self.tuned_weight.get(task, 0.5)) for task in tasks}
        # a task the tuned model does not help (weight 0) spares its pass
        pending = self._beside.submit(self.tuned.logits, text, prev, earlier) if any(weights.values()) else None
        logits = self._logits(text, prev, tasks)
        tuned = pending.result() if pending else {}
        result = {}
        for task in tasks:
            w = weights[task]
            p = _softmax(logits[task]) if not w else (1 - w) * _softmax(logits[task]) + w * _softmax(tuned[task])
            result[task] = dict(zip(self.tasks[task], map(float, p), strict=True))
        return result

    def predict_many(self, utts: list[Utterance]) -> list[dict[str, str]]:
        """The most likely label per task for each utterance in transcript order (used by `eval annomi`), each
        transcript read like a session: its earlier utterances set the session prior."""
        out = []
        seen, current = tendencies(self.meta), None
        for u in utts:
            if u.transcript_id != current:
                seen, current = tendencies(self.meta), u.transcript_id
            probs = self.probabilities(u.text, u.speaker, u.prev, u.earlier)
            for task, tendency in seen.items():
                if task in probs:
                    probs[task] = tendency.observe(probs[task])
            out.append({task: max(p, key=p.get) for task, p in probs.items()})
        return out
