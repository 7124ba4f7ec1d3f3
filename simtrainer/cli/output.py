"""Small helpers for command output: JSON to stdout, tables with rich."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from simtrainer.text_safety import json_safe, plain

console = Console(highlight=False)


def print_json(value: Any) -> None:
    click.echo(json_safe(json.dumps(value, indent=2, ensure_ascii=False, default=str)))


PIPED_WIDTH = 240  # the width of a table written to a pipe or file
WIDE = 100  # a terminal narrower than this lists ids by their random tail and dates without the year


def narrow() -> bool:
    """A terminal too narrow for whole ids and dates beside a scenario id (piped output keeps them whole)."""
    return console.is_terminal and console.width < WIDE


def listed(session_id: str, started_at: str, short: bool) -> tuple[str, str]:
    """A session's id and start as a listing shows them: `short`, the id's random tail (every command takes it)
    and the date without the year."""
    started = started_at[5 if short else 0:16].replace("T", " ")
    return (session_id.rsplit("-", 1)[-1] if short else session_id), started


def table(columns: list[str], rows: list[list[Any]], title: str | None = None, *, whole: tuple[str, ...] = ()) -> None:
    """A table on stdout; the `whole` columns (ids, times) are never broken across lines, the others fold. Cells
    and the title (it often holds a name) are shown as written: no markup in them is parsed, no control character
    reaches the terminal."""
    t = Table(title=plain(title) if title else None, show_edge=False, header_style="bold")
    for column in columns:
        t.add_column(column, overflow="fold", no_wrap=column in whole)
    for row in rows:
        t.add_row(*[plain("" if v is None else v) for v in row])
    # a pipe or file has no width of its own: rich's 80 columns broke names into a letter a line (`| grep Ana`)
    out = console if console.is_terminal else Console(highlight=False, width=PIPED_WIDTH, file=console.file)
    out.print(t)


def human_size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"
