"""Waiting out other writers, and SQLite failures as messages a user can act on.

Many processes may share one database (a classroom's trainees, a reviewer beside a running session). SQLite's
busy timeout does not cover every case: in WAL mode a transaction that read first and then writes fails at once
with SQLITE_BUSY. So every write takes the write lock up front (BEGIN IMMEDIATE, which does wait) and the whole
operation is retried with a jittered back-off until `wait_s` has passed.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from simtrainer.errors import UserError

T = TypeVar("T")

WAIT_S = 30.0  # how long one operation may wait for other processes before it is reported
RESUME_HINT = "an interrupted session then continues with `simtrainer practice --resume ID`"


def _code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def is_busy(exc: sqlite3.Error) -> bool:
    """Another connection holds a lock (SQLITE_BUSY / SQLITE_LOCKED): worth waiting for."""
    code = _code(exc)
    if code is not None:
        return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


def retrying(operation: Callable[[], T], path: Path, wait_s: float = WAIT_S) -> T:
    """Run `operation`, again while the database is busy, until `wait_s`; SQLite errors become `UserError`s."""
    deadline = time.monotonic() + wait_s
    delay = 0.005
    while True:
        try:
            return operation()
        except sqlite3.Error as exc:
            if not (is_busy(exc) and time.monotonic() < deadline):
                raise storage_error(exc, path, wait_s) from None
        time.sleep(delay * random.uniform(0.5, 1.5))
        delay = min(delay * 2, 0.25)


def storage_error(exc: sqlite3.Error, path: Path, wait_s: float = WAIT_S) -> UserError | sqlite3.Error:
    """What went wrong with the database file, where, and what to do; unknown errors are returned unchanged."""
    where = str(path)
    code = _code(exc)
    text = str(exc)
    if is_busy(exc):
        return UserError(
            f"The session database is in use by another process: it stayed locked for {wait_s:g} s.",
            where=where,
            fix="Wait for the other simtrainer (or a database browser or backup tool holding this file) to "
            "finish, or close it, then try again.",
        )
    if code == sqlite3.SQLITE_FULL or "disk is full" in text:
        return UserError(
            "The disk holding the session database is full; nothing more can be saved.",
            where=where,
            fix=f"Free some space on that disk (or set SIMTRAINER_HOME to a folder on another disk); {RESUME_HINT}.",
        )
    if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_IOERR) or (
        "readonly" in text or "unable to open" in text
    ):
        return UserError(
            f"Cannot open or write the session database: {text}.",
            where=where,
            fix="Make the folder and file writable by you, or set SIMTRAINER_HOME to a folder you can write to.",
        )
    if code in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT) or "malformed" in text or "not a database" in text:
        return UserError(
            f"The session database is damaged: {text}.",
            where=where,
            fix="Move the file aside (keep it for recovery) and simtrainer will start a new one.",
        )
    return exc
