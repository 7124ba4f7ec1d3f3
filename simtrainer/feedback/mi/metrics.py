"""Macro-F1, accuracy, per-class F1 and confusion matrices, without scikit-learn."""

from __future__ import annotations

from typing import Any

from simtrainer.feedback.mi.annomi import TASKS


def task_report(task: str, pairs: list[tuple[str, str]], order: tuple[str, ...] = ()) -> dict[str, Any]:
    """`pairs` are (gold, predicted). Labels come from the task's label set (or `order`) plus any others seen."""
    labels = list(order or TASKS.get(task, ()))
    for gold, pred in pairs:
        for label in (gold, pred):
            if label not in labels:
                labels.append(label)
    present = [label for label in labels if any(g == label for g, _ in pairs)]
    per_class = {}
    for label in present:
        tp = sum(1 for g, p in pairs if g == label and p == label)
        fp = sum(1 for g, p in pairs if g != label and p == label)
        fn = sum(1 for g, p in pairs if g == label and p != label)
        per_class[label] = round(2 * tp / (2 * tp + fp + fn), 4) if tp + fp + fn else 0.0
    matrix = {g: {p: sum(1 for a, b in pairs if a == g and b == p) for p in labels} for g in present}
    return {
        "n": len(pairs),
        "macro_f1": round(sum(per_class.values()) / len(per_class), 4) if per_class else 0.0,
        "accuracy": round(sum(1 for g, p in pairs if g == p) / len(pairs), 4) if pairs else 0.0,
        "per_class_f1": per_class,
        "confusion": matrix,
    }
