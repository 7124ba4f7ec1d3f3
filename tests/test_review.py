"""A supervisor's review from the command line: one turn numbering, notes at their turns, corrected codes beside
the automatic ones, hand ratings, the summary as reviewed, agreement with the coder, corrections as training
data, and deleting a session. Real SQLite in each test's own SIMTRAINER_HOME; sessions come from the fake model."""

import csv
import getpass
import io
import json
import sqlite3

import pytest

from simtrainer.config import data_dir
from simtrainer.feedback.mi.annomi import read_annomi
from simtrainer.feedback.mi.train import read_training_data
from simtrainer.review.agreement import cohen_kappa
from simtrainer.storage import open_store

LINES = ["What brings you in today?", "It sounds like the shifts are exhausting.", "You should stop drinking."]


@pytest.fixture
def practise(cli, tmp_path):
    """Run a scripted session on a scenario with the fake model; returns its id."""

    def run(scenario: str = "mi-alcohol-nurse", lines: list[str] = LINES, trainee: str = "") -> str:
        script = tmp_path / f"{scenario}.txt"
        script.write_text("\n".join(lines) + "\n")
        result = cli("practice", "-s", scenario, "--script", str(script), "--json", "-m", "fake",
                     *(["--trainee", trainee] if trainee else []))
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert [t["turn"] for t in data["turns"]] == list(range(1, len(data["turns"]) + 1))
        return data["session_id"]

    return run


def record(cli, sid: str) -> dict:
    return json.loads(cli("sessions", "show", sid, "--json").stdout)


def test_one_turn_numbering_and_notes_at_their_turns(cli, practise):
    sid = practise()
    data = record(cli, sid)
    assert [t["turn"] for t in data["turns"]] == list(range(1, 8))  # the opening line is turn 1
    shown = cli("sessions", "show", sid).output
    for turn in data["turns"]:
        who = "Trainee" if turn["speaker"] == "trainee" else "Patient"
        assert f"{turn['turn']}. **{who}**: {turn['text'][:20]}" in shown

    result = cli("sessions", "annotate", sid, "Lovely reflection.", "--turn", "4", "--author", "ann")
    assert result.exit_code == 0 and "turn 4" in result.output
    cli("sessions", "annotate", sid, "Work on open questions.")
    data = record(cli, sid)
    assert data["turns"][3]["text"] == LINES[1]
    assert [n["body"] for n in data["turns"][3]["notes"]] == ["Lovely reflection."]
    assert data["annotations"][0]["turn"] == 4 and data["annotations"][0]["author"] == "ann"
    assert data["annotations"][1]["turn"] is None and data["annotations"][1]["author"] == getpass.getuser()

    md = cli("sessions", "export", sid, "--format", "md").output
    nested = data_dir().parent / "for-the-supervisor" / "week-1" / "session.md"  # a folder not made yet
    assert cli("sessions", "export", sid, "--format", "md", "-o", str(nested)).exit_code == 0
    assert nested.read_text(encoding="utf-8") == md
    turn4 = md.index(f"4. **Trainee**: {LINES[1]}")
    assert md.index("- note: Lovely reflection. (ann)") > turn4 > 0
    assert md.index("- note: Lovely reflection. (ann)") < md.index("5. **Patient**")
    assert "## Supervisor notes" in md and "Work on open questions." in md.split("## Supervisor notes")[1]
    rows = list(csv.DictReader(io.StringIO(cli("sessions", "export", sid, "--format", "csv").output)))
    turns = [r for r in rows if r["section"] == "turn"]
    assert rows[:7] == turns and [r["turn"] for r in turns] == [str(n) for n in range(1, 8)]
    assert turns[3]["notes"] == "Lovely reflection. (ann)" and turns[2]["notes"] == ""


@pytest.mark.parametrize("args,message", [
    (["  \n "], "The note is empty"),
    (["ok", "--turn", "8"], "There is no turn 8: this session has turns 1 to 7"),
    (["ok", "--turn", "0"], "There is no turn 0"),
])
def test_bad_notes_are_refused(cli, practise, args, message):
    sid = practise()
    result = cli("sessions", "annotate", sid, *args)
    assert result.exit_code == 2 and message in result.output and "fix:" in result.output
    assert record(cli, sid)["annotations"] == []


