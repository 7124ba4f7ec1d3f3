"""The patient's relevance check against hand-labelled replies: the dev set it was tuned on, and two sets it was
never tuned on, each written by another author: `evaluation/patient_relevance.csv` (the project's own cards) and
`evaluation/patient_relevance_other.csv` (17 other settings, harder near-misses; `patient_relevance.md`)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from simtrainer.patient.relevance import THRESHOLD, Embed, relevance
from simtrainer.resources import data_folder

DEV_SET = "patient_relevance_dev.csv"
EVAL_SET = "patient_relevance.csv"
OTHER_SET = "patient_relevance_other.csv"


def evaluation_folder() -> Path | None:
    try:
        return data_folder("evaluation")
    except FileNotFoundError:
        return None


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if row.get("trainee") and row.get("reply")]


def scores(embed: Embed, rows: list[dict[str, str]]) -> list[tuple[float, bool]]:
    return [(relevance(embed, row["trainee"], row["reply"]), row["relevant"].strip() in ("1", "true", "yes"))
            for row in rows]


def figures(scored: list[tuple[float, bool]], threshold: float = THRESHOLD) -> dict[str, Any]:
    tp = sum(s >= threshold and y for s, y in scored)
    fp = sum(s >= threshold and not y for s, y in scored)
    fn = sum(s < threshold and y for s, y in scored)
    n = len(scored)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"n": n, "accuracy": round((n - fp - fn) / n, 3) if n else None, "precision": round(precision, 3),
            "recall": round(recall, 3), "f1": round(f1, 3), "threshold": threshold}


def choose_threshold(scored: list[tuple[float, bool]]) -> float:
    """The threshold (0.05 steps) with the best accuracy; the lowest of ties (how THRESHOLD was set on dev)."""
    steps = [round(0.05 * i, 2) for i in range(-4, 17)]
    return max(steps, key=lambda t: (figures(scored, t)["accuracy"], -t))


def validate(embed: Embed) -> dict[str, Any]:
    """The check's figures on the dev set and, where present, on the two evaluation sets."""
    folder = evaluation_folder()
    out: dict[str, Any] = {}
    for key, name in (("dev", DEV_SET), ("evaluation", EVAL_SET), ("evaluation_other_settings", OTHER_SET)):
        path = folder / name if folder else None
        out[key] = figures(scores(embed, read_rows(path))) if path and path.is_file() else None
    return out
