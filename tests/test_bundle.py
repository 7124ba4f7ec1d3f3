"""Hand-in bundles: a sealed bundle reads back; edits, truncation and foreign files are refused by name."""

import json

import pytest

from simtrainer.classroom.bundle import read_bundle, write_bundle
from simtrainer.errors import UserError


def payload() -> dict:
    return {
        "created_at": "2026-12-01T10:00:00+00:00",
        "simtrainer_version": "0.1.0",
        "exercise": {"id": "mi-open", "title": "Open questions", "pack_sha256": "ab" * 32},
        "trainee": "Ana Lima",
        "session": {"id": 3, "scenario": "mi-alcohol-nurse"},
        "turns": [{"turn": 1, "speaker": "trainee", "text": "What brings you here — café talk?"}],
        "summary": {"trainee_turns": 1},
        "goals": [{"key": "rq_min", "met": True}],
    }


def test_round_trip_keeps_every_field(tmp_path):
    path = tmp_path / "b.json"
    sealed = write_bundle(payload(), path)
    back = read_bundle(path)
    assert back == sealed
    assert back["turns"][0]["text"] == "What brings you here — café talk?"
    assert back["checksum"].startswith("sha256:")
    assert not list(tmp_path.glob("*.part"))


@pytest.mark.parametrize(
    "spoil, reason",
    [
        (lambda text: text.replace("Ana Lima", "Ana Lina"), "checksum mismatch"),
        (lambda text: text[: len(text) // 2], "truncated"),
        (lambda text: text.replace('"simtrainer-exercise-bundle"', '"other"'), "not a simtrainer hand-in bundle"),
        (lambda text: text.replace('"schema_version": 1', '"schema_version": 9'), "schema version 9"),
    ],
)
def test_spoiled_bundle_is_refused_with_its_reason(tmp_path, spoil, reason):
    path = tmp_path / "b.json"
    write_bundle(payload(), path)
    path.write_text(spoil(path.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(UserError) as err:
        read_bundle(path)
    assert reason in err.value.what
    assert str(path) in err.value.where


def test_missing_field_is_named(tmp_path):
    path = tmp_path / "b.json"
    sealed = write_bundle(payload(), path)
    del sealed["goals"]
    path.write_text(json.dumps(sealed), encoding="utf-8")
    with pytest.raises(UserError) as err:
        read_bundle(path)
    assert "goals" in err.value.what
