"""Exercise packs in the app, driven with Pilot: open a pack from home, read its instructions, follow the goals,
stop at its turn limit, see a result per goal and hand in a bundle the instructor side verifies."""

from __future__ import annotations

import io
import json

import pytest
from conftest import REPO
from rich.console import Console
from test_tui import SIZE, send, settle

from simtrainer.classroom.bundle import read_bundle
from simtrainer.classroom.pack import load_pack
from simtrainer.config import load_settings
from simtrainer.ui.app import make_app
from simtrainer.ui.screens.exercise import ExerciseOverScreen, InstructionsScreen, OpenExerciseScreen
from simtrainer.ui.screens.history import HistoryScreen
from simtrainer.ui.screens.home import HomeScreen
from simtrainer.ui.screens.identity import NameScreen
from simtrainer.ui.screens.modals import ConfirmScreen, ErrorScreen
from simtrainer.ui.screens.practice import PracticeScreen
from simtrainer.ui.screens.summary import SummaryScreen
from simtrainer.ui.widgets.goals_panel import GoalsPanel
from simtrainer.ui.widgets.reply_input import ReplyInput

REFLECTIONS = [
    "It sounds like coming here was your sister's idea more than yours.",
    "You want your mornings with the kids to feel calmer.",
    "So the wine is how you come down after twelve hours of alarms.",
    "You're not sure it's a problem, and you're also wondering.",
    "You care a lot about being there for Leo.",
    "Part of you misses running.",
    "You've thought about this more than you let on.",
    "You'd like to feel more like yourself in the mornings.",
]


@pytest.fixture(autouse=True)
def no_speech(monkeypatch):
    monkeypatch.setenv("SIMTRAINER_SPEECH__ENABLED", "false")


async def open_shipped_pack(pilot, name: str = "mi-reflect-first") -> PracticeScreen:
    """From home: X, pick the example `name`, Enter; the instructions come first."""
    app = pilot.app
    await pilot.pause()
    assert isinstance(app.screen, HomeScreen)
    await pilot.press("x")
    await pilot.pause()
    picker = app.screen
    assert isinstance(picker, OpenExerciseScreen)
    options = picker.query_one("#examples")
    ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
    assert ids == ["cbt-agenda-and-feedback", "dearman-group-project", "mi-reflect-first"]
    options.highlighted = ids.index(name)
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(app.screen, InstructionsScreen)
    return app.screen_stack[-2]


async def begin(pilot, name: str = "mi-reflect-first") -> PracticeScreen:
    screen = await open_shipped_pack(pilot, name)
    await pilot.press("enter")  # read: start
    await settle(pilot)
    assert app_screen(pilot) is screen and screen.started is not None
    return screen


def text_of(widget) -> str:
    """What a Static shows, tables included, as plain text."""
    console = Console(width=100, file=io.StringIO(), record=True)
    console.print(widget.content)
    return console.export_text()


def app_screen(pilot):
    return pilot.app.screen


