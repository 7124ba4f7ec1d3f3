"""The project's CTRS-labelled data: trainee lines per item and level, composed into scored sessions.

Session file format for `simtrainer eval ctrs PATH` (JSON): a list of sessions, each
`{"id": "...", "trainee_turns": ["...", ...], "scores": {"agenda": 0-6, ... all 11 items}}`.
"""

from __future__ import annotations

import json
import random
import tomllib
from pathlib import Path

from simtrainer.errors import UserError
from simtrainer.resources import data_folder

ITEMS = ("agenda", "feedback", "understanding", "interpersonal_effectiveness", "collaboration", "pacing",
         "guided_discovery", "focus_on_key_cognitions", "strategy_for_change", "application_of_cb_techniques",
         "homework")
OPENING = ("agenda",)
CLOSING = ("strategy_for_change", "pacing", "feedback", "homework")


def folder() -> Path:
    return data_folder("models") / "ctrs-scorer"


def load_lines() -> dict:
    return tomllib.loads((folder() / "lines.toml").read_text(encoding="utf-8"))


def line_rows(pool: dict) -> list[tuple[str, str, int]]:
    """(line, item, level) for one pool."""
    return [(line, item, int(level)) for item, levels in pool.items() for level, lines in levels.items()
            for line in lines]


def compose_sessions(lines: dict, pool: str, count: int, seed: int) -> list[dict]:
    """Scripted sessions from poor to excellent: per item a level (0, 2, 4 or 6) around a session quality."""
    rng = random.Random(seed)
    pools, fillers = lines[pool], lines["fillers"][pool]
    sessions = []
    for n in range(count):
        quality = n / max(1, count - 1)  # 0 = poor ... 1 = excellent
        scores, chosen = {}, {}
        for item in ITEMS:
            level = min(6, max(0, 2 * round(3 * quality + rng.uniform(-1.2, 1.2))))
            scores[item] = level
            if level:
                chosen[item] = rng.choice(pools[item][str(level)])
        middle = [chosen[i] for i in ITEMS if i in chosen and i not in OPENING + CLOSING]
        middle += rng.sample(fillers, 3)
        rng.shuffle(middle)
        turns = [chosen[i] for i in OPENING if i in chosen] + middle + [chosen[i] for i in CLOSING if i in chosen]
        sessions.append({"id": f"{pool}-{n:02d}", "trainee_turns": turns, "scores": scores})
    return sessions


def read_sessions(path: Path) -> list[dict]:
    try:
        sessions = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError("The sessions file does not exist.", where=str(path), fix="Check the path.") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"Not valid JSON: {exc}", where=str(path), fix="See the README's CTRS data format.") from None
    for i, s in enumerate(sessions if isinstance(sessions, list) else [None]):
        if not isinstance(s, dict) or not {"trainee_turns", "scores"} <= set(s):
            raise UserError(f"Session {i} needs `trainee_turns` and `scores`.", where=str(path),
                            fix="See the README's CTRS data format.")
        missing = set(ITEMS) - set(s["scores"])
        if missing:
            raise UserError(f"Session {i} lacks scores for {sorted(missing)}.", where=str(path),
                            fix="Score all 11 items, 0-6.")
    return sessions
