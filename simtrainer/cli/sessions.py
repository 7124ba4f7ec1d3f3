"""`sessions`: list, search, show, export saved practice sessions; a supervisor annotates, corrects, rates,
marks reviewed and deletes them."""

from __future__ import annotations

from pathlib import Path

import click

from simtrainer.cli.output import console, listed, narrow, print_json, table
from simtrainer.errors import UserError
from simtrainer.text_safety import terminal_safe


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
    short = narrow()
    columns = ["id", "scenario", "trainee", "started", "turns", "status"]
    cells = [[shown_id, r["scenario_id"], r["trainee"], started, r["turn_count"], r["status"]]
             for r in rows for shown_id, started in [listed(r["id"], r["started_at"], short)]]
    if not any(r["trainee"] for r in rows):  # one person's own practice: no trainee names to show
        columns.remove("trainee")
        cells = [row[:2] + row[3:] for row in cells]
    title = f"{len(rows)} sessions" + (" (ids shortened to their tail; --json has them whole)" if short else "")
    table(columns, cells, title=title, whole=("id", "scenario", "started"))
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
        console.print(to_markdown(record), markup=False, soft_wrap=True)  # lines as written, for pasting


@sessions.command("export")
@click.argument("session_id")
@click.option("--format", "fmt", type=click.Choice(["json", "md", "csv"]), default="json", show_default=True)
@click.option("-o", "--out", type=click.Path(path_type=Path), help="Write to this file instead of stdout.")
@click.option("--pseudonymise", is_flag=True,
              help="Replace the trainee's name, wherever it appears, by a stable code (as `sessions report`).")
def sessions_export(session_id: str, fmt: str, out: Path | None, pseudonymise: bool) -> None:
    """Export a session as JSON, Markdown or CSV (a row per turn, then rows of notes, summary and session
    details; filter on the `section` column)."""
    from simtrainer.review.export import export

    text = export(_store(), session_id, fmt, pseudonymise=pseudonymise)
    if out is None:
        click.echo(text, nl=False)
        return
    from simtrainer.storage.private import private_dir

    try:
        private_dir(out.parent)  # a missing folder is made (owner-only), as for reports and other exports
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(
            f"Cannot write the export: {exc.strerror}.", where=str(out), fix="Choose a writable path."
        ) from None
    click.echo(f"Wrote {out}", err=True)


AUTHOR_HELP = "Who writes this (default: your OS user name, else 'supervisor')."


def _turn(store, session: dict, number: int) -> dict:
    """The stored turn shown as `number` by `sessions show`."""
    from simtrainer.review.corrections import turn_idx

    turns = store.turns(session["id"])
    return turns[turn_idx(number, turns, where=f"session {session['id']}")]


@sessions.command("annotate")
@click.argument("session_id")
@click.argument("note")
@click.option("--turn", "number", type=int, help="Attach the note to this turn (the number `sessions show` prints).")
@click.option("--author", help=AUTHOR_HELP)
def sessions_annotate(session_id: str, note: str, number: int | None, author: str | None) -> None:
    """Add a supervisor's note to a session, or to one turn of it (shown at that turn)."""
    from simtrainer.review.corrections import default_author

    store = _store()
    session = store.get_session(session_id)
    if not note.strip():
        raise UserError("The note is empty.", where=f"session {session['id']}",
                        fix='Write the note in quotes: simtrainer sessions annotate ID "what to try here" --turn N')
    turn_id = None if number is None else _turn(store, session, number)["id"]
    author = default_author(author)
    store.annotate(session["id"], note, turn_id=turn_id, author=author)
    click.echo(f"Noted on {session['id']}" + (f", turn {number}" if number is not None else "")
               + f" ({terminal_safe(author)})")


@sessions.command("correct")
@click.argument("session_id")
@click.option("--turn", "number", type=int, required=True, help="The turn (the number `sessions show` prints).")
@click.option("--code", "code", required=True,
              help="The code it should have had (any case): MI codes or labels (Q, 'Q open', SR, CR, GI, Persuade, "
                   "PwP, AF, Seek, Auto, Confront, Neutral), CT / ST / N on a patient turn; DEAR MAN skills (several "
                   "joined by +: negotiate+reinforce), a CTRS item (with its level: agenda:4), or 'none'.")
@click.option("--rubric", help="mi, dearman or ctrs (default: the session's own; MI codes where the session shows "
                                "them: an MI session, a CBT session's Q / SR / CR).")
