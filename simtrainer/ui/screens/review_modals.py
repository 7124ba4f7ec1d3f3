"""A supervisor's review modals: correct a turn's code, note on a turn, rate the rubric's global items.

Each returns what the supervisor chose (or None on Esc); the review screen checks it with the same domain
functions the `sessions correct / annotate / rate` commands use and stores it. Problems the modal can see itself
(no code picked, an empty note, a rating out of range) are shown in the modal, which stays open."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from simtrainer.errors import UserError
from simtrainer.feedback.labels import SEVERAL
from simtrainer.review.corrections import rating_scale, resolve_rating
from simtrainer.text_safety import plain

BOX_CSS = """
{name} { align: center middle; }
{name} > Vertical { width: 76; height: auto; max-height: 90%; border: thick $primary; background: $surface;
                    padding: 1 2; }
{name} Input { margin-top: 1; }
{name} .modal-error { color: $error; height: auto; }
{name} Horizontal.buttons { height: auto; margin-top: 1; }
{name} Button { margin-right: 2; }
"""


class _ReviewModal(ModalScreen):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel_review_modal")]

    def show_error(self, message: Text | str) -> None:
        self.query_one(".modal-error", Static).update(plain(message) if isinstance(message, str) else message)

    def author(self) -> str:
        return self.query_one("#author", Input).value.strip()

    def buttons(self) -> Horizontal:
        return Horizontal(Button("Save", id="save", variant="primary"), Button("Cancel", id="cancel"),
                          classes="buttons")

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class Correction:
    rubric: str
    code: str  # as `resolve_code` takes it
    author: str


class CorrectScreen(_ReviewModal):
    """Pick the code a turn should have had, from the codes valid for it: Enter takes the highlighted one.
    Options in `combinable` (DEAR MAN skills, one turn may show several) show boxes, ticked for the skills the
    turn has now (`marked`); Enter on a ticked skill, or anywhere once Space has changed a box, saves the ticked ones
    as one correction joined by `SEVERAL`, as `sessions correct` takes them (Enter on the highlighted automatic
    skill of a describe+assert turn once saved "describe" alone)."""

    DEFAULT_CSS = BOX_CSS.replace("{name}", "CorrectScreen") + "CorrectScreen OptionList { max-height: 16; }"
    BINDINGS = [Binding("space", "mark", "Mark several", id="mark_code")]

    def __init__(self, heading: str, options: list[tuple[str, str, str]], author: str, highlight: int = 0,
                 combinable: frozenset[int] = frozenset(), marked: frozenset[int] = frozenset()) -> None:
        super().__init__()
        self.heading, self.options, self.default_author, self.highlight = heading, options, author, highlight
        self.combinable, self.marked = combinable, set(marked) & combinable
        self.touched = False  # Space changed a box: Enter saves the boxes, not the highlighted code

    def _prompt(self, i: int) -> str:
        rubric, _, what = self.options[i]
        box = ("[x] " if i in self.marked else "[ ] ") if i in self.combinable else ""
        return plain(f"{box}{rubric}: {what}")

    def compose(self) -> ComposeResult:
        with Vertical():
            hint = (" Space ticks or unticks skills (one turn may show several); Enter on a ticked skill saves all the "
                    "ticked ones, Enter on any other code saves that code alone.") if self.combinable else ""
            yield Static(plain(self.heading + hint))
            yield OptionList(*(Option(self._prompt(i), id=str(i)) for i in range(len(self.options))), id="codes")
            yield Label("Your name (stored with the correction):")
            yield Input(self.default_author, placeholder="Your name", id="author")
            yield Static(classes="modal-error")
            yield self.buttons()

    def on_mount(self) -> None:
        codes = self.query_one("#codes", OptionList)
        codes.highlighted = self.highlight  # the automatic code, so a supervisor sees what they change
        codes.focus()

    def action_mark(self) -> None:
        codes = self.query_one("#codes", OptionList)
        at = codes.highlighted
        if at is None or at not in self.combinable:
            self.show_error("Only the rubric's skills can be ticked together; pick this code alone with Enter.")
            return
        self.marked ^= {at}
        self.touched = True
        codes.replace_option_prompt_at_index(at, self._prompt(at))
        self.show_error("")

    @on(OptionList.OptionSelected, "#codes")
    @on(Input.Submitted, "#author")
    @on(Button.Pressed, "#save")
    def save(self) -> None:
        highlighted = self.query_one("#codes", OptionList).highlighted
        boxes = (self.touched or highlighted in self.marked) and self.marked
        if self.touched and not self.marked:
            self.show_error("No skill is ticked: tick the skills this turn shows (Space), or pick `none`.")
            return
        if boxes and highlighted not in self.combinable:
            self.show_error("Ticked skills are saved together: highlight one of them (or untick them with Space "
                            "to pick this code alone).")
            return
        if not boxes and highlighted is None:
            self.show_error("Pick a code first (up/down, then Enter).")
            return
        chosen = sorted(self.marked) if boxes else [highlighted]
        rubric = self.options[chosen[0]][0]
        self.dismiss(Correction(rubric, SEVERAL.join(self.options[i][1] for i in chosen), self.author()))


@dataclass(frozen=True)
class Note:
    body: str
    author: str


class NoteScreen(_ReviewModal):
    """A note on one turn; an empty note is refused here, as `sessions annotate` refuses it."""

    DEFAULT_CSS = BOX_CSS.replace("{name}", "NoteScreen")

    def __init__(self, heading: str, author: str) -> None:
        super().__init__()
        self.heading, self.default_author = heading, author

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(plain(self.heading))
            yield Input(placeholder="What the trainee could try here…", id="note")
            yield Input(self.default_author, placeholder="Your name (stored with the note)", id="author")
            yield Static(classes="modal-error")
            yield self.buttons()

    def on_mount(self) -> None:
        self.query_one("#note", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#save")
    def save(self) -> None:
        body = self.query_one("#note", Input).value
        if not body.strip():
            self.show_error("The note is empty: write what the trainee could try here.")
            self.query_one("#note", Input).focus()
            return
        self.dismiss(Note(body.strip(), self.author()))


@dataclass(frozen=True)
class Ratings:
    scores: dict[str, int]  # item id -> score, checked against the rubric
    author: str


class RateScreen(_ReviewModal):
    """One input per global item of the rubric (prefilled with its current hand rating); blank items stay
    unrated."""

    DEFAULT_CSS = BOX_CSS.replace("{name}", "RateScreen") + """
    RateScreen VerticalScroll { height: auto; max-height: 20; }
    RateScreen .rate-row { height: auto; }
    RateScreen .rate-row Label { width: 40; margin-top: 2; }
    RateScreen .rate-row Input { width: 12; }
    """

    def __init__(self, rubric: str, current: dict[str, int], author: str) -> None:
        super().__init__()
        self.rubric, self.current, self.default_author = rubric, current, author
        self.scale = rating_scale(rubric)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(plain(f"Rate the {self.rubric} rubric's items by hand (blank: leave the estimate)."))
            with VerticalScroll():
                for item, (low, high, name) in self.scale.items():
                    with Horizontal(classes="rate-row"):
                        yield Label(plain(f"{name} ({low}-{high})"))
                        yield Input(str(self.current.get(item, "")), id=f"rate-{item}", type="integer",
                                    max_length=2)
            yield Input(self.default_author, placeholder="Your name (stored with the ratings)", id="author")
            yield Static(classes="modal-error")
            yield self.buttons()

    def on_mount(self) -> None:
        self.query(".rate-row Input").first().focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#save")
    def save(self) -> None:
        scores: dict[str, int] = {}
        for item in self.scale:
            box = self.query_one(f"#rate-{item}", Input)
            if not box.value.strip():
                continue
            try:
                scores[item] = int(box.value)
                resolve_rating(self.rubric, item, scores[item], where="rating")
            except ValueError:
                self.show_error(f"'{box.value}' is not a whole number.")
                box.focus()
                return
            except UserError as error:  # the fix names the CLI's --score; the range in `what` is what counts here
                self.show_error(error.what)
                box.focus()
                return
        if not scores:
            self.show_error("Nothing rated: give at least one item a score.")
            return
        self.dismiss(Ratings(scores, self.author()))
