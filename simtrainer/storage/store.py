"""The one place that reads and writes session logs."""

from __future__ import annotations

import functools
import json
import secrets
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from simtrainer.config import data_dir
from simtrainer.errors import UserError
from simtrainer.storage.migrations import migrate


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_session_id() -> str:
    """Readable and sortable: start time plus a short random tail."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def _locked(method):
    """One connection shared by the UI thread and inference workers; calls take turns."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


class Store:
    """Sessions, turns, codes and annotations in one SQLite file (WAL, committed per write)."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.RLock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite_utils.Database(sqlite3.connect(path, check_same_thread=False))
            self.db.enable_wal()
            self.db.execute("PRAGMA foreign_keys = ON")
            migrate(self.db)
        except (OSError, sqlite3.OperationalError) as exc:
            raise UserError(
                f"Cannot open the session database: {exc}.",
                where=str(path),
                fix="Make the folder writable, or set SIMTRAINER_HOME to a folder you can write to.",
            ) from None
        except sqlite3.DatabaseError as exc:
            raise UserError(
                f"The session database is damaged: {exc}.",
                where=str(path),
                fix="Move the file aside (keep it for recovery) and simtrainer will start a new one.",
            ) from None

    @_locked
    def close(self) -> None:
        self.db.close()

    # sessions -------------------------------------------------------------------------------------------
    @_locked
    def create_session(self, *, scenario_id: str, scenario_title: str, modality: str, model: str, trainee: str) -> str:
        session_id = new_session_id()
        self.db["sessions"].insert(
            {
                "id": session_id,
                "scenario_id": scenario_id,
                "scenario_title": scenario_title,
                "modality": modality,
                "model": model,
                "trainee": trainee,
                "started_at": now(),
                "ended_at": None,
                "status": "active",
                "summary": None,
            }
        )
        return session_id

    @_locked
    def end_session(self, session_id: str, summary: dict[str, Any]) -> None:
        self.db["sessions"].update(
            session_id, {"ended_at": now(), "status": "ended", "summary": json.dumps(summary)}
        )

    @_locked
    def get_session(self, session_id: str) -> dict[str, Any]:
        rows = list(self.db["sessions"].rows_where("id = ? or id like ?", [session_id, f"%{session_id}"]))
        if len(rows) != 1:
            raise UserError(
                f"No session '{session_id}'." if not rows else f"'{session_id}' matches {len(rows)} sessions.",
                where=str(self.path),
                fix="Use an id from `simtrainer sessions list` (the random tail alone works when unique).",
            )
        return _session_dict(rows[0])

    @_locked
    def list_sessions(self, *, limit: int = 50, query: str | None = None) -> list[dict[str, Any]]:
        sql = (
            "select s.*, (select count(*) from turns t where t.session_id = s.id) as turn_count "
            "from sessions s"
        )
        params: list[Any] = []
        if query:
            sql += (
                " where s.id in (select t.session_id from turns t join turns_fts f on f.rowid = t.id "
                "where turns_fts match ?) or s.scenario_id like ? or s.trainee like ?"
            )
            params += [_fts_query(query), f"%{query}%", f"%{query}%"]
        sql += " order by s.started_at desc limit ?"
        params.append(limit)
        return [_session_dict(row) for row in self.db.query(sql, params)]

    # turns and codes --------------------------------------------------------------------------------------
    @_locked
    def add_turn(self, session_id: str, speaker: str, text: str, meta: dict[str, Any] | None = None) -> int:
        idx = self.db.execute("select coalesce(max(idx), -1) + 1 from turns where session_id = ?", [session_id])
        row = {
            "session_id": session_id,
            "idx": idx.fetchone()[0],
            "speaker": speaker,
            "text": text,
            "created_at": now(),
            "meta": json.dumps(meta or {}),
        }
        return self.db["turns"].insert(row).last_pk

    @_locked
    def add_codes(self, session_id: str, turn_id: int, codes: list[dict[str, Any]]) -> None:
        """Save codes (dicts with rubric, code, detail, confidence, scorer, reason) for one turn."""
        if codes:
            self.db["codes"].insert_all({"session_id": session_id, "turn_id": turn_id, **code} for code in codes)

    @_locked
    def turns(self, session_id: str) -> list[dict[str, Any]]:
        codes: dict[int, list[dict[str, Any]]] = {}
        for row in self.db["codes"].rows_where("session_id = ?", [session_id], order_by="id"):
            codes.setdefault(row["turn_id"], []).append(
                {k: row[k] for k in ("rubric", "code", "detail", "confidence", "scorer", "reason")}
            )
        out = []
        for row in self.db["turns"].rows_where("session_id = ?", [session_id], order_by="idx"):
            out.append({**row, "meta": json.loads(row["meta"] or "{}"), "codes": codes.get(row["id"], [])})
        return out

    # annotations -------------------------------------------------------------------------------------------
    @_locked
    def annotate(self, session_id: str, body: str, *, turn_id: int | None = None, author: str = "") -> int:
        return self.db["annotations"].insert(
            {"session_id": session_id, "turn_id": turn_id, "author": author, "body": body, "created_at": now()}
        ).last_pk

    @_locked
    def annotations(self, session_id: str) -> list[dict[str, Any]]:
        return list(self.db["annotations"].rows_where("session_id = ?", [session_id], order_by="id"))


def _session_dict(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["summary"] = json.loads(row["summary"]) if row.get("summary") else None
    return out


def _fts_query(text: str) -> str:
    """Quote each word so user text never breaks FTS syntax."""
    return " ".join('"' + word.replace('"', "") + '"' for word in text.split() if word.replace('"', ""))


def default_db_path() -> Path:
    return data_dir() / "sessions.db"


def open_store(path: Path | None = None) -> Store:
    return Store(path or default_db_path())
