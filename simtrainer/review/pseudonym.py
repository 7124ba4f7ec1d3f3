"""Stable codes for trainee names, so a report or export can leave the machine without the name in it.

A code is a keyed hash of the name with a secret kept in the data folder (0600): the same name gets the same code
in every report from this install, and nobody without the secret can test guessed names against a code."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

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
