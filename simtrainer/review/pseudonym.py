"""Stable codes for trainee names, so a report or export can leave the machine without the name in it.

A code is a keyed hash of the name with a secret kept in the data folder (0600): the same name gets the same code
in every report from this install, and nobody without the secret can test guessed names against a code."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from typing import Any

from simtrainer.config import data_dir
from simtrainer.errors import UserError
from simtrainer.storage.private import private_dir

SECRET_FILE = "pseudonym.key"


def _secret() -> bytes:
    path = data_dir() / SECRET_FILE
    try:
        private_dir(path.parent)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
        key = path.read_text(encoding="ascii").strip()
    except OSError as exc:
        raise UserError(f"Cannot read or create the pseudonym key: {exc.strerror}.", where=str(path),
                        fix="Make the data folder writable (or set SIMTRAINER_HOME).") from None
    if len(key) < 32:  # a file cut short (crash between create and write): refuse rather than weaken every code
        raise UserError("The pseudonym key is damaged.", where=str(path),
                        fix="Delete it; new codes will differ from those in earlier reports.")
    return key.encode("ascii")


def pseudonym(name: str) -> str:
    """"trainee-" and six hex digits for a name; "" stays "" (no name, nothing to hide)."""
    name = name.strip()
    if not name:
        return ""
    return "trainee-" + hmac.new(_secret(), name.casefold().encode("utf-8"), hashlib.sha256).hexdigest()[:6]


def pseudonymised(data: Any, name: str) -> Any:
    """A copy of JSON-like `data` with the trainee's name replaced by its code in every string (dict keys left
    alone): the whole name, and each part of it of three letters or more, in any case, wherever it stands as a
    word — so the name goes from the trainee field, and from titles, notes, file names and lines that use it.
    A name spelt another way (a nickname, a typo) is not found."""
    code = pseudonym(name)
    if not code:
        return data
    parts = name.split()
    words = [r"\s+".join(map(re.escape, parts)), *(re.escape(p) for p in parts if len(p) >= 3)]
    # a word: no letter or digit either side ("ann_notes.txt" and "Ann's" count, "Annie" does not)
    pattern = re.compile(r"(?<![^\W_])(?:" + "|".join(words) + r")(?![^\W_])", re.IGNORECASE)

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return pattern.sub(code, value)
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [walk(item) for item in value]
        return value

    return walk(data)
