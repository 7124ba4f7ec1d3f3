import sqlite3

import pytest
import sqlite_utils

from simtrainer.errors import UserError
from simtrainer.storage import Store
from simtrainer.storage.migrations import MIGRATIONS, migrate


def test_blank_database_schema(tmp_path):
    store = Store(tmp_path / "s.db")
    db = store.db
    assert {"sessions", "turns", "codes", "annotations", "corrections", "ratings", "_migrations",
            "turns_fts"} <= set(db.table_names())
    assert set(db["sessions"].columns_dict) == {
        "id", "scenario_id", "scenario_title", "modality", "model", "trainee", "started_at", "ended_at",
        "status", "summary", "owner", "reviewed_at", "reviewed_by", "exercise",
    }
    assert set(db["turns"].columns_dict) == {"id", "session_id", "idx", "speaker", "text", "created_at", "meta"}
    assert set(db["codes"].columns_dict) == {
        "id", "turn_id", "session_id", "rubric", "code", "detail", "confidence", "scorer", "reason",
    }
    assert set(db["annotations"].columns_dict) == {"id", "session_id", "turn_id", "author", "body", "created_at"}
    assert set(db["corrections"].columns_dict) == {
        "id", "session_id", "turn_idx", "rubric", "code", "detail", "author", "created_at",
    }
    assert set(db["ratings"].columns_dict) == {"id", "session_id", "rubric", "item", "score", "author", "created_at"}
    assert set(db["classes"].columns_dict) == {"id", "name", "exercise_id", "exercise_title", "pack_sha256",
                                               "created_at"}
    assert set(db["class_bundles"].columns_dict) == {"id", "class_id", "checksum", "trainee", "session_id", "source",
                                                     "imported_at", "bundle"}
    assert [r["name"] for r in db["_migrations"].rows] == [name for name, _ in MIGRATIONS]
    assert db.execute("pragma journal_mode").fetchone()[0] == "wal"
    assert migrate(db) == []  # idempotent


def test_search_migration_matches_sqlite_utils(tmp_path):
    """m002 writes out the statements of sqlite-utils' enable_fts (so it runs inside one transaction); the
    schema is the same as the library's."""
    ours = Store(tmp_path / "ours.db").db
    theirs = sqlite_utils.Database(tmp_path / "theirs.db")
    MIGRATIONS[0][1](theirs)
    theirs["turns"].enable_fts(["text"], create_triggers=True)

    def schema(db):
        rows = db.execute("select name, sql from sqlite_master where name like 'turns%' order by name").fetchall()
        return [(name, " ".join((sql or "").split()).rstrip(";")) for name, sql in rows]

    assert schema(ours) == schema(theirs) and len(schema(ours)) > 5


def test_turns_codes_search_and_annotations(tmp_path):
    store = Store(tmp_path / "s.db")
    sid = store.create_session(scenario_id="x", scenario_title="X", modality="mi", model="m", trainee="ana")
    t0 = store.add_turn(sid, "patient", "I drink wine after shifts.")
    t1 = store.add_turn(sid, "trainee", "Wine helps you unwind.", {"k": 1})
    store.add_codes(sid, t1, [{"rubric": "mi", "code": "SR", "detail": "", "confidence": 0.9, "scorer": "s",
                                "reason": "r"}])
    store.annotate(sid, "Nice reflection", turn_id=t1, author="sup")
    turns = store.turns(sid)
    assert [t["idx"] for t in turns] == [0, 1]
    assert turns[1]["codes"][0]["code"] == "SR" and turns[1]["meta"] == {"k": 1}
    assert turns[0]["id"] == t0
    assert [s["id"] for s in store.list_sessions(query="unwind")] == [sid]
    assert store.list_sessions(query="bicycle") == []
    assert store.list_sessions(query='"quotes" (and) OR') == []  # user text never breaks FTS syntax
    assert store.annotations(sid)[0]["body"] == "Nice reflection"
    store.end_session(sid, {"ok": True})
    assert store.get_session(sid[-4:])["summary"] == {"ok": True}


def test_every_write_is_visible_to_another_connection(tmp_path):
    store = Store(tmp_path / "s.db")
    sid = store.create_session(scenario_id="x", scenario_title="X", modality="mi", model="m", trainee="")
    store.add_turn(sid, "trainee", "hello")
    other = sqlite3.connect(tmp_path / "s.db")
    assert other.execute("select count(*) from turns").fetchone()[0] == 1


def test_unknown_session(tmp_path):
    store = Store(tmp_path / "s.db")
    with pytest.raises(UserError, match="No session"):
        store.get_session("nope")