def test_corrections_sit_beside_the_automatic_codes(cli, practise, tmp_path):
    sid = practise(trainee="Ann Lee")
    before = record(cli, sid)
    assert before["reviewed"] is None
    auto = [c["code"] for c in before["turns"][1]["codes"]]
    assert auto[0] == "Q"

    assert cli("sessions", "correct", sid, "--turn", "2", "--code", "cr", "--author", "ann").exit_code == 0
    assert cli("sessions", "correct", sid, "--turn", "3", "--code", "CT", "--author", "bob").exit_code == 0
    data = record(cli, sid)
    assert [c["code"] for c in data["turns"][1]["codes"]] == auto  # never overwritten
    assert [(c["code"], c["author"], c["turn"]) for c in data["corrections"]] == [("CR", "ann", 2), ("change", "bob", 3)]
    assert data["turns"][1]["corrections"][0]["code"] == "CR"
    shown = cli("sessions", "show", sid).output
    assert "Q open → CR (ann)" in shown and "→ CT (bob)" in shown  # codes by their badge labels
    assert "## Summary as reviewed" in shown

    mi, reviewed = data["session"]["summary"]["rubrics"]["mi"], data["reviewed"]["rubrics"]["mi"]
    assert reviewed["counts"]["Q"] == mi["counts"]["Q"] - 1 and reviewed["counts"]["CR"] == mi["counts"]["CR"] + 1
    assert reviewed["client_talk"]["change"] == sum(
        [c["code"] for c in t["codes"]] == ["change"] for t in data["turns"][3:]) + 1
    assert reviewed["scorer"] == "as reviewed by ann, bob"

    # a later correction of the same turn counts; the earlier one is kept
    cli("sessions", "correct", sid, "--turn", "2", "--code", "Q closed", "--author", "ann")
    data = record(cli, sid)
    assert len(data["corrections"]) == 3
    assert data["reviewed"]["rubrics"]["mi"]["questions_closed"] == 1
    csv_rows = list(csv.DictReader(io.StringIO(cli("sessions", "export", sid, "--format", "csv").output)))
    assert csv_rows[1]["corrected"] == "Q open → Q closed (ann)" and csv_rows[1]["codes"] == "Q open"

    from simtrainer.review.report import report_data

    report = report_data(open_store(), sid)
    assert report["turns"][1]["corrections"] == [{"rubric": "mi", "code": "Q", "author": "ann", "label": "Q closed"}]
    assert [block["title"] for block in report["summaries"]] == ["As coded", "As reviewed"]
    page = tmp_path / "r.html"
    assert cli("sessions", "report", sid, "-o", str(page)).exit_code == 0
    assert "→ Q closed (ann)" in page.read_text() and "As reviewed" in page.read_text()

    practise(trainee="Ann Lee")  # a later session nobody reviewed
    first, second = json.loads(cli("trainees", "show", "Ann Lee", "--json").stdout)["sessions"]
    reviewed = record(cli, sid)["reviewed"]["rubrics"]["mi"]
    assert first["id"] == sid and first["reviewed"]["mi"] == {k: reviewed[k] for k in first["reviewed"]["mi"]}
    assert second["reviewed"] is None and second["figures"]["mi"]


@pytest.mark.parametrize("args,message", [
    (["--turn", "2", "--code", "XYZ"], "'XYZ' is not a mi code for a trainee turn"),
    (["--turn", "2", "--code", "CT"], "is not a mi code for a trainee turn"),
    (["--turn", "3", "--code", "CR"], "'CR' is not a mi code for a patient turn"),
    (["--turn", "9", "--code", "CR"], "There is no turn 9"),
    (["--turn", "3", "--code", "describe", "--rubric", "dearman"], "codes the trainee's turns only"),
    (["--turn", "2", "--code", "CR", "--rubric", "nope"], "Unknown rubric 'nope'"),
])
def test_bad_corrections_are_refused(cli, practise, args, message):
    sid = practise()
    result = cli("sessions", "correct", sid, *args)
    assert result.exit_code == 2 and message in result.output and "fix:" in result.output
    assert record(cli, sid)["corrections"] == []


