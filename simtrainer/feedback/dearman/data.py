"""The project's DEAR MAN-labelled data: the hand-written corpus, and sentences per scenario composed into utterances.

File format for `simtrainer eval dearman PATH` (also what the corpus and `labelled.csv` use): a CSV with a column
`utterance` and a column `skills` holding the skills shown, separated by `;` or `|` (empty when none), e.g.
`"The heating's been off nine days. I need it fixed by Friday.",describe;assert;appear_confident`. An optional
column `flag` names a threat, insult or ultimatum (empty when none): not a skill, a move that hardens the other
side. Other columns (situation, relationship, register, scenario, split) are kept for grouping or ignored.
"""

from __future__ import annotations

import csv
import random
import re
import tomllib
from pathlib import Path

from simtrainer.csv_columns import require_columns
from simtrainer.errors import UserError
from simtrainer.resources import data_folder

SKILLS = ("describe", "express", "assert", "reinforce", "mindful", "appear_confident", "negotiate")
FLAGS = ("threat", "insult", "ultimatum")
HELD_OUT = "roommate"  # the scenario kept entirely for evaluation
HEDGE = re.compile(
    r"\b(sorry|um+|uh+|maybe|possibly|i guess|kind of|sort of|just wondering|i was wondering|"
    r"if (it'?s|that'?s) (not too much trouble|okay|alright|all right)|i don'?t want to (be|cause))\b",
    re.IGNORECASE,
)


def folder() -> Path:
    return data_folder("models") / "dearman-coder"


def load_sentences() -> dict[str, dict[str, list[str]]]:
    return tomllib.loads((folder() / "sentences.toml").read_text(encoding="utf-8"))


def compose(scenarios: dict[str, dict[str, list[str]]], seed: int = 7) -> list[dict[str, str]]:
    """Utterances of one to three sentences with their skills, per scenario."""
    rng = random.Random(seed)
    out = []
    for scenario, pools in scenarios.items():
        pieces = [(s, kind) for kind, sentences in pools.items() for s in sentences]
        combos = [[p] for p in pieces]
        for size, count in ((2, 40), (3, 22)):
            for _ in range(count):
                combos.append(rng.sample(pieces, size))
        for combo in combos:
            kinds = {k for _, k in combo}
            skills = {("assert" if k == "hedged" else k) for k in kinds} - {"none"}
            if "assert" in kinds and "hedged" not in kinds:
                skills.add("appear_confident")
            out.append({
                "scenario": scenario,
                "split": "test" if scenario == HELD_OUT else "train",
                "utterance": " ".join(s for s, _ in combo),
                "skills": "|".join(s for s in SKILLS if s in skills),
            })
    return out


def _names(cell: str | None) -> set[str]:
    """Skill or flag names from one cell: `;`, `|` or `,` between them, any case, "appear confident" spelled
    with a space or hyphen too; "none" means none."""
    names = {re.sub(r"[\s-]+", "_", n.strip().lower()) for n in re.split(r"[;|,]", cell or "")}
    return names - {"", "none"}


def read_labelled(path: Path) -> list[dict]:
    """Rows of a labelled CSV (see the module docstring): {"utterance", "skills", "flags", "group"}; "flags" is
    None when the file has no `flag` column, "group" the situation (or scenario) when it names one."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = require_columns(reader.fieldnames, {"utterance", "skills"}, str(path),
                                      fix="See docs/validity.md for the DEAR MAN data format.")
            rows = []
            for n, row in enumerate(reader, 2):
                skills = _names(row["skills"])
                flags = _names(row.get("flag")) if "flag" in columns else None
                for found, known, what in ((skills, SKILLS, "skill"), (flags or set(), FLAGS, "flag")):
                    unknown = found - set(known)
                    if unknown:
                        raise UserError(f"Unknown {what} {sorted(unknown)[0]!r} on line {n}.", where=str(path),
                                        fix=f"Use: {', '.join(known)}.")
                rows.append({"utterance": row["utterance"] or "", "skills": skills, "flags": flags,
                             "group": row.get("situation") or row.get("scenario") or ""})
            return rows
    except FileNotFoundError:
        raise UserError("The labelled CSV does not exist.", where=str(path), fix="Check the path.") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"The labelled CSV cannot be read ({exc}).", where=str(path),
                        fix="Save it as UTF-8 CSV with a header row.") from None


def corpus_paths() -> list[Path]:
    """The hand-written training corpus, one file per batch (models/dearman-coder/corpus-*.csv)."""
    return sorted(folder().glob("corpus-*.csv"))


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences in `text` (evidence spans)."""
    spans = []
    for match in re.finditer(r"[^.!?]+[.!?]*", text):
        piece = match.group(0)
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            spans.append((match.start() + lead, match.end()))
    return spans
