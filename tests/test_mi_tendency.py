"""The session prior: the counselor's earlier turns tilt the coding of their next one, the same way in
training's batch form and in a live session."""

import numpy as np
import pytest

from simtrainer.feedback.mi import load_mi_coder
from simtrainer.feedback.mi.tendency import Tendency, running_totals, tendencies, tilt

LABELS = ["question", "reflection", "therapist_input", "other"]
BASE = np.array([0.25, 0.25, 0.25, 0.25])


def test_no_history_leaves_probabilities_alone():
    tendency = Tendency(LABELS, BASE, smoothing=2.0, strength=0.5)
    probs = {"question": 0.1, "reflection": 0.4, "therapist_input": 0.35, "other": 0.15}
    assert tendency.observe(probs) == pytest.approx(probs)


def test_history_tilts_toward_what_the_speaker_has_been_doing():
    tendency = Tendency(LABELS, BASE, smoothing=2.0, strength=1.0)
    advice = {"question": 0.0, "reflection": 0.0, "therapist_input": 1.0, "other": 0.0}
    tendency.observe(advice)
    tendency.observe(advice)
    # prior = (total + base * 2) / (2 + 2) = (0.125, 0.125, 0.625, 0.125); tilt = prior / base
    q = tendency.observe({"question": 0.1, "reflection": 0.4, "therapist_input": 0.35, "other": 0.15})
    raw = np.array([0.1 * 0.5, 0.4 * 0.5, 0.35 * 2.5, 0.15 * 0.5])
    assert [q[k] for k in LABELS] == pytest.approx(list(raw / raw.sum()))
    assert max(q, key=q.get) == "therapist_input"
    assert tendency.count == 3


def test_batch_form_matches_a_live_session():
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(4), size=12)
    transcripts = ["a"] * 7 + ["b"] * 5
    speakers = ["therapist", "client"] * 6
    totals, counts = running_totals(transcripts, speakers, probs, "therapist")
    batch = tilt(probs, totals, counts, BASE, 5.0, 0.75)
    live, current = [], None
    for i, tid in enumerate(transcripts):
        if tid != current:
            tendency, current = Tendency(LABELS, BASE, 5.0, 0.75), tid
        if speakers[i] == "therapist":
            q = tendency.observe(dict(zip(LABELS, probs[i], strict=True)))
            live.append([q[k] for k in LABELS])
    batch = batch[[i for i, who in enumerate(speakers) if who == "therapist"]]
    assert np.allclose(batch, live)


def test_a_session_of_advice_tilts_an_ambiguous_turn_toward_input():
    """The AnnoMI model's session prior (what `eval annomi` applies; since v7 the learned code head decides a
    session's codes without it)."""
    model = load_mi_coder().model
    line, context = "Some people find it helps to keep a drink diary.", "I don't know what to do about it."
    alone = model.probabilities(line, "therapist", context)["therapist_behaviour"]
    seen = tendencies(model.meta)
    assert set(seen) == {"therapist_behaviour"}
    for advice in ("You need to cut down to two drinks a night.", "You should stop drinking before your shifts.",
                   "The guideline is no more than fourteen units a week.", "You have to tell your doctor about this."):
        seen["therapist_behaviour"].observe(model.probabilities(advice, "therapist", context)["therapist_behaviour"])
    tilted = seen["therapist_behaviour"].observe(alone)
    assert tilted["therapist_input"] > alone["therapist_input"]