def test_hand_ratings_replace_estimates(cli, practise):
    sid = practise()
    assert cli("sessions", "rate", sid, "--item", "Empathy", "--score", "5", "--author", "ann").exit_code == 0
    assert cli("sessions", "rate", sid, "--item", "partnership", "--score", "4").exit_code == 0
    reviewed = record(cli, sid)["reviewed"]["rubrics"]["mi"]
    assert reviewed["globals_estimate"]["empathy"] == 5 and reviewed["rated"] == {"empathy": 5, "partnership": 4}
    assert reviewed["relational"] == 4.5 and reviewed["relational_band"] == "good"
    shown = cli("sessions", "show", sid).output
    assert "Empathy (rated) | 5.0" in shown
    assert "Relational (rated) | 4.50" in shown and "Technical (estimate)" in shown  # each by its own globals
    for args, message in [(["--item", "empathy", "--score", "6"], "Empathy is rated 1 to 5; 6 is outside"),
                          (["--item", "warmth", "--score", "3"], "'warmth' is not a rated item of the mi rubric")]:
        result = cli("sessions", "rate", sid, *args)
        assert result.exit_code == 2 and message in result.output


def test_giving_the_coders_own_code_says_it_confirms_and_wrong_rubric_codes_point_to_rubric(cli, practise):
    sid = practise()
    first = record(cli, sid)["turns"][1]
    same = cli("sessions", "correct", sid, "--turn", "2", "--code", first["codes"][0]["code"], "--author", "ann")
    assert same.exit_code == 0 and "confirmed (the coder's own code) by ann" in same.output
    other = cli("sessions", "correct", sid, "--turn", "2", "--code", "agenda:4")
    assert other.exit_code == 2 and "Add --rubric mi, dearman or ctrs" in other.output
    ctrs = practise("cbt-panic-supermarket", ["What would you like to work on today?"])
    wrong = cli("sessions", "correct", ctrs, "--turn", "2", "--code", "agendaa:4", "--rubric", "ctrs")
    assert wrong.exit_code == 2 and "ITEM:LEVEL such as agenda:4" in wrong.output and "'Q open'" not in wrong.output


def test_a_dearman_turn_with_several_skills_is_confirmed_by_all_of_them(cli, practise):
    """The coder gave several skills on a turn: giving them all (any order) confirms it; giving one of them is a
    correction: `agreement` misses on the whole set, and per skill agrees on the one given and misses the rest."""
    sid = practise("dearman-airline-refund",
                   ["I paid for a flight that was cancelled, and I would like the refund today."])
    skills = [c["code"] for c in record(cli, sid)["turns"][1]["codes"] if c["rubric"] == "dearman"]
    assert len(skills) > 1, skills
    one = cli("sessions", "correct", sid, "--turn", "2", "--code", skills[0], "--rubric", "dearman")
    assert one.exit_code == 0 and ", corrected by" in one.output
    stats = json.loads(cli("agreement", "--rubric", "dearman", "--json").stdout)
    assert stats["n"] == 1 and stats["agreement"] == 0.0
    assert stats["per_code"][skills[0]] == {"n": 1, "agreement": 1.0, "coder": 1, "supervisor": 1}
    assert all(stats["per_code"][skill] == {"n": 1, "agreement": 0.0, "coder": 1, "supervisor": 0}
               for skill in skills[1:])
    everything = cli("sessions", "correct", sid, "--turn", "2", "--code", "+".join(reversed(skills)))
    assert everything.exit_code == 0 and "confirmed (the coder's own code)" in everything.output
    stats = json.loads(cli("agreement", "--rubric", "dearman", "--json").stdout)
    assert stats["n"] == 1 and stats["agreement"] == 1.0


