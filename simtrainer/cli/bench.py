"""`bench`: print measured speed and memory figures."""

from __future__ import annotations

import click

from simtrainer.cli.output import print_json, table
from simtrainer.config import load_settings


@click.group()
def bench() -> None:
    """Measure speed and memory on this machine."""


@bench.command("patient")
@click.option("-s", "--scenario", "scenario_id", default="mi-alcohol-nurse", show_default=True)
@click.option("-m", "--model", help="Model name or .gguf path (default: the configured model).")
@click.option("--turns", default=30, show_default=True, type=click.IntRange(1, 200))
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def bench_patient_cmd(scenario_id: str, model: str | None, turns: int, as_json: bool) -> None:
    """Load time, first-token time at turns 1/10/30, app vs raw tokens/s, memory."""
    from simtrainer.bench.patient import bench_patient
    from simtrainer.scenarios import get_card

    settings = load_settings()
    result = bench_patient(settings, get_card(scenario_id, settings), model=model, turns=turns)
    if as_json:
        print_json(result)
    else:
        table(["figure", "value"], [[k, v] for k, v in result.items()], title="bench patient")


COMMANDS = [bench]
