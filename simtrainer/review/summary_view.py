"""A session summary as tables a person reads, one per rubric: the same rows in the app, the terminal and the
Markdown export, so a trainee and a supervisor see one account of a session."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.table import Table

from simtrainer.feedback.mi.summary import COMPOSITES
from simtrainer.rubrics import load_rubric
from simtrainer.text_safety import plain

#: how a mark reads in colour (bands from MITI's fair / good thresholds; checklist skills shown or missing)
MARK_STYLE = {"good": "bold green", "fair": "yellow", "below fair": "bold red", "n/a": "dim",
              "shown": "green", "missing": "red"}


@dataclass
class SummaryTable:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    #: per row, how its last cell reads against the rubric: a band ("good", "fair", "below fair", "n/a"),
    #: "shown" / "missing" for a checklist skill, or "" when there is nothing to judge
    marks: list[str] = field(default_factory=list)
    caption: str = ""

    def add(self, *cells: str, mark: str = "") -> None:
        self.rows.append(list(cells))
        self.marks.append(mark)


def _mi(s: dict[str, Any]) -> SummaryTable:
    t = SummaryTable("Motivational Interviewing (MITI 4.2.1)", ["measure", "value", "against fair / good"])
    t.add("R:Q", "-" if s["rq"] is None else f"{s['rq']:.2f}", s["rq_band"], mark=s["rq_band"])
    t.add("% complex reflections", "-" if s["pct_cr"] is None else f"{s['pct_cr']:.0%}", s["pct_cr_band"],
          mark=s["pct_cr_band"])
    t.add("MI-adherent (AF, Seek, Auto)", str(s["mi_adherent"]), "")
    t.add("MI-non-adherent (Confront, Persuade)", str(s["mi_non_adherent"]), "")
    labels = {code.id: code.label if code.label != "—" else "Neutral" for code in load_rubric("mi").codes}
    t.add("Code counts", ", ".join(f"{labels.get(k, k)} {v}" for k, v in s["counts"].items() if v) or "-", "")
    talk = s["client_talk"]
    t.add("Patient talk", f"{talk['change']} change / {talk['sustain']} sustain / {talk['neutral']} neutral", "")
    rated = s.get("rated", {})  # hand ratings from a supervisor's review replace estimates
    for name, value in s["globals_estimate"].items():
        how = "rated" if name in rated else "estimate"
        t.add(f"{name.replace('_', ' ').capitalize()} ({how})", f"{value:.1f}", "")
    for name, parts in COMPOSITES.items():  # each the mean of two globals
        done = sum(part in rated for part in parts)
        how = "rated" if done == len(parts) else "partly rated" if done else "estimate"
        t.add(f"{name.capitalize()} ({how})", f"{s[name]:.2f}", s[f"{name}_band"], mark=s[f"{name}_band"])
    t.caption = " ".join(part for part in (s.get("note", ""), f"Next: {s['tip']}" if s.get("tip") else "") if part)
    return t


def _dearman(s: dict[str, Any]) -> SummaryTable:
    rubric = load_rubric("dearman")
    t = SummaryTable("DBT DEAR MAN", ["skill", "shown at transcript turn"])
    for skill, shown in s["checklist"].items():
        turns = ", ".join(str(n) for n in s["turns_shown"][skill])
        if skill in s.get("rated", {}):
            turns = "; ".join(part for part in (turns, ("shown" if shown else "not shown") + " (rated)") if part)
        t.add(rubric.item(skill).name, turns or "not yet", mark="shown" if shown else "missing")
    hardening = {name: at for name, at in s.get("hardening", {}).items() if at}
    if hardening:  # not skills: counted apart, as what makes the other side dig in
        t.add("Threat, insult, ultimatum (hardens them)",
              "; ".join(f"{name} at {', '.join(map(str, at))}" for name, at in hardening.items()), mark="missing")
    t.caption = f"{s['skills_shown']} of {s['skills_total']} skills. Next: {s['tip']}"
    return t


def _ctrs(s: dict[str, Any]) -> SummaryTable:
    rubric = load_rubric("ctrs")
    t = SummaryTable("Cognitive Therapy Rating Scale (estimate)", ["item", "score", "evidence (transcript turns)"])
    for item, v in s["items"].items():
        evidence = ", ".join(map(str, v["evidence"])) or "-"
        t.add(rubric.item(item).name, f"{v['score']}/6",
              f"rated; turns {evidence}" if item in s.get("rated", {}) and evidence != "-" else
              "rated" if item in s.get("rated", {}) else evidence)
    skills = s.get("microskills")
    if skills:  # counselling micro-skills from the MI coder, counted without MITI's thresholds
        t.add("Questions (micro-skill)", str(skills["questions"]), f"{skills['questions_open']} open")
        t.add("Reflections (micro-skill)", str(skills["reflections"]), f"{skills['reflections_complex']} complex")
    verdict = "competent" if s["competent"] else "below the competence mark"
    t.caption = f"Total {s['total']}/{s['max']}: {verdict} ({s['competence_threshold']})."
    return t


VIEWS = {"mi": _mi, "dearman": _dearman, "ctrs": _ctrs}


def summary_tables(summary: dict[str, Any]) -> list[tuple[SummaryTable, str]]:
    """Each rubric's table and the scorer that produced it, in the summary's order."""
    out = []
    for rubric, scores in summary["rubrics"].items():
        view = VIEWS.get(rubric)
        out.append((view(scores) if view else _plain(rubric, scores), str(scores.get("scorer", ""))))
    return out


def _plain(rubric: str, s: dict[str, Any]) -> SummaryTable:
    """A rubric without a view of its own: each score on a row."""
    t = SummaryTable(rubric, ["measure", "value"])
    for key, value in s.items():
        if key != "scorer":
            t.add(key, str(value))
    return t


def markdown_table(table: SummaryTable) -> list[str]:
    """The table as Markdown lines (a heading, the rows, the caption)."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [f"### {table.title}", "", "| " + " | ".join(table.columns) + " |",
             "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in table.rows]
    if table.caption:
        lines += ["", table.caption]
    return lines


def rich_table(table: SummaryTable, *, expand: bool = True) -> Table:
    """The table for the app (`expand`: as wide as its pane) or a terminal, its last column coloured by each
    row's mark; cells are shown as written, never read as markup."""
    out = Table(title=plain(table.title, "table.title"), show_edge=False, expand=expand,
                caption=plain(table.caption, "table.caption") if table.caption else None, title_justify="left",
                caption_justify="left")
    for name in table.columns:
        out.add_column(name, justify="right" if name in ("value", "score") else "left")
    for row, mark in zip(table.rows, table.marks, strict=True):
        out.add_row(*map(plain, row[:-1]), plain(row[-1], MARK_STYLE.get(mark, "")))
    return out
