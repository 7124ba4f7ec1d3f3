"""Numbered schema migrations, applied in order and recorded in the `_migrations` table.

Never edit a migration that has shipped; add a new one. `tests/test_storage.py` checks the schema a blank
database ends up with.
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


@migration
def m002_turns_fts(db: sqlite_utils.Database) -> None:
    db["turns"].enable_fts(["text"], create_triggers=True)


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply the migrations this database lacks; return their names.

    The write lock is taken first (BEGIN IMMEDIATE), so two processes opening a new database at once (a
    classroom, or a reviewer beside a running session) apply each migration exactly once.
    """
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("create table if not exists _migrations (name text primary key, applied_at text)")
        done = {row[0] for row in conn.execute("select name from _migrations")}
        applied = []
        for name, fn in MIGRATIONS:
            if name in done:
                continue
            if not conn.in_transaction:  # some sqlite-utils calls commit on their own
                conn.execute("BEGIN IMMEDIATE")
            fn(db)
            conn.execute("insert into _migrations values (?, ?)", [name, datetime.now(UTC).isoformat()])
            applied.append(name)
        if conn.in_transaction:
            conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return applied
