"""The patient's relevance checks against hand-labelled replies: the dev set their thresholds were chosen on, and
three sets never tuned on, each written by another author: `evaluation/patient_relevance.csv` (the project's own
cards), `evaluation/patient_relevance_other.csv` (17 other settings, harder near-misses) and
`evaluation/patient_relevance_blind.csv` (17 more settings and registers, written before the answer check was
trained; provenance of all three in `patient_relevance.md`). `simtrainer bench relevance` prints both checks on
every set: the encoder similarity (`patient/relevance.py`) and the answer check (`patient/answer_model.py`)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from simtrainer.patient.relevance import THRESHOLD, Embed, relevance, shares_words
from simtrainer.resources import data_folder

DEV_SET = "patient_relevance_dev.csv"
EVAL_SET = "patient_relevance.csv"
OTHER_SET = "patient_relevance_other.csv"
BLIND_SET = "patient_relevance_blind.csv"
SETS = (("dev", DEV_SET), ("evaluation", EVAL_SET), ("evaluation_other_settings", OTHER_SET),
        ("evaluation_blind", BLIND_SET))


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


def figures(scored: list[tuple[float, bool]], threshold: float = THRESHOLD,
            overlaps: list[bool] | None = None) -> dict[str, Any]:
    tp = sum(s >= threshold and y for s, y in scored)
    fp = sum(s >= threshold and not y for s, y in scored)
    fn = sum(s < threshold and y for s, y in scored)
    n = len(scored)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"n": n, "accuracy": round((n - fp - fn) / n, 3) if n else None, "precision": round(precision, 3),
            "recall": round(recall, 3), "f1": round(f1, 3), "threshold": threshold,
            **({"overlap_balanced_accuracy": _balanced(scored, threshold, overlaps)} if overlaps else {})}


def _balanced(scored: list[tuple[float, bool]], threshold: float, overlaps: list[bool]) -> float:
    cells: dict[tuple[bool, bool], list[bool]] = {}
    for (score, label), overlap in zip(scored, overlaps, strict=True):
        cells.setdefault((label, overlap), []).append((score >= threshold) == label)
    return round(sum(sum(c) / len(c) for c in cells.values()) / len(cells), 3)


def choose_threshold(scored: list[tuple[float, bool]]) -> float:
    """The threshold (0.05 steps) with the best accuracy; the lowest of ties (how THRESHOLD was set on dev)."""
    steps = [round(0.05 * i, 2) for i in range(-4, 17)]
    return max(steps, key=lambda t: (figures(scored, t)["accuracy"], -t))


def _sets() -> dict[str, list[dict[str, str]] | None]:
    folder = evaluation_folder()
    return {key: read_rows(folder / name) if folder and (folder / name).is_file() else None for key, name in SETS}


def answer_scores(check, rows: list[dict[str, str]]) -> list[tuple[float, bool]]:
    """The answer check's (`relevance.AnswerCheck`) scores."""
    return [(check.scores(row["trainee"], [row["reply"]])[0], row["relevant"].strip() in ("1", "true"))
            for row in rows]


def validate(embed: Embed, answers=None) -> dict[str, Any]:
    """The figures, on every set present, of the check the patient uses: the answer check where it is given,
    else the encoder similarity."""
    if answers is not None:
        return {key: figures(answer_scores(answers, rows), answers.threshold, _overlaps(rows))
                if rows else None for key, rows in _sets().items()}
    return {key: figures(scores(embed, rows), THRESHOLD, _overlaps(rows)) if rows else None
            for key, rows in _sets().items()}


def _overlaps(rows: list[dict[str, str]]) -> list[bool]:
    return [shares_words(row["trainee"], row["reply"]) for row in rows]


def compare(embed: Embed, answers) -> dict[str, Any]:
    """Both checks on every set present: {set: {"similarity": figures, "answer_check": figures}}."""
    out: dict[str, Any] = {}
    for key, rows in _sets().items():
        if rows:
            overlaps = _overlaps(rows)
            out[key] = {"similarity": figures(scores(embed, rows), THRESHOLD, overlaps),
                        "answer_check": figures(answer_scores(answers, rows), answers.threshold, overlaps)}
    return out
