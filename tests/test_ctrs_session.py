"""The whole-session CTRS scorer on the failure cases of issue 19: a reassuring lecture is not understanding,
filler turns do not raise the running total, poor and excellent sessions land far apart; `eval ctrs` on both
session formats."""

import json

import pytest

from simtrainer.feedback.base import TurnView
from simtrainer.feedback.ctrs.data import ITEMS
from simtrainer.feedback.ctrs.scorer import load_ctrs_scorer

LECTURE = [
    ("patient", "I had another panic attack in the supermarket on Saturday. I thought I was going to die."),
    ("trainee", "Your heart is fine, the tests were all normal. You just need to stop avoiding the supermarket."),
    ("patient", "I know what the tests said, but it doesn't feel like that when it happens."),
    ("trainee", "Panic can't hurt you. It's only adrenaline. The more you avoid, the worse it gets."),
    ("patient", "Okay."),
    ("trainee", "So go every day this week and don't leave early. You'll be fine, trust me."),
    ("patient", "Every day? I'm not sure I can."),
]

SKILLED = [
    ("trainee", "Shall we agree what to cover today? I'd like to hear how the café practice went and plan the next "
                "step. What would you want to add?"),
    ("patient", "The café, and I'd like to talk about Monday's meeting at work."),
    ("trainee", "Let's take the meeting first, since it's on your mind, then the café, and keep time to plan."),
    ("patient", "Fine. In the meeting my boss asked me a question and my face went hot and I mumbled."),
    ("trainee", "What went through your mind at the moment your face went hot?"),
    ("patient", "That everyone could see I'm useless and out of my depth."),
    ("trainee", "So in that moment it felt as if the blush was showing everyone a truth about you."),
    ("patient", "Yes, exactly. Like it gave me away."),
    ("trainee", "How much do you believe 'I'm useless' right now, from 0 to 100?"),
    ("patient", "About seventy."),
    ("trainee", "What do you know about how your work is actually seen? What fits the thought and what doesn't?"),
    ("patient", "My appraisal was good. I was asked to train the new starter. I suppose that doesn't fit."),
    ("trainee", "What do you make of that?"),
    ("patient", "Maybe going red and being useless aren't the same thing."),
    ("trainee", "Would you like to test that? For instance, speak once in Thursday's meeting and note what people "
                "actually do, compared with what you predict."),
    ("patient", "I could do that. I'll write the prediction down first."),
    ("trainee", "What might get in the way, and what could you do then?"),
    ("patient", "Losing my nerve. I'll remind myself about the appraisal."),
    ("trainee", "Before we finish, what are you taking away from today, and was anything unhelpful?"),
    ("patient", "That blushing isn't proof. It was helpful, I felt I worked it out myself."),
]

POOR = [
    ("trainee", "Hiya! Did you watch the match last night?"),
    ("patient", "No. I've been feeling really low."),
    ("trainee", "Oh, you missed a cracker. Anyway, everyone gets low sometimes, you just need to get out more."),
    ("patient", "I don't think you understand."),
    ("trainee", "Trust me, a bit of fresh air sorts most things out. Right, same time next week?"),
    ("patient", "Whatever."),
]

FILLERS = [("trainee", "Mm-hmm."), ("patient", "Yeah."), ("trainee", "Okay."), ("patient", "So, yeah."),
           ("trainee", "I see."), ("patient", "Mm."), ("trainee", "Right."), ("patient", "Yeah.")]


@pytest.fixture(scope="module")
def scorer():
    return load_ctrs_scorer()


def summary(scorer, turns):
    return scorer.summarize([TurnView(s, t) for s, t in turns])


def test_a_reassuring_lecture_is_not_understanding(scorer):
    s = summary(scorer, LECTURE)
    assert s["items"]["understanding"]["score"] <= 2
    assert s["items"]["guided_discovery"]["score"] <= 2
    assert s["total"] < 20 and not s["competent"]


