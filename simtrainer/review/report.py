"""The report a supervisor hands a trainee: one self-contained HTML file (inline CSS and SVG, no URL of any kind)
that opens anywhere offline and prints to PDF as shown.

`report_data` gathers everything the page shows as plain data; the Jinja2 template (autoescape on) only lays it
out, so every piece of user text is escaped on the way out. Summaries are a list of titled blocks, so figures
"as reviewed" join the automatic ones as one more block."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from simtrainer.errors import UserError
from simtrainer.feedback.labels import code_label, shown_label
from simtrainer.feedback.shown import shown_codes
from simtrainer.review.charts import Chart, Series, svg_line_chart
from simtrainer.review.corrections import NONE, latest_corrections, reviewed_summary, turn_number
from simtrainer.review.export import other_speaker, state_text
from simtrainer.review.pseudonym import pseudonymised
from simtrainer.review.summary_view import summary_tables
from simtrainer.rubrics import load_rubric
from simtrainer.storage import Store
from simtrainer.storage.private import private_dir


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("simtrainer.review", "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render(template: str, **context: Any) -> str:
    return _environment().get_template(template).render(**context)


def _turns(store: Store, session_id: str, modality: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The transcript with the codes shown for the session's rubric and notes at their turns, and the notes on the
    session as a whole."""
    notes: dict[int | None, list[dict[str, Any]]] = {}
    for a in store.annotations(session_id):
        notes.setdefault(a["turn_id"], []).append({"author": a["author"] or "", "body": a["body"],
                                                   "created_at": a["created_at"]})
    corrected = latest_corrections(store.corrections(session_id))
    turns = []
    for t in store.turns(session_id):
        turns.append({
            "number": turn_number(t["idx"]),
            "speaker": t["speaker"],
            "text": t["text"],
            "codes": [{"rubric": c["rubric"], "code": c["code"], "detail": c["detail"] or "",
                       "label": shown_label(c["rubric"], c["code"], c["detail"], bool(c.get("uncertain")),
                                            c.get("runner_up") or ""), "confidence": c["confidence"],
                       "reason": c["reason"] or "", "scorer": c["scorer"] or ""} for c in shown_codes(modality, t["codes"])],
            "corrections": [{"rubric": rubric, "code": c["code"], "author": c["author"] or "",
                             "label": code_label(rubric, c["code"], c["detail"]) if c["code"] != NONE else NONE}
                            for (idx, rubric), c in corrected.items() if idx == t["idx"]],
            "notes": notes.pop(t["id"], []),
            "state": state_text(t["meta"], modality) if t["meta"].get("state") else "",
        })
    return turns, [n for group in notes.values() for n in group]


def client_talk(turns: list[dict[str, Any]]) -> list[dict[str, int]]:
    """Cumulative change (CT) and sustain (ST) talk after each patient turn the MI coder coded, as reviewed: a
    supervisor's MI correction of a turn counts instead of the coder's code."""
    kinds = load_rubric("mi").client_codes
    out, change, sustain = [], 0, 0
    for t in turns:
        if t["speaker"] != "patient":
            continue
        codes = [c["code"] for c in t["codes"] if c["rubric"] == "mi" and c["code"] in kinds]
        fixed = [c["code"] for c in t["corrections"] if c["rubric"] == "mi"]
        if codes or fixed:
            code = fixed[0] if fixed else codes[0]
            change += code == "change"
            sustain += code == "sustain"
            out.append({"turn": t["number"], "change": change, "sustain": sustain})
    return out


def talk_chart(points: list[dict[str, int]]) -> Chart:
    return Chart("The patient's change and sustain talk", [
        Series("change talk (CT), cumulative", [(p["turn"], p["change"]) for p in points]),
        Series("sustain talk (ST), cumulative", [(p["turn"], p["sustain"]) for p in points]),
    ], "turn", "count", y_min_top=2, whole=True)


def _tables(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"title": table.title, "columns": table.columns, "caption": table.caption, "scorer": scorer,
             "rows": [{"cells": row, "mark": mark} for row, mark in zip(table.rows, table.marks, strict=True)]}
            for table, scorer in summary_tables(summary)]


def report_data(store: Store, session_id: str, *, pseudonymise: bool = False) -> dict[str, Any]:
    """Everything the report shows, as JSON-ready data; `pseudonymise`: the trainee's name, wherever it
    appears, as its code."""
    s = store.get_session(session_id)
    turns, session_notes = _turns(store, s["id"], s["modality"])
    trainee = (s["trainee"] or "").strip()
    summary = s["summary"]
    reviewed = reviewed_summary(store, s["id"])
    scorers = sorted({c["scorer"] for t in turns for c in t["codes"] if c["scorer"]})
    talk = client_talk(turns)
    data = {
        "session": {"id": s["id"], "scenario_id": s["scenario_id"], "scenario_title": s["scenario_title"],
                    "modality": s["modality"], "model": s["model"], "started_at": s["started_at"],
                    "ended_at": s["ended_at"], "status": s["status"],
                    "trainee": trainee, "reviewed_by": s.get("reviewed_by") or "", "reviewed_at": s.get("reviewed_at"),
                    "other_speaker": other_speaker(s["modality"])},
        "scorers": scorers,
        "turns": turns,
        "session_notes": session_notes,
        "summaries": ([{"title": "As coded", "tables": _tables(summary)}] if summary else [])
        + ([{"title": "As reviewed", "tables": _tables(reviewed)}] if reviewed else []),
        "client_talk": talk,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return pseudonymised(data, trainee) if pseudonymise else data


def render_report(data: dict[str, Any]) -> str:
    talk = svg_line_chart(talk_chart(data["client_talk"])) if data["client_talk"] else None
    return render("report.html.j2", **data, talk_chart=talk)


def default_path(session_id: str) -> Path:
    from simtrainer.config import data_dir

    return data_dir() / "exports" / f"{session_id}.html"


def write_page(html: str, out: Path) -> Path:
    """Write a page (its folder made owner-only when it is ours to create)."""
    try:
        private_dir(out.parent)
        out.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"Cannot write the report: {exc.strerror}.", where=str(out),
                        fix="Choose a writable path with -o.") from None
    return out
