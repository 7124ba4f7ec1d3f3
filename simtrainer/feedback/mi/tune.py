"""Fine-tune all-MiniLM-L6-v2 on AnnoMI for every MI task at once, and export it to int8 ONNX.

The tuned model reads an utterance paired with the two turns before it (`features.tuned_pair`), mean-pools
the last layer and has one linear head per task; the loss is the class-weighted cross-entropy of each task on
the rows that carry its label. The app mixes its probabilities with the frozen-encoder classifiers'
(`model.py`): the two make different mistakes. Training only: needs torch and transformers ([train] extra);
runs on a CUDA GPU when torch sees one, else on the CPU.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

import numpy as np

from simtrainer.feedback.mi.annomi import TASKS, Utterance
from simtrainer.feedback.mi.features import TUNED_MAX_LEN, tuned_pair

EPOCHS = 2
BATCH = 16
LEARNING_RATE = 5e-5


def _model_class():
    import torch
    from transformers import AutoModel

    class TunedCoder(torch.nn.Module):
        def __init__(self, base: Path):
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(base), local_files_only=True)
            self.heads = torch.nn.ModuleDict({t: torch.nn.Linear(384, len(labels)) for t, labels in TASKS.items()})

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return tuple(self.heads[t](pooled) for t in TASKS)

    return TunedCoder


def base_tokenizer(base: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(base), local_files_only=True)


def _device():
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _encode(tokenizer, utts: list[Utterance]):
    texts, contexts = zip(*(tuned_pair(u.text, u.prev, u.earlier) for u in utts), strict=True)
    return tokenizer(list(texts), list(contexts), padding=True, truncation="longest_first", max_length=TUNED_MAX_LEN,
                     return_tensors="pt").to(_device())


def _length(u: Utterance) -> int:
    """Characters the tuned model reads (batches group similar lengths: less padding)."""
    return sum(map(len, tuned_pair(u.text, u.prev, u.earlier)))



def warmup_optimizer(model, learning_rate: float, steps: int):
    """AdamW with a linear warm-up over the first tenth of `steps`, then linear decay to zero."""
    import torch

    steps = max(1, steps)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / (0.1 * steps)) * max(0.0, (steps - s) / steps))
    return optimizer, schedule


def length_batches(items: list, rng: random.Random, batch: int, length) -> list[list]:
    """One epoch's batches: shuffled, then sorted by `length` within windows of 50 batches (less padding), in
    shuffled order."""
    order = items[:]
    rng.shuffle(order)
    batches = []
    for c in range(0, len(order), batch * 50):
        chunk = sorted(order[c : c + batch * 50], key=length)
        batches += [chunk[i : i + batch] for i in range(0, len(chunk), batch)]
    rng.shuffle(batches)
    return batches


def update(model, loss, optimizer, schedule) -> None:
    """One optimisation step with gradient clipping at norm 1."""
    import torch

    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    schedule.step()
    optimizer.zero_grad()

def fine_tune(utts: list[Utterance], base: Path, *, epochs: int = EPOCHS, seed: int = 0, log=print):
    """A TunedCoder trained on `utts` (length-bucketed batches in shuffled order, linear warm-up and decay)."""
    import torch

    torch.manual_seed(seed)
    rng = random.Random(seed)
    tokenizer = base_tokenizer(base)
    device = _device()
    model = _model_class()(base).to(device)
    weights = {}
    for task, labels in TASKS.items():
        counts = np.bincount([labels.index(u.labels[task]) for u in utts if task in u.labels], minlength=len(labels))
        weights[task] = torch.tensor(counts.sum() / (len(labels) * np.maximum(counts, 1)), dtype=torch.float,
                                     device=device)
    optimizer, schedule = warmup_optimizer(model, LEARNING_RATE, epochs * -(-len(utts) // BATCH))
    model.train()
    started = time.monotonic()
    for epoch in range(epochs):
        for batch in length_batches(utts, rng, BATCH, _length):
            outputs = dict(zip(TASKS, model(**_encode(tokenizer, batch)), strict=True))
            loss = torch.zeros((), device=device)
            for task, labels in TASKS.items():
                rows = [j for j, u in enumerate(batch) if task in u.labels]
                if rows:
                    y = torch.tensor([labels.index(batch[j].labels[task]) for j in rows], device=device)
                    task_loss = torch.nn.functional.cross_entropy(outputs[task][rows], y, weight=weights[task])
                    loss = loss + task_loss * len(rows) / len(batch)
            update(model, loss, optimizer, schedule)
        log(f"fine-tuning: epoch {epoch + 1}/{epochs} done ({time.monotonic() - started:.0f} s)")
    return model.cpu().eval()


def tuned_probabilities(model, utts: list[Utterance], base: Path) -> dict[str, np.ndarray]:
    """{task: (len(utts), classes) probabilities} from a TunedCoder in torch (cross-validation)."""
    import torch

    tokenizer = base_tokenizer(base)
    model = model.to(_device())
    out = {task: np.zeros((len(utts), len(labels)), dtype=np.float32) for task, labels in TASKS.items()}
    order = sorted(range(len(utts)), key=lambda i: _length(utts[i]))
    with torch.no_grad():
        for s in range(0, len(order), 64):
            ids = order[s : s + 64]
            logits = model(**_encode(tokenizer, [utts[i] for i in ids]))
            for task, z in zip(TASKS, logits, strict=True):
                out[task][ids] = torch.softmax(z, -1).cpu().numpy()
    return out


def export_int8(model, sample, input_names: list[str], output_names: list[str], path: Path) -> None:
    """Export a torch model to ONNX (batch and sequence axes dynamic) and write it with int8 weights."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    axes = {0: "batch", 1: "seq"}
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "fp32.onnx"
        with torch.no_grad():
            torch.onnx.export(
                model.eval(), tuple(sample[name] for name in input_names), str(raw),
                input_names=input_names, output_names=output_names,
                dynamic_axes=dict.fromkeys(input_names, axes), opset_version=17, dynamo=False,
            )
        quantize_dynamic(str(raw), str(path), weight_type=QuantType.QInt8)


def export_tuned(model, base: Path, path: Path) -> None:
    """Write the tuned model as int8 ONNX: inputs input_ids / attention_mask / token_type_ids, one logits
    output per task (named after it)."""
    sample = base_tokenizer(base)(["a short example"], ["the turn before"], return_tensors="pt")
    export_int8(model.cpu(), sample, ["input_ids", "attention_mask", "token_type_ids"], list(TASKS), path)
