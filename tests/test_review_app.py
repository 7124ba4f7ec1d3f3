"""A supervisor's review in the app, driven with Pilot: step through turns, correct a code, note on a turn, rate
the globals, mark reviewed, write the report; every row lands in the real SQLite file of the test's own home."""

import json

import pytest

from simtrainer.config import data_dir, load_settings
from simtrainer.review.corrections import code_options, default_author, resolve_code
from simtrainer.storage import open_store
from simtrainer.ui.app import make_app
from simtrainer.ui.screens.review import ReviewScreen, ReviewTurn
from simtrainer.ui.screens.review_modals import CorrectScreen, NoteScreen, RateScreen

LINES = ["What brings you in today?", "It sounds like the shifts are exhausting.", "You should stop drinking."]
SIZE = (120, 40)


@pytest.fixture(autouse=True)
def no_speech(monkeypatch):
    monkeypatch.setenv("SIMTRAINER_SPEECH__ENABLED", "false")


@pytest.fixture
def session_id(cli, tmp_path) -> str:
    script = tmp_path / "lines.txt"
    script.write_text("\n".join(LINES) + "\n")
    result = cli("practice", "-s", "mi-alcohol-nurse", "--script", str(script), "--json", "-m", "fake")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["session_id"]


async def open_review(pilot, sid: str) -> ReviewScreen:
    pilot.app.push_screen(ReviewScreen(sid))
    await pilot.pause()
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, ReviewScreen)
    return screen


async def settle(pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def focused_turn(app) -> int:
    assert isinstance(app.focused, ReviewTurn), app.focused
    return app.focused.turn["turn"]


def shown(widget) -> str:
    return " ".join(str(w.render()) for w in widget.query("Static"))


def test_every_offered_code_passes_the_cli_check():
    for rubric in ("mi", "dearman", "ctrs"):
        for speaker in ("trainee", "patient"):
            for option_rubric, code, _ in code_options(rubric, speaker):
                resolve_code(option_rubric, speaker, code, "test")
    assert [c for _, c, _ in code_options("mi", "patient")] == ["change", "sustain", "neutral"]
    assert ("ctrs", "agenda") in {(r, c) for r, c, _ in code_options("ctrs", "trainee")}
    # MI codes only where the session shows them, as `sessions correct` takes them without --rubric
    assert {r for r, _, _ in code_options("dearman", "trainee")} == {"dearman"}
    assert {c for r, c, _ in code_options("ctrs", "trainee") if r == "mi"} == {"Q open", "Q closed", "SR", "CR"}


async def test_step_through_turns_and_correct_a_code(session_id):
    app = make_app(load_settings(), model="fake")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot, session_id)
        assert focused_turn(app) == 1
        await pilot.press("j")
        await pilot.pause()
        reasons = app.focused.query_one(".reasons")
        assert reasons.display and "%" in str(reasons.render())  # confidence and reason of the focused turn
        assert not screen.turns()[3].query_one(".reasons").display
        await pilot.press("down", "down", "k")
        assert focused_turn(app) == 3
        await pilot.press("up")
        assert focused_turn(app) == 2  # a trainee turn
        await pilot.press("c")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, CorrectScreen)
        options = modal.query_one("#codes")
        assert options.option_count == len(code_options("mi", "trainee"))
        options.highlighted = [c for _, c, _ in modal.options].index("CR")
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        rows = open_store().corrections(session_id)
        assert [(r["turn_idx"], r["rubric"], r["code"], r["author"]) for r in rows] == [
            (1, "mi", "CR", default_author(None))]
        assert focused_turn(app) == 2
        text = shown(app.focused)
        assert "→ CR (" in text and default_author(None) in text
        assert "Summary as reviewed" in " ".join(str(w.render()) for w in screen.query(".reviewed-heading"))

        await pilot.press("j", "c")  # a patient turn: client talk only, the automatic code highlighted
        await pilot.pause()
        assert [c for _, c, _ in app.screen.options] == ["change", "sustain", "neutral"]
        auto = [c["code"] for c in open_store().turns(session_id)[2]["codes"] if c["rubric"] == "mi"]
        assert [app.screen.options[app.screen.query_one("#codes").highlighted][1]] == auto
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and len(open_store().corrections(session_id)) == 1
        await pilot.press("k", "c")  # the corrected turn again: the supervisor's code highlighted, not the coder's
        await pilot.pause()
        coder = [c["code"] for c in open_store().turns(session_id)[1]["codes"] if c["rubric"] == "mi"]
        assert app.screen.options[app.screen.query_one("#codes").highlighted][1] == "CR" and coder != ["CR"]
        await pilot.press("escape")
        await pilot.pause()


