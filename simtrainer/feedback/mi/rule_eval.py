"""Measure the rules on the project's labelled sets (dev: rules were written against it; test: held out): the
counselor codes AnnoMI lacks, and the MI coder's client talk (model and rules together) on plain client lines."""

from __future__ import annotations

import csv

from simtrainer.feedback.mi.metrics import task_report
from simtrainer.feedback.mi.rules import rule_codes
from simtrainer.resources import data_folder

CODES = ("AF", "SEEK", "AUTO", "CONFRONT", "PERSUADE")


def _rows(name: str) -> list[dict[str, str]]:
    with (data_folder("models") / "mi-coder" / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def evaluate_client_talk() -> dict[str, dict]:
    """The coder's change / neutral / sustain label for each line, as the app gives it (no context)."""
    from simtrainer.feedback.mi import load_mi_coder

    coder = load_mi_coder()
    report = {}
    for split in ("dev", "test"):
        pairs = []
        for row in _rows(f"client_talk_{split}.csv"):
            talk = coder.talk_probabilities(row["text"])
            pairs.append((row["talk"], max(talk, key=talk.get)))
        r = task_report("client_talk_type", pairs)
        report[split] = {key: r[key] for key in ("n", "macro_f1", "accuracy", "per_class_f1")}
    return report


def evaluate_rules() -> dict[str, dict]:
    report = {}
    for split in ("dev", "test"):
        rows = _rows(f"rule_codes_{split}.csv")
        exact = 0
        tp = dict.fromkeys(CODES, 0)
        fp = dict.fromkeys(CODES, 0)
        fn = dict.fromkeys(CODES, 0)
        for row in rows:
            gold = set() if row["codes"] == "NONE" else set(row["codes"].split("|"))
            got = {"PERSUADE" if c == "PWP" else c for c, _ in rule_codes(row["text"])}
            exact += gold == got
            for c in CODES:
                tp[c] += c in gold and c in got
                fp[c] += c not in gold and c in got
                fn[c] += c in gold and c not in got
        f1 = {c: round(2 * tp[c] / (2 * tp[c] + fp[c] + fn[c]), 4) if tp[c] + fp[c] + fn[c] else 0.0 for c in CODES}
        report[split] = {
            "n": len(rows),
            "exact_match": round(exact / len(rows), 4),
            "macro_f1": round(sum(f1.values()) / len(f1), 4),
            "per_code_f1": f1,
        }
    return report