def test_a_dearman_session_takes_mi_codes_only_when_asked_and_mi_agreement_leaves_it_out(cli, practise):
    sid = practise("dearman-airline-refund", ["I would like the refund for my cancelled flight today."])
    hidden = cli("sessions", "correct", sid, "--turn", "2", "--code", "CR")
    assert hidden.exit_code == 2 and "does not show" in hidden.stderr and "--rubric mi" in hidden.stderr
    other = cli("sessions", "correct", sid, "--turn", "3", "--code", "ST")  # the agent's turn
    assert other.exit_code == 2 and "trainee's turns only; this is the other person's turn" in other.stderr
    assert cli("sessions", "correct", sid, "--turn", "2", "--code", "CR", "--rubric", "mi").exit_code == 0
    assert cli("sessions", "review", sid, "--done").exit_code == 0
    mi = json.loads(cli("agreement", "--json").stdout)
    assert mi["n"] == 1  # the one MI code asked for; the session's hidden MI codes are not agreed with


def test_the_coders_own_open_question_or_client_talk_is_confirmed(cli, practise):
    sid = practise()
    turns = record(cli, sid)["turns"]
    question = next(t for t in turns if any(c["code"] == "Q" and c["detail"] for c in t["codes"]))
    kind = next(c["detail"] for c in question["codes"] if c["code"] == "Q")
    same = cli("sessions", "correct", sid, "--turn", str(question["turn"]), "--code", f"Q {kind}")
    assert same.exit_code == 0 and "confirmed (the coder's own code)" in same.output
    other = "closed" if kind == "open" else "open"
    changed = cli("sessions", "correct", sid, "--turn", str(question["turn"]), "--code", f"Q {other}")
    assert changed.exit_code == 0 and ", corrected by" in changed.output
    talk = next(t for t in turns if t["speaker"] == "patient" and t["codes"])
    label = {"change": "CT", "sustain": "ST", "neutral": "N"}[talk["codes"][0]["code"]]
    again = cli("sessions", "correct", sid, "--turn", str(talk["turn"]), "--code", label)
    assert again.exit_code == 0 and "confirmed (the coder's own code)" in again.output


def test_ratings_and_corrections_for_dearman_and_ctrs(cli, practise):
    dearman = practise("dearman-roommate-noise", ["Hey, can we talk about the noise?", "I need quiet after 11."])
    result = cli("sessions", "rate", dearman, "--item", "negotiate", "--score", "2")
    assert result.exit_code == 2 and "Negotiate is rated 0 to 1" in result.output
    cli("sessions", "rate", dearman, "--item", "negotiate", "--score", "1")
    assert cli("sessions", "correct", dearman, "--turn", "2", "--code", "D", "--rubric", "dearman").exit_code == 0
    assert cli("sessions", "correct", dearman, "--turn", "4", "--code", "none").exit_code == 0  # rubric inferred
    data = record(cli, dearman)
    assert [(c["rubric"], c["code"]) for c in data["corrections"]] == [("dearman", "describe"), ("dearman", "none")]
    reviewed = data["reviewed"]["rubrics"]["dearman"]
    assert reviewed["checklist"]["negotiate"] is True and reviewed["turns_shown"]["describe"][:1] == [2]
    assert all(4 not in turns for turns in reviewed["turns_shown"].values())  # "none": no skill at turn 4
    both = cli("sessions", "correct", dearman, "--turn", "4", "--code", "R+negotiate")  # a turn with two skills
    assert both.exit_code == 0 and "→ reinforce+negotiate" in both.output  # in DEAR MAN order
    reviewed = record(cli, dearman)["reviewed"]["rubrics"]["dearman"]
    assert reviewed["turns_shown"]["reinforce"] == [4] and 4 in reviewed["turns_shown"]["negotiate"]
    assert "R+Neg" in cli("sessions", "show", dearman).output
    mixed = cli("sessions", "correct", dearman, "--turn", "4", "--code", "D+none")
    assert mixed.exit_code == 2 and "'none' cannot go with a skill" in mixed.output

    ctrs = practise("cbt-panic-supermarket", ["What would you like to work on today?"])
    cli("sessions", "rate", ctrs, "--item", "agenda", "--score", "5")
    assert cli("sessions", "correct", ctrs, "--turn", "2", "--code", "Guided discovery:4").exit_code == 0
    result = cli("sessions", "correct", ctrs, "--turn", "2", "--code", "agenda:9")
    assert result.exit_code == 2 and "'9' is not a CTRS level" in result.output
    reviewed = record(cli, ctrs)["reviewed"]["rubrics"]["ctrs"]
    assert reviewed["items"]["agenda"]["score"] == 5 and reviewed["items"]["guided_discovery"]["score"] == 4
    assert reviewed["total"] == sum(v["score"] for v in reviewed["items"].values()) and reviewed["rated"] == {"agenda": 5}


