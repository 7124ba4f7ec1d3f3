"""The `simtrainer` command: a thin layer over the domain packages.

Every subcommand calls the same domain code the TUI uses. A `UserError` anywhere is printed as a short titled
message on stderr with exit code 2, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.text import Text

from simtrainer import __version__
from simtrainer.errors import UserError
from simtrainer.text_safety import plain

err_console = Console(stderr=True, highlight=False)


def report(error: UserError) -> None:
    """The error on stderr; its parts are shown as written (they often quote user text, brackets and all)."""
    for label, style, part in (("Error:", "bold red", error.what), ("  where:", "dim", error.where),
                               ("  fix:  ", "dim", error.fix)):
        if part:
            err_console.print(Text.assemble((label, style), " ", plain(part)), soft_wrap=True)


class SimGroup(click.Group):
    """Turns `UserError` into a clear message and exit code 2 for every subcommand."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UserError as error:
            report(error)
            ctx.exit(error.exit_code)
        except KeyboardInterrupt:
            err_console.print("Interrupted.")
            ctx.exit(130)


@click.group(cls=SimGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="simtrainer")
@click.option("--exercise", "exercise_pack", type=click.Path(path_type=Path), metavar="PACK",
              help="Open the app straight into an exercise pack (a file, or a shipped example's name).")
@click.pass_context
def cli(ctx: click.Context, exercise_pack: Path | None) -> None:
    """Practise counseling conversations with a simulated patient, with live rubric feedback.

    Run with no command to start practising; --exercise PACK opens the app on an instructor's exercise.
    Everything runs on this machine.
    """
    _private_by_default()
    if exercise_pack is not None and ctx.invoked_subcommand is not None:
        raise UserError(f"--exercise opens the app; it does not go with `{ctx.invoked_subcommand}`.",
                        where="--exercise", fix=f"Run `simtrainer --exercise {exercise_pack}` alone, "
                        f"`simtrainer serve --exercise {exercise_pack}` for browser tabs, or "
                        f"`simtrainer practice --exercise {exercise_pack}` in the terminal.")
    if ctx.invoked_subcommand is None:
        from simtrainer.cli.practice import start_app

        start_app(exercise_pack)


def _private_by_default() -> None:
    """Everything written from here on is owner-only; what an older version or a copy left open is tightened,
    with one line on stderr saying what."""
    from simtrainer.config import cache_dir, config_dir, data_dir
    from simtrainer.storage.private import make_private_process, notice, tighten

    make_private_process()
    changed = tighten([data_dir(), config_dir(), cache_dir()])
    if changed:
        click.echo(notice(changed), err=True)


def _register() -> None:
    from simtrainer.cli import (
        bench,
        classes,
        coding,
        doctor,
        exercise,
        importing,
        info,
        model_install,
        practice,
        review,
        session_report,
        sessions,
        speech,
        trainees,
    )

    for module in (info, sessions, importing, practice, coding, review, speech, bench, doctor, trainees,
                   exercise, classes):
        for command in module.COMMANDS:
            cli.add_command(command)
    for command in session_report.SESSION_COMMANDS:
        sessions.sessions.add_command(command)
    for command in model_install.MODEL_COMMANDS:
        info.models.add_command(command)


_register()


def main() -> None:
    cli(prog_name="simtrainer")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
