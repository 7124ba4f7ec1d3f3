"""One practice session: the turn loop every front end (CLI, TUI, benchmarks, classroom scripts) shares.

A turn, in order: the trainee's text is saved first, then each coder codes it (codes saved), then the patient's
reply streams and is saved, then coders that read patient talk (change / sustain) code the reply. Each write is committed at once, so a killed process loses at most the reply that
was streaming. `submit` is a generator of events, so a caller can render tokens as they come, from any thread.

A session whose process stops before it ends is 'interrupted' (see `storage/store.py`); `Session(...,
resume=ID)` continues it with the patient's saved state, and `catch_up()` codes any turn that lost its codes and
answers a trainee turn left without a reply.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from simtrainer.config import PatientSettings
from simtrainer.errors import UserError
from simtrainer.events import CodesReady, PatientDone, ReplySaved, SessionEvent, TraineeSaved
from simtrainer.feedback.base import Code, Coder, TurnView
from simtrainer.feedback.labels import stored_code
from simtrainer.feedback.shown import microskills
from simtrainer.llm.base import ChatBackend
from simtrainer.patient import Line, Patient
from simtrainer.patient.answer_model import load_answer_model
from simtrainer.patient.patient import new_seed
from simtrainer.patient.prompt import clean_utterance, latest, speaker_labels
from simtrainer.patient.relevance import AnswerCheck
from simtrainer.patient.state import PatientState
from simtrainer.patient.triggers import PRESSURE_CODES, hit_trigger
from simtrainer.scenarios.card import Card
from simtrainer.storage import Store
from simtrainer.storage.owner import describe
from simtrainer.text_safety import terminal_safe

MAX_TRAINEE_CHARS = 2000


class Session:
    """Runs and logs one conversation between a trainee and the simulated patient."""

    def __init__(
        self,
        store: Store,
        card: Card,
        backend: ChatBackend,
        *,
        patient_settings: PatientSettings | None = None,
        coders: list[Coder] | None = None,
        trainee: str = "",
        seed: int | None = None,
        model_name: str | None = None,
        resume: str | None = None,
        exercise: dict[str, Any] | None = None,
    ):
        self.store = store
        self.card = card
        self.backend = backend
        self.coders = list(coders or [])
        scorer = next((c.talk_probabilities for c in self.coders if hasattr(c, "talk_probabilities")), None)
        encoder = next((c.model.encoder for c in self.coders if hasattr(getattr(c, "model", None), "encoder")), None)
        self.seed = new_seed() if seed is None else seed
        self.patient = Patient(card, backend, patient_settings or PatientSettings(), seed=self.seed,
                               talk_scorer=scorer, embed=encoder,
                               answers=AnswerCheck(encoder, load_answer_model()) if encoder else None)
        self.state = PatientState.start(card.difficulty, awaits_request=card.modality == "dearman")
        self.history: list[Line] = []
        self.turn_codes: list[list[Code]] = []
        self.ended = False
        self.summary: dict[str, Any] | None = None
        self.turn_ids: list[int] = []
        self.resumed = resume is not None
        if resume is not None:
            self.id = resume
            self._restore()
            return
        self.id = store.create_session(
            scenario_id=card.id,
            scenario_title=card.title,
            modality=card.modality,
            model=model_name or backend.label,
            trainee=trainee,
            exercise=exercise,
        )
        self._add("patient", card.opening_line, {"opening": True, "seed": self.seed})

    def _add(self, speaker: str, text: str, meta: dict[str, Any] | None = None) -> int:
        turn_id = self.store.add_turn(self.id, speaker, text, meta)
        self.history.append(Line(speaker, text))
        self.turn_codes.append([])
        self.turn_ids.append(turn_id)
        return turn_id

    def _restore(self) -> None:
        """Take over an interrupted session: its turns, codes and the patient state saved with the last reply."""
        row = self.store.get_session(self.id)
        check_resumable(row)
        self.id = row["id"]  # the random tail alone names a session too
        if not self.store.claim_session(self.id):
            raise UserError(f"Session {self.id} was just resumed by another process.",
                            fix="Continue it there, or wait until it is interrupted again.")
        turns = self.store.turns(self.id)
        if turns and "seed" in turns[0]["meta"]:  # the session's own seed, so the rest of it replays too
            self.seed = self.patient.seed = turns[0]["meta"]["seed"]
        for turn in turns:
            self.history.append(Line(turn["speaker"], turn["text"]))
            self.turn_codes.append([stored_code(c) for c in turn["codes"]])
            self.turn_ids.append(turn["id"])
            if turn["speaker"] == "patient" and turn["meta"].get("state"):
                self.state = PatientState.from_dict(turn["meta"]["state"])
        self.patient.recall([(t["text"], t["meta"]) for t in turns if t["speaker"] == "patient"])

    @property
    def awaits_reply(self) -> bool:
        """The last turn is the trainee's: its reply was lost when the session was interrupted."""
        return bool(self.history) and self.history[-1].speaker == "trainee"

    def catch_up(self) -> Iterator[SessionEvent]:
        """After a resume: code, in order, each trainee turn and patient reply that lost its codes (a process
        stopped between saving a turn and its codes), then answer a trainee turn left without a reply. Coders
        that keep a running picture of the trainee (the MI coder's tendency) see every earlier turn again, so
        later turns are coded as they would have been without the interruption."""
        for i, line in enumerate(self.history):
            context, earlier = latest(self.history[:i], "patient")
            if line.speaker == "trainee":
                replay = [c for c in self.coders if not self.turn_codes[i] or hasattr(c, "seen")]
                codes = [code for coder in replay for code in coder.code(line.text, context, earlier)]
                if not self.turn_codes[i] and codes:
                    self.store.add_codes(self.id, self.turn_ids[i], [c.as_row() for c in codes])
                    self.turn_codes[i] = codes
                    yield CodesReady(self.turn_ids[i], codes)
            elif i > 0 and not self.turn_codes[i] and self.history[i - 1].speaker == "trainee":
                trainee_text = self.history[i - 1].text
                talk = self._code_talk(line.text, trainee_text, latest(self.history[: i - 1], "patient")[0])
                if talk:
                    self.store.add_codes(self.id, self.turn_ids[i], [c.as_row() for c in talk])
                    self.turn_codes[i] = talk
                    yield CodesReady(self.turn_ids[i], talk)
        if self.awaits_reply:
            context, earlier = latest(self.history[:-1], "patient")
            yield from self._answer(self.turn_ids[-1], self.history[-1].text, context, earlier, self.turn_codes[-1])

    def _code_talk(self, reply: str, trainee_text: str, context: str | None) -> list[Code]:
        talk: list[Code] = []
        for coder in self.coders:
            code_patient = getattr(coder, "code_patient", None)
            if code_patient is not None:
                talk += code_patient(reply, trainee_text, context)
        return talk

    def prime(self) -> None:
        """Warm the model's cache with the persona and opening (call while the trainee reads)."""
        self.patient.prime(self.history)

    @property
    def scorers(self) -> dict[str, str]:
        return {coder.rubric: coder.scorer for coder in self.coders}

    def submit(self, text: str, meta: dict[str, Any] | None = None) -> Iterator[SessionEvent]:
        """Run one trainee turn; yields TraineeSaved, CodesReady, PatientToken/Reset/Done, ReplySaved.
        `meta` is stored with the trainee's turn (e.g. that it was spoken)."""
        if self.ended:
            raise UserError("This session has ended.", fix="Start a new session to keep practising.")
        text = clean_utterance(text, speaker_labels(self.card))
        if not terminal_safe(text).strip():  # nothing a person could read: control sequences alone are no turn
            return
        if len(text) > MAX_TRAINEE_CHARS:
            raise UserError(
                f"That reply is {len(text)} characters long; the limit is {MAX_TRAINEE_CHARS}.",
                fix="Say it in a shorter turn, as you would in a real conversation.",
            )
        context, earlier = latest(self.history, "patient")
        turn_id = self._add("trainee", text, meta)
        yield TraineeSaved(turn_id, text)
        yield from self._answer(turn_id, text, context, earlier)

    def _answer(self, turn_id: int, text: str, context: str | None, earlier: str | None,
                codes: list[Code] | None = None) -> Iterator[SessionEvent]:
        """Code the saved trainee turn (unless its `codes` are known), then stream, save and code the reply. The
        reply's PatientDone comes after it is saved, so a reply shown as finished is never lost."""
        if not codes:
            codes = []
            for coder in self.coders:
                codes += coder.code(text, context, earlier)
            if codes:
                self.store.add_codes(self.id, turn_id, [c.as_row() for c in codes])
                self.turn_codes[-1] = codes
        yield CodesReady(turn_id, codes)
        self.state = self.state.after([c.code for c in codes], [c.detail for c in codes], self.card.difficulty)
        pressured = any(c.code in PRESSURE_CODES for c in codes)
        trigger = hit_trigger(self.card, text, [c.code for c in codes])
        if trigger is not None:
            self.state = self.state.provoked(self.card.difficulty)
        done: PatientDone | None = None
        for event in self.patient.reply(self.history, self.state, pressured=pressured, trigger=trigger):
            if isinstance(event, PatientDone):
                done = event
                continue
            yield event
        assert done is not None
        if done.meta.get("disclosed"):
            self.state = self.state.with_disclosure(done.meta["disclosed"])
        done.meta["state"] = self.state.as_dict()
        reply_id = self._add("patient", done.text, done.meta)
        yield done
        yield ReplySaved(reply_id, done.text, done.meta)
        talk = self._code_talk(done.text, text, context)
        if talk:
            self.store.add_codes(self.id, reply_id, [c.as_row() for c in talk])
            self.turn_codes[-1] = talk
            yield CodesReady(reply_id, talk)
        if getattr(self.patient.backend, "kind", None) == "local":
            # read the reply into the model's cache now, while the trainee reads it, so the next turn starts
            # from the trainee's words (a server is not asked: it would queue behind other students' turns)
            self.patient.prime(self.history)

    def turn_views(self) -> list[TurnView]:
        return [TurnView(h.speaker, h.text, codes) for h, codes in zip(self.history, self.turn_codes, strict=True)]

    @property
    def trainee_turns(self) -> int:
        return sum(1 for line in self.history if line.speaker == "trainee")

    def end(self) -> dict[str, Any] | None:
        """Close the session: every coder summarises it; the summary is saved and returned.

        A session without a trainee turn is not scored: it is kept as 'abandoned' with no summary and None is
        returned. A supervisor then sees that the scenario was opened and left without a word, instead of an
        empty score sheet counted among the trainee's results, or no trace at all.
        """
        if self.ended:
            return self.summary
        if self.trainee_turns == 0:
            self.store.end_session(self.id, None)
            self.ended = True
            return None
        self.summary = score(self.coders, self.turn_views())
        self.store.end_session(self.id, self.summary)
        self.ended = True
        return self.summary

    def interrupt(self) -> bool:
        """Stop running this session without ending it (the app quits, the process fails); True if it can be
        resumed. Without a trainee turn there is nothing to continue (say the model server was down before the
        first reply): it is closed as abandoned instead. Best effort: if the database cannot be written now (a
        full disk), the next open finds this process gone and marks the session interrupted all the same."""
        if self.ended:
            return False
        try:
            if self.trainee_turns == 0:
                self.end()
                return False
            self.store.interrupt_session(self.id)
        except UserError:
            pass
        return True


