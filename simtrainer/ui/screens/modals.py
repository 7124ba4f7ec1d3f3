"""Modal screens: help (F1), errors that must be read, export format choice, a yes/no before ending."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Markdown, Static

from simtrainer.feedback.labels import code_label
from simtrainer.rubrics import load_rubric
from simtrainer.text_safety import markdown_inline, plain


def help_markdown(focused_code: str | None = None) -> str:
    mi = load_rubric("mi")
    lines = ["# simtrainer help", ""]
    if focused_code:
        lines += [f"**Focused badge:** {markdown_inline(focused_code)}", ""]
    lines += [
        "## Keys",
        "- **Enter** send your reply · **Shift+Enter** / **Ctrl+J** new line",
        "- **Ctrl+E** end the session and see the summary · **Esc** end it too, after asking",
        "- **F5** push-to-talk (again to stop; the transcript lands in the reply box for review) · "
        "**F8** mute the patient's voice",
        "- **H** history · **E** export · **R** (in History) resume an interrupted session · "
        "**Ctrl+P** command palette · **F1** this help",
        "- **T** (on the home screen) trainees' progress: each trainee's sessions and trends; Enter opens a session",
        "- Reviewing a session (opened from History or a recent session): **↑/↓** or **J/K** step through the "
        "turns (the focused turn shows each code's confidence and reason) · **C** correct the focused turn's code · "
        "**N** note on it · **G** rate the rubric's global items · **R** mark the session reviewed · "
        "**P** write the HTML report · **E** export",
        "",
        f"## {mi.name}: codes under your turns",
        "",
    ]
    for code in mi.codes:
        tag = {"adherent": " *(MI-adherent)*", "non-adherent": " *(MI-non-adherent)*"}.get(code.adherence, "")
        lines.append(f"- **{code.label}** — {code.name}{tag}: {code.description}")
    lines += ["", "## Patient talk", ""]
    for code in mi.client_codes.values():
        lines.append(f"- **{code.label}** — {code.name}: {code.description}")
    lines += ["", "## Thresholds (fair / good)", ""]
    for key, t in mi.thresholds.items():
        lines.append(f"- {t.description or key}: {t.fair} / {t.good}")
    lines += ["", "Globals are estimates computed from the coded turns, not a trained rater's judgement.", ""]
    lines += _rubric_sections()
    return "\n".join(lines)


def _rubric_sections() -> list[str]:
    """DEAR MAN and CTRS badges, by the labels the badges show (an MI session shows only MI codes, a DEAR MAN
    session only DEAR MAN, a CBT session the CTRS and its question and reflection counts)."""
    dearman, ctrs = load_rubric("dearman"), load_rubric("ctrs")
    lines = [f"## {dearman.name}: skills under your turns (DEAR MAN sessions)", ""]
    for item in dearman.items:
        lines.append(f"- **{code_label('dearman', item.id)}** — {item.name}: {item.description}")
    lines += ["", f"## {ctrs.name}: items under your turns (CBT sessions)", ""]
    for item in ctrs.items:
        lines.append(f"- **{code_label('ctrs', item.id)}** — {item.name}: {item.description}")
    lines += ["", "CBT sessions also count your questions (**Q**) and reflections (**SR**, **CR**) as micro-skills, "
              "without MI's thresholds."]
    return lines


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close", id="close_help")]

    def __init__(self, focused_code: str | None = None) -> None:
        super().__init__()
        self.focused_code = focused_code

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Markdown(help_markdown(self.focused_code))


class ErrorScreen(ModalScreen[None]):
    """For errors that must be read: what went wrong, where, how to fix it."""

    BINDINGS = [Binding("escape,enter", "dismiss", "Close", id="close_error")]

    def __init__(self, title: str, what: str, where: str | None, fix: str | None) -> None:
        super().__init__()
        self.error_title, self.what, self.where, self.fix = title, what, where, fix

    def compose(self) -> ComposeResult:
        with Vertical(id="error-box"):
            yield Static(Text.assemble(plain(self.error_title, "bold red"), "\n\n", plain(self.what)))
            if self.where:
                yield Static(Text.assemble(("Where:", "bold"), " ", plain(self.where)))
            if self.fix:
                yield Static(Text.assemble(("Fix:", "bold"), " ", plain(self.fix)))
            yield Button("Close", id="close", variant="error")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss()


class ExportScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="cancel_export")]

    def compose(self) -> ComposeResult:
        with Vertical(id="export-box"):
            yield Static("Export this session as:")
            yield Button("Markdown (readable transcript)", id="md", variant="primary")
            yield Button("JSON (complete record)", id="json")
            yield Button("CSV (one row per turn)", id="csv")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id)


class ConfirmScreen(ModalScreen[bool]):
    """A question before a step that cannot be undone; the safe answer has the focus, so Enter keeps things."""

    BINDINGS = [
        Binding("escape,n", "dismiss(False)", "No", id="confirm_no"),
        Binding("y", "dismiss(True)", "Yes", id="confirm_yes"),
    ]

    def __init__(self, question: str, yes: str, no: str) -> None:
        super().__init__()
        self.question, self.yes, self.no = question, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(self.question, markup=False)
            with Horizontal():
                yield Button(f"{self.no} (N)", id="no", variant="primary")
                yield Button(f"{self.yes} (Y)", id="yes", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")
