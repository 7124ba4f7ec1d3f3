"""The trainee's name: checked, kept in config.toml (`trainee`), asked for once.

Sessions carry the name so a supervisor can follow one trainee's progress. The app asks on first run; a
trainee who skips gets `trainee = ""` written to the config file, so "asked" is simply "the file has a
`trainee` key" (or SIMTRAINER_TRAINEE is set) and nobody is asked again at every start. The name can be
changed later from the home screen.
"""

from __future__ import annotations

import os
from pathlib import Path

from simtrainer.config import Settings
from simtrainer.config_write import read_config, save_setting
from simtrainer.errors import UserError

MAX_LENGTH = 60
ENV = "SIMTRAINER_TRAINEE"


def check_name(text: str) -> str:
    """The name as stored: stripped, 1 to 60 printable characters."""
    name = text.strip()
    if not name:
        raise UserError("The name is empty.", fix="Type your name or student id, or skip.")
    if len(name) > MAX_LENGTH:
        raise UserError(f"The name is {len(name)} characters long; at most {MAX_LENGTH} are kept.",
                        fix="Shorten it, e.g. to a first name and initial or a student id.")
    if not name.isprintable():
        raise UserError("The name holds a control or other non-printable character.",
                        fix="Type it again using letters, digits, spaces and punctuation only.")
    return name


def needs_asking(settings: Settings) -> bool:
    """True on first run: no name set, none in the environment, and never asked (no `trainee` in the file)."""
    return not settings.trainee and ENV not in os.environ and "trainee" not in read_config()


def save_name(text: str) -> str:
    """Check `text` and keep it as the trainee's name; returns the name as stored."""
    name = check_name(text)
    save_setting("trainee", name)
    return name


def remember_skipped() -> Path:
    """The trainee chose not to give a name: write `trainee = ""` so the question is not asked again."""
    return save_setting("trainee", "")
