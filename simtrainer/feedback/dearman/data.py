"""The project's DEAR MAN-labelled data: sentences per scenario and skill, composed into utterances.

File format for `simtrainer eval dearman PATH` (also what `labelled.csv` uses): a CSV with a column
`utterance` and a column `skills` holding the skills shown, separated by `|` (empty when none), e.g.
`"The heating's been off nine days. I need it fixed by Friday.",describe|assert|appear_confident`.
Other columns (scenario, split) are ignored.
"""

from __future__ import annotations

import csv
import random
import re
import tomllib
from pathlib import Path

from simtrainer.errors import UserError
from simtrainer.resources import data_folder

SKILLS = ("describe", "express", "assert", "reinforce", "mindful", "appear_confident", "negotiate")
SENTENCE_CLASSES = ("describe", "express", "assert", "reinforce", "mindful", "negotiate", "none")
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


def sentence_rows(scenarios: dict[str, dict[str, list[str]]]) -> list[tuple[str, str, str]]:
    """(scenario, sentence, sentence class); hedged requests are asserts."""
    rows = []
    for scenario, pools in scenarios.items():
        for kind, sentences in pools.items():
            label = "assert" if kind == "hedged" else kind
            rows += [(scenario, s, label) for s in sentences]
    return rows


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


def read_labelled(path: Path) -> list[tuple[str, set[str]]]:
    """(utterance, skills) from a labelled CSV (see the module docstring)."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if not {"utterance", "skills"} <= set(reader.fieldnames or []):
                raise UserError("The CSV needs the columns `utterance` and `skills`.", where=str(path),
                                fix="See the README's DEAR MAN data format.")
            rows = []
            for n, row in enumerate(reader, 2):
                skills = {s.strip() for s in (row["skills"] or "").split("|") if s.strip()}
                unknown = skills - set(SKILLS)
                if unknown:
                    raise UserError(f"Unknown skill {sorted(unknown)[0]!r} on line {n}.", where=str(path),
                                    fix=f"Use: {', '.join(SKILLS)}.")
                rows.append((row["utterance"], skills))
            return rows
    except FileNotFoundError:
        raise UserError("The labelled CSV does not exist.", where=str(path), fix="Check the path.") from None


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences in `text` (evidence spans)."""
    spans = []
    for match in re.finditer(r"[^.!?]+[.!?]*", text):
        piece = match.group(0)
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            spans.append((match.start() + lead, match.end()))
    return spans
