"""Load and validate persona cards. A broken card is reported with file, field and fix, and never hides
the good ones."""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from simtrainer.config import Settings, data_dir
from simtrainer.errors import UserError
from simtrainer.resources import data_folder
from simtrainer.scenarios.card import Card


@dataclass(frozen=True)
class CardProblem:
    file: str
    field: str
    message: str
    fix: str

    def render(self) -> str:
        return f"{self.file}: {self.field}: {self.message}\n  fix: {self.fix}"


def _fix_for(error: dict) -> str:
    kind = error["type"]
    field = ".".join(str(p) for p in error["loc"])
    if kind == "missing":
        return f"add `{field.split('.')[-1]} = ...` (see scenarios/README.md for every key)"
    if kind == "extra_forbidden":
        return "remove this key or correct its spelling (unknown keys are not allowed)"
    if kind == "literal_error":
        return f"use {error['ctx']['expected']}"
    if kind in ("too_short", "string_too_short"):
        return "this needs more content"
    if kind == "string_pattern_mismatch":
        return "use lowercase letters, digits and dashes, e.g. mi-alcohol-nurse"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return f"give a value of the right type ({error['msg'].lower()})"
    return "correct the value"


def parse_card(path: Path) -> tuple[Card | None, list[CardProblem]]:
    """Parse one card file; returns the card or the problems found in it."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return None, [CardProblem(str(path), "(file)", f"cannot read: {exc.strerror}", "check the path")]
    except UnicodeDecodeError:
        return None, [CardProblem(str(path), "(file)", "not UTF-8 text", "save the card as UTF-8")]
    except tomllib.TOMLDecodeError as exc:
        return None, [CardProblem(str(path), "(syntax)", str(exc), "fix the TOML syntax at that line")]
    try:
        return Card(**raw), []
    except ValidationError as exc:
        problems = [
            CardProblem(
                str(path),
                ".".join(str(p) for p in err["loc"]) or "(card)",
                err["msg"],
                _fix_for(err),
            )
            for err in exc.errors()
        ]
        return None, problems


def scenario_dirs(settings: Settings | None = None) -> list[Path]:
    """The shipped cards, then the user's own folder (`<data dir>/scenarios`), then configured folders."""
    dirs = [data_folder("scenarios"), data_dir() / "scenarios"]
    if settings is not None:
        dirs += [Path(p).expanduser() for p in settings.scenario_dirs]
    return dirs


def load_cards(paths: list[Path]) -> tuple[list[Card], list[CardProblem]]:
    """Load every card in `paths` (files or folders of *.toml). Duplicated ids are problems too."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.glob("*.toml"))
        elif path.exists():
            files.append(path)
    cards: list[Card] = []
    problems: list[CardProblem] = []
    seen: dict[str, Path] = {}
    for file in files:
        card, found = parse_card(file)
        problems += found
        if card is None:
            continue
        if card.id in seen:
            problems.append(
                CardProblem(str(file), "id", f"'{card.id}' is already used by {seen[card.id]}", "choose a new id")
            )
            continue
        seen[card.id] = file
        cards.append(card)
    return cards, problems


def get_card(card_id: str, settings: Settings | None = None) -> Card:
    """The card with `card_id`, or a `UserError` that lists the ids that exist."""
    cards, problems = load_cards(scenario_dirs(settings))
    for card in cards:
        if card.id == card_id:
            return card
    broken = [p for p in problems if card_id in p.file]
    if broken:
        raise UserError(
            f"The scenario '{card_id}' has errors: " + "; ".join(f"{p.field}: {p.message}" for p in broken),
            where=broken[0].file,
            fix=broken[0].fix,
        )
    close = difflib.get_close_matches(card_id, [c.id for c in cards], n=1)
    raise UserError(
        f"Unknown scenario '{card_id}'." + (f" Did you mean {close[0]}?" if close else ""),
        where="--scenario",
        fix="Pick one of: " + ", ".join(c.id for c in cards) + " (see `simtrainer scenarios list`)",
    )