def test_poor_and_excellent_sessions_land_far_apart_on_either_side_of_40(scorer):
    poor, good = summary(scorer, POOR), summary(scorer, SKILLED)
    assert poor["total"] < 40 <= good["total"]
    assert good["total"] - poor["total"] >= 25
    assert all(good["items"][i]["score"] >= poor["items"][i]["score"] for i in ITEMS)
    agenda = good["items"]["agenda"]
    assert 1 in agenda["evidence"] and agenda["score"] >= 4  # the agenda-setting turn is named as evidence


@pytest.mark.parametrize("turns", [SKILLED, LECTURE, POOR], ids=["skilled", "lecture", "poor"])
def test_filler_turns_do_not_raise_the_total(scorer, turns):
    before = summary(scorer, turns)["total"]
    middle = len(turns) // 2
    padded = turns[:middle] + FILLERS + turns[middle:] + FILLERS
    assert summary(scorer, padded)["total"] <= before


def test_the_running_total_does_not_climb_with_turn_count(scorer):
    """Live use: the estimate after each turn of neutral talk stays put instead of growing ~5 a turn."""
    totals = [summary(scorer, SKILLED[:4] + FILLERS[:n])["total"] for n in range(len(FILLERS) + 1)]
    assert max(totals) == totals[0]


def test_lecturing_lowers_understanding_and_guided_discovery(scorer):
    base = summary(scorer, SKILLED)["items"]
    lectured = summary(scorer, SKILLED[:8] + LECTURE[1:] + SKILLED[8:])["items"]
    for item in ("understanding", "guided_discovery"):
        assert lectured[item]["score"] < base[item]["score"]
    assert any(n > 8 for n in lectured["understanding"]["against"])  # a lecture turn is named as what lowered it


def test_no_trainee_turn_no_scores(scorer):
    s = summary(scorer, [("patient", "Hello?")])
    assert s["total"] == 0 and all(v["score"] == 0 for v in s["items"].values())


def _session(sid, turns, score):
    return {"id": sid, "turns": [{"speaker": "therapist" if s == "trainee" else s, "text": t} for s, t in turns],
            "scores": dict.fromkeys(ITEMS, score)}


def test_eval_ctrs_both_speaker_and_trainee_only_formats(cli, tmp_path):
    both = tmp_path / "both.json"
    both.write_text(json.dumps([_session("poor", POOR, 0), _session("lecture", LECTURE, 1),
                                _session("good", SKILLED, 5)]))
    report = json.loads(cli("eval", "ctrs", str(both), "--json").stdout)
    assert report["n"] == 3 and report["competence_agreement"] == "3/3" and report["total_r"] > 0.8
    assert set(report["per_item_mae"]) == set(ITEMS)
    low, high = report["predicted_total_range"]
    assert high - low >= 25 and report["rated_total_range"] == [0, 55]
    text = cli("eval", "ctrs", str(both)).output
    assert "3 sessions: total-score r" in text and "competence (>= 40) agreement 3/3" in text
    old = tmp_path / "old.json"
    old.write_text(json.dumps([{"id": "a", "trainee_turns": [t for s, t in SKILLED if s == "trainee"],
                                "scores": dict.fromkeys(ITEMS, 4)},
                               {"id": "b", "trainee_turns": [t for s, t in POOR if s == "trainee"],
                                "scores": dict.fromkeys(ITEMS, 0)}]))
    report = json.loads(cli("eval", "ctrs", str(old), "--json").stdout)
    assert report["n"] == 2 and report["predicted_total_range"][0] < report["predicted_total_range"][1]


@pytest.mark.parametrize("content, message", [
    ([{"id": "x", "turns": [{"speaker": "coach", "text": "Hi"}], "scores": dict.fromkeys(ITEMS, 1)}],
     "Session 0 (x): its turns must be"),
    ([{"id": "x", "turns": [], "scores": {**dict.fromkeys(ITEMS, 1), "agenda": 9}}], "not whole numbers 0-6"),
    ([{"id": "x", "turns": []}], "needs `turns` (or `trainee_turns`) and `scores`"),
    ({"turns": []}, "non-empty JSON list"),
])
def test_eval_ctrs_names_what_is_wrong_with_a_file(cli, tmp_path, content, message):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(content))
    result = cli("eval", "ctrs", str(bad))
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
