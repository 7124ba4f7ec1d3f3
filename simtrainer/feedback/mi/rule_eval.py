"""Measure the rule codes on the project's labelled sets (dev: rules were written against it; test: held out)."""

from __future__ import annotations

import csv

from simtrainer.feedback.mi.rules import rule_codes
from simtrainer.resources import data_folder

CODES = ("AF", "SEEK", "AUTO", "CONFRONT", "PERSUADE")


def evaluate_rules() -> dict[str, dict]:
    report = {}
    for split in ("dev", "test"):
        path = data_folder("models") / "mi-coder" / f"rule_codes_{split}.csv"
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
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
