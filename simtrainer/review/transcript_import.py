"""Code a real transcript: read a recorded session (labelled plain text, an AnnoMI-format CSV, or simtrainer's own
JSON export), code it turn by turn with the coders a live session would use, and store it as an ended session.

Supervisors' material is a recording of a trainee with a real or role-played client; once imported it is reviewed,
reported and followed over time like any practice session. The counselor's lines become the trainee's turns and
the client's the patient's. Everything is read and coded before anything is written, and the session is stored in
one transaction: a bad file or a failure leaves nothing behind. A bad file is reported with its line and a fix.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from simtrainer.csv_columns import require_columns
from simtrainer.errors import UserError
from simtrainer.feedback.base import Code, Coder, TurnView
from simtrainer.patient import Line
from simtrainer.patient.prompt import latest
from simtrainer.review.pseudonym import pseudonym, pseudonymised
from simtrainer.review.review_work import ReviewWork, checked_time, read_review_work
from simtrainer.session import score
from simtrainer.storage import Store

#: the speaker labels a plain-text transcript may use (any case), without --speakers
COUNSELOR_LABELS = ("T", "COUNSELOR", "COUNSELLOR", "THERAPIST")
CLIENT_LABELS = ("C", "CLIENT", "PATIENT")
ACCEPTED = ("T: / C:, COUNSELOR: / CLIENT: (also THERAPIST:, COUNSELLOR:, PATIENT:; any case), or two names "
            'given with --speakers "Ann,Bob" (counselor first)')
#: the rubric asked for, and the scenario modality whose coders apply it
RUBRIC_MODALITY = {"mi": "mi", "dearman": "dearman", "ctrs": "cbt"}
MAX_BYTES = 5_000_000  # far beyond the longest session transcript; a bigger file is not a transcript
MAX_TURNS = 3000

_TIME = r"[\[(]?\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?[\])]?"
_TIME_ONLY = re.compile(rf"^\s*{_TIME}\s*$")
_LABELLED = re.compile(rf"^\s*(?:{_TIME}\s*[-–—]?\s*)?(?P<label>[^\W\d_][\w .'-]{{0,39}}?)\s*:(?P<text>.*)$")
_SPEAKER = {"therapist": "trainee", "client": "patient"}


@dataclass
class Turn:
    speaker: str  # "trainee" (the counselor) | "patient" (the client)
    text: str
    where: str  # file:line (or file, turns[i] for JSON), kept in the turn's meta as "from"
    opening: bool = False  # a practice session's opening line (a JSON export's): left uncoded, as live
    state: dict[str, Any] = field(default_factory=dict)  # a JSON export's patient state at this reply (meta "state",
    # "source"), stored with the turn


#: the patient-state keys an export's turn carries that a supervisor is shown (`export.state_text`)
STATE_KEYS = {"openness": float, "resistance": float, "stage": str, "leaning": str, "requested": bool}


def _state(meta: Any, where: str) -> dict[str, Any]:
    """An export's patient state at a reply (what the review shows beside it), checked; {} where it has none."""
    if not isinstance(meta, dict) or meta.get("state") is None:
        return {}
    if not _written_state(meta["state"]) or not isinstance(meta.get("source", ""), str):
        raise UserError("A patient state is not as simtrainer writes it.", where=f"{where}.meta.state",
                        fix="Give the file `simtrainer sessions export ID --format json` wrote, unchanged (or "
                            "delete that turn's \"state\").")
    kept = {"state": {key: meta["state"][key] for key in STATE_KEYS if key in meta["state"]}}
    return kept | ({"source": meta["source"]} if meta.get("source") else {})


def _written_state(state: Any) -> bool:
    """Has the keys `export.state_text` reads, each of its kind (a whole number counts as a float)."""
    if not isinstance(state, dict) or not {"openness", "resistance", "stage", "leaning"} <= set(state):
        return False
    kinds_ok = all(isinstance(state[key], (int, float) if kind is float else kind)
                   for key, kind in STATE_KEYS.items() if key in state)
    return kinds_ok and state["leaning"] in ("change", "sustain", "neutral")


