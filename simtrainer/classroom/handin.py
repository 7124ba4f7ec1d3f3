"""Hand in an exercise session: the bundle payload (`bundle.py` seals and writes it) from what the store keeps.

Only a finished session run with a pack can be handed in. The goals are checked again here against the saved
summary, with the goals the pack had when the session started (kept with the session), so the bundle agrees
with what the student saw at the end and an instructor's report needs no pack to count them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from simtrainer import __version__
from simtrainer.classroom.bundle import write_bundle
from simtrainer.classroom.goals import Goal, counts, evaluate
from simtrainer.errors import UserError
from simtrainer.storage import Store

# What the bundle tells about the pack; the pack's path on the student's machine stays there.
EXERCISE_FIELDS = ("id", "title", "pack_sha256", "scenario", "min_turns", "max_turns", "time_limit_min")


def transcript(turns: list[dict[str, Any]], modality: str) -> list[dict[str, Any]]:
    """Stored turns as `practice --json` prints them: number, speaker, text, the codes shown for the session's
    rubric (feedback/shown.py), and meta when any."""
    from simtrainer.feedback.shown import shown_codes
    from simtrainer.review.corrections import turn_number

    return [
        {
            "turn": turn_number(t["idx"]),
            "speaker": t["speaker"],
            "text": t["text"],
            "codes": shown_codes(modality, t["codes"]),
            **({"meta": t["meta"]} if t["meta"] else {}),
        }
        for t in turns
    ]


def goal_results(exercise: dict[str, Any], summary: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The exercise's goals (as kept with the session) checked against `summary`."""
    return evaluate([Goal.from_dict(g) for g in exercise.get("goals_spec") or []], summary)


def check_submittable(row: dict[str, Any]) -> None:
    """Refuse, with the reason and the way forward, a session that cannot be handed in."""
    sid = row["id"]
    if not row.get("exercise"):
        raise UserError(f"Session {sid} was not run with an exercise pack, so there is nothing to hand in.",
                        where=f"session {sid}",
                        fix="Run the exercise with `simtrainer practice --exercise PACK`, then submit that session.")
    status = row["status"]
    if status == "abandoned":
        raise UserError(f"Session {sid} ended before your first turn; there is nothing to hand in.",
                        where=f"session {sid}", fix="Run the exercise again and take at least one turn.")
    if status in ("active", "interrupted"):
        how = (f"continue it with `simtrainer practice --resume {sid}` and end it" if status == "interrupted"
               else "end it first (Ctrl-D or /end in the terminal, or end the session in the app)")
        raise UserError(f"Session {sid} is still in progress ({status}); only a finished session can be handed in.",
                        where=f"session {sid}", fix=how + ", then submit it.")
    summary = row.get("summary")
    if status != "ended" or not summary or not summary.get("trainee_turns"):
        raise UserError(f"Session {sid} has no scored trainee turn ({status}); there is nothing to hand in.",
                        where=f"session {sid}", fix="Run the exercise again and take at least one turn.")


def handin_payload(store: Store, session_id: str, *, trainee: str | None = None) -> dict[str, Any]:
    """The bundle's content for a finished exercise session; `trainee` names a session saved without a name."""
    row = store.get_session(session_id)
    check_submittable(row)
    sid, exercise, summary = row["id"], row["exercise"], row["summary"]
    saved = (row.get("trainee") or "").strip()
    if saved and trainee and trainee.strip() != saved:
        raise UserError(f"Session {sid} was saved under the name {saved!r}, not {trainee.strip()!r}.",
                        where="--trainee", fix="Leave out --trainee: the name saved with the session is used.")
    name = saved or (trainee or "").strip()
    if not name:
        raise UserError(f"Session {sid} was saved without a trainee name, so your instructor could not tell it is "
                        "yours.", where=f"session {sid}", fix="Add your name: simtrainer exercise submit "
                        f"{sid} -o FILE --trainee \"YOUR NAME\"")
    results = goal_results(exercise, summary)
    met, total = counts(results)
    return {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "simtrainer_version": __version__,
        "exercise": {**{key: exercise.get(key) for key in EXERCISE_FIELDS}, "goals": exercise.get("goals_spec", [])},
        "trainee": name,
        "session": {
            "id": sid,
            "scenario": row["scenario_id"],
            "scenario_title": row["scenario_title"],
            "modality": row["modality"],
            "model": row["model"],
            "scorers": {rubric: part.get("scorer") for rubric, part in (summary.get("rubrics") or {}).items()},
            "seed": exercise.get("seed"),
            "started_at": row["started_at"],
            "ended_at": row["ended_at"],
            "status": row["status"],
        },
        "turns": transcript(store.turns(sid), row["modality"]),
        "summary": summary,
        "goals": results,
        "goals_met": met,
        "goals_total": total,
    }


def submit(store: Store, session_id: str, path: Path, *, trainee: str | None = None) -> dict[str, Any]:
    """Write the sealed hand-in bundle for a session to `path`; returns it."""
    if trainee is not None:
        from simtrainer.identity import check_name

        trainee = check_name(trainee)
    return write_bundle(handin_payload(store, session_id, trainee=trainee), path)