async def test_several_dearman_skills_marked_for_one_turn(cli, tmp_path):
    script = tmp_path / "lines.txt"
    script.write_text("I paid for a flight that was cancelled, and I would like the refund today.\n")
    result = cli("practice", "-s", "dearman-airline-refund", "--script", str(script), "--json", "-m", "fake")
    assert result.exit_code == 0, result.output
    sid = json.loads(result.stdout)["session_id"]
    app = make_app(load_settings(), model="fake")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot, sid)
        await pilot.press("c")  # the airline agent's turn: nothing of DEAR MAN's to correct there
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("j", "c")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, CorrectScreen) and "Space ticks or unticks skills" in shown(modal)
        assert {r for r, _, _ in modal.options} == {"dearman"}  # the session's rubric only: it shows no MI codes
        codes = modal.query_one("#codes")
        index = {(r, c): i for i, (r, c, _) in enumerate(modal.options)}
        coder = {c["code"] for c in open_store().turns(sid)[1]["codes"] if c["rubric"] == "dearman"}
        assert len(coder) > 1 and {modal.options[i][1] for i in modal.marked} == coder  # the coder's skills
        for i in sorted(modal.marked):
            codes.highlighted = i
            await pilot.press("space")
        codes.highlighted = index[("dearman", "none")]
        await pilot.press("space")  # "none" cannot be marked with skills
        await pilot.pause()
        assert not modal.marked and "alone" in str(modal.query_one(".modal-error").render())
        codes.highlighted = index[("dearman", "assert")]
        await pilot.press("space")
        codes.highlighted = index[("dearman", "none")]
        await pilot.press("enter")  # skills are marked: "none" highlighted is not saved with them
        await pilot.pause()
        assert app.screen is modal and "saved together" in str(modal.query_one(".modal-error").render())
        assert "[x] dearman: A" in str(codes.get_option_at_index(index[("dearman", "assert")]).prompt)
        codes.highlighted = index[("dearman", "describe")]
        await pilot.press("space", "enter")  # the marked skills, in the rubric's order
        await settle(pilot)
        assert app.screen is screen
        rows = open_store().corrections(sid)
        assert [(r["turn_idx"], r["rubric"], r["code"]) for r in rows] == [(1, "dearman", "describe+assert")]
        assert "→ D+A (" in shown(app.focused)

        await pilot.press("c")  # the turn again: both of the supervisor's skills marked
        await pilot.pause()
        again = app.screen
        assert {again.options[i][1] for i in again.marked} == {"describe", "assert"}
        assert again.query_one("#codes").highlighted == index[("dearman", "describe")]
        await pilot.press("enter")  # Enter on a ticked skill keeps every ticked one, not the highlighted alone
        await settle(pilot)
        assert [r["code"] for r in open_store().corrections(sid)][-1] == "describe+assert"
        await pilot.press("c")
        await pilot.pause()
        again = app.screen
        again.query_one("#codes").highlighted = index[("dearman", "assert")]
        await pilot.press("space", "enter")  # unmark one: the other is saved alone
        await settle(pilot)
        assert [r["code"] for r in open_store().corrections(sid)][-1] == "describe"
        await pilot.press("c")  # untick the only skill, then Enter: nothing is ticked, so nothing is saved
        await pilot.pause()
        app.screen.query_one("#codes").highlighted = index[("dearman", "describe")]
        await pilot.press("space", "enter")
        await pilot.pause()
        assert "No skill is ticked" in str(app.screen.query_one(".modal-error").render())
        await pilot.press("escape")
        await pilot.pause()
        assert [r["code"] for r in open_store().corrections(sid)][-1] == "describe"
        await pilot.press("c")  # one skill now, ticked; Enter without Space takes the highlighted code alone
        await pilot.pause()
        assert {app.screen.options[i][1] for i in app.screen.marked} == {"describe"}
        app.screen.query_one("#codes").highlighted = index[("dearman", "express")]
        await pilot.press("enter")
        await settle(pilot)
        assert [r["code"] for r in open_store().corrections(sid)][-1] == "express"
        await pilot.press("c")
        await pilot.pause()
        app.screen.query_one("#author").focus()
        await pilot.press("a", "space", "b")  # in the name field Space is a space, not a tick
        assert app.screen.query_one("#author").value.endswith("a b") and not app.screen.touched
        assert {app.screen.options[i][1] for i in app.screen.marked} == {"express"}
        await pilot.press("escape")


