"""The trainee's name: asked once on first run, kept in config.toml, carried by new sessions; the home screen's
recent sessions open on Enter and fit their panel."""

import json
import stat
import tomllib

import pytest
from test_tui import no_speech, settle, start_first_scenario  # noqa: F401 - no_speech is autouse
from textual.geometry import Region

from simtrainer.config import config_file, load_settings
from simtrainer.config_write import save_setting
from simtrainer.errors import UserError
from simtrainer.identity import check_name
from simtrainer.llm.fake import FakeBackend
from simtrainer.session import Session
from simtrainer.storage import open_store
from simtrainer.ui.app import SimTrainerApp, make_app
from simtrainer.ui.screens.history import ReviewScreen
from simtrainer.ui.screens.home import HomeScreen
from simtrainer.ui.screens.identity import NameScreen
from simtrainer.workspace import Workspace

SIZE = (120, 40)
CONFIG = """# my settings
theme = "nord"  # dark
seed = 7

[patient]
temperature = 0.5
"""


def real_app() -> SimTrainerApp:
    """Built as `simtrainer` builds it (asks on first run), with the scripted model."""
    return SimTrainerApp(Workspace(load_settings(), model="fake"))


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def type_name(pilot, text: str) -> None:
    field = pilot.app.screen.query_one("#name")
    field.value = ""
    await pilot.press(*text)
    await pilot.press("enter")
    await pilot.pause()


# --- the domain: writing one setting, checking the name -------------------------------------------------------


def test_save_setting_keeps_the_rest_of_the_file_and_is_private(home):
    path = config_file()
    path.parent.mkdir(parents=True)
    path.write_text(CONFIG)
    path.chmod(0o644)
    save_setting("trainee", 'Ann "A" Lee')
    text = path.read_text()
    assert text.startswith("# my settings\n") and 'theme = "nord"  # dark' in text  # comments and layout kept
    assert tomllib.loads(text) == {"theme": "nord", "seed": 7, "trainee": 'Ann "A" Lee',
                                   "patient": {"temperature": 0.5}}
    assert text.index("trainee") < text.index("[patient]")  # a top-level key, not one of [patient]'s
    assert mode(path) == 0o600
    save_setting("trainee", "Bob")
    assert tomllib.loads(path.read_text())["trainee"] == "Bob" and path.read_text().count("trainee") == 1
    assert load_settings().trainee == "Bob" and load_settings().theme == "nord"


def test_save_setting_creates_the_file(home):
    path = save_setting("trainee", "")
    assert path == config_file().resolve() and tomllib.loads(path.read_text()) == {"trainee": ""}
    assert mode(path) == 0o600 and mode(path.parent) == 0o700


def test_save_setting_refuses_a_broken_file_and_leaves_it(home):
    path = config_file()
    path.parent.mkdir(parents=True)
    path.write_text("theme = \n")
    with pytest.raises(UserError, match="not valid TOML") as caught:
        save_setting("trainee", "Ann")
    assert caught.value.where == str(path.resolve())
    assert path.read_text() == "theme = \n"


def test_a_multiline_value_falls_back_to_a_whole_rewrite(home):
    path = config_file()
    path.parent.mkdir(parents=True)
    path.write_text('scenario_dirs = [\n  "/a",\n  "/b",\n]\n[speech]\nenabled = false\n')
    save_setting("trainee", "Ann")
    assert tomllib.loads(path.read_text()) == {"scenario_dirs": ["/a", "/b"], "trainee": "Ann",
                                               "speech": {"enabled": False}}


@pytest.mark.parametrize("text, why", [("", "empty"), ("   ", "empty"), ("x" * 61, "61 characters"),
                                       ("Ann\x1b[2J", "non-printable"), ("Ann\nLee", "non-printable"),
                                       ("Ann\u202eeeL", "non-printable")])
def test_bad_names_are_refused(text, why):
    with pytest.raises(UserError, match=why):
        check_name(text)


def test_names_are_stripped():
    assert check_name("  Zoë O'Neil-Ngũgĩ 42  ") == "Zoë O'Neil-Ngũgĩ 42"
    assert check_name("x" * 60) == "x" * 60


# --- the app -----------------------------------------------------------------------------------------------


async def test_first_run_asks_saves_and_new_sessions_carry_the_name(home):
    path = config_file()
    path.parent.mkdir(parents=True)
    path.write_text(CONFIG)
    app = real_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, NameScreen) and app.screen.first_run
        await type_name(pilot, "  Ann Lee ")
        assert isinstance(app.screen, HomeScreen)
        assert app.workspace.settings.trainee == "Ann Lee"
        assert "Trainee: Ann Lee" in str(app.screen.query_one("#model-indicator").render())
        saved = tomllib.loads(path.read_text())
        assert saved == {**tomllib.loads(CONFIG), "trainee": "Ann Lee"} and mode(path) == 0o600
        screen = await start_first_scenario(pilot)
        assert app.workspace.store.get_session(screen.session.id)["trainee"] == "Ann Lee"

    app = real_app()  # the second run does not ask
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen) and app.workspace.settings.trainee == "Ann Lee"


