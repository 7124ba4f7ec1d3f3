import sqlite3

import pytest

from simtrainer.errors import UserError
from simtrainer.storage import Store
from simtrainer.storage.migrations import MIGRATIONS, migrate


def test_blank_database_schema(tmp_path):
    store = Store(tmp_path / "s.db")
    db = store.db
    assert {"sessions", "turns", "codes", "annotations", "_migrations", "turns_fts"} <= set(db.table_names())
    assert set(db["sessions"].columns_dict) == {
        "id", "scenario_id", "scenario_title", "modality", "model", "trainee", "started_at", "ended_at",
        "status", "summary",
    }
    assert set(db["turns"].columns_dict) == {"id", "session_id", "idx", "speaker", "text", "created_at", "meta"}
    assert set(db["codes"].columns_dict) == {
        "id", "turn_id", "session_id", "rubric", "code", "detail", "confidence", "scorer", "reason",
    }
    assert set(db["annotations"].columns_dict) == {"id", "session_id", "turn_id", "author", "body", "created_at"}
    assert [r["name"] for r in db["_migrations"].rows] == [name for name, _ in MIGRATIONS]
    assert db.execute("pragma journal_mode").fetchone()[0] == "wal"
    assert migrate(db) == []  # idempotent


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
