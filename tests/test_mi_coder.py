"""The shipped MI coder: codes, eval on a CSV written here, broken artifacts, rules, wiring into sessions."""

import csv
import json
import shutil

import pytest

from simtrainer.errors import UserError
from simtrainer.feedback.mi import load_mi_coder
from simtrainer.feedback.mi.annomi import read_annomi
from simtrainer.feedback.mi.coder import default_model_dir
from simtrainer.feedback.mi.features import EARLIER_WORDS, PREV_WORDS, TUNED_START, question_features, tuned_pair
from simtrainer.feedback.mi.model import MICodeModel
from simtrainer.feedback.mi.rules import change_phrase, sustain_phrase

ROWS = [
    # transcript 0: a short exchange, labels as AnnoMI writes them
    ("0", 0, "therapist", "Hi, thanks for coming in. What brings you here today?", "question", "n/a", "open"),
    ("0", 1, "client", "My doctor says I need to cut down on drinking.", "n/a", "neutral", ""),
    ("0", 2, "therapist", "So your doctor is worried about how much you drink.", "reflection", "n/a", ""),
    ("0", 3, "client", "Yeah, and honestly I want to be healthier for my kids.", "n/a", "change", ""),
    ("0", 4, "therapist", "How many drinks do you have on a typical day?", "question", "n/a", "closed"),
    ("0", 5, "client", "I don't think it's a problem, I only drink beer.", "n/a", "sustain", ""),
    ("1", 0, "therapist", "Drinking more than two drinks a day raises blood pressure.", "therapist_input", "n/a", ""),
    ("1", 1, "client", "Okay.", "n/a", "neutral", ""),
    ("1", 2, "therapist", "Mm-hmm.", "other", "n/a", ""),
]


def write_simple(path):
    with path.open("w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["transcript_id", "mi_quality", "utterance_id", "interlocutor", "utterance_text",
                    "main_therapist_behaviour", "client_talk_type"])
        for tid, uid, who, text, main, talk, _ in ROWS:
            w.writerow([tid, "high", uid, who, text, main, talk])


def write_full(path):
    """Two annotators per utterance; on the first question they disagree 2:1 after a third row is added."""
    with path.open("w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["transcript_id", "utterance_id", "interlocutor", "utterance_text", "annotator_id",
                    "main_therapist_behaviour", "client_talk_type", "reflection_subtype", "question_subtype",
                    "therapist_input_subtype"])
        for tid, uid, who, text, main, talk, qsub in ROWS:
            rsub = "simple" if main == "reflection" else ""
            for annotator in (1, 2):
                w.writerow([tid, uid, who, text, annotator, main, talk, rsub, qsub, ""])
            if uid == 0 and tid == "0":
                w.writerow([tid, uid, who, text, 3, "reflection", talk, "complex", "", ""])


def test_codes_for_clear_behaviours():
    coder = load_mi_coder()
    # (v7: the learned head codes "What would you like to be different a year from now?" as Seek, the corpus'
    # reading of asking the client's own goals; a plainer open question stands in)
    q = coder.code("What has the drinking been like for you lately?", "I just feel stuck.")
    assert q[0].code == "Q" and q[0].detail == "open" and q[0].label == "Q open" and 0 < q[0].confidence <= 1
    closed = coder.code("Do you drink every day?", "I drink after work.")
    assert closed[0].code == "Q" and closed[0].detail == "closed"
    refl = coder.code("You're worried your kids are noticing.", "I don't want my kids to see me like that.")
    assert refl[0].code in ("SR", "CR")
    con = {c.code for c in coder.code("You're in denial, you need to stop drinking now.", "It's fine.")}
    assert "CONFRONT" in con
    assert any(c.code == "AF" for c in coder.code("It took real courage to come in today.", "I wasn't sure."))
    assert all(c.scorer == coder.scorer and c.reason for c in q + refl)


def test_question_cues_look_past_fillers_and_lead_ins():
    wh_head, aux_head, _, _, any_wh, _, tag, how_much, *_ = question_features("So, um, what brings you in today?")
    assert (wh_head, aux_head, any_wh, tag, how_much) == (1.0, 0.0, 1.0, 0.0, 0.0)
    cues = question_features("Okay. You mentioned work, and, uh, do you drink every day?")
    assert cues[0] == 0.0 and cues[1] == 0.0  # the lead-in clause "you mentioned work" heads the sentence
    assert cues[3] == 1.0 and cues[4] == 0.0  # the asking clause starts with an auxiliary; no wh-word
    assert question_features("You've been drinking more, is that right?")[6] == 1.0
    assert question_features("How often do you drink?")[7] == 1.0
    assert question_features("I hear you.")[11] == 0.0


