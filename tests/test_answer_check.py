"""The answer check: pairs built from transcripts, the shipped cross-encoder, its use by the patient and its bench."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from conftest import run_cli

from simtrainer.config import PatientSettings
from simtrainer.errors import UserError
from simtrainer.events import PatientDone
from simtrainer.feedback.mi import load_mi_coder
from simtrainer.llm.fake import FakeBackend
from simtrainer.patient import Line, Patient
from simtrainer.patient.answer_data import make_pairs, read_sessions, split_by_transcript
from simtrainer.patient.answer_model import AnswerModel, default_folder, load_answer_model
from simtrainer.patient.relevance import AnswerCheck
from simtrainer.patient.state import PatientState
from simtrainer.scenarios import get_card

SESSION = [
    ("therapist", "What brings you to the clinic this week?"),
    ("client", "My wife made the appointment, to be honest with you."),
    ("therapist", "Mm-hmm."),
    ("client", "Yeah."),
    ("therapist", "So she is worried about how much you have been drinking lately."),
    ("client", "She worries about everything, that is just how she is."),
    ("therapist", "How many evenings a week would you say you have a drink?"),
    ("client", "Most of them, I suppose, five or six."),
    ("therapist", "And what do you like about those evenings?"),
    ("client", "It is the only time the house is quiet and I can think."),
    ("therapist", "Where would you like things to be in a year from now?"),
    ("client", "Honestly I would like to wake up without a headache for once."),
    ("therapist", "That sounds like something worth aiming for."),
    ("client", "Ok."),
]


@pytest.fixture(scope="module")
def answers():
    return AnswerCheck(load_mi_coder().model.encoder, load_answer_model())


def _write_annomi(path, sessions):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["transcript_id", "utterance_id", "interlocutor", "utterance_text"])
        for tid, utts in sessions.items():
            for uid, (speaker, text) in enumerate(utts):
                writer.writerow([tid, uid, speaker, text])


def test_pairs_take_the_next_client_turn_as_the_answer_and_never_a_short_one_as_a_non_answer(tmp_path):
    path = tmp_path / "annomi.csv"
    _write_annomi(path, {str(i): SESSION for i in range(6)})
    pairs = make_pairs(read_sessions(path), seed=3)
    positives = [p for p in pairs if p.label == 1]
    assert {(p.turn, p.reply) for p in positives} == {
        (SESSION[i][1], SESSION[i + 1][1]) for i in range(0, len(SESSION), 2) if SESSION[i][1] != "Mm-hmm."}
    negatives = [p for p in pairs if p.label == 0]
    assert len(negatives) == 2 * len(positives)
    assert all(len(p.reply.split()) >= 4 or p.kind == "echo" for p in negatives)
    assert "Mm-hmm." not in {p.turn for p in pairs}  # after an encourager any reply answers: no pairs from it
    train, val = split_by_transcript(pairs, seed=3)
    assert train and val and not {p.transcript for p in train} & {p.transcript for p in val}


def test_an_annomi_file_without_its_columns_is_refused(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("id,text\n1,hello\n", encoding="utf-8")
    with pytest.raises(UserError, match="lacks the AnnoMI columns interlocutor"):
        read_sessions(path)


@pytest.mark.parametrize("turn, answer, other", [
    ("What time does your shift start tomorrow?", "Six in the morning, same as always.",
     "My sister thinks I should sell the car."),
    ("You've had enough of people telling you what to do.", "Too right. I'm a grown man.",
     "The bus was late again this morning."),
    ("Would you be willing to keep a sleep diary this week?", "I suppose I could try that, yeah.",
     "I haven't seen my brother since Christmas."),
    ("How do your kids feel about the smoking?", "They hate it. My daughter hides my lighters.",
     "How can I help you today?"),
    ("Do you drive regularly?", "Most days, to work and back.", "Regular unleaded's gone up again."),
])
def test_the_shipped_answer_check_ranks_an_answer_over_a_reply_that_ignores_the_turn(answers, turn, answer, other):
    """Ranking is what the patient uses: among its candidates and its card lines' shortlist."""
    fit = answers.scores(turn, [answer, other])
    assert fit[0] > fit[1] and fit[0] >= answers.threshold