@dataclass
class Transcript:
    turns: list[Turn]
    format: str  # "text" | "annomi-csv" | "simtrainer-json"
    scenario: dict[str, str] | None = None  # a JSON export's scenario_id, scenario_title, modality
    trainee: str = ""  # a name the file gives the counselor (a JSON export's trainee, --speakers' first)
    origin: str = ""  # the session a JSON export came from (first practised): importing it twice would count it twice
    review: ReviewWork = field(default_factory=ReviewWork)  # a JSON export's notes, corrections, ratings
    started_at: str | None = None  # a JSON export's: when it was practised (progress orders sessions by it)
    ended_at: str | None = None  # a JSON export's: when that session ended
    model: str = ""  # a JSON export's: the patient model it was practised with


def read_transcript(path: Path, *, speakers: str | None = None, transcript_id: str | None = None) -> Transcript:
    """Read and check a transcript file, whatever its format; a `UserError` names the line at fault."""
    text = _read_text(path)
    fmt = _sniff(path, text)
    if fmt != "csv" and transcript_id is not None:
        raise UserError("--transcript picks one transcript of an AnnoMI-format CSV; this file is not a CSV.",
                        where=str(path), fix="Leave out --transcript.")
    if fmt != "text" and speakers is not None:
        raise UserError("--speakers names the speaker labels of a plain-text transcript; this file is a "
                        f"{fmt.upper()}, whose speakers are in its own fields.", where=str(path),
                        fix="Leave out --speakers.")
    if fmt == "json":
        transcript = parse_json(text, path)
    elif fmt == "csv":
        transcript = parse_annomi_csv(text, path, transcript_id)
    else:
        transcript = parse_text(text, path, speakers)
    if len(transcript.turns) > MAX_TURNS:
        raise UserError(f"The transcript has {len(transcript.turns)} turns; at most {MAX_TURNS} are imported.",
                        where=str(path), fix="Split it into sessions.")
    if not transcript.turns:
        raise UserError("The transcript has labels but no words to code.", where=str(path),
                        fix="Give each speaker label the words said after it.")
    kinds = {turn.speaker for turn in transcript.turns}
    if len(kinds) < 2:
        who = "counselor" if kinds == {"trainee"} else "client"
        raise UserError(
            f"Only the {who} speaks in this transcript ({len(transcript.turns)} turns); an import needs both.",
            where=str(path),
            fix="Give the whole conversation, with both speakers' utterances." if fmt != "text" else
            "Label both speakers' lines: " + (ACCEPTED if speakers is None else "the two names given with --speakers")
            + ".",
        )
    return transcript


def _read_text(path: Path) -> str:
    if path.is_dir():
        raise UserError("That is a folder, not a transcript file.", where=str(path),
                        fix="Give one transcript file: plain text (.txt), an AnnoMI-format CSV or a JSON export.")
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise UserError(f"The file is {size:,} bytes; a transcript is far smaller (at most {MAX_BYTES:,}).",
                            where=str(path), fix="Give one session's transcript.")
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError("No such file.", where=str(path), fix="Check the path.") from None
    except OSError as exc:
        raise UserError(f"Cannot read the file: {exc.strerror}.", where=str(path),
                        fix="Make it a readable file.") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UserError(f"The file is not UTF-8 text (byte 0x{data[exc.start]:02x} cannot be read).",
                        where=f"{path}:{line}",
                        fix="Save it as UTF-8 (in most editors: Save As, encoding UTF-8).") from None
    if not text.strip():
        raise UserError("The file is empty.", where=str(path), fix="Give a file that holds the transcript.")
    return text


def _sniff(path: Path, text: str) -> str:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".json"):
        return suffix[1:]
    start = text.lstrip()
    if start.startswith("{"):  # not "[": a transcript line may start with a [00:01:23] timestamp
        return "json"
    first = start.splitlines()[0]
    return "csv" if "utterance_text" in first and "," in first else "text"