def test_encoder_gives_every_layer_and_the_sentence_embedding():
    encoder = load_mi_coder().model.encoder
    layers = encoder.layers("You sound torn about this.")
    assert layers.shape == (7, 384)
    assert abs(float(layers[-1] @ encoder("You sound torn about this.")) - 1.0) < 1e-5
    assert abs(float(layers[0] @ layers[-1])) < 0.99  # lower layers carry something the last one does not


def test_patient_talk_codes():
    coder = load_mi_coder()
    change = coder.code_patient("I really want to quit so I can be there for my kids.", "Why now?")
    sustain = coder.code_patient("I'm not going to stop. Drinking is the only thing that helps me relax.",
                                 "What about cutting down?")
    assert change[0].code == "change" and change[0].label == "CT"
    assert sustain[0].code in ("sustain", "change", "neutral") and sustain[0].label in ("ST", "CT", "N")
    p_change = coder.model.probabilities("I really want to quit so I can be there for my kids.", "client")
    p_sustain = coder.model.probabilities("I'm not going to stop. Drinking is the only thing that helps me relax.",
                                          "client")
    assert p_sustain["client_talk_type"]["sustain"] > p_change["client_talk_type"]["sustain"]
    assert p_change["client_talk_type"]["change"] > p_sustain["client_talk_type"]["change"]



def test_confrontation_or_unasked_advice_is_coded_as_what_it_does():
    """MITI codes what an utterance does: a confrontation shaped like a reflection is Confront, not SR/CR. Since
    the learned head decides (v7), an utterance gets one code: "you're the one who decides" is Autonomy alone,
    where the rule-based coder added it beside a reflection."""
    coder = load_mi_coder()
    for text, code in (("You're in denial about how much you drink.", "CONFRONT"),
                       ("You need to quit before you get addicted.", "PERSUADE"),
                       ("Why can't you just say no to your friends?", "CONFRONT"),
                       ("You're the one who decides what, if anything, changes here.", "AUTO")):
        assert [c.code for c in coder.code(text, "I don't think it's that bad.")] == [code], text


def test_plain_refusals_are_sustain_talk():
    """Negated change verbs ("not going to stop") read as sustain, not as the change talk their words suggest."""
    coder = load_mi_coder()
    for line in ("I'm not going to stop drinking.", "I don’t want to do it, no sir.", "I don't have a problem."):
        code = coder.code_patient(line, "You need to stop drinking before your shifts.")[0]
        assert code.code == "sustain" and '"' in code.reason, (line, code)
        talk = coder.talk_probabilities(line, "You need to stop drinking before your shifts.")
        assert talk["sustain"] > talk["change"] and abs(sum(talk.values()) - 1) < 1e-6
    assert coder.code_patient("I want to cut down.", "What would you like to do?")[0].code == "change"
    assert sustain_phrase("What made you decide to stop?") is None
    assert sustain_phrase("I'm not willing to give it up") == "I'm not willing to give it up"


def test_plain_problem_recognition_is_change_talk():
    """Owning a problem or a worry is change talk; the same words in a question, negated or in someone else's mouth
    are not."""
    coder = load_mi_coder()
    for line in ("I think my drinking is a problem.", "I've been worried about how much I smoke."):
        code = coder.code_patient(line, "What do you make of it?")[0]
        assert code.code == "change" and '"' in code.reason, (line, code)
    for line in ("My sister thinks I have a problem.", "Is it really a problem if it's only wine?",
                 "It would be no problem at all.", "I don't think it's a problem."):
        assert change_phrase(line) is None, line
    for line in ("My sister thinks I have a problem.", "I don't think it's a problem."):
        assert coder.code_patient(line, "What do you make of it?")[0].code != "change", line


def test_eval_annomi_simple_and_full(cli, tmp_path):
    simple, full = tmp_path / "simple.csv", tmp_path / "full.csv"
    write_simple(simple)
    write_full(full)
    report = json.loads(cli("eval", "annomi", str(simple), "--json").stdout)
    assert set(report) == {"therapist_behaviour", "client_talk_type"}
    tb = report["therapist_behaviour"]
    assert set(tb) >= {"macro_f1", "accuracy", "per_class_f1"} and tb["n"] == 5
    assert report["client_talk_type"]["n"] == 4
    full_report = json.loads(cli("eval", "annomi", str(full), "--json").stdout)
    assert set(full_report) == {"therapist_behaviour", "client_talk_type", "reflection", "question"}
    assert full_report["question"]["n"] == 2 and full_report["reflection"]["n"] == 1
    text = cli("eval", "annomi", str(full)).output
    assert "macro-F1" in text and "therapist_behaviour" in text


