"""Read AnnoMI CSVs (simple or full format) into utterances with their context and labels.

Full format has one row per annotator with subtype columns; an utterance's label is the majority over its
annotators (ties go to the first-seen label). Subtype labels are kept only on rows whose main behaviour matches
(AnnoMI fills subtype columns on other rows too).
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from simtrainer.csv_columns import require_columns
from simtrainer.errors import UserError

TASKS = {
    "therapist_behaviour": ("question", "reflection", "therapist_input", "other"),
    "client_talk_type": ("change", "neutral", "sustain"),
    "reflection": ("simple", "complex"),
    "question": ("open", "closed"),
    "input": ("information", "advice", "options", "negotiation"),
}
REQUIRED = {"transcript_id", "utterance_id", "interlocutor", "utterance_text"}


@dataclass
class Utterance:
    transcript_id: str
    utterance_id: int
    speaker: str  # "therapist" | "client"
    text: str
    prev: str  # the previous utterance in the transcript ("" at the start)
    earlier: str  # the utterance before `prev` (usually this speaker's own previous turn)
    labels: dict[str, str]


def _majority(values: list[str]) -> str | None:
    values = [v for v in values if v and v.lower() not in ("n/a", "nan", "")]
    return Counter(values).most_common(1)[0][0] if values else None


def read_annomi(path: Path) -> tuple[list[Utterance], str]:
    """Utterances in transcript order, and the format ("simple" or "full")."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = require_columns(reader.fieldnames, REQUIRED, str(path), kind="AnnoMI",
                                      fix="Use AnnoMI's simple or full format (utterance_text, interlocutor, "
                                      "main_therapist_behaviour, ...).")
            rows = list(reader)
    except FileNotFoundError:
        raise UserError("The AnnoMI CSV does not exist.", where=str(path), fix="Check the path.") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"Cannot read the CSV: {exc}", where=str(path), fix="Give a UTF-8 CSV file.") from None
    fmt = "full" if "reflection_subtype" in columns else "simple"
    grouped: dict[tuple[str, int], list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        try:
            key = (row["transcript_id"], int(row["utterance_id"]))
        except ValueError:
            raise UserError(
                f"utterance_id is not a number: {row['utterance_id']!r}", where=str(path), fix="Fix that row."
            ) from None
        grouped[key].append(row)
    by_transcript: dict[str, list[tuple[int, list[dict[str, str]]]]] = defaultdict(list)
    for (tid, uid), group in grouped.items():
        by_transcript[tid].append((uid, group))
    out: list[Utterance] = []
    for tid in sorted(by_transcript, key=lambda t: (len(t), t)):
        earlier, prev = "", ""
        for uid, group in sorted(by_transcript[tid]):
            speaker = group[0]["interlocutor"].strip().lower()
            text = group[0]["utterance_text"] or ""
            labels: dict[str, str] = {}
            if speaker == "therapist":
                main = _majority([r.get("main_therapist_behaviour", "") for r in group])
                if main in TASKS["therapist_behaviour"]:
                    labels["therapist_behaviour"] = main
                if fmt == "full":
                    for task, column, parent in (
                        ("reflection", "reflection_subtype", "reflection"),
                        ("question", "question_subtype", "question"),
                        ("input", "therapist_input_subtype", "therapist_input"),
                    ):
                        value = _majority([r.get(column, "") for r in group])
                        if main == parent and value in TASKS[task]:
                            labels[task] = value
            else:
                talk = _majority([r.get("client_talk_type", "") for r in group])
                if talk in TASKS["client_talk_type"]:
                    labels["client_talk_type"] = talk
            out.append(Utterance(tid, uid, speaker, text, prev, earlier, labels))
            earlier, prev = prev, text
    return out, fmt
