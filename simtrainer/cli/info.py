"""`config`, `models` and `scenarios`: what is set up, what is installed, what can be practised."""

from __future__ import annotations

from pathlib import Path

import click
import tomli_w
from rich.markup import escape
from rich.text import Text

from simtrainer.cli.output import console, human_size, print_json, table
from simtrainer.config import cache_dir, config_file, data_dir, load_settings
from simtrainer.errors import UserError
from simtrainer.text_safety import plain


@click.group()
def config() -> None:
    """Show settings and where they live."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print settings as JSON.")
def config_show(as_json: bool) -> None:
    """Print the effective settings (file + environment + defaults); warn about entries the app would ignore."""
    from simtrainer.cli import err_console
    from simtrainer.ui.settings_check import check_look

    loaded = load_settings()
    for problem in check_look(loaded.theme, loaded.keymap)[1]:
        err_console.print(f"[yellow]Warning:[/] {escape(problem)}", soft_wrap=True)
    settings = loaded.model_dump(mode="json", exclude_none=True)
    if as_json:
        print_json(settings)
    else:
        click.echo(f"# {config_file()} (SIMTRAINER_* environment variables override it)")
        click.echo(tomli_w.dumps(settings).rstrip())


@config.command("path")
@click.option("--json", "as_json", is_flag=True)
def config_path(as_json: bool) -> None:
    """Print where config, data (session database) and cache live."""
    from simtrainer.storage.store import default_db_path

    paths = {
        "config_file": str(config_file()),
        "data_dir": str(data_dir()),
        "database": str(default_db_path()),
        "cache_dir": str(cache_dir()),
    }
    if as_json:
        print_json(paths)
    else:
        for key, value in paths.items():
            click.echo(f"{key:12} {value}")


@click.group()
def models() -> None:
    """Models the patient can run on."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def models_list(as_json: bool) -> None:
    """Every named model: backend, location, size, present or missing."""
    from simtrainer.llm import list_models

    settings = load_settings()
    entries = list_models(settings)
    if as_json:
        print_json([{**e.to_dict(), "default": e.name == settings.model} for e in entries])
        return
    rows = [
        [("* " if e.name == settings.model else "  ") + e.name, e.spec.backend, e.location, human_size(e.size_bytes),
         e.status]
        for e in entries
    ]
    table(["name", "backend", "path / url", "size", "status"], rows, title="Models (* = in use)", whole=("name",))


@models.command("add")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--name", help="Name to use it by (default: from the file name).")
@click.option("--prompt-style", type=click.Choice(["transcript", "chat"]),
              help="transcript for tiny models, chat for instruction-following ones (default: by size).")
def models_add(path: Path, name: str | None, prompt_style: str | None) -> None:
    """Register a local GGUF file under a name, after checking it loads and generates on this machine."""
    import re

    from simtrainer.config_write import save_model
    from simtrainer.llm import list_models
    from simtrainer.llm.llamacpp import check_gguf
    from simtrainer.llm.probe import check_model_runs
    from simtrainer.llm.registry import default_budget

    path = path.expanduser().resolve()
    check_gguf(path)
    name = name or re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,59}", name or ""):
        raise UserError(f"'{name}' cannot name a model.", where="--name",
                        fix="Use lower-case letters, digits, '.', '-' or '_' (at most 60), e.g. --name qwen-1.5b.")
    settings = load_settings()
    if any(entry.name == name for entry in list_models(settings)):
        raise UserError(f"A model named '{name}' is already registered.", where="--name",
                        fix="Choose another --name, or see `simtrainer models list`.")
    result = check_model_runs(path, n_threads=settings.n_threads, n_gpu_layers=settings.n_gpu_layers)
    budget = default_budget(path.stat().st_size)
    table_ = {"backend": "llamacpp", "path": str(path), "description": f"Added from {path.name}",
              "prompt_style": prompt_style or budget.prompt_style, "max_candidates": budget.candidates,
              "candidate_tokens": budget.tokens}
    written = save_model(name, table_)
    speed = f"; {result.tokens_per_s} tokens/s" if result.tokens_per_s else ""
    console.print(plain(f"Added model '{name}' ({result.detail}{speed}) to {written}."))
    console.print(plain(f"Use it with: simtrainer practice --model {name} …, or set model = \"{name}\" in the config."))


@click.group()
def scenarios() -> None:
    """Persona cards to practise with."""


def _all_cards():
    from simtrainer.scenarios import load_cards, scenario_dirs

    return load_cards(scenario_dirs(load_settings()))


