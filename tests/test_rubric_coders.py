"""Rubrics as data, the DEAR MAN coder and the CTRS scorer: contracts, evaluation, sessions end to end."""

import csv
import json

import pytest

from simtrainer.errors import UserError
from simtrainer.feedback.base import TurnView
from simtrainer.feedback.ctrs.data import ITEMS
from simtrainer.feedback.ctrs.scorer import load_ctrs_scorer
from simtrainer.feedback.dearman.coder import load_dearman_coder
from simtrainer.rubrics import parse_rubric


def test_rubrics_list_json_contract(cli):
    listing = {r["id"]: r for r in json.loads(cli("rubrics", "list", "--json").stdout)}
    assert set(listing) == {"mi", "dearman", "ctrs"}
    ctrs = listing["ctrs"]
    assert ctrs["competence_threshold"] == 40 and isinstance(ctrs["competence_threshold"], int)
    assert len(ctrs["items"]) == 11 and all(i["max"] == 6 for i in ctrs["items"]) and ctrs["total_max"] == 66
    assert [i["id"] for i in listing["dearman"]["items"]] == [
        "describe", "express", "assert", "reinforce", "mindful", "appear_confident", "negotiate"]
    assert {"id", "name", "max"} == set(listing["mi"]["items"][0])


def test_broken_rubric_file_names_file_and_field(tmp_path):
    path = tmp_path / "ctrs.toml"
    path.write_text('id = "ctrs"\nname = "x"\ndescription = "y"\n[[items]]\nid = "agenda"\nname = "Agenda"\n'
                    'max = "six"\ndescription = "d"\n')
    with pytest.raises(UserError) as info:
        parse_rubric(path)
    assert "items.0.max" in info.value.what and info.value.where == str(path)


def test_dearman_codes_with_evidence_and_tip():
    coder = load_dearman_coder()
    text = ("The heating has been off for nine days. I'm worried about getting ill. "
            "I need it repaired by Friday.")
    codes = {c.code: c for c in coder.code(text)}
    assert {"describe", "express", "assert", "appear_confident"} <= set(codes)
    assert '"I need it repaired by Friday."' in codes["assert"].reason
    hedged = {c.code for c in coder.code("Sorry, um, maybe the heating could be looked at, if that's okay?")}
    assert "appear_confident" not in hedged
    summary = coder.summarize([TurnView("trainee", text, coder.code(text))])
    assert summary["checklist"]["assert"] and not summary["checklist"]["reinforce"]
    assert summary["tip"].startswith("You used describe, express, assert") and "reinforce" in summary["tip"]


