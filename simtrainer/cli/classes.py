"""`class`: an instructor imports students' hand-in bundles into a class and reports on the class."""

from __future__ import annotations

from pathlib import Path

import click

from simtrainer.cli.output import print_json, table
from simtrainer.errors import UserError
from simtrainer.text_safety import terminal_safe


def _say(text: str) -> None:
    """A line that quotes names, titles and file names from the students' bundles: shown inert."""
    click.echo(terminal_safe(text))


def _store():
    from simtrainer.storage import open_store

    return open_store()


@click.group("class")
def class_group() -> None:
    """Classes of students handing in exercises (for instructors)."""


@class_group.command("import")
@click.option("--class", "class_name", required=True, metavar="NAME",
              help="The class to import into; made at its first import and tied to that exercise's pack.")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print what was imported as JSON.")
def class_import(class_name: str, files: tuple[Path, ...], as_json: bool) -> None:
    """Import hand-in bundles (from `simtrainer exercise submit`) into a class.

    All or nothing: if any file is damaged, changed, not a bundle, or for another exercise than the class's,
    nothing is imported and each bad file is named with the reason (exit 2). A bundle already in the class is
    skipped, so running the same import again is safe.
    """
    from simtrainer.classroom.roster import import_bundles

    result = import_bundles(_store(), class_name, list(files))
    if as_json:
        print_json(result.as_dict())
        return
    exercise = f"{result.exercise['title']} ({result.exercise['id']})"
    if result.created:
        _say(f"Made class '{result.name}' for exercise {exercise}.")
    if result.added:
        names = sorted({t or "(no name)" for _, t in result.added}, key=str.casefold)
        _say(f"Imported {len(result.added)} bundle{'s' * (len(result.added) != 1)} into '{result.name}': "
                   + ", ".join(names))
    if result.already:
        _say(f"{len(result.already)} already in '{result.name}', skipped: " + ", ".join(result.already))
    if not result.added:
        click.echo("Nothing new was imported.")


@class_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def class_list(as_json: bool) -> None:
    """Classes with their exercise, students and hand-ins."""
    from simtrainer.classroom.roster import list_classes

    rows = list_classes(_store())
    if as_json:
        print_json(rows)
        return
    table(["class", "exercise", "students", "hand-ins", "made"],
          [[r["class"], f"{r['exercise']['title']} ({r['exercise']['id']})", r["students"], r["bundles"],
            r["created_at"][:16].replace("T", " ")] for r in rows],
          title=f"{len(rows)} classes", whole=("made",))


@class_group.command("report")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="JSON (the same as --format json).")
@click.option("--format", "fmt", type=click.Choice(["html", "csv", "json", "table"]),
              help="html: a self-contained page; csv: one row per student; default: a table on the terminal.")
@click.option("-o", "--out", type=click.Path(path_type=Path, dir_okay=False),
              help="Write to this file instead of stdout (a .html, .csv or .json name picks the format).")
def class_report(name: str, as_json: bool, fmt: str | None, out: Path | None) -> None:
    """A class's report: per student sessions, goals met and rubric figures (their best hand-in); the class's
    spread of each figure and share meeting each goal; and the moments most students slipped."""
    from simtrainer.classroom.class_report import class_report as gather
    from simtrainer.classroom.class_report import render_class_report, report_csv

    if as_json and fmt not in (None, "json"):
        raise UserError(f"--json and --format {fmt} ask for two different outputs.", fix="Give one of them.")
    by_suffix = {".html": "html", ".htm": "html", ".csv": "csv", ".json": "json"}
    fmt = "json" if as_json else fmt or (by_suffix.get(out.suffix.lower(), "table") if out else "table")
    data = gather(_store(), name)
    if fmt == "table":
        if out:
            raise UserError("A table is for the terminal.", where=str(out), fix="Add --format html, csv or json.")
        _print_table(data)
        return
    if fmt == "json":
        import json

        from simtrainer.text_safety import json_safe

        text = json_safe(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"
    else:
        text = render_class_report(data) if fmt == "html" else report_csv(data)
    if out:
        from simtrainer.review.report import write_page

        _say(f"Wrote {write_page(text, out)}")
    elif fmt == "html":
        click.echo(terminal_safe(text), nl=False)
    else:
        click.echo(text, nl=False)


def _print_table(data: dict) -> None:
    from simtrainer.classroom.class_report import RUBRIC_NAMES, TOP_SLIPS, figures_text

    students = data["students"]
    rubrics = [r for r in RUBRIC_NAMES if any(r in s["figures"] for s in students)]
    exercise = data["exercise"]
    table(["student", "sessions", "goals met", *(RUBRIC_NAMES[r] for r in rubrics), "slips"],
          [[s["trainee"], s["sessions"], f"{s['goals_met']}/{s['goals_total']}",
            *(figures_text(r, s["figures"][r]) if r in s["figures"] else "-" for r in rubrics), len(s["slips"])]
           for s in students],
          title=f"{data['class']}: {exercise['title']} ({exercise['id']}), {len(students)} students")
    if data["goals"]:
        _say("Goals met: " + ", ".join(f"{g['key']} {g['students_met']} of {g['students']}"
                                              for g in data["goals"]))
    for slip in data["slips"][:TOP_SLIPS]:
        click.echo(f"Slip, {slip['students']} of {slip['of']} students: {slip['title']}")


COMMANDS = [class_group]