async def test_open_a_shipped_pack_follow_goals_stop_at_the_turn_limit_and_hand_in(home, cli):
    app = make_app(load_settings(), model="fake")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await open_shipped_pack(pilot)
        pack = screen.pack
        instructions = str(app.screen.query_one("#instructions").render())
        assert "Reflect before you ask" in instructions and "Dana's sister" in instructions
        assert "rq ≥ 1.0" in instructions and "ends after 8 turns" in instructions
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen and isinstance(app.focused, ReplyInput)
        assert "Dana's sister" in str(screen.query_one("#exercise-brief").render())  # kept beside the talk
        goals = screen.query_one(GoalsPanel)
        assert [r["key"] for r in goals.results] == [g.key for g in pack.goals]
        assert not any(r["met"] for r in goals.results) and goals.border_subtitle == "turn 0 of 8"

        await send(pilot, REFLECTIONS[0])
        by_key = {r["key"]: r for r in goals.results}
        assert goals.turns == 1 and goals.border_subtitle == "turn 1 of 8"
        assert by_key["mi_non_adherent_max"]["value"] == 0 and by_key["mi_non_adherent_max"]["met"]
        assert isinstance(by_key["counts.SR_min"]["value"], int)  # a figure so far, not "–"
        first = [dict(r) for r in goals.results]
        await send(pilot, "What do you make of her worry?")
        assert goals.turns == 2 and goals.results != first  # refreshed after the coded turn
        assert {r["key"]: r for r in goals.results}["rq_min"]["value"] is not None

        for line in REFLECTIONS[1:6]:
            await send(pilot, line)
        assert isinstance(app.screen, PracticeScreen) and not screen.stopped
        await send(pilot, REFLECTIONS[6])  # the 8th turn: the limit
        assert screen.stopped == "the exercise ends after 8 of your turns"
        box = screen.query_one("#reply", ReplyInput)
        assert box.read_only and "Locked" in str(box.border_title)
        assert isinstance(app.screen, ExerciseOverScreen) and "8 of your turns" in str(
            app.screen.query_one("Static").render())
        assert screen.session.ended
        stored = app.workspace.store.get_session(screen.session.id)
        assert stored["status"] == "ended" and stored["exercise"]["pack_sha256"] == pack.sha256
        assert sum(1 for t in app.workspace.store.turns(screen.session.id) if t["speaker"] == "trainee") == 8

        await pilot.press("enter")
        await settle(pilot)
        summary = app.screen
        assert isinstance(summary, SummaryScreen) and summary.stopped
        assert [r["key"] for r in summary.goals] == [g.key for g in pack.goals]
        table = text_of(summary.query_one("#goal-results"))
        assert "rq_min" in table and "mi_non_adherent_max" in table
        assert "Stopped: the exercise ends after 8" in str(summary.query_one("#exercise-result").render())
        assert summary.check_action("hand_in", ()) is True

        await pilot.press("s")  # no name saved: asked first
        await pilot.pause()
        assert isinstance(app.screen, NameScreen)
        name_box = app.screen.query_one("#name")
        name_box.value = "Ana López"
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is summary and summary.handed_in is not None
        path = summary.handed_in
        assert path.parent == app.hand_in_dir
        assert path.name == f"mi-reflect-first-Ana-López-{screen.session.id}.json"
        assert str(path) in str(summary.query_one("#hand-in").render())
        assert any(str(path) in n.message for n in app._notifications)
        bundle = read_bundle(path)
        assert bundle["trainee"] == "Ana López" and bundle["session"]["id"] == screen.session.id
        assert bundle["exercise"]["pack_sha256"] == pack.sha256 and bundle["goals_total"] == len(pack.goals)
        assert [g["met"] for g in bundle["goals"]] == [r["met"] for r in summary.goals]
        assert len([t for t in bundle["turns"] if t["speaker"] == "trainee"]) == 8
        assert app.workspace.settings.trainee == "Ana López"  # the name is kept for the next sessions

    out = path.parent / "from-cli.json"  # the CLI hands in an app session too
    result = cli("exercise", "submit", screen.session.id, "-o", str(out), "--trainee", "Ana López")
    assert result.exit_code == 0, result.output
    assert read_bundle(out)["goals_met"] == bundle["goals_met"]


async def test_a_bad_pack_path_shows_the_error_modal(home, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('id = "broken-pack"\ntitle = "Broken"\nmax_turns = 3\n', encoding="utf-8")
    app = make_app(load_settings(), model="fake")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for path, what in ((bad, "`instructions` is missing"), (tmp_path / "gone.toml", "no such exercise pack")):
            await pilot.press("x")
            await pilot.pause()
            app.screen.query_one("#pack-path").value = str(path)
            app.screen.query_one("#pack-path").focus()
            await pilot.press("enter")
            await settle(pilot)
            error = app.screen
            assert isinstance(error, ErrorScreen) and error.error_title == "Cannot open this exercise pack"
            assert what in error.what.lower() and str(path) in error.where and error.fix
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, HomeScreen)


async def test_a_pack_given_at_start_and_resumed_from_history_keeps_its_goals(home):
    """`simtrainer --exercise PACK` opens straight into it; quitting keeps it resumable, and History R brings back
    the pack's goals and limits."""
    settings = load_settings()
    pack = load_pack("dearman-group-project", settings)
    app = make_app(settings, model="fake", exercise=pack)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, InstructionsScreen)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PracticeScreen) and screen.card.id == "dearman-group-project"
        await send(pilot, "Sam, the slides were due Monday and I haven't got them. I need your draft by Wednesday.")
        sid = screen.session.id
        assert screen.query_one(GoalsPanel).turns == 1
    app = make_app(load_settings(), model="fake")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("h")
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PracticeScreen) and screen.resume == sid and screen.pack.id == pack.id
        assert not any(isinstance(s, InstructionsScreen) for s in app.screen_stack)  # beside the talk only
        goals = screen.query_one(GoalsPanel)
        assert goals.turns == 1 and {r["key"] for r in goals.results} == {g.key for g in pack.goals}
        assert screen.started is not None and screen.elapsed_s >= 0
        await send(pilot, "I feel let down and worried about Friday.")
        assert goals.turns == 2


