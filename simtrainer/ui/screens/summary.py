"""Summary after a session: each rubric's scores against its thresholds, with the scorer that produced them."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from simtrainer.review.summary_view import rich_table, summary_tables
from simtrainer.text_safety import plain


class SummaryScreen(Screen):
    BINDINGS = [
        Binding("enter", "home", "Home", id="home"),
        Binding("h", "history", "History", id="history"),
        Binding("e", "export", "Export", id="export"),
        Binding("f1", "app.help", "Help", id="help"),
    ]

    def __init__(self, session_id: str, title: str, summary: dict[str, Any]) -> None:
        super().__init__()
        self.session_id = session_id
        self.summary_title = title
        self.summary = summary

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="summary"):
            yield Static(Text.assemble(("Session summary", "bold"), " — ", plain(self.summary_title),
                                       f"\nSession {self.session_id}, {self.summary['trainee_turns']} of your turns. "
                                       "Saved; find it under History (H)."))
            for table, scorer in summary_tables(self.summary):
                yield Static(rich_table(table), classes="summary-block")
                yield Static(plain(f"scorer: {scorer}", "dim"))
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Summary"

    def action_home(self) -> None:
        self.app.go_home()

    def action_history(self) -> None:
        self.app.open_history()

    def action_export(self) -> None:
        self.app.export_session(self.session_id)
