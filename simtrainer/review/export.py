"""Export one session as JSON (complete record), Markdown (readable transcript) or CSV (a row per turn, then
the notes, the summary and the session's details, each row marked by its section).

JSON keeps every text as stored; Markdown shows user text literally (no live HTML or links) and CSV cells never
start a formula, since both are opened in programs that would act on them."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from simtrainer.feedback.labels import code_label, shown_label
from simtrainer.feedback.shown import shown_codes
from simtrainer.review.corrections import Review, reviewed_summary, turn_number
from simtrainer.review.pseudonym import pseudonymised
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
        "session": {k: v for k, v in session.items() if k != "owner"},  # the host and process that ran it: no one's business
        "seed": turns[0]["meta"].get("seed") if turns else None,  # `practice --seed` replays the session
        "turns": [
            {
                "turn": turn_number(t["idx"]),
                "idx": t["idx"],
                "speaker": t["speaker"],
                "text": t["text"],
                "created_at": t["created_at"],
                "codes": shown_codes(session["modality"], t["codes"]),
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
    """Codes by the labels the app's badges show, so a code reads the same everywhere."""
    return ", ".join(shown_label(c["rubric"], c["code"], c.get("detail"), bool(c.get("uncertain")),
                                 c.get("runner_up") or "") for c in codes)


def reviewed_code_text(turn: dict[str, Any]) -> str:
    """The turn's codes, each corrected rubric as "automatic → corrected (author)"."""
    parts = []
    corrected = {c["rubric"]: c for c in turn["corrections"]}
    for rubric in dict.fromkeys([c["rubric"] for c in turn["codes"]] + list(corrected)):
        auto = _code_text([c for c in turn["codes"] if c["rubric"] == rubric]) or "no code"
        fix = corrected.get(rubric)
        if fix:
            new = code_label(fix["rubric"], fix["code"], fix.get("detail"))
            parts.append(f"{auto} → {new} ({fix['author'] or 'supervisor'})")
        else:
            parts.append(auto)
    return ", ".join(parts)


def note_text(note: dict[str, Any]) -> str:
    return f"{note['body']} ({note['author'] or 'supervisor'})"


#: a DEAR MAN counterpart's leaning, in the words of the request it is asked
DEARMAN_LEANING = {"change": "towards yes", "sustain": "towards no", "neutral": "undecided"}


def other_speaker(modality: str) -> str:
    """What the trainee's counterpart is called where the card is not at hand: a DEAR MAN counterpart is
    asked for something, not treated."""
    return "Other person" if modality == "dearman" else "Patient"


def state_text(meta: dict[str, Any], modality: str = "mi") -> str:
    """One line for a supervisor: the person's state when they replied, and where the reply came from. A DEAR MAN
    counterpart has no stage of change: whether they were asked yet and which way they lean on the request."""
    st = meta["state"]
    text = f"openness {st['openness']:.2f}, resistance {st['resistance']:.2f}, "
    if modality == "dearman":
        text += f"{'asked' if st.get('requested', True) else 'not asked yet'}, leaning {DEARMAN_LEANING[st['leaning']]}"
    else:
        text += f"{st['stage']}, leaning {st['leaning']}"
    if meta.get("source"):
        text += f"; {reply_source(meta['source'], modality)}"
    return text


SOURCES = {
    "model": "the model's own words",
    "card:reaction": "the card's scripted reaction to a trigger",
    "card:reveal": "a disclosure from the card",
    "card:pressure": "a card line for pushing back",
    "card:fallback": "a card line (the model's replies were refused or it failed)",
}


def reply_source(source: str, modality: str = "mi") -> str:
    """Where a reply came from, in a supervisor's words rather than the patient's meta keys."""
    leaning = source.removeprefix("card:")
    if leaning in DEARMAN_LEANING:
        named = DEARMAN_LEANING[leaning] if modality == "dearman" else {"change": "towards change", "sustain":
                                                                        "against change"}.get(leaning, "neither way")
        return f"reply: a card line ({named})"
    return f"reply: {SOURCES.get(source, source)}"


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
    scorers = sorted({c["scorer"] for t in record["turns"] for c in t["codes"] if c.get("scorer")})
    if scorers:
        lines.append(f"- Coded by: {md(', '.join(scorers))}")
    lines += ["", "## Transcript", ""]
    for t in record["turns"]:
        who = "**Trainee**" if t["speaker"] == "trainee" else f"**{other_speaker(s['modality'])}**"
        lines.append(f"{t['turn']}. {who}: {md(t['text'])}")
        if t["codes"] or t["corrections"]:
            lines.append(f"    - codes: {md(reviewed_code_text(t))}")
        if t["meta"].get("state"):
            whose = "their state" if s["modality"] == "dearman" else "patient state"
            lines.append(f"    - {whose}: {md(state_text(t['meta'], s['modality']))}")
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