async def test_the_pack_model_and_time_limit(home, tmp_path):
    """A pack naming its model switches the app to it; its time limit ends the session between turns."""
    pack_file = tmp_path / "quick.toml"
    pack_file.write_text('id = "quick"\ntitle = "Quick one"\ninstructions = "Say hello and reflect once."\n'
                         'scenario = "mi-alcohol-nurse"\ntime_limit_min = 1\nmodel = "fake"\n[goals]\nrq_min = 1\n',
                         encoding="utf-8")
    app = make_app(load_settings())  # the configured model, never loaded here
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.workspace.model_entry.name != "fake"
        app.load_exercise(pack_file)
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert app.workspace.model_name == "fake" and screen.session.store.get_session(screen.session.id)["model"] \
            == "fake"
        await send(pilot, "It sounds like coming here was your sister's idea.")
        await pilot.pause(1.5)
        assert screen.query_one(GoalsPanel).border_subtitle == "turn 1 · 1 min left"
        await pilot.press("f1")  # a modal open when the time is up is closed for the notice
        await pilot.pause()
        screen.started -= 61  # a minute passes
        await pilot.pause(1.5)
        await settle(pilot)
        assert screen.stopped == "the exercise's time limit of 1 minutes is up"
        assert isinstance(app.screen, ExerciseOverScreen) and screen.session.ended
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, SummaryScreen) and "time limit" in app.screen.stopped
        assert not any(isinstance(s, PracticeScreen) for s in app.screen_stack)


def test_simtrainer_exercise_refuses_a_bad_pack_and_a_subcommand(cli, tmp_path):
    result = cli("--exercise", str(tmp_path / "nope.toml"))
    assert result.exit_code == 2 and "no such exercise pack" in result.output
    result = cli("--exercise", "mi-reflect-first", "scenarios", "list")
    assert result.exit_code == 2 and "--exercise opens the app" in result.output


def test_snapshot_exercise_session(snap_compare, home, fixed_ids):
    async def run_before(pilot):
        await begin(pilot)
        await send(pilot, REFLECTIONS[0])
        await send(pilot, "What do you make of her worry?")

    assert snap_compare(make_app(load_settings(), model="fake"), terminal_size=SIZE, run_before=run_before)


def test_snapshot_exercise_summary(snap_compare, home, fixed_ids):
    async def run_before(pilot):
        await begin(pilot)
        await send(pilot, REFLECTIONS[0])
        await send(pilot, "What do you make of her worry?")
        await pilot.press("ctrl+e")
        await settle(pilot)

    assert snap_compare(make_app(load_settings(), model="fake"), terminal_size=SIZE, run_before=run_before)


async def test_the_cbt_pack_shows_ctrs_goals(home):
    app = make_app(load_settings(), model="fake")
    async with app.run_test(size=SIZE) as pilot:
        screen = await begin(pilot, "cbt-agenda-and-feedback")
        await send(pilot, "What would you like to put on our agenda today?")
        by_key = {r["key"]: r for r in screen.query_one(GoalsPanel).results}
        assert by_key["indicators.agenda_set"]["met"] and by_key["indicators.agenda_set"]["value"] is True


def test_simtrainer_exercise_in_a_real_terminal(home):
    """`simtrainer --exercise PACK` in a pseudo-terminal: straight into the instructions, one turn, end, hand in
    (the name from SIMTRAINER_TRAINEE), quit; the bundle verifies."""
    import fcntl
    import os
    import pty
    import re
    import select
    import struct
    import subprocess
    import sys
    import termios
    import time

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**os.environ, "SIMTRAINER_MODEL": "fake", "SIMTRAINER_TRAINEE": "Bo", "TERM": "xterm-256color",
           "SIMTRAINER_SPEECH__ENABLED": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "simtrainer", "--exercise", "mi-reflect-first"], stdin=slave,
                            stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    seen = bytearray()

    def wait_for(text: str, limit: float = 300, again: bytes = b"") -> None:
        """Read the screen until `text` shows; `again` is typed every few seconds meanwhile (a key that is
        refused while the patient is still answering)."""
        end = time.monotonic() + limit  # only catches a hang: a busy machine is slow
        tried = time.monotonic()
        while text not in re.sub(r"\x1b\[[0-9;?<>=]*[A-Za-z]", "", seen.decode(errors="replace")):
            assert time.monotonic() < end and proc.poll() is None, f"{text!r} never shown"
            if again and time.monotonic() - tried > 3:
                os.write(master, again)
                tried = time.monotonic()
            if select.select([master], [], [], 0.5)[0]:
                try:
                    seen.extend(os.read(master, 65536))
                except OSError:
                    break

    try:
        wait_for("Start (Enter)")
        assert b"Reflect before you ask" in seen
        os.write(master, b"\r")
        wait_for("Dana:")  # the patient's opening line: the session is ready
        seen.clear()
        os.write(master, b"It sounds like coming here was your sister's idea.\r")
        wait_for("turn 1")  # coded, and the goals refreshed
        os.write(master, b"\x05")  # Ctrl+E, again until the reply is complete
        wait_for("Press S to hand it in", again=b"\x05")
        os.write(master, b"s")
        wait_for("Handed in")
        os.write(master, b"\x11")  # Ctrl+Q
        end = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < end:  # drain the screen, or the app blocks writing it
            if select.select([master], [], [], 0.5)[0]:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    (bundle,) = (home / "data" / "hand-in").glob("mi-reflect-first-Bo-*.json")
    assert read_bundle(bundle)["trainee"] == "Bo" and read_bundle(bundle)["goals_total"] == 4


