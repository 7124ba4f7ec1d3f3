"""A class's figures from the bundles its students handed in: per student, the class as a whole, and the moments
most students slipped. One data shape feeds `class report --json`, the CSV and the HTML page.

Which hand-in counts for a student: their best one, the session that met the most goals (the latest of equals),
so a student who practised again is judged on their best attempt; the row also says how many sessions they
handed in and which was latest. The same session handed in twice counts once (the copy imported last). Names match
in any case, as in `trainees`. The rubric figures are those `trainees` follows (`review/progress.py`).
"""

from __future__ import annotations

import csv
import io
import statistics
from datetime import UTC, datetime
from typing import Any

from simtrainer.classroom.roster import class_bundles
from simtrainer.classroom.slips import PATTERNS, session_slips
from simtrainer.review.progress import NO_NAME, RUBRIC_NAMES, figures, figures_text
from simtrainer.storage import Store
from simtrainer.text_safety import csv_cell

#: the figures whose spread over the class is shown, per rubric
SPREAD = {"mi": ("rq", "pct_cr", "mi_adherent", "mi_non_adherent", "relational", "technical"),
          "dearman": ("skills_shown",), "ctrs": ("total",)}
TOP_SLIPS = 5
#: the figures a row shows (see `figures_text`): a bundle whose figure is not a number has that rubric left out
SHOWN = {"mi": SPREAD["mi"], "dearman": ("skills_shown", "skills_total"), "ctrs": ("total", "max")}
#: figures that are None when there is nothing to divide (no question, no reflection)
OPTIONAL = {"rq", "pct_cr"}


def _number(value: Any, *, optional: bool) -> bool:
    return (value is None and optional) or (isinstance(value, int | float) and not isinstance(value, bool))


