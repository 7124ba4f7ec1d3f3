"""`sessions report`: the self-contained HTML report a supervisor hands a trainee."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("report")
@click.argument("session_id")
@click.option("-o", "--out", type=click.Path(path_type=Path, dir_okay=False),
              help="Write here (default: the data folder's exports/ID.html).")
@click.option("--pseudonymise", is_flag=True, help="Show the trainee as a stable code instead of the name.")
def sessions_report(session_id: str, out: Path | None, pseudonymise: bool) -> None:
    """Write a session's report as one HTML file: transcript with codes and notes, summary against the rubric's
    thresholds, the patient's change and sustain talk. It opens offline and prints to PDF as shown."""
    from simtrainer.review.report import default_path, render_report, report_data, write_page
    from simtrainer.storage import open_store

    data = report_data(open_store(), session_id, pseudonymise=pseudonymise)
    path = write_page(render_report(data), out or default_path(data["session"]["id"]))
    click.echo(f"Wrote {path}")


#: added to the `sessions` group
SESSION_COMMANDS = [sessions_report]
