"""Numbered schema migrations, applied in order and recorded in the `_migrations` table.

Never edit a migration that has shipped; add a new one. `tests/test_storage.py` checks the schema a blank
database ends up with. A database that records a migration this version does not know was written by a newer
simtrainer; it is refused rather than misread.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlite_utils

MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = []


def migration(fn: Callable[[sqlite_utils.Database], None]) -> Callable[[sqlite_utils.Database], None]:
    MIGRATIONS.append((fn.__name__, fn))
    return fn


@migration
def m001_initial(db: sqlite_utils.Database) -> None:
    db["sessions"].create(
        {
            "id": str,
            "scenario_id": str,
            "scenario_title": str,
            "modality": str,
            "model": str,
            "trainee": str,
            "started_at": str,
            "ended_at": str,
            "status": str,
            "summary": str,
        },
        pk="id",
        not_null={"scenario_id", "started_at", "status"},
    )
    db["turns"].create(
        {
            "id": int,
            "session_id": str,
            "idx": int,
            "speaker": str,
            "text": str,
            "created_at": str,
            "meta": str,
        },
        pk="id",
        foreign_keys=[("session_id", "sessions", "id")],
        not_null={"session_id", "idx", "speaker", "text"},
    )
    db["turns"].create_index(["session_id", "idx"], unique=True)
    db["codes"].create(
        {
            "id": int,
            "turn_id": int,
            "session_id": str,
            "rubric": str,
            "code": str,
            "detail": str,
            "confidence": float,
            "scorer": str,
            "reason": str,
        },
        pk="id",
        foreign_keys=[("turn_id", "turns", "id"), ("session_id", "sessions", "id")],
        not_null={"turn_id", "session_id", "rubric", "code"},
    )
    db["codes"].create_index(["session_id"])
    db["codes"].create_index(["turn_id"])
    db["annotations"].create(
        {"id": int, "session_id": str, "turn_id": int, "author": str, "body": str, "created_at": str},
        pk="id",
        foreign_keys=[("session_id", "sessions", "id"), ("turn_id", "turns", "id")],
        not_null={"session_id", "body"},
    )


# What sqlite-utils' `enable_fts(["text"], create_triggers=True)` creates, as separate statements: its own
# executescript() may commit, which would break migrate's single transaction under some sqlite-utils versions.
SEARCH_SQL = (
    'CREATE VIRTUAL TABLE "turns_fts" USING FTS5 (\n    "text",\n    content="turns"\n)',
    'INSERT INTO "turns_fts" (rowid, "text")\n    SELECT rowid, "text" FROM "turns";',
    'CREATE TRIGGER "turns_ai" AFTER INSERT ON "turns" BEGIN\n'
    '  INSERT INTO "turns_fts" (rowid, "text") VALUES (new.rowid, new."text");\nEND;',
    'CREATE TRIGGER "turns_ad" AFTER DELETE ON "turns" BEGIN\n'
    '  INSERT INTO "turns_fts" ("turns_fts", rowid, "text") VALUES(\'delete\', old.rowid, old."text");\nEND;',
    'CREATE TRIGGER "turns_au" AFTER UPDATE ON "turns" BEGIN\n'
    '  INSERT INTO "turns_fts" ("turns_fts", rowid, "text") VALUES(\'delete\', old.rowid, old."text");\n'
    '  INSERT INTO "turns_fts" (rowid, "text") VALUES (new.rowid, new."text");\nEND;',
)


@migration
def m002_turns_fts(db: sqlite_utils.Database) -> None:
    for statement in SEARCH_SQL:
        db.conn.execute(statement)


@migration
def m003_session_owner(db: sqlite_utils.Database) -> None:
    """The process running an active session (see `owner.py`), so a dead one can be marked interrupted."""
    db["sessions"].add_column("owner", str)


@migration
def m004_review(db: sqlite_utils.Database) -> None:
    """A supervisor's review, kept beside what the coders wrote and never over it: code corrections per turn,
    hand ratings of a rubric's global items, and who marked the session reviewed, when. Turns are referred to
    by their `idx` (what `sessions show` prints as the turn number, minus one)."""
    db["sessions"].add_column("reviewed_at", str)
    db["sessions"].add_column("reviewed_by", str)
    db["corrections"].create(
        {"id": int, "session_id": str, "turn_idx": int, "rubric": str, "code": str, "detail": str, "author": str,
         "created_at": str},
        pk="id",
        foreign_keys=[("session_id", "sessions", "id")],
        not_null={"session_id", "turn_idx", "rubric", "code", "created_at"},
    )
    db["corrections"].create_index(["session_id", "turn_idx"])
    db["ratings"].create(
        {"id": int, "session_id": str, "rubric": str, "item": str, "score": int, "author": str, "created_at": str},
        pk="id",
        foreign_keys=[("session_id", "sessions", "id")],
        not_null={"session_id", "rubric", "item", "score", "created_at"},
    )
    db["ratings"].create_index(["session_id"])


@migration
def m005_session_exercise(db: sqlite_utils.Database) -> None:
    """The exercise pack a session was run for (JSON: id, title, pack hash, limits, goals), so it can be handed
    in and checked against that pack; NULL for a session without a pack."""
    db["sessions"].add_column("exercise", str)


@migration
def m006_classes(db: sqlite_utils.Database) -> None:
    """An instructor's classes and the hand-in bundles imported into each. A class is tied to one exercise
    (id and pack hash) at its first import; each bundle is kept whole, as the student's file held it, so the
    class report can always be rebuilt, and is keyed on its checksum, so importing it again adds nothing."""
    db.conn.execute(
        "create table classes (id integer primary key, name text not null collate nocase unique, "
        "exercise_id text not null, exercise_title text, pack_sha256 text not null, created_at text not null)"
    )
    db["class_bundles"].create(
        {"id": int, "class_id": int, "checksum": str, "trainee": str, "session_id": str, "source": str,
         "imported_at": str, "bundle": str},
        pk="id",
        foreign_keys=[("class_id", "classes", "id")],
        not_null={"class_id", "checksum", "trainee", "imported_at", "bundle"},
    )
    db["class_bundles"].create_index(["class_id", "checksum"], unique=True)


class NewerSchema(Exception):
    """The database records migrations this version does not have."""

    def __init__(self, names: list[str]):
        super().__init__(", ".join(names))
        self.names = names


FTS_TRIGGERS = ("turns_ai", "turns_ad", "turns_au")


def _repair_search(db: sqlite_utils.Database) -> bool:
    """Rebuild the transcript search table (and its triggers) if it was dropped; True when it was."""
    names = {row[0] for row in db.conn.execute("select name from sqlite_master where type in ('table', 'trigger')")}
    if "turns_fts" in names and names.issuperset(FTS_TRIGGERS):
        return False
    for trigger in FTS_TRIGGERS:  # triggers left behind would fail every insert into turns
        db.conn.execute(f"drop trigger if exists {trigger}")
    if "turns_fts" in names:
        db.conn.execute("drop table turns_fts")
    m002_turns_fts(db)
    return True


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply the migrations this database lacks, in one transaction; return their names.

    The write lock is taken first (BEGIN IMMEDIATE), so processes opening a new database at once (a classroom,
    or a reviewer beside a running session) apply each migration exactly once. A dropped search table is
    rebuilt from the turns. Raises `NewerSchema` for a database from a newer version.
    """
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("create table if not exists _migrations (name text primary key, applied_at text)")
        done = {row[0] for row in conn.execute("select name from _migrations")}
        unknown = sorted(done - {name for name, _ in MIGRATIONS})
        if unknown:
            raise NewerSchema(unknown)
        applied = []
        for name, fn in MIGRATIONS:
            if name in done:
                continue
            fn(db)
            if not conn.in_transaction:
                raise RuntimeError(f"migration {name} committed on its own; it must run inside migrate's transaction")
            conn.execute("insert into _migrations values (?, ?)", [name, datetime.now(UTC).isoformat()])
            applied.append(name)
        if "m002_turns_fts" in done:
            _repair_search(db)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return applied