CBT_LINES = ["What would you like to put on our agenda today?",
             "When your heart raced in the aisle, what went through your mind?",
             "What evidence do you have that you would faint?", "What else might explain the racing heart?",
             "How did that land for you? Anything I got wrong?",
             "For homework, could you try staying in the shop two minutes longer and note what happens?"]


def test_a_review_changes_only_what_it_touched(cli, practise):
    """Rating one CTRS item moves only that item and the total; a DEAR MAN or CBT session's review adds no MI
    table (its turns carry MI codes for the micro-skills), so the trainee's MI record is left alone."""
    ctrs = practise("cbt-panic-supermarket", CBT_LINES)
    coded = record(cli, ctrs)["session"]["summary"]["rubrics"]["ctrs"]
    assert sum(v["score"] > 0 for v in coded["items"].values()) >= 3, coded["items"]  # something to lose
    cli("sessions", "rate", ctrs, "--item", "agenda", "--score", "6")
    reviewed = record(cli, ctrs)["reviewed"]
    assert set(reviewed["rubrics"]) == {"ctrs"}
    items = reviewed["rubrics"]["ctrs"]["items"]
    assert {i: v for i, v in items.items() if i != "agenda"} == {i: v for i, v in coded["items"].items() if i != "agenda"}
    assert reviewed["rubrics"]["ctrs"]["total"] == coded["total"] - coded["items"]["agenda"]["score"] + 6

    dearman = practise("dearman-roommate-noise", ["Hey, can we talk about the noise?", "I need quiet after 11."])
    cli("sessions", "rate", dearman, "--item", "mindful", "--score", "1")
    assert set(record(cli, dearman)["reviewed"]["rubrics"]) == {"dearman"}


def session_with_codes(store, pairs: list[tuple[str, str]], trainee: str = "") -> str:
    """A session of trainee turns coded with the first code of each pair, corrected to the second where they
    differ; returns its id."""
    sid = store.create_session(scenario_id="mi-alcohol-nurse", scenario_title="t", modality="mi", model="fake",
                               trainee=trainee)
    for i, (auto, supervisor) in enumerate(pairs):
        turn_id = store.add_turn(sid, "trainee", f"line {i}")
        store.add_codes(sid, turn_id, [{"rubric": "mi", "code": auto}])
        if supervisor != auto:
            store.add_correction(sid, i, "mi", supervisor, author="ann")
    store.end_session(sid, None)
    return sid


def test_kappa_by_hand():
    # agreement 8/10; coder A 4, B 6; supervisor A 4, B 6: chance 0.52; kappa (0.8 - 0.52) / 0.48 = 0.5833
    coder = list("AAAABBBBBB")
    supervisor = list("AAABBBBBBA")
    assert cohen_kappa(coder, supervisor) == pytest.approx(0.58333, abs=1e-4)
    assert cohen_kappa([], []) is None
    assert cohen_kappa(["A", "A"], ["A", "A"]) is None  # one category: chance agreement is 1
    assert cohen_kappa(["A", "B"], ["B", "A"]) == pytest.approx(-1.0)


