"""Export one session as JSON (complete record), Markdown (readable transcript) or CSV (one row per turn).

JSON keeps every text as stored; Markdown shows user text literally (no live HTML or links) and CSV cells never
start a formula, since both are opened in programs that would act on them."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from simtrainer.review.summary_view import markdown_table, summary_tables
from simtrainer.storage import Store
from simtrainer.text_safety import csv_cell, json_safe
from simtrainer.text_safety import markdown_inline as md

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
        f"# {md(s['scenario_title'])} ({md(s['scenario_id'])})",
        "",
        f"- Session: `{s['id']}`",
        f"- Started: {s['started_at']}; ended: {s['ended_at'] or 'not ended'} ({s['status']})",
        f"- Model: {md(s['model'])}",
    ]
    if s.get("trainee"):
        lines.append(f"- Trainee: {md(s['trainee'])}")
    lines += ["", "## Transcript", ""]
    notes: dict[int | None, list[str]] = {}
    for a in record["annotations"]:
        notes.setdefault(a["turn_id"], []).append(a["body"])
    for t in record["turns"]:
        who = "**Trainee**" if t["speaker"] == "trainee" else "**Patient**"
        lines.append(f"{t['idx']}. {who}: {md(t['text'])}")
        if t["codes"]:
            scorers = sorted({c["scorer"] for c in t["codes"] if c.get("scorer")})
            codes = _code_text(t["codes"]) + (f" — {', '.join(scorers)}" if scorers else "")
            lines.append(f"    - codes: {md(codes)}")
        if t["meta"].get("state"):
            lines.append(f"    - patient state: {md(state_text(t['meta']))}")
    summary = s.get("summary")
    if summary:
        lines += ["", "## Summary"]
        for table, scorer in summary_tables(summary):
            lines += ["", *markdown_table(table), "", f"Scorer: {md(scorer)}"]
    if record["annotations"]:
        lines += ["", "## Supervisor notes", ""]
        lines += [f"- {md(a['body'])}" + (f" (turn {a['turn_id']})" if a["turn_id"] else "")
                  for a in record["annotations"]]
    return "\n".join(lines) + "\n"


def to_csv(record: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["session_id", "idx", "speaker", "text", "codes", "scorers", "created_at"])
    for t in record["turns"]:
        writer.writerow(
            csv_cell(cell) for cell in [
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
        return json_safe(json.dumps(record, indent=2, ensure_ascii=False)) + "\n"
    if fmt == "md":
        return to_markdown(record)
    return to_csv(record)
