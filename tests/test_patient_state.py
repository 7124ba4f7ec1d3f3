"""Patient state, steering and the card checks: exact transitions, candidate choice, disclosures."""

import pytest

from simtrainer.config import PatientSettings
from simtrainer.events import PatientDone
from simtrainer.llm.fake import FakeBackend
from simtrainer.patient import Line, Patient
from simtrainer.patient.judge import contradictions, judge
from simtrainer.patient.lines import card_lines
from simtrainer.patient.state import PatientState
from simtrainer.scenarios import get_card


def test_start_values_by_difficulty():
    assert (PatientState.start("easy").openness, PatientState.start("easy").resistance) == (0.45, 0.25)
    assert (PatientState.start("hard").openness, PatientState.start("hard").resistance) == (0.25, 0.45)


def test_mi_consistent_codes_raise_openness_exactly():
    s = PatientState.start("moderate")  # 0.35 / 0.35, gain 0.75, sensitivity 0.8
    s = s.after(["CR"], [""], "moderate")
    assert (s.openness, s.resistance) == (0.425, 0.305)  # +0.10*0.75, -0.06*0.75
    assert s.last_push == 0.12 and s.leaning == "change"  # 0.12 + 3*0.12 = 0.48 > 0.1
    s = s.after(["Q", "AF"], ["open", ""], "moderate")
    assert (s.openness, s.resistance) == (0.522, 0.252)  # +0.05*0.75 +0.08*0.75; -0.02*0.75 -0.05*0.75
    assert s.stage == "preparation" and s.turns == 2


def test_confront_persuade_and_closed_runs_raise_resistance():
    s = PatientState.start("hard")  # 0.25 / 0.45, gain 0.5, sensitivity 1.0
    s = s.after(["CONFRONT"], [""], "hard")
    assert (s.openness, s.resistance) == (0.15, 0.7) and s.leaning == "sustain"
    s = s.after(["PERSUADE"], [""], "hard")
    assert (s.openness, s.resistance) == (0.1, 0.85)
    s = PatientState.start("easy").after(["Q"], ["closed"], "easy").after(["Q"], ["closed"], "easy")
    assert s.closed_run == 2 and s.resistance == 0.286  # 0.25 + 0.06*0.6*1
    s = s.after(["Q"], ["closed"], "easy")
    assert s.closed_run == 3 and s.resistance == 0.358  # + 0.06*0.6*2
    assert s.after(["SR"], [""], "easy").closed_run == 0


def test_stage_and_disclosure_threshold():
    s = PatientState(openness=0.7, resistance=0.2)
    assert s.stage == "action" and s.may_disclose
    assert PatientState(openness=0.3, resistance=0.45).stage == "contemplation"
    assert PatientState(openness=0.1, resistance=0.6).stage == "precontemplation"
    assert not PatientState(openness=0.7, resistance=0.4).may_disclose


def test_card_facts_and_judge():
    card = get_card("mi-alcohol-nurse")
    assert contradictions(card, "I'm unemployed right now.") == ["Dana works night shifts as an ICU nurse"]
    assert contradictions(card, "I don't have any kids, so it's fine.") == ["Dana has two children"]
    assert contradictions(card, "I drink a couple of glasses after work.") == []
    assert judge(card, "How does that make you feel?") == "counselor-style move"
    assert judge(card, "Sure! I'd be happy to explain.") == "assistant phrasing"
    assert judge(card, "Dana is tired of this.") == "talks about themself in the third person"
    assert judge(card, "I'm just tired, honestly.") is None
    assert judge(card, "Let's talk about your drinking.") == "counselor-style move"
    assert judge(card, "If that's the homework I won't do it. Let's talk about something else.") is None
    assert judge(card, "I'm just trying to pay my own bill, she says.").startswith("narrates as a storyteller")
    assert judge(card, "My sister says I'm fine. That's what she said.") is None  # quoting someone is speech


