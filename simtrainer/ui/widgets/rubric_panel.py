"""Side panels with running scores. Each rubric plugs in its own panel class; `panel_for` picks it."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from simtrainer.review.summary_view import MARK_STYLE
from simtrainer.text_safety import plain


class RubricPanel(Static):
    """Base class: shows a rubric's running summary, refreshed after each coded turn."""

    rubric = ""
    title = ""

    def __init__(self, scorer: str) -> None:
        super().__init__(classes="rubric-panel")
        self.scorer = scorer
        self.summary: dict[str, Any] = {}
        self.border_title = self.title

    def on_mount(self) -> None:
        if not self.summary:  # nothing is scored before the trainee's first turn
            self.update(Text("Scores appear after your first turn.", style="dim"))

    def show(self, summary: dict[str, Any]) -> None:
        self.summary = summary
        self.update(self.render_summary(summary))

    def render_summary(self, summary: dict[str, Any]) -> Group | Table | Text:
        return Text(str(summary))


class MIPanel(RubricPanel):
    rubric = "mi"
    title = "MI (MITI 4.2.1)"

    def render_summary(self, s: dict[str, Any]) -> Group:
        table = Table.grid(padding=(0, 1))
        table.add_column(justify="left")
        table.add_column(justify="right")

        def row(name: str, value: str, band: str | None = None) -> None:
            table.add_row(name, Text(value, style=MARK_STYLE.get(band or "", "")))

        row("R:Q", "-" if s["rq"] is None else f"{s['rq']:.2f}", s["rq_band"])
        row("% complex refl.", "-" if s["pct_cr"] is None else f"{s['pct_cr']:.0%}", s["pct_cr_band"])
        row("MI-adherent", str(s["mi_adherent"]), "good" if s["mi_adherent"] else None)
        row("MI-non-adherent", str(s["mi_non_adherent"]), "below fair" if s["mi_non_adherent"] else None)
        c = s["counts"]
        row("Questions", f"{c['Q']} ({s['questions_open']} open)")
        row("Reflections", f"{c['SR']} SR / {c['CR']} CR")
        talk = s["client_talk"]
        row("Client talk", f"{talk['change']} CT / {talk['sustain']} ST")
        tip = plain(f"Next: {s['tip']}\n", "italic") if s.get("tip") else Text()
        return Group(table, Text(), tip, plain(f"scorer: {self.scorer}", "dim"))


class DearManPanel(RubricPanel):
    """The seven skills, lit as they appear, and the next step."""

    rubric = "dearman"
    title = "DEAR MAN"

    def render_summary(self, s: dict[str, Any]) -> Table:
        from simtrainer.rubrics import load_rubric

        rubric = load_rubric("dearman")
        table = Table.grid(padding=(0, 1))
        for skill, shown in s["checklist"].items():
            mark = Text("●" if shown else "○", style="bold green" if shown else "dim")
            table.add_row(mark, Text(rubric.item(skill).name, style="" if shown else "dim"))
        table.add_row("", "")
        table.add_row("", plain(s["tip"], "italic"))
        table.add_row("", plain(f"scorer: {self.scorer}", "dim"))
        return table


class CTRSPanel(RubricPanel):
    """Running CBT indicators, then the items seen so far."""

    rubric = "ctrs"
    title = "CTRS"

    def render_summary(self, s: dict[str, Any]) -> Table:
        ind = s["indicators"]
        table = Table.grid(padding=(0, 1))

        def flag(name: str, on: bool) -> None:
            table.add_row(Text("●" if on else "○", style="bold green" if on else "dim"), name)

        flag("Agenda set", ind["agenda_set"])
        flag("Feedback asked", ind["feedback_asked"])
        flag("Homework agreed", ind["homework_agreed"])
        table.add_row(Text(str(ind["guided_discovery_questions"]), style="bold"), "guided-discovery questions")
        skills = s.get("microskills")
        if skills:
            table.add_row(Text(str(skills["questions"]), style="bold"),
                          f"questions ({skills['questions_open']} open)")
            table.add_row(Text(str(skills["reflections"]), style="bold"),
                          f"reflections ({skills['reflections_complex']} complex)")
        table.add_row("", f"running total {s['total']}/{s['max']} (competence {s['competence_threshold']})")
        table.add_row("", plain(f"scorer: {self.scorer}", "dim"))
        return table


PANELS: dict[str, type[RubricPanel]] = {
    MIPanel.rubric: MIPanel,
    DearManPanel.rubric: DearManPanel,
    CTRSPanel.rubric: CTRSPanel,
}


def panel_for(rubric: str, scorer: str) -> RubricPanel:
    return PANELS.get(rubric, RubricPanel)(scorer)
