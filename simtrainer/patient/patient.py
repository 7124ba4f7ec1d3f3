"""The patient: streams one guarded reply at a time from any `ChatBackend`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from simtrainer.config import PatientSettings
from simtrainer.events import PatientDone, PatientNotice, PatientReset, PatientToken
from simtrainer.llm.base import ChatBackend, GenParams, ModelCallError
from simtrainer.patient.guard import GuardVerdict, check_reply, complete_sentences, early_check, trim_reply
from simtrainer.patient.prompt import Line, TranscriptPrompt, latest
from simtrainer.patient.state import PatientState
from simtrainer.patient.steer import (
    ACCEPT_AT,
    CARD_LINE_BELOW,
    Candidate,
    TalkScorer,
    card_line,
    disclosure,
    vet,
)
from simtrainer.scenarios.card import Card

CONTEXT_MARGIN = 32
MAX_FAILED_TURNS = 3  # turns in a row the model may fail, each covered by a card line, before its error ends them
PatientEvent = PatientToken | PatientReset | PatientNotice | PatientDone


@dataclass
class Draft:
    """One attempt at a reply while it streams."""

    text: str = ""
    verdict: GuardVerdict = field(default_factory=lambda: GuardVerdict(True))
    tokens: int = 0


class Patient:
    """Plays the persona on `card`.

    Unsteered, replies stream live as tokens; a rejected reply is reset and regenerated, and after
    `settings.retries` failures a card-authored line stands in, so the trainee always gets an answer. Steered
    (a state and a talk scorer are given), candidate replies are generated first, the best one for the
    state's leaning is chosen (see `steer.py`) and then streamed.

    A card line is never passed off as the model's: each reply's meta names its `source` ("model" or
    "card:..."), and when the model failed or every reply it wrote was rejected, a `PatientNotice` says so
    before the card line. A failed model call (`ModelCallError`: the server is down, stalls, answers garbage)
    is covered by a card line only while it looks transient: the model's error is raised instead, ending the
    turn (`practice` exits 2, the app keeps the trainee's text), when the model has not yet produced one
    answer in this session, or when it has failed MAX_FAILED_TURNS turns in a row.
    """

    def __init__(self, card: Card, backend: ChatBackend, settings: PatientSettings, *, seed: int | None = None,
                 talk_scorer: TalkScorer | None = None):
        self.card = card
        self.backend = backend
        self.settings = settings
        self.prompt = TranscriptPrompt(card)
        self.seed = seed
        self.talk_scorer = talk_scorer
        self._token_cache: dict[str, int] = {}
        self._fallbacks_used: set[str] = set()
        self._card_lines_used: set[str] = set()
        self._last_disclosure_turn = -10
        self._calls_ok = 0  # model calls that streamed to their end (prime excluded)
        self._failed_turns = 0  # turns in a row in which every model call failed

    def recall(self, replies: list[tuple[str, dict]]) -> None:
        """Remember the card lines earlier replies (text, meta) used, so a resumed session does not repeat them."""
        for text, meta in replies:
            if meta.get("fallback"):
                self._fallbacks_used.add(text)
            elif meta.get("disclosed"):
                self._last_disclosure_turn = meta.get("state", {}).get("turns", self._last_disclosure_turn)
            elif str(meta.get("source", "")).startswith("card:"):
                self._card_lines_used.add(text)

    def _count(self, text: str) -> int:
        if text not in self._token_cache:
            self._token_cache[text] = self.backend.count_tokens(text)
        return self._token_cache[text]

    def render(self, history: list[Line]) -> str:
        budget = getattr(self.backend, "n_ctx", None)
        if budget is None:
            return self.prompt.render(history)
        budget -= self.settings.max_tokens + CONTEXT_MARGIN
        return self.prompt.render(history, budget_tokens=budget, count=self._count)

    def prime(self, history: list[Line]) -> None:
        """Evaluate the prompt so far, so the first reply only pays for the trainee's new line."""
        prompt = self.render(history)
        prefix = prompt[: prompt.rfind(f"{self.prompt.patient_label}:")]
        for _ in self.backend.complete(prefix, GenParams(max_tokens=1, temperature=0.0, stop=self.prompt.stops)):
            pass

    def _params(self, attempt: int) -> GenParams:
        seed = None if self.seed is None else self.seed + attempt
        return GenParams(
            max_tokens=self.settings.max_tokens,
            temperature=self.settings.temperature + 0.1 * attempt,
            top_p=self.settings.top_p,
            stop=self.prompt.stops,
            seed=seed,
        )

    def reply(
        self, history: list[Line], state: PatientState | None = None, *, pressured: bool = False
    ) -> Iterator[PatientEvent]:
        """The next patient reply to `history` (which ends with the trainee's turn), as events."""
        if state is not None and self.talk_scorer is not None and self.settings.steering:
            yield from self._steered(history, state, pressured)
        else:
            yield from self._live(history)

    def _draft(self, prompt: str, attempt: int, draft: Draft) -> Iterator[str]:
        """Stream one attempt, yielding the pieces the guard lets through; `draft` ends up holding the trimmed
        text, the guard's verdict on what streamed and the token count."""
        stopped_early = False
        stream = self.backend.complete(prompt, self._params(attempt))
        try:
            for piece in stream:
                draft.tokens += 1
                if not draft.text:
                    piece = piece.lstrip()
                draft.text += piece
                draft.verdict = early_check(draft.text)
                if not draft.verdict.ok:
                    break
                if piece:
                    yield piece
                if complete_sentences(draft.text) >= self.settings.max_sentences:
                    stopped_early = True
                    break
                if draft.tokens >= self.settings.max_tokens:  # the cap holds whatever the backend does
                    break
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()
        self._calls_ok += 1
        self._failed_turns = 0
        if draft.verdict.ok:
            finished = stopped_early or draft.tokens < self.settings.max_tokens
            draft.text = trim_reply(draft.text, self.settings.max_sentences, finished=finished)

    def _model_failed(self, error: ModelCallError, calls_before: int) -> None:
        """Raise `error` unless a card line may cover it (the rule is in the class docstring)."""
        if self._calls_ok > calls_before:
            return  # the model did answer earlier in this turn
        self._failed_turns += 1
        if self._calls_ok == 0 or self._failed_turns >= MAX_FAILED_TURNS:
            raise error

    @staticmethod
    def _notice(error: ModelCallError | None, rejected: list[str]) -> str:
        why = (f"the model failed ({error.what.rstrip('.')})" if error else
               f"every reply the model wrote was rejected ({', '.join(sorted(set(rejected)))})")
        return f"This reply is a line from the scenario card: {why}."

    def _generate(self, prompt: str, attempt: int) -> tuple[str, GuardVerdict, int]:
        """One complete, trimmed candidate and the guard's verdict on what streamed."""
        draft = Draft()
        for _piece in self._draft(prompt, attempt, draft):
            pass
        return draft.text, draft.verdict, draft.tokens

    def _steered(self, history: list[Line], state: PatientState, pressured: bool):
        started = time.perf_counter()
        trainee_text, before = latest(history, "trainee")
        trainee_text, before = trainee_text or "", before or ""
        target = state.leaning
        meta: dict = {"target": target, "candidates": [], "rejected": []}
        chosen: str | None = None
        reveal = disclosure(self.card, state)
        if reveal and state.turns - self._last_disclosure_turn >= 2:
            chosen, meta["source"], meta["disclosed"] = reveal, "card:reveal", reveal
            self._last_disclosure_turn = state.turns
        tokens = 0
        best: Candidate | None = None
        error: ModelCallError | None = None
        calls_before = self._calls_ok
        prompt = self.render(history) if chosen is None else ""
        for attempt in range(self.settings.candidates if chosen is None else 0):
            try:
                text, verdict, used = self._generate(prompt, attempt)
            except ModelCallError as exc:
                self._model_failed(exc, calls_before)
                error = exc
                meta["model_error"] = exc.what
                break
            tokens += used
            if verdict.ok:
                verdict = check_reply(text, trainee_text)
            problem = None if verdict.ok else verdict.reason
            problem = problem or vet(self.card, text)
            if problem:
                meta["rejected"].append(problem)
                continue
            candidate = Candidate(text, self.talk_scorer(text, trainee_text, before))
            meta["candidates"].append({"text": text, "p_" + target: round(candidate.score(target), 3)})
            if best is None or candidate.score(target) > best.score(target):
                best = candidate
            if target == "neutral" or candidate.score(target) >= ACCEPT_AT:
                break
            if time.perf_counter() - started > self.settings.steer_budget_s:
                break
        if chosen is None:
            weak = best is None or (target != "neutral" and best.score(target) < CARD_LINE_BELOW)
            line = card_line(self.card, state, target, pressured, self._card_lines_used) if weak else None
            if line is not None:
                chosen, meta["source"] = line
                self._card_lines_used.add(chosen)
            elif best is not None:
                chosen, meta["source"] = best.text, "model"
            else:
                chosen, meta["source"] = self._fallback_line(), "card:fallback"
            if best is None:
                meta["notice"] = self._notice(error, meta["rejected"])
                yield PatientNotice(meta["notice"])
        first_token_s = time.perf_counter() - started
        for i, word in enumerate(chosen.split(" ")):
            yield PatientToken(word if i == 0 else " " + word)
        meta.update(attempts=max(1, len(meta["candidates"]) + len(meta["rejected"])), tokens=tokens,
                    first_token_s=round(first_token_s, 4), elapsed_s=round(time.perf_counter() - started, 4))
        if meta["source"] == "card:fallback":
            meta["fallback"] = True
        yield PatientDone(chosen, meta)

    def _live(self, history: list[Line]) -> Iterator[PatientEvent]:
        prompt = self.render(history)
        trainee_text = latest(history, "trainee")[0] or ""
        started = time.perf_counter()
        first_token_s: float | None = None
        rejected: list[str] = []
        tokens = 0
        error: ModelCallError | None = None
        calls_before = self._calls_ok
        for attempt in range(self.settings.retries + 1):
            draft = Draft()
            try:
                for piece in self._draft(prompt, attempt, draft):
                    if first_token_s is None:
                        first_token_s = time.perf_counter() - started
                    yield PatientToken(piece)
            except ModelCallError as exc:
                self._model_failed(exc, calls_before)
                error = exc
                if draft.text:
                    yield PatientReset("the model failed")
                break
            tokens += draft.tokens
            text, verdict = draft.text, draft.verdict
            if verdict.ok:
                verdict = check_reply(text, trainee_text)
            if verdict.ok:
                meta = self._meta(attempt, rejected, first_token_s, tokens, started)
                yield PatientDone(text, {**meta, "source": "model"})
                return
            rejected.append(verdict.reason)
            yield PatientReset(verdict.reason)
        notice = self._notice(error, rejected)
        yield PatientNotice(notice)
        text = self._fallback_line()
        for word in text.split(" "):
            yield PatientToken(word + " ")
        meta = self._meta(len(rejected) + (error is not None) - 1, rejected, first_token_s, tokens, started)
        meta.update(source="card:fallback", fallback=True, notice=notice)
        if error is not None:
            meta["model_error"] = error.what
        yield PatientDone(text, meta)

    def _fallback_line(self) -> str:
        """A card-authored line the patient has not used yet (repair after repeated role breaks)."""
        lines = self.card.voice.examples
        for line in lines:
            if line not in self._fallbacks_used:
                self._fallbacks_used.add(line)
                return line
        return lines[len(self._fallbacks_used) % len(lines)]

    @staticmethod
    def _meta(attempt: int, rejected: list[str], first_token_s: float | None, tokens: int, started: float) -> dict:
        return {
            "attempts": attempt + 1,
            "rejected": rejected,
            "first_token_s": round(first_token_s, 4) if first_token_s is not None else None,
            "tokens": tokens,
            "elapsed_s": round(time.perf_counter() - started, 4),
        }
