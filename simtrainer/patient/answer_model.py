"""The answer check: how likely a reply answers the trainee's turn, read by a cross-encoder (both texts at once).

The sentence-encoder check in `relevance.py` compares two vectors, so it sees shared topic: "Regular unleaded's
gone up" looks like an answer to "Do you drive regularly?". This model, all-MiniLM-L6-v2 fine-tuned on
hand-written (turn, reply) pairs (`answer_train.py`, `models/answer-check/corpus/`), reads the turn and the reply
together. It ships in `models/answer-check/` (int8 ONNX, run on the CPU with onnxruntime; no torch at run time)
and scores a turn's candidates in one batch. The patient does not use it alone: `relevance.AnswerCheck` mixes it
with the encoder similarity.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from simtrainer.errors import UserError
from simtrainer.resources import data_folder

MAX_LEN = 128
TURN_WORDS = 60
FILES = ("answer.onnx", "tokenizer.json", "meta.json")


def turn_tail(turn: str) -> str:
    """The end of a long turn is what the reply answers."""
    return " ".join(turn.split()[-TURN_WORDS:])


def default_folder() -> Path:
    return data_folder("models") / "answer-check"


@lru_cache(maxsize=1)
def load_answer_model() -> AnswerModel:
    """The shipped answer check, loaded once per process."""
    return AnswerModel()


class AnswerModel:
    """(turn, replies) -> the probability that each reply answers the turn."""

    def __init__(self, folder: Path | None = None, *, threads: int = 1):
        import onnxruntime
        from tokenizers import Tokenizer

        folder = folder or default_folder()
        missing = [name for name in FILES if not (folder / name).is_file()]
        if missing:
            raise UserError(f"The answer check's model is incomplete: {', '.join(missing)} missing.",
                            where=str(folder), fix="Reinstall simtrainer, or rebuild it with "
                                                   "`simtrainer train answer-check`.")
        try:
            self.meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            self.threshold = float(self.meta["threshold"])
            self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            self.session = onnxruntime.InferenceSession(str(folder / "answer.onnx"), options,
                                                        providers=["CPUExecutionProvider"])
        except Exception as exc:  # json, tokenizers and onnxruntime each raise their own types
            raise UserError(f"The answer check's model could not be read: {str(exc)[:160]}", where=str(folder),
                            fix="Reinstall simtrainer, or rebuild it with `simtrainer train answer-check`.") from None
        self.tokenizer.enable_truncation(max_length=MAX_LEN)
        self.tokenizer.no_padding()

    def probabilities(self, turn: str, replies: list[str]) -> np.ndarray:
        if not replies:
            return np.zeros(0, dtype=np.float32)
        encodings = self.tokenizer.encode_batch([(turn_tail(turn) or ".", reply or ".") for reply in replies])
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            n = len(e.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = e.ids, e.attention_mask, e.type_ids
        (logits,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
        return 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))

    def probability(self, turn: str, reply: str) -> float:
        return float(self.probabilities(turn, [reply])[0])
