"""Practice: the streaming conversation, code badges under each trainee turn, running rubric panels; with an
exercise pack, its instructions first and beside the conversation, live goal progress and its limits."""

from __future__ import annotations

import time

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static
from textual.worker import Worker, WorkerState

from simtrainer.classroom.goals import evaluate
from simtrainer.classroom.pack import Pack
from simtrainer.errors import UserError
from simtrainer.events import CodesReady, PatientNotice, PatientReset, PatientToken, ReplySaved, TraineeSaved
from simtrainer.feedback.base import Code
from simtrainer.feedback.shown import shown_codes
from simtrainer.scenarios import Card
from simtrainer.session import Session, score
from simtrainer.text_safety import plain, terminal_safe
from simtrainer.ui.messages import (
    PatientCoded,
    Progress,
    ReplyFinished,
    ReplyNotice,
    ReplyToken,
    ReplyWithdrawn,
    SessionReady,
    SpeechReady,
    TraineeCoded,
    Transcribed,
    TurnComplete,
    TurnFailed,
)
from simtrainer.ui.widgets.goals_panel import GoalsPanel
from simtrainer.ui.widgets.reply_input import ReplyInput
from simtrainer.ui.widgets.rubric_panel import RubricPanel, panel_for
from simtrainer.ui.widgets.transcript import TurnBubble


