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
    """Apply the migrations this database lacks; return their names."""
    if "_migrations" not in db.table_names():
        db["_migrations"].create({"name": str, "applied_at": str}, pk="name")
    done = {row["name"] for row in db["_migrations"].rows}
    applied = []
    for name, fn in MIGRATIONS:
        if name in done:
            continue
        with db.conn:
            fn(db)
            db["_migrations"].insert({"name": name, "applied_at": datetime.now(UTC).isoformat()})
        applied.append(name)
    return applied
