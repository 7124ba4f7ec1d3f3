"""`sessions import`: real transcripts (labelled text, AnnoMI-format CSV, simtrainer's JSON export) coded turn by turn
and stored as ended sessions that show, export and list like any other; bad files exit 2 with what, where and a fix,
and leave nothing stored."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import run_cli

DATA = Path(__file__).parent / "data"
TEXT = DATA / "mi_walking.txt"
NAMED = DATA / "named_speakers.txt"
CSV = DATA / "one_transcript_annotated.csv"
MITI = {"Q", "SR", "CR", "GI", "PERSUADE", "PWP", "SEEK", "AF", "AUTO", "CONFRONT", "NEUTRAL"}
TALK = {"change", "sustain", "neutral"}
CSV_HEADER = "transcript_id,utterance_id,interlocutor,utterance_text\n"


def imported(cli, *args: str) -> dict:
    result = cli("sessions", "import", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def stored(cli, session_id: str) -> dict:
    return json.loads(cli("sessions", "show", session_id, "--json").stdout)


def assert_coded(data: dict, record: dict) -> None:
    """Every counselor turn has MITI codes, every client turn a client-talk code; what was printed is what was
    stored; the summary counts the codes the turns carry."""
    assert [(t["speaker"], t["text"]) for t in record["turns"]] == [(t["speaker"], t["text"]) for t in data["turns"]]
    assert [t["codes"] for t in record["turns"]] == [t["codes"] for t in data["turns"]]
    for turn in record["turns"]:
        mi = [c for c in turn["codes"] if c["rubric"] == "mi"]
        if turn["speaker"] == "trainee":
            assert mi and {c["code"] for c in mi} <= MITI, turn
        else:
            assert [c["code"] for c in mi] in ([k] for k in TALK) and mi[0]["detail"] == "client talk", turn
    session = record["session"]
    assert session["status"] == "ended" and session["summary"] == data["summary"]
    summary = data["summary"]
    assert summary["trainee_turns"] == sum(t["speaker"] == "trainee" for t in record["turns"])
    given = Counter(c["code"] for t in record["turns"] if t["speaker"] == "trainee" for c in t["codes"]
                    if c["rubric"] == "mi")
    assert {k: v for k, v in summary["rubrics"]["mi"]["counts"].items() if v} == dict(given)


def test_labelled_text_transcript(cli):
    data = imported(cli, str(TEXT), "--trainee", "Lee")
    assert data["trainee"] == "Lee" and data["scenario"] == "imported"
    turns = data["turns"]
    assert len(turns) == 13
    assert [t["speaker"] for t in turns] == ["patient", "trainee"] * 6 + ["patient"]
    # a continuation line joins its turn; timestamps before a label are dropped
    assert turns[0]["text"] == ("My doctor sent me. She says I have to start exercising because of my blood "
                                "pressure, but honestly I don't see when I would fit it in.")
    assert turns[4]["text"].startswith("Yes. But I work ten hours") and turns[4]["from"] == "mi_walking.txt:7"
    assert turns[5]["text"].startswith("So the worry is real")
    assert turns[-1]["text"] == "It does. I'm going to try the walk on Monday."
    record = stored(cli, data["session_id"])
    assert_coded(data, record)
    assert record["session"]["model"] == "imported: mi_walking.txt" and record["session"]["trainee"] == "Lee"
    assert record["turns"][4]["meta"] == {"from": "mi_walking.txt:7"}
    # the client's plain wish to change is coded as change talk
    assert turns[-3]["codes"][0]["code"] == "change"
    listed = json.loads(cli("sessions", "list", "--json").stdout)
    assert [(s["id"], s["turn_count"], s["status"]) for s in listed] == [(data["session_id"], 13, "ended")]
    assert "So the worry is real" in cli("sessions", "export", data["session_id"], "--format", "md").stdout


def test_named_speakers(cli):
    data = imported(cli, str(NAMED), "--speakers", "dana, Sam")
    assert data["trainee"] == "dana"  # the counselor's name, as given, unless --trainee says otherwise
    assert [t["speaker"] for t in data["turns"]] == ["trainee", "patient"] * 4
    assert data["turns"][5]["text"] == ("I made a mistake in a report last week. My boss noticed. "
                                        "It was embarrassing.")
    assert_coded(data, stored(cli, data["session_id"]))
    other = imported(cli, str(NAMED), "--speakers", "Dana,Sam", "--trainee", "D. Reyes")
    assert stored(cli, other["session_id"])["session"]["trainee"] == "D. Reyes"


def test_annomi_csv_with_a_scenario(cli):
    data = imported(cli, str(CSV), "--scenario", "mi-alcohol-nurse")
    assert data["scenario"] == "mi-alcohol-nurse" and data["format"] == "annomi-csv"
    assert [t["speaker"] for t in data["turns"]] == ["trainee", "patient"] * 4
    assert data["turns"][5]["text"].startswith("But I get out of breath on the stairs now. I'd like")
    record = stored(cli, data["session_id"])
    assert record["session"]["scenario_title"] != "" and record["session"]["modality"] == "mi"
    assert_coded(data, record)


def test_annomi_csv_order_annotators_and_several_transcripts(cli, tmp_path):
    """Utterances in utterance_id order, one per utterance though a full-format file repeats it per annotator;
    a file of several transcripts needs --transcript."""
    path = tmp_path / "two.csv"
    path.write_text(CSV_HEADER + "7,1,client,I could walk the dog more.\n7,0,therapist,What could you try?\n"
                    "7,0,therapist,What could you try?\n8,0,therapist,Hello.\n8,1,client,Hi.\n", encoding="utf-8")
    result = cli("sessions", "import", str(path))
    assert result.exit_code == 2 and "2 transcripts (7, 8)" in result.stderr and "--transcript 7" in result.stderr
    data = imported(cli, str(path), "--transcript", "7")
    assert [(t["speaker"], t["text"]) for t in data["turns"]] == [
        ("trainee", "What could you try?"), ("patient", "I could walk the dog more.")]
    result = cli("sessions", "import", str(path), "--transcript", "9")
    assert result.exit_code == 2 and "no transcript_id '9'" in result.stderr and "7, 8" in result.stderr


def test_own_json_export_round_trips(cli, tmp_path, monkeypatch):
    """An export imported on another machine keeps its speakers, texts, trainee and scenario, and is coded the
    same; a session already in the database is not stored twice."""
    first = imported(cli, str(CSV), "--scenario", "mi-alcohol-nurse", "--trainee", "Kim")
    out = tmp_path / "export.json"
    assert cli("sessions", "export", first["session_id"], "--format", "json", "-o", str(out)).exit_code == 0
    here = cli("sessions", "import", str(out))
    assert here.exit_code == 2 and f"This session is already here, as {first['session_id']}" in here.output
    monkeypatch.setenv("SIMTRAINER_HOME", str(tmp_path / "supervisor"))  # the supervisor's machine
    again = imported(cli, str(out))
    assert not again["existing"] and not any(again["review"].values())
    shown = cli("sessions", "import", str(out))
    assert shown.exit_code == 2 and f"already here, as {again['session_id']}" in shown.output  # not twice
    assert again["format"] == "simtrainer-json" and again["session_id"] != first["session_id"]
    assert (again["trainee"], again["scenario"]) == ("Kim", "mi-alcohol-nurse")
    assert [(t["speaker"], t["text"], t["codes"]) for t in again["turns"]] == [
        (t["speaker"], t["text"], t["codes"]) for t in first["turns"]]
    assert again["summary"] == first["summary"]
    assert_coded(again, stored(cli, again["session_id"]))


def review_rows(record: dict) -> tuple:
    """A session's review as the trainee sees it: notes, corrections, ratings with their authors and times."""
    return ([(a["turn"], a["body"], a["author"], a["created_at"]) for a in record["annotations"]],
            [(c["turn"], c["rubric"], c["code"], c["detail"], c["author"], c["created_at"])
             for c in record["corrections"]],
            [(r["rubric"], r["item"], r["score"], r["author"], r["created_at"]) for r in record["ratings"]],
            (record["session"]["reviewed_by"], record["session"]["reviewed_at"]))