def test_agreement_counts_reviewed_sessions_and_corrections(cli):
    store = open_store()
    json_of = lambda *a: json.loads(cli("agreement", "--json", *a).stdout)  # noqa: E731
    empty = json_of()
    assert empty["n"] == 0 and empty["kappa"] is None and empty["agreement"] is None and empty["per_code"] == {}

    pairs = [("SR", "SR")] * 3 + [("SR", "CR")] + [("CR", "CR")] * 5 + [("CR", "SR")]
    sid = session_with_codes(store, pairs, trainee="Ann Lee")
    unreviewed = json_of()  # only the two corrected turns count until the session is marked reviewed
    assert unreviewed["n"] == 2 and unreviewed["agreement"] == 0.0
    assert unreviewed["confusion"] == {"SR": {"CR": 1}, "CR": {"SR": 1}}

    assert cli("sessions", "review", sid, "--done", "--author", "ann").exit_code == 0
    assert store.get_session(sid)["reviewed_by"] == "ann"
    figures = json_of("--rubric", "mi")
    assert figures["rubric"] == "mi" and figures["n"] == 10 and figures["agreement"] == 0.8
    assert figures["kappa"] == pytest.approx(0.583, abs=1e-3)
    assert figures["per_code"]["SR"] == {"n": 5, "agreement": 0.6, "coder": 4, "supervisor": 4}
    assert figures["per_code"]["CR"]["n"] == 7 and figures["per_code"]["CR"]["agreement"] == pytest.approx(5 / 7, 1e-3)
    assert figures["confusion"] == {"SR": {"SR": 3, "CR": 1}, "CR": {"CR": 5, "SR": 1}}

    session_with_codes(store, [("Q", "Q"), ("Q", "GI")], trainee="Bo")
    assert json_of("--trainee", "Ann Lee")["n"] == 10
    assert json_of("--trainee", "Bo")["n"] == 1 and json_of("--trainee", "Bo")["kappa"] == 0.0  # po 0, pe 0
    text = cli("agreement").output
    assert "11 turns in 2 sessions" in text and "Confusion" in text
    session_with_codes(store, [("PERSUADE", "SEEK")], trainee="Cy")
    text = cli("agreement", "--trainee", "Cy").output  # codes as the badges write them; JSON keeps the ids
    assert "Persuade" in text and "Seek" in text and "PERSUADE" not in text
    assert json_of("--trainee", "Cy")["confusion"] == {"PERSUADE": {"SEEK": 1}}
    result = cli("agreement", "--trainee", "Nobody")
    assert result.exit_code == 2 and "No session carries the trainee name 'Nobody'" in result.output


def test_agreement_with_nothing_reviewed_says_how_to_start(cli):
    assert "No reviewed turns yet" in cli("agreement").output


def test_export_corrections_reads_as_annomi_training_data(cli, practise, tmp_path):
    out = tmp_path / "corrections.csv"
    result = cli("export", "corrections", "-o", str(out))
    assert result.exit_code == 2 and "No MI corrections" in result.output

    sid = practise(lines=["=1+1 what brings you in?", *LINES[1:]])
    cli("sessions", "correct", sid, "--turn", "2", "--code", "SR")
    cli("sessions", "correct", sid, "--turn", "3", "--code", "sustain")
    result = cli("export", "corrections", "-o", str(out))
    assert result.exit_code == 0 and "2 utterances labelled" in result.output
    assert "'=1+1 what brings you in?" in out.read_text()  # csv_cell: no formula

    utts, fmt = read_annomi(out)
    assert fmt == "full" and len(utts) == 7
    assert utts[1].speaker == "therapist" and utts[1].labels == {"therapist_behaviour": "reflection",
                                                                "reflection": "simple"}
    assert utts[2].speaker == "client" and utts[2].labels == {"client_talk_type": "sustain"}
    assert utts[2].prev == utts[1].text and not utts[3].labels  # context kept; unreviewed turns unlabelled

    cli("sessions", "review", sid, "--done")
    cli("export", "corrections", "-o", str(out))
    utts, _ = read_annomi(out)
    assert all(u.labels for u in utts[1:])  # a reviewed session labels every coded turn

    # `train mi-coder --extra` reads it after the AnnoMI data (a tiny AnnoMI-format file stands in here)
    base = tmp_path / "annomi.csv"
    base.write_text("transcript_id,utterance_id,interlocutor,utterance_text,main_therapist_behaviour,"
                    "client_talk_type,reflection_subtype,question_subtype,therapist_input_subtype\n"
                    "0,0,therapist,How are you?,question,,,open,\n0,1,client,Fine.,,neutral,,,\n")
    combined, _ = read_training_data(base, [out], log=lambda _m: None)
    assert len(combined) == 9 and combined[2].transcript_id == f"simtrainer-{sid}"
    clash = cli("train", "mi-coder", "--data", str(out), "--extra", str(out))
    assert clash.exit_code == 2 and "Transcript ids already in the training data" in clash.output
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    result = cli("train", "mi-coder", "--data", str(base), "--extra", str(bad))
    assert result.exit_code == 2 and "lacks the AnnoMI column" in result.output


