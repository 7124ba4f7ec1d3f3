"""`doctor`: check every part simtrainer depends on and say how to fix what is broken."""

from __future__ import annotations

import click
from rich.table import Table
from rich.text import Text

from simtrainer.cli.output import console, print_json

STYLES = {"ok": "green", "warn": "yellow", "problem": "bold red"}


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@click.pass_context
def doctor(ctx: click.Context, as_json: bool) -> None:
    """Check config, data folder, model (run in a child process), coders, speech, audio and network policy.

    Exits 2 when something is broken; warnings (no microphone, say) keep exit 0."""
    from simtrainer.config import load_settings
    from simtrainer.doctor import as_json as checks_json
    from simtrainer.doctor import run_checks, with_config_warnings
    from simtrainer.errors import UserError
    from simtrainer.ui.settings_check import check_look

    checks = run_checks()
    try:
        settings = load_settings()
    except UserError:
        pass  # already the config check's problem
    else:
        checks = with_config_warnings(checks, check_look(settings.theme, settings.keymap)[1])
    result = checks_json(checks)
    if as_json:
        print_json(result)
    else:
        grid = Table(show_edge=False, header_style="bold", show_lines=False)
        for column in ("part", "status", "detail / fix"):
            grid.add_column(column, overflow="fold")
        for check in checks:
            detail = Text(check.detail)
            if check.fix:
                detail.append(f"\nfix: {check.fix}", style="cyan")
            grid.add_row(check.part, Text(check.status, style=STYLES[check.status]), detail)
        console.print(grid)
        problems = sum(1 for c in checks if c.status == "problem")
        console.print("All parts work." if result["ok"] else f"{problems} part(s) need fixing (see 'fix').")
    if not result["ok"]:
        ctx.exit(2)


COMMANDS = [doctor]