# plain text ----------------------------------------------------------------------------------------------------
def speaker_names(speakers: str) -> tuple[str, str]:
    """--speakers "Ann,Bob": the counselor's and the client's names."""
    names = [name.strip() for name in speakers.split(",")]
    if len(names) != 2 or not all(names) or names[0].upper() == names[1].upper():
        raise UserError(f"--speakers needs two different names separated by a comma, not {speakers!r}.",
                        where="--speakers", fix='Name the counselor first, e.g. --speakers "Ann,Bob".')
    return names[0], names[1]


def parse_text(text: str, path: Path, speakers: str | None = None) -> Transcript:
    """Turns from labelled lines. A line without a label continues the turn before it; blank lines and lines that
    hold only a timestamp are skipped; a timestamp before a label is allowed."""
    if speakers is None:
        labels = {**dict.fromkeys(COUNSELOR_LABELS, "trainee"), **dict.fromkeys(CLIENT_LABELS, "patient")}
        accepted, trainee = ACCEPTED, ""
    else:
        trainee, client = speaker_names(speakers)
        labels = {trainee.upper(): "trainee", client.upper(): "patient"}
        accepted = f"{trainee}: / {client}: (any case; the names given with --speakers)"
    turns: list[Turn] = []
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip() or _TIME_ONLY.match(line):
            continue
        match = _LABELLED.match(line)
        speaker = labels.get(match["label"].strip().upper()) if match else None
        if speaker is not None:
            turns.append(Turn(speaker, match["text"].strip(), f"{path.name}:{number}"))
        elif match and _looks_like_a_speaker(match["label"].strip(), named=speakers is not None):
            raise UserError(f"Line {number} starts with a speaker label this import does not know, "
                            f"'{match['label'].strip()}:'; its words would be filed under the turn before.",
                            where=f"{path}:{number}",
                            fix="Correct the label to one of: " + accepted + " (a transcript with two people only).")
        elif turns:
            turns[-1].text = f"{turns[-1].text} {line.strip()}".strip()
        elif any((m := _LABELLED.match(rest)) and m["label"].strip().upper() in labels for rest in lines[number:]):
            raise UserError(f"Line {number} has no speaker label and comes before the first turn: "
                            f"{_quote(line)}.", where=f"{path}:{number}",
                            fix="Delete the heading, or start the line with a speaker label: " + accepted + ".")
        else:
            raise UserError(f"No speaker labels found; the first line reads {_quote(line)}.",
                            where=f"{path}:{number}", fix="Start each turn with a speaker label: " + accepted + ".")
    return Transcript([turn for turn in turns if turn.text], "text", trainee=trainee)


def _looks_like_a_speaker(label: str, *, named: bool) -> bool:
    """An unknown label that is surely a speaker's (CL:, PT:, X:; with --speakers, another one-word name), not the
    first words of a sentence ("So my point is: ...")."""
    if named:
        return " " not in label and label[:1].isupper() and len(label) <= 20
    return label.isupper() and len(label) <= 12


def _quote(line: str) -> str:
    line = line.strip()
    return repr(line if len(line) <= 80 else line[:77] + "...")


