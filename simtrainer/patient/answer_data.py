"""Pairs for learning "does this reply answer that turn?": from real counselling transcripts (AnnoMI) and from
hand-written, hand-labelled pairs (`models/answer-check/corpus/`, provenance in its README).

A client's utterance right after a counselor's turn answers it (label 1). Label 0 pairs the same turn with what
the tiny patient model gets wrong, built from the same transcripts: a client utterance from far away in the same
session (same topic and words, another moment: the near-miss), one from another session, two halves of
unrelated client utterances joined (grammatical nonsense, like the tiny model's), a counselor's utterance (the
patient speaking as the counselor) and the turn's own words echoed. Short client utterances ("Yeah.", "Mm-hmm.")
answer almost anything, so they are never used as label 0; turns of under three words (encouragers) are skipped,
since any reply answers them. Transcripts are split into train and validation by id, never within one; written pairs by setting.

Measured: AnnoMI's pairs alone do not carry over to written replies (held-out AnnoMI transcripts 0.70, the
dev set 0.61, the three evaluation sets 0.53-0.58: no better than the encoder similarity); a transcript's next
utterance is a loose stand-in for "answers the turn".
"""

from __future__ import annotations

import csv
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from simtrainer.csv_columns import require_columns
from simtrainer.errors import UserError

MIN_TURN_WORDS = 3
MIN_NEGATIVE_WORDS = 4
KINDS = ("next", "same_session", "other_session", "spliced", "counselor_voice", "echo", "written")


@dataclass(frozen=True)
class Pair:
    transcript: str
    turn: str
    reply: str
    label: int
    kind: str


def _words(text: str) -> int:
    return len(text.split())


def _reader(handle, path: Path, columns: set[str], fix: str, kind: str = "") -> csv.DictReader:
    """A CSV reader over `handle`, or a `UserError` naming the columns the file lacks."""
    reader = csv.DictReader(handle)
    require_columns(reader.fieldnames, columns, str(path), fix, kind)
    return reader


def read_sessions(path: Path) -> dict[str, list[tuple[str, str]]]:
    """{transcript id: [(speaker, text), ...] in order} from an AnnoMI CSV (simple or full format: full has one
    row per annotator, so repeated utterance ids are read once)."""
    if not path.is_file():
        raise UserError("The AnnoMI CSV is not there.", where=str(path), fix="Pass --data with the AnnoMI folder.")
    rows: dict[str, dict[int, tuple[str, str]]] = defaultdict(dict)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = _reader(handle, path, {"transcript_id", "utterance_id", "interlocutor", "utterance_text"},
                         "Use AnnoMI-simple-train.csv or AnnoMI-full-train.csv.", kind="AnnoMI")
        for row in reader:
            text = re.sub(r"\s+", " ", row["utterance_text"] or "").strip()
            if text:
                rows[row["transcript_id"]].setdefault(int(row["utterance_id"]), (row["interlocutor"].strip(), text))
    return {tid: [utts[k] for k in sorted(utts)] for tid, utts in rows.items()}


def _splice(a: str, b: str) -> str:
    """The first half of `a` joined to the second half of `b`: grammatical-looking, senseless."""
    wa, wb = a.split(), b.split()
    return " ".join(wa[: max(2, len(wa) // 2)] + wb[len(wb) // 2 :])


def make_pairs(sessions: dict[str, list[tuple[str, str]]], seed: int = 0) -> list[Pair]:
    """Every (counselor turn, next client utterance) as label 1, and for each two label-0 pairs of the kinds in
    KINDS, drawn in a fixed seeded order (the near-miss from the same session whenever there is one)."""
    rng = random.Random(seed)
    clients = {tid: [t for s, t in utts if s == "client"] for tid, utts in sessions.items()}
    long_clients = {tid: [t for t in texts if _words(t) >= MIN_NEGATIVE_WORDS] for tid, texts in clients.items()}
    counselors = [t for utts in sessions.values() for s, t in utts if s == "therapist" and _words(t) >= 6]
    ids = sorted(sessions)
    pairs: list[Pair] = []
    for tid in ids:
        utts = sessions[tid]
        for i in range(1, len(utts)):
            (s0, turn), (s1, reply) = utts[i - 1], utts[i]
            if s0 != "therapist" or s1 != "client" or _words(turn) < MIN_TURN_WORDS:
                continue
            pairs.append(Pair(tid, turn, reply, 1, "next"))
            far = [t for j, (s, t) in enumerate(utts) if s == "client" and abs(j - i) >= 6
                   and _words(t) >= MIN_NEGATIVE_WORDS]
            other = long_clients[rng.choice([o for o in ids if o != tid and long_clients[o]])]
            negatives = []
            if far:
                negatives.append((rng.choice(far), "same_session"))
            draw = rng.random()
            if draw < 0.45:
                negatives.append((rng.choice(other), "other_session"))
            elif draw < 0.7:
                negatives.append((_splice(rng.choice(other), rng.choice(far or other)), "spliced"))
            elif draw < 0.9:
                negatives.append((rng.choice(counselors), "counselor_voice"))
            else:
                negatives.append((" ".join(turn.split()[-12:]), "echo"))
            if len(negatives) < 2:
                negatives.append((rng.choice(other), "other_session"))
            pairs += [Pair(tid, turn, text, 0, kind) for text, kind in negatives]
    return pairs


def split_by_transcript(pairs: list[Pair], held_out: float = 0.15, seed: int = 0) -> tuple[list[Pair], list[Pair]]:
    ids = sorted({p.transcript for p in pairs})
    random.Random(seed).shuffle(ids)
    val = set(ids[: max(1, round(len(ids) * held_out))])
    return [p for p in pairs if p.transcript not in val], [p for p in pairs if p.transcript in val]


def read_written(folder: Path) -> list[Pair]:
    """Hand-labelled pairs from every CSV in `folder` (columns setting, trainee, reply, relevant; `context` is
    not read), grouped by file and setting."""
    pairs: list[Pair] = []
    for path in sorted(folder.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            reader = _reader(handle, path, {"setting", "trainee", "reply", "relevant"},
                             "Write it with the header setting,context,trainee,reply,relevant.")
            for n, row in enumerate(reader, start=2):
                label = (row["relevant"] or "").strip()
                if label not in ("0", "1"):
                    raise UserError(f"relevant must be 0 or 1, not {label!r}.", where=f"{path}:{n}",
                                    fix="Label the row 1 (answers the turn) or 0 (does not).")
                pairs.append(Pair(f"{path.stem}:{row['setting']}", row["trainee"], row["reply"], int(label),
                                  "written"))
    return pairs
