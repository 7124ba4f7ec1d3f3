import json
import os
import signal
import subprocess
import sys
import time

from simtrainer.config import PatientSettings, config_file
from simtrainer.events import CodesReady, PatientDone, PatientToken, ReplySaved, TraineeSaved
from simtrainer.feedback.base import Code
from simtrainer.llm.fake import FakeBackend
from simtrainer.scenarios import get_card
from simtrainer.session import Session
from simtrainer.storage import Store


class EchoLengthCoder:
    """A coder for logic tests: codes by length and records the context (and the turn before it) it was given."""

    rubric = "test"
    scorer = "length rule"

    def __init__(self):
        self.contexts = []

    def code(self, text, context=None, earlier=None):
        self.contexts.append((context, earlier))
        return [Code("test", "LONG" if len(text) > 20 else "SHORT", "L", 1.0, scorer=self.scorer)]

    def summarize(self, turns):
        return {"long": sum(1 for t in turns for c in t.codes if c.code == "LONG")}


def test_turn_order_saving_and_summary(tmp_path):
    store = Store(tmp_path / "s.db")
    coder = EchoLengthCoder()
    card = get_card("mi-diabetes-retiree")
    fake = FakeBackend(["I feel fine most days.", "Marge kept me on track."])
    session = Session(store, card, fake, coders=[coder], patient_settings=PatientSettings())
    events = list(session.submit("What brings you in today, Walter?"))
    kinds = [type(e) for e in events]
    assert kinds[0] is TraineeSaved and kinds[1] is CodesReady and kinds[-1] is ReplySaved
    assert kinds.index(CodesReady) < kinds.index(PatientToken) < kinds.index(PatientDone)
    assert coder.contexts == [(card.opening_line, None)]
    list(session.submit("Hm."))
    assert coder.contexts[1] == ("I feel fine most days.", "What brings you in today, Walter?")
    turns = store.turns(session.id)
    assert [t["speaker"] for t in turns] == ["patient", "trainee", "patient", "trainee", "patient"]
    assert turns[0]["text"] == card.opening_line and turns[2]["text"] == "I feel fine most days."
    assert [c["code"] for c in turns[1]["codes"]] == ["LONG"] and turns[3]["codes"][0]["code"] == "SHORT"
    summary = session.end()
    assert summary["rubrics"]["test"] == {"scorer": "length rule", "long": 1}
    saved = store.get_session(session.id)
    assert saved["status"] == "ended" and saved["summary"] == summary


def test_prompt_grows_append_only_for_cache_reuse(tmp_path):
    fake = FakeBackend()
    session = Session(Store(tmp_path / "s.db"), get_card("cbt-seminar-anxiety"), fake)
    for line in ["How was the week?", "What went through your mind?", "What did you do then?"]:
        list(session.submit(line))
    first, second, third = fake.prompts
    assert second.startswith(first) and third.startswith(second)


def test_sigkill_during_a_reply_keeps_every_completed_turn(tmp_path, home):
    config_file().parent.mkdir(parents=True)
    # a reply takes seconds, so even a busy machine kills it mid-stream
    config_file().write_text('model = "slow"\n[models.slow]\nbackend = "fake"\ntoken_delay_s = 0.2\n')
    script = tmp_path / "lines.txt"
    script.write_text("First line from the trainee.\nSecond line.\nThird line.\nFourth line.\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "simtrainer", "practice", "--scenario", "mi-alcohol-nurse", "--script", str(script)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "SIMTRAINER_HOME": str(home)},
        text=True,
    )
    db_path = home / "data" / "sessions.db"
    deadline = time.time() + 120  # generous: a busy machine starts slowly
    # wait until the second trainee turn is saved: its reply is now streaming
    while time.time() < deadline:
        if db_path.exists():
            store = Store(db_path)
            rows = store.db.execute("select speaker from turns order by id").fetchall()
            store.close()
            if [r[0] for r in rows].count("trainee") == 2:
                break
        time.sleep(0.02)
    time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    store = Store(db_path)
    session = store.list_sessions()[0]
    turns = store.turns(session["id"])
    assert [t["speaker"] for t in turns] == ["patient", "trainee", "patient", "trainee"]
    assert turns[3]["text"] == "Second line." and turns[2]["text"]
    assert session["status"] == "interrupted"  # its process is gone
    # the killed session can still be reviewed and exported
    from simtrainer.review.export import export

    assert json.loads(export(store, session["id"], "json"))["turns"][3]["text"] == "Second line."


def test_the_rubric_that_fits_scores_and_nothing_without_a_trainee_turn():
    """The scenario's rubric (the last coder) scores the session; the MI coder before it only codes turns (the
    patient's steering reads them). Without a trainee turn nothing is scored."""
    from simtrainer.feedback.base import TurnView
    from simtrainer.feedback.shown import shown_codes
    from simtrainer.session import score

    class Rubric(EchoLengthCoder):
        rubric = "dearman"

    views = [TurnView("patient", "Hello."), TurnView("trainee", "A long request about the heating.",
                                                     [Code("mi", "GI", "GI"), Code("dearman", "describe", "D")])]
    summary = score([EchoLengthCoder(), Rubric()], views)
    assert set(summary["rubrics"]) == {"dearman"} and summary["trainee_turns"] == 1
    assert score([EchoLengthCoder(), Rubric()], views[:1]) == {"trainee_turns": 0, "rubrics": {}}
    assert [c.code for c in shown_codes("dearman", views[1].codes)] == ["describe"]
    assert [c.code for c in shown_codes("mi", views[1].codes)] == ["GI", "describe"]
    q = {"rubric": "mi", "code": "Q", "detail": "open"}
    assert shown_codes("cbt", [q, {"rubric": "mi", "code": "PERSUADE"}, {"rubric": "mi", "code": "change"}]) == [q]