# AnnoMI-format CSV ---------------------------------------------------------------------------------------------
def parse_annomi_csv(text: str, path: Path, transcript_id: str | None = None) -> Transcript:
    """One transcript of an AnnoMI-format CSV (simple or full: a full file repeats an utterance once per
    annotator; its first row's text is taken). Utterances in utterance_id order."""
    from simtrainer.feedback.mi.annomi import REQUIRED

    reader = csv.DictReader(io.StringIO(text, newline=""))
    require_columns(reader.fieldnames, REQUIRED, f"{path}:1", kind="AnnoMI",
                    fix="Give the header row transcript_id, utterance_id, interlocutor, utterance_text (the AnnoMI "
                    "format; other columns are ignored).")
    rows: dict[str, dict[int, Turn]] = {}
    try:
        for row in reader:
            line = reader.line_num  # where the row ends (blank lines are skipped; a quoted field may span lines)
            if None in row or any(row[c] is None for c in REQUIRED):
                raise UserError("This row has a different number of fields than the header.",
                                where=f"{path}:{line}", fix="Quote fields that contain commas.")
            try:
                uid = int(row["utterance_id"])
            except ValueError:
                raise UserError(f"utterance_id is not a number: {row['utterance_id']!r}.", where=f"{path}:{line}",
                                fix="Number the utterances 0, 1, 2, ... in the order they were said.") from None
            who = row["interlocutor"].strip().lower()
            if who not in _SPEAKER:
                raise UserError(f"interlocutor is {row['interlocutor']!r}; AnnoMI uses 'therapist' or 'client'.",
                                where=f"{path}:{line}", fix="Write therapist (the counselor) or client.")
            utterances = rows.setdefault(row["transcript_id"].strip(), {})
            if uid not in utterances:
                utterances[uid] = Turn(_SPEAKER[who], row["utterance_text"].strip(), f"{path.name}:{line}")
    except csv.Error as exc:
        raise UserError(f"The CSV cannot be read: {exc}.", where=f"{path}:{reader.line_num}",
                        fix="Save it as a plain comma-separated UTF-8 file.") from None
    if not rows:
        raise UserError("The CSV has a header but no utterances.", where=str(path), fix="Give the transcript's rows.")
    if transcript_id is None:
        if len(rows) > 1:
            ids = sorted(rows, key=lambda t: (len(t), t))
            raise UserError(f"The CSV holds {len(rows)} transcripts ({_listed(ids)}); one import is one session.",
                            where=str(path), fix=f"Pick one with --transcript {ids[0]}, or split the file.")
        transcript_id = next(iter(rows))
    elif transcript_id not in rows:
        raise UserError(f"The CSV has no transcript_id {transcript_id!r}.", where="--transcript",
                        fix=f"Use one of: {_listed(sorted(rows, key=lambda t: (len(t), t)))}.")
    turns = [turn for _, turn in sorted(rows[transcript_id].items()) if turn.text]
    return Transcript(turns, "annomi-csv")


def _listed(ids: list[str]) -> str:
    return ", ".join(ids[:8]) + (f" and {len(ids) - 8} more" if len(ids) > 8 else "")


