"""Summary after a session: each rubric's scores against its thresholds, with the scorer that produced them."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from simtrainer.ui.widgets.rubric_panel import BAND_STYLE


def mi_table(s: dict[str, Any]) -> Table:
    table = Table(title="Motivational Interviewing (MITI 4.2.1)", show_edge=False, expand=True)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("against fair / good")

    def row(name: str, value: str, band: str = "") -> None:
        table.add_row(name, value, Text(band, style=BAND_STYLE.get(band, "")))

    row("R:Q", "-" if s["rq"] is None else f"{s['rq']:.2f}", s["rq_band"])
    row("% complex reflections", "-" if s["pct_cr"] is None else f"{s['pct_cr']:.0%}", s["pct_cr_band"])
    row("MI-adherent (AF, Seek, Auto)", str(s["mi_adherent"]))
    row("MI-non-adherent (Confront, Persuade)", str(s["mi_non_adherent"]))
    counts = ", ".join(f"{k} {v}" for k, v in s["counts"].items() if v)
    row("Code counts", counts or "-")
    talk = s["client_talk"]
    row("Patient talk", f"{talk['change']} change / {talk['sustain']} sustain / {talk['neutral']} neutral")
    for name, value in s["globals_estimate"].items():
        row(f"{name.replace('_', ' ').capitalize()} (estimate)", f"{value:.1f}")
    row("Relational (estimate)", f"{s['relational']:.2f}", s["relational_band"])
    row("Technical (estimate)", f"{s['technical']:.2f}", s["technical_band"])
    return table


def dearman_table(s: dict[str, Any]) -> Table:
    from simtrainer.rubrics import load_rubric

    rubric = load_rubric("dearman")
    table = Table(title="DBT DEAR MAN", show_edge=False, expand=True)
    table.add_column("skill")
    table.add_column("shown in your turns")
    for skill, shown in s["checklist"].items():
        turns = ", ".join(str(t) for t in s["turns_shown"][skill])
        table.add_row(rubric.item(skill).name, Text(turns or "not yet", style="green" if shown else "red"))
    table.caption = f"{s['skills_shown']} of {s['skills_total']} skills. Next: {s['tip']}"
    return table


def ctrs_table(s: dict[str, Any]) -> Table:
    from simtrainer.rubrics import load_rubric

    rubric = load_rubric("ctrs")
    table = Table(title="Cognitive Therapy Rating Scale (estimate)", show_edge=False, expand=True)
    table.add_column("item")
    table.add_column("score", justify="right")
    table.add_column("evidence (your turns)")
    for item, v in s["items"].items():
        table.add_row(rubric.item(item).name, f"{v['score']}/6", ", ".join(map(str, v["evidence"])) or "-")
    verdict = "competent" if s["competent"] else "below the competence mark"
    table.caption = f"Total {s['total']}/{s['max']}: {verdict} ({s['competence_threshold']})."
    return table


BLOCKS = {"mi": mi_table, "dearman": dearman_table, "ctrs": ctrs_table}


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
            yield Static(f"[b]Session summary[/b] — {self.summary_title}\nSession {self.session_id}, "
                         f"{self.summary['trainee_turns']} of your turns. Saved; find it under History (H).")
            for rubric, scores in self.summary["rubrics"].items():
                body = BLOCKS[rubric](scores) if rubric in BLOCKS else Text(str(scores))
                yield Static(body, classes="summary-block")
                yield Static(f"[dim]scorer: {scores.get('scorer', '')}. {scores.get('note', '')}[/dim]")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Summary"

    def action_home(self) -> None:
        self.app.go_home()

    def action_history(self) -> None:
        self.app.open_history()

    def action_export(self) -> None:
        self.app.export_session(self.session_id)
