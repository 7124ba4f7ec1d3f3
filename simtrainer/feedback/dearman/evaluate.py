"""Per-skill F1 of the DEAR MAN coder on labelled utterances (default: the held-out scenario)."""

from __future__ import annotations

from pathlib import Path

from simtrainer.feedback.dearman.data import SKILLS, folder, read_labelled


def default_eval_path() -> Path:
    return folder() / "heldout.csv"


def evaluate(path: Path | None = None, coder=None) -> dict:
    """`coder` (e.g. an LLM judge) replaces the trained coder when given."""
    from simtrainer.feedback.dearman.coder import load_dearman_coder

    rows = read_labelled(path or default_eval_path())
    coder = coder or load_dearman_coder()
    tp = dict.fromkeys(SKILLS, 0)
    fp = dict.fromkeys(SKILLS, 0)
    fn = dict.fromkeys(SKILLS, 0)
    for text, gold in rows:
        got = {c.code for c in coder.code(text)}
        for s in SKILLS:
            tp[s] += s in gold and s in got
            fp[s] += s not in gold and s in got
            fn[s] += s in gold and s not in got
    f1 = {s: round(2 * tp[s] / (2 * tp[s] + fp[s] + fn[s]), 4) if tp[s] + fp[s] + fn[s] else 0.0 for s in SKILLS}
    return {"n": len(rows), "macro_f1": round(sum(f1.values()) / len(f1), 4), "per_skill_f1": f1}