def _print_shortfalls(short: dict[str, list[tuple[str, str]]]) -> None:
    from simtrainer.cli import err_console

    for card_id, found in short.items():
        if found:
            err_console.print(Text.assemble(("Short of the shipped cards' bar", "yellow"), " ", plain(card_id),
                                            f" ({len(found)})"), soft_wrap=True)
        for field, what in found:
            err_console.print(plain(f"  {field}: {what}"), soft_wrap=True)


def _print_problems(problems) -> None:
    from simtrainer.cli import err_console

    for problem in problems:
        err_console.print(Text.assemble(("Broken card", "yellow"), " ", plain(problem.file)), soft_wrap=True)
        err_console.print(plain(f"  field: {problem.field}: {problem.message}"), soft_wrap=True)
        err_console.print(plain(f"  fix:   {problem.fix}"), soft_wrap=True)


@scenarios.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.option("--modality", type=click.Choice(["mi", "dearman", "cbt"]), help="Only this modality.")
def scenarios_list(as_json: bool, modality: str | None) -> None:
    """List the scenarios; broken cards are reported on stderr, the good ones still listed."""
    cards, problems = _all_cards()
    cards = [c for c in cards if modality in (None, c.modality)]
    if as_json:
        print_json(
            [
                {
                    "id": c.id,
                    "title": c.title,
                    "modality": c.modality,
                    "difficulty": c.difficulty,
                    "person": c.person.name,
                    "summary": c.summary,
                }
                for c in cards
            ]
        )
    else:
        rows = [[c.id, c.modality, c.difficulty, c.title] for c in cards]
        table(["id", "modality", "difficulty", "title"], rows, title=f"{len(cards)} scenarios", whole=("id",))
    _print_problems(problems)


@scenarios.command("show")
@click.argument("scenario_id")
@click.option("--json", "as_json", is_flag=True)
def scenarios_show(scenario_id: str, as_json: bool) -> None:
    """Show one persona card."""
    from simtrainer.scenarios import get_card

    card = get_card(scenario_id, load_settings())
    if as_json:
        print_json(card.model_dump(mode="json", exclude_none=True))
        return
    p = card.person
    console.print(Text.assemble(plain(card.title, "bold"), plain(f"  ({card.id}, {card.modality_name}, "
                                                                 f"{card.difficulty})")))
    console.print(plain(card.summary))
    console.print()
    console.print(Text.assemble(plain(p.name, "bold"),
                                plain(f", {p.age}{', ' + p.pronouns if p.pronouns else ''}: {p.background}")))
    console.print(Text.assemble(("Concern:", "bold"), " ", plain(card.presenting_concern)))
    if card.dearman:
        console.print(Text.assemble(("You play:", "bold"), " ", plain(card.dearman.trainee_role), ". ",
                                    ("Ask for:", "bold"), " ", plain(card.dearman.request)))
    console.print()
    console.print(Text.assemble(("Opening line:", "bold"), " ", plain(f'"{card.opening_line}"')))


@scenarios.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Hold each card to the shipped cards' bar too: 36 lines (12 change, "
              "12 sustain, 8 neutral), a reaction with 3 lines per trigger, no repeated text, lines in character "
              "that never trip the card's own facts.")
def scenarios_validate(paths: tuple[Path, ...], strict: bool) -> None:
    """Check card files (or folders of them); exit 2 if any is broken (or, with --strict, short of the bar)."""
    from simtrainer.scenarios import load_cards, scenario_dirs
    from simtrainer.scenarios.quality import shortfalls

    missing = [p for p in paths if not p.exists()]
    if missing:
        raise UserError(f"No such file or folder: {missing[0]}", where="validate PATH", fix="Check the path.")
    cards, problems = load_cards(list(paths))
    short = {card.id: shortfalls(card) for card in cards} if strict else {}
    for card in cards:
        if short.get(card.id):
            continue
        console.print(Text.assemble(("ok", "green"), "  ", plain(card.id)))
    _print_problems(problems)
    _print_shortfalls(short)
    read = [folder.resolve() for folder in scenario_dirs(load_settings())]
    unseen = [p for p in paths if not any(folder == (p.resolve() if p.is_dir() else p.resolve().parent)
                                          for folder in read)]
    if cards and unseen:  # a good card outside those folders passes here but is missing from practice
        these = f"{', '.join(map(str, unseen))} {'is' if len(unseen) == 1 else 'are'}"
        console.print(plain(f"Note: {these} not in a folder simtrainer reads cards from, so "
                            f"`scenarios list` and `practice` will not offer it. Copy it to {read[1]} or add its "
                            "folder to `scenario_dirs` in config.toml (`simtrainer config path` shows where)."), soft_wrap=True)
    if problems or any(short.values()):
        raise click.exceptions.Exit(2)


COMMANDS = [config, models, scenarios]