def score(coders: list[Coder], views: list[TurnView]) -> dict[str, Any]:
    """A session's summary, scored by the rubric that fits it (`feedback/shown.py`): the last coder is the
    scenario's rubric (the MI coder comes first and alone in an MI session). A CBT summary carries the question
    and reflection counts as micro-skills. Without a trainee turn there is nothing to score, so no rubric is.
    Imported transcripts are scored the same way."""
    trainee_turns = sum(1 for view in views if view.speaker == "trainee")
    rubrics: dict[str, Any] = {}
    if trainee_turns and coders:
        main = coders[-1]
        rubrics[main.rubric] = {"scorer": main.scorer, **main.summarize(views)}
        if main.rubric == "ctrs":
            rubrics["ctrs"]["microskills"] = microskills(views)
    return {"trainee_turns": trainee_turns, "rubrics": rubrics}


def check_resumable(row: dict[str, Any]) -> None:
    """Refuse, with the reason, to resume a session that is not interrupted."""
    sid, status = row["id"], row["status"]
    start_new = f"Start a new session: simtrainer practice --scenario {row['scenario_id']}"
    if status == "ended":
        raise UserError(f"Session {sid} has ended; an ended session cannot be resumed.",
                        fix=f"{start_new} (review this one with `simtrainer sessions show {sid}`).")
    if status == "abandoned":
        raise UserError(f"Session {sid} was ended before any trainee turn; there is nothing to resume.",
                        fix=start_new + ".")
    if status == "active":
        raise UserError(f"Session {sid} is still running ({describe(row.get('owner'))}).",
                        fix="Continue it there, or quit that process and resume it again.")
    if status != "interrupted":
        raise UserError(f"Session {sid} has status '{status}' and cannot be resumed.", fix=start_new + ".")
