"""Exercise goals: thresholds on a session summary's figures, checked at the end and followed live.

A goal names a figure by the summary's own JSON keys (`summary.rubrics.mi.rq` is `rq`, a nested figure is
`counts.SR`), with `_min` / `_max` for a number or `= true` / `= false` for a yes/no figure. The figures a
scenario offers are read from the rubrics' own `summarize` over an empty session, so a figure added to a
summary becomes a goal key with no change here, and a key that names nothing is refused when the pack is
validated instead of silently never being met. The CLI and the app both show `evaluate`'s results.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from fnmatch import fnmatchcase
from functools import cache
from typing import Any

from simtrainer.errors import UserError

OPS = {"min": ">=", "max": "<="}
SESSION = "session"  # goals on the summary's top level (trainee_turns), beside the rubrics


@dataclass(frozen=True)
class Goal:
    """One goal as the pack states it: `key` as written, the figure it reads and the test it puts."""

    key: str
    rubric: str  # a rubric id in `summary.rubrics`, or SESSION for the summary's top level
    figure: str  # a dotted path inside that rubric's summary, e.g. "rq" or "counts.SR"
    op: str  # ">=", "<=" or "=="
    threshold: float | int | bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Goal:
        return cls(**{k: data[k] for k in ("key", "rubric", "figure", "op", "threshold")})

    @property
    def text(self) -> str:
        """The goal in a few words, e.g. `rq ≥ 1.0` or `checklist.assert = yes`."""
        op = {">=": "≥", "<=": "≤", "==": "="}[self.op]
        return f"{self.figure} {op} {format_value(self.threshold)}"


def rubrics_for(modality: str) -> tuple[str, ...]:
    """The rubric a session of this modality is scored on: the one that fits it (`feedback/shown.py`)."""
    from simtrainer.feedback.shown import main_rubric

    return (main_rubric(modality),)


@cache
def _empty_summary(rubric: str) -> dict[str, Any]:
    """The rubric's summary of a session without turns: every key it writes, with no model loaded."""
    from simtrainer.rubrics import load_rubric

    if rubric == "mi":
        from simtrainer.feedback.mi.summary import miti_summary

        return miti_summary([], load_rubric("mi"))
    if rubric == "dearman":
        from simtrainer.feedback.dearman.coder import DearManCoder

        return DearManCoder(None, load_rubric("dearman")).summarize([])  # type: ignore[arg-type]
    from simtrainer.feedback.ctrs.scorer import CTRSScorer
    from simtrainer.feedback.shown import microskills

    empty = CTRSScorer(None, load_rubric("ctrs")).summarize([])  # type: ignore[arg-type]
    return {**empty, "microskills": microskills([])}  # the session adds the micro-skills to a CBT summary


