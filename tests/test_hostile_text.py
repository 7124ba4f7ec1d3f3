"""Hostile text is inert: escape sequences, Rich markup, spreadsheet formulas and HTML typed by a trainee, written
in a card or a note are shown literally in every view and cannot act in any export."""

from __future__ import annotations

import csv
import io
import json
import re
import tomllib

import pytest
import tomli_w
from conftest import REPO, run_cli
from markdown_it import MarkdownIt
from rich.console import Console

from simtrainer.config import data_dir
from simtrainer.patient.prompt import clean_utterance, speaker_labels
from simtrainer.scenarios import get_card
from simtrainer.text_safety import csv_cell, json_safe, markdown_inline, terminal_safe

ESCAPES = ["\x1b[2J", "\x1b]0;title\x07", "\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\", "\x9b31m"]
MARKUP = ["[/i]", "[bold red]x[/]", "[link=http://evil.example]x[/link]"]
FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0", "@SUM(A1)", "-2+3"]
HTML = ["<script>alert(1)</script>", "[x](javascript:alert(1))", "![i](http://evil.example/p.png)"]
EVERYTHING = " ".join(MARKUP + ESCAPES + HTML)
CARD_ID = "hostile-card"

#: what the card says, and what each view must show for it
TITLE = "Hostile [/i] [bold red]x[/] \x1b]0;title\x07\x9b31m"
NAME = "Dana[/i]\x1b[2J"
OPENING = "Hello [/i] there. " + EVERYTHING
NOTE = "[/i] <script>alert(1)</script> \x1b]0;title\x07 ![i](http://evil.example/p.png) [bold red]x[/]"


def squash(text: str) -> str:
    """Text with all whitespace removed, so a check survives the terminal's line wrapping."""
    return "".join(text.split())


def shows(output: str, text: str) -> bool:
    """The output shows `text` literally, less only its control sequences."""
    return squash(terminal_safe(text)) in squash(output)


def assert_inert(output: str, *, styled: bool = False) -> None:
    """No escape sequence or control character in terminal output; with `styled`, the only ones allowed are
    the terminal's own colours (SGR), never a link, title, screen clear or 8-bit control."""
    if styled:
        output = re.sub(r"\x1b\[[0-9;]*m", "", output)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", output), repr(output[:2000])


def write_hostile_card() -> None:
    card = tomllib.loads((REPO / "scenarios" / "mi-alcohol-nurse.toml").read_text(encoding="utf-8"))
    card.update(id=CARD_ID, title=TITLE, opening_line=OPENING, summary="Summary [/i] " + EVERYTHING,
                presenting_concern="Concern " + EVERYTHING)
    card["person"]["name"] = NAME
    card["person"]["background"] = "Background [bold red]x[/] " + EVERYTHING
    folder = data_dir() / "scenarios"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{CARD_ID}.toml").write_text(tomli_w.dumps(card), encoding="utf-8")


@pytest.fixture
def hostile_card(home):
    write_hostile_card()
    return get_card(CARD_ID)


# --- the escapers themselves -----------------------------------------------------------------------------------
def test_terminal_safe_removes_sequences_and_controls_and_keeps_text():
    assert terminal_safe("a\x1b[2Jb") == "ab"
    assert terminal_safe("a\x1b]0;title\x07b") == "ab"
    assert terminal_safe("a\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\b") == "alinkb"
    assert terminal_safe("a\x9b31mb\x9d0;t\x9cc") == "abc"
    assert terminal_safe("a\x1bPq#0;2\x1b\\b\x1b(Bc\x1bcd") == "abcd"  # DCS, charset, reset
    assert terminal_safe("one\r\ntwo\rthree\x00\x08\x7f") == "one\ntwothree"
    assert terminal_safe("\u202eevil\u202c \u2066x\u2069") == "evil x"
    kept = "Grüße, 日本語, עברית, emoji 🙂\tand\nlines [/i] <b>"
    assert terminal_safe(kept) == kept


def test_csv_cell_neutralises_formulas():
    for formula in FORMULAS + ["\t=1+1", "\r=1+1"]:
        assert csv_cell(formula).startswith("'"), formula
    assert csv_cell("\x00=1+1") == "'=1+1"  # a control character in front does not hide the formula
    assert csv_cell("I'm fine = good") == "I'm fine = good"
    assert csv_cell(7) == 7


def render_markdown(text: str) -> str:
    return MarkdownIt("commonmark").enable("table").render(text)


def test_markdown_inline_is_shown_literally():
    for text in HTML + MARKUP + ["# heading", "- item", "1. first", "> quote", "**bold** _it_ `code`",
                                 "<img src=x onerror=alert(1)>", "a & b &lt;"]:
        escaped = markdown_inline(text)
        assert "<" not in escaped and ">" not in escaped
        html = render_markdown(f"- note: {escaped}")
        assert not re.search(r"<(script|img|a|h1|blockquote|strong|em|code)\b", html), (text, html)
        inner = re.sub(r"</?(ul|li|p)>|\n", "", html).removeprefix("note: ")
        assert inner == text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    assert markdown_inline("one\ntwo") == "one two"


def test_json_safe_is_lossless_and_printable():
    value = {"text": "a\x9bb\u202ec\x1bd"}
    dumped = json_safe(json.dumps(value, ensure_ascii=False))
    assert json.loads(dumped) == value
    assert_inert(dumped)


# --- the terminal -----------------------------------------------------------------------------------------------
def test_a_hostile_card_in_scenarios_list_and_show(cli, hostile_card):
    listing = cli("scenarios", "list")
    assert listing.exit_code == 0 and CARD_ID in listing.output
    assert_inert(listing.output)
    assert shows(listing.output, TITLE)
    shown = cli("scenarios", "show", CARD_ID)
    assert shown.exit_code == 0, shown.output
    assert_inert(shown.output)
    for field in (TITLE, NAME, OPENING, hostile_card.summary, hostile_card.presenting_concern):
        assert shows(shown.output, field), field
    as_json = json.loads(cli("scenarios", "show", CARD_ID, "--json").stdout)
    assert as_json["opening_line"] == OPENING  # data stays data
    drawn = run_cli("scenarios", "show", CARD_ID, env={"FORCE_COLOR": "1", "COLUMNS": "200"})
    assert drawn.returncode == 0, drawn.stderr
    assert_inert(drawn.stdout, styled=True)
    assert shows(drawn.stdout, OPENING)


def hostile_session(cli, tmp_path) -> tuple[str, str]:
    """A scripted session of hostile trainee lines with the hostile card, annotated with a hostile note; returns
    its id and what the terminal showed."""
    script = tmp_path / "hostile.txt"
    script.write_text("\n".join(MARKUP + ESCAPES + FORMULAS + HTML) + "\n", encoding="utf-8")
    shown = cli("practice", "-s", CARD_ID, "--script", str(script), "-m", "fake")
    assert shown.exit_code == 0, shown.output
    sid = json.loads(cli("sessions", "list", "--json").stdout)[0]["id"]
    cli("sessions", "annotate", sid, NOTE, "--turn", "1")
    cli("sessions", "annotate", sid, "\t=1+1 " + NOTE)
    return sid, shown.output


def test_hostile_lines_in_practice_and_sessions_views(cli, hostile_card, tmp_path):
    sid, practised = hostile_session(cli, tmp_path)
    assert_inert(practised)
    for line in [OPENING, *MARKUP, *FORMULAS, *HTML]:
        assert shows(practised, line), line
    assert "link" in practised  # the hyperlink's words, without the link
    listing = cli("sessions", "list").output
    assert_inert(listing)
    assert sid in listing
    shown = cli("sessions", "show", sid).output
    assert_inert(shown)
    drawn = run_cli("sessions", "show", sid, env={"FORCE_COLOR": "1", "COLUMNS": "200"})
    assert drawn.returncode == 0, drawn.stderr
    assert_inert(drawn.stdout, styled=True)  # no OSC 8 link from the Markdown either
    for text in ["[/i]", "[bold red]x[/]", "<script>alert(1)</script>", "[x](javascript:alert(1))",
                 "![i](http://evil.example/p.png)", '=HYPERLINK("http://evil.example","x")']:
        assert squash(text) in squash(drawn.stdout), text


def test_exports_of_a_hostile_session(cli, hostile_card, tmp_path):
    sid, _ = hostile_session(cli, tmp_path)
    raw = json.loads(cli("sessions", "export", sid, "--format", "json").stdout)
    trainee = [t["text"] for t in raw["turns"] if t["speaker"] == "trainee"]
    typed = MARKUP + ESCAPES + FORMULAS + HTML
    # JSON keeps the data as typed; a line of control sequences alone, with nothing to read, is no turn
    assert trainee == [line for line in typed if terminal_safe(line).strip()]
    assert "\x1b[2J" not in trainee and ESCAPES[2] in trainee
    assert raw["annotations"][0]["body"] == NOTE
    assert_inert(cli("sessions", "export", sid, "--format", "json").output)  # ... escaped for the terminal

    rows = list(csv.reader(io.StringIO(cli("sessions", "export", sid, "--format", "csv").output)))
    cells = [cell for row in rows for cell in row]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    texts = [row[4] for row in rows[1:] if row[0] == "turn" and row[3] == "trainee"]
    assert ["'" + f for f in FORMULAS] == [t for t in texts if t.startswith("'")]
    assert_inert("".join(cells))

    md = cli("sessions", "export", sid, "--format", "md").output
    assert_inert(md)
    assert "<script" not in md and "<img" not in md
    html = render_markdown(md)
    assert not re.search(r"<(script|img|a)\b|href=|src=", html), html
    for text in ["&lt;script&gt;alert(1)&lt;/script&gt;", "[x](javascript:alert(1))", "[/i]", "[bold red]x[/]",
                 "![i](http://evil.example/p.png)", "Hostile [/i] [bold red]x[/]"]:
        assert text in html, text
    path = tmp_path / "s.csv"
    cli("sessions", "export", sid, "--format", "csv", "-o", str(path))
    assert "'=HYPERLINK" in path.read_text(encoding="utf-8")


def test_error_messages_keep_bracketed_text(cli):
    result = cli("practice", "-s", "mi-alcohol-nurse", "-m", "gpt[red]x[i]\x1b]0;t\x07")
    assert result.exit_code == 2
    assert "Unknown model 'gpt[red]x[i]'" in result.output
    assert "or add [models.gpt[red]x[i]] to your config" in result.output
    assert_inert(result.output)


# --- the trainee's words ----------------------------------------------------------------------------------------
def test_only_this_transcripts_speaker_labels_are_removed():
    card = get_card("mi-alcohol-nurse")
    labels = speaker_labels(card)
    assert clean_utterance("RTL: hello there", labels) == "RTL: hello there"
    assert clean_utterance("Note: I hear you.", labels) == "Note: I hear you."
    assert clean_utterance("COUNSELOR: hi", labels) == "hi"
    assert clean_utterance("DANA: I'll quit tomorrow", labels) == "I'll quit tomorrow"
    assert clean_utterance("You: what brings you in?", labels) == "what brings you in?"
    assert clean_utterance("me:  COUNSELOR: so", labels) == "so"


def test_script_lines_keep_their_words_and_split_only_at_newlines(cli, tmp_path):
    script = tmp_path / "lines.txt"
    script.write_bytes("RTL: hello there\nfirst part\rsecond part\r\nlast\u2028line\n".encode())
    data = json.loads(cli("practice", "-s", "mi-alcohol-nurse", "--script", str(script), "-m", "fake",
                          "--json").stdout)
    trainee = [t["text"] for t in data["turns"] if t["speaker"] == "trainee"]
    assert trainee == ["RTL: hello there", "first part second part", "last line"]


def test_a_too_long_line_in_the_prompt_is_refused_and_the_session_goes_on(cli):
    result = cli("practice", "-s", "mi-alcohol-nurse", "-m", "fake",
                 input="word " * 500 + "\nWhat brings you in today?\n/end\n")
    assert result.exit_code == 0, result.output
    assert "the limit is 2000" in result.output
    assert "1 trainee turns" in result.output
    [listed] = json.loads(cli("sessions", "list", "--json").stdout)
    turns = json.loads(cli("sessions", "export", listed["id"]).stdout)["turns"]
    assert [t["text"] for t in turns if t["speaker"] == "trainee"] == ["What brings you in today?"]


# --- the app ----------------------------------------------------------------------------------------------------
def rendered(widget) -> str:
    """What a widget shows, as plain text."""
    visual = widget.render()
    return getattr(visual, "plain", str(visual))


async def test_the_app_shows_hostile_text_literally(hostile_card, monkeypatch):
    from simtrainer.config import load_settings
    from simtrainer.errors import UserError
    from simtrainer.ui.app import make_app
    from simtrainer.ui.screens.history import HistoryScreen, ReviewScreen
    from simtrainer.ui.screens.modals import ErrorScreen
    from simtrainer.ui.screens.summary import SummaryScreen
    from simtrainer.ui.widgets.reply_input import ReplyInput
    from simtrainer.ui.widgets.transcript import CodeBadge, TurnBubble

    monkeypatch.setenv("SIMTRAINER_SPEECH__ENABLED", "false")
    app = make_app(load_settings(), model="fake")

    def screen_is_inert() -> None:
        assert_inert(app.export_screenshot().replace("\n", ""))

    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        options = app.screen.query_one("#scenarios")
        at = next(i for i in range(options.option_count) if options.get_option_at_index(i).id == CARD_ID)
        console = Console(width=200, record=True, file=io.StringIO())
        console.print(options.get_option_at_index(at).prompt)  # the entry as drawn: markup shown, not applied
        assert "[/i] [bold red]x[/]" in console.export_text()
        options.highlighted = at
        await pilot.pause()
        detail = app.screen.query_one("#card-detail")
        assert squash(terminal_safe(hostile_card.summary)) in squash(rendered(detail))
        screen_is_inert()

        await pilot.press("ctrl+p")  # the command palette lists the card too
        await pilot.pause()
        await pilot.press(*"Hostile")
        for _ in range(400):  # the palette searches in a worker, after a short debounce
            await app.workers.wait_for_complete()
            await pilot.pause(0.05)
            prompts = [str(option.prompt) for option in app.screen.query_one("CommandList").options]
            if any(squash("Hostile [/i] [bold red]x[/]") in squash(prompt) for prompt in prompts):
                break
        else:
            raise AssertionError(f"the palette never listed the card: {prompts}")
        screen_is_inert()
        await pilot.press("escape")
        await pilot.pause()

        await pilot.press("enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        opening = screen.query(TurnBubble).first()
        assert rendered(opening._line) == f"{terminal_safe(NAME)}: {terminal_safe(OPENING)}"
        assert "Summary [/i]" in rendered(screen.query_one("#brief"))
        box = screen.query_one("#reply", ReplyInput)
        box.text = sent = "Tell me more [/i] [bold red]x[/] " + " ".join(ESCAPES + HTML)
        box.focus()
        await pilot.press("enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        trainee = list(screen.query(TurnBubble))[1]
        assert trainee.text == sent
        words = "You: Tell me more [/i] [bold red]x[/] link " + " ".join(HTML)
        assert rendered(trainee._line).split() == words.split()
        for badge in trainee.query(CodeBadge):
            assert not re.search(r"[\x1b\x9b]", str(badge.tooltip))
        screen_is_inert()
        sid = screen.session.id

        await pilot.press("ctrl+e")
        await pilot.pause()
        assert isinstance(app.screen, SummaryScreen)
        assert squash("Hostile [/i] [bold red]x[/]") in squash(rendered(app.screen.query("#summary Static").first()))
        screen_is_inert()

        app.workspace.store.annotate(sid, NOTE)
        app.push_screen(HistoryScreen())
        await pilot.pause()
        screen_is_inert()
        app.push_screen(ReviewScreen(sid))
        await pilot.pause()
        note = app.screen.query(".note").first()
        assert rendered(note) == "Note (supervisor): " + terminal_safe(NOTE)
        screen_is_inert()

        app.show_error("Cannot start", UserError("Unknown model '[x]' [/i]", fix="add [models.x] \x1b]0;t\x07"))
        await pilot.pause()
        assert isinstance(app.screen, ErrorScreen)
        shown = " ".join(rendered(s) for s in app.screen.query("Static"))
        assert "Unknown model '[x]' [/i]" in shown and "add [models.x]" in shown
        screen_is_inert()
