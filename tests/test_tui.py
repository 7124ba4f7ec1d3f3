"""The Textual app driven with Pilot: start a scenario, send replies, see them streamed, coded, saved, reviewed."""

import pytest
from textual.widgets import Static

from simtrainer.config import load_settings
from simtrainer.ui.app import make_app
from simtrainer.ui.screens.history import HistoryScreen, ReviewScreen
from simtrainer.ui.screens.home import HomeScreen
from simtrainer.ui.screens.practice import PracticeScreen
from simtrainer.ui.screens.summary import SummaryScreen
from simtrainer.ui.widgets.reply_input import ReplyInput
from simtrainer.ui.widgets.transcript import CodeBadge, TurnBubble

SIZE = (120, 40)


@pytest.fixture(autouse=True)
def no_speech(monkeypatch):
    """Snapshots must not depend on whether this machine has a sound card; speech has its own tests."""
    monkeypatch.setenv("SIMTRAINER_SPEECH__ENABLED", "false")


async def settle(pilot) -> None:
    """Let mounts run, wait for every worker, then let their messages land."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


async def send(pilot, text: str) -> None:
    box = pilot.app.screen.query_one("#reply", ReplyInput)
    box.cursor_blink = False  # a blinking cursor made snapshots depend on the moment they were taken
    box.text = text
    box.focus()
    await pilot.press("enter")
    await settle(pilot)


async def start_first_scenario(pilot) -> PracticeScreen:
    await pilot.pause()
    assert isinstance(pilot.app.screen, HomeScreen)
    assert pilot.app.focused.id == "scenarios"
    await pilot.press("enter")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, PracticeScreen)
    return screen


async def test_practice_send_stream_code_save_review(home, fixed_ids):
    app = make_app(load_settings(), model="fake")
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_first_scenario(pilot)
        assert screen.card.modality == "mi"
        assert isinstance(app.focused, ReplyInput)
        bubbles = screen.query(TurnBubble)
        assert bubbles.first().text == screen.card.opening_line
        await send(pilot, "What brings you in today?")
        bubbles = list(screen.query(TurnBubble))
        assert [b.speaker for b in bubbles] == ["patient", "trainee", "patient"]
        assert bubbles[2].text  # the streamed reply arrived whole
        badges = [b.code.label for b in bubbles[1].query(CodeBadge)]
        assert badges and badges[0].startswith("Q")
        assert [b.code.code for b in bubbles[2].query(CodeBadge)][0] in ("change", "sustain", "neutral")
        panel = screen.query_one("#panel-mi")
        assert panel.summary["counts"]["Q"] == 1 and panel.summary["rq"] == 0
        stored = app.workspace.store.turns(screen.session.id)
        assert [t["speaker"] for t in stored] == ["patient", "trainee", "patient"]
        assert stored[1]["codes"][0]["code"] == "Q"
        await send(pilot, "You're worried about what your kids see.")
        await pilot.press("ctrl+e")
        await pilot.pause()
        assert isinstance(app.screen, SummaryScreen)
        assert app.screen.summary["rubrics"]["mi"]["counts"]["Q"] == 1
        assert "count both speakers" not in app.screen.query_one("#summary").query(Static)[0].content.plain  # no turn numbers to explain
        await pilot.press("h")
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        assert len(app.screen.query(TurnBubble)) == 5


async def test_shift_enter_adds_a_line_and_failed_turn_keeps_text(home):
    app = make_app(load_settings(), model="fake")
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_first_scenario(pilot)
        box = screen.query_one("#reply", ReplyInput)
        box.text = "first line"
        box.move_cursor((0, 10))
        await pilot.press("ctrl+j")
        assert box.text == "first line\n"

        def broken(_text):
            raise RuntimeError("model crashed")
            yield  # pragma: no cover

        screen.session.submit = broken
        await send(pilot, "Please keep this text")
        assert box.text == "Please keep this text"
        assert not box.read_only


async def test_missing_model_shows_a_modal_with_the_fix(home, tmp_path):
    app = make_app(load_settings(), model=str(tmp_path / "gone.gguf"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        from simtrainer.ui.screens.modals import ErrorScreen

        assert isinstance(app.screen, ErrorScreen)
        assert "does not exist" in app.screen.what and app.screen.fix


async def test_help_and_keymap(home, monkeypatch):
    monkeypatch.setenv("SIMTRAINER_KEYMAP", '{"end_session": "ctrl+t"}')
    app = make_app(load_settings(), model="fake")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        from simtrainer.ui.screens.modals import HelpScreen

        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        screen = await start_first_scenario(pilot)
        await send(pilot, "Hello.")
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert isinstance(app.screen, SummaryScreen), screen



async def test_bad_theme_and_keymap_entries_are_reported_once_and_dropped(home, monkeypatch):
    monkeypatch.setenv("SIMTRAINER_THEME", "nordd")
    monkeypatch.setenv("SIMTRAINER_KEYMAP", '{"end_sesion": "ctrl+t", "help": "cntrl+h", "history": "y"}')
    app = make_app(load_settings(), model="fake")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
        toasts = list(app.screen.query("Toast"))  # shown on the screen the trainee sees, not a hidden one
        assert len(toasts) == 1
        text = str(toasts[0].render())
        assert "Unknown theme 'nordd'" in text and "unknown binding id 'end_sesion'" in text and "cntrl+h" in text
        assert "history =" not in text  # the good entry is not reported...
        assert app.theme == "textual-dark"
        await pilot.press("f1")  # ...the bad remap of help is dropped, so F1 still opens help
        await pilot.pause()
        from simtrainer.ui.screens.modals import HelpScreen

        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.press("y")  # ...and the good one is applied
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)


def test_config_show_warns_about_the_same_entries(cli, monkeypatch):
    monkeypatch.setenv("SIMTRAINER_THEME", "nordd")
    monkeypatch.setenv("SIMTRAINER_KEYMAP", '{"end_sesion": "ctrl+t", "history": "y"}')
    result = cli("config", "show")
    assert result.exit_code == 0 and 'theme = "nordd"' in result.output
    assert "Warning: Unknown theme 'nordd'" in result.output and "unknown binding id 'end_sesion'" in result.output
    assert "'history'" not in result.output

@pytest.mark.model
async def test_real_model_session_in_the_app(home):
    app = make_app(load_settings())
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_first_scenario(pilot)
        await send(pilot, "What brings you in today?")
        bubbles = list(screen.query(TurnBubble))
        assert len(bubbles) == 3 and bubbles[2].text.strip()


def test_snapshot_home(snap_compare, home):
    assert snap_compare(make_app(load_settings(), model="fake"), terminal_size=SIZE)


def test_snapshot_practice(snap_compare, home, fixed_ids):
    async def run_before(pilot):
        await start_first_scenario(pilot)
        await send(pilot, "What brings you in today?")

    assert snap_compare(make_app(load_settings(), model="fake"), terminal_size=SIZE, run_before=run_before)


def test_snapshot_summary(snap_compare, home, fixed_ids):
    async def run_before(pilot):
        await start_first_scenario(pilot)
        await send(pilot, "What brings you in today?")
        await send(pilot, "You're not sure it's a problem.")
        await pilot.press("ctrl+e")
        await pilot.pause()

    assert snap_compare(make_app(load_settings(), model="fake"), terminal_size=SIZE, run_before=run_before)


def test_bench_tui_measures_echo_while_streaming(home):
    from simtrainer.bench.tui import bench_tui
    from simtrainer.config import config_file

    config_file().parent.mkdir(parents=True)
    config_file().write_text('[models.slow]\nbackend = "fake"\ntoken_delay_s = 0.02\n')
    result = bench_tui(load_settings(), model="slow", turns=2)
    assert result["turns"] == 2 and result["keystrokes"] > 5
    assert result["echo_p95_ms"] is not None and result["replies_shown_whole"] == 2
    assert result["tokens_shown"] > 0 and isinstance(result["ui_keeps_up"], bool)  # a rate: measured, not asserted


async def test_push_to_talk_without_a_device_and_a_reviewed_transcript(home, monkeypatch):
    import sounddevice

    from simtrainer.ui.messages import SpeechReady, Transcribed

    monkeypatch.setenv("SIMTRAINER_SPEECH__ENABLED", "true")
    monkeypatch.setattr(sounddevice, "query_devices",
                        lambda *a, **k: (_ for _ in ()).throw(sounddevice.PortAudioError("Error querying device -1")))
    app = make_app(load_settings(), model="fake")
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_first_scenario(pilot)
        await settle(pilot)
        assert screen.speech is not None and "text mode" in screen.speech.notice
        await pilot.press("f5")  # no microphone: a notice, no crash
        await pilot.pause()
        assert screen.speech.recorder is None
        screen.post_message(Transcribed("What brings you in today?", {"spoken": True, "stt_rtf": 0.1}))
        await pilot.pause()
        box = screen.query_one("#reply", ReplyInput)
        assert box.text == "What brings you in today?"  # placed for review, not sent
        await pilot.press("enter")
        await settle(pilot)
        turn = app.workspace.store.turns(screen.session.id)[1]
        assert turn["speaker"] == "trainee" and turn["meta"]["spoken"] is True
        assert app.notices_shown == {screen.speech.notice}  # said once; a second session does not say it again
        shown = []
        monkeypatch.setattr(type(screen), "notify", lambda self, message, **kw: shown.append(message))
        screen.post_message(SpeechReady(screen.speech))
        await pilot.pause()
        assert shown == []
        await pilot.press("f8")
        assert screen.muted


def badges(screen) -> list[str]:
    return [str(badge.code.label) for badge in screen.query(CodeBadge)]


async def test_dearman_and_ctrs_panels(home):
    """Each session shows the rubric that fits it: DEAR MAN alone; the CTRS with question and reflection
    micro-skills; no MI panel, bands or patient-talk badges outside MI."""
    from simtrainer.ui.widgets.rubric_panel import CTRSPanel, DearManPanel, MIPanel, RubricPanel

    app = make_app(load_settings(), model="fake")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.start_practice(app.workspace.card("dearman-landlord-heating"))
        await settle(pilot)
        assert "first turn" in str(app.screen.query_one(DearManPanel).render())  # nothing scored yet
        await send(pilot, "The heating has been off for nine days. I need it repaired by Friday.")
        panel = app.screen.query_one(DearManPanel)
        assert panel.summary["checklist"]["assert"] and "tip" in panel.summary
        assert [type(p) for p in app.screen.query(RubricPanel)] == [DearManPanel]
        dearman_labels = {"D", "E", "A", "R", "M", "Conf", "Neg"}
        assert badges(app.screen) and set(badges(app.screen)) <= dearman_labels
        await pilot.press("ctrl+e")
        await pilot.pause()
        assert set(app.screen.summary["rubrics"]) == {"dearman"}
        intro = app.screen.query_one("#summary").query(Static)[0].content.plain
        assert "1 of your turns" in intro and "count both speakers" in intro  # skills are named by transcript turn
        app.go_home()
        await pilot.pause()
        app.start_practice(app.workspace.card("cbt-panic-supermarket"))
        await settle(pilot)
        await send(pilot, "What would you like to put on the agenda today?")
        ctrs = app.screen.query_one(CTRSPanel)
        assert ctrs.summary["indicators"]["agenda_set"] and ctrs.summary["microskills"]["questions"] == 1
        assert not app.screen.query(MIPanel)
        assert "Q open" in badges(app.screen) and not {"CT", "ST", "N"} & set(badges(app.screen))


async def test_a_card_line_standing_in_for_a_failed_model_is_announced(home):
    """A server that fails mid-session: the reply is a card line, a toast says so, and the turn records it."""
    from fault_server import FaultServer

    from simtrainer.config import config_file

    server = FaultServer()
    config_file().parent.mkdir(parents=True)
    config_file().write_text(f'[patient]\nsteering = false\n[models.faulty]\nbackend = "openai"\n'
                             f'base_url = "{server.url("flaky-2")}"\nmodel = "x"\n')  # priming and turn 1 answer
    try:
        app = make_app(load_settings(), model="faulty")
        async with app.run_test(size=SIZE) as pilot:
            screen = await start_first_scenario(pilot)
            await send(pilot, "What brings you in today?")
            await send(pilot, "How has work been?")
            toasts = [n for n in app._notifications if n.title == "Not the model's reply"]
            assert len(toasts) == 1 and "the model failed (The model server answered HTTP 500" in toasts[0].message
            replies = [t for t in app.workspace.store.turns(screen.session.id) if t["speaker"] == "patient"][1:]
            assert [t["meta"]["source"] for t in replies] == ["model", "card:fallback"]
            assert screen.reply.text == replies[1]["text"]
    finally:
        server.close()