def test_eval_dearman_default_and_own_file(cli, tmp_path):
    report = json.loads(cli("eval", "dearman", "--json").stdout)
    assert set(report) >= {"macro_f1", "per_skill_f1"} and report["n"] >= 100
    assert report["macro_f1"] >= 0.75
    own = tmp_path / "mine.csv"
    with own.open("w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["utterance", "skills"])
        w.writerow(["I need the report by Monday.", "assert|appear_confident"])
        w.writerow(["Hello there.", ""])
    assert json.loads(cli("eval", "dearman", str(own), "--json").stdout)["n"] == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("utterance,skills\nHi,charm\n")
    result = cli("eval", "dearman", str(bad))
    assert result.exit_code == 2 and "Unknown skill 'charm' on line 2" in result.output


# The issue's near-misses (kept out of the training corpus) and two lines of the same kinds written for the test.
THREAT = "I'll just report you to the council."
HOLDING_FIRM = "I need it working by Friday at the latest, whatever happens."
OFFER = "If Friday's impossible, could you do Monday morning? I'll be home all day to let you in."
FACTS = "The washing machine has been broken since the 3rd of March and the engineer hasn't come."


def test_dearman_near_misses_from_the_issue():
    coder = load_dearman_coder()
    threat = {c.code: c for c in coder.code(THREAT)}
    assert "threat" in threat and "reinforce" not in threat
    assert threat["threat"].label == "Threat" and threat["threat"].reason.startswith("Threat: ")
    firm = {c.code for c in coder.code(HOLDING_FIRM)}
    assert "negotiate" not in firm and "assert" in firm
    assert "negotiate" in {c.code for c in coder.code(OFFER)}
    facts = {c.code for c in coder.code(FACTS)}
    assert "describe" in facts and "express" not in facts


def test_dearman_summary_counts_a_threat_apart_and_it_hardens_the_counterpart():
    from simtrainer.patient.state import PatientState
    from simtrainer.review.summary_view import VIEWS

    coder = load_dearman_coder()
    turns = [TurnView("trainee", FACTS, coder.code(FACTS)), TurnView("patient", "Not my problem."),
             TurnView("trainee", THREAT, coder.code(THREAT))]
    summary = coder.summarize(turns)
    assert summary["hardening"]["threat"] == [3] and summary["hardening_total"] == 1
    assert "threat" not in summary["checklist"] and summary["skills_total"] == 7
    assert summary["skills_shown"] == sum(summary["checklist"].values())
    assert "threat" in summary["tip"]
    rows = VIEWS["dearman"](summary).rows
    assert ["Threat, insult, ultimatum (hardens them)", "threat at 3"] in rows
    calm = PatientState.start("moderate", awaits_request=True)
    threatened = calm.after([c.code for c in turns[2].codes], [""] * len(turns[2].codes), "moderate")
    assert threatened.resistance > calm.resistance and threatened.openness < calm.openness


def test_eval_dearman_reads_situation_columns_and_scores_flags(cli, tmp_path):
    own = tmp_path / "situations.csv"
    with own.open("w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["situation", "relationship", "register", "utterance", "skills", "flag"])
        w.writerow(["plumber", "customer", "spoken", THREAT, "", "threat"])
        w.writerow(["plumber", "customer", "spoken", FACTS, "describe", ""])
        w.writerow(["plumber", "customer", "email", OFFER, "negotiate", ""])
        w.writerow(["plumber", "customer", "curt", HOLDING_FIRM, "assert; appear confident", ""])
    report = json.loads(cli("eval", "dearman", str(own), "--json").stdout)
    assert report["n"] == 4 and set(report["per_skill_f1"]) == {
        "describe", "express", "assert", "reinforce", "mindful", "appear_confident", "negotiate"}
    assert report["per_skill"]["describe"]["gold"] == 1 and report["per_skill"]["appear_confident"]["gold"] == 1
    assert report["flags"]["threat"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "gold": 1, "predicted": 1}
    assert report["flags"]["any"]["recall"] == 1.0 and report["flags"]["insult"]["gold"] == 0
    shown = cli("eval", "dearman", str(own)).output
    assert "macro-F1" in shown and "threat" in shown and "precision" in shown
    own.write_text("utterance,skills,flag\nGet lost,,rudeness\n")
    result = cli("eval", "dearman", str(own))
    assert result.exit_code == 2 and "Unknown flag 'rudeness' on line 2" in result.output


def test_ctrs_scores_items_with_evidence():
    scorer = load_ctrs_scorer()
    turns = ["What would you like to put on the agenda today?", "Go on.",
             "What went through your mind just before you left?", "For homework, could you try one thought record?"]
    views = [TurnView("trainee", t, scorer.code(t)) for t in turns]
    summary = scorer.summarize(views)
    assert set(summary["items"]) == set(ITEMS) and summary["max"] == 66
    assert summary["indicators"]["agenda_set"] and summary["indicators"]["homework_agreed"]
    assert summary["items"]["agenda"]["evidence"] == [1] and summary["items"]["agenda"]["score"] >= 2
    assert summary["total"] == sum(v["score"] for v in summary["items"].values())
    assert summary["competent"] is (summary["total"] >= 40)


def test_eval_ctrs_default_and_own_file(cli, tmp_path):
    report = json.loads(cli("eval", "ctrs", "--json").stdout)
    assert set(report) >= {"total_r", "item_mae", "competence_accuracy"} and report["total_r"] >= 0.70
    session = {"id": "x", "trainee_turns": ["What shall we put on the agenda?", "Any homework ideas?"],
               "scores": dict.fromkeys(ITEMS, 1)}
    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps([session, {**session, "scores": dict.fromkeys(ITEMS, 3)}]))
    assert json.loads(cli("eval", "ctrs", str(mine), "--json").stdout)["n"] == 2
    mine.write_text(json.dumps([{"trainee_turns": []}]))
    assert cli("eval", "ctrs", str(mine)).exit_code == 2


def test_headless_dearman_and_cbt_sessions_end_with_their_rubric(cli, tmp_path):
    script = tmp_path / "dm.txt"
    script.write_text("You've been on voice chat until two most nights.\nPlease keep the noise down after eleven.\n")
    data = json.loads(cli("practice", "-s", "dearman-roommate-noise", "--script", str(script), "--json", "-m",
                          "fake").stdout)
    dm = data["summary"]["rubrics"]["dearman"]
    assert dm["checklist"]["describe"] and dm["checklist"]["assert"] and dm["tip"]
    assert dm["scorer"].startswith("dearman-coder")
    script.write_text("What would you like to put on the agenda today?\nWhat went through your mind?\n")
    data = json.loads(cli("practice", "-s", "cbt-seminar-anxiety", "--script", str(script), "--json", "-m",
                          "fake").stdout)
    ctrs = data["summary"]["rubrics"]["ctrs"]
    assert len(ctrs["items"]) == 11 and ctrs["max"] == 66 and "competent" in ctrs
    md = cli("sessions", "export", data["session_id"], "--format", "md").output
    assert "ctrs-scorer" in md


def test_bench_coder_reports_each_rubric(cli):
    data = json.loads(cli("bench", "coder", "--rounds", "1", "--json").stdout)
    assert {"mi", "mi_client_talk", "dearman", "ctrs"} <= set(data["rubrics"])
    assert all(r["p95_ms"] > 0 for r in data["rubrics"].values())


def test_llm_judge_through_the_backend_seam(cli, home):
    from simtrainer.config import config_file, load_settings
    from simtrainer.feedback.llm_judge import LLMJudge
    from simtrainer.feedback.registry import coders_for
    from simtrainer.llm.fake import FakeBackend
    from simtrainer.rubrics import load_rubric
    from simtrainer.scenarios import get_card

    fake = FakeBackend(['{"items": ["assert", "not-a-skill"], "evidence": "I need it by Friday", "level": 4}'])
    judge = LLMJudge(load_rubric("dearman"), fake, load_dearman_coder().summarize)
    codes = judge.code("I need it by Friday.", "What is it?")
    assert [c.code for c in codes] == ["assert"] and codes[0].scorer.startswith("llm-judge (fake")
    assert "Friday" in fake.prompts[0] and "describe:" in fake.prompts[0]
    assert judge.summarize([TurnView("trainee", "x", codes)])["checklist"]["assert"]
    card = get_card("dearman-landlord-heating")
    assert [c.rubric for c in coders_for(card, load_settings(), fake)] == ["mi", "dearman"]
    assert coders_for(card, load_settings(), fake)[1].scorer.startswith("dearman-coder")
    config_file().parent.mkdir(parents=True)
    config_file().write_text('[feedback]\njudge = "llm"\n')
    assert isinstance(coders_for(card, load_settings(), fake)[1], LLMJudge)


@pytest.mark.model
def test_llm_judge_json_from_a_real_model_server(llama_server):
    from simtrainer.feedback.llm_judge import LLMJudge
    from simtrainer.llm.openai_compat import OpenAICompatBackend
    from simtrainer.rubrics import load_rubric

    backend = OpenAICompatBackend(llama_server, "smol", name="classroom")
    judge = LLMJudge(load_rubric("ctrs"), backend, load_ctrs_scorer().summarize)
    codes = judge.code("What would you like to put on the agenda today?")
    assert all(c.code in ITEMS and c.rubric == "ctrs" and 0 <= int(c.detail) <= 6 for c in codes)


def test_eval_with_the_llm_judge_on_the_configured_model(cli, home, tmp_path):
    from simtrainer.config import config_file

    config_file().parent.mkdir(parents=True)
    config_file().write_text('model = "fake"\n')
    own = tmp_path / "mine.csv"
    own.write_text("utterance,skills\nI need it by Friday.,assert|appear_confident\n")
    report = json.loads(cli("eval", "dearman", str(own), "--llm", "--json").stdout)
    assert report["n"] == 1 and report["per_skill_f1"]["assert"] == 0.0  # the fake judge finds nothing
    sessions = tmp_path / "s.json"
    sessions.write_text(json.dumps([{"trainee_turns": ["Agenda?"], "scores": dict.fromkeys(ITEMS, 2)},
                                    {"trainee_turns": ["Homework?"], "scores": dict.fromkeys(ITEMS, 4)}]))
    assert json.loads(cli("eval", "ctrs", str(sessions), "--llm", "--json").stdout)["n"] == 2


def test_a_practice_session_runs_with_the_llm_judge(cli, home, tmp_path):
    """The session passes each coder the trainee's earlier turn too; the judge takes it (it once crashed here)."""
    from simtrainer.config import config_file

    config_file().parent.mkdir(parents=True)
    config_file().write_text('model = "fake"\n[feedback]\njudge = "llm"\n')
    script = tmp_path / "turns.txt"
    script.write_text("I need the heating fixed by Friday.\nWould Thursday work for you?\n")
    data = json.loads(cli("practice", "-s", "dearman-landlord-heating", "--script", str(script), "--json").stdout)
    assert data["summary"]["rubrics"]["dearman"]["scorer"].startswith("llm-judge (fake")
    assert sum(1 for t in data["turns"] if t["speaker"] == "trainee") == 2


def test_a_dearman_csv_without_its_columns_is_named_with_the_fix(tmp_path):
    from simtrainer.feedback.dearman.data import read_labelled

    path = tmp_path / "labelled.csv"
    path.write_text("utterance,skill\nPlease fix the heating.,assert\n", encoding="utf-8")
    with pytest.raises(UserError) as info:
        read_labelled(path)
    assert info.value.what == "The CSV lacks the column skills." and info.value.where == str(path)
    assert "docs/validity.md" in info.value.fix
