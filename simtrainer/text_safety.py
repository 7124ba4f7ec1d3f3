"""User text is data: make it inert for each place it is shown or written.

Trainee lines, patient replies, card fields, notes and names from a config can hold anything. Shown raw, an
escape sequence clears the screen, retitles the window or plants a hyperlink; a spreadsheet runs a cell that
starts with `=`; a Markdown viewer runs `<script>` or loads a remote image. Each sink gets its own escaping
here: the terminal (`terminal_safe`, `plain`), CSV (`csv_cell`), Markdown (`markdown_inline`) and printed JSON
(`json_safe`, lossless). Stored text is never changed; escaping happens where it leaves the program.
"""

from __future__ import annotations

import re

from rich.text import Text

# Escape sequences, whole: CSI (ESC [ or 8-bit 0x9b) with parameters; string controls (OSC, DCS, SOS, PM, APC,
# 7- or 8-bit) up to their terminator (BEL or ST) or, unterminated, to the next ESC; any other ESC sequence.
_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
# Left over: C0 controls but tab and newline, DEL, C1 controls; bidi embeddings, overrides and isolates, which
# can make a line read differently from what it holds.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    """`text` without escape sequences or control characters (tab and newline kept; CR LF becomes a newline)."""
    text = text.replace("\r\n", "\n")
    return _CONTROL.sub("", _SEQUENCE.sub("", text))


def plain(text: object, style: str = "") -> Text:
    """User text for rich or Textual: a `Text`, so no markup in it is parsed, and terminal-safe."""
    return Text(terminal_safe(str(text)), style=style)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A CSV cell a spreadsheet will not run as a formula: control characters dropped, then text starting with
    = + - @ tab or CR gets a leading apostrophe (OWASP's advice). Non-text values pass unchanged."""
    if not isinstance(value, str):
        return value
    value = terminal_safe(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


# Characters that open links, images, code, emphasis, tables and heading ends get a backslash (with [ and ]
# escaped, `(url)` and `!` stay plain text); <, > and & become entities, so the file itself holds no tag; a block
# marker is escaped where the text starts.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~])")
_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MD_BLOCK_START = re.compile(r"^(\s*(?:\d+)?)([-+=.)])")


def markdown_inline(text: object) -> str:
    """User text placed inside a Markdown line, shown literally: no HTML, link, image or emphasis comes alive,
    and newlines become spaces so the text cannot start a block of its own."""
    text = " ".join(terminal_safe(str(text)).split("\n"))
    text = _MD_SPECIAL.sub(r"\\\1", re.sub(r"[&<>]", lambda m: _MD_ENTITIES[m.group()], text))
    return _MD_BLOCK_START.sub(r"\1\\\2", text)


_JSON_INVISIBLE = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def json_safe(dumped: str) -> str:
    """JSON text from `json.dumps(..., ensure_ascii=False)` with the control characters it leaves raw (DEL, C1,
    bidi controls) written as \\u escapes: the same data, safe to print to a terminal."""
    return _JSON_INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", dumped)
