"""`sessions import`: code a real transcript and keep it as a session (added to the `sessions` group)."""

from __future__ import annotations

from pathlib import Path

import click

from simtrainer.cli.output import console, print_json
from simtrainer.cli.sessions import sessions
from simtrainer.text_safety import plain


@sessions.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--trainee", help="The counselor's name (default: the first --speakers name, or the export's).")
@click.option("--scenario", "scenario_id", help="File it under this scenario and code it with its rubric.")
@click.option("--speakers", help='The two speaker labels of a plain-text transcript, counselor first: "Ann,Bob".')
@click.option("--rubric", type=click.Choice(["mi", "dearman", "ctrs"]),
              help="Code with this rubric (default: the scenario's, else MI). MI codes are always given.")
@click.option("--transcript", "transcript_id", help="The transcript_id to import from an AnnoMI CSV holding several.")
@click.option("--json", "as_json", is_flag=True, help="Print the session id, coded turns and summary as JSON.")
def sessions_import(file: Path, trainee: str | None, scenario_id: str | None, speakers: str | None,
                    rubric: str | None, transcript_id: str | None, as_json: bool) -> None:
    """Code a recorded session's transcript turn by turn and save it as a session.

    FILE is a plain-text transcript whose turns start with speaker labels (T: / C:, COUNSELOR: / CLIENT:, or the
    names given with --speakers), an AnnoMI-format CSV holding one transcript, or a JSON file from
    `simtrainer sessions export ID --format json`. The counselor's lines are stored as the trainee's, the
    client's as the patient's; review, export and report it like any session. A JSON export brings its notes,
    corrections, ratings and reviewed mark; one of a session already here adds the review it lacks to that
    session (a supervisor's review sent back to the trainee).
    """
    from simtrainer.config import load_settings
    from simtrainer.feedback.registry import coders_for_modality
    from simtrainer.review.transcript_import import choose_context, import_transcript, read_transcript
    from simtrainer.scenarios import get_card
    from simtrainer.storage import open_store

    settings = load_settings()
    card = get_card(scenario_id, settings) if scenario_id is not None else None
    transcript = read_transcript(file, speakers=speakers, transcript_id=transcript_id)
    context = choose_context(transcript, file.name, card=card, rubric=rubric)
    coders = coders_for_modality(context.modality, settings)  # the trained coders: no patient model is loaded
    result = import_transcript(open_store(), file, transcript, context, coders,
                               trainee=trainee if trainee is not None else transcript.trainee)
    if as_json:
        print_json(result)
        return
    if result["existing"]:
        console.print(plain(f"Session {result['session_id']} is already here; added the file's review to it: "
                            f"{review_text(result)}.", "bold"))
        console.print(f"See it with: simtrainer sessions show {result['session_id']}")
        return
    from simtrainer.review.summary_view import rich_table, summary_tables

    counselor = sum(1 for t in result["turns"] if t["speaker"] == "trainee")
    roles = ("trainee", "other person") if result["modality"] == "dearman" else ("counselor", "client")
    console.print(plain(f"Imported {file.name} as session {result['session_id']} ({len(result['turns'])} turns: "
                        f"{counselor} {roles[0]}, {len(result['turns']) - counselor} {roles[1]}).", "bold"))
    for table, scorer in summary_tables(result["summary"]):
        console.print(rich_table(table, expand=False))
        console.print(plain(f"scorer: {scorer}", "dim"))
    if any(result["review"].values()):
        console.print(plain(f"With the file's review: {review_text(result)}.", "bold"))
    console.print(f"Review it with: simtrainer sessions show {result['session_id']}")


def review_text(result: dict) -> str:
    """"2 notes, 1 correction, marked reviewed (by Dr Okafor)" for an import's review counts."""
    counts = result["review"]
    parts = [f"{n} {kind if n > 1 else kind.rstrip('s')}" for kind, n in counts.items() if n and kind != "reviewed"]
    parts += ["marked reviewed"] if counts["reviewed"] else []
    by = f" (by {', '.join(result['authors'])})" if result["authors"] else ""
    return ", ".join(parts) + by


COMMANDS: list[click.Command] = []  # importing this module adds `import` to the `sessions` group