# simtrainer's JSON export --------------------------------------------------------------------------------------
def parse_json(text: str, path: Path) -> Transcript:
    """A session from `sessions export ID --format json` (or `practice --json`): its turns' speakers and texts;
    the codes in the file are not trusted but coded again."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"The file is not valid JSON: {exc.msg}.", where=f"{path}:{exc.lineno}:{exc.colno}",
                        fix="Give the file `simtrainer sessions export ID --format json` wrote, unchanged.") from None
    turns = record.get("turns") if isinstance(record, dict) else None
    if not isinstance(turns, list):
        raise UserError("The JSON is not a simtrainer session: it has no \"turns\" list.", where=str(path),
                        fix="Give the file `simtrainer sessions export ID --format json` wrote.")
    out, kept = [], {}
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict) or turn.get("speaker") not in ("trainee", "patient") \
                or not isinstance(turn.get("text"), str):
            raise UserError('A turn lacks a "speaker" ("trainee" or "patient") or a "text".', where=f"{path}: turns[{i}]",
                            fix="Give the file `simtrainer sessions export ID --format json` wrote, unchanged.")
        if turn["text"].strip():
            kept[i] = len(out)
            opening = i == 0 and isinstance(turn.get("meta"), dict) and turn["meta"].get("opening") is True
            state = _state(turn.get("meta"), f"{path}: turns[{i}]") if turn["speaker"] == "patient" else {}
            out.append(Turn(turn["speaker"], turn["text"].strip(), f"{path.name}: turns[{i}]", opening, state))
    session = record.get("session") if isinstance(record.get("session"), dict) else {}
    scenario = {key: session[key] for key in ("scenario_id", "scenario_title", "modality")
                if isinstance(session.get(key), str)}
    if "scenario_id" not in scenario and isinstance(record.get("scenario"), str):
        scenario["scenario_id"] = record["scenario"]  # practice --json
    trainee = session.get("trainee") or record.get("trainee") or ""
    first_meta = turns[0].get("meta") if turns and isinstance(turns[0].get("meta"), dict) else {}
    # an export of an import names the session first practised: the trainee's own copy is found by it
    origin = first_meta.get("origin") or session.get("id") or record.get("session_id") or ""
    for key in ("started_at", "ended_at"):
        if session.get(key) is not None:
            checked_time(session[key], key, f"{path}: session.{key}")
    model = session.get("model") if isinstance(session.get("model"), str) else ""
    return Transcript(out, "simtrainer-json", scenario=scenario or None,
                      trainee=trainee if isinstance(trainee, str) else "",
                      origin=origin if isinstance(origin, str) else "",
                      review=read_review_work(record, kept, [t.speaker for t in out], path),
                      started_at=session.get("started_at"), ended_at=session.get("ended_at"),
                      model=model.split(" (imported from ")[0])


# coding and storing --------------------------------------------------------------------------------------------
def code_turns(turns: list[Turn], coders: list[Coder]) -> list[list[Code]]:
    """Codes for each turn, in order, as a live session gives them: a counselor turn with the client's latest
    turn and the turn before that as context; a client turn (client talk) with the two turns before it; a
    practice session's opening line none."""
    history: list[Line] = []
    out: list[list[Code]] = []
    for turn in turns:
        if turn.opening:
            codes = []
        elif turn.speaker == "trainee":
            context, earlier = latest(history, "patient")
            codes = [code for coder in coders for code in coder.code(turn.text, context, earlier)]
        else:
            before = [line.text for line in history[-2:]]
            context, earlier = (before[-1] if before else None), (before[0] if len(before) == 2 else None)
            codes = [code for coder in coders if hasattr(coder, "code_patient")
                     for code in coder.code_patient(turn.text, context, earlier)]
        history.append(Line(turn.speaker, turn.text))
        out.append(codes)
    return out


@dataclass(frozen=True)
class Context:
    """What the session is stored under: the scenario (a card's, a JSON export's, or a generic one)."""

    scenario_id: str
    scenario_title: str
    modality: str


def choose_context(transcript: Transcript, file_name: str, *, card=None, rubric: str | None = None) -> Context:
    """The scenario the import is coded and filed under: --scenario's card, else the JSON export's own scenario
    (when --rubric agrees with it), else a generic one for --rubric (MI by default)."""
    if card is not None:
        if rubric is not None and RUBRIC_MODALITY[rubric] != card.modality:
            raise UserError(f"The scenario {card.id} is coded with the {card.modality} rubric, not {rubric}.",
                            where="--rubric", fix="Leave out --rubric, or pick a scenario of that modality.")
        return Context(card.id, card.title, card.modality)
    own = transcript.scenario or {}
    if own.get("modality") in RUBRIC_MODALITY.values() and (rubric is None or
                                                           RUBRIC_MODALITY[rubric] == own["modality"]):
        return Context(own.get("scenario_id", "imported"), own.get("scenario_title", f"Imported: {file_name}"),
                       own["modality"])
    return Context("imported", f"Imported transcript: {file_name}", RUBRIC_MODALITY[rubric or "mi"])


