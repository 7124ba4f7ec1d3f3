"""`exercise`: check and show an exercise pack, hand in a session; and the exercise side of `practice --exercise`
(instructions first, live goal progress, the turn and time limits, a result per goal at the end)."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from simtrainer.classroom.goals import counts, evaluate, format_value, progress_line, session_progress
from simtrainer.classroom.pack import Pack, PackProblems, load_pack
from simtrainer.cli.output import console, print_json
from simtrainer.config import Settings, load_settings
from simtrainer.session import Session
from simtrainer.text_safety import plain

PACK = click.Path(path_type=Path)
OPS = {">=": "≥", "<=": "≤", "==": "="}


@click.group()
def exercise() -> None:
    """Exercise packs an instructor hands out: check one, show it, hand in a session run with it."""


@exercise.command("validate")
@click.argument("pack", type=PACK)
def validate(pack: Path) -> None:
    """Check a pack (its card, goals and model); prints OK and a one-line summary, or every mistake in its keys
    (exit 2)."""
    from simtrainer.cli import report

    try:
        loaded = load_pack(pack, load_settings())
    except PackProblems as problems:
        for problem in problems.problems:
            report(problem)
        raise click.exceptions.Exit(2) from None
    console.print(Text.assemble(("OK", "bold green"), " ", plain(loaded.summary_line())), soft_wrap=True)


@exercise.command("show")
@click.argument("pack", type=PACK)
@click.option("--json", "as_json", is_flag=True, help="Print the pack as JSON.")
def show(pack: Path, as_json: bool) -> None:
    """Show a pack: instructions, scenario, limits, model and goals."""
    loaded = load_pack(pack, load_settings())
    if as_json:
        print_json(loaded.describe())
        return
    info = loaded.describe()
    console.print(plain(loaded.title, "bold"))
    rows = [("id", loaded.id), ("file", info["file"]), ("sha256", loaded.sha256),
            ("scenario", f"{loaded.card.id} — {loaded.card.title} ({loaded.card.modality_name})"
             + (f", shipped as {info['scenario']['shipped']}" if loaded.card_path else ", built in")),
            ("limits", loaded.limits_text()), ("model", loaded.model_text or "the configured model")]
    for label, value in rows:
        console.print(Text.assemble((f"{label:>9}: ", "dim"), plain(value)), soft_wrap=True)
    console.print()
    console.print(plain(loaded.instructions))
    console.print()
    console.print(goals_table([{**goal.to_dict(), "value": None, "met": None} for goal in loaded.goals],
                              final=False))


@exercise.command("submit")
@click.argument("session_id")
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path),
              help="The hand-in bundle to write (one JSON file).")
@click.option("--trainee", help="Your name, for a session saved without one.")
def submit(session_id: str, output: Path, trainee: str | None) -> None:
    """Write a finished exercise session as a hand-in bundle for your instructor."""
    from simtrainer.classroom.handin import submit as write
    from simtrainer.storage import open_store

    load_settings()  # a broken config is reported before anything is written
    bundle = write(open_store(), session_id, output, trainee=trainee)
    console.print(Text.assemble("Wrote ", plain(str(output), "bold"), " for ", plain(bundle["trainee"]), ": ",
                                plain(bundle["exercise"]["title"]), f", {bundle['goals_met']} of "
                                f"{bundle['goals_total']} goals met."), soft_wrap=True)
    console.print(plain(f"checksum {bundle['checksum']}", "dim"))


def goals_table(results: list[dict], *, final: bool = True) -> Table:
    """The goals, with each one's value and whether it was met when `final`."""
    table = Table(title="Goals", show_edge=False, header_style="bold", title_justify="left")
    for column in ("goal", "target", *(("value", "met") if final else ())):
        table.add_column(column)
    for r in results:
        target = f"{OPS[r['op']]} {format_value(r['threshold'])}"
        cells = [plain(r["key"]), plain(target)]
        if final:
            cells += [plain(format_value(r["value"])),
                      Text("yes", style="green") if r["met"] else Text("no", style="red")]
        table.add_row(*cells)
    return table


