"""Trainees' progress in the app, driven with Pilot: T on the home screen lists every named trainee, the highlighted
one's sessions and trend lines show beside them, Enter opens a session's review, Esc goes back."""

import json

import pytest
from textual.content import Content
from textual.widgets import DataTable, Sparkline, Static

from simtrainer.config import load_settings
from simtrainer.review.progress import trainee_progress
from simtrainer.storage import open_store
from simtrainer.ui.app import make_app
from simtrainer.ui.screens.home import HomeScreen
from simtrainer.ui.screens.progress import EMPTY, ProgressScreen
from simtrainer.ui.screens.review import ReviewScreen

SIZE = (140, 44)
HOSTILE = "[/i]\x1b[2J"
SCRIPTS = [
    ["What brings you in today?", "How much do you drink?", "It sounds like the shifts are exhausting."],
    ["What brings you in today?", "It sounds like the shifts are exhausting.", "What would help?"],
    ["What would help?", "You feel stuck between sleep and the drink.", "Part of you wants a change."],
]


@pytest.fixture(autouse=True)
def no_speech(monkeypatch):
    monkeypatch.setenv("SIMTRAINER_SPEECH__ENABLED", "false")


@pytest.fixture
def practise(cli, tmp_path):
    def run(trainee: str, lines: list[str], scenario: str = "mi-alcohol-nurse") -> str:
        script = tmp_path / "lines.txt"
        script.write_text("\n".join(lines) + "\n")
        result = cli("practice", "-s", scenario, "-m", "fake", "--script", str(script), "--json",
                     "--trainee", trainee)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["session_id"]

    return run


@pytest.fixture
def sessions(practise) -> dict[str, list[str]]:
    return {"Ann": [practise("Ann", lines) for lines in SCRIPTS], "Bob": [practise("Bob", SCRIPTS[0])]}


def cells(table: DataTable, column: int) -> list[str]:
    return [str(table.get_row_at(i)[column]) for i in range(table.row_count)]


async def open_progress(pilot) -> ProgressScreen:
    await pilot.pause()
    assert isinstance(pilot.app.screen, HomeScreen)
    await pilot.press("t")
    await pilot.pause()
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, ProgressScreen)
    return screen


async def test_t_lists_trainees_and_shows_sessions_and_trends(sessions):
    app = make_app(load_settings(), model="fake")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot)
        trainees = screen.query_one("#trainee-table", DataTable)
        assert cells(trainees, 0) == ["Ann", "Bob"] and cells(trainees, 1) == ["3", "1"]
        assert "MI: R:Q" in cells(trainees, 3)[0]
        table = screen.query_one("#trainee-sessions", DataTable)
        assert [key.value for key in table.rows] == sessions["Ann"]  # oldest first
        assert set(cells(table, 1)) == {"mi-alcohol-nurse"} and set(cells(table, 2)) == {"MI"}
        progress = trainee_progress(open_store(), "Ann")
        sparks = list(screen.query(Sparkline))
        labels = [str(w.render()) for w in screen.query(".trend-label").results(Static)]
        cr = [s["figures"]["mi"]["pct_cr"] * 100 for s in progress["sessions"]]
        assert labels[1].startswith("MI: complex reflections (%)") and f"latest {cr[-1]:.0f}%" in labels[1]
        assert list(sparks[1].data) == cr and len(cr) == 3
        assert labels[1].endswith(" → ".join(f"{v:.0f}%" for v in cr))  # the values written out too
        rq = [s["figures"]["mi"]["rq"] for s in progress["sessions"]]
        assert labels[0].startswith("MI: reflections to questions (R:Q)") and list(sparks[0].data) == rq
        assert len(set(rq)) > 1 or len(set(cr)) > 1  # a trend, not one value thrice
        assert len(sparks) == 2  # MI sessions only: no DEAR MAN or CTRS line

        await pilot.press("down")  # Bob
        await pilot.pause()
        assert [key.value for key in table.rows] == sessions["Bob"]
        assert [len(s.data) for s in screen.query(Sparkline)] == [1, 1]

        await pilot.press("up", "enter")  # Ann again; Enter moves to her sessions
        await pilot.pause()
        assert app.focused is table
        await pilot.press("down", "enter")  # her second session
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen) and app.screen.session_id == sessions["Ann"][1]
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)


async def test_other_rubrics_have_their_own_trend(practise):
    practise("Cat", SCRIPTS[1], "dearman-roommate-noise")
    practise("Cat", SCRIPTS[2], "cbt-panic-supermarket")
    async with make_app(load_settings(), model="fake").run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot)
        labels = [str(w.render()) for w in screen.query(".trend-label").results(Static)]
        assert any(label.startswith("DEAR MAN: skills shown") for label in labels)
        assert any(label.startswith("CTRS: total") for label in labels)
        assert cells(screen.query_one("#trainee-sessions", DataTable), 2) == ["DEAR MAN", "CTRS"]


async def test_no_named_trainee_says_so(cli, tmp_path):
    script = tmp_path / "lines.txt"
    script.write_text("What brings you in today?\n")
    assert cli("practice", "-s", "mi-alcohol-nurse", "-m", "fake", "--script", str(script)).exit_code == 0
    async with make_app(load_settings(), model="fake").run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot)
        assert screen.query_one("#progress-empty").display and str(screen.query_one("#progress-empty").render()) \
            == EMPTY
        assert not screen.query_one("#trainee-table").display


async def test_the_palette_opens_it(sessions):
    app = make_app(load_settings(), model="fake")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"trainees")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, ProgressScreen)


async def test_a_hostile_trainee_name_shows_literally(practise):
    practise(HOSTILE, SCRIPTS[1])
    app = make_app(load_settings(), model="fake")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot)
        shown = cells(screen.query_one("#trainee-table", DataTable), 0)
        assert shown == ["[/i]"]  # markup kept as text, the escape sequence dropped
        title = screen.query_one("#trainee-sessions", DataTable).border_title
        assert Content.from_markup(title).plain == "[/i]: 1 sessions"  # the title is drawn from markup



def test_help_lists_the_key():
    from simtrainer.ui.screens.modals import help_markdown

    assert "**T** (on the home screen) trainees' progress" in help_markdown()
