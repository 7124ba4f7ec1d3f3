"""The project's CTRS-labelled data: hand-written CBT sessions with both speakers, rated on all 11 items
(models/ctrs-scorer/sessions-both-*.json, the training set; sessions-heldout-both.json, kept out of training), and
trainee lines per item and level (lines.toml) for the per-turn badges.

Session file format for `simtrainer eval ctrs PATH` (JSON): a list of sessions, each either
`{"id": "...", "turns": [{"speaker": "therapist"|"patient", "text": "..."}, ...], "scores": {...}}` or the older
`{"id": "...", "trainee_turns": ["...", ...], "scores": {...}}`, with "scores" giving all 11 items 0-6.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from simtrainer.errors import UserError
from simtrainer.resources import data_folder

ITEMS = ("agenda", "feedback", "understanding", "interpersonal_effectiveness", "collaboration", "pacing",
         "guided_discovery", "focus_on_key_cognitions", "strategy_for_change", "application_of_cb_techniques",
         "homework")
SPEAKERS = {"therapist": "therapist", "trainee": "therapist", "patient": "patient"}
FORMAT_FIX = "See the README's CTRS data format."


def folder() -> Path:
    return data_folder("models") / "ctrs-scorer"


def load_lines() -> dict:
    return tomllib.loads((folder() / "lines.toml").read_text(encoding="utf-8"))


def line_rows(pool: dict) -> list[tuple[str, str, int]]:
    """(line, item, level) for one pool."""
    return [(line, item, int(level)) for item, levels in pool.items() for level, lines in levels.items()
            for line in lines]


def training_sessions() -> list[dict]:
    return [s for path in sorted(folder().glob("sessions-both-*.json")) for s in read_sessions(path)]


def session_turns(session: dict) -> list[tuple[str, str]]:
    """(speaker, text) pairs, speaker "therapist" or "patient", from either session format."""
    if "turns" in session:
        return [(SPEAKERS[t["speaker"]], t["text"]) for t in session["turns"]]
    return [("therapist", t) for t in session["trainee_turns"]]


def read_sessions(path: Path) -> list[dict]:
    try:
        sessions = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError("The sessions file does not exist.", where=str(path), fix="Check the path.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"The sessions file cannot be read ({exc}).", where=str(path), fix="Check the file.") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"Not valid JSON: {exc}", where=str(path), fix=FORMAT_FIX) from None
    if not isinstance(sessions, list) or not sessions:
        raise UserError("Expected a non-empty JSON list of sessions.", where=str(path), fix=FORMAT_FIX)
    for i, s in enumerate(sessions):
        name = f"Session {i}" + (f" ({s['id']})" if isinstance(s, dict) and isinstance(s.get("id"), str) else "")
        if not isinstance(s, dict) or "scores" not in s or not ({"turns", "trainee_turns"} & set(s)):
            raise UserError(f"{name} needs `turns` (or `trainee_turns`) and `scores`.", where=str(path),
                            fix=FORMAT_FIX)
        _check_turns(s, name, path)
        scores = s["scores"]
        missing = set(ITEMS) - set(scores) if isinstance(scores, dict) else set(ITEMS)
        if missing:
            raise UserError(f"{name} lacks scores for {sorted(missing)}.", where=str(path),
                            fix="Score all 11 items, 0-6.")
        bad = [i for i in ITEMS if not isinstance(scores[i], int) or isinstance(scores[i], bool)
               or not 0 <= scores[i] <= 6]
        if bad:
            raise UserError(f"{name}: scores for {bad} are not whole numbers 0-6.", where=str(path),
                            fix="Score all 11 items, 0-6.")
    return sessions


def _check_turns(s: dict, name: str, path: Path) -> None:
    if "turns" in s:
        turns = s["turns"]
        ok = isinstance(turns, list) and all(
            isinstance(t, dict) and t.get("speaker") in SPEAKERS and isinstance(t.get("text"), str) for t in turns)
        what = 'a list of {"speaker": "therapist" or "patient", "text": "..."}'
    else:
        turns = s["trainee_turns"]
        ok = isinstance(turns, list) and all(isinstance(t, str) for t in turns)
        what = "a list of strings"
    if not ok:
        raise UserError(f"{name}: its turns must be {what}.", where=str(path), fix=FORMAT_FIX)