def _steered(card_id, replies, probs, state, **settings):
    card = get_card(card_id)
    scores = iter(probs)
    patient = Patient(card, FakeBackend(replies), PatientSettings(**settings),
                      talk_scorer=lambda text, ctx, before: next(scores))
    events = list(patient.reply([Line("patient", card.opening_line), Line("trainee", "Hm.")], state))
    return card, events[-1]


def test_steering_keeps_the_candidate_that_fits_the_leaning():
    state = PatientState(openness=0.6, resistance=0.3)  # leaning change, not yet disclosing
    probs = [{"change": 0.2, "neutral": 0.5, "sustain": 0.3}, {"change": 0.7, "neutral": 0.2, "sustain": 0.1}]
    _, done = _steered("mi-alcohol-nurse", ["I don't know.", "I want mornings with my kids back."], probs, state)
    assert isinstance(done, PatientDone) and done.text == "I want mornings with my kids back."
    assert done.meta["source"] == "model" and done.meta["target"] == "change"
    assert len(done.meta["candidates"]) == 2


def test_card_line_when_no_candidate_fits_and_contradictions_rejected():
    state = PatientState(openness=0.1, resistance=0.8)  # leaning sustain
    probs = [{"change": 0.8, "neutral": 0.1, "sustain": 0.1}] * 3
    card, done = _steered("mi-alcohol-nurse", ["I'm unemployed now.", "I will stop.", "Okay, I'll quit.",
                                                "I'll quit today."], probs, state)
    assert done.meta["rejected"][0].startswith("contradicts the card")
    assert done.meta["source"] == "card:sustain"
    assert done.text in {line.text for line in card_lines(card) if line.leaning == "sustain"}


def test_high_trust_brings_a_disclosure():
    card, done = _steered("mi-alcohol-nurse", ["Unused."], [], PatientState(openness=0.8, resistance=0.1))
    assert done.meta["source"] == "card:reveal" and done.text == card.reveal_when_trusted[0]


@pytest.mark.model
def test_confrontation_yields_more_sustain_talk_than_mi_with_the_real_model(tmp_path):
    """On at least one card, an MI-inconsistent script draws more sustain talk than an MI-consistent one."""
    from simtrainer.bench.scripts import MI_SCRIPTS
    from simtrainer.config import load_settings
    from simtrainer.workspace import Workspace

    workspace = Workspace(load_settings(seed=3))
    differences = []
    for card_id, scripts in MI_SCRIPTS.items():
        sustain = {}
        for kind, lines in scripts.items():
            session = workspace.new_session(workspace.card(card_id))
            for line in lines:
                list(session.submit(line))
            sustain[kind] = sum(c.code == "sustain" for codes in session.turn_codes[1:] for c in codes
                                if c.detail == "client talk")
            assert all(t["meta"]["state"] for t in workspace.store.turns(session.id)[2::2])
        differences.append(sustain["inconsistent"] - sustain["consistent"])
    assert max(differences) > 0, differences


def test_dearman_skills_and_guided_discovery_move_the_state():
    s = PatientState.start("moderate").after(["reinforce", "negotiate"], ["", ""], "moderate")
    assert (s.openness, s.resistance) == (0.47, 0.282)  # +0.16*0.75; 0.35 - 0.09*0.75 = 0.2825, rounded down
    c = PatientState.start("easy").after(["guided_discovery", "Q"], ["4", "open"], "easy")
    assert (c.openness, c.resistance) == (0.58, 0.2)  # +0.08 +0.05; -0.03 -0.02


def test_dearman_counterpart_does_not_give_in_before_being_asked():
    s = PatientState.start("easy", awaits_request=True).after(["AF"], [""], "easy")
    assert s.openness > s.resistance + 0.1 and s.leaning == "neutral"
    s = s.after(["assert", "reinforce"], ["", ""], "easy")
    assert s.requested and s.leaning == "change"
    asked = PatientState.start("easy", awaits_request=True).after(["describe", "express"], ["", ""], "easy")
    assert not asked.requested  # setting the scene is no request
    assert asked.after(["negotiate"], [""], "easy").requested  # offering terms is: the ask is on the table