def test_a_supervisors_review_goes_back_to_the_trainees_session(cli, tmp_path, monkeypatch):
    """Trainee exports, the supervisor imports it, reviews and exports their copy; the trainee's import of that
    file adds the review to the session they practised (not a second copy), once; a colleague's import of it
    is a new session carrying the same review."""
    trainee_home, supervisor_home = tmp_path / "trainee", tmp_path / "supervisor"
    monkeypatch.setenv("SIMTRAINER_HOME", str(trainee_home))
    own = imported(cli, str(CSV), "--scenario", "mi-alcohol-nurse", "--trainee", "Kim")["session_id"]
    cli("sessions", "annotate", own, "Note to self: ask about nights.", "--turn", "3", "--author", "Kim")
    sent = tmp_path / "kim.json"
    assert cli("sessions", "export", own, "--format", "json", "-o", str(sent)).exit_code == 0

    monkeypatch.setenv("SIMTRAINER_HOME", str(supervisor_home))
    copy = imported(cli, str(sent))
    assert copy["review"]["notes"] == 1 and copy["authors"] == ["Kim"]  # the trainee's own note came along
    sid = copy["session_id"]
    for args in (("correct", sid, "--turn", "3", "--code", "CR"), ("correct", sid, "--turn", "4", "--code", "ST"),
                 ("annotate", sid, "A reflection here would have helped.", "--turn", "3"),
                 ("annotate", sid, "Warm, steady session overall."), ("rate", sid, "--item", "empathy", "--score", "4"),
                 ("review", sid, "--done")):
        result = cli("sessions", *args, "--author", "Dr Okafor")
        assert result.exit_code == 0, result.output
    back = tmp_path / "reviewed.json"
    assert cli("sessions", "export", sid, "--format", "json", "-o", str(back)).exit_code == 0
    reviewed = stored(cli, sid)

    monkeypatch.setenv("SIMTRAINER_HOME", str(trainee_home))
    result = cli("sessions", "import", str(back))
    assert result.exit_code == 0, result.output
    said = " ".join(result.stdout.split())
    assert f"Session {own} is already here" in said and "2 notes, 2 corrections, 1 rating, marked reviewed (by " \
        "Dr Okafor)" in said
    mine = stored(cli, own)
    assert review_rows(mine) == review_rows(reviewed)  # the same rows, authors and times; Kim's note once
    assert mine["reviewed"] == reviewed["reviewed"]  # the summary as reviewed is the supervisor's
    sessions = json.loads(cli("sessions", "list", "--json").stdout)
    assert [s["id"] for s in sessions] == [own]
    again = cli("sessions", "import", str(back))
    assert again.exit_code == 2 and "with all of this file's review work" in again.stderr
    assert review_rows(stored(cli, own)) == review_rows(reviewed)

    assert "owner" not in json.loads(back.read_text())["session"]  # which host ran it stays on the machine

    monkeypatch.setenv("SIMTRAINER_HOME", str(tmp_path / "colleague"))
    other = imported(cli, str(back))
    assert not other["existing"] and other["review"] == {"notes": 3, "corrections": 2, "ratings": 1, "reviewed": 1}
    assert review_rows(stored(cli, other["session_id"])) == review_rows(reviewed)