async def test_skip_is_remembered(home):
    app = real_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, NameScreen)
        await pilot.click("#skip")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen) and app.workspace.settings.trainee == ""
    assert tomllib.loads(config_file().read_text()) == {"trainee": ""}
    app = real_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)


async def test_a_name_from_the_environment_is_not_asked_for(home, monkeypatch):
    monkeypatch.setenv("SIMTRAINER_TRAINEE", "Kim")
    app = real_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
    assert not config_file().exists()


async def test_invalid_names_are_refused_with_a_message(home):
    app = real_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        field = app.screen.query_one("#name")
        field.value = "Ann\x07"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, NameScreen)
        assert "non-printable" in str(app.screen.query_one("#name-error").render())
        await type_name(pilot, "   ")
        assert isinstance(app.screen, NameScreen) and "empty" in str(app.screen.query_one("#name-error").render())
        assert not config_file().exists()
        await type_name(pilot, "Ann")
        assert isinstance(app.screen, HomeScreen)


async def test_the_name_binding_changes_it_and_cancel_keeps_it(home):
    save_setting("trainee", "Ann")
    app = real_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, NameScreen) and not app.screen.first_run
        assert app.screen.query_one("#name").value == "Ann"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen) and app.workspace.settings.trainee == "Ann"
        assert tomllib.loads(config_file().read_text())["trainee"] == "Ann"
        await pilot.press("n")
        await pilot.pause()
        await type_name(pilot, "Bea")
        assert app.workspace.settings.trainee == "Bea"
        assert tomllib.loads(config_file().read_text())["trainee"] == "Bea"
        screen = await start_first_scenario(pilot)
        assert app.workspace.store.get_session(screen.session.id)["trainee"] == "Bea"


async def test_the_keymap_remaps_the_name_binding_and_the_palette_offers_it(home):
    save_setting("trainee", "Ann")
    app = make_app(load_settings(keymap={"trainee_name": "ctrl+n"}), model="fake")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(app.screen, NameScreen)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"your name")
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, NameScreen)


# --- the home screen's recent sessions ------------------------------------------------------------------------


def seed_sessions(titles_from: list[str]) -> list[str]:
    store = open_store()
    settings = load_settings()
    ids = []
    for card_id in titles_from:
        session = Session(store, Workspace(settings).card(card_id), FakeBackend(["I work nights."]), trainee="Ann")
        list(session.submit("What brings you in today?"))
        session.end()
        ids.append(session.id)
    store.close()
    return ids


async def test_enter_on_a_recent_session_opens_it_read_only(home):
    first, second = seed_sessions(["mi-alcohol-nurse", "cbt-panic-supermarket"])
    app = make_app(load_settings(), model="fake")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#recent")
        table.focus()
        await pilot.press("down")  # newest first: the second row is the first session
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen) and app.screen.session_id == first
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen) and table.cursor_row == 1


@pytest.mark.parametrize("size", [(100, 30), (160, 40)])
async def test_recent_columns_are_not_cut_on_first_render(home, size):
    seed_sessions(["mi-alcohol-nurse", "dearman-manager-schedule"])
    app = make_app(load_settings(), model="fake")
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.pause()
        table = app.screen.query_one("#recent")
        assert [c.label.plain for c in table.columns.values()] == ["started", "scenario", "turns", "status"]
        lines = [strip.text for strip in table.render_lines(Region(0, 0, *table.size))]
        for r, row in enumerate(app.workspace.store.list_sessions()):
            line = lines[r + 2].strip("│ ")  # under the border and the header
            started = row["started_at"][:16].replace("T", " ")
            assert started in line and line.endswith(row["status"])  # date and status whole, nothing cut
            if size[0] >= 160:  # room enough for whole titles
                assert row["scenario_title"] in line
            else:
                assert row["scenario_title"][:10] in line
        assert not table.show_horizontal_scrollbar


def test_practice_json_has_the_trainee(cli, tmp_path):
    script = tmp_path / "lines.txt"
    script.write_text("What brings you in today?\n")
    args = ("practice", "-s", "mi-alcohol-nurse", "--script", str(script), "--json", "-m", "fake")
    assert json.loads(cli(*args).stdout)["trainee"] == ""
    assert json.loads(cli(*args, "--trainee", "Ann Lee").stdout)["trainee"] == "Ann Lee"


def test_snapshot_first_run_name(snap_compare, home):
    async def run_before(pilot):
        await pilot.pause()
        pilot.app.screen.query_one("#name").cursor_blink = False

    assert snap_compare(real_app(), terminal_size=SIZE, run_before=run_before)
