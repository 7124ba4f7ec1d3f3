"""Supervisors' corrections as AnnoMI-format training data for the MI coder (`train mi-coder --extra FILE`).

Every turn of each session with an MI correction, or marked reviewed, is written in transcript order, so the
reader rebuilds each utterance's context (the turns before it) as in AnnoMI. A turn carries labels only where a
supervisor judged it: its latest correction, or, in a session marked reviewed, the coder's code left standing.
Other turns are context only, with empty label columns. MI codes map back to AnnoMI's labels: Q -> question
(open / closed), SR / CR -> reflection (simple / complex), GI -> input (information), Persuade and PwP -> input
(advice), Seek -> input (negotiation), the rest -> other; patient talk -> change / neutral / sustain.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from simtrainer.review.corrections import latest_corrections, turn_number
from simtrainer.storage import Store
from simtrainer.text_safety import csv_cell

COLUMNS = ["transcript_id", "topic", "utterance_id", "interlocutor", "utterance_text", "annotator_id",
           "main_therapist_behaviour", "question_subtype", "reflection_subtype", "therapist_input_subtype",
           "client_talk_type", "session_id", "turn", "coder_code", "supervisor_code"]

_BEHAVIOUR = {"Q": ("question", "question_subtype", None), "SR": ("reflection", "reflection_subtype", "simple"),
              "CR": ("reflection", "reflection_subtype", "complex"),
              "GI": ("therapist_input", "therapist_input_subtype", "information"),
              "PERSUADE": ("therapist_input", "therapist_input_subtype", "advice"),
              "PWP": ("therapist_input", "therapist_input_subtype", "advice"),
              "SEEK": ("therapist_input", "therapist_input_subtype", "negotiation")}


def annomi_labels(speaker: str, code: str, detail: str) -> dict[str, str]:
    """AnnoMI's label columns for one MI code."""
    if speaker != "trainee":
        return {"client_talk_type": code}
    main, column, sub = _BEHAVIOUR.get(code, ("other", None, None))
    labels = {"main_therapist_behaviour": main}
    if code == "Q" and detail in ("open", "closed"):
        sub = detail
    if column and sub:
        labels[column] = sub
    return labels


def rows(store: Store) -> list[dict[str, Any]]:
    """The CSV's rows (before escaping), sessions oldest first."""
    out = []
    for session in reversed(store.list_sessions(limit=1_000_000)):
        corrected = latest_corrections([c for c in store.corrections(session["id"]) if c["rubric"] == "mi"])
        reviewed = bool(session.get("reviewed_at"))
        if not corrected and not reviewed:
            continue
        for turn in store.turns(session["id"]):
            auto = next((c for c in turn["codes"] if c["rubric"] == "mi"), None)
            fix = corrected.get((turn["idx"], "mi"))
            row = {column: "" for column in COLUMNS}
            row.update(transcript_id=f"simtrainer-{session['id']}", topic=session["scenario_id"],
                       utterance_id=turn["idx"], interlocutor="therapist" if turn["speaker"] == "trainee" else "client",
                       utterance_text=turn["text"], session_id=session["id"], turn=turn_number(turn["idx"]),
                       coder_code=auto["code"] if auto else "")
            judged = fix or (auto if reviewed else None)
            if judged is not None:
                detail = judged.get("detail") or ""
                if fix and auto and fix["code"] == auto["code"] and not detail:
                    detail = auto.get("detail") or ""  # a corrected Q without open/closed keeps the coder's
                row.update(annomi_labels(turn["speaker"], judged["code"], detail))
                row["supervisor_code"] = judged["code"]
                row["annotator_id"] = (fix["author"] if fix else session.get("reviewed_by")) or "supervisor"
            out.append(row)
    return out


def to_csv(store: Store) -> tuple[str, int]:
    """The CSV text and how many utterances in it carry a supervisor's label."""
    data = rows(store)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    for row in data:
        writer.writerow({k: csv_cell(v) for k, v in row.items()})
    return buffer.getvalue(), sum(bool(r["supervisor_code"]) for r in data)
