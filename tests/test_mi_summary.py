"""MITI summary arithmetic on hand-made turn lists, with exact expected values."""

from simtrainer.feedback.base import Code, TurnView
from simtrainer.feedback.mi.summary import band, miti_summary
from simtrainer.rubrics import load_rubric

RUBRIC = load_rubric("mi")


def trainee(*codes: str, detail: str = "") -> TurnView:
    return TurnView("trainee", "x", [Code("mi", c, c, 0.9, detail if c == "Q" else "") for c in codes])


def patient(talk: str) -> TurnView:
    return TurnView("patient", "y", [Code("mi", talk, talk, 0.9)])


def test_counts_ratios_and_adherence():
    turns = [
        patient("neutral"),
        trainee("Q", detail="open"),
        patient("change"),
        trainee("SR"),
        patient("sustain"),
        trainee("CR"),
        patient("change"),
        trainee("CR", "AF"),
        patient("change"),
        trainee("Q", detail="closed"),
        patient("neutral"),
        trainee("PERSUADE"),
        patient("sustain"),
        trainee("CONFRONT"),
        trainee("SEEK", "AUTO"),
    ]
    s = miti_summary(turns, RUBRIC)
    assert s["counts"]["Q"] == 2 and s["counts"]["SR"] == 1 and s["counts"]["CR"] == 2
    assert (s["questions_open"], s["questions_closed"]) == (1, 1)
    assert s["reflections"] == 3
    assert s["rq"] == 1.5 and s["rq_band"] == "fair"
    assert s["pct_cr"] == 0.667 and s["pct_cr_band"] == "good"
    assert s["mi_adherent"] == 3  # AF + SEEK + AUTO
    assert s["mi_non_adherent"] == 2  # PERSUADE + CONFRONT
    assert s["client_talk"] == {"change": 3, "sustain": 2, "neutral": 2}
    g = s["globals_estimate"]
    # 8 trainee turns; evoking = open Q 1 + CR 2 + AF 1 = 4 -> 4/8/0.6 -> 0.833; change share 3/5
    assert g["cultivating_change_talk"] == round(1 + 4 * (0.6 * (4 / 8 / 0.6) + 0.4 * 0.6), 1) == 4.0
    # non-adherent rate 2/8/0.2 -> 1.0 (clamped)
    assert g["softening_sustain_talk"] == round(1 + 4 * (0.6 * 0 + 0.4 * 0.6), 1) == 2.0
    assert g["partnership"] == round(1 + 4 * (0.4 * 1 + 0.3 * 0.75 + 0.3 * 0), 1) == 3.5
    assert g["empathy"] == round(1 + 4 * (0.6 * (3 / 8 / 0.5) + 0.4 * 0.667), 1) == 3.9
    assert s["relational"] == 3.7 and s["relational_band"] == "fair"
    assert s["technical"] == 3.0 and s["technical_band"] == "fair"


def test_no_questions_and_no_reflections():
    s = miti_summary([trainee("GI"), trainee("NEUTRAL")], RUBRIC)
    assert s["rq"] is None and s["rq_band"] == "n/a"
    assert s["pct_cr"] is None and s["pct_cr_band"] == "n/a"
    assert s["mi_adherent"] == 0 and s["mi_non_adherent"] == 0
    only_reflections = miti_summary([trainee("SR"), trainee("SR")], RUBRIC)
    assert only_reflections["rq"] is None and only_reflections["rq_band"] == "good"
    assert only_reflections["pct_cr"] == 0.0 and only_reflections["pct_cr_band"] == "below fair"


def test_bands_follow_the_rubric_thresholds():
    th = RUBRIC.thresholds
    assert (th["rq"].fair, th["rq"].good, th["pct_cr"].fair, th["pct_cr"].good) == (1.0, 2.0, 0.4, 0.5)
    assert (th["relational"].fair, th["relational"].good, th["technical"].fair, th["technical"].good) == (
        3.5, 4.0, 3.0, 4.0)
    assert band(2.0, 1.0, 2.0) == "good" and band(1.99, 1.0, 2.0) == "fair" and band(0.5, 1.0, 2.0) == "below fair"


def test_a_short_session_says_its_globals_are_a_rough_sign():
    short = miti_summary([trainee("Q", detail="open"), patient("change")], RUBRIC)["note"]
    assert "With 1 of your turns" in short
    long = miti_summary([trainee("SR")] * 10, RUBRIC)["note"]
    assert "rough sign" not in long and long.startswith("Globals are estimates")


def test_the_next_step_tip_follows_the_weakest_part():
    from collections import Counter

    from simtrainer.feedback.mi.summary import _tip
    from simtrainer.rubrics import load_rubric

    th = load_rubric("mi").thresholds
    assert "ask before you offer advice" in _tip(1, 2.0, 0.6, 1, Counter(), th)  # pushing comes first
    assert "reflection for each question" in _tip(0, 0.2, 0.6, 1, Counter(), th)
    assert "reflection for each question" not in _tip(0, None, 1.0, 0, Counter(), th)  # reflections, no question
    assert "name the feeling" in _tip(0, 1.5, 0.1, 1, Counter(), th)
