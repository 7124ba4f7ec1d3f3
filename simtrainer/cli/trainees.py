"""`trainees`: each trainee's sessions and figures over time, and trainees side by side."""

from __future__ import annotations

import re
from pathlib import Path

import click

from simtrainer.cli.output import listed, narrow, print_json, table


def _store():
    from simtrainer.storage import open_store

    return open_store()


@click.group()
def trainees() -> None:
    """Trainees' progress across sessions (for supervisors)."""


@trainees.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def trainees_list(as_json: bool) -> None:
    """Trainees side by side: sessions, the last one, and the latest figures per rubric."""
    from simtrainer.review.progress import RUBRIC_NAMES, figures_text
    from simtrainer.review.progress import trainees as overview

    rows = overview(_store())
    if as_json:
        print_json(rows)
        return
    rubrics = [r for r in RUBRIC_NAMES if any(r in row["latest"] for row in rows)]
    table(["trainee", "sessions", "last session", *(f"{RUBRIC_NAMES[r]} (latest)" for r in rubrics)],
          [[row["trainee"], row["sessions"], (row["last_session"] or "")[:16].replace("T", " "),
            *(figures_text(r, row["latest"][r]) if r in row["latest"] else "-" for r in rubrics)] for row in rows],
          title=f"{len(rows)} trainees", whole=("last session",))


@trainees.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--html", "as_html", is_flag=True, help="Write a progress page with trend charts.")
@click.option("-o", "--out", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the page here (implies --html; default: the data folder's exports/progress-NAME.html).")
@click.option("--pseudonymise", is_flag=True,
              help="Show the trainee as a stable code (in the page, its file name and the JSON), not the name.")
def trainees_show(name: str, as_json: bool, as_html: bool, out: Path | None, pseudonymise: bool) -> None:
    """One trainee's sessions, oldest first, with each session's figures."""
    from simtrainer.review.progress import RUBRIC_NAMES, figures_text, render_progress, trainee_progress

    progress = trainee_progress(_store(), name)
    if pseudonymise:
        from simtrainer.review.pseudonym import pseudonymised

        progress = pseudonymised(progress, progress["trainee"])
    if as_html or out:
        from simtrainer.config import data_dir
        from simtrainer.review.report import write_page

        slug = re.sub(r"[^A-Za-z0-9_-]+", "-", progress["trainee"]).strip("-") or "trainee"
        path = write_page(render_progress(progress), out or data_dir() / "exports" / f"progress-{slug}.html")
        click.echo(f"Wrote {path}")
        return
    if as_json:
        print_json(progress)
        return
    sessions = progress["sessions"]
    rubrics = [r for r in RUBRIC_NAMES if any(r in s["figures"] for s in sessions)]
    short = narrow()
    table(["#", "started", "scenario", "id", *(RUBRIC_NAMES[r] for r in rubrics)],
          [[n, started, s["scenario"], shown_id,
            *(figures_text(r, s["figures"][r]) if r in s["figures"] else "-" for r in rubrics)]
           for n, s in enumerate(sessions, start=1) for shown_id, started in [listed(s["id"], s["started_at"], short)]],
          title=f"{progress['trainee']}: {len(sessions)} sessions", whole=("started", "scenario", "id"))


COMMANDS = [trainees]