async def test_a_note_at_its_turn_and_an_empty_one_refused(session_id):
    app = make_app(load_settings(), model="fake")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot, session_id)
        await pilot.press("down", "down", "down", "n")
        await pilot.pause()
        assert isinstance(app.screen, NoteScreen)
        await pilot.press("space", "enter")
        await pilot.pause()
        assert isinstance(app.screen, NoteScreen)
        assert "empty" in str(app.screen.query_one(".modal-error").render())
        app.screen.query_one("#author").value = "ann"
        await pilot.press(*"Try [b]a reflection[/b]", "enter")
        await settle(pilot)
        assert app.screen is screen
        store = open_store()
        turn_id = store.turns(session_id)[3]["id"]
        assert [(n["turn_id"], n["author"], n["body"]) for n in store.annotations(session_id)] == [
            (turn_id, "ann", "Try [b]a reflection[/b]")]
        children = list(screen.query_one("#review").children)
        note = screen.query(".note").first()
        assert children.index(note) == children.index(screen.turns()[3]) + 1
        assert "Note (ann): Try [b]a reflection[/b]" in str(note.render())  # markup shown as written


async def test_rate_globals_mark_reviewed_and_report(session_id):
    app = make_app(load_settings(), model="fake")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot, session_id)
        await pilot.press("g")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, RateScreen)
        assert set(modal.scale) == {"cultivating_change_talk", "softening_sustain_talk", "partnership", "empathy"}
        modal.query_one("#rate-empathy").value = "9"
        modal.query_one("#save").press()  # press, not click: a toast over the button would take a click
        await pilot.pause()
        assert app.screen is modal and "1 to 5" in str(modal.query_one(".modal-error").render())
        modal.query_one("#rate-empathy").value = "4"
        modal.query_one("#rate-partnership").value = "2"
        modal.query_one("#save").press()
        await settle(pilot)
        assert app.screen is screen
        store = open_store()
        assert {(r["item"], r["score"]) for r in store.ratings(session_id)} == {("empathy", 4), ("partnership", 2)}
        assert f"as reviewed by {default_author(None)}" in shown(screen)  # the summary section, recomputed

        await pilot.press("r")
        await settle(pilot)
        assert store.get_session(session_id)["reviewed_by"] == default_author(None)
        assert f"reviewed by {default_author(None)}" in screen.sub_title

        await pilot.press("p")
        await pilot.pause()
        report = data_dir() / "exports" / f"{session_id}.html"
        html = report.read_text(encoding="utf-8")
        assert LINES[1] in html and "As reviewed" in html


async def test_review_keys_can_be_remapped(session_id, monkeypatch):
    monkeypatch.setenv("SIMTRAINER_KEYMAP", '{"next_turn": "ctrl+n", "correct_code": "x", "mark_reviewed": "m"}')
    app = make_app(load_settings(), model="fake")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot, session_id)
        await pilot.press("ctrl+n")
        assert focused_turn(app) == 2
        await pilot.press("m")
        await settle(pilot)
        assert open_store().get_session(session_id)["reviewed_by"]
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, CorrectScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen


def test_help_lists_the_review_keys():
    from simtrainer.ui.screens.modals import help_markdown

    text = help_markdown()
    for words in ("**C** correct", "**N** note", "**G** rate", "**R** mark the session reviewed", "**P** write"):
        assert words in text


def test_snapshot_review(snap_compare, cli, tmp_path, monkeypatch):
    """The review screen as a supervisor sees it: a corrected code and a note at their turns, the focused turn's
    reasons shown (rendered for docs/supervisors.md)."""
    monkeypatch.setattr("simtrainer.storage.store.new_session_id", lambda: "20260101-000000-0001")
    monkeypatch.setenv("SIMTRAINER_SEED", "7")  # a session draws a random seed otherwise
    script = tmp_path / "lines.txt"
    script.write_text("\n".join(LINES) + "\n")
    assert cli("practice", "-s", "mi-alcohol-nurse", "--script", str(script), "-m", "fake").exit_code == 0
    sid = "20260101-000000-0001"
    cli("sessions", "correct", sid, "--turn", "6", "--code", "PwP", "--author", "ann")
    cli("sessions", "annotate", sid, "Ask permission before advice.", "--turn", "6", "--author", "ann")

    async def run_before(pilot):
        await open_review(pilot, sid)
        await pilot.press("j", "j", "j")
        await pilot.pause()

    assert snap_compare(make_app(load_settings(), model="fake"), terminal_size=SIZE, run_before=run_before)