async def test_resuming_after_the_pack_changed_is_refused_with_the_fix(home, tmp_path):
    pack_file = tmp_path / "mine.toml"
    pack_file.write_text((REPO / "exercises" / "mi-reflect-first.toml").read_text(encoding="utf-8"), encoding="utf-8")
    app = make_app(load_settings(), model="fake")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.load_exercise(pack_file)
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await send(pilot, REFLECTIONS[0])
    pack_file.write_text(pack_file.read_text(encoding="utf-8").replace("max_turns = 8", "max_turns = 20"),
                         encoding="utf-8")
    app = make_app(load_settings(), model="fake")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("h")
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, ErrorScreen) and "has changed" in app.screen.what
        assert str(pack_file) in app.screen.where and "Put back" in app.screen.fix


def footer_keys(screen) -> list[str]:
    return [key.description for key in screen.query("FooterKey")]


async def test_hand_in_later_from_history(home, cli, tmp_path):
    """A student who closed the summary hands in from History (S): an ended exercise session writes a bundle
    that validates; S on a plain session or an unfinished exercise says why not and writes nothing."""
    lines = tmp_path / "lines.txt"
    lines.write_text("\n".join(REFLECTIONS[:2]) + "\n", encoding="utf-8")
    ran = cli("practice", "--exercise", "mi-reflect-first", "--script", str(lines), "-m", "fake", "--trainee",
              "Bo Lind", "--json")
    assert ran.exit_code == 0, ran.output
    ended = json.loads(ran.stdout)["session_id"]
    ran = cli("practice", "--scenario", "mi-alcohol-nurse", "--script", str(lines), "-m", "fake", "--json")
    assert ran.exit_code == 0, ran.output
    plain_session = json.loads(ran.stdout)["session_id"]
    app = make_app(load_settings(), model="fake")  # an exercise left unfinished: quitting keeps it interrupted
    async with app.run_test(size=SIZE) as pilot:
        await begin(pilot)
        await send(pilot, REFLECTIONS[2])
        unfinished = app.screen.session.id

    app = make_app(load_settings(), model="fake")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        await pilot.press("h")
        await settle(pilot)
        history = app.screen
        assert isinstance(history, HistoryScreen)
        table = history.query_one("#sessions")

        async def select(session_id: str) -> None:
            table.move_cursor(row=table.get_row_index(session_id))
            await pilot.pause()

        for session_id, why in ((plain_session, "was not run with an exercise pack"),
                                (unfinished, "is still in progress (interrupted)")):
            await select(session_id)
            assert "Hand in" not in footer_keys(history)
            await pilot.press("s")
            await pilot.pause()
            assert app.screen is history
            assert any(why in n.message for n in app._notifications), [n.message for n in app._notifications]
            assert not app.hand_in_dir.exists()
        assert any("Press R to continue it" in n.message for n in app._notifications)

        await select(ended)
        assert "Hand in" in footer_keys(history)
        await pilot.press("enter")  # look at it first: back in History, the same session stays chosen
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is history and history._selected() == ended
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen) and "Bo Lind" in app.screen.question
        await pilot.press("n")  # not the one meant: nothing written
        await settle(pilot)
        assert app.screen is history and not app.hand_in_dir.exists()
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is history  # the name was saved with the session: nothing asked
        (path,) = app.hand_in_dir.glob("*.json")
        assert path.name == f"mi-reflect-first-Bo-Lind-{ended}.json"
        assert any(str(path) in n.message for n in app._notifications)
    bundle = read_bundle(path)
    assert bundle["trainee"] == "Bo Lind" and bundle["session"]["id"] == ended
    assert bundle["exercise"]["pack_sha256"] == load_pack("mi-reflect-first").sha256
    assert len([t for t in bundle["turns"] if t["speaker"] == "trainee"]) == 2
