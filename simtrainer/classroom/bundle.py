"""Hand-in bundles: one JSON file per finished exercise session, schema-versioned and checksummed.

A student's machine writes the bundle; the instructor's machine reads it. The checksum is SHA-256 over the
canonical JSON of every field except `checksum`, so any edit, truncation or re-encoding is caught on import.
It proves integrity, not authorship: anyone with simtrainer can write a valid bundle.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from simtrainer.errors import UserError

FORMAT = "simtrainer-exercise-bundle"
SCHEMA_VERSION = 1
MAX_BYTES = 20 * 1024 * 1024
REQUIRED = {
    "format": str,
    "schema_version": int,
    "created_at": str,
    "simtrainer_version": str,
    "exercise": dict,
    "trainee": str,
    "session": dict,
    "turns": list,
    "summary": dict,
    "goals": list,
    "checksum": str,
}
EXERCISE_KEYS = ("id", "title", "pack_sha256")


def canonical(payload: dict[str, Any]) -> bytes:
    """The bytes the checksum covers: sorted keys, no spaces, UTF-8, `checksum` left out."""
    body = {key: value for key, value in payload.items() if key != "checksum"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def checksum(payload: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(canonical(payload)).hexdigest()


def seal(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with its format marker, schema version and checksum set."""
    sealed = {key: value for key, value in payload.items() if key != "checksum"}
    sealed["format"] = FORMAT
    sealed["schema_version"] = SCHEMA_VERSION
    sealed["checksum"] = checksum(sealed)
    return sealed


def write_bundle(payload: dict[str, Any], path: Path) -> dict[str, Any]:
    """Seal the payload and write it atomically (a temp file renamed into place), so a crash leaves no half file."""
    sealed = seal(payload)
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path} is a folder", where=str(path), fix="give a file name, e.g. -o hand-in.json")
    tmp = path.with_name(path.name + ".part")
    try:
        tmp.write_text(json.dumps(sealed, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"could not write the bundle: {exc.strerror}", where=str(path),
                        fix="choose a folder you can write to") from None
    return sealed


def read_bundle(path: Path) -> dict[str, Any]:
    """Read and verify one bundle; any flaw is a `UserError` naming the file and the reason."""
    path = Path(path)
    where = str(path)
    resend = "ask the student to run `simtrainer exercise submit` again and send the new file unchanged"
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise UserError(f"the file is {size} bytes, over the {MAX_BYTES} byte limit for a bundle", where=where,
                            fix="check this is a simtrainer hand-in bundle")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError("no such file", where=where, fix="check the path") from None
    except IsADirectoryError:
        raise UserError("this is a folder, not a bundle file", where=where, fix="give the bundle files") from None
    except OSError as exc:
        raise UserError(f"could not read the file: {exc.strerror}", where=where, fix="check its permissions") from None
    try:
        text = raw.decode("utf-8")
        payload = json.loads(text)
    except UnicodeDecodeError:
        raise UserError("not a bundle: the file is not UTF-8 text", where=where, fix=resend) from None
    except json.JSONDecodeError as exc:  # a string left open runs to the end: cut there too
        cut = exc.pos >= len(text.rstrip()) - 1 or exc.msg.startswith("Unterminated string")
        what = "the bundle is truncated (the JSON ends early)" if cut else f"the bundle is not valid JSON ({exc.msg})"
        raise UserError(what, where=f"{where}, line {exc.lineno}", fix=resend) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserError("not a simtrainer hand-in bundle", where=where,
                        fix="import the files written by `simtrainer exercise submit`")
    version = payload.get("schema_version")
    if version != SCHEMA_VERSION:
        raise UserError(f"bundle schema version {version!r} is not supported (this simtrainer reads {SCHEMA_VERSION})",
                        where=where, fix="use the same simtrainer version as the students, or upgrade")
    for key, kind in REQUIRED.items():
        if not isinstance(payload.get(key), kind):
            raise UserError(f"the bundle lacks `{key}` or it has the wrong type", where=f"{where}: {key}", fix=resend)
    if payload["checksum"] != checksum(payload):
        raise UserError("the bundle was changed after it was written (checksum mismatch)", where=where, fix=resend)
    for key in EXERCISE_KEYS:
        if not isinstance(payload["exercise"].get(key), str):
            raise UserError(f"the bundle lacks exercise.{key}", where=f"{where}: exercise.{key}", fix=resend)
    return payload
