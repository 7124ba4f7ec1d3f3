"""`simtrainer eval mi-codes` / `eval client-talk`: the learned heads scored on a labelled CSV written by another hand.

The CSV has the corpus' columns (setting, register, previous, utterance, and code or talk); each line is coded
with its previous turn as context. Per label: precision, recall, F1 and support; macro-F1 over the labels the
CSV holds; the most frequent confusions; and how often the codes marked uncertain were right.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from simtrainer.feedback.mi.head import CODES, TALK
from simtrainer.feedback.mi.train_heads import read_labelled

DEFAULTS = {"code": "mi_codes.csv", "talk": "client_talk.csv"}
CHECKOUT = Path(__file__).resolve().parents[3]


def default_path(kind: str) -> Path:
    """evaluation/<file> under the current folder, else under the checkout simtrainer runs from."""
    relative = Path("evaluation") / DEFAULTS[kind]
    return relative if relative.is_file() else CHECKOUT / relative


def scores(pairs: list[tuple[str, str]], labels: tuple[str, ...]) -> dict[str, Any]:
    """Precision, recall, F1 and support per gold label, macro-F1 over them, accuracy and confusion pairs."""
    present = [label for label in labels if any(g == label for g, _ in pairs)]
    per: dict[str, dict[str, float]] = {}
    for label in present:
        tp = sum(1 for g, p in pairs if g == label and p == label)
        fp = sum(1 for g, p in pairs if g != label and p == label)
        fn = sum(1 for g, p in pairs if g == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        per[label] = {"precision": round(precision, 4), "recall": round(recall, 4),
                      "f1": round(2 * tp / (2 * tp + fp + fn), 4) if tp + fp + fn else 0.0, "support": tp + fn}
    wrong = Counter((g, p) for g, p in pairs if g != p)
    return {
        "n": len(pairs),
        "macro_f1": round(sum(v["f1"] for v in per.values()) / len(per), 4) if per else 0.0,
        "accuracy": round(sum(g == p for g, p in pairs) / len(pairs), 4) if pairs else 0.0,
        "per_label": per,
        "confusions": [{"gold": g, "predicted": p, "n": n} for (g, p), n in wrong.most_common()],
    }


def evaluate(path: Path, kind: str, coder) -> dict[str, Any]:
    """Score the coder's head for `kind` ("code" or "talk") on the CSV at `path`."""
    rows = read_labelled(path, kind)
    head, labels = (coder.codes, CODES) if kind == "code" else (coder.talk, TALK)
    probability = coder.code_probabilities if kind == "code" else coder.talk_probabilities
    pairs, uncertain = [], []
    for row in rows:
        p = probability(row.text, row.prev)
        top = max(p, key=p.get)
        pairs.append((row.label, top))
        if p[top] < head.threshold:
            uncertain.append(row.label == top)
    report = {"file": str(path), "scorer": coder.scorer, **scores(pairs, labels)}
    report["uncertain"] = {"threshold": head.threshold, "n": len(uncertain),
                           "accuracy": round(sum(uncertain) / len(uncertain), 4) if uncertain else None,
                           "accuracy_certain": _certain_accuracy(pairs, uncertain)}
    return report


def _certain_accuracy(pairs: list[tuple[str, str]], uncertain: list[bool]) -> float | None:
    right = sum(g == p for g, p in pairs) - sum(uncertain)
    n = len(pairs) - len(uncertain)
    return round(right / n, 4) if n else None
