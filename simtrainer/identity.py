"""The trainee's name: checked, kept in config.toml (`trainee`), asked for once.

Sessions carry the name so a supervisor can follow one trainee's progress. The app asks on first run; a
trainee who skips gets `trainee = ""` written to the config file, so "asked" is simply "the file has a
`trainee` key" (or SIMTRAINER_TRAINEE is set) and nobody is asked again at every start. The name can be
changed later from the home screen.

A machine several students share (`simtrainer serve`, one browser tab each) is different: the file belongs to
the machine, not to the student in this tab. There the app asks at every start and keeps the name for that app
alone (`ASK_ENV`), never in the file.
"""

from __future__ import annotations

import os
from pathlib import Path

from simtrainer.config import Settings
from simtrainer.config_write import read_config, save_setting
from simtrainer.errors import UserError

MAX_LENGTH = 60
ENV = "SIMTRAINER_TRAINEE"
#: Set (to 1) by `simtrainer serve` for every app it runs: ask each student's name, keep it in that app only.
ASK_ENV = "SIMTRAINER_ASK_NAME"


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


def asks_every_start() -> bool:
    """True where several students share this machine's settings (a served app): ask the name at every start."""
    return os.environ.get(ASK_ENV, "") not in ("", "0")


def save_name(text: str) -> str:
    """Check `text` and keep it as the trainee's name; returns the name as stored."""
    name = check_name(text)
    save_setting("trainee", name)
    return name


def remember_skipped() -> Path:
    """The trainee chose not to give a name: write `trainee = ""` so the question is not asked again."""
    return save_setting("trainee", "")
