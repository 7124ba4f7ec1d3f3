"""The Textual app: screens, bindings with ids (remappable by the `keymap` setting), theme, command palette;
exercise packs opened from home (or from the command line) run in the practice screen."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.command import Hit, Hits, Provider
from textual.markup import escape

from simtrainer.classroom.pack import Pack
from simtrainer.config import Settings, data_dir
from simtrainer.errors import UserError
from simtrainer.identity import ENV, asks_every_start, needs_asking
from simtrainer.scenarios import Card
from simtrainer.text_safety import terminal_safe
from simtrainer.workspace import Workspace

HAND_IN_NAME = (
    "This session has no name, so your instructor could not tell the hand-in is yours. Type your name or student "
    "id: the bundle carries it, and sessions you start from now on do too."
)


class ScenarioCommands(Provider):
    """Command palette: start any scenario, open history, help or trainees' progress, change the trainee's name."""

    async def search(self, query: str) -> Hits:
        app = self.app
        assert isinstance(app, SimTrainerApp)
        matcher = self.matcher(query)
        cards, _ = app.workspace.cards()
        for card in cards:
            text = escape(terminal_safe(f"Practise: {card.title} ({card.modality})"))  # the palette reads markup
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(app.start_practice, card),
                          help=escape(terminal_safe(card.summary)))
        for text, action in (("Session history", app.open_history), ("Help: codes and keys", app.action_help),
                             ("Trainees: progress and trends", app.open_progress),
                             ("Exercise: open an exercise pack", app.open_exercise),
                             ("Your name (stored with new sessions)", app.change_name)):
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), action)


class SimTrainerApp(App):
    CSS_PATH = "styles/app.tcss"
    TITLE = "simtrainer"
    COMMANDS = App.COMMANDS | {ScenarioCommands}
    BINDINGS = [
        Binding("f1", "help", "Help", id="help"),
        Binding("ctrl+q", "quit", "Quit", id="quit_app", priority=True),
    ]

    def __init__(self, workspace: Workspace, *, ask_name: bool = True, exercise: Pack | None = None) -> None:
        super().__init__()
        self.workspace = workspace
        self.ask_name = ask_name  # the first-run question for the trainee's name
        self.exercise = exercise  # `simtrainer --exercise PACK`: opened straight away (its model already in use)
        self.shared = asks_every_start()  # a served tab: ask at every start, keep the name in this app only
        if self.shared:  # the machine's saved name is nobody's in a served tab, until its student gives theirs
            workspace.settings = workspace.settings.model_copy(update={"trainee": ""})
        self.exports_dir = data_dir() / "exports"
        self.hand_in_dir = data_dir() / "hand-in"
        self.notices_shown: set[str] = set()  # why speech is off is said once per run, not in every session

    def on_mount(self) -> None:
        from simtrainer.ui.settings_check import check_look

        settings = self.workspace.settings
        keymap, problems = check_look(settings.theme, settings.keymap, self.available_themes)
        if settings.theme in self.available_themes:
            self.theme = settings.theme
        if keymap:
            self.set_keymap(keymap)
        if problems:
            self.notify(terminal_safe("\n".join(problems)), title="Settings ignored", severity="warning", timeout=20,
                        markup=False)
        from simtrainer.ui.screens.home import HomeScreen

        self.push_screen(HomeScreen())
        try:
            first_run = self.ask_name and (self.shared or needs_asking(settings))
        except UserError as error:  # the config file broke since the start; asking would only fail to save
            self.show_error("Cannot read your settings", error)
            first_run = False
        start = partial(self.start_exercise, self.exercise) if self.exercise is not None else None
        if first_run:
            self.change_name(first_run=True, then=start)
        elif start is not None:
            start()

    def change_name(self, *, first_run: bool = False, then: Callable[[], None] | None = None) -> None:
        """Ask for the trainee's name; a saved one goes with every session started from now on. `then` runs
        after the question, answered or not."""
        from simtrainer.ui.screens.identity import NameScreen

        def saved(name: str | None) -> None:
            self.name_saved(name)
            if then is not None:
                then()

        current = "" if self.shared and first_run else self.workspace.settings.trainee  # not the machine's name
        self.push_screen(NameScreen(current, first_run=first_run, shared=self.shared), saved)

    def listed_sessions(self, *, limit: int, query: str | None = None) -> list[dict[str, Any]]:
        """The sessions Home and History list: all of this machine's, or in a served tab only its student's
        (none before they give their name), since every tab shares one data folder."""
        if not self.shared:
            return self.workspace.store.list_sessions(limit=limit, query=query)
        name = self.workspace.settings.trainee
        return self.workspace.store.list_sessions(limit=limit, query=query, trainee=name) if name else []

    def name_saved(self, name: str | None) -> None:
        if name is None:
            return
        self.workspace.settings = self.workspace.settings.model_copy(update={"trainee": name})
        self.notify(terminal_safe(f"New sessions carry the name {name}."), title="Name saved", markup=False)
        if os.environ.get(ENV) is not None and not self.shared:
            self.notify(f"{ENV} is set and overrides the saved name the next time simtrainer starts.",
                        title="Name", severity="warning", markup=False, timeout=20)
        from simtrainer.ui.screens.home import HomeScreen

        for screen in self.screen_stack:
            if isinstance(screen, HomeScreen):
                screen.show_in_use()
                screen.refresh_recent()  # a served tab lists its student's sessions

    def start_practice(self, card: Card) -> None:
        from simtrainer.ui.screens.practice import PracticeScreen

        self.push_screen(PracticeScreen(card))

    def show_summary(self, session: Any, summary: dict[str, Any], *, stopped: str | None = None) -> None:
        from simtrainer.ui.screens.summary import SummaryScreen

        self.switch_screen(SummaryScreen(session.id, session.card.title, summary, stopped=stopped))

    # --- exercises -------------------------------------------------------------------------------------
    def open_exercise(self) -> None:
        """Pick a shipped example pack or give a pack's path; a pack with a problem shows it, what/where/fix."""
        from simtrainer.ui.screens.exercise import OpenExerciseScreen

        self.push_screen(OpenExerciseScreen(), lambda path: self.load_exercise(path) if path else None)

    def load_exercise(self, path: Path | str) -> None:
        from simtrainer.classroom.pack import load_pack

        try:
            pack = load_pack(path, self.workspace.settings)
        except UserError as error:
            self.show_error("Cannot open this exercise pack", error)
            return
        self.start_exercise(pack)

    def start_exercise(self, pack: Pack) -> None:
        from simtrainer.ui.screens.practice import PracticeScreen

        try:
            switched = self._use_pack_model(pack)
        except UserError as error:
            self.show_error("Cannot open this exercise pack", error)
            return
        self.push_screen(PracticeScreen(pack.card, pack=pack, check_model=switched))

    def resume_practice(self, session_id: str) -> None:
        """Continue an interrupted session; an exercise's with its pack (which must be unchanged), its goals and
        its limits, the time limit counting from the session's first start. Refusals are `UserError`s."""
        from simtrainer.session import check_resumable
        from simtrainer.ui.screens.practice import PracticeScreen

        workspace = self.workspace
        row = workspace.store.get_session(session_id)
        check_resumable(row)
        if not row.get("exercise"):
            self.push_screen(PracticeScreen(workspace.card(row["scenario_id"]), resume=session_id))
            return
        from simtrainer.classroom.pack import reopen

        pack = reopen(row["exercise"], workspace.settings)
        elapsed = (datetime.now(UTC) - datetime.fromisoformat(row["started_at"])).total_seconds()
        switched = self._use_pack_model(pack)
        self.push_screen(PracticeScreen(pack.card, resume=session_id, pack=pack, elapsed_s=max(0.0, elapsed),
                                        check_model=switched))

    def _use_pack_model(self, pack: Pack) -> bool:
        """Switch to the model the pack names (a shared server, a name, a file), if it names another; True when
        switched, so the session checks it before it starts."""
        from simtrainer.ui.screens.practice import PracticeScreen

        settings, model = pack.model_for(self.workspace.settings)
        if model is None or model == self.workspace.model_name:
            return False
        if any(isinstance(s, PracticeScreen) and s.session is not None and not s.session.ended
               for s in self.screen_stack):
            raise UserError(f"This exercise runs on another model ({pack.model_text}), and a session is still "
                            "running on this one.", where=str(pack.path),
                            fix="End the session you are in (Ctrl+E), then open the exercise from the home screen.")
        self.workspace.use_model(settings, model)
        self.notify(terminal_safe(f"This exercise runs on the model {pack.model_text}."), title="Exercise model",
                    markup=False)
        from simtrainer.ui.screens.home import HomeScreen

        for screen in self.screen_stack:
            if isinstance(screen, HomeScreen):
                screen.show_in_use()
        return True

    def hand_in_asking(self, session_id: str, then: Callable[[Path], None] | None = None) -> None:
        """Hand in a session (summary or History S); one saved without a name asks for it first (the identity
        screen), and that name is kept for the next sessions. `then` gets the bundle's path once written."""
        def write(trainee: str | None) -> None:
            path = self.hand_in(session_id, trainee)
            if path is not None and then is not None:
                then(path)

        if (self.workspace.store.get_session(session_id).get("trainee") or "").strip():
            write(None)
            return
        from simtrainer.ui.screens.identity import NameScreen

        def named(name: str | None) -> None:
            if name:
                self.name_saved(name)
                write(name)

        self.push_screen(NameScreen(self.workspace.settings.trainee, shared=self.shared, prompt=HAND_IN_NAME), named)

    def hand_in(self, session_id: str, trainee: str | None) -> Path | None:
        """Write the session's hand-in bundle into the data folder's `hand-in/`; its path, or None (shown why)."""
        from simtrainer.classroom.handin import submit

        store = self.workspace.store
        try:
            row = store.get_session(session_id)
            name = (row.get("trainee") or trainee or "").strip()
            exercise = (row.get("exercise") or {}).get("id", "exercise")
            path = self.hand_in_dir / f"{exercise}-{file_part(name)}-{row['id']}.json"
            self.hand_in_dir.mkdir(parents=True, exist_ok=True)
            submit(store, session_id, path, trainee=None if row.get("trainee") else trainee)
        except UserError as error:
            self.show_error("Cannot hand in this session", error)
            return None
        except OSError as exc:
            self.show_error("Cannot hand in this session", UserError(f"Cannot write the bundle: {exc.strerror or exc}",
                            where=str(self.hand_in_dir), fix="Check the data folder can be written."))
            return None
        self.notify(terminal_safe(f"Saved {path}"), title="Handed in", markup=False, timeout=20)
        return path

    def go_home(self) -> None:
        while len(self.screen_stack) > 2:
            self.pop_screen()
        if len(self.screen_stack) == 2 and type(self.screen).__name__ != "HomeScreen":
            self.pop_screen()

    def open_history(self) -> None:
        from simtrainer.ui.screens.history import HistoryScreen

        self.push_screen(HistoryScreen())

    def open_progress(self) -> None:
        from simtrainer.ui.screens.progress import ProgressScreen

        self.push_screen(ProgressScreen())

    def action_help(self) -> None:
        from simtrainer.ui.screens.modals import HelpScreen
        from simtrainer.ui.widgets.transcript import CodeBadge

        focused = self.focused
        code = f"{focused.code.label}: {focused.code.reason}" if isinstance(focused, CodeBadge) else None
        self.push_screen(HelpScreen(code))

    def show_error(self, title: str, error: UserError) -> None:
        from simtrainer.ui.screens.modals import ErrorScreen

        self.push_screen(ErrorScreen(title, error.what, error.where, error.fix))

    def export_session(self, session_id: str) -> None:
        from simtrainer.ui.screens.modals import ExportScreen

        def write(fmt: str | None) -> None:
            if fmt is None:
                return
            path = self.write_export(session_id, fmt)
            if path is not None:
                self.notify(terminal_safe(f"Saved {path}"), title="Exported", markup=False)

        self.push_screen(ExportScreen(), write)

    def write_export(self, session_id: str, fmt: str) -> Path | None:
        from simtrainer.review.export import export

        try:
            text = export(self.workspace.store, session_id, fmt)
            self.exports_dir.mkdir(parents=True, exist_ok=True)
            path = self.exports_dir / f"session-{session_id}.{fmt}"
            path.write_text(text, encoding="utf-8")
        except (OSError, UserError) as exc:
            self.notify(terminal_safe(str(exc)), title="Export failed", severity="error", markup=False)
            return None
        return path


def file_part(name: str) -> str:
    """A trainee's name as part of a file name: letters, digits and dashes only."""
    return "-".join("".join(c if c.isalnum() else " " for c in name).split()) or "trainee"


def make_app(settings: Settings, *, model: str | None = None, ask_name: bool = False,
             exercise: Pack | None = None) -> SimTrainerApp:
    """The factory for tests and the TUI benchmark: no first-run question for the name unless `ask_name`
    (`simtrainer` itself asks); `exercise` opens straight into that pack."""
    return SimTrainerApp(Workspace(settings, model=model), ask_name=ask_name, exercise=exercise)
