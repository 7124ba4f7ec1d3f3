"""Transcript bubbles: one per turn, with code badges under trainee turns and talk badges under patient turns."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from simtrainer.feedback.base import Code
from simtrainer.text_safety import plain, terminal_safe

# Badge colours by MI adherence; client talk by direction.
BADGE_CLASS = {
    "AF": "adherent", "SEEK": "adherent", "AUTO": "adherent",
    "CONFRONT": "non-adherent", "PERSUADE": "non-adherent",
    "change": "adherent", "sustain": "non-adherent",
}


class CodeBadge(Static, can_focus=True):
    """A code such as `CR` or `Q open`; its tooltip (and F1 when focused) explains it."""

    def __init__(self, code: Code) -> None:
        shown = f"{code.label}?" if code.uncertain else code.label  # below the coder's measured confidence
        super().__init__(plain(f" {shown} "), classes=f"badge {BADGE_CLASS.get(code.code, 'neutral')}")
        self.code = code
        reason = code.reason + ("\n(uncertain: the coder is often wrong at this confidence)" if code.uncertain else "")
        self.tooltip = plain(f"{reason}\n— {code.scorer}" if code.scorer else reason)


class TurnBubble(Vertical):
    """One turn: who spoke, what they said, and any codes; the words are shown as written (no markup, no control
    sequences reach the terminal)."""

    def __init__(self, speaker: str, name: str, text: str = "", *, turn_id: int | None = None,
                 note: str = "") -> None:
        super().__init__(classes=f"turn {speaker}")
        self.speaker = speaker
        self.speaker_name = name
        self.turn_id = turn_id
        self._text = text
        self._line = Static(self._render_text(), classes="turn-text")
        self._badges = Horizontal(classes="badges")
        self._note = Static(plain(note), classes="turn-note")
        self._note.display = bool(note)
        self._pending: list[Code] | None = None

    def compose(self) -> ComposeResult:
        yield self._line
        yield self._badges
        yield self._note

    def on_mount(self) -> None:
        if self._pending is not None:
            self.set_codes(self._pending)

    def _render_text(self) -> Text:
        line = Text()
        line.append(f"{terminal_safe(self.speaker_name)}: ", style="bold")
        line.append(terminal_safe(self._text))
        return line

    @property
    def text(self) -> str:
        return self._text

    def set_text(self, text: str) -> None:
        self._text = text
        self._line.update(self._render_text())

    def append(self, piece: str) -> None:
        self.set_text(self._text + piece)

    def set_codes(self, codes: list[Code]) -> None:
        if not self._badges.is_mounted:
            self._pending = codes  # mounted in on_mount
            return
        self._pending = None
        self._badges.remove_children()
        self._badges.mount_all(CodeBadge(code) for code in codes)
