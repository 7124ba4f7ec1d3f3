"""The app's session lifecycle with Pilot: Esc asks before ending, Ctrl+Q keeps a session resumable, History
resumes an interrupted one in the practice screen."""

from test_tui import SIZE, no_speech, send, settle, start_first_scenario  # noqa: F401 - no_speech is autouse

from simtrainer.config import load_settings
from simtrainer.llm.fake import FakeBackend
from simtrainer.session import Session
from simtrainer.storage import open_store
from simtrainer.ui.app import make_app
from simtrainer.ui.screens.history import HistoryScreen
from simtrainer.ui.screens.home import HomeScreen
from simtrainer.ui.screens.modals import ConfirmScreen
from simtrainer.ui.screens.practice import PracticeScreen
from simtrainer.ui.screens.summary import SummaryScreen
from simtrainer.ui.widgets.transcript import CodeBadge, TurnBubble


async def test_escape_asks_before_ending(home):
    app = make_app(load_settings(), model="fake")
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_first_scenario(pilot)
        await send(pilot, "What brings you in today?")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("enter")  # the focused answer keeps practising
        await pilot.pause()
        assert app.screen is screen and not screen.session.ended
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert isinstance(app.screen, SummaryScreen)
        assert app.workspace.store.get_session(screen.session.id)["status"] == "ended"


async def test_leaving_before_a_reply_is_not_scored(home):
    app = make_app(load_settings(), model="fake")
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_first_scenario(pilot)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and "not be scored" in app.screen.question
        await pilot.press("y")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        row = app.workspace.store.get_session(screen.session.id)
        assert row["status"] == "abandoned" and row["summary"] is None


async def test_quitting_keeps_the_session_resumable(home):
    app = make_app(load_settings(), model="fake")
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_first_scenario(pilot)
        await send(pilot, "What brings you in today?")
        session_id = screen.session.id
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert open_store().get_session(session_id)["status"] == "interrupted"


async def test_history_resumes_an_interrupted_session(home):
    store = open_store()
    settings = load_settings()
    card = make_app(settings).workspace.card("mi-alcohol-nurse")
    first = Session(store, card, FakeBackend(["I work nights."]))
    list(first.submit("What brings you in today?"))
    store.add_turn(first.id, "trainee", "Nights sound hard.")  # killed before its codes and reply
    first.interrupt()
    store.close()

    app = make_app(settings, model="fake")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("h")
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)
        await pilot.press("r")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PracticeScreen) and screen.session.id == first.id
        bubbles = list(screen.query(TurnBubble))
        assert [b.speaker for b in bubbles] == ["patient", "trainee", "patient", "trainee", "patient"]
        assert bubbles[1].text == "What brings you in today?" and bubbles[4].text  # the lost reply, answered
        assert bubbles[3].query(CodeBadge)  # the turn that lost its codes was coded
        assert not screen.busy
        await send(pilot, "What would you like to be different?")
        await pilot.press("ctrl+e")
        await pilot.pause()
        assert isinstance(app.screen, SummaryScreen) and app.screen.summary["trainee_turns"] == 3
        stored = app.workspace.store.turns(first.id)
        assert [t["speaker"] for t in stored] == ["patient"] + ["trainee", "patient"] * 3
        assert all(t["codes"] for t in stored if t["speaker"] == "trainee")
        await pilot.press("h")
        await pilot.pause()
        await pilot.press("r")  # an ended session is refused with the reason
        await pilot.pause()
        from simtrainer.ui.screens.modals import ErrorScreen

        assert isinstance(app.screen, ErrorScreen) and "has ended" in app.screen.what