def test_reader_and_tuned_input_carry_two_turns_of_context(tmp_path):
    """Each utterance knows the turn before it and the one before that, within its transcript only; the
    fine-tuned model reads them as "earlier | prev", cut to their last words."""
    path = tmp_path / "simple.csv"
    write_simple(path)
    by_id = {(u.transcript_id, u.utterance_id): u for u in read_annomi(path)[0]}
    third = by_id[("0", 2)]
    assert (third.prev, third.earlier) == (ROWS[1][3], ROWS[0][3])
    assert (by_id[("1", 0)].prev, by_id[("1", 1)].earlier) == ("", "")
    assert tuned_pair(third.text, third.prev, third.earlier) == (third.text, f"{ROWS[0][3]} | {ROWS[1][3]}")
    assert tuned_pair("Hi.", "", "") == ("Hi.", TUNED_START)
    long = " ".join(f"w{i}" for i in range(100))
    before, after = tuned_pair("Go on.", long, long)[1].split(" | ")
    assert before.split() == long.split()[-EARLIER_WORDS:] and after.split() == long.split()[-PREV_WORDS:]


def test_eval_annomi_rejects_other_csvs(cli, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    result = cli("eval", "annomi", str(path))
    assert result.exit_code == 2 and "lacks the AnnoMI column" in result.output


def test_code_cli_json(cli):
    data = json.loads(cli("code", "How do you feel about that?", "--context", "I drink a lot.", "--json").stdout)
    assert data["codes"][0]["code"] == "Q" and "confidence" in data["codes"][0]
    talk = json.loads(cli("code", "I want to cut down.", "--patient", "--json").stdout)
    assert talk["codes"][0]["code"] in ("change", "neutral", "sustain")


def test_missing_and_corrupt_artifact(tmp_path):
    with pytest.raises(UserError, match="missing or corrupt"):
        MICodeModel(tmp_path / "nothing")
    broken = tmp_path / "broken"
    shutil.copytree(default_model_dir(), broken, ignore=shutil.ignore_patterns("*.csv"))
    (broken / "encoder.onnx").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(UserError) as info:
        MICodeModel(broken)
    assert "encoder.onnx" in info.value.what and "train mi-coder" in info.value.fix
    (broken / "weights.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(UserError, match="weights.npz"):
        MICodeModel(broken)
    (broken / "meta.json").write_text("{not json")
    with pytest.raises(UserError, match="meta.json"):
        MICodeModel(broken)


def test_rules_eval_cli(cli):
    report = json.loads(cli("eval", "rules", "--json").stdout)
    assert report["dev"]["n"] >= 40 and report["test"]["n"] >= 40
    assert report["test"]["macro_f1"] >= 0.8
    talk = report["client_talk"]  # the coder's client talk on the project's plain patient lines
    assert talk["dev"]["n"] >= 20 and talk["test"]["n"] >= 20 and talk["test"]["macro_f1"] >= 0.7


def test_bench_coder_json(cli):
    data = json.loads(cli("bench", "coder", "--rounds", "1", "--json").stdout)
    assert data["p50_ms"] > 0 and data["p95_ms"] >= data["p50_ms"] and data["throughput_per_s"] > 0
    assert set(data["rubrics"]) >= {"mi"}


def test_practice_codes_every_trainee_turn(cli, tmp_path):
    script = tmp_path / "lines.txt"
    script.write_text("What brings you in today?\nYou're worried about your kids.\nYou need to stop drinking.\n")
    data = json.loads(cli("practice", "-s", "mi-alcohol-nurse", "--script", str(script), "--json", "-m",
                          "fake").stdout)
    trainee_turns = [t for t in data["turns"] if t["speaker"] == "trainee"]
    assert all(t["codes"] for t in trainee_turns)
    assert trainee_turns[0]["codes"][0]["code"] == "Q"
    assert "PERSUADE" in {c["code"] for c in trainee_turns[2]["codes"]}
    replies = [t for t in data["turns"][1:] if t["speaker"] == "patient"]
    assert all(t["codes"][0]["code"] in ("change", "sustain", "neutral") for t in replies)
    mi = data["summary"]["rubrics"]["mi"]
    assert mi["counts"]["Q"] == 1 and "globals_estimate" in mi and mi["scorer"].startswith("mi-coder")
    assert data["scorers"]["mi"] == mi["scorer"]
    md = cli("sessions", "export", data["session_id"], "--format", "md").output
    assert "codes: Q open" in md  # the badge label
    # the summary reads as tables, each measure against MITI's fair / good bands
    assert "| measure | value | against fair / good |" in md
    assert f"| R:Q | {mi['rq']:.2f} | {mi['rq_band']} |" in md and f"Scorer: {mi['scorer']}" in md
    text = cli("practice", "-s", "mi-alcohol-nurse", "--script", str(script), "-m", "fake").output
    assert "against fair / good" in text and "MI-adherent" in text and "{'" not in text