def test_delete_asks_then_removes_everything(cli, practise):
    sid, other = practise(), practise()
    cli("sessions", "annotate", sid, "note", "--turn", "2")
    cli("sessions", "correct", sid, "--turn", "2", "--code", "CR")
    cli("sessions", "rate", sid, "--item", "empathy", "--score", "3")

    unanswered = cli("sessions", "delete", sid, input="")  # the input ends before an answer: nothing deleted
    assert unanswered.exit_code == 2 and "Not deleted: no answer came" in unanswered.output
    kept = cli("sessions", "delete", sid, input="n\n")
    assert kept.exit_code == 0 and "Nothing deleted" in kept.output and record(cli, sid)["turns"]
    gone = cli("sessions", "delete", sid, input="y\n")
    assert gone.exit_code == 0 and "7 turns" in gone.output and "1 corrections" in gone.output
    assert cli("sessions", "show", sid).exit_code == 2
    db = sqlite3.connect(data_dir() / "sessions.db")
    for table in ("turns", "codes", "annotations", "corrections", "ratings"):
        assert db.execute(f"select count(*) from {table} where session_id = ?", [sid]).fetchone() == (0,), table
    assert db.execute("select count(*) from turns_fts where turns_fts match 'exhausting'").fetchone() == (1,)
    assert cli("sessions", "delete", other, "--yes").exit_code == 0
    assert json.loads(cli("sessions", "list", "--json").stdout) == []
    assert cli("sessions", "delete", "nope", "--yes").exit_code == 2


def test_hostile_author_and_note_stay_inert(cli, practise, tmp_path):
    sid = practise()
    author = "=cmd|' /C calc'!A0 \x1b]0;owned\x07[bold red]x[/]"
    for args in (["annotate", sid, "@SUM(1) \x1b[2J<script>alert(1)</script>", "--turn", "2"],
                 ["correct", sid, "--turn", "2", "--code", "SR"], ["rate", sid, "--item", "empathy", "--score", "2"],
                 ["review", sid, "--done"]):
        result = cli("sessions", *args, "--author", author)
        assert result.exit_code == 0 and "\x1b" not in result.output and "\x07" not in result.output
    shown = cli("sessions", "show", sid).output
    assert "\x1b" not in shown and "<script>" not in shown and "&lt;script&gt;" in shown
    assert "[bold red]x[/]" in shown.replace("\\", "")  # shown as written, not as markup
    rows = list(csv.reader(io.StringIO(cli("sessions", "export", sid, "--format", "csv").output)))
    out = tmp_path / "c.csv"
    cli("export", "corrections", "-o", str(out))
    rows += list(csv.reader(io.StringIO(out.read_text())))
    cells = [c for row in rows for c in row]
    assert any("calc" in c for c in cells)
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r")) or "\x1b" in c]


def test_a_database_from_before_reviews_gains_them(tmp_path, monkeypatch):
    """A database written before m004_review opens with its sessions intact and reviewable."""
    from simtrainer.storage import Store, migrations

    path = tmp_path / "old.db"
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:3])
    old = Store(path)
    sid = old.create_session(scenario_id="mi-alcohol-nurse", scenario_title="t", modality="mi", model="fake",
                             trainee="")
    old.add_turn(sid, "patient", "Hello.")
    old.end_session(sid, None)
    old.close()
    columns = [row[1] for row in sqlite3.connect(path).execute("pragma table_info(sessions)")]
    assert "owner" in columns and "reviewed_at" not in columns
    monkeypatch.undo()
    store = Store(path)
    assert store.get_session(sid)["reviewed_at"] is None
    store.add_correction(sid, 0, "mi", "neutral", author="ann")
    store.mark_reviewed(sid, "ann")
    assert store.get_session(sid)["reviewed_by"] == "ann" and store.corrections(sid)[0]["code"] == "neutral"