def test_data_path_blocked_by_a_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UserError) as info:
        Store(blocker / "s.db")
    assert "SIMTRAINER_HOME" in info.value.fix


def test_damaged_database(tmp_path):
    path = tmp_path / "s.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UserError, match="damaged"):
        Store(path)


def test_full_disk_is_a_message_and_nothing_is_half_written(tmp_path):
    """SQLITE_FULL, reproduced with max_page_count (a real tiny filesystem needs root)."""
    path = tmp_path / "s.db"
    store = Store(path)
    sid = store.create_session(scenario_id="x", scenario_title="X", modality="mi", model="m", trainee="")
    pages = store.db.execute("pragma page_count").fetchone()[0]
    store.db.execute(f"pragma max_page_count = {pages}")
    with pytest.raises(UserError) as info:
        store.add_turn(sid, "trainee", "words " * 50_000)
    assert "disk" in info.value.what and "full" in info.value.what
    assert info.value.where == str(path) and "--resume" in info.value.fix
    assert store.turns(sid) == []


def test_database_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "s.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("insert into _migrations values ('m042_rename_turn_text', '2030-01-01')")
    conn.commit()
    conn.close()
    with pytest.raises(UserError) as info:
        Store(path)
    assert "newer simtrainer" in info.value.what and "m042_rename_turn_text" in info.value.what
    assert info.value.where == str(path) and "Upgrade" in info.value.fix


def test_newer_database_exits_2_from_the_cli(home):
    from conftest import run_cli

    assert run_cli("sessions", "list").returncode == 0
    conn = sqlite3.connect(home / "data" / "sessions.db")
    conn.execute("insert into _migrations values ('m042_rename_turn_text', '2030-01-01')")
    conn.commit()
    conn.close()
    result = run_cli("sessions", "list")
    assert result.returncode == 2 and "newer simtrainer" in result.stderr and "Traceback" not in result.stderr


def test_dropped_search_table_is_rebuilt(tmp_path):
    path = tmp_path / "s.db"
    store = Store(path)
    sid = store.create_session(scenario_id="x", scenario_title="X", modality="mi", model="m", trainee="")
    store.add_turn(sid, "patient", "I drink wine after shifts.")
    store.close()
    conn = sqlite3.connect(path)
    conn.execute("drop table turns_fts")
    conn.commit()
    conn.close()
    store = Store(path)
    assert [s["id"] for s in store.list_sessions(query="wine")] == [sid]
    store.add_turn(sid, "trainee", "What about the bicycle?")  # the search triggers work again
    assert [s["id"] for s in store.list_sessions(query="bicycle")] == [sid]


def test_locked_database_says_it_is_in_use(tmp_path):
    path = tmp_path / "s.db"
    store = Store(path, wait_s=0.3)
    sid = store.create_session(scenario_id="x", scenario_title="X", modality="mi", model="m", trainee="")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(UserError) as info:
            store.add_turn(sid, "trainee", "hello")
        assert "in use by another process" in info.value.what and info.value.where == str(path)
        assert "writable" not in info.value.fix
        with pytest.raises(UserError, match="in use by another process"):
            Store(path, wait_s=0.3)  # opening migrates under the write lock too
    finally:
        other.execute("ROLLBACK")
    store.add_turn(sid, "trainee", "hello")  # once the other process lets go, writes go through
    assert [t["text"] for t in store.turns(sid)] == ["hello"]


def test_a_write_waits_for_another_writer(tmp_path):
    """A write that meets the lock waits (bounded) instead of failing at once."""
    import threading

    path = tmp_path / "s.db"
    store = Store(path)
    sid = store.create_session(scenario_id="x", scenario_title="X", modality="mi", model="m", trainee="")
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("insert into turns (session_id, idx, speaker, text) values (?, 0, 'patient', 'first')", [sid])
    done = []
    writer = threading.Thread(target=lambda: done.append(store.add_turn(sid, "trainee", "second")))
    writer.start()
    other.execute("COMMIT")
    writer.join(timeout=60)
    assert done and [t["text"] for t in store.turns(sid)] == ["first", "second"]


def test_two_sessions_drawing_the_same_id_both_start(tmp_path, monkeypatch):
    ids = iter(["20260101-000000-aaaa", "20260101-000000-aaaa", "20260101-000000-bbbb"])
    monkeypatch.setattr("simtrainer.storage.store.new_session_id", lambda: next(ids))
    store = Store(tmp_path / "s.db")
    first = store.create_session(scenario_id="x", scenario_title="X", modality="mi", model="m", trainee="")
    second = store.create_session(scenario_id="x", scenario_title="X", modality="mi", model="m", trainee="")
    assert (first, second) == ("20260101-000000-aaaa", "20260101-000000-bbbb")
