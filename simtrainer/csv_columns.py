"""One check for every CSV the project reads: the columns a file must have, named in one wording."""

from __future__ import annotations

from collections.abc import Sequence

from simtrainer.errors import UserError


def require_columns(fieldnames: Sequence[str] | None, needed: set[str], where: str, fix: str, kind: str = "") -> set[str]:
    """The file's columns, or a `UserError` naming those it lacks (`kind`: whose columns, e.g. "AnnoMI")."""
    columns = set(fieldnames or ())
    missing = needed - columns
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise UserError(f"The CSV lacks the {kind + ' ' if kind else ''}column{plural} {', '.join(sorted(missing))}.",
                        where=where, fix=fix)
    return columns
