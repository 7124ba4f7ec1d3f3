"""History: search sessions, open one for review (`review.py`), export it, resume an interrupted one, hand in
an ended exercise session (the summary's S, for a student who closed the summary)."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input

from simtrainer.classroom.handin import check_submittable
from simtrainer.errors import UserError
from simtrainer.text_safety import plain, terminal_safe
from simtrainer.ui.screens.review import ReviewScreen

__all__ = ["HistoryScreen", "ReviewScreen"]  # ReviewScreen lived here; its importers still find it


class HistoryScreen(Screen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="back"),
        Binding("e", "export", "Export", id="export"),
        Binding("slash", "search", "Search", id="search"),
        Binding("r", "resume", "Resume", id="resume"),
        # Hand in shows for a session it can hand in; on any other, S says why not. One id: a keymap moves both.
        Binding("s", "hand_in", "Hand in", id="hand_in"),
        Binding("s", "why_no_hand_in", show=False, id="hand_in"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.query_text: str | None = None
        self.rows: dict[str, dict[str, Any]] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="Search transcripts, scenarios, trainees… (Enter)", id="search")
        yield DataTable(id="sessions", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "History"
        self.query_one("#sessions").focus()

    def on_screen_resume(self) -> None:
        """Load on every showing: statuses change while a resumed session runs and ends."""
        self.load(self.query_text)

    def load(self, query: str | None = None) -> None:
        """Fill the list, the highlighted session kept where it is still listed (back from a review, S and E must
        act on the session the person had chosen, not on the top row)."""
        self.query_text = query
        table = self.query_one("#sessions", DataTable)
        chosen = self._selected()
        table.clear(columns=True)
        table.add_columns("id", "started", "scenario", "trainee", "model", "turns", "status")
        self.rows = {row["id"]: row for row in self.app.listed_sessions(limit=500, query=query or None)}
        for row in self.rows.values():
            table.add_row(row["id"], row["started_at"][:16].replace("T", " "), plain(row["scenario_title"]),
                          plain(row["trainee"] or ""), plain(row["model"]), str(row["turn_count"]), row["status"],
                          key=row["id"])
        if chosen in self.rows:
            table.move_cursor(row=table.get_row_index(chosen))
        self.refresh_bindings()

    @on(Input.Submitted, "#search")
    def search(self, event: Input.Submitted) -> None:
        self.load(event.value.strip())
        self.query_one("#sessions").focus()

    def action_search(self) -> None:
        self.query_one("#search").focus()

    def _selected(self) -> str | None:
        table = self.query_one("#sessions", DataTable)
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.refresh_bindings()  # Hand in shows for an ended exercise session only

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("hand_in", "why_no_hand_in"):
            return (self._refusal() is None) == (action == "hand_in")
        return True

    def _refusal(self) -> UserError | None:
        """Why the selected session cannot be handed in (the bundle's own checks), or None if it can."""
        row = self.rows.get(self._selected() or "")
        if row is None:
            return UserError("No session selected.")
        try:
            check_submittable(row)
        except UserError as error:
            return error
        return None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.app.push_screen(ReviewScreen(event.row_key.value))

    def action_export(self) -> None:
        session_id = self._selected()
        if session_id:
            self.app.export_session(session_id)

    def action_hand_in(self) -> None:
        """Hand in the selected ended exercise session, as the summary's S does (a name is asked if it has none),
        once the person has confirmed it is the one they mean: the list may hold other people's sessions."""
        from simtrainer.ui.screens.modals import ConfirmScreen

        session_id = self._selected()
        row = self.rows.get(session_id or "")
        if row is None:
            return
        who = row["trainee"] or "no name yet"
        question = (f"Hand in this session? {row['scenario_title']}, {who}, started "
                    f"{row['started_at'][:16].replace('T', ' ')}, {row['turn_count']} turns. It writes one file "
                    "to give your instructor.")
        self.app.push_screen(ConfirmScreen(question, yes="Hand in", no="Cancel"),
                             lambda yes: self.app.hand_in_asking(row["id"]) if yes else None)

    def action_why_no_hand_in(self) -> None:
        error = self._refusal()
        if error is not None:
            row = self.rows.get(self._selected() or "") or {}
            hint = " Press R to continue it, end it, then hand it in." if row.get("status") == "interrupted" else ""
            self.notify(terminal_safe(error.what + hint), title="Cannot hand in this session", severity="warning",
                        markup=False, timeout=10)

    def action_resume(self) -> None:
        """Continue the selected interrupted session in the practice screen (an exercise's with its pack)."""
        session_id = self._selected()
        if not session_id:
            return
        try:
            self.app.resume_practice(session_id)
        except UserError as error:
            self.app.show_error("Cannot resume this session", error)
