"""A supervisor's review of one session in the app: step through the turns, see each code with its confidence and
reason, correct a code, note on a turn, rate the rubric's global items, mark the session reviewed, write the
HTML report. Everything is stored and computed by the same domain functions as the `sessions` commands; the
screen only reads them back and shows them."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from simtrainer.errors import UserError
from simtrainer.feedback.labels import SEVERAL, code_label, stored_code
from simtrainer.review.corrections import (
    code_options,
    combines,
    default_author,
    latest_ratings,
    resolve_code,
    resolve_rating,
    session_rubric,
)
from simtrainer.review.progress import RUBRIC_NAMES
from simtrainer.review.summary_view import rich_table, summary_tables
from simtrainer.text_safety import plain, terminal_safe
from simtrainer.ui.screens.review_modals import Correction, CorrectScreen, Note, NoteScreen, RateScreen, Ratings
from simtrainer.ui.widgets.transcript import TurnBubble


def _note(note: dict) -> Static:
    """A supervisor's note with its author, shown as written."""
    author = note["author"] or "supervisor"
    return Static(Text.assemble(("Note", "bold"), " (", plain(author), "): ", plain(note["body"])), classes="note")


def _reasons(codes: list[dict[str, Any]]) -> Text:
    """Each automatic code with its confidence and the coder's reason (shown while the turn has the focus)."""
    out = Text()
    for c in codes:
        confidence = "" if c["confidence"] is None else f" {c['confidence']:.0%}"
        out.append_text(Text.assemble("\n" if out else "", plain(code_label(c["rubric"], c["code"], c["detail"]),
                                                                 "bold"),
                                      plain(f"{confidence} · {c['reason'] or 'no reason given'}")))
    return out or Text("no code on this turn")


def _corrections(turn: dict[str, Any]) -> Text:
    """Each corrected rubric as "automatic → corrected (author)"; the automatic code stays stored."""
    out = Text()
    for fix in turn["corrections"]:
        auto = ", ".join(code_label(c["rubric"], c["code"], c["detail"]) for c in turn["codes"]
                         if c["rubric"] == fix["rubric"]) or "no code"
        if out:
            out.append("\n")
        out.append_text(plain(f"{fix['rubric']}: {auto} → {fix['label']} ({fix['author'] or 'supervisor'})", "bold"))
    return out


class ReviewTurn(TurnBubble, can_focus=True):
    """One turn of the review: focusable, with its codes' reasons, corrections and notes."""

    def __init__(self, turn: dict[str, Any], name: str, state: str) -> None:
        super().__init__(turn["speaker"], f"{turn['turn']} · {name}", turn["text"], note=state)  # as `sessions show`
        self.turn = turn
        if turn["codes"]:
            self.set_codes([stored_code(c) for c in turn["codes"]])

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Static(_reasons(self.turn["codes"]), classes="reasons")
        correction = Static(_corrections(self.turn), classes="correction")
        correction.display = bool(self.turn["corrections"])
        yield correction