def import_transcript(store: Store, path: Path, transcript: Transcript, context: Context, coders: list[Coder], *,
                      trainee: str) -> dict[str, Any]:
    """Code the transcript and store it as an ended session, with the review work a JSON export carries; returns
    what `sessions import --json` prints. A simtrainer export already in this database (its own session, or an
    earlier import of it) is not stored again (two copies would count twice in the trainee's progress): the
    review rows the copy here lacks are added to it (`existing`: true), and a file with none is refused."""
    if transcript.origin and (here := store.copies_of(transcript.origin)):
        return _add_review(store, path, transcript, here[0])
    codes = code_turns(transcript.turns, coders)
    origin = {"origin": transcript.origin} if transcript.origin else {}  # on the first turn, for `copies_of`
    summary = score(coders, [TurnView(t.speaker, t.text, c) for t, c in zip(transcript.turns, codes, strict=True)])
    session_id = store.import_session(
        scenario_id=context.scenario_id,
        scenario_title=context.scenario_title,
        modality=context.modality,
        model=_model_name(transcript.model, path),
        started_at=transcript.started_at,
        ended_at=transcript.ended_at,
        trainee=trainee,
        turns=[(t.speaker, t.text, {"from": t.where, **(origin if i == 0 else {}), **({"opening": True} if t.opening else {}),
                                    **t.state}, [c.as_row() for c in turn_codes])
               for i, (t, turn_codes) in enumerate(zip(transcript.turns, codes, strict=True))],
        summary=summary,
        review=vars(transcript.review),
    )
    return {
        "session_id": session_id,
        "existing": False,
        "file": str(path),
        "format": transcript.format,
        "trainee": trainee,
        "scenario": context.scenario_id,
        "modality": context.modality,
        "turns": [{"idx": i, "speaker": t.speaker, "text": t.text, "from": t.where,
                   "codes": [c.as_row() for c in turn_codes]}
                  for i, (t, turn_codes) in enumerate(zip(transcript.turns, codes, strict=True))],
        "summary": summary,
        "review": transcript.review.counts(),
        "authors": transcript.review.authors(),
    }


def _model_name(model: str, path: Path) -> str:
    """What the session was practised with, and the file it came in: "smollm2-135m (imported from ben.json)";
    a recording has no model ("imported: walk.txt", kept as it was named when first imported)."""
    if not model:
        return f"imported: {path.name}"
    return model if model.startswith("imported: ") else f"{model} (imported from {path.name})"


def _add_review(store: Store, path: Path, transcript: Transcript, session_id: str) -> dict[str, Any]:
    """The file is a session already here: add the review rows its copy here lacks (a supervisor's review of
    the trainee's session, sent back)."""
    session = store.get_session(session_id)
    mine = [(t["speaker"], t["text"].strip()) for t in store.turns(session_id)]
    theirs = [(t.speaker, t.text) for t in transcript.turns]
    name = (session.get("trainee") or "").strip()
    review = transcript.review
    if mine != theirs:
        # exported with --pseudonymise on this machine (its key): the trainee's name reads as its code
        if not name or [(who, pseudonymised(text, name)) for who, text in mine] != theirs:
            raise UserError(f"The file is an export of session {transcript.origin} (here as {session_id}), but its "
                            "turns differ from that session's, so its review cannot be placed on them.",
                            where=str(path), fix="Give the export of that same session, unchanged (one made with "
                            "--pseudonymise on another machine cannot be matched).")
        code = pseudonym(name)
        named = re.compile(re.escape(code), re.IGNORECASE)  # any case, as the name was coded
        review = replace(review, notes=[{**note, "body": named.sub(name, note["body"])} for note in review.notes])
    new = review.missing_from(store, session_id)
    if not new:
        raise UserError(f"This session is already here, as {session_id}, with all of this file's review work.",
                        where=str(path),
                        fix=f"Open it with `simtrainer sessions show {session_id}`; to import the file as a new "
                        "session, delete that one first (`simtrainer sessions delete ID`).")
    store.add_review(session_id, **vars(new))
    return {"session_id": session_id, "existing": True, "file": str(path), "format": transcript.format,
            "trainee": session["trainee"], "review": new.counts(), "authors": new.authors()}
