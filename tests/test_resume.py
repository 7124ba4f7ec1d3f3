"""Session lifecycle: interrupted sessions are marked and resumed with their state; unscored abandoned sessions."""

import json
import os
import subprocess
import sys

from conftest import run_cli

from simtrainer.config import PatientSettings
from simtrainer.events import CodesReady, PatientDone, ReplySaved
from simtrainer.feedback.base import Code
from simtrainer.llm.fake import FakeBackend
from simtrainer.patient.state import PatientState
from simtrainer.scenarios import get_card
from simtrainer.session import Session
from simtrainer.storage import Store


class LengthCoder:
    """Codes by length; counts the turns it has seen (a running picture, like the MI coder's tendency)."""

    rubric = "test"
    scorer = "length rule"

    def __init__(self):
        self.seen = []

    def code(self, text, context=None, earlier=None):
        self.seen.append(text)
        return [Code("test", "LONG" if len(text) > 20 else "SHORT", "L", 1.0, scorer=self.scorer)]

    def summarize(self, turns):
        return {"coded": sum(1 for t in turns if t.codes and t.speaker == "trainee")}


def test_state_round_trips_through_its_saved_form():
    state = PatientState.start("hard").after(["CR", "Q"], ["complex", "open"], "hard").with_disclosure("A secret.")
    assert PatientState.from_dict(json.loads(json.dumps(state.as_dict()))) == state


def test_a_session_without_a_trainee_turn_is_kept_unscored(tmp_path):
    store = Store(tmp_path / "s.db")
    session = Session(store, get_card("mi-alcohol-nurse"), FakeBackend(), coders=[LengthCoder()])
    assert session.end() is None
    row = store.get_session(session.id)
    assert row["status"] == "abandoned" and row["summary"] is None and row["ended_at"]


def test_practice_says_a_session_without_a_reply_is_not_scored(cli):
    result = cli("practice", "-s", "mi-alcohol-nurse", "-m", "fake", input="/end\n")
    assert result.exit_code == 0 and "not scored" in result.output
    listed = json.loads(cli("sessions", "list", "--json").stdout)
    assert listed[0]["status"] == "abandoned" and listed[0]["summary"] is None


def test_resume_restores_state_codes_the_lost_turn_and_answers_it(tmp_path):
    store = Store(tmp_path / "s.db")
    card = get_card("mi-alcohol-nurse")
    first = Session(store, card, FakeBackend(["I work nights."]), coders=[LengthCoder()],
                    patient_settings=PatientSettings())
    list(first.submit("What brings you in today, Dana?"))
    saved_state = first.state
    # killed between the trainee turn's two writes: its text is saved, its codes and reply are not
    store.add_turn(first.id, "trainee", "Nights are hard on you.")
    first.interrupt()
    assert store.get_session(first.id)["status"] == "interrupted"

    coder = LengthCoder()
    resumed = Session(store, card, FakeBackend(["They are, yes."]), coders=[coder], resume=first.id[-4:])
    assert resumed.id == first.id and resumed.state == saved_state and resumed.awaits_reply
    assert store.get_session(first.id)["status"] == "active"
    events = list(resumed.catch_up())
    assert isinstance(events[0], CodesReady) and events[0].codes[0].code == "LONG"
    assert coder.seen == ["What brings you in today, Dana?", "Nights are hard on you."]  # replayed in order
    assert [type(e) for e in events][-2:] == [PatientDone, ReplySaved]
    turns = store.turns(first.id)
    assert [t["speaker"] for t in turns] == ["patient", "trainee", "patient", "trainee", "patient"]
    assert [c["code"] for c in turns[3]["codes"]] == ["LONG"] and turns[4]["text"] == "They are, yes."
    expected = saved_state.after(["LONG"], [""], card.difficulty)
    assert turns[4]["meta"]["state"] == expected.as_dict()
    list(resumed.submit("What would you like to be different?"))
    assert resumed.end()["rubrics"]["test"]["coded"] == 3
    assert store.get_session(first.id)["status"] == "ended"


def test_resume_refusals_exit_2(cli, home, tmp_path):
    script = tmp_path / "lines.txt"
    script.write_text("What brings you in today?\n")
    sid = json.loads(cli("practice", "-s", "mi-alcohol-nurse", "--script", str(script), "-m", "fake",
                         "--json").stdout)["session_id"]
    cli("practice", "-s", "mi-alcohol-nurse", "-m", "fake", input="/end\n")
    abandoned = json.loads(cli("sessions", "list", "--json").stdout)[0]["id"]
    for args, message in [
        (["--resume", sid], "has ended"),
        (["--resume", abandoned], "nothing to resume"),
        (["--resume", "zzzz"], "No session"),
        (["--resume", sid, "-s", "mi-alcohol-nurse"], "either --scenario"),
        ([], "either --scenario"),
    ]:
        result = run_cli("practice", "-m", "fake", *args)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)
        assert "fix:" in result.stderr and "Traceback" not in result.stderr


def test_a_session_whose_process_exits_without_ending_is_interrupted(home):
    """Running: resume is refused and it stays active; once its process is gone, it is listed as interrupted."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys\nfrom simtrainer.storage import open_store\n"
         "s = open_store()\nsid = s.create_session(scenario_id='mi-alcohol-nurse', scenario_title='T', "
         "modality='mi', model='fake', trainee='')\ns.add_turn(sid, 'patient', 'Hello.')\n"
         "print(sid, flush=True)\nsys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env={**os.environ, "SIMTRAINER_HOME": str(home)},
    )
    assert child.stdout is not None and child.stdin is not None
    sid = child.stdout.readline().strip()
    result = run_cli("practice", "--resume", sid, "-m", "fake")
    assert result.returncode == 2 and f"pid {child.pid}" in result.stderr and "still running" in result.stderr
    child.stdin.close()
    child.wait(timeout=60)
    listing = run_cli("sessions", "list")
    assert sid in listing.stdout and "interrupted" in listing.stdout and "--resume" in listing.stdout
    resumed = run_cli("practice", "--resume", sid, "-m", "fake")  # no script: ends at end of input
    assert resumed.returncode == 0, resumed.stderr
    assert "Hello." in resumed.stdout and "not scored" in resumed.stdout  # still no trainee turn


def test_a_failing_turn_interrupts_and_the_session_resumes(home, tmp_path):
    script = tmp_path / "lines.txt"
    script.write_text("What brings you in today?\n" + "far too long " * 400 + "\n")
    result = run_cli("practice", "-s", "mi-alcohol-nurse", "--script", str(script), "-m", "fake")
    assert result.returncode == 2 and "limit" in result.stderr and "--resume" in result.stderr
    sid = json.loads(run_cli("sessions", "list", "--json").stdout)[0]
    assert sid["status"] == "interrupted" and sid["turn_count"] == 3
    script.write_text("It sounds like the shifts are exhausting.\n")
    resumed = run_cli("practice", "--resume", sid["id"], "--script", str(script), "-m", "fake", "--json")
    assert resumed.returncode == 0, resumed.stderr
    data = json.loads(resumed.stdout)
    assert [t["speaker"] for t in data["turns"]] == ["patient", "trainee", "patient", "trainee", "patient"]
    assert data["summary"]["trainee_turns"] == 2