class ReviewScreen(Screen):
    """One session under review: the transcript with every code, corrections and notes at their turns, and the
    summary as reviewed at the end."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="back"),
        Binding("down,j", "step(1)", "Next turn", id="next_turn", priority=True, show=False),
        Binding("up,k", "step(-1)", "Previous turn", id="previous_turn", priority=True, show=False),
        Binding("c", "correct", "Correct code", id="correct_code"),
        Binding("n", "note", "Note", id="turn_note"),
        Binding("g", "rate", "Rate session", id="rate_globals"),
        Binding("r", "mark_reviewed", "Mark reviewed", id="mark_reviewed"),
        Binding("p", "report", "Report", id="report"),
        Binding("e", "export", "Export", id="export"),
        Binding("f1", "app.help", "Help", id="help"),
    ]

    def __init__(self, session_id: str) -> None:
        super().__init__()
        self.session_id = session_id
        self.cursor = 0
        self.author = ""
        self.record: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield VerticalScroll(id="review", can_focus=False)
        yield Footer()

    @property
    def store(self):
        return self.app.workspace.store

    async def on_mount(self) -> None:
        self.author = default_author(None)  # as the CLI: the account, not the name sessions carry
        await self.reload()

    async def reload(self) -> None:
        """Read the session again and show it, the focus kept on the same turn."""
        from simtrainer.review.export import other_speaker, session_record, state_text

        self.record = record = session_record(self.store, self.session_id)
        s = self.session = record["session"]
        self.session_id = s["id"]
        self.title = terminal_safe(f"Review — {s['scenario_title']}")
        reviewed = f" · reviewed by {s['reviewed_by'] or 'a supervisor'}" if s.get("reviewed_at") else ""
        self.sub_title = terminal_safe(f"{s['status']}{reviewed} · {s['model']} · {s['id']}")  # the id may be cut
        try:
            name = self.app.workspace.card(s["scenario_id"]).person.name
        except Exception:  # the card may have been removed since; the transcript still shows
            name = other_speaker(s["modality"])
        widgets: list[Static | TurnBubble] = []
        for turn in record["turns"]:
            state = f"state: {state_text(turn['meta'], s['modality'])}" if turn["meta"].get("state") else ""
            widgets.append(ReviewTurn(turn, name if turn["speaker"] == "patient" else "Trainee", state))
            widgets += [_note(note) for note in turn["notes"]]
        widgets += [_note(note) for note in record["annotations"] if note["turn"] is None]
        if record["reviewed"]:
            widgets.append(Static(plain("Summary as reviewed", "bold"), classes="reviewed-heading"))
            for table, scorer in summary_tables(record["reviewed"]):
                widgets += [Static(rich_table(table), classes="summary-block"), Static(plain(f"{scorer}", "dim"))]
        body = self.query_one("#review", VerticalScroll)
        await body.remove_children()
        await body.mount_all(widgets)
        self.focus_turn(self.cursor)

    def turns(self) -> list[ReviewTurn]:
        return list(self.query(ReviewTurn))

    def focus_turn(self, index: int) -> None:
        turns = self.turns()
        if turns:
            self.cursor = max(0, min(index, len(turns) - 1))
            turns[self.cursor].focus()

    def on_descendant_focus(self, event) -> None:
        """A click or Tab on a turn (or one of its badges) makes it the current turn."""
        node = event.widget
        while node is not None and not isinstance(node, ReviewTurn):
            node = node.parent
        if isinstance(node, ReviewTurn):
            self.cursor = self.turns().index(node)

    def action_step(self, delta: int) -> None:
        self.focus_turn(self.cursor + delta)

    def current(self) -> dict[str, Any] | None:
        turns = self.record.get("turns") or []
        return turns[self.cursor] if turns else None

    def _stored(self, what: str) -> None:
        self.app.notify(terminal_safe(what), title="Review", markup=False)
        self.run_worker(self.reload(), exclusive=True, group="review-reload")

    def action_correct(self) -> None:
        turn = self.current()
        if turn is None:
            return
        rubric = session_rubric(self.session)
        if rubric != "mi" and turn["speaker"] == "patient":  # its client talk is MI's idea, not shown here
            self.app.notify(f"A {RUBRIC_NAMES[rubric]} session codes the trainee's turns only: pick one of those.",
                            title="Review", markup=False)
            return
        now = ", ".join(code_label(c["rubric"], c["code"], c["detail"]) for c in turn["codes"]) or "no code"
        heading = f"Turn {turn['turn']} ({turn['speaker']}), coded {now}. The code it should have had:"
        options = code_options(rubric, turn["speaker"])
        # on the supervisor's own code where they corrected the turn already, else on the coder's
        current = ({(c["rubric"], c["code"], c.get("detail") or "") for c in turn["corrections"]}
                   or {(c["rubric"], c["code"], c["detail"] or "") for c in turn["codes"]})
        where = f"turn {turn['turn']}"
        highlight = next((i for i, (r, code, _) in enumerate(options)
                          if (r, *resolve_code(r, turn["speaker"], code, where)) in current), 0)
        combinable = frozenset(i for i, (r, code, _) in enumerate(options) if combines(r, code))
        shown_skills = {(r, part) for r, code, _ in current for part in code.split(SEVERAL) if combines(r, part)}
        marked = frozenset(i for i in combinable if options[i][:2] in shown_skills)
        self.app.push_screen(CorrectScreen(heading, options, self.author, min(marked, default=highlight),
                                           combinable, marked),
                             lambda result: self._corrected(turn, result))

    def _corrected(self, turn: dict[str, Any], result: Correction | None) -> None:
        if result is None:
            return
        where = f"session {self.session_id}, turn {turn['turn']}"
        try:  # the check `sessions correct` makes
            code_id, detail = resolve_code(result.rubric, turn["speaker"], result.code, where)
        except UserError as error:
            self.app.show_error("Cannot store this correction", error)
            return
        self.author = default_author(result.author or self.author)
        self.store.add_correction(self.session_id, turn["idx"], result.rubric, code_id, detail=detail,
                                  author=self.author)
        self._stored(f"Turn {turn['turn']}: corrected to {code_label(result.rubric, code_id, detail)} by "
                     f"{self.author}.")

    def action_note(self) -> None:
        turn = self.current()
        if turn is not None:
            self.app.push_screen(NoteScreen(f"A note on turn {turn['turn']} ({turn['speaker']}):", self.author),
                                 lambda result: self._noted(turn, result))

    def _noted(self, turn: dict[str, Any], result: Note | None) -> None:
        if result is None:
            return
        self.author = default_author(result.author or self.author)
        turn_id = self.store.turns(self.session_id)[turn["idx"]]["id"]
        self.store.annotate(self.session_id, result.body, turn_id=turn_id, author=self.author)
        self._stored(f"Noted on turn {turn['turn']} by {self.author}.")

    def action_rate(self) -> None:
        rubric = session_rubric(self.session)
        rated = latest_ratings(self.record.get("ratings", [])).get(rubric, {})
        self.app.push_screen(RateScreen(rubric, {item: r["score"] for item, r in rated.items()}, self.author),
                             lambda result: self._rated(rubric, result))

    def _rated(self, rubric: str, result: Ratings | None) -> None:
        if result is None:
            return
        self.author = default_author(result.author or self.author)
        try:
            for item, score in result.scores.items():  # the check `sessions rate` makes, before anything is stored
                resolve_rating(rubric, item, score, where=f"session {self.session_id}")
        except UserError as error:
            self.app.show_error("Cannot store these ratings", error)
            return
        for item, score in result.scores.items():
            self.store.add_rating(self.session_id, rubric, item, score, author=self.author)
        self._stored(f"Rated {len(result.scores)} {rubric} item(s) by {self.author}.")

    def action_mark_reviewed(self) -> None:
        self.store.mark_reviewed(self.session_id, self.author)
        self._stored(f"Marked reviewed by {self.author}.")

    def action_report(self) -> None:
        from simtrainer.review.report import default_path, render_report, report_data, write_page

        try:
            path = write_page(render_report(report_data(self.store, self.session_id)), default_path(self.session_id))
        except UserError as error:
            self.app.show_error("Cannot write the report", error)
            return
        self.app.notify(terminal_safe(f"Saved {path}"), title="Report", markup=False)

    def action_export(self) -> None:
        self.app.export_session(self.session_id)
