"""An instructor's classes: hand-in bundles imported into a class, all or nothing, and listed back.

A class is tied at its first import to one exercise: its id and the SHA-256 of the pack the students ran, so a
bundle from another exercise, or from an edited copy of the pack, cannot slip into the figures. Every file of an
import is read and checked before anything is written; one bad file and nothing from that call is imported, so
a class never holds half a hand-in round. A bundle is keyed on its checksum: importing it again adds nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simtrainer.classroom.bundle import read_bundle
from simtrainer.errors import UserError
from simtrainer.storage import Store

MAX_NAME = 60


@dataclass
class Imported:
    """What one import did: the class, whether this import created it, and each file's fate."""

    name: str
    exercise: dict[str, str]
    created: bool
    #: (file, trainee) of each bundle stored now
    added: list[tuple[str, str]] = field(default_factory=list)
    #: files whose bundle the class already held (or that repeat another file of this import)
    already: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"class": self.name, "exercise": self.exercise, "created": self.created,
                "imported": [{"file": f, "trainee": t} for f, t in self.added], "already": self.already}


def check_class_name(text: str) -> str:
    name = text.strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise UserError(f"'{text}' is not a usable class name.", where="--class",
                        fix=f"Use 1 to {MAX_NAME} printable characters, e.g. --class 'Group A 2026'.")
    return name


def _pack(exercise: dict[str, Any]) -> str:
    return f"exercise '{exercise['id']}' (pack {exercise['pack_sha256'][:12]})"


def _mismatch(exercise: dict[str, Any], tied: dict[str, Any], class_name: str) -> str | None:
    """Why a bundle does not belong to a class tied to `tied` (id, pack_sha256), or None when it does."""
    if exercise["id"] != tied["id"]:
        return f"a bundle for {_pack(exercise)}, but class '{class_name}' is for {_pack(tied)}"
    if exercise["pack_sha256"] != tied["pack_sha256"]:
        return (f"a bundle for another version of exercise '{exercise['id']}' (pack {exercise['pack_sha256'][:12]}, "
                f"the class's is {tied['pack_sha256'][:12]}): the pack was edited after it was handed out")
    return None


def import_bundles(store: Store, class_name: str, paths: list[Path]) -> Imported:
    """Read and check every file, then store the new bundles in one transaction. Any unreadable, tampered,
    truncated or foreign file, or one for another exercise than the class's, is a `UserError` that names each
    bad file with its reason, and nothing is imported."""
    name = check_class_name(class_name)
    if not paths:
        raise UserError("No bundle files given.", fix="List the hand-in files, e.g. simtrainer class import "
                        f"--class '{name}' hand-ins/*.json")
    existing = store.find_class(name)
    tied = ({"id": existing["exercise_id"], "title": existing["exercise_title"] or "",
             "pack_sha256": existing["pack_sha256"]} if existing else None)
    bad: list[str] = []
    good: list[tuple[Path, dict[str, Any]]] = []
    for path in paths:
        try:
            bundle = read_bundle(path)
        except UserError as error:
            bad.append(f"{error.where or path}: {error.what}")
            continue
        exercise = bundle["exercise"]
        if tied is None:  # a new class takes the first good bundle's exercise
            tied = {key: exercise[key] for key in ("id", "title", "pack_sha256")}
        why = _mismatch(exercise, tied, name)
        if why:
            bad.append(f"{path}: {why}")
        else:
            good.append((path, bundle))
    if bad:
        raise UserError(
            f"{len(bad)} of {len(paths)} files refused, so nothing was imported:\n" + "\n".join(f"  {b}" for b in bad),
            where=f"class '{existing['name'] if existing else name}'",
            fix="Ask those students to run `simtrainer exercise submit` again and send the new file unchanged, or "
            "leave those files out; then run the same import again.")
    assert tied is not None
    stored = store.class_bundles(existing["id"]) if existing else []
    held = {b["checksum"] for b in stored}
    # one session handed in twice (from the app's summary and again with `exercise submit`) is one hand-in
    held_sessions = {b["session_id"] for b in stored if b["session_id"]}
    result = Imported(existing["name"] if existing else name, tied, existing is None)
    rows = []
    for path, bundle in good:
        session_id = str(bundle["session"].get("id", ""))
        if bundle["checksum"] in held or (session_id and session_id in held_sessions):
            result.already.append(str(path))
            continue
        held.add(bundle["checksum"])
        held_sessions.add(session_id)
        rows.append({"checksum": bundle["checksum"], "trainee": bundle["trainee"].strip(),
                     "session_id": session_id, "source": path.name,
                     "bundle": json.dumps(bundle, ensure_ascii=False, sort_keys=True)})
        result.added.append((str(path), bundle["trainee"].strip()))
    if rows:
        stored = set(store.add_class_bundles(result.name, tied, rows))
        late = [f for (f, _), row in zip(result.added, rows, strict=True) if row["checksum"] not in stored]
        result.added = [a for a in result.added if a[0] not in late]
        result.already += late
    return result


def list_classes(store: Store) -> list[dict[str, Any]]:
    """Each class: name, exercise (id, title), pack hash, when made, bundles and students (distinct names)."""
    return [{"class": c["name"], "exercise": {"id": c["exercise_id"], "title": c["exercise_title"] or ""},
             "pack_sha256": c["pack_sha256"], "created_at": c["created_at"], "bundles": c["bundles"],
             "students": c["students"]} for c in store.classes()]


def class_bundles(store: Store, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A class (as stored) and its bundles; an unknown name is a `UserError` listing the known classes."""
    found = store.find_class(name.strip()) if name.strip() else None
    if found is None:
        known = [c["name"] for c in store.classes()]
        raise UserError(f"No class '{name}'.",
                        fix=("Known classes: " + ", ".join(known)) if known else
                        "No class yet: import hand-ins with simtrainer class import --class NAME FILES...")
    return found, store.class_bundles(found["id"])
