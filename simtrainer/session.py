"""One practice session: the turn loop every front end (CLI, TUI, benchmarks, classroom scripts) shares.

A turn, in order: the trainee's text is saved first, then each coder codes it (codes saved), then the patient's
reply streams and is saved, then coders that read patient talk (change / sustain) code the reply. Each write is committed at once, so a killed process loses at most the reply that
was streaming. `submit` is a generator of events, so a caller can render tokens as they come, from any thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from simtrainer.config import PatientSettings
from simtrainer.errors import UserError
from simtrainer.events import CodesReady, PatientDone, ReplySaved, SessionEvent, TraineeSaved
from simtrainer.feedback.base import Code, Coder, TurnView
from simtrainer.llm.base import ChatBackend
from simtrainer.patient import Line, Patient
from simtrainer.patient.prompt import clean_utterance, latest, speaker_labels
from simtrainer.patient.state import PatientState
from simtrainer.scenarios.card import Card
from simtrainer.storage import Store

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
    ):
        self.store = store
        self.card = card
        self.backend = backend
        self.coders = list(coders or [])
        scorer = next((c.talk_probabilities for c in self.coders if hasattr(c, "talk_probabilities")), None)
        self.patient = Patient(card, backend, patient_settings or PatientSettings(), seed=seed, talk_scorer=scorer)
        self.state = PatientState.start(card.difficulty, awaits_request=card.modality == "dearman")
        self.history: list[Line] = []
        self.turn_codes: list[list[Code]] = []
        self.ended = False
        self.id = store.create_session(
            scenario_id=card.id,
            scenario_title=card.title,
            modality=card.modality,
            model=model_name or backend.label,
            trainee=trainee,
        )
        self._add("patient", card.opening_line, {"opening": True})

    def _add(self, speaker: str, text: str, meta: dict[str, Any] | None = None) -> int:
        turn_id = self.store.add_turn(self.id, speaker, text, meta)
        self.history.append(Line(speaker, text))
        self.turn_codes.append([])
        return turn_id

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
        if not text:
            return
        if len(text) > MAX_TRAINEE_CHARS:
            raise UserError(
                f"That reply is {len(text)} characters long; the limit is {MAX_TRAINEE_CHARS}.",
                fix="Say it in a shorter turn, as you would in a real conversation.",
            )
        context, earlier = latest(self.history, "patient")
        turn_id = self._add("trainee", text, meta)
        yield TraineeSaved(turn_id, text)
        codes: list[Code] = []
        for coder in self.coders:
            codes += coder.code(text, context, earlier)
        if codes:
            self.store.add_codes(self.id, turn_id, [c.as_row() for c in codes])
            self.turn_codes[-1] = codes
        yield CodesReady(turn_id, codes)
        self.state = self.state.after([c.code for c in codes], [c.detail for c in codes], self.card.difficulty)
        pressured = any(c.code in ("CONFRONT", "PERSUADE") for c in codes)
        done: PatientDone | None = None
        for event in self.patient.reply(self.history, self.state, pressured=pressured):
            if isinstance(event, PatientDone):
                done = event
            yield event
        assert done is not None
        if done.meta.get("disclosed"):
            self.state = self.state.with_disclosure(done.meta["disclosed"])
        done.meta["state"] = self.state.as_dict()
        reply_id = self._add("patient", done.text, done.meta)
        yield ReplySaved(reply_id, done.text, done.meta)
        talk: list[Code] = []
        for coder in self.coders:
            code_patient = getattr(coder, "code_patient", None)
            if code_patient is not None:
                talk += code_patient(done.text, text, context)
        if talk:
            self.store.add_codes(self.id, reply_id, [c.as_row() for c in talk])
            self.turn_codes[-1] = talk
            yield CodesReady(reply_id, talk)

    def turn_views(self) -> list[TurnView]:
        return [TurnView(h.speaker, h.text, codes) for h, codes in zip(self.history, self.turn_codes, strict=True)]

    def end(self) -> dict[str, Any]:
        """Close the session: every coder summarises it; the summary is saved and returned."""
        if self.ended:
            return self.summary
        views = self.turn_views()
        self.summary = {
            "trainee_turns": sum(1 for v in views if v.speaker == "trainee"),
            "rubrics": {coder.rubric: {"scorer": coder.scorer, **coder.summarize(views)} for coder in self.coders},
        }
        self.store.end_session(self.id, self.summary)
        self.ended = True
        return self.summary
