"""Train the answer check: all-MiniLM-L6-v2 fine-tuned as a cross-encoder on hand-written (turn, reply) pairs
and optionally AnnoMI's (`answer_data.py`), exported to int8 ONNX for `answer_model.py`.

A sentence encoder compares two texts one at a time and so sees shared topic, not whether one answers the other
(a learned head on its pair features did no better than the plain similarity; docs/patient.md). A cross-encoder
reads both texts together. Training only: needs the [train] extra (torch, transformers); a CUDA GPU is used when
torch sees one. The threshold is chosen on the project's dev set (`evaluation/patient_relevance_dev.csv`) and
the written pairs of held-out settings; the evaluation sets are only read afterwards, by `simtrainer bench
relevance`.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from simtrainer.feedback.mi import tune
from simtrainer.feedback.mi.train import base_model_dir
from simtrainer.patient.answer_data import KINDS, Pair, make_pairs, read_sessions, read_written, split_by_transcript
from simtrainer.patient.answer_model import MAX_LEN, TURN_WORDS, turn_tail

EPOCHS = 30
BATCH = 32
LEARNING_RATE = 4e-5
WRITTEN_REPEAT = 6
MIX_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
SIMILARITY_SCALE = 0.4  # the encoder similarity's score over this counts as 1 in the mix


def _model_class():
    import torch
    from transformers import AutoModel

    class AnswerScorer(torch.nn.Module):
        def __init__(self, base: Path):
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(base), local_files_only=True)
            self.head = torch.nn.Linear(384, 1)

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return self.head(pooled).squeeze(-1)

    return AnswerScorer


def _encode(tokenizer, turns: list[str], replies: list[str], device):
    return tokenizer([turn_tail(t) for t in turns], replies, padding=True, truncation="longest_first",
                     max_length=MAX_LEN, return_tensors="pt").to(device)


def fine_tune(train: list[Pair], base: Path, *, epochs: int = EPOCHS, seed: int = 0, log=print):
    import torch

    torch.manual_seed(seed)
    rng = random.Random(seed)
    device = tune._device()
    tokenizer = tune.base_tokenizer(base)
    model = _model_class()(base).to(device)
    positives = sum(p.label for p in train)
    pos_weight = torch.tensor((len(train) - positives) / max(1, positives), device=device)
    optimizer, schedule = tune.warmup_optimizer(model, LEARNING_RATE, epochs * -(-len(train) // BATCH))
    model.train()
    started = time.monotonic()
    for epoch in range(epochs):
        batches = tune.length_batches(train, rng, BATCH, lambda p: len(p.turn) + len(p.reply))
        for n, batch in enumerate(batches):
            logits = model(**_encode(tokenizer, [p.turn for p in batch], [p.reply for p in batch], device))
            y = torch.tensor([float(p.label) for p in batch], device=device)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, pos_weight=pos_weight)
            tune.update(model, loss, optimizer, schedule)
            if n % 50 == 0:
                log(f"answer check: epoch {epoch + 1}/{epochs}, batch {n}/{len(batches)}, loss {loss.item():.3f} "
                    f"({time.monotonic() - started:.0f} s)")
    return model.cpu().eval()


def predict(model, base: Path, turns: list[str], replies: list[str]) -> np.ndarray:
    """Probabilities from the torch model (validation before export)."""
    import torch

    tokenizer = tune.base_tokenizer(base)
    out = np.zeros(len(turns), dtype=np.float32)
    with torch.no_grad():
        for s in range(0, len(turns), 64):
            logits = model(**_encode(tokenizer, turns[s : s + 64], replies[s : s + 64], torch.device("cpu")))
            out[s : s + 64] = torch.sigmoid(logits).numpy()
    return out


def _accuracy(probs: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    return float(((probs >= threshold) == labels.astype(bool)).mean()) if len(labels) else 0.0


def choose_threshold(probs: np.ndarray, labels: np.ndarray) -> float:
    """Best accuracy in 0.05 steps; of ties the one nearest 0.5 (the balanced training's own cut)."""
    steps = [round(0.05 * i, 2) for i in range(1, 20)]
    return max(steps, key=lambda t: (_accuracy(probs, labels, t), -abs(t - 0.5)))


def choose_mix(check_probs: dict[str, np.ndarray], similarity: dict[str, np.ndarray], labels: dict[str, np.ndarray],
               overlaps: dict[str, np.ndarray]) -> dict[str, Any]:
    """The weight of the cross-encoder against the encoder similarity, and the threshold, with the best mean
    over the selection sets of the accuracy balanced over (answers or not) x (shares words or not): a check
    that leans on shared words, for or against, cannot win it."""
    from simtrainer.patient.relevance import mix_scores

    def balanced(pred: np.ndarray, y: np.ndarray, o: np.ndarray) -> float:
        cells = [(pred[(y == a) & (o == b)] == a).mean() for a in (True, False) for b in (True, False)
                 if ((y == a) & (o == b)).any()]
        return float(np.mean(cells))

    best: tuple[float, float, float] | None = None
    for weight in MIX_WEIGHTS:
        mixed = {k: np.array([mix_scores(p, s, weight, SIMILARITY_SCALE) for p, s in zip(check_probs[k],
                                                                                      similarity[k], strict=True)])
                 for k in check_probs}
        for threshold in [round(0.05 * i, 2) for i in range(1, 20)]:
            score = float(np.mean([balanced(mixed[k] >= threshold, labels[k], overlaps[k]) for k in mixed]))
            if best is None or score > best[0]:
                best = (score, weight, threshold)
    assert best is not None
    return {"weight": best[1], "threshold": best[2], "similarity_scale": SIMILARITY_SCALE,
            "selection_balanced_accuracy": round(best[0], 3), "selected_on": sorted(check_probs)}


def train_answer_check(out: Path, dev_rows: list[dict[str, str]], *, written: Path, annomi: Path | None = None,
                       train_on_annomi: bool = False, epochs: int = EPOCHS, seed: int = 0,
                       log=print) -> dict[str, Any]:
    """Fine-tune on the written pairs (a quarter of their settings held out) and, with `train_on_annomi`,
    AnnoMI's (written pairs repeated WRITTEN_REPEAT times so that they are not drowned); export; choose the mix
    with the encoder similarity and its threshold on the dev rows, the held-out written settings and, where
    `annomi` is given, held-out AnnoMI transcripts."""
    import torch

    from simtrainer.feedback.mi import load_mi_coder
    from simtrainer.patient.answer_model import AnswerModel
    from simtrainer.patient.relevance import relevance, shares_words

    base = base_model_dir()
    written_train, written_val = split_by_transcript(read_written(written), held_out=0.25, seed=seed)
    train = written_train * (WRITTEN_REPEAT if train_on_annomi else 1)
    annomi_val: list[Pair] = []
    if annomi:
        annomi_train, annomi_val = split_by_transcript(make_pairs(read_sessions(annomi), seed=seed), seed=seed)
        if train_on_annomi:
            train += annomi_train
    log(f"answer check: {len(train)} training pairs ({len(written_train)} written), {len(written_val)} written "
        f"pairs in held-out settings, {len(annomi_val)} AnnoMI pairs in held-out transcripts")
    model = fine_tune(train, base, epochs=epochs, seed=seed, log=log)

    dev_probs = predict(model, base, [r["trainee"] for r in dev_rows], [r["reply"] for r in dev_rows])
    dev_labels = np.array([r["relevant"].strip() == "1" for r in dev_rows])
    wval_probs = predict(model, base, [p.turn for p in written_val], [p.reply for p in written_val])
    wval_labels = np.array([p.label for p in written_val])
    threshold = choose_threshold(np.concatenate([dev_probs, wval_probs]), np.concatenate([dev_labels, wval_labels]))
    figures: dict[str, Any] = {
        "dev": {"rows": len(dev_rows), "accuracy": round(_accuracy(dev_probs, dev_labels, threshold), 3)},
        "written_held_out_settings": {
            "pairs": len(written_val), "settings": sorted({p.transcript for p in written_val}),
            "accuracy": round(_accuracy(wval_probs, wval_labels, threshold), 3)},
    }
    if annomi_val:
        val_probs = predict(model, base, [p.turn for p in annomi_val], [p.reply for p in annomi_val])
        val_labels = np.array([p.label for p in annomi_val])
        figures["annomi_held_out_transcripts"] = {
            "pairs": len(annomi_val), "accuracy": round(_accuracy(val_probs, val_labels, threshold), 3),
            "accuracy_by_kind": {kind: round(_accuracy(val_probs[m], val_labels[m], threshold), 3) for kind in KINDS
                                 if (m := np.array([p.kind == kind for p in annomi_val])).any()}}
    out.mkdir(parents=True, exist_ok=True)
    tune.export_int8(model, _encode(tune.base_tokenizer(base), ["a turn"], ["a reply"], torch.device("cpu")),
                     ["input_ids", "attention_mask", "token_type_ids"], ["logit"], out / "answer.onnx")
    shutil.copy(base / "tokenizer.json", out / "tokenizer.json")
    (out / "meta.json").write_text(json.dumps({"threshold": threshold}), encoding="utf-8")
    shipped, embed = AnswerModel(out), load_mi_coder().model.encoder  # the int8 model, as the app reads it
    selection = {"dev": [(r["trainee"], r["reply"], r["relevant"].strip() == "1") for r in dev_rows],
                 "written_held_out": [(p.turn, p.reply, p.label == 1) for p in written_val]}
    if annomi_val:
        selection["annomi_held_out"] = [(p.turn, p.reply, p.label == 1) for p in annomi_val]
    mix = choose_mix(
        {k: np.array([float(shipped.probabilities(t, [r])[0]) for t, r, _ in v]) for k, v in selection.items()},
        {k: np.array([relevance(embed, t, r) for t, r, _ in v]) for k, v in selection.items()},
        {k: np.array([y for *_, y in v]) for k, v in selection.items()},
        {k: np.array([shares_words(t, r) for t, r, _ in v]) for k, v in selection.items()})
    log(f"answer check: mix {mix}")
    meta = {
        "model": "all-MiniLM-L6-v2 fine-tuned as a cross-encoder on (turn, reply) pairs, mean-pooled, one logit; "
                 "int8 ONNX",
        "threshold": threshold,
        "mix": mix,
        "turn_words": TURN_WORDS, "max_len": MAX_LEN,
        "training": {"epochs": epochs, "batch": BATCH, "learning_rate": LEARNING_RATE, "seed": seed,
                     "pairs": len(train), "written_pairs": len(written_train),
                     "written_repeat": WRITTEN_REPEAT if train_on_annomi else 1, "annomi": train_on_annomi},
        **figures,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta
