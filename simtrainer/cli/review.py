"""`agreement` and `export corrections`: what supervisors' corrections say about the coder, and feed back to it."""

from __future__ import annotations

from pathlib import Path

import click

from simtrainer.cli.output import console, print_json, table
from simtrainer.errors import UserError
from simtrainer.rubrics import RUBRIC_IDS, load_rubric


@click.command()
@click.option("--rubric", type=click.Choice(RUBRIC_IDS, case_sensitive=False), default="mi", show_default=True)
@click.option("--trainee", help="Only this trainee's sessions (the exact name).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def agreement(rubric: str, trainee: str | None, as_json: bool) -> None:
    """Cohen's kappa and percent agreement between the coder and supervisors' corrections, overall and per code.

    A turn counts when a supervisor corrected it, or when its session is marked reviewed
    (`sessions review ID --done`): then an uncorrected turn counts as agreement."""
    from simtrainer.feedback.labels import code_label
    from simtrainer.review.agreement import agreement as figures
    from simtrainer.storage import open_store

    store = open_store()
    if trainee is not None and not store.list_sessions(limit=1, trainee=trainee):
        raise UserError(f"No session carries the trainee name '{trainee}'.", where="--trainee",
                        fix="Use a name as `simtrainer trainees list` shows it (the exact spelling).")
    result = figures(store, rubric.lower(), trainee)
    if as_json:
        print_json(result)
        return
    if not result["n"]:
        others = [r for r in ("mi", "dearman", "ctrs") if r != result["rubric"] and figures(store, r, trainee)["n"]]
        if others:
            console.print(f"No reviewed {result['rubric']} turns; there are reviewed turns for "
                          f"{' and '.join(others)}: add --rubric {others[0]}.", markup=False)
            return
        console.print("No reviewed turns yet: correct codes with `simtrainer sessions correct`, or mark a session "
                      "reviewed with `simtrainer sessions review ID --done`.", markup=False)
        return
    kappa = "undefined" if result["kappa"] is None else f"{result['kappa']:.2f}"
    console.print(f"{result['rubric']}: {result['n']} turns in {result['sessions']} sessions, "
                  f"agreement {result['agreement']:.0%}, Cohen's kappa {kappa}", markup=False)
    def label(code: str) -> str:  # as the badges and `sessions show` write it (CT, Persuade); JSON keeps the ids
        return code_label(result["rubric"], code)

    skills = result["rubric"] == "dearman"
    order = [item.id for item in load_rubric("dearman").items] if skills else []
    rows = sorted(result["per_code"].items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))
    table(["skill" if skills else "code", "turns", "agreement", "coder", "supervisor"],
          [[label(code), v["n"], f"{v['agreement']:.0%}", v["coder"], v["supervisor"]] for code, v in rows],
          title="Per skill (a turn may show several)" if skills else "Per code")
    codes = sorted({*result["confusion"], *(col for row in result["confusion"].values() for col in row)})
    table(["coder \\ supervisor", *map(label, codes)],
          [[label(row), *[result["confusion"].get(row, {}).get(col, 0) or "" for col in codes]] for row in codes
           if row in result["confusion"]], title="Confusion (rows: coder, columns: supervisor)")


@click.group("export")
def export_group() -> None:
    """Export data gathered across sessions."""


@export_group.command("corrections")
@click.option("-o", "--out", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="The CSV file to write.")
def export_corrections(out: Path) -> None:
    """Supervisors' MI corrections as an AnnoMI-format CSV, for `simtrainer train mi-coder --extra FILE`."""
    from simtrainer.review.training_data import to_csv
    from simtrainer.storage import open_store

    text, labelled = to_csv(open_store())
    if not labelled:
        raise UserError("No MI corrections or reviewed sessions to export.",
                        fix="Correct codes with `simtrainer sessions correct`, or mark sessions reviewed with "
                            "`simtrainer sessions review ID --done`.")
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"Cannot write the CSV: {exc.strerror}.", where=str(out), fix="Choose a writable path.") from None
    click.echo(f"Wrote {out}: {labelled} utterances labelled by supervisors.", err=True)


COMMANDS = [agreement, export_group]
