"""`sessions`: list, search, show, export and annotate saved practice sessions."""

from __future__ import annotations

from pathlib import Path

import click

from simtrainer.cli.output import console, print_json, table
from simtrainer.errors import UserError


def _store():
    from simtrainer.storage import open_store

    return open_store()


@click.group()
def sessions() -> None:
    """Saved practice sessions (for trainees and supervisors)."""


@sessions.command("list")
@click.option("-n", "--limit", default=50, show_default=True, help="How many, newest first.")
@click.option("-q", "--query", help="Only sessions whose transcript, scenario or trainee matches.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def sessions_list(limit: int, query: str | None, as_json: bool) -> None:
    """List sessions, newest first."""
    rows = _store().list_sessions(limit=limit, query=query)
    if as_json:
        print_json(rows)
        return
    columns = ["id", "scenario", "trainee", "started", "turns", "status"]
    cells = [[r["id"], r["scenario_id"], r["trainee"], r["started_at"][:16].replace("T", " "), r["turn_count"],
              r["status"]] for r in rows]
    if not any(r["trainee"] for r in rows):  # one person's own practice: no trainee names to show
        columns.remove("trainee")
        cells = [row[:2] + row[3:] for row in cells]
    table(columns, cells, title=f"{len(rows)} sessions", whole=("id", "started"))
    if any(r["status"] == "interrupted" for r in rows):
        console.print("[dim]An interrupted session continues with: simtrainer practice --resume ID[/]")


@sessions.command("show")
@click.argument("session_id")
@click.option("--json", "as_json", is_flag=True)
def sessions_show(session_id: str, as_json: bool) -> None:
    """Show a session's transcript with its codes."""
    from simtrainer.review.export import session_record, to_markdown

    record = session_record(_store(), session_id)
    if as_json:
        print_json(record)
    elif console.is_terminal:  # headings and tables drawn; a pipe or file gets the Markdown itself
        from rich.markdown import Markdown

        console.print(Markdown(to_markdown(record)))
    else:
        console.print(to_markdown(record), markup=False)


@sessions.command("export")
@click.argument("session_id")
@click.option("--format", "fmt", type=click.Choice(["json", "md", "csv"]), default="json", show_default=True)
@click.option("-o", "--out", type=click.Path(path_type=Path), help="Write to this file instead of stdout.")
def sessions_export(session_id: str, fmt: str, out: Path | None) -> None:
    """Export a session as JSON, Markdown or CSV."""
    from simtrainer.review.export import export

    text = export(_store(), session_id, fmt)
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(
            f"Cannot write the export: {exc.strerror}.", where=str(out), fix="Choose a writable path."
        ) from None
    click.echo(f"Wrote {out}", err=True)


@sessions.command("annotate")
@click.argument("session_id")
@click.argument("note")
@click.option("--turn", "turn_idx", type=int, help="Attach the note to this turn number.")
@click.option("--author", default="", help="Who wrote the note.")
def sessions_annotate(session_id: str, note: str, turn_idx: int | None, author: str) -> None:
    """Add a supervisor's note to a session (or to one turn of it)."""
    store = _store()
    session = store.get_session(session_id)
    turn_id = None
    if turn_idx is not None:
        match = [t for t in store.turns(session["id"]) if t["idx"] == turn_idx]
        if not match:
            raise UserError(f"Session {session['id']} has no turn {turn_idx}.", fix="See `simtrainer sessions show`.")
        turn_id = match[0]["id"]
    store.annotate(session["id"], note, turn_id=turn_id, author=author)
    click.echo(f"Noted on {session['id']}" + (f", turn {turn_idx}" if turn_idx is not None else ""))


COMMANDS = [sessions]
