"""Exercise modals: open a pack (a shipped example or any pack file), its instructions before the first turn, and
the notice that the exercise's turn or time limit ended the session."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

from simtrainer.classroom.pack import Pack, examples, load_pack
from simtrainer.errors import UserError
from simtrainer.text_safety import plain


class OpenExerciseScreen(ModalScreen[Path | None]):
    """The shipped example packs (Enter opens one) and a path input for any pack file; returns the pack's path."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="cancel_exercise")]

    def compose(self) -> ComposeResult:
        with Vertical(id="exercise-box"):
            yield Static(Text.assemble(("Open an exercise", "bold"), "\nAn exercise pack sets the scenario, "
                                       "instructions, goals and a turn or time limit. Pick an example, or give "
                                       "the path to the pack your instructor handed out."))
            yield OptionList(id="examples")
            yield Input(placeholder="Path to a pack's .toml file, then Enter", id="pack-path")

    def on_mount(self) -> None:
        options = self.query_one("#examples", OptionList)
        options.border_title = "Examples shipped with simtrainer"
        settings = self.app.workspace.settings
        for name, path in examples().items():
            try:
                pack = load_pack(path, settings)
                label = Text.assemble(plain(pack.title, "bold"), "\n", plain(f"{name} · {pack.card.modality_name}"
                                                                              f" · {pack.limits_text()}", "dim"))
            except UserError:
                label = plain(name)  # opening it shows the problem
            options.add_option(Option(label, id=name))
        options.highlighted = 0 if options.option_count else None
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(examples()[event.option.id or ""])

    @on(Input.Submitted, "#pack-path")
    def open_path(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if text:
            self.dismiss(Path(text).expanduser())


class InstructionsScreen(ModalScreen[None]):
    """The exercise's instructions, limits and goals, read before the first turn (they stay in the side panel)."""

    BINDINGS = [Binding("escape,enter", "dismiss", "Start", id="start_exercise")]

    def __init__(self, pack: Pack) -> None:
        super().__init__()
        self.pack = pack

    def compose(self) -> ComposeResult:
        pack = self.pack
        goals = "\n".join(f"  • {goal.text}" for goal in pack.goals) or "  (none)"
        with Vertical(id="instructions-box"):
            with VerticalScroll():
                yield Static(Text.assemble(("Exercise: ", "bold"), plain(pack.title, "bold"), "\n\n",
                                           plain(pack.instructions), "\n\n", ("Limits: ", "bold"),
                                           plain(pack.limits_text()), "\n", ("Goals:", "bold"), "\n", plain(goals)),
                             id="instructions")
            yield Button("Start (Enter)", id="start", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#start", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss()


class ExerciseOverScreen(ModalScreen[None]):
    """The exercise's limit ended the session: why, then on to the summary."""

    BINDINGS = [Binding("escape,enter", "dismiss", "Summary", id="exercise_summary")]

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason

    def compose(self) -> ComposeResult:
        with Vertical(id="over-box"):
            yield Static(Text.assemble(("The exercise is over", "bold"), "\n\n",
                                       plain(f"{self.reason[:1].upper()}{self.reason[1:]}."),
                                       " Your session is saved and scored."))
            yield Button("See the summary (Enter)", id="summary", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#summary", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss()
