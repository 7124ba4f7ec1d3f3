"""Locate the data folders (scenarios, rubrics, models, example exercises) that ship with simtrainer.

In a checkout they sit at the repository root; in an installed wheel they are under `simtrainer/_data/`.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_folder(name: str) -> Path:
    """Return the shipped folder `name` (``scenarios``, ``rubrics``, ``models`` or ``exercises``)."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"simtrainer's {name}/ folder is missing from the installation")