def test_a_review_of_a_pseudonymised_export_goes_back_to_the_named_trainee(cli, tmp_path, monkeypatch):
    """The trainee sends the session under a pseudonym; the supervisor's review of it (which uses the code)
    lands on the trainee's own session, the code in notes read as the name again."""
    monkeypatch.setenv("SIMTRAINER_HOME", str(tmp_path / "trainee"))
    text = tmp_path / "walk.txt"
    text.write_text("T: Hi Kim, what brings you in?\nC: My doctor says I should walk more.\n"
                    "T: Walking more is on your mind.\nC: It is, I just never find the time.\n", encoding="utf-8")
    own = imported(cli, str(text), "--trainee", "Kim Ode")["session_id"]
    sent = tmp_path / "coded.json"
    assert cli("sessions", "export", own, "--format", "json", "--pseudonymise", "-o", str(sent)).exit_code == 0
    code = json.loads(sent.read_text())["session"]["trainee"]
    assert code.startswith("trainee-") and "Kim" not in sent.read_text()
    monkeypatch.setenv("SIMTRAINER_HOME", str(tmp_path / "supervisor"))
    sid = imported(cli, str(sent))["session_id"]
    note = f"Well done, {code}: a reflection. {code.upper()} could reflect more."
    assert cli("sessions", "annotate", sid, note, "--turn", "3").exit_code == 0
    back = tmp_path / "back.json"
    assert cli("sessions", "export", sid, "--format", "json", "-o", str(back)).exit_code == 0
    monkeypatch.setenv("SIMTRAINER_HOME", str(tmp_path / "trainee"))
    result = cli("sessions", "import", str(back), "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["existing"], result.output
    assert [a["body"] for a in stored(cli, own)["annotations"]] == [
        "Well done, Kim Ode: a reflection. Kim Ode could reflect more."]

    record = json.loads(back.read_text())
    record["turns"][1]["text"] = "Something else entirely."
    back.write_text(json.dumps(record))
    result = cli("sessions", "import", str(back))
    assert result.exit_code == 2 and f"(here as {own})" in result.stderr and "turns differ" in result.stderr


@pytest.mark.parametrize(("edit", "message"), [
    (lambda r: r["corrections"][0].update(code="XYZ"), "'XYZ' is not a mi code"),
    (lambda r: r["corrections"][0].update(turn=99), "turn the file does not have"),
    (lambda r: r["ratings"][0].update(score=9), "outside that"),
    (lambda r: r["annotations"][0].update(created_at="yesterday"), "not a date and time"),
    (lambda r: r.update(corrections={"turn": 1}), "not a list of rows"),
    (lambda r: r["annotations"][0].update(body="  "), '"body" is missing or empty'),
])
def test_a_bad_review_row_in_an_export_is_refused_with_its_place(cli, tmp_path, monkeypatch, edit, message):
    sid = imported(cli, str(CSV), "--scenario", "mi-alcohol-nurse")["session_id"]
    for args in (("correct", sid, "--turn", "3", "--code", "CR"), ("annotate", sid, "Good.", "--turn", "3"),
                 ("rate", sid, "--item", "empathy", "--score", "4")):
        assert cli("sessions", *args).exit_code == 0
    path = tmp_path / "export.json"
    assert cli("sessions", "export", sid, "--format", "json", "-o", str(path)).exit_code == 0
    record = json.loads(path.read_text())
    edit(record)
    path.write_text(json.dumps(record))
    monkeypatch.setenv("SIMTRAINER_HOME", str(tmp_path / "elsewhere"))
    result = cli("sessions", "import", str(path))
    assert result.exit_code == 2 and message in result.stderr and str(path) in result.stderr, result.output
    assert "Traceback" not in result.output and "--rubric" not in result.stderr and "--score" not in result.stderr
    assert json.loads(cli("sessions", "list", "--json").stdout) == []  # nothing stored


def test_coded_as_the_live_session_was(cli, tmp_path, monkeypatch):
    """A practice session, exported and imported again, gets the codes the live session gave each turn (its
    opening line, which a live session leaves uncoded, uncoded too), so both show the same figures."""
    script = tmp_path / "lines.txt"
    script.write_text("What brings you in today?\nIt sounds like the shifts are exhausting.\nYou should cut down.\n"
                      "What would be better if you drank less?\n", encoding="utf-8")
    live = json.loads(cli("practice", "-s", "mi-alcohol-nurse", "--script", str(script), "--json", "-m",
                          "fake").stdout)
    out = tmp_path / "live.json"
    cli("sessions", "export", live["session_id"], "--format", "json", "-o", str(out))
    counts = stored(cli, live["session_id"])["session"]["summary"]["rubrics"]["mi"]["counts"]
    monkeypatch.setenv("SIMTRAINER_HOME", str(tmp_path / "supervisor"))  # imported where it is not yet
    again = imported(cli, str(out))
    assert len(again["turns"]) == len(live["turns"]) == 9
    assert [t["codes"] for t in again["turns"]] == [t["codes"] for t in live["turns"]] and not live["turns"][0]["codes"]
    assert again["summary"]["rubrics"]["mi"]["counts"] == counts
    assert again["summary"]["rubrics"]["mi"]["client_talk"] == live["summary"]["rubrics"]["mi"]["client_talk"]
    mine, theirs = stored(cli, again["session_id"])["session"], json.loads(out.read_text())["session"]
    assert (mine["started_at"], mine["ended_at"]) == (theirs["started_at"], theirs["ended_at"])  # practised then
    assert mine["model"] == f"{theirs['model']} (imported from live.json)"
    copy = tmp_path / "copy.json"  # the patient's state at each reply (the supervisor's "why") comes along
    cli("sessions", "export", again["session_id"], "--format", "json", "-o", str(copy))
    states = [(t["meta"].get("state"), t["meta"].get("source")) for t in json.loads(out.read_text())["turns"]]
    assert [(t["meta"].get("state"), t["meta"].get("source")) for t in json.loads(copy.read_text())["turns"]] == [
        (s and {k: s[k] for k in ("openness", "resistance", "stage", "leaning", "requested")}, source)
        for s, source in states] and sum(bool(s) for s, _ in states) == 4
    record = json.loads(out.read_text())
    record["turns"][2]["meta"]["state"]["leaning"] = "sideways"
    out.write_text(json.dumps(record))
    monkeypatch.setenv("SIMTRAINER_HOME", str(tmp_path / "fourth"))
    bad = cli("sessions", "import", str(out))
    assert bad.exit_code == 2 and "turns[2].meta.state" in bad.stderr and "not as simtrainer writes it" in bad.stderr
    record["turns"][2]["meta"]["state"]["leaning"] = "change"
    record["session"]["started_at"] = "last Tuesday"
    out.write_text(json.dumps(record))
    monkeypatch.setenv("SIMTRAINER_HOME", str(tmp_path / "third"))
    bad = cli("sessions", "import", str(out))
    assert bad.exit_code == 2 and "session.started_at" in bad.stderr and "not a date and time" in bad.stderr


def test_rubric_chooses_the_coders(cli):
    data = imported(cli, str(TEXT), "--rubric", "dearman")
    # the rubric that fits the session scores it: DEAR MAN alone; CTRS with question / reflection micro-skills
    assert set(data["summary"]["rubrics"]) == {"dearman"} and data["modality"] == "dearman"
    assert stored(cli, data["session_id"])["session"]["modality"] == "dearman"
    cbt = imported(cli, str(TEXT), "--scenario", "cbt-seminar-anxiety")
    assert set(cbt["summary"]["rubrics"]) == {"ctrs"} and cbt["scenario"] == "cbt-seminar-anxiety"
    skills = cbt["summary"]["rubrics"]["ctrs"]["microskills"]
    assert skills["questions"] == skills["questions_open"] + skills["questions_closed"]
    assert skills["questions"] + skills["reflections"] > 0
    result = cli("sessions", "import", str(TEXT), "--scenario", "mi-alcohol-nurse", "--rubric", "ctrs")
    assert result.exit_code == 2 and "--rubric" in result.stderr


BAD_FILES = {
    # name: (file content (bytes), extra args, what the error says, where it points)
    "empty": (b"", (), "The file is empty", "bad.txt"),
    "blank lines": (b"\n  \n\n", (), "The file is empty", "bad.txt"),
    "no labels": (b"Hello, how are you?\nFine thanks.\n", (), "the first line reads 'Hello, how are you?'",
                  "bad.txt:1"),
    "heading first": (b"Session 3\nT: Hi.\nC: Hello.\n", (), "Line 1 has no speaker label", "bad.txt:1"),
    "one speaker": (b"T: How are you?\nT: Anything else?\n", (), "Only the counselor speaks", "bad.txt"),
    "names not given": (b"Ann: Hi.\nBob: Hello.\n", (), "No speaker labels found", "bad.txt:1"),
    "wrong names": (b"T: Hi.\nC: Hello.\n", ("--speakers", "Ann,Bob"), "Ann: / Bob:", "bad.txt:1"),
    "one name": (b"Ann: Hi.\nBob: Hello.\n", ("--speakers", "Ann"), "two different names", "--speakers"),
    "labels only": (b"T:\nC:\n", (), "no words to code", "bad.txt"),
    "mistyped label": (b"T: How is the drinking?\nCL: Not great.\nC: A bad week.\n", (), "'CL:'", "bad.txt:2"),
    "third speaker": (b"Ann: Hi.\nBob: Hello.\nCarl: Sorry I'm late.\n", ("--speakers", "Ann,Bob"), "'Carl:'",
                      "bad.txt:3"),
    "not utf-8": ("T: Hello.\nC: J'ai peur du café.\n".encode("latin-1"), (), "not UTF-8", "bad.txt:2"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_text_files(cli, tmp_path, case):
    content, args, what, where = BAD_FILES[case]
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    assert_refused(cli, [str(path), *args], what, where.replace("bad.txt", str(path)))


BAD_CSV_JSON = {
    "csv missing columns": ("bad.csv", "transcript_id,text\n1,hello\n", "lacks the AnnoMI columns interlocutor",
                            ":1"),
    "csv header only": ("bad.csv", CSV_HEADER, "no utterances", ""),
    "csv bad interlocutor": ("bad.csv", CSV_HEADER + "1,0,therapist,Hi.\n\n1,1,patient,Hello.\n",
                             "interlocutor is 'patient'", ":4"),
    "csv bad utterance id": ("bad.csv", CSV_HEADER + "1,first,therapist,Hi.\n", "utterance_id is not a number",
                             ":2"),
    "csv short row": ("bad.csv", CSV_HEADER + "1,0,therapist\n", "different number of fields", ":2"),
    "invalid json": ("bad.json", '{"turns": [\n  {"speaker": "trainee",\n', "not valid JSON", ":3:1"),
    "json without turns": ("bad.json", '{"session": {}}', 'no "turns" list', ""),
    "json bad turn": ("bad.json", '{"turns": [{"speaker": "trainee", "text": "Hi"}, {"speaker": "coach"}]}',
                      'lacks a "speaker"', ": turns[1]"),
}


@pytest.mark.parametrize("case", list(BAD_CSV_JSON))
def test_bad_csv_and_json_files(cli, tmp_path, case):
    name, content, what, where = BAD_CSV_JSON[case]
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert_refused(cli, [str(path)], what, str(path) + where)


def test_bad_arguments(cli, tmp_path):
    assert_refused(cli, [str(TEXT), "--scenario", "no-such-card"], "Unknown scenario 'no-such-card'", "--scenario")
    assert_refused(cli, [str(tmp_path)], "a folder", str(tmp_path))
    assert_refused(cli, [str(tmp_path / "missing.txt")], "No such file", str(tmp_path / "missing.txt"))
    assert_refused(cli, [str(TEXT), "--transcript", "3"], "not a CSV", str(TEXT))
    assert_refused(cli, [str(CSV), "--speakers", "Ann,Bob"], "--speakers", str(CSV))


def assert_refused(cli, args: list[str], what: str, where: str) -> None:
    result = cli("sessions", "import", *args)
    assert result.exit_code == 2, result.output
    assert what in result.stderr and f"where: {where}" in result.stderr and "fix:" in result.stderr, result.stderr
    assert json.loads(cli("sessions", "list", "--json").stdout) == []


def test_the_accepted_forms_are_named(cli, tmp_path):
    path = tmp_path / "plain.txt"
    path.write_text("We talked about sleep.\n", encoding="utf-8")
    stderr = cli("sessions", "import", str(path)).stderr
    assert "T: / C:, COUNSELOR: / CLIENT:" in stderr and "--speakers" in stderr


def test_label_forms_and_timestamps(cli, tmp_path):
    path = tmp_path / "forms.txt"
    path.write_text("[00:00:05] THERAPIST: How was your week?\n(00:00:09) patient: Long.\n\n00:00:12\n"
                    "Counsellor: Long how?\n00:00:15 - Client: Work, mostly.\n  And the move.\n"
                    "counselor: Tell me about the move.\nc: Boxes everywhere.\n", encoding="utf-8")
    data = imported(cli, str(path))
    assert [(t["speaker"], t["text"]) for t in data["turns"]] == [
        ("trainee", "How was your week?"), ("patient", "Long."), ("trainee", "Long how?"),
        ("patient", "Work, mostly. And the move."), ("trainee", "Tell me about the move."),
        ("patient", "Boxes everywhere.")]


def test_nothing_is_half_imported(tmp_path):
    """The store writes an imported session in one transaction: a turn that cannot be written leaves no trace."""
    import sqlite3

    from simtrainer.storage import open_store

    store = open_store()
    good = ("trainee", "Hi.", {}, [{"rubric": "mi", "code": "NEUTRAL"}])
    with pytest.raises(sqlite3.IntegrityError):
        store.import_session(scenario_id="imported", scenario_title="t", modality="mi", model="imported: x",
                             trainee="", turns=[good, ("patient", None, {}, [])], summary={"trainee_turns": 1})
    assert store.list_sessions() == []
    assert store.db.conn.execute("select count(*) from turns").fetchone()[0] == 0
    sid = store.import_session(scenario_id="imported", scenario_title="t", modality="mi", model="imported: x",
                               trainee="", turns=[good], summary={"trainee_turns": 1})
    assert store.get_session(sid)["status"] == "ended" and len(store.turns(sid)) == 1


def test_through_the_real_entry_point():
    result = run_cli("sessions", "import", str(NAMED), "--speakers", "Dana,Sam")
    assert result.returncode == 0, result.stderr
    assert "Imported named_speakers.txt as session" in result.stdout and "R:Q" in result.stdout
    bad = run_cli("sessions", "import", str(TEXT), "--speakers", "Dana,Sam")
    assert bad.returncode == 2 and f"where: {TEXT}:1" in bad.stderr and "Traceback" not in bad.stderr
