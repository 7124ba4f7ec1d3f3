"""Codes read back from the database: the badge label is not stored, so it is derived as each coder gives it."""

from __future__ import annotations

from typing import Any

from simtrainer.feedback.base import Code

SEVERAL = "+"  # joins the DEAR MAN skills one corrected turn showed ("reinforce+negotiate")


def code_label(rubric: str, code: str, detail: str | None = None) -> str:
    """The short badge text for a stored code (e.g. "CR", "Q open", "D", "GD")."""
    if rubric == "mi":
        from simtrainer.rubrics import load_rubric

        mi = load_rubric("mi")
        if code in mi.client_codes:
            return mi.client_codes[code].label
        try:
            label = mi.code(code).label
        except KeyError:
            return code
        return f"Q {detail}" if code == "Q" and detail else label
    if rubric == "dearman":
        from simtrainer.feedback.dearman.coder import LABELS

        return SEVERAL.join(LABELS.get(part, part) for part in code.split(SEVERAL))  # a correction may name several
    if rubric == "ctrs":
        from simtrainer.feedback.ctrs.scorer import SHORT

        return SHORT.get(code, code)
    return code


def shown_label(rubric: str, code: str, detail: str | None = None, uncertain: bool = False,
                runner_up: str = "") -> str:
    """The label as shown to a person: an uncertain code ends in "?" and names the code the coder would give
    next, e.g. "CR? (or SR)"."""
    label = code_label(rubric, code, detail)
    if not uncertain:
        return label
    return f"{label}? (or {code_label(rubric, runner_up)})" if runner_up else f"{label}?"


def stored_code(row: dict[str, Any]) -> Code:
    """A `Code` from a row of the codes table (as `Store.turns` returns them)."""
    return Code(row["rubric"], row["code"], code_label(row["rubric"], row["code"], row.get("detail")),
                row.get("confidence"), row.get("detail") or "", row.get("scorer") or "", row.get("reason") or "",
                bool(row.get("uncertain")), row.get("runner_up") or "")
