"""The one place that reads and writes session logs; every write is one transaction that waits its turn."""

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
from simtrainer.storage import owner
from simtrainer.storage.guard import WAIT_S, retrying, storage_error
from simtrainer.storage.migrations import NewerSchema, migrate
from simtrainer.storage.private import private_dir, private_file


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_session_id() -> str:
    """Readable and sortable: start time plus a short random tail."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def _reads(method):
    """One connection is shared by the UI thread and inference workers: calls take turns, and wait out other
    processes' locks within a bound."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return retrying(lambda: method(self, *args, **kwargs), self.path, self.wait_s)

    return wrapper


def _writes(method):
    """As `_reads`, inside one transaction that takes the write lock first (BEGIN IMMEDIATE), so a write never
    fails at once on a lock it could have waited for; the whole write is retried while another process holds it."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        def attempt():
            conn = self.db.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = method(self, *args, **kwargs)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return result

        with self._lock:
            return retrying(attempt, self.path, self.wait_s)

    return wrapper


class Store:
    """Sessions, turns, codes, annotations and reviews in one SQLite file (WAL, committed per write).

    A session's status is 'active' while its process runs it; 'ended' once ended with at least one trainee turn
    (scored: the summary is saved); 'abandoned' when ended before any trainee turn (kept, never scored);
    'interrupted' when its process stopped first (a kill, a crash, quitting the app). An interrupted session can
    be resumed, which makes it active again.
    """

    def __init__(self, path: Path, *, wait_s: float = WAIT_S):
        self.path = path
        self.wait_s = wait_s
        self._lock = threading.RLock()
        try:
            private_dir(path.parent)
            private_file(path)
        except OSError as exc:
            raise UserError(
                f"Cannot open the session database: {exc.strerror}.",
                where=str(path),
                fix="Make the folder writable, or set SIMTRAINER_HOME to a folder you can write to.",
            ) from None
        try:
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=min(5.0, wait_s))
        except sqlite3.Error as exc:
            raise storage_error(exc, path, wait_s) from None
        self.db = sqlite_utils.Database(conn)
        try:
            retrying(self._prepare, path, wait_s)
        except BaseException:
            conn.close()
            raise
        self.reap()

    def _prepare(self) -> None:
        conn = self.db.conn
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = wal")
        conn.execute("PRAGMA foreign_keys = ON")
        try:
            migrate(self.db)
        except NewerSchema as exc:
            raise UserError(
                f"The session database was written by a newer simtrainer (it has {exc}, which this version does "
                "not know).",
                where=str(self.path),
                fix="Upgrade simtrainer (pip install -U simtrainer), or set SIMTRAINER_HOME to a separate folder "
                "for this version.",
            ) from None

    @_reads
    def close(self) -> None:
        self.db.close()

    def _rows(self, sql: str, params: list[Any] | tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        cursor = self.db.conn.execute(sql, params)
        keys = [d[0] for d in cursor.description]
        return [dict(zip(keys, row, strict=True)) for row in cursor.fetchall()]

    # sessions -------------------------------------------------------------------------------------------
    @_writes
    def create_session(self, *, scenario_id: str, scenario_title: str, modality: str, model: str, trainee: str,
                       exercise: dict[str, Any] | None = None, started_at: str | None = None) -> str:
        """A new active session; `exercise` is the pack it runs for (`classroom.pack.Pack.record`), if any;
        `started_at` when it was practised, if not now (an imported export's)."""
        row = {"scenario_id": scenario_id, "scenario_title": scenario_title, "modality": modality, "model": model,
               "trainee": trainee, "status": "active", "owner": owner.this_process()}
        if exercise is not None:  # the column is written only for exercise sessions
            row["exercise"] = json.dumps(exercise)
        for _ in range(20):
            session_id = new_session_id()
            values = {"id": session_id, "started_at": started_at or now(), **row}
            try:
                self.db.conn.execute(
                    f"insert into sessions ({', '.join(values)}) values ({', '.join('?' * len(values))})",
                    list(values.values()),
                )
            except sqlite3.IntegrityError:
                continue  # a session started in the same second drew the same random tail
            return session_id
        raise RuntimeError("no free session id after 20 draws")

    @_writes
    def end_session(self, session_id: str, summary: dict[str, Any] | None) -> None:
        """Close a session: scored with `summary`, or, with None, 'abandoned' (no trainee turn to score)."""
        status = "ended" if summary is not None else "abandoned"
        self.db.conn.execute(
            "update sessions set ended_at = ?, status = ?, summary = ? where id = ?",
            [now(), status, None if summary is None else json.dumps(summary), session_id],
        )

    @_writes
    def import_session(self, *, turns: list[tuple[str, str, dict[str, Any], list[dict[str, Any]]]],
                       summary: dict[str, Any], review: dict[str, Any] | None = None, ended_at: str | None = None,
                       **session: str) -> str:
        """Store a transcript coded elsewhere whole, in one transaction, so it is never half-imported: the
        session (`create_session`'s fields), its turns as (speaker, text, meta, code rows), ended with `summary`,
        with the `review` rows its file carried (`add_review`'s arguments) and, for an export, the time it
        ended where it was practised (`ended_at`). The other writes run unwrapped
        (`__wrapped__`) inside this one's transaction."""
        session_id = Store.create_session.__wrapped__(self, **session)
        for speaker, text, meta, codes in turns:
            turn_id = Store.add_turn.__wrapped__(self, session_id, speaker, text, meta)
            Store.add_codes.__wrapped__(self, session_id, turn_id, codes)
        Store.end_session.__wrapped__(self, session_id, summary)
        if ended_at:  # when the session ended where it was practised, not the import
            self.db.conn.execute("update sessions set ended_at = ? where id = ?", [ended_at, session_id])
        if review:
            Store.add_review.__wrapped__(self, session_id, **review)
        return session_id

    @_writes
    def add_review(self, session_id: str, *, notes: list[dict[str, Any]], corrections: list[dict[str, Any]],
                   ratings: list[dict[str, Any]], reviewed: dict[str, str] | None) -> None:
        """Review rows made elsewhere (an export's, `review/review_work.py`), with their own authors and times,
        in one transaction: notes by turn idx (None: on the session), corrections, ratings, the reviewed mark."""
        turn_ids = {row["idx"]: row["id"] for row in self._rows("select id, idx from turns where session_id = ?",
                                                                 [session_id])}
        conn = self.db.conn
        for n in notes:
            conn.execute("insert into annotations (session_id, turn_id, author, body, created_at) values (?, ?, ?, ?, ?)",
                         [session_id, turn_ids.get(n["turn_idx"]), n["author"], n["body"], n["created_at"]])
        for c in corrections:
            conn.execute("insert into corrections (session_id, turn_idx, rubric, code, detail, author, created_at) "
                         "values (?, ?, ?, ?, ?, ?, ?)",
                         [session_id, c["turn_idx"], c["rubric"], c["code"], c["detail"], c["author"], c["created_at"]])
        for r in ratings:
            conn.execute("insert into ratings (session_id, rubric, item, score, author, created_at) values (?, ?, ?, ?, ?, ?)",
                         [session_id, r["rubric"], r["item"], r["score"], r["author"], r["created_at"]])
        if reviewed:
            conn.execute("update sessions set reviewed_at = ?, reviewed_by = ? where id = ?",
                         [reviewed["reviewed_at"], reviewed["reviewed_by"], session_id])

    @_reads
    def copies_of(self, origin: str) -> list[str]:
        """Sessions here that are the session `origin`: itself, or an import of its export."""
        rows = self._rows("select id from sessions where id = ? union select session_id as id from turns "
                          "where idx = 0 and json_extract(meta, '$.origin') = ?", [origin, origin])
        return [row["id"] for row in rows]

    @_writes
    def interrupt_session(self, session_id: str) -> None:
        """Mark a session this process was running as interrupted (its process is about to stop running it)."""
        self.db.conn.execute(
            "update sessions set status = 'interrupted' where id = ? and status = 'active' and owner = ?",
            [session_id, owner.this_process()],
        )

    @_writes
    def claim_session(self, session_id: str) -> bool:
        """Make an interrupted session active again under this process; False if it was not interrupted (another
        process may have just resumed it)."""
        cursor = self.db.conn.execute(
            "update sessions set status = 'active', owner = ? where id = ? and status = 'interrupted'",
            [owner.this_process(), session_id],
        )
        return cursor.rowcount == 1

    @_writes
    def release(self) -> list[str]:
        """Mark every session this process still runs as interrupted (the app quits or fails); returns their ids."""
        me = owner.this_process()
        ids = [r[0] for r in self.db.conn.execute("select id from sessions where status = 'active' and owner = ?",
                                                  [me])]
        self.db.conn.execute("update sessions set status = 'interrupted' where status = 'active' and owner = ?", [me])
        return ids

    def reap(self) -> list[str]:
        """Mark active sessions whose process is gone (killed, crashed) as interrupted; returns their ids."""
        with self._lock:
            active = retrying(
                lambda: self.db.conn.execute("select id, owner from sessions where status = 'active'").fetchall(),
                self.path, self.wait_s,
            )
            gone = [(sid, who) for sid, who in active if owner.is_gone(who)]
            if gone:
                self._mark_gone(gone)
        return [sid for sid, _ in gone]

    @_writes
    def _mark_gone(self, gone: list[tuple[str, str | None]]) -> None:
        for sid, who in gone:  # `owner is ?` guards against a resume that claimed it meanwhile
            self.db.conn.execute(
                "update sessions set status = 'interrupted' where id = ? and status = 'active' and owner is ?",
                [sid, who],
            )

    def get_session(self, session_id: str) -> dict[str, Any]:
        self.reap()
        return self._get_session(session_id)

    @_reads
    def _get_session(self, session_id: str) -> dict[str, Any]:
        rows = self._rows("select * from sessions where id = ? or id like ?", [session_id, f"%{session_id}"])
        if len(rows) != 1:
            raise UserError(
                f"No session '{session_id}'." if not rows else f"'{session_id}' matches {len(rows)} sessions.",
                where=str(self.path),
                fix="Use an id from `simtrainer sessions list` (the random tail alone works when unique).",
            )
        return _session_dict(rows[0])

    def list_sessions(self, *, limit: int = 50, query: str | None = None,
                      trainee: str | None = None) -> list[dict[str, Any]]:
        """Newest first; `query` searches transcripts, scenario ids and names; `trainee`: that person's only."""
        self.reap()
        return self._list_sessions(limit, query, trainee)

    @_reads
    def _list_sessions(self, limit: int, query: str | None, trainee: str | None) -> list[dict[str, Any]]:
        sql = (
            "select s.*, (select count(*) from turns t where t.session_id = s.id) as turn_count "
            "from sessions s where 1"
        )
        params: list[Any] = []
        if query:
            sql += (
                " and (s.id in (select t.session_id from turns t join turns_fts f on f.rowid = t.id "
                "where turns_fts match ?) or s.scenario_id like ? or s.trainee like ?)"
            )
            params += [_fts_query(query), f"%{query}%", f"%{query}%"]
        if trainee is not None:
            sql += " and s.trainee = ?"
            params.append(trainee)
        sql += " order by s.started_at desc limit ?"
        params.append(limit)
        return [_session_dict(row) for row in self._rows(sql, params)]

    # turns and codes --------------------------------------------------------------------------------------
    @_writes
    def add_turn(self, session_id: str, speaker: str, text: str, meta: dict[str, Any] | None = None) -> int:
        cursor = self.db.conn.execute(
            "insert into turns (session_id, idx, speaker, text, created_at, meta) values (?, (select "
            "coalesce(max(idx), -1) + 1 from turns where session_id = ?), ?, ?, ?, ?)",
            [session_id, session_id, speaker, text, now(), json.dumps(meta or {})],
        )
        return cursor.lastrowid

    @_writes
    def add_codes(self, session_id: str, turn_id: int, codes: list[dict[str, Any]]) -> None:
        """Save codes (dicts with rubric, code, detail, confidence, scorer, reason, uncertain, runner_up) for one
        turn."""
        self.db.conn.executemany(
            "insert into codes (session_id, turn_id, rubric, code, detail, confidence, scorer, reason, uncertain, "
            "runner_up) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [[session_id, turn_id, c["rubric"], c["code"], c.get("detail"), c.get("confidence"), c.get("scorer"),
              c.get("reason"), int(bool(c.get("uncertain"))), c.get("runner_up") or ""] for c in codes],
        )

    @_reads
    def turns(self, session_id: str) -> list[dict[str, Any]]:
        codes: dict[int, list[dict[str, Any]]] = {}
        for row in self._rows("select * from codes where session_id = ? order by id", [session_id]):
            codes.setdefault(row["turn_id"], []).append(
                {**{k: row[k] for k in ("rubric", "code", "detail", "confidence", "scorer", "reason", "runner_up")},
                 "uncertain": bool(row["uncertain"])}
            )
        out = []
        for row in self._rows("select * from turns where session_id = ? order by idx", [session_id]):
            out.append({**row, "meta": json.loads(row["meta"] or "{}"), "codes": codes.get(row["id"], [])})
        return out

    # annotations -------------------------------------------------------------------------------------------
    @_writes
    def annotate(self, session_id: str, body: str, *, turn_id: int | None = None, author: str = "") -> int:
        return self.db.conn.execute(
            "insert into annotations (session_id, turn_id, author, body, created_at) values (?, ?, ?, ?, ?)",
            [session_id, turn_id, author, body, now()],
        ).lastrowid

    @_reads
    def annotations(self, session_id: str) -> list[dict[str, Any]]:
        return self._rows("select * from annotations where session_id = ? order by id", [session_id])

    # a supervisor's review: rows beside the coders' codes, never over them ------------------------------------
    @_writes
    def add_correction(self, session_id: str, turn_idx: int, rubric: str, code: str, *, detail: str = "",
                       author: str = "") -> int:
        """Record a supervisor's code for one turn (by `idx`) and rubric; the latest one per turn and rubric
        counts (see `review/corrections.py`), earlier ones and the automatic codes stay."""
        return self.db.conn.execute(
            "insert into corrections (session_id, turn_idx, rubric, code, detail, author, created_at) "
            "values (?, ?, ?, ?, ?, ?, ?)",
            [session_id, turn_idx, rubric, code, detail, author, now()],
        ).lastrowid

    @_reads
    def corrections(self, session_id: str) -> list[dict[str, Any]]:
        """Every correction of a session, oldest first (by time: an imported review's rows keep theirs)."""
        return self._rows("select * from corrections where session_id = ? order by created_at, id", [session_id])

    @_writes
    def add_rating(self, session_id: str, rubric: str, item: str, score: int, *, author: str = "") -> int:
        """Record a hand rating of one of a rubric's global items (validated by the caller against the rubric)."""
        return self.db.conn.execute(
            "insert into ratings (session_id, rubric, item, score, author, created_at) values (?, ?, ?, ?, ?, ?)",
            [session_id, rubric, item, score, author, now()],
        ).lastrowid

    @_reads
    def ratings(self, session_id: str) -> list[dict[str, Any]]:
        """Every hand rating of a session, oldest first (by time, as corrections)."""
        return self._rows("select * from ratings where session_id = ? order by created_at, id", [session_id])

    @_writes
    def mark_reviewed(self, session_id: str, author: str = "") -> None:
        """Mark a session reviewed now by `author`: its turns without a correction count as agreed with."""
        self.db.conn.execute("update sessions set reviewed_at = ?, reviewed_by = ? where id = ?",
                             [now(), author, session_id])

    # an instructor's classes: hand-in bundles kept whole (see `classroom/roster.py`) --------------------------
    @_reads
    def find_class(self, name: str) -> dict[str, Any] | None:
        """The class of this name (any case), or None."""
        rows = self._rows("select * from classes where name = ?", [name])
        return rows[0] if rows else None

    @_reads
    def classes(self) -> list[dict[str, Any]]:
        """Every class with its bundle count and how many distinct trainee names (any case) handed in."""
        return self._rows(
            "select c.*, count(b.id) as bundles, count(distinct lower(trim(b.trainee))) as students "
            "from classes c left join class_bundles b on b.class_id = c.id group by c.id order by c.name"
        )

    @_writes
    def add_class_bundles(self, name: str, exercise: dict[str, str], bundles: list[dict[str, Any]]) -> list[str]:
        """In one transaction: create the class tied to `exercise` (id, title, pack_sha256) unless it exists, then
        store each bundle (dicts with checksum, trainee, session_id, source, bundle) not already in it; returns
        the checksums stored. A class tied to another pack is refused (the caller checks first; this re-check
        covers another import that created the class meanwhile)."""
        found = self._rows("select * from classes where name = ?", [name])
        if not found:
            self.db.conn.execute(
                "insert into classes (name, exercise_id, exercise_title, pack_sha256, created_at) values (?, ?, ?, ?, ?)",
                [name, exercise["id"], exercise["title"], exercise["pack_sha256"], now()])
            found = self._rows("select * from classes where name = ?", [name])
        tied = found[0]
        if (tied["exercise_id"], tied["pack_sha256"]) != (exercise["id"], exercise["pack_sha256"]):
            raise UserError(f"Class '{tied['name']}' was tied to another exercise meanwhile.",
                            fix="Run the import again to see which bundles fit.")
        stored = []
        for b in bundles:
            cursor = self.db.conn.execute(
                "insert or ignore into class_bundles (class_id, checksum, trainee, session_id, source, imported_at, "
                "bundle) values (?, ?, ?, ?, ?, ?, ?)",
                [tied["id"], b["checksum"], b["trainee"], b["session_id"], b["source"], now(), b["bundle"]])
            if cursor.rowcount:
                stored.append(b["checksum"])
        return stored

    @_reads
    def class_bundles(self, class_id: int) -> list[dict[str, Any]]:
        """A class's bundles in import order, each with its stored JSON parsed under `bundle`."""
        rows = self._rows("select * from class_bundles where class_id = ? order by id", [class_id])
        return [{**row, "bundle": json.loads(row["bundle"])} for row in rows]

    @_writes
    def delete_session(self, session_id: str) -> dict[str, int]:
        """Delete a session and everything about it (turns, codes, notes, corrections, ratings) in one
        transaction; returns how many rows of each went."""
        counts = {}
        for table in ("codes", "annotations", "corrections", "ratings", "turns", "sessions"):
            column = "id" if table == "sessions" else "session_id"
            counts[table] = self.db.conn.execute(f"delete from {table} where {column} = ?", [session_id]).rowcount
        return counts


def _session_dict(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["summary"] = json.loads(row["summary"]) if row.get("summary") else None
    out["exercise"] = json.loads(row["exercise"]) if row.get("exercise") else None
    return out


def _fts_query(text: str) -> str:
    """Quote each word so user text never breaks FTS syntax."""
    return " ".join('"' + word.replace('"', "") + '"' for word in text.split() if word.replace('"', ""))


def default_db_path() -> Path:
    return data_dir() / "sessions.db"


def open_store(path: Path | None = None) -> Store:
    return Store(path or default_db_path())
