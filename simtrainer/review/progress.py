"""A trainee's progress: each session's headline figures per rubric, read from the summary an ended session
stores, for `trainees list/show` and the progress page (one data shape for the JSON and the page)."""

from __future__ import annotations

from typing import Any

from simtrainer.errors import UserError
from simtrainer.review.charts import Chart, Line, Series, svg_line_chart
from simtrainer.rubrics import load_rubric
from simtrainer.storage import Store

NO_NAME = "(no name)"
#: the rubric a scenario's modality is scored on first (a CBT session is also coded for MI)
MAIN_RUBRIC = {"mi": "mi", "dearman": "dearman", "cbt": "ctrs"}
RUBRIC_NAMES = {"mi": "MI", "dearman": "DEAR MAN", "ctrs": "CTRS"}


def figures(rubric: str, scores: dict[str, Any]) -> dict[str, Any] | None:
    """The figures a supervisor follows over time for one rubric's summary; None for a rubric without any."""
    if rubric == "mi":
        return {"rq": scores["rq"], "pct_cr": scores["pct_cr"], "mi_adherent": scores["mi_adherent"],
                "mi_non_adherent": scores["mi_non_adherent"], "globals_estimate": scores["globals_estimate"],
                "relational": scores["relational"], "technical": scores["technical"]}
    if rubric == "dearman":
        return {"skills_shown": scores["skills_shown"], "skills_total": scores["skills_total"]}
    if rubric == "ctrs":
        return {"total": scores["total"], "max": scores["max"], "competent": scores["competent"]}
    return None


