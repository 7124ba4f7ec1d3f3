"""Per-skill F1 of the DEAR MAN coder on labelled utterances (default: the held-out scenario), and how well it
finds threats, insults and ultimatums when the file has a `flag` column."""

from __future__ import annotations

from pathlib import Path

from simtrainer.feedback.dearman.data import FLAGS, SKILLS, folder, read_labelled


def default_eval_path() -> Path:
    return folder() / "heldout.csv"


def _counts(pairs: list[tuple[bool, bool]]) -> dict[str, float]:
    tp = sum(g and p for g, p in pairs)
    fp = sum(p and not g for g, p in pairs)
    fn = sum(g and not p for g, p in pairs)
    return {
        "precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
        "recall": round(tp / (tp + fn), 4) if tp + fn else 0.0,
        "f1": round(2 * tp / (2 * tp + fp + fn), 4) if tp + fp + fn else 0.0,
        "gold": tp + fn,
        "predicted": tp + fp,
    }


def evaluate(path: Path | None = None, coder=None) -> dict:
    """`coder` (e.g. an LLM judge) replaces the trained coder when given. "flags" is None for a file without a
    `flag` column; "any" counts a flagged line found as flagged, whichever of the three it was called."""
    from simtrainer.feedback.dearman.coder import load_dearman_coder

    rows = read_labelled(path or default_eval_path())
    coder = coder or load_dearman_coder()
    got = [{c.code for c in coder.code(r["utterance"])} for r in rows]
    per_skill = {s: _counts([(s in r["skills"], s in g) for r, g in zip(rows, got, strict=True)]) for s in SKILLS}
    f1 = {s: v["f1"] for s, v in per_skill.items()}
    report = {"n": len(rows), "macro_f1": round(sum(f1.values()) / len(f1), 4), "per_skill_f1": f1,
              "per_skill": per_skill, "flags": None}
    if rows and all(r["flags"] is not None for r in rows):
        pairs = list(zip(rows, got, strict=True))
        report["flags"] = {
            "any": _counts([(bool(r["flags"]), bool(g & set(FLAGS))) for r, g in pairs]),
            **{f: _counts([(f in r["flags"], f in g) for r, g in pairs]) for f in FLAGS},
        }
    return report
