"""A JSON export's review work — notes, corrections, hand ratings, the reviewed mark — carried by an import.

A supervisor reviews an imported copy of a trainee's session on their own machine and exports it; the trainee
imports that file and finds the review on the session they practised (the copy already there gains the rows it
lacks), or a colleague imports it as a new session with the review on it. The file is untrusted: every row is
checked as `sessions correct / annotate / rate` check what a supervisor types, and a bad row names its place in
the file. Rows keep their author and time, so importing the same file twice adds nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from simtrainer.errors import UserError
from simtrainer.review.corrections import resolve_code, resolve_rating
from simtrainer.storage import Store

MAX_NOTE = 20_000  # characters: far beyond a note on a turn
FIX = "Give the file `simtrainer sessions export ID --format json` wrote, unchanged."


@dataclass
class ReviewWork:
    notes: list[dict[str, Any]] = field(default_factory=list)  # turn_idx (None: on the session), body, author, created_at
    corrections: list[dict[str, Any]] = field(default_factory=list)  # turn_idx, rubric, code, detail, author, created_at
    ratings: list[dict[str, Any]] = field(default_factory=list)  # rubric, item, score, author, created_at
    reviewed: dict[str, str] | None = None  # reviewed_by, reviewed_at

    def counts(self) -> dict[str, int]:
        """How many rows of each kind, for `sessions import --json` ("reviewed": 1 when the mark is carried)."""
        return {"notes": len(self.notes), "corrections": len(self.corrections), "ratings": len(self.ratings),
                "reviewed": int(self.reviewed is not None)}

    def __bool__(self) -> bool:
        return any(self.counts().values())

    def authors(self) -> list[str]:
        rows = [*self.notes, *self.corrections, *self.ratings]
        names = [r["author"] for r in rows] + ([self.reviewed["reviewed_by"]] if self.reviewed else [])
        return sorted({n for n in names if n})

    def missing_from(self, store: Store, session_id: str) -> ReviewWork:
        """The rows the session here lacks (same content, author and time counts as the same row); the reviewed
        mark if the session has none or an older one."""
        turn_idx = {t["id"]: t["idx"] for t in store.turns(session_id)}
        notes = {_note_key({**a, "turn_idx": turn_idx.get(a["turn_id"])}) for a in store.annotations(session_id)}
        corrections = {_correction_key(c) for c in store.corrections(session_id)}
        ratings = {_rating_key(r) for r in store.ratings(session_id)}
        session = store.get_session(session_id)
        newer = self.reviewed and (session.get("reviewed_at") or "") < self.reviewed["reviewed_at"]
        return ReviewWork([n for n in self.notes if _note_key(n) not in notes],
                          [c for c in self.corrections if _correction_key(c) not in corrections],
                          [r for r in self.ratings if _rating_key(r) not in ratings],
                          self.reviewed if newer else None)


def _note_key(row: dict[str, Any]) -> tuple:
    return row["turn_idx"], row["body"], row["author"], row["created_at"]


def _correction_key(row: dict[str, Any]) -> tuple:
    return row["turn_idx"], row["rubric"], row["code"], row.get("detail") or "", row["author"], row["created_at"]


def _rating_key(row: dict[str, Any]) -> tuple:
    return row["rubric"], row["item"], row["score"], row["author"], row["created_at"]


def checked_time(value: Any, key: str, where: str) -> str:
    """A date and time from an export, as written; anything else is a `UserError` naming `key` at `where`."""
    try:
        datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise UserError(f'"{key}" is not a date and time: {str(value)[:40]!r}.', where=where, fix=FIX) from None
    return value


def read_review_work(record: dict[str, Any], kept: dict[int, int], speakers: list[str], path: Path) -> ReviewWork:
    """The review rows of an export `record`, checked. `kept`: the position of each of the file's turns -> the idx
    the import gives it (blank turns are left out); `speakers`: each imported turn's speaker."""
    work = ReviewWork()

    def rows(key: str) -> list[tuple[str, dict[str, Any]]]:
        value = record.get(key) or []
        if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
            raise UserError(f'"{key}" is not a list of rows.', where=f"{path}: {key}", fix=FIX)
        return [(f"{path}: {key}[{i}]", row) for i, row in enumerate(value)]

    def text(row: dict[str, Any], key: str, where: str, *, required: bool = False) -> str:
        value = row.get(key)
        if value is not None and not isinstance(value, str):
            raise UserError(f'The row\'s "{key}" is not text: {value!r}.', where=where, fix=FIX)
        if required and not (value or "").strip():
            raise UserError(f'The row\'s "{key}" is missing or empty.', where=where, fix=FIX)
        return value or ""

    def checked(check, *args):
        """A rubric check as `sessions correct / rate` make it; its fix names their flags, not the file."""
        try:
            return check(*args)
        except UserError as error:
            raise UserError(error.what, where=error.where, fix=FIX) from None

    def when(row: dict[str, Any], where: str, key: str = "created_at") -> str:
        return checked_time(text(row, key, where, required=True), key, where)

    def turn(row: dict[str, Any], where: str) -> int:
        number = row.get("turn")  # the number every export gives a turn: its position in "turns", from 1
        if not isinstance(number, int) or isinstance(number, bool) or number - 1 not in kept:
            raise UserError(f"The row points at a turn the file does not have (turn {number!r}).", where=where,
                            fix=FIX)
        return kept[number - 1]

    for where, row in rows("annotations"):
        body = text(row, "body", where, required=True)[:MAX_NOTE]
        idx = None if row.get("turn") is None else turn(row, where)  # no turn: a note on the whole session
        work.notes.append({"turn_idx": idx, "body": body, "author": text(row, "author", where),
                           "created_at": when(row, where)})
    for where, row in rows("corrections"):
        idx = turn(row, where)
        rubric, code, detail = text(row, "rubric", where, required=True), text(row, "code", where, required=True), \
            text(row, "detail", where)
        typed = (f"{code}:{detail}" if rubric == "ctrs" and detail else  # as a supervisor would type it
                 f"{code} {detail}" if rubric == "mi" and detail in ("open", "closed") else code)
        code, detail = checked(resolve_code, rubric, speakers[idx], typed, where)
        work.corrections.append({"turn_idx": idx, "rubric": rubric, "code": code, "detail": detail,
                                 "author": text(row, "author", where), "created_at": when(row, where)})
    for where, row in rows("ratings"):
        score = row.get("score")
        if not isinstance(score, int) or isinstance(score, bool):
            raise UserError(f"The rating's score is {score!r}, not a whole number.", where=where, fix=FIX)
        rubric = text(row, "rubric", where, required=True)
        item = checked(resolve_rating, rubric, text(row, "item", where, required=True), score, where)
        work.ratings.append({"rubric": rubric, "item": item, "score": score, "author": text(row, "author", where),
                             "created_at": when(row, where)})
    session = record.get("session") if isinstance(record.get("session"), dict) else {}
    if session.get("reviewed_at"):
        where = f"{path}: session"
        work.reviewed = {"reviewed_at": when(session, where, "reviewed_at"),
                         "reviewed_by": text(session, "reviewed_by", where)}
    return work
