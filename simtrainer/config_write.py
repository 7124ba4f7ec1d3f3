"""Save one top-level setting into config.toml, keeping everything else the user wrote.

The app changes the file (the trainee's name) while the user may edit it by hand too, so the edit is the
smallest possible: the setting's own line is replaced, or a new line is added after the last top-level key;
comments, order and the other settings stay as they were. When that edit cannot be proven right (the result
must parse to the old settings plus the new value), the file is rewritten from its parsed settings instead,
which keeps every setting but not comments. A file that is not valid TOML is refused, never overwritten. The
file is written whole to a temporary file and renamed over the old one, owner-only (0600).
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from simtrainer.config import config_file, config_text
from simtrainer.errors import UserError

_TABLE = re.compile(r"\s*\[")
_KEY = re.compile(r"\s*([A-Za-z0-9_-]+)\s*=")


def read_config(path: Path | None = None) -> dict[str, Any]:
    """The settings written in the file ({} when there is none); a broken file is a `UserError`."""
    return config_text(path or config_file())[1]


def save_setting(key: str, value: Any, path: Path | None = None) -> Path:
    """Set top-level `key` to `value` (a string, number or boolean) in the config file; returns its path."""
    path = (path or config_file()).resolve()
    text, data = config_text(path)
    wanted = {**data, key: value}
    edited = _edit(text, key, tomli_w.dumps({key: value}))
    if _parse(edited) != wanted:
        edited = tomli_w.dumps(wanted)
    _write(path, edited)
    return path


def save_model(name: str, table: dict[str, Any], path: Path | None = None) -> Path:
    """Add a `[models.NAME]` table to the config file (appended, the rest of the file kept as written)."""
    path = (path or config_file()).resolve()
    text, data = config_text(path)
    wanted = {**data, "models": {**data.get("models", {}), name: table}}
    edited = text + ("\n" if text and not text.endswith("\n") else "") + tomli_w.dumps({"models": {name: table}})
    if _parse(edited) != wanted:
        edited = tomli_w.dumps(wanted)
    _write(path, edited)
    return path


def _write(path: Path, edited: str) -> None:
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(edited)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except OSError as exc:
        raise UserError(
            f"Cannot write the config file: {exc.strerror or exc}.",
            where=str(path),
            fix="Make its folder writable by you, or set the value with the SIMTRAINER_* environment variable.",
        ) from None


def _edit(text: str, key: str, line: str) -> str:
    """`text` with `key`'s top-level line replaced by `line`, or `line` added after the last top-level key."""
    lines = text.splitlines(keepends=True)
    top = next((i for i, current in enumerate(lines) if _TABLE.match(current)), len(lines))
    keys = [i for i in range(top) if _KEY.match(lines[i])]
    for i in keys:
        if _KEY.match(lines[i]).group(1) == key:
            return "".join([*lines[:i], line, *lines[i + 1:]])
    at = keys[-1] + 1 if keys else 0
    before = lines[:at]
    if before and not before[-1].endswith("\n"):
        before[-1] += "\n"
    return "".join([*before, line, *lines[at:]])


def _parse(text: str) -> dict[str, Any] | None:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None