class PracticeScreen(Screen):
    BINDINGS = [
        Binding("ctrl+e", "end_session", "End session", id="end_session", priority=True),
        Binding("f1", "app.help", "Help", id="help"),
        Binding("escape", "leave", "Back", id="leave"),
        Binding("f5", "record", "Talk", id="record", priority=True),
        Binding("f8", "mute", "Mute voice", id="mute", priority=True),
    ]

    def __init__(self, card: Card, *, resume: str | None = None, pack: Pack | None = None,
                 elapsed_s: float = 0.0, check_model: bool = False) -> None:
        super().__init__()
        self.card = card
        self.resume = resume  # an interrupted session's id, continued instead of a new one
        self.pack = pack  # the exercise this session runs, if any
        self.elapsed_s = elapsed_s  # a resumed exercise's time already spent: its time limit counts from the start
        self.check_model = check_model  # the pack switched the model: check it loads before the session starts
        self.started: float | None = None  # when the exercise's clock started (the conversation, not the loading)
        self.instructions_read = resume is not None
        self.stopped: str | None = None  # why the exercise's limit ended the session
        self.session: Session | None = None
        self.bubbles: dict[int, TurnBubble] = {}  # a resumed session's earlier turns, by turn id
        self.pending_trainee: TurnBubble | None = None
        self.reply: TurnBubble | None = None
        self.busy = True
        self.speech = None
        self.muted = False
        self.spoken_meta: dict | None = None
        self._meter = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Vertical(id="conversation"):
                yield VerticalScroll(id="transcript")
                yield ReplyInput(id="reply")
            yield Vertical(id="side")
        yield Footer()

    def on_mount(self) -> None:
        self.title = terminal_safe(self.card.title)
        self.sub_title = terminal_safe(f"{self.card.modality_name} · {self.card.person.name} · {self.card.difficulty}")
        side = self.query_one("#side")
        if self.pack is None:
            brief = Static(self._brief(), id="brief")
            brief.border_title = "Scenario"
            side.mount(brief)
        else:  # the instructions stand in for the scenario's brief (they describe the task)
            side.mount(GoalsPanel(evaluate(list(self.pack.goals), None), self.pack.spec.max_turns))
            brief = Static(plain(self.pack.instructions), id="exercise-brief")
            brief.border_title = plain(f"Exercise: {self.pack.title}")
            brief.border_subtitle = self.pack.limits_text()
            side.mount(brief)
            if self.pack.spec.time_limit_min:
                self.set_interval(1.0, self._check_time)
            if not self.instructions_read:
                from simtrainer.ui.screens.exercise import InstructionsScreen

                self.app.push_screen(InstructionsScreen(self.pack), self._read_instructions)
        box = self.query_one("#reply", ReplyInput)
        box.border_title = "Your reply — Enter sends, Shift+Enter new line"
        box.focus()
        self.query_one("#transcript").mount(Static("Loading the patient model…", id="loading"))
        self.open_session()
        if self.app.workspace.settings.speech.enabled:
            self.setup_speech()

    def _brief(self) -> Text:
        brief = plain(self.card.summary)
        if self.card.dearman:
            brief.append_text(Text.assemble("\n\n", ("You:", "bold"), " ", plain(self.card.dearman.trainee_role),
                                            ". ", ("Ask for:", "bold"), " ", plain(self.card.dearman.request)))
        return brief

    # --- workers (threads): domain calls only; results come back as messages ---------------------------
    @work(thread=True, exclusive=True, group="patient", exit_on_error=False)
    def open_session(self) -> None:
        workspace = self.app.workspace
        try:
            if self.check_model:
                workspace.check()
            if self.resume:
                session = workspace.resume_session(self.resume)
            else:
                record = self.pack.record(workspace.settings.seed) if self.pack is not None else None
                session = workspace.new_session(self.card, exercise=record)
            session.prime()
        except UserError as error:
            self.app.call_from_thread(self.refresh)  # see on_session_ready
            self.app.call_from_thread(self.app.show_error, "Cannot start the session", error)
            return
        self.post_message(SessionReady(session, *self._scores(session)))

    @work(thread=True, group="speech", exit_on_error=False)
    def setup_speech(self) -> None:
        from simtrainer.speech.live import SpeechIO

        self.post_message(SpeechReady(SpeechIO(self.app.workspace.settings.speech, self.card.id)))

    @work(thread=True, group="speech", exit_on_error=False)
    def speak(self, text: str) -> None:
        if self.speech is not None and self.speech.speaker is not None:
            self.speech.speaker.say(text)

    @work(thread=True, exclusive=True, group="listen", exit_on_error=False)
    def transcribe(self, recording) -> None:
        assert self.session is not None and self.speech is not None
        try:
            text, meta = self.speech.transcribe(recording, session_id=self.session.id, turn=len(self.session.history))
        except UserError as error:
            self.app.call_from_thread(self.notify, terminal_safe(f"{error.what} {error.fix or ''}"),
                                      severity="warning", markup=False)
            return
        self.post_message(Transcribed(text, meta))

    def _scores(self, session: Session) -> tuple[dict[str, dict], Progress | None]:
        """Running scores and, in an exercise, the goals so far: computed in the worker so the UI thread never
        reads a session mid-turn."""
        scored = score(session.coders, session.turn_views())
        progress = None
        if self.pack is not None:
            progress = evaluate(list(self.pack.goals), scored), scored["trainee_turns"]
        return scored["rubrics"], progress

    @work(thread=True, exclusive=True, group="patient", exit_on_error=False)
    def run_turn(self, text: str | None, meta: dict | None = None) -> None:
        """One trainee turn; with `text` None, a resumed session's catch-up (see `Session.catch_up`)."""
        session = self.session
        assert session is not None
        replied = False
        try:
            for event in session.submit(text, meta) if text is not None else session.catch_up():
                if isinstance(event, TraineeSaved):
                    continue
                if isinstance(event, CodesReady):
                    speaker = session.history[session.turn_ids.index(event.turn_id)].speaker
                    cls = PatientCoded if speaker == "patient" else TraineeCoded
                    self.post_message(cls(event.turn_id, event.codes, *self._scores(session)))
                elif isinstance(event, PatientToken):
                    self.post_message(ReplyToken(event.text))
                elif isinstance(event, PatientReset):
                    self.post_message(ReplyWithdrawn(event.reason))
                elif isinstance(event, PatientNotice):
                    self.post_message(ReplyNotice(event.text))
                elif isinstance(event, ReplySaved):
                    replied = True
                    self.post_message(ReplyFinished(event.turn_id, event.text, event.meta))
        except UserError as error:
            self.post_message(TurnFailed(text or "", error.what, error.fix))
        except Exception as error:  # a model that crashes mid-reply must not lose the trainee's text
            self.post_message(TurnFailed(text or "", f"The model failed: {error}", "Try again, or restart the session."))
        else:
            if text is None and not replied:  # nothing was left to answer
                self.app.call_from_thread(self._unlock)
            self.post_message(TurnComplete(session.trainee_turns))

    # --- message handlers (UI thread) ------------------------------------------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """An unexpected failure in a worker becomes a readable error, never a silent hang."""
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            self.app.show_error("Something went wrong", UserError(f"{type(error).__name__}: {error}",
                                fix="Try again; if it persists, report it with the session id."))

    def on_session_ready(self, message: SessionReady) -> None:
        self.session = message.session
        self.query_one("#loading").remove()
        if self.session.resumed:
            self._show_resumed(self.session)
        else:
            self._add_turn("patient", self.card.opening_line)
        side = self.query_one("#side")
        if self.session.coders:  # one panel: the rubric that fits the session (feedback/shown.py)
            main = self.session.coders[-1]
            panel = panel_for(main.rubric, main.scorer)
            panel.id = f"panel-{main.rubric}"
            side.mount(panel, before=0)
        self._refresh_panels(message.summaries, message.progress)
        if self.pack is not None and self.instructions_read:
            self._start_clock()
        # llama-cpp-python points this process's stdout and stderr at /dev/null while it loads a model, so what
        # the app drew meanwhile never reached the terminal or the browser tab: the footer (built just after this
        # screen opened) stayed blank or kept the home screen's keys. Draw the whole screen again.
        self.call_after_refresh(self.refresh)
        if self.session.resumed:
            self.run_turn(None)  # codes lost turns and answers a trainee turn left without a reply
        else:
            self._unlock()

    def _show_resumed(self, session: Session) -> None:
        for line, codes, turn_id in zip(session.history, session.turn_codes, session.turn_ids, strict=True):
            bubble = self._add_turn(line.speaker, line.text)
            bubble.turn_id = turn_id
            if codes:
                bubble.set_codes(self._shown(codes))
            self.bubbles[turn_id] = bubble
        if session.awaits_reply:
            self.pending_trainee = self.bubbles[session.turn_ids[-1]]
        self.notify(f"Resumed session {session.id}.", title="Resumed")

    def _add_turn(self, speaker: str, text: str) -> TurnBubble:
        name = self.card.person.name if speaker == "patient" else "You"
        bubble = TurnBubble(speaker, name, text)
        transcript = self.query_one("#transcript", VerticalScroll)
        at_bottom = transcript.scroll_y >= transcript.max_scroll_y - 1
        transcript.mount(bubble)
        if at_bottom:
            transcript.scroll_end(animate=False)
        return bubble

    def _unlock(self) -> None:
        self.busy = False
        self.query_one("#reply", ReplyInput).focus()

    @on(ReplyInput.Submitted)
    def send(self, event: ReplyInput.Submitted) -> None:
        if self.session is None:
            self.notify("The patient model is still loading; your reply is kept.", severity="warning")
            return
        if self.busy:
            self.notify("The patient is still answering; send when the reply is complete.", severity="warning")
            return
        self.busy = True
        box = self.query_one("#reply", ReplyInput)
        box.clear()  # the trainee may type the next reply while this one streams
        self.pending_trainee = self._add_turn("trainee", event.text)
        self.reply = None
        meta, self.spoken_meta = self.spoken_meta, None
        self.run_turn(event.text, meta)

    def on_trainee_coded(self, message: TraineeCoded) -> None:
        bubble = self.bubbles.get(message.turn_id, self.pending_trainee)
        if bubble is not None:
            bubble.set_codes(self._shown(message.codes))
        self._refresh_panels(message.summaries, message.progress)

    def on_reply_token(self, message: ReplyToken) -> None:
        if self.reply is None:
            self.reply = self._add_turn("patient", "")
        self.reply.append(message.text)
        transcript = self.query_one("#transcript", VerticalScroll)
        if transcript.scroll_y >= transcript.max_scroll_y - 3:
            transcript.scroll_end(animate=False)

    def on_reply_withdrawn(self, message: ReplyWithdrawn) -> None:
        if self.reply is not None:
            self.reply.set_text("")

    def on_reply_notice(self, message: ReplyNotice) -> None:
        self.notify(message.text, title="Not the model's reply", severity="warning", timeout=10, markup=False)

    def on_reply_finished(self, message: ReplyFinished) -> None:
        if self.reply is None:
            self.reply = self._add_turn("patient", "")
        self.reply.set_text(message.text)
        self.reply.turn_id = message.turn_id
        if not self.muted and self.speech is not None and self.speech.speaker is not None:
            self.speak(message.text)
        if self.pack is None:
            self._unlock()  # an exercise unlocks once the turn is coded and its limits checked (`TurnComplete`)

    def on_patient_coded(self, message: PatientCoded) -> None:
        bubble = self.bubbles.get(message.turn_id, self.reply)
        if bubble is not None:
            bubble.set_codes(self._shown(message.codes))
        self._refresh_panels(message.summaries, message.progress)

    def on_turn_failed(self, message: TurnFailed) -> None:
        if self.reply is not None:
            self.reply.remove()
            self.reply = None
        box = self.query_one("#reply", ReplyInput)
        if message.text and not box.text.strip():
            box.text = message.text  # the trainee's words are never lost
        self.app.notify(terminal_safe(f"{message.error}\n{message.fix or ''}"), title="Reply failed", severity="error",
                        markup=False)
        self._unlock()

    def _shown(self, codes: list[Code]) -> list[Code]:
        return shown_codes(self.card.modality, codes)

    def _refresh_panels(self, summaries: dict[str, dict], progress: Progress | None = None) -> None:
        for panel in self.query(RubricPanel):
            if panel.rubric in summaries:
                panel.show(summaries[panel.rubric])
        if progress is not None:
            self.query_one(GoalsPanel).show(*progress)

    # --- an exercise's clock and limits --------------------------------------------------------------
    def _read_instructions(self, _: None = None) -> None:
        self.instructions_read = True
        if self.session is not None:
            self._start_clock()
        self.query_one("#reply", ReplyInput).focus()

    def _start_clock(self) -> None:
        """The time limit counts from the start of the conversation (a resumed session: from its first start)."""
        if self.started is None:
            self.started = time.monotonic() - self.elapsed_s

    def _elapsed(self) -> float:
        return 0.0 if self.started is None else time.monotonic() - self.started

    def on_turn_complete(self, message: TurnComplete) -> None:
        if self.pack is None or self.stopped:
            return
        reason = self.pack.stop_reason(message.trainee_turns, self._elapsed())
        if reason:
            self._stop(reason)
        else:
            self._unlock()

    def _check_time(self) -> None:
        """Show the minutes left; between turns the time limit ends the session (during a turn, it is checked
        when the turn completes)."""
        if self.pack is None or self.started is None or self.stopped:
            return
        minutes = self.pack.spec.time_limit_min or 0
        self.query_one(GoalsPanel).show_time_left(max(0.0, minutes - self._elapsed() / 60))
        if self.session is None or self.busy or self.session.ended:
            return
        reason = self.pack.stop_reason(self.session.trainee_turns, self._elapsed())
        if reason:
            self._stop(reason)

    def _stop(self, reason: str) -> None:
        """The exercise's limit is reached: lock the reply box, say why, end the session, then the summary."""
        assert self.session is not None
        self.stopped = reason
        while self.app.screen is not self:  # help or another modal was open: the notice comes on this screen
            self.app.pop_screen()
        self.busy = True
        box = self.query_one("#reply", ReplyInput)
        box.read_only = True
        box.border_title = plain(f"Locked: {reason}")
        summary = self.session.end()
        if summary is None:
            self.app.notify(terminal_safe(f"Stopped: {reason}. Nothing was said, so the session is not scored."),
                            title="Exercise over", markup=False)
            self.app.pop_screen()
            return
        from simtrainer.ui.screens.exercise import ExerciseOverScreen

        session = self.session
        self.app.push_screen(ExerciseOverScreen(reason),
                             lambda _: self.app.show_summary(session, summary, stopped=reason))

    def on_speech_ready(self, message: SpeechReady) -> None:
        self.speech = message.speech
        shown = getattr(self.app, "notices_shown", set())
        if self.speech.notice and self.speech.notice not in shown:
            shown.add(self.speech.notice)
            self.notify(terminal_safe(self.speech.notice), title="Speech", severity="warning", timeout=8, markup=False)

    def on_transcribed(self, message: Transcribed) -> None:
        box = self.query_one("#reply", ReplyInput)
        box.text = (box.text.rstrip() + " " + message.text).strip()  # for review and editing before Enter
        box.move_cursor(box.document.end)
        box.focus()
        self.spoken_meta = message.meta

    # --- actions -------------------------------------------------------------------------------------
    def action_record(self) -> None:
        if self.speech is None or not self.speech.can_listen:
            enabled = self.app.workspace.settings.speech.enabled
            notice = (self.speech.notice if self.speech is not None
                      else "Speech is still loading." if enabled else "Speech is off (speech.enabled = false).")
            self.notify(terminal_safe(notice or "No microphone."), title="Speech", severity="warning", markup=False)
            return
        box = self.query_one("#reply", ReplyInput)
        recorder = self.speech.recorder
        if not recorder.recording:
            recorder.start()
            self._meter = self.set_interval(0.1, self._show_level)
            return
        if self._meter is not None:
            self._meter.stop()
        box.border_subtitle = ""
        self.transcribe(recorder.stop())

    def _show_level(self) -> None:
        level = self.speech.recorder.level if self.speech and self.speech.recorder else 0.0
        bars = int(level * 20)
        self.query_one("#reply", ReplyInput).border_subtitle = f"● recording {'█' * bars}{'░' * (20 - bars)} F5 stops"

    def action_mute(self) -> None:
        self.muted = not self.muted
        self.notify("Patient's voice muted." if self.muted else "Patient's voice on.")

    def action_end_session(self) -> None:
        """End now (Ctrl+E). A session without a trainee turn is kept unscored and the app goes back."""
        if self.session is None:
            self.app.pop_screen()
            return
        if self.busy:
            self.notify("Wait for the patient to finish replying.", severity="warning")
            return
        summary = self.session.end()
        if summary is None:
            self.app.notify("Nothing was said yet, so this session is not scored.", title="Session not scored")
            self.app.pop_screen()
            return
        self.app.show_summary(self.session, summary)

    def action_leave(self) -> None:
        """Esc: ask first, since an ended session cannot be continued."""
        if self.session is None or self.busy:
            self.action_end_session()
            return
        from simtrainer.ui.screens.modals import ConfirmScreen

        if self.session.trainee_turns:
            question = "End this session and see its summary? An ended session cannot be continued."
        else:
            question = "Leave this session? Nothing was said yet, so it will not be scored."
        self.app.push_screen(ConfirmScreen(question, yes="End session", no="Keep practising"),
                             lambda yes: self.action_end_session() if yes else None)

    def on_unmount(self) -> None:
        """Leaving without ending (quitting the app) keeps the session resumable from History."""
        if self.session is not None and not self.session.ended:
            self.session.interrupt()
