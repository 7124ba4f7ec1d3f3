"""Summary after a session: each rubric's scores against its thresholds, with the scorer that produced them; for
an exercise, a result per goal and the hand-in (S)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from simtrainer.classroom.goals import counts, format_value
from simtrainer.classroom.handin import goal_results
from simtrainer.review.summary_view import rich_table, summary_tables
from simtrainer.text_safety import plain
from simtrainer.ui.widgets.goals_panel import OPS


def goal_results_table(results: list[dict[str, Any]]) -> Table:
    table = Table(title="Goals", title_justify="left", header_style="bold", show_edge=False)
    for column in ("goal", "target", "value", "met"):
        table.add_column(column)
    for r in results:
        table.add_row(plain(r["key"]), plain(f"{OPS[r['op']]} {format_value(r['threshold'])}"),
                      plain(format_value(r["value"])),
                      Text("yes", style="bold green") if r["met"] else Text("no", style="red"))
    return table


#: rubrics whose summary names turns by number (the transcript's, both speakers counted)
TURN_NUMBERED = ("dearman", "ctrs")

class SummaryScreen(Screen):
    BINDINGS = [
        Binding("enter", "home", "Home", id="home"),
        Binding("h", "history", "History", id="history"),
        Binding("e", "export", "Export", id="export"),
        Binding("s", "hand_in", "Hand in", id="hand_in"),
        Binding("f1", "app.help", "Help", id="help"),
    ]

    def __init__(self, session_id: str, title: str, summary: dict[str, Any], *, stopped: str | None = None) -> None:
        super().__init__()
        self.session_id = session_id
        self.summary_title = title
        self.summary = summary
        self.stopped = stopped  # why an exercise's limit ended the session
        self.exercise: dict[str, Any] | None = None  # the pack the session ran, as kept with it
        self.goals: list[dict[str, Any]] = []
        self.handed_in: Path | None = None

    def compose(self) -> ComposeResult:
        self.exercise = self.app.workspace.store.get_session(self.session_id).get("exercise")
        yield Header()
        numbered = any(rubric in TURN_NUMBERED for rubric in self.summary.get("rubrics", {}))
        with VerticalScroll(id="summary"):
            yield Static(Text.assemble(("Session summary", "bold"), " — ", plain(self.summary_title),
                                       f"\nSession {self.session_id}, {self.summary['trainee_turns']} of your turns. "
                                       "Saved; find it under History (H)."
                                       + (" Turn numbers below count both speakers, as History shows them."
                                          if numbered else "")))
            if self.exercise is not None:
                yield from self._exercise()
            for table, scorer in summary_tables(self.summary):
                yield Static(rich_table(table), classes="summary-block")
                yield Static(plain(f"scorer: {scorer}", "dim"))
        yield Footer()

    def _exercise(self) -> ComposeResult:
        exercise = self.exercise or {}
        self.goals = goal_results(exercise, self.summary)  # as the hand-in bundle counts them
        met, total = counts(self.goals)
        lines = Text.assemble(("Exercise: ", "bold"), plain(exercise.get("title") or exercise.get("id") or ""))
        if self.stopped:
            lines.append_text(plain(f"\nStopped: {self.stopped}."))
        least, turns = exercise.get("min_turns"), self.summary["trainee_turns"]
        if least and turns < least:
            lines.append_text(plain(f"\nNote: the exercise asks for at least {least} of your turns; this session "
                                    f"has {turns}.", "yellow"))
        yield Static(lines, id="exercise-result", classes="summary-block")
        if self.goals:
            yield Static(goal_results_table(self.goals), id="goal-results")
        yield Static(Text.assemble(f"{met} of {total} goals met. ", ("Press S to hand it in", "bold"),
                                   " (writes one file to give your instructor)."), id="hand-in")

    def on_mount(self) -> None:
        self.title = "Summary"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hand in only an exercise session."""
        return self.exercise is not None if action == "hand_in" else True

    def action_home(self) -> None:
        self.app.go_home()

    def action_history(self) -> None:
        self.app.open_history()

    def action_export(self) -> None:
        self.app.export_session(self.session_id)

    def action_hand_in(self) -> None:
        """Write the hand-in bundle (asking a name first for a session saved without one) and show where."""
        if self.exercise is not None:
            self.app.hand_in_asking(self.session_id, self._shown)

    def _shown(self, path: Path) -> None:
        self.handed_in = path
        self.query_one("#hand-in", Static).update(Text.assemble(("Handed in: ", "bold green"), plain(str(path)),
                                                                "\nGive this file to your instructor."))
