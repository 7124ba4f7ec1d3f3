"""The patient: streams one guarded reply at a time from any `ChatBackend`."""

from __future__ import annotations

import time
from collections.abc import Iterator

from simtrainer.config import PatientSettings
from simtrainer.events import PatientDone, PatientReset, PatientToken
from simtrainer.llm.base import ChatBackend, GenParams
from simtrainer.patient.guard import GuardVerdict, check_reply, complete_sentences, early_check, trim_reply
from simtrainer.patient.prompt import Line, TranscriptPrompt
from simtrainer.scenarios.card import Card

CONTEXT_MARGIN = 32


class Patient:
    """Plays the persona on `card`. Replies stream as tokens; a rejected reply is reset and regenerated, and
    after `settings.retries` failures a card-authored line stands in, so the trainee always gets an answer."""

    def __init__(self, card: Card, backend: ChatBackend, settings: PatientSettings, *, seed: int | None = None):
        self.card = card
        self.backend = backend
        self.settings = settings
        self.prompt = TranscriptPrompt(card)
        self.seed = seed
        self._token_cache: dict[str, int] = {}
        self._fallbacks_used: set[str] = set()

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

    def reply(self, history: list[Line]) -> Iterator[PatientToken | PatientReset | PatientDone]:
        """Stream the next patient reply to `history` (which ends with the trainee's turn)."""
        prompt = self.render(history)
        trainee_text = next((h.text for h in reversed(history) if h.speaker == "trainee"), "")
        started = time.perf_counter()
        first_token_s: float | None = None
        rejected: list[str] = []
        tokens = 0
        for attempt in range(self.settings.retries + 1):
            text = ""
            verdict = GuardVerdict(True)
            stopped_early = False
            attempt_tokens = 0
            stream = self.backend.complete(prompt, self._params(attempt))
            try:
                for piece in stream:
                    if first_token_s is None:
                        first_token_s = time.perf_counter() - started
                    tokens += 1
                    attempt_tokens += 1
                    if not text:
                        piece = piece.lstrip()
                    text += piece
                    verdict = early_check(text)
                    if not verdict.ok:
                        break
                    if piece:
                        yield PatientToken(piece)
                    if complete_sentences(text) >= self.settings.max_sentences:
                        stopped_early = True
                        break
            finally:
                close = getattr(stream, "close", None)
                if close:
                    close()
            if verdict.ok:
                finished = stopped_early or attempt_tokens < self.settings.max_tokens
                text = trim_reply(text, self.settings.max_sentences, finished=finished)
                verdict = check_reply(text, trainee_text)
            if verdict.ok:
                yield PatientDone(text, self._meta(attempt, rejected, first_token_s, tokens, started))
                return
            rejected.append(verdict.reason)
            yield PatientReset(verdict.reason)
        text = self._fallback_line()
        for word in text.split(" "):
            yield PatientToken(word + " ")
        meta = self._meta(self.settings.retries, rejected, first_token_s, tokens, started)
        meta["fallback"] = True
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
