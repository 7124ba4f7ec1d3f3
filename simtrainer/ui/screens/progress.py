"""Trainees' progress in the app: every named trainee side by side, and the highlighted one's sessions with a trend
line per followed figure. The figures come from `simtrainer.review.progress`, as for `trainees list/show` and the
progress page; this screen only shows them."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Sparkline, Static

from simtrainer.errors import UserError
from simtrainer.review.progress import NO_NAME, RUBRIC_NAMES, figures_text, trainee_progress, trainees
from simtrainer.text_safety import plain

SHOWN = 8  # the last values written out under a trend line's label
EMPTY = ("No session carries a trainee's name yet. Set one with N on the home screen (or `--trainee NAME` on "
         "the command line); each new session is then listed here under it.")


def _when(started_at: str | None) -> str:
    return (started_at or "")[:16].replace("T", " ")


def _latest_text(latest: dict[str, dict[str, Any]]) -> str:
    return "; ".join(f"{RUBRIC_NAMES.get(r, r)}: {figures_text(r, f)}" for r, f in latest.items())


def trends(sessions: list[dict[str, Any]]) -> list[tuple[str, list[float], list[str]]]:
    """(label, values oldest first, the values as shown) per figure followed; a session without the figure (or
    an R:Q without any question) is left out of its line."""

    def values(rubric: str, key: str) -> list[float]:
        return [s["figures"][rubric][key] for s in sessions
                if rubric in s["figures"] and s["figures"][rubric][key] is not None]

    out = []
    rq = values("mi", "rq")
    if rq:
        out.append(("MI: reflections to questions (R:Q)", rq, [f"{v:.2f}" for v in rq]))
    cr = [v * 100 for v in values("mi", "pct_cr")]
    if cr:
        out.append(("MI: complex reflections (%)", cr, [f"{v:.0f}%" for v in cr]))
    skills = values("dearman", "skills_shown")
    if skills:
        out.append(("DEAR MAN: skills shown", skills, [f"{v:g}" for v in skills]))
    total = values("ctrs", "total")
    if total:
        out.append(("CTRS: total", total, [f"{v:g}" for v in total]))
    return out


class ProgressScreen(Screen):
    """Trainees on the left; the highlighted trainee's sessions and trends on the right (Enter opens a session's
    review)."""

    DEFAULT_CSS = """
    #progress-left { width: 45%; }
    #progress-right { width: 55%; }
    #trainee-table { height: 1fr; border: round $primary; }
    #progress-empty { height: auto; border: round $accent; padding: 1 2; }
    #trainee-sessions { height: 1fr; border: round $secondary; }
    #trends { height: auto; max-height: 60%; border: round $secondary; padding: 0 1; }
    .trend-label { height: auto; }
    .trend { height: 2; margin-bottom: 1; }
    """

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="back"),
        Binding("f1", "app.help", "Help", id="help"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.trainee: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Vertical(id="progress-left"):
                yield DataTable(id="trainee-table", cursor_type="row")
                yield Static(EMPTY, id="progress-empty", markup=False)
            with Vertical(id="progress-right"):
                yield DataTable(id="trainee-sessions", cursor_type="row")
                yield VerticalScroll(id="trends")
        yield Footer()

    def on_mount(self) -> None:
        rows = [r for r in trainees(self.app.workspace.store) if r["trainee"] != NO_NAME]
        table = self.query_one("#trainee-table", DataTable)
        table.border_title = "Trainees"
        table.add_columns("trainee", "sessions", "last session", "latest figures")
        for row in rows:
            table.add_row(plain(row["trainee"], "bold"), str(row["sessions"]), _when(row["last_session"]),
                          plain(_latest_text(row["latest"])), key=row["trainee"])
        sessions = self.query_one("#trainee-sessions", DataTable)
        sessions.add_columns("date", "scenario", "rubric", "figures")
        self.query_one("#progress-empty").display = not rows
        table.display = bool(rows)
        self.query_one("#progress-right").display = bool(rows)
        self.query_one("#trends").border_title = "Trends over sessions"
        if rows:
            table.focus()
            self.show_trainee(rows[0]["trainee"])

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "trainee-table" and event.row_key.value != self.trainee:
            self.show_trainee(event.row_key.value)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a trainee moves to their sessions; Enter on a session opens its review."""
        if event.data_table.id == "trainee-table":
            self.query_one("#trainee-sessions").focus()
            return
        from simtrainer.ui.screens.review import ReviewScreen

        self.app.push_screen(ReviewScreen(event.row_key.value))

    def show_trainee(self, name: str) -> None:
        try:
            progress = trainee_progress(self.app.workspace.store, name)
        except UserError:  # no session left under that name (deleted meanwhile): show none
            progress = {"trainee": name, "sessions": []}
        self.trainee = name
        table = self.query_one("#trainee-sessions", DataTable)
        table.clear()
        table.border_title = Text.assemble(plain(progress["trainee"]), f": {len(progress['sessions'])} sessions")
        for s in progress["sessions"]:
            main = s["figures"].get(s["rubric"])
            table.add_row(_when(s["started_at"]), plain(s["scenario"]), RUBRIC_NAMES.get(s["rubric"], s["rubric"]),
                          plain(figures_text(s["rubric"], main) if main else "not scored"), key=s["id"])
        box = self.query_one("#trends", VerticalScroll)
        box.remove_children()
        found = trends(progress["sessions"])
        widgets = []
        for label, values, shown in found:
            recent = " → ".join(shown[-SHOWN:])
            widgets.append(Static(Text.assemble((label, "bold"), f" · latest {shown[-1]}\n",
                                                (("… → " if len(shown) > SHOWN else "") + recent, "dim")),
                                  classes="trend-label"))
            widgets.append(Sparkline(values, summary_function=max, classes="trend"))
        if not found:
            widgets.append(Static("No scored session yet.", classes="trend-label"))
        box.mount_all(widgets)