def _flatten(value: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Dotted path -> "number" or "flag" for each figure in a summary; text and lists are no figures."""
    out: dict[str, str] = {}
    for key, item in value.items():
        path = f"{prefix}{key}"
        if isinstance(item, dict):
            out |= _flatten(item, path + ".")
        elif isinstance(item, bool):
            out[path] = "flag"
        elif item is None or isinstance(item, int | float):  # None: a ratio with nothing to divide yet
            out[path] = "number"
    return out


def figures(modality: str) -> dict[str, dict[str, str]]:
    """rubric -> {figure path: kind} for a session of `modality`, the session's own figures first."""
    out = {SESSION: {"trainee_turns": "number"}}
    for rubric in rubrics_for(modality):
        out[rubric] = _flatten(_empty_summary(rubric))
    return out


def valid_keys(modality: str) -> list[str]:
    """Every goal key a pack for this modality may use, as a reader would write it."""
    keys = []
    for kinds in figures(modality).values():
        for path, kind in kinds.items():
            keys.append(f"{path}_min/_max" if kind == "number" else f"{path} = true/false")
    if "dearman" in rubrics_for(modality):
        keys.append("skills = [...]")
    return keys


def parse_goals(table: dict[str, Any], modality: str, where: str) -> list[Goal]:
    """The pack's `[goals]` table as goals; a key naming no figure of the scenario's rubrics, or a value of the
    wrong kind, is a `UserError` with the valid keys in its fix (the first; `read_goals` gives every one).
    `where(key)` says where a key is written."""
    goals, problems = read_goals(table, modality, where)
    if problems:
        raise problems[0]
    return goals


def read_goals(table: dict[str, Any], modality: str, where: str) -> tuple[list[Goal], list[UserError]]:
    """The goals of the table that are right, and a `UserError` for each one that is not (a key or value of the
    wrong kind, or a goal no session can meet: out of its figure's range, or a minimum above the same figure's
    maximum)."""
    known = figures(modality)
    goals: list[Goal] = []
    problems: list[UserError] = []
    for key, value in _leaves(table):
        try:
            if key == "skills" and "dearman" in known:
                goals += _skills(value, known["dearman"], where(key))
            else:
                goal = _goal(key, value, known, modality, where(key))
                _check_range(goal, where(key))
                goals.append(goal)
        except UserError as error:
            problems.append(error)
    for low in (g for g in goals if g.op == ">="):
        high = next((g for g in goals if g.op == "<=" and (g.rubric, g.figure) == (low.rubric, low.figure)), None)
        if high is not None and low.threshold > high.threshold:
            problems.append(UserError(f"goal `{low.key} = {format_value(low.threshold)}` is above `{high.key} = "
                                      f"{format_value(high.threshold)}`: no session can meet both",
                                      where=where(low.key), fix=f"make {low.key} at most {high.key}"))
    return goals, problems


#: the range of a figure (lowest, highest; None: no top) where it is not just a count from 0; the first pattern
#: that matches a figure's path wins
RANGES = (
    ("pct_cr", 0, 1, "a share: write 0.4 for two in five"),
    ("globals_estimate.*", 1, 5, "MITI globals run 1-5"),
    ("relational", 1, 5, "an average of two MITI globals, 1-5"),
    ("technical", 1, 5, "an average of two MITI globals, 1-5"),
    ("items.*.score", 0, 6, "a CTRS item scores 0-6"),
    ("total", 0, 66, "the CTRS total of 11 items runs 0-66"),
    ("skills_shown", 0, 7, "DEAR MAN has seven skills"),
)


def figure_range(goal: Goal) -> tuple[float, float | None, str]:
    """(lowest, highest or None, why) of the figure a goal reads: counts, ratios and turns run from 0 up."""
    for pattern, low, high, why in RANGES:
        if fnmatchcase(goal.figure, pattern):
            return low, high, why
    return 0, None, "a count or ratio, 0 or more"


def _check_range(goal: Goal, where: str) -> None:
    """A goal outside its figure's range is never met (`pct_cr_min = 40`) or reads a negative count."""
    if goal.op == "==":
        return
    low, high, why = figure_range(goal)
    value = goal.threshold
    if value < low or (goal.op == ">=" and high is not None and value > high):
        span = f"from {format_value(low)} to {format_value(high)}" if high is not None else \
            f"from {format_value(low)} up"
        raise UserError(f"goal `{goal.key} = {format_value(value)}` is out of range: `{goal.figure}` runs {span}",
                        where=where, fix=f"give a value {span} ({why})")


def _leaves(table: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted key, value) for every value in a TOML table; `counts.SR_min = 2` reads as {"counts": {...}}."""
    out = []
    for key, value in table.items():
        if isinstance(value, dict):
            out += _leaves(value, f"{prefix}{key}.")
        else:
            out.append((f"{prefix}{key}", value))
    return out


def _goal(key: str, value: Any, known: dict[str, dict[str, str]], modality: str, where: str) -> Goal:
    parts = key.split(".")
    rubrics = [parts.pop(0)] if len(parts) > 1 and parts[0] in known and parts[0] != SESSION else list(known)
    path = ".".join(parts)
    stem, _, suffix = path.rpartition("_")
    op = OPS.get(suffix) if stem else None
    figure = stem if op else path
    for rubric in rubrics:
        kind = known[rubric].get(figure)
        if kind is None:
            continue
        if kind == "number" and op:
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise UserError(f"goal `{key}` needs a number, not {value!r}", where=where,
                                fix=f"write e.g. `{key} = 1`")
            return Goal(key, rubric, figure, op, value)
        if kind == "flag" and not op:
            if not isinstance(value, bool):
                raise UserError(f"goal `{key}` is a yes/no figure and needs true or false, not {value!r}",
                                where=where, fix=f"write `{key} = true`")
            return Goal(key, rubric, figure, "==", value)
        fix = f"write `{figure} = true` (or false)" if kind == "flag" else f"write `{figure}_min = ...` or " \
              f"`{figure}_max = ...`"
        raise UserError(f"goal `{key}`: `{figure}` is a {'yes/no' if kind == 'flag' else 'number'} figure",
                        where=where, fix=fix)
    names = ", ".join(valid_keys(modality))
    raise UserError(f"goal `{key}` names no figure of this scenario's summary ({', '.join(known)})", where=where,
                    fix=f"use one of: {names}")


def _skills(value: Any, dearman: dict[str, str], where: str) -> list[Goal]:
    """`skills = ["describe", "assert"]`: each DEAR MAN skill must be shown at least once."""
    skills = [path.removeprefix("checklist.") for path in dearman if path.startswith("checklist.")]
    if not isinstance(value, list) or not value or not all(isinstance(s, str) for s in value):
        raise UserError("goal `skills` needs a list of DEAR MAN skills", where=where,
                        fix=f'write e.g. skills = ["describe", "assert"]; the skills are {", ".join(skills)}')
    unknown = [s for s in value if s not in skills]
    if unknown:
        raise UserError(f"goal `skills`: {', '.join(map(repr, unknown))} is no DEAR MAN skill", where=where,
                        fix=f"use some of: {', '.join(skills)}")
    return [Goal(f"skills.{s}", "dearman", f"checklist.{s}", "==", True) for s in dict.fromkeys(value)]


def value_of(goal: Goal, summary: dict[str, Any] | None) -> Any:
    """The figure's value in `summary` (None when the summary lacks it)."""
    if not summary:
        return None
    node: Any = summary if goal.rubric == SESSION else (summary.get("rubrics") or {}).get(goal.rubric)
    for part in goal.figure.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def is_met(goal: Goal, value: Any, summary: dict[str, Any] | None) -> bool:
    """Whether `value` passes the goal. A figure without a value is not met, except R:Q with reflections and no
    question, which is as high as it gets: it meets a minimum and fails a maximum."""
    if value is None:
        if goal.rubric == "mi" and goal.figure == "rq" and (value_of(Goal("", "mi", "reflections", "", 0), summary)
                                                              or 0) > 0:
            return goal.op == ">="
        return False
    if goal.op == "==":
        return value == goal.threshold
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return value >= goal.threshold if goal.op == ">=" else value <= goal.threshold


def evaluate(goals: list[Goal], summary: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One result per goal: key, rubric, figure, op, threshold, value, met. With a partial summary (during the
    session) this is the progress so far."""
    results = []
    for goal in goals:
        value = value_of(goal, summary)
        results.append({**goal.to_dict(), "value": value, "met": is_met(goal, value, summary)})
    return results


def counts(results: list[dict[str, Any]]) -> tuple[int, int]:
    """(goals met, goals in all)."""
    return sum(1 for r in results if r["met"]), len(results)


def format_value(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.1f}"
    return str(value)


def progress_line(results: list[dict[str, Any]]) -> str:
    """A compact line of every goal: `✓ rq 1.5 (≥ 1.0) · ✗ pct_cr 0.2 (≥ 0.4)`; the app may lay out the
    same results its own way."""
    op = {">=": "≥", "<=": "≤", "==": "="}
    return " · ".join(
        f"{'✓' if r['met'] else '✗'} {r['figure']} {format_value(r['value'])} ({op[r['op']]} "
        f"{format_value(r['threshold'])})"
        for r in results
    )


def session_progress(session, goals: list[Goal]) -> list[dict[str, Any]]:
    """The goals against a running session's summary so far (the coders' summaries are cheap: no model call)."""
    from simtrainer.session import score

    return evaluate(goals, score(session.coders, session.turn_views()))