#: the CSV's columns; `section` says what a row is, so a spreadsheet filter shows one kind at a time:
#: "turn" (one per turn, in order, first), "note" (each supervisor note, with its turn or none for the whole
#: session), "summary" and "summary as reviewed" (one per table row: table, measure, value, detail, mark; a
#: caption as measure "note"; the scorer under scorers), "session" (scenario, trainee, model, times: measure
#: and value)
CSV_COLUMNS = ["section", "session_id", "turn", "speaker", "text", "codes", "scorers", "created_at", "corrected",
               "notes", "author", "table", "measure", "value", "detail", "mark"]


def csv_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The export's rows as dicts keyed by CSV_COLUMNS (missing keys are empty cells)."""
    s = record["session"]
    rows: list[dict[str, Any]] = [{
        "section": "turn", "turn": t["turn"], "speaker": t["speaker"], "text": t["text"],
        "codes": _code_text(t["codes"]),
        "scorers": "; ".join(sorted({c["scorer"] for c in t["codes"] if c.get("scorer")})),
        "created_at": t["created_at"], "corrected": reviewed_code_text(t) if t["corrections"] else "",
        "notes": " | ".join(note_text(a) for a in t["notes"]),
    } for t in record["turns"]]
    rows += [{"section": "note", "turn": a["turn"], "text": a["body"], "author": a["author"] or "supervisor",
              "created_at": a["created_at"]} for a in record["annotations"]]
    for section, summary in (("summary", s.get("summary")), ("summary as reviewed", record["reviewed"])):
        for table, scorer in summary_tables(summary) if summary else []:
            for cells, mark in zip(table.rows, table.marks, strict=True):
                detail = ", ".join(cells[2:])
                rows.append({"section": section, "table": table.title, "measure": cells[0], "value": cells[1],
                             "detail": "" if detail == mark else detail, "mark": mark, "scorers": scorer})
            if table.caption:
                rows.append({"section": section, "table": table.title, "measure": "note", "value": table.caption,
                             "scorers": scorer})
    details = {"scenario": f"{s['scenario_title']} ({s['scenario_id']})", "trainee": s.get("trainee") or "",
               "model": s["model"], "started_at": s["started_at"], "ended_at": s["ended_at"] or "",
               "status": s["status"], "reviewed_at": s.get("reviewed_at") or "",
               "reviewed_by": s.get("reviewed_by") or ""}
    rows += [{"section": "session", "measure": key, "value": value} for key, value in details.items()]
    return [{**row, "session_id": s["id"]} for row in rows]


def to_csv(record: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in csv_rows(record):
        writer.writerow(csv_cell("" if row.get(key) is None else row[key]) for key in CSV_COLUMNS)
    return buffer.getvalue()


def export(store: Store, session_id: str, fmt: str, *, pseudonymise: bool = False) -> str:
    """The session in `fmt`; `pseudonymise`: the trainee's name, wherever it appears, as its code."""
    record = session_record(store, session_id)
    if pseudonymise:
        record = pseudonymised(record, (record["session"].get("trainee") or "").strip())
    if fmt == "json":
        return json_safe(json.dumps(_one_numbering(record), indent=2, ensure_ascii=False)) + "\n"
    if fmt == "md":
        return to_markdown(record)
    return to_csv(record)


def _one_numbering(value: Any) -> Any:
    """The record without the database's own row ids and 0-based indexes, so `turn` is the only turn number a
    reader of the export meets."""
    if isinstance(value, dict):
        return {k: _one_numbering(v) for k, v in value.items() if k not in ("turn_id", "turn_idx", "idx")}
    if isinstance(value, list):
        return [_one_numbering(v) for v in value]
    return value
