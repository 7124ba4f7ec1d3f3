"""The Textual app: screens, bindings with ids (remappable by the `keymap` setting), theme, command palette."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.command import Hit, Hits, Provider
from textual.markup import escape

from simtrainer.config import Settings, data_dir
from simtrainer.errors import UserError
from simtrainer.identity import ENV, asks_every_start, needs_asking
from simtrainer.scenarios import Card
from simtrainer.text_safety import terminal_safe
from simtrainer.workspace import Workspace


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

    def __init__(self, workspace: Workspace, *, ask_name: bool = True) -> None:
        super().__init__()
        self.workspace = workspace
        self.ask_name = ask_name  # the first-run question for the trainee's name
        self.shared = asks_every_start()  # a served tab: ask at every start, keep the name in this app only
        self.exports_dir = data_dir() / "exports"

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
        if first_run:
            self.change_name(first_run=True)

    def change_name(self, *, first_run: bool = False) -> None:
        """Ask for the trainee's name; a saved one goes with every session started from now on."""
        from simtrainer.ui.screens.identity import NameScreen

        current = "" if self.shared and first_run else self.workspace.settings.trainee  # not the machine's name
        self.push_screen(NameScreen(current, first_run=first_run, shared=self.shared), self._name_saved)

    def _name_saved(self, name: str | None) -> None:
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

    def start_practice(self, card: Card) -> None:
        from simtrainer.ui.screens.practice import PracticeScreen

        self.push_screen(PracticeScreen(card))

    def show_summary(self, session: Any, summary: dict[str, Any]) -> None:
        from simtrainer.ui.screens.summary import SummaryScreen

        self.switch_screen(SummaryScreen(session.id, session.card.title, summary))

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


def make_app(settings: Settings, *, model: str | None = None, ask_name: bool = False) -> SimTrainerApp:
    """The factory for tests and the TUI benchmark: no first-run question for the name unless `ask_name`
    (`simtrainer` itself asks)."""
    return SimTrainerApp(Workspace(settings, model=model), ask_name=ask_name)
