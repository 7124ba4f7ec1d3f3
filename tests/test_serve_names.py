"""`simtrainer serve` for a lab: every browser tab's app asks its student's name at start (whatever the shared
config.toml says), keeps it for that tab only, and the sessions started there carry it."""

import os
import re
import sqlite3
import subprocess
import sys
import time

import httpx
from conftest import free_port
from test_serve import CHROMIUM
from test_tui import no_speech, settle, start_first_scenario  # noqa: F401 - no_speech is autouse

from simtrainer.config import config_file, load_settings
from simtrainer.identity import ASK_ENV
from simtrainer.storage import open_store
from simtrainer.ui.app import SimTrainerApp
from simtrainer.ui.screens.identity import NameScreen
from simtrainer.workspace import Workspace

SIZE = (120, 40)


def owned_config() -> None:
    config_file().parent.mkdir(parents=True)
    config_file().write_text('trainee = "Machine Owner"\n')


async def test_a_served_app_asks_even_with_a_name_saved_and_keeps_it_out_of_the_file(home, monkeypatch):
    owned_config()
    monkeypatch.setenv(ASK_ENV, "1")
    app = SimTrainerApp(Workspace(load_settings(), model="fake"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, NameScreen) and screen.query_one("#name").value == ""  # not the owner's name
        assert not screen.query("#skip")
        await pilot.press("escape")  # a name is needed: Esc does not get past it
        await pilot.pause()
        assert app.screen is screen and "A name is needed" in str(screen.query_one("#name-error").render())
        await pilot.press(*"Ana K")
        await pilot.press("enter")
        await pilot.pause()
        session_screen = await start_first_scenario(pilot)
        assert session_screen.session is not None
    assert config_file().read_text() == 'trainee = "Machine Owner"\n'
    assert [row["trainee"] for row in open_store().list_sessions()] == ["Ana K"]


async def test_a_served_tab_lists_only_its_own_students_sessions(home, monkeypatch, tmp_path):
    """Every tab shares one data folder: Home and History show the sessions of the name given in this tab, none
    before it is given, and never the machine owner's name as this tab's."""
    from simtrainer.ui.screens.history import HistoryScreen
    from simtrainer.ui.screens.home import HomeScreen

    owned_config()
    store = open_store()
    for trainee in ("Bo", "Cy", "Machine Owner"):
        sid = store.create_session(scenario_id="mi-alcohol-nurse", scenario_title="t", modality="mi", model="fake",
                                   trainee=trainee)
        store.add_turn(sid, "trainee", f"Hello from {trainee}.")
        store.end_session(sid, None)
    store.close()
    monkeypatch.setenv(ASK_ENV, "1")
    app = SimTrainerApp(Workspace(load_settings(), model="fake"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        home_screen = next(s for s in app.screen_stack if isinstance(s, HomeScreen))
        assert home_screen.query_one("#recent").row_count == 0  # behind the name question: nobody's sessions
        assert "Machine Owner" not in str(home_screen.query_one("#model-indicator").render())
        await pilot.press(*"Bo")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen) and app.screen.query_one("#recent").row_count == 1
        await pilot.press("h")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)
        assert [row["trainee"] for row in app.screen.rows.values()] == ["Bo"]


async def test_without_serve_a_saved_name_is_not_asked_again(home):
    owned_config()
    app = SimTrainerApp(Workspace(load_settings(), model="fake"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not isinstance(app.screen, NameScreen)


def frames_text(frames: list[str]) -> str:
    """What the app sent to a tab, escape sequences removed, so words split by styles can be found."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", "".join(frames))


def test_two_browser_tabs_two_names_two_sessions(home):
    """Real `serve`, the default (real) model, headless Chromium: two tabs, each asked, each practising. The
    session screen's footer shows the session's keys once the model has loaded."""
    from playwright.sync_api import sync_playwright

    owned_config()
    port = free_port()
    env = {**os.environ, "SIMTRAINER_HOME": str(home), "SIMTRAINER_SPEECH__ENABLED": "false",
           "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen([sys.executable, "-m", "simtrainer", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}/"
    db = home / "data" / "sessions.db"
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                httpx.get(base, timeout=1)
                break
            except httpx.HTTPError:
                assert server.poll() is None
                time.sleep(0.2)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic"])
            tabs = []
            for name in ("Ana", "Ben"):
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                frames: list[str] = []
                page.on("websocket", lambda ws, frames=frames: ws.on("framereceived", lambda payload: frames.append(
                    payload if isinstance(payload, str) else payload.decode("utf-8", "replace"))))
                page.goto(base)
                tabs.append((name, page, frames))

            def wait_for(page, frames, text: str, limit: float = 300) -> bool:
                deadline = time.time() + limit  # generous: a busy machine loads the model slowly
                while time.time() < deadline and text not in frames_text(frames):
                    page.wait_for_timeout(250)
                return text in frames_text(frames)

            for name, page, frames in tabs:
                assert wait_for(page, frames, "Several students practise"), name  # asked, despite the file
                page.bring_to_front()
                page.click("body", position={"x": 640, "y": 400})  # focus the terminal
                page.keyboard.type(name)
                page.keyboard.press("Enter")
                assert wait_for(page, frames, f"Trainee: {name}"), name
                page.keyboard.press("Enter")  # the first scenario
                assert wait_for(page, frames, "My sister kind of made me book this"), name  # the model loaded
                assert wait_for(page, frames, "End session", 60), name  # the session's keys, not the home's
                page.keyboard.type("What brings you in today?")
                page.keyboard.press("Enter")
            deadline = time.time() + 600
            replies: dict[str, int] = {}
            while time.time() < deadline and sorted(replies) != ["Ana", "Ben"]:
                if db.exists():
                    with sqlite3.connect(db) as conn:
                        replies = dict(conn.execute(
                            "select s.trainee, count(*) from sessions s join turns t on t.session_id = s.id "
                            "where t.speaker = 'patient' and t.idx > 1 group by s.trainee").fetchall())
                tabs[0][1].wait_for_timeout(500)
            browser.close()
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert sorted(replies) == ["Ana", "Ben"], output[-2000:]
    rows = open_store(db).list_sessions()
    assert sorted(row["trainee"] for row in rows) == ["Ana", "Ben"]
    assert config_file().read_text() == 'trainee = "Machine Owner"\n'