@click.option("--author", help=AUTHOR_HELP)
def sessions_correct(session_id: str, number: int, code: str, rubric: str | None, author: str | None) -> None:
    """Store a supervisor's code for one turn beside the automatic one (which is kept)."""
    from simtrainer.review.corrections import coder_code, default_author, default_rubric, resolve_code

    store = _store()
    session = store.get_session(session_id)
    turn = _turn(store, session, number)
    where = f"session {session['id']}, turn {number}"
    if rubric is None:
        rubric = default_rubric(session, turn["speaker"], code, where)
    code_id, detail = resolve_code(rubric.lower(), turn["speaker"], code, where)
    author = default_author(author)
    store.add_correction(session["id"], turn["idx"], rubric.lower(), code_id, detail=detail, author=author)
    automatic = [c for c in turn["codes"] if c["rubric"] == rubric.lower()]
    auto = ", ".join(c["code"] for c in automatic) or "no code"
    # the coder's own code given again is kept too: it records that a supervisor agreed
    same = coder_code(rubric.lower(), turn["codes"]) == code_id and (
        not detail or (automatic and (automatic[0].get("detail") or "") == detail))
    verb = "confirmed (the coder's own code)" if same else "corrected"
    click.echo(terminal_safe(f"Turn {number} of {session['id']}: {auto} → {code_id}"
                             + (f" ({detail})" if detail else "") + f", {verb} by {author}"))


@sessions.command("rate")
@click.argument("session_id")
@click.option("--item", required=True, help="A global item of the rubric, e.g. empathy (MI), assert (DEAR MAN), "
                                            "agenda (CTRS).")
@click.option("--score", type=int, required=True, help="MI globals 1-5; DEAR MAN skills 0/1; CTRS items 0-6.")
@click.option("--rubric", help="mi, dearman or ctrs (default: the session's own rubric).")
@click.option("--author", help=AUTHOR_HELP)
def sessions_rate(session_id: str, item: str, score: int, rubric: str | None, author: str | None) -> None:
    """Rate one of the rubric's global items by hand; it replaces the estimate in the summary as reviewed."""
    from simtrainer.review.corrections import default_author, resolve_rating, session_rubric

    store = _store()
    session = store.get_session(session_id)
    rubric = (rubric or session_rubric(session)).lower()
    item_id = resolve_rating(rubric, item, score, where=f"session {session['id']}")
    author = default_author(author)
    store.add_rating(session["id"], rubric, item_id, score, author=author)
    click.echo(terminal_safe(f"Rated {item_id} {score} on {session['id']} ({rubric}), by {author}"))


@sessions.command("review")
@click.argument("session_id")
@click.option("--done", is_flag=True, help="Mark the session reviewed (required: reviewing happens in show, correct, "
                                         "annotate and rate).")
@click.option("--author", help=AUTHOR_HELP)
def sessions_review(session_id: str, done: bool, author: str | None) -> None:
    """Mark a session reviewed: its turns left uncorrected then count as agreeing with the coder."""
    from simtrainer.review.corrections import default_author

    if not done:
        raise UserError("Nothing to do without --done.", fix=f"simtrainer sessions review {session_id} --done")
    store = _store()
    session = store.get_session(session_id)
    author = default_author(author)
    store.mark_reviewed(session["id"], author)
    click.echo(terminal_safe(f"Marked {session['id']} reviewed by {author}"))


@sessions.command("delete")
@click.argument("session_id")
@click.option("--yes", is_flag=True, help="Do not ask.")
def sessions_delete(session_id: str, yes: bool) -> None:
    """Delete a session with its turns, codes, notes, corrections and ratings (asks first)."""
    store = _store()
    session = store.get_session(session_id)
    if session["status"] == "active":
        raise UserError(f"Session {session['id']} is running now.", where=str(store.path),
                        fix="End it (or quit the practice that runs it) first, then delete it.")
    if not yes:
        what = terminal_safe(f"{session['id']} ({session['scenario_id']}, {session['started_at'][:16]})")
        try:
            agreed = click.confirm(f"Delete session {what} and everything about it?", default=False)
        except click.Abort:  # the input ended (a script, `< /dev/null`) or Ctrl-C: nothing is deleted unasked
            raise UserError(f"Not deleted: no answer came to the question before deleting {what}.",
                            where="sessions delete", fix="Answer y at the prompt, or add --yes to delete without "
                            "asking.") from None
        if not agreed:
            click.echo("Nothing deleted.")
            return
    counts = store.delete_session(session["id"])
    click.echo(f"Deleted session {session['id']}: {counts['turns']} turns, {counts['codes']} codes, "
               f"{counts['annotations']} notes, {counts['corrections']} corrections, {counts['ratings']} ratings.")


COMMANDS = [sessions]
