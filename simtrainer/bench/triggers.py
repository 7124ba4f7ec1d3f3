"""The trigger rules (`patient/triggers.py`) against turns labelled by another hand: `evaluation/trigger_probes.csv`,
written from the cards' trigger lists alone, for shipped cards and for four cards by an outside writer
(`evaluation/outside_cards/`, written from `scenarios/README.md` only). Each turn is coded by the MI coder first,
as in a session, since a confrontation or persuasion it hears counts as pressure."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simtrainer.patient.triggers import hit_trigger
from simtrainer.scenarios import load_cards, scenario_dirs
from simtrainer.scenarios.card import Card

PROBES = "trigger_probes.csv"
OUTSIDE_CARDS = "outside_cards"
Codes = Callable[[str], list[str]]  # trainee turn -> the MI coder's codes for it


def read_probes(folder: Path) -> list[dict[str, str]]:
    with (folder / PROBES).open(newline="", encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if row.get("card_id") and row.get("turn")]


def cards_for(folder: Path) -> tuple[dict[str, Card], set[str]]:
    """Every card the probes may name (shipped and outside), and the ids of the outside ones."""
    outside, _ = load_cards([folder / OUTSIDE_CARDS])
    shipped, _ = load_cards(scenario_dirs()[:1])
    return {c.id: c for c in [*shipped, *outside]}, {c.id for c in outside}


def figures(rows: list[tuple[str, str]]) -> dict[str, Any]:
    """(expected, found) pairs, "none" for no trigger -> the share right, and where the rules go wrong."""
    hits = [(e, f) for e, f in rows if e != "none"]
    misses = [(e, f) for e, f in rows if e == "none"]
    share = lambda part, whole: round(len(part) / len(whole), 3) if whole else None  # noqa: E731
    return {
        "n": len(rows),
        "accuracy": share([1 for e, f in rows if e == f], rows),
        "hit_recall": share([1 for e, f in hits if e == f], hits),  # the right trigger where one was meant
        "any_hit_recall": share([1 for _, f in hits if f != "none"], hits),  # some trigger where one was meant
        "wrong_trigger": share([1 for e, f in hits if f not in ("none", e)], hits),
        "false_hit_rate": share([1 for _, f in misses if f != "none"], misses),  # a near-miss taken as a trigger
        "hits": len(hits),
        "none": len(misses),
    }


def compare(folder: Path, codes: Codes) -> dict[str, Any]:
    cards, outside = cards_for(folder)
    found: dict[str, list[tuple[str, str]]] = {"all": [], "shipped_cards": [], "outside_cards": []}
    examples = []
    for row in read_probes(folder):
        card = cards.get(row["card_id"])
        if card is None:
            continue
        hit = hit_trigger(card, row["turn"], codes(row["turn"])) or "none"
        pair = (row["expected"].strip(), hit)
        found["all"].append(pair)
        found["outside_cards" if card.id in outside else "shipped_cards"].append(pair)
        if pair[0] != pair[1]:
            examples.append({"card_id": card.id, "turn": row["turn"], "expected": pair[0], "found": hit})
    return {**{name: figures(rows) for name, rows in found.items()}, "mistakes": examples}
