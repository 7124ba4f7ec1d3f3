"""Export one session as JSON (complete record), Markdown (readable transcript) or CSV (one row per turn).

JSON keeps every text as stored; Markdown shows user text literally (no live HTML or links) and CSV cells never
start a formula, since both are opened in programs that would act on them."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from simtrainer.feedback.labels import code_label
from simtrainer.review.corrections import Review, reviewed_summary, turn_number
from simtrainer.review.summary_view import markdown_table, summary_tables
from simtrainer.storage import Store
from simtrainer.text_safety import csv_cell, json_safe
from simtrainer.text_safety import markdown_inline as md

FORMATS = ("json", "md", "csv")


def session_record(store: Store, session_id: str) -> dict[str, Any]:
    """Everything stored about a session, in one JSON-ready dict. Each turn carries its number (`turn`, the one
    `sessions show` prints), the notes and corrections made at it; `reviewed` is the summary as reviewed (None
    until a supervisor corrects a code or rates an item)."""
    session = store.get_session(session_id)
    sid = session["id"]
    turns = store.turns(sid)
    number = {t["id"]: turn_number(t["idx"]) for t in turns}
    annotations = [{**a, "turn": number.get(a["turn_id"])} for a in store.annotations(sid)]
    review = Review.load(store, sid)
    corrections = [{**c, "turn": turn_number(c["turn_idx"]),
                    "label": code_label(c["rubric"], c["code"], c.get("detail"))} for c in store.corrections(sid)]
    latest = {(c["turn_idx"], c["rubric"]): c for c in corrections}
    return {
        "session": session,
        "turns": [
            {
                "turn": turn_number(t["idx"]),
                "idx": t["idx"],
                "speaker": t["speaker"],
                "text": t["text"],
                "created_at": t["created_at"],
                "codes": t["codes"],
                "corrections": [c for (idx, _), c in latest.items() if idx == t["idx"]],
                "notes": [a for a in annotations if a["turn_id"] == t["id"]],
                "meta": t["meta"],
            }
            for t in turns
        ],
        "annotations": annotations,
        "corrections": corrections,
        "ratings": store.ratings(sid),
        "reviewed": reviewed_summary(store, sid, review),
    }


def _code_text(codes: list[dict[str, Any]]) -> str:
    return ", ".join(
        f"{c['code']}" + (f" ({c['detail']})" if c.get("detail") else "") for c in codes
    )


def reviewed_code_text(turn: dict[str, Any]) -> str:
    """The turn's codes, each corrected rubric as "automatic → corrected (author)"."""
    parts = []
    corrected = {c["rubric"]: c for c in turn["corrections"]}
    for rubric in dict.fromkeys([c["rubric"] for c in turn["codes"]] + list(corrected)):
        auto = _code_text([c for c in turn["codes"] if c["rubric"] == rubric]) or "no code"
        fix = corrected.get(rubric)
        if fix:
            new = fix["code"] + (f" ({fix['detail']})" if fix.get("detail") else "")
            parts.append(f"{auto} → {new} ({fix['author'] or 'supervisor'})")
        else:
            parts.append(auto)
    return ", ".join(parts)


def note_text(note: dict[str, Any]) -> str:
    return f"{note['body']} ({note['author'] or 'supervisor'})"


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
    for t in record["turns"]:
        who = "**Trainee**" if t["speaker"] == "trainee" else "**Patient**"
        lines.append(f"{t['turn']}. {who}: {md(t['text'])}")
        if t["codes"] or t["corrections"]:
            scorers = sorted({c["scorer"] for c in t["codes"] if c.get("scorer")})
            codes = reviewed_code_text(t) + (f" — {', '.join(scorers)}" if scorers else "")
            lines.append(f"    - codes: {md(codes)}")
        if t["meta"].get("state"):
            lines.append(f"    - patient state: {md(state_text(t['meta']))}")
        lines += [f"    - note: {md(note_text(a))}" for a in t["notes"]]
    summary = s.get("summary")
    if summary:
        lines += ["", "## Summary"]
        for table, scorer in summary_tables(summary):
            lines += ["", *markdown_table(table), "", f"Scorer: {md(scorer)}"]
    if record["reviewed"]:
        lines += ["", "## Summary as reviewed"]
        for table, scorer in summary_tables(record["reviewed"]):
            lines += ["", *markdown_table(table), "", f"Scorer: {md(scorer)}"]
    if s.get("reviewed_at"):
        lines += ["", f"Reviewed by {md(s['reviewed_by'] or 'a supervisor')} at {s['reviewed_at']}."]
    general = [a for a in record["annotations"] if a["turn"] is None]
    if general:
        lines += ["", "## Supervisor notes", ""]
        lines += [f"- {md(note_text(a))}" for a in general]
    return "\n".join(lines) + "\n"


def to_csv(record: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["session_id", "turn", "speaker", "text", "codes", "scorers", "created_at", "corrected",
                     "notes"])
    for t in record["turns"]:
        writer.writerow(
            csv_cell(cell) for cell in [
                record["session"]["id"],
                t["turn"],
                t["speaker"],
                t["text"],
                _code_text(t["codes"]),
                "; ".join(sorted({c["scorer"] for c in t["codes"] if c.get("scorer")})),
                t["created_at"],
                reviewed_code_text(t) if t["corrections"] else "",
                " | ".join(note_text(a) for a in t["notes"]),
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