# practice --exercise --------------------------------------------------------------------------------------
def exercise_settings(path: Path, settings: Settings, model: str | None) -> tuple[Pack, Settings, str | None]:
    """The pack, and the settings and model its session runs with (`-m` wins over the pack's model)."""
    pack = load_pack(path, settings)
    settings, pack_model = pack.model_for(settings)
    return pack, settings, model or pack_model


def resumed_exercise(settings: Settings, session_id: str,
                     model: str | None) -> tuple[Pack | None, Settings, str | None, float]:
    """For `practice --resume`: the pack the session ran (None if none), the settings and model to continue
    with, and the seconds since the session started (its time limit counts from then, breaks included)."""
    from datetime import UTC, datetime

    from simtrainer.classroom.pack import reopen
    from simtrainer.storage import open_store

    row = open_store().get_session(session_id)
    if not row.get("exercise"):
        return None, settings, model, 0.0
    pack = reopen(row["exercise"], settings)
    settings, pack_model = pack.model_for(settings)
    elapsed = (datetime.now(UTC) - datetime.fromisoformat(row["started_at"])).total_seconds()
    return pack, settings, model or pack_model, max(0.0, elapsed)


def print_instructions(pack: Pack) -> None:
    console.print(Text.assemble(("Exercise: ", "bold"), plain(pack.title, "bold")))
    console.print(plain(pack.instructions.strip()), soft_wrap=True)
    limits = pack.limits_text()
    goals = "; ".join(goal.text for goal in pack.goals)
    console.print(plain(f"Limits: {limits}." + (f" Goals: {goals}." if goals else ""), "dim"), soft_wrap=True)
    console.print()


class Tracker:
    """Follows one exercise session: live goal progress after each trainee turn, and the turn and time limits."""

    def __init__(self, pack: Pack, session: Session, *, show: bool, elapsed_s: float = 0.0):
        self.pack = pack
        self.session = session
        self.show = show
        self.elapsed_s = elapsed_s  # time already spent (a resumed session)
        self.started = time.monotonic() - elapsed_s
        self.stopped: str | None = None

    def start(self) -> None:
        """Start the clock: when the conversation starts, not while the model loads."""
        self.started = time.monotonic() - self.elapsed_s

    def after_turn(self) -> bool:
        """Print the progress line; True (after saying why) when the exercise's turn or time limit is reached."""
        turns = self.session.trainee_turns
        elapsed = time.monotonic() - self.started
        if self.show and self.pack.goals:
            console.print(plain(f"  goals: {progress_line(session_progress(self.session, list(self.pack.goals)))}"
                                f" — {self._where(turns, elapsed)}", "dim"), soft_wrap=True)
        self.stopped = self.pack.stop_reason(turns, elapsed)
        if self.stopped:
            say = f"Stopping: {self.stopped}."
            if self.show:
                console.print(plain(say, "bold yellow"))
            else:
                click.echo(say, err=True)
        return self.stopped is not None

    def _where(self, turns: int, elapsed: float) -> str:
        spec = self.pack.spec
        parts = [f"turn {turns}" + (f" of {spec.max_turns}" if spec.max_turns else "")]
        if spec.time_limit_min:
            parts.append(f"{max(0.0, spec.time_limit_min - elapsed / 60):.0f} min left")
        return ", ".join(parts)

    def results(self, summary: dict | None) -> dict:
        """The `exercise` key of `practice --json`: the pack, why it stopped, a result per goal."""
        results = evaluate(list(self.pack.goals), summary)
        met, total = counts(results)
        return {"id": self.pack.id, "title": self.pack.title, "pack_sha256": self.pack.sha256,
                "stopped": self.stopped, "goals": results, "goals_met": met, "goals_total": total}

    def print_results(self, summary: dict | None) -> None:
        result = self.results(summary)
        if result["goals"]:
            console.print(goals_table(result["goals"]))
            console.print(f"{result['goals_met']} of {result['goals_total']} goals met.")
        short = self.pack.short_of_minimum(self.session.trainee_turns)
        if short:
            console.print(plain(f"Note: {short}.", "yellow"))
        if summary is not None:
            console.print(f"Hand it in with: simtrainer exercise submit {self.session.id} -o hand-in.json")


COMMANDS = [exercise]