def test_after_an_encourager_any_reply_answers(answers):
    assert answers.scores("Mm.", ["The bus was late again this morning."])[0] >= answers.threshold
    assert answers.scores("What time does your shift start?", ["The bus was late again this morning."])[0] \
        < answers.threshold


def test_a_broken_answer_model_folder_says_how_to_rebuild_it(tmp_path):
    folder = tmp_path / "answer-check"
    shutil.copytree(default_folder(), folder)
    (folder / "answer.onnx").unlink()
    with pytest.raises(UserError, match="answer.onnx missing") as missing:
        AnswerModel(folder)
    assert "simtrainer train answer-check" in missing.value.fix
    shutil.copy(default_folder() / "answer.onnx", folder / "answer.onnx")
    (folder / "meta.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(UserError, match="could not be read"):
        AnswerModel(folder)


def test_the_steered_patient_ranks_candidates_by_the_answer_check(answers):
    card = get_card("mi-alcohol-nurse")
    turn = "What does a night off look like for you?"
    off_topic = "The hospital car park has been dug up for months."
    answering = "Sleep, mostly, and then the school run."
    probs = {"change": 0.4, "neutral": 0.3, "sustain": 0.3}
    patient = Patient(card, FakeBackend([off_topic, answering]), PatientSettings(), talk_scorer=lambda *_: probs,
                      answers=answers)
    history = [Line("patient", card.opening_line), Line("trainee", turn)]
    done = [e for e in patient.reply(history, PatientState(openness=0.5, resistance=0.3))
            if isinstance(e, PatientDone)][0]
    assert done.text == answering and done.meta["source"] == "model"
    first, second = done.meta["candidates"][:2]
    assert first["relevance"] < answers.threshold <= second["relevance"]


def test_bench_relevance_reports_both_checks_on_every_held_out_set():
    result = run_cli("bench", "relevance", "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert set(figures) == {"dev", "evaluation", "evaluation_other_settings", "evaluation_blind"}
    assert figures["evaluation_blind"]["answer_check"]["n"] >= 400
    for checks in figures.values():
        assert set(checks) == {"similarity", "answer_check"}
        for f in checks.values():
            assert 0.0 < f["accuracy"] <= 1.0 and set(f) >= {"precision", "recall", "f1", "threshold"}


def test_fine_tune_learns_the_written_pairs():
    """A short fine-tune on written pairs (the shared warm-up schedule and length batches of feedback/mi/tune.py)
    separates answers from non-answers it trained on better than chance, and predicts probabilities."""
    pytest.importorskip("torch")
    import random

    from simtrainer.feedback.mi import tune
    from simtrainer.feedback.mi.train import base_model_dir
    from simtrainer.patient.answer_data import read_written
    from simtrainer.patient.answer_train import fine_tune, predict

    pairs = read_written(default_folder() / "corpus")
    random.Random(1).shuffle(pairs)
    pairs = pairs[:96]
    batches = tune.length_batches(pairs, random.Random(0), 32, lambda p: len(p.turn) + len(p.reply))
    assert sorted(id(p) for b in batches for p in b) == sorted(id(p) for p in pairs)
    assert [len(b) for b in batches] == [32, 32, 32]

    model = fine_tune(pairs, base_model_dir(), epochs=10, log=lambda _m: None)
    probs = predict(model, base_model_dir(), [p.turn for p in pairs], [p.reply for p in pairs])
    assert probs.shape == (96,) and ((probs >= 0) & (probs <= 1)).all()
    labels = [p.label for p in pairs]
    answers = probs[[i for i, y in enumerate(labels) if y]].mean()
    others = probs[[i for i, y in enumerate(labels) if not y]].mean()
    assert answers > others + 0.1
