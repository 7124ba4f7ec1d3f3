"""Export one session as JSON (complete record), Markdown (readable transcript) or CSV (one row per turn)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from simtrainer.review.summary_view import markdown_table, summary_tables
from simtrainer.storage import Store

FORMATS = ("json", "md", "csv")


def session_record(store: Store, session_id: str) -> dict[str, Any]:
    """Everything stored about a session, in one JSON-ready dict."""
    session = store.get_session(session_id)
    turns = store.turns(session["id"])
    return {
        "session": session,
        "turns": [
            {
                "idx": t["idx"],
                "speaker": t["speaker"],
                "text": t["text"],
                "created_at": t["created_at"],
                "codes": t["codes"],
                "meta": t["meta"],
            }
            for t in turns
        ],
        "annotations": store.annotations(session["id"]),
    }


def _code_text(codes: list[dict[str, Any]]) -> str:
    return ", ".join(
        f"{c['code']}" + (f" ({c['detail']})" if c.get("detail") else "") for c in codes
    )


def state_text(meta: dict[str, Any]) -> str:
    """One line for a supervisor: the patient's state when it replied, and where the reply came from."""
    st = meta["state"]
    text = (f"openness {st['openness']:.2f}, resistance {st['resistance']:.2f}, {st['stage']}, "
            f"leaning {st['leaning']}")
    if meta.get("source"):
        text += f"; reply from {meta['source']}"
    return text


def to_markdown(record: dict[str, Any]) -> str:
    s = record["session"]
    lines = [
        f"# {s['scenario_title']} ({s['scenario_id']})",
        "",
        f"- Session: `{s['id']}`",
        f"- Started: {s['started_at']}; ended: {s['ended_at'] or 'not ended'} ({s['status']})",
        f"- Model: {s['model']}",
    ]
    if s.get("trainee"):
        lines.append(f"- Trainee: {s['trainee']}")
    lines += ["", "## Transcript", ""]
    notes: dict[int | None, list[str]] = {}
    for a in record["annotations"]:
        notes.setdefault(a["turn_id"], []).append(a["body"])
    for t in record["turns"]:
        who = "**Trainee**" if t["speaker"] == "trainee" else "**Patient**"
        lines.append(f"{t['idx']}. {who}: {t['text']}")
        if t["codes"]:
            scorers = sorted({c["scorer"] for c in t["codes"] if c.get("scorer")})
            lines.append(f"    - codes: {_code_text(t['codes'])}" + (f" — {', '.join(scorers)}" if scorers else ""))
        if t["meta"].get("state"):
            lines.append(f"    - patient state: {state_text(t['meta'])}")
    summary = s.get("summary")
    if summary:
        lines += ["", "## Summary"]
        for table, scorer in summary_tables(summary):
            lines += ["", *markdown_table(table), "", f"Scorer: {scorer}"]
    if record["annotations"]:
        lines += ["", "## Supervisor notes", ""]
        lines += [f"- {a['body']}" + (f" (turn {a['turn_id']})" if a["turn_id"] else "") for a in record["annotations"]]
    return "\n".join(lines) + "\n"


def to_csv(record: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["session_id", "idx", "speaker", "text", "codes", "scorers", "created_at"])
    for t in record["turns"]:
        writer.writerow(
            [
                record["session"]["id"],
                t["idx"],
                t["speaker"],
                t["text"],
                _code_text(t["codes"]),
                "; ".join(sorted({c["scorer"] for c in t["codes"] if c.get("scorer")})),
                t["created_at"],
            ]
        )
    return buffer.getvalue()


def export(store: Store, session_id: str, fmt: str) -> str:
    record = session_record(store, session_id)
    if fmt == "json":
        return json.dumps(record, indent=2, ensure_ascii=False) + "\n"
    if fmt == "md":
        return to_markdown(record)
    return to_csv(record)
