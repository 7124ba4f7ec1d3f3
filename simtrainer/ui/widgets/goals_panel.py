"""The exercise's goals beside the conversation: each goal's value so far against its target, refreshed after
every coded turn from the same `goals.evaluate` results the CLI prints."""

from __future__ import annotations

import math
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from simtrainer.classroom.goals import counts, format_value
from simtrainer.text_safety import plain

OPS = {">=": "≥", "<=": "≤", "==": "="}


def goals_table(results: list[dict[str, Any]]) -> Table:
    """One row per goal: ✓ or ✗, the goal as the pack names it, the value so far and the target."""
    table = Table.grid(padding=(0, 1))
    table.add_column()
    table.add_column(ratio=1)
    table.add_column(justify="right")
    table.add_column(justify="right", style="dim")
    for r in results:
        mark = Text("✓", style="bold green") if r["met"] else Text("✗", style="dim")
        table.add_row(mark, plain(r["key"]), plain(format_value(r["value"])),
                      plain(f"{OPS[r['op']]} {format_value(r['threshold'])}"))
    return table


class GoalsPanel(Static):
    """Live progress toward the exercise's goals; the border shows how many are met and the turn count."""

    def __init__(self, results: list[dict[str, Any]], max_turns: int | None) -> None:
        super().__init__(classes="rubric-panel", id="goals")
        self.results = results
        self.max_turns = max_turns
        self.turns = 0
        self.minutes_left: float | None = None
        self.border_title = "Goals"

    def on_mount(self) -> None:
        self.show(self.results, self.turns)

    def show(self, results: list[dict[str, Any]], turns: int) -> None:
        self.results, self.turns = results, turns
        met, total = counts(results)
        self.border_title = f"Goals — {met} of {total} met"
        self._subtitle()
        self.update(goals_table(results) if results else Text("This exercise sets no goals.", style="dim"))

    def show_time_left(self, minutes: float) -> None:
        self.minutes_left = minutes
        self._subtitle()

    def _subtitle(self) -> None:
        turns = f"turn {self.turns}" + (f" of {self.max_turns}" if self.max_turns else "")
        left = f" · {math.ceil(self.minutes_left):.0f} min left" if self.minutes_left is not None else ""
        self.border_subtitle = turns + left