def _figures(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`trainees`' figures, plus the DEAR MAN skills used by name. A bundle is data from elsewhere: a rubric
    whose summary lacks a figure is left out rather than failing the whole report."""
    rubrics = summary.get("rubrics")
    out = {}
    for rubric, scores in (rubrics.items() if isinstance(rubrics, dict) else ()):
        try:
            found = figures(rubric, scores)
        except (KeyError, TypeError):
            continue
        if found is not None and all(_number(found[k], optional=k in OPTIONAL) for k in SHOWN[rubric]):
            out[rubric] = found
    if "dearman" in out and isinstance(checklist := rubrics["dearman"].get("checklist"), dict):
        out["dearman"]["skills"] = [skill for skill, shown in checklist.items() if shown]
    return out


def _goals(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [g for g in bundle["goals"] if isinstance(g, dict) and isinstance(g.get("key"), str)]


def _session(row: dict[str, Any]) -> dict[str, Any]:
    bundle = row["bundle"]
    goals = _goals(bundle)
    return {"id": str(bundle["session"].get("id") or row["checksum"]), "handed_in": bundle["created_at"],
            "scenario": str(bundle["session"].get("scenario", "")), "goals": goals,
            "goals_met": sum(g.get("met") is True for g in goals), "figures": _figures(bundle["summary"]),
            "slips": session_slips(bundle)}


def _students(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_name: dict[str, dict[str, Any]] = {}
    for row in rows:
        name = row["trainee"].strip() or NO_NAME
        student = by_name.setdefault(name.casefold(), {"trainee": name, "sessions": {}})
        session = _session(row)
        student["sessions"][session["id"]] = session  # a session handed in again: the copy imported last
    out = []
    for student in by_name.values():
        sessions = sorted(student["sessions"].values(), key=lambda s: s["handed_in"])
        best = max(reversed(sessions), key=lambda s: s["goals_met"])
        slips: dict[str, dict[str, Any]] = {}
        for s in sessions:
            for pattern, example in s["slips"].items():
                slips.setdefault(pattern, {**example, "session": s["id"]})
        out.append({"trainee": student["trainee"], "sessions": len(sessions), "goals_met": best["goals_met"],
                    "goals_total": len(best["goals"]), "best_session": best["id"], "latest_session": sessions[-1]["id"],
                    "latest_goals_met": sessions[-1]["goals_met"], "goals": best["goals"],
                    "figures": best["figures"], "slips": slips})
    return sorted(out, key=lambda s: (s["trainee"] == NO_NAME, s["trainee"].casefold()))


def _goal_shares(students: list[dict[str, Any]]) -> list[dict[str, Any]]:
    shares: dict[str, dict[str, Any]] = {}
    for student in students:
        for goal in student["goals"]:
            entry = shares.setdefault(goal["key"], {"key": goal["key"], "students_met": 0, "students": 0})
            entry["students"] += 1
            entry["students_met"] += goal.get("met") is True
    return [{**e, "share": round(e["students_met"] / e["students"], 3)} for e in shares.values()]


def _spread(students: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for rubric, names in SPREAD.items():
        for name in names:
            values = [s["figures"][rubric][name] for s in students
                      if rubric in s["figures"] and isinstance(s["figures"][rubric].get(name), int | float)]
            if values:
                out.append({"rubric": rubric, "figure": name, "students": len(values),
                            "median": round(statistics.median(values), 3), "min": min(values), "max": max(values)})
    return out


def _slips(students: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each pattern at least one student showed, most students first, with the first student's moment."""
    out = []
    for pattern in PATTERNS:
        showed = [s for s in students if pattern.id in s["slips"]]
        if showed:
            first = showed[0]
            out.append({"id": pattern.id, "title": pattern.title, "students": len(showed), "of": len(students),
                        "trainees": [s["trainee"] for s in showed], "example_is": pattern.example_is,
                        "example": {"trainee": first["trainee"], **first["slips"][pattern.id]}})
    return sorted(out, key=lambda p: -p["students"])


def class_report(store: Store, name: str) -> dict[str, Any]:
    """Everything the class report shows, as JSON-ready data."""
    found, rows = class_bundles(store, name)
    students = _students(rows)
    return {
        "class": found["name"],
        "exercise": {"id": found["exercise_id"], "title": found["exercise_title"] or "",
                     "pack_sha256": found["pack_sha256"]},
        "bundles": len(rows),
        "students": students,
        "goals": _goal_shares(students),
        "distributions": _spread(students),
        "slips": _slips(students),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _rubrics(data: dict[str, Any]) -> list[str]:
    return [r for r in RUBRIC_NAMES if any(r in s["figures"] for s in data["students"])]


def report_csv(data: dict[str, Any]) -> str:
    """One row per student: sessions, goals, each goal met or not, the best session's figures, slips shown."""
    goal_keys = [g["key"] for g in data["goals"]]
    columns = {"mi": list(SPREAD["mi"]), "dearman": ["skills_shown", "skills_total", "skills"],
               "ctrs": ["total", "max", "competent"]}
    rubrics = _rubrics(data)
    head = ["trainee", "sessions", "goals_met", "goals_total", "best_session", "latest_session",
            *(f"goal:{k}" for k in goal_keys), *(f"{r}_{c}" for r in rubrics for c in columns[r]), "slips"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([csv_cell(c) for c in head])  # goal keys come from the bundles too
    for s in data["students"]:
        met = {g["key"]: g.get("met") is True for g in s["goals"]}
        cells = [s["trainee"], s["sessions"], s["goals_met"], s["goals_total"], s["best_session"],
                 s["latest_session"], *("" if k not in met else str(met[k]).lower() for k in goal_keys)]
        for r in rubrics:
            f = s["figures"].get(r, {})
            cells += [" ".join(v) if isinstance(v := f.get(c), list) else "" if v is None else v for c in columns[r]]
        cells.append(" ".join(s["slips"]))
        writer.writerow([csv_cell(c) for c in cells])
    return buffer.getvalue()


def _value(value: Any) -> str:
    """A goal's figure for a table cell: a number as it reads, yes / no for a flag, nothing when unknown."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value:g}"
    return ""


def render_class_report(data: dict[str, Any]) -> str:
    """The self-contained HTML page (escaped by the review templates' autoescaping environment)."""
    from simtrainer.review.charts import Bar, svg_share_chart
    from simtrainer.review.report import render

    rubrics = _rubrics(data)
    rows = [{**s, "figures_text": {r: figures_text(r, f) for r, f in s["figures"].items()},
             "met": {g["key"]: g.get("met") is True for g in s["goals"]},
             "value": {g["key"]: _value(g.get("value")) for g in s["goals"]}} for s in data["students"]]
    chart = svg_share_chart("Students meeting each goal", [
        Bar(g["key"], g["share"], f"{g['students_met']} of {g['students']}") for g in data["goals"]])
    return render("class_report.html.j2", **data, students_rows=rows, rubrics=rubrics, rubric_names=RUBRIC_NAMES,
                  top_slips=data["slips"][:TOP_SLIPS], goals_chart=chart if data["goals"] else None)