def session_figures(summary: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    out = {}
    for rubric, scores in ((summary or {}).get("rubrics") or {}).items():
        found = figures(rubric, scores)
        if found is not None:
            out[rubric] = found
    return out


def figures_text(rubric: str, f: dict[str, Any]) -> str:
    """One short line for a table cell."""
    if rubric == "mi":
        rq = "-" if f["rq"] is None else f"{f['rq']:.2f}"
        cr = "-" if f["pct_cr"] is None else f"{f['pct_cr']:.0%}"
        return (f"R:Q {rq}, CR {cr}, adh {f['mi_adherent']}/non {f['mi_non_adherent']}, "
                f"rel {f['relational']:.1f}, tech {f['technical']:.1f}")
    if rubric == "dearman":
        return f"{f['skills_shown']}/{f['skills_total']} skills"
    if rubric == "ctrs":
        return f"{f['total']}/{f['max']}" + (" competent" if f["competent"] else "")
    return ""


def _all_sessions(store: Store) -> list[dict[str, Any]]:
    """Every session, oldest first (SQLite reads a negative limit as none)."""
    return sorted(store.list_sessions(limit=-1), key=lambda s: s["started_at"])


def _entry(store: Store, session: dict[str, Any]) -> dict[str, Any]:
    """A session's figures: as reviewed where a supervisor corrected a code or rated an item (then also under
    `reviewed`; None otherwise), else the coders' (always also under `automatic`)."""
    from simtrainer.review.corrections import reviewed_summary

    reviewed = reviewed_summary(store, session["id"])
    automatic = session_figures(session["summary"])
    return {"id": session["id"], "started_at": session["started_at"], "scenario": session["scenario_id"],
            "rubric": MAIN_RUBRIC.get(session["modality"], session["modality"]), "status": session["status"],
            "figures": session_figures(reviewed) if reviewed else automatic, "automatic": automatic,
            "reviewed": session_figures(reviewed) if reviewed else None}


def trainees(store: Store) -> list[dict[str, Any]]:
    """One row per trainee (sessions without a name under "(no name)"): how many sessions, the last one, and the
    latest figures per rubric."""
    rows: dict[str, dict[str, Any]] = {}
    for session in _all_sessions(store):
        name = (session["trainee"] or "").strip() or NO_NAME
        row = rows.setdefault(name, {"trainee": name, "sessions": 0, "last_session": None, "latest": {}})
        row["sessions"] += 1
        row["last_session"] = session["started_at"]
        from simtrainer.review.corrections import reviewed_summary

        row["latest"].update(session_figures(reviewed_summary(store, session["id"]) or session["summary"]))
    return sorted(rows.values(), key=lambda r: (r["trainee"] == NO_NAME, r["trainee"].casefold()))


def trainee_progress(store: Store, name: str) -> dict[str, Any]:
    """`{"trainee", "sessions": [{"id", "started_at", "scenario", "rubric", "status", "figures", "reviewed"}]}`,
    oldest first;
    an unknown name is a `UserError` that lists the known ones."""
    sessions = _all_sessions(store)
    mine = [s for s in sessions if (s["trainee"] or "").strip().casefold() == name.strip().casefold()]
    if not mine or not name.strip():
        known = sorted({(s["trainee"] or "").strip() for s in sessions} - {""}, key=str.casefold)
        raise UserError(f"No sessions for trainee '{name}'.",
                        fix=("Known trainees: " + ", ".join(known)) if known else
                        "No session has a trainee name yet: practise with --trainee NAME.")
    return {"trainee": mine[0]["trainee"].strip(), "sessions": [_entry(store, s) for s in mine]}


def trend_charts(progress: dict[str, Any]) -> list[Chart]:
    """One chart per figure followed, over the trainee's sessions (numbered 1, 2, ... in order), with the
    rubric's thresholds as reference lines; rubrics no session has are left out."""
    numbered = list(enumerate(progress["sessions"], start=1))

    def points(rubric: str, pick) -> list[tuple[float, float]]:
        return [(n, pick(s["figures"][rubric])) for n, s in numbered
                if rubric in s["figures"] and pick(s["figures"][rubric]) is not None]

    charts = []
    if any("mi" in s["figures"] for _, s in numbered):
        mi = load_rubric("mi").thresholds
        charts.append(Chart("MI: reflections to questions (R:Q)", [Series("R:Q", points("mi", lambda f: f["rq"]))],
                            "session", "R:Q", [Line("fair", mi["rq"].fair), Line("good", mi["rq"].good)], 2.0))

        def pct(f: dict[str, Any]) -> float | None:
            return None if f["pct_cr"] is None else round(f["pct_cr"] * 100, 1)

        charts.append(Chart("MI: complex reflections (%)", [Series("% complex", points("mi", pct))], "session", "%",
                            [Line("fair", mi["pct_cr"].fair * 100), Line("good", mi["pct_cr"].good * 100)], 100))
        charts.append(Chart("MI: global estimates (1-5)", [
            Series("relational", points("mi", lambda f: f["relational"])),
            Series("technical", points("mi", lambda f: f["technical"])),
        ], "session", "score", [Line("fair (relational)", mi["relational"].fair)], 5))
    if any("dearman" in s["figures"] for _, s in numbered):
        total = max(s["figures"]["dearman"]["skills_total"] for _, s in numbered if "dearman" in s["figures"])
        charts.append(Chart("DEAR MAN: skills shown", [Series("skills", points("dearman", lambda f: f["skills_shown"]))],
                            "session", "skills", [], total, whole=True))
    if any("ctrs" in s["figures"] for _, s in numbered):
        ctrs = load_rubric("ctrs")
        lines = [Line("competent", ctrs.competence_threshold)] if ctrs.competence_threshold else []
        charts.append(Chart("CTRS: total", [Series("total", points("ctrs", lambda f: f["total"]))], "session",
                            "total", lines, ctrs.total_max))
    for chart in charts:
        chart.x_range = (1, len(numbered))
    return charts


def render_progress(progress: dict[str, Any]) -> str:
    """The self-contained progress page."""
    from simtrainer.review.report import render

    rows = [{**s, "figures_text": {r: figures_text(r, f) for r, f in s["figures"].items()}}
            for s in progress["sessions"]]
    rubrics = [r for r in RUBRIC_NAMES if any(r in s["figures"] for s in rows)]
    return render("progress.html.j2", trainee=progress["trainee"], sessions=rows, rubrics=rubrics,
                  rubric_names=RUBRIC_NAMES, charts=[svg_line_chart(c) for c in trend_charts(progress)])