async def test_the_app_review_screen_numbers_turns_and_shows_notes_at_them(cli, practise, monkeypatch):
    from simtrainer.config import load_settings
    from simtrainer.ui.app import make_app
    from simtrainer.ui.screens.history import ReviewScreen
    from simtrainer.ui.widgets.transcript import TurnBubble

    sid = practise()
    cli("sessions", "annotate", sid, "Lovely reflection.", "--turn", "4", "--author", "ann")
    monkeypatch.setenv("SIMTRAINER_SPEECH__ENABLED", "false")
    app = make_app(load_settings(), model="fake")
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(ReviewScreen(sid))
        await pilot.pause()
        children = list(app.screen.query_one("#review").children)
        bubbles = [c for c in children if isinstance(c, TurnBubble)]
        assert len(bubbles) == 7
        note = app.screen.query(".note").first()
        assert children.index(note) == children.index(bubbles[3]) + 1  # right after turn 4
        text = " ".join(str(w.render()) for w in bubbles[3].query("Static"))
        assert "4 · Trainee" in text and "Note (ann): Lovely reflection." in str(note.render())


def test_csv_export_has_the_notes_summary_and_session_as_rows_of_their_section(cli, practise):
    sid = practise(trainee="Ann")
    cli("sessions", "annotate", sid, "Lovely reflection.", "--turn", "4", "--author", "bob")
    cli("sessions", "annotate", sid, "=SUM(1) overall", "--author", "bob")
    cli("sessions", "correct", sid, "--turn", "2", "--code", "SR", "--author", "bob")
    rows = list(csv.DictReader(io.StringIO(cli("sessions", "export", sid, "--format", "csv").output)))
    sections = [r["section"] for r in rows]
    assert sections == sorted(sections, key=["turn", "note", "summary", "summary as reviewed", "session"].index)
    assert {r["session_id"] for r in rows} == {sid}
    notes = [r for r in rows if r["section"] == "note"]
    assert [(n["turn"], n["text"], n["author"]) for n in notes] == [
        ("4", "Lovely reflection.", "bob"), ("", "'=SUM(1) overall", "bob")]  # csv_cell: no formula
    data = record(cli, sid)
    for section, summary in (("summary", data["session"]["summary"]), ("summary as reviewed", data["reviewed"])):
        mi = summary["rubrics"]["mi"]
        rq = next(r for r in rows if r["section"] == section and r["measure"] == "R:Q")
        assert rq["table"] == "Motivational Interviewing (MITI 4.2.1)" and rq["value"] == ("'-" if mi["rq"] is None else f"{mi['rq']:.2f}")
        assert rq["mark"] == mi["rq_band"] and rq["scorers"] == mi["scorer"]
    assert data["reviewed"]["rubrics"]["mi"]["rq"] != data["session"]["summary"]["rubrics"]["mi"]["rq"]
    session = {r["measure"]: r["value"] for r in rows if r["section"] == "session"}
    assert session["trainee"] == "Ann" and session["status"] == "ended"
    assert session["scenario"] == "Wine after night shifts (mi-alcohol-nurse)"


def test_a_supervisor_reads_where_a_reply_came_from_in_plain_words():
    from simtrainer.review.export import state_text

    state = {"openness": 0.5, "resistance": 0.25, "stage": "contemplation", "leaning": "neutral", "requested": False}
    mi = state_text({"state": state, "source": "card:change"})
    assert mi.endswith("contemplation, leaning neutral; reply: a card line (towards change)") and "card:" not in mi
    other = state_text({"state": state, "source": "card:sustain"}, "dearman")
    assert other.endswith("not asked yet, leaning undecided; reply: a card line (towards no)")
    assert state_text({"state": state, "source": "model"}).endswith("reply: the model's own words")
