"""The trainee's name: asked on first run, changed later with N on the home screen or the command palette."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from simtrainer.errors import UserError
from simtrainer.identity import MAX_LENGTH, check_name, remember_skipped, save_name
from simtrainer.text_safety import plain

FIRST_RUN = (
    "What name should your sessions carry? Your name or a student id, so you (and a supervisor) can follow "
    "your progress. It is kept in your settings on this machine and stored with each session. You can "
    "change it later with [b]N[/b] on the home screen."
)
CHANGE = "The name stored with the sessions you start from now on. Sessions already saved keep theirs."
SHARED = (
    "Several students practise on this machine, each in their own browser tab. Type [b]your[/b] name or student "
    "id: the sessions you start in this tab are saved under it. It is kept for this tab only."
)


class NameScreen(ModalScreen[str | None]):
    """Save keeps the checked name in config.toml and returns it; Skip (first run) or Cancel returns None. A
    first-run skip is remembered, so the question is not asked at every start. On a shared machine (`shared`)
    the name is checked and returned, never written to the file, and a first-run name cannot be skipped."""

    DEFAULT_CSS = """
    NameScreen { align: center middle; }
    #name-box { width: 70; height: auto; border: thick $primary; background: $surface; padding: 1 2; }
    #name-box Input { margin-top: 1; }
    #name-error { color: $error; height: auto; }
    #name-box Horizontal { height: auto; margin-top: 1; }
    #name-box Button { margin-right: 2; }
    """
    BINDINGS = [Binding("escape", "skip", "Skip", id="skip_name")]

    def __init__(self, current: str = "", *, first_run: bool = False, shared: bool = False) -> None:
        super().__init__()
        self.current, self.first_run, self.shared = current, first_run, shared

    def compose(self) -> ComposeResult:
        with Vertical(id="name-box"):
            yield Static(SHARED if self.shared else FIRST_RUN if self.first_run else CHANGE)
            yield Input(self.current, placeholder=f"Your name or student id (up to {MAX_LENGTH} characters)",
                        id="name")
            yield Static(id="name-error")
            with Horizontal():
                yield Button("Save", id="save", variant="primary")
                if not (self.shared and self.first_run):
                    yield Button("Skip" if self.first_run else "Cancel", id="skip")

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    @on(Input.Submitted, "#name")
    @on(Button.Pressed, "#save")
    def save(self) -> None:
        text = self.query_one("#name", Input).value
        try:
            name = check_name(text) if self.shared else save_name(text)
        except UserError as error:
            self.show_error(error)
            return
        self.dismiss(name)

    def show_error(self, error: UserError) -> None:
        self.query_one("#name-error", Static).update(
            Text.assemble(plain(error.what), *((" ", plain(error.fix)) if error.fix else ()))
        )

    @on(Button.Pressed, "#skip")
    def action_skip(self) -> None:
        if self.shared and self.first_run:
            self.show_error(UserError("A name is needed on a shared machine.",
                                      fix="Type your name or student id, so your sessions are kept apart."))
            return
        if self.first_run and not self.shared:
            try:
                remember_skipped()
            except UserError as error:
                self.notify(plain(error.what).plain, title="Not remembered; asked again next time",
                            severity="warning", markup=False)
        self.dismiss(None)
