"""The patient: streams one guarded reply at a time from any `ChatBackend`."""

from __future__ import annotations

import random
import re
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field

from simtrainer.config import PatientSettings
from simtrainer.events import PatientDone, PatientNotice, PatientReset, PatientToken
from simtrainer.llm.base import ChatBackend, GenParams, ModelCallError
from simtrainer.llm.registry import ModelBudget
from simtrainer.patient.guard import (
    GuardVerdict,
    addresses_listener,
    check_reply,
    complete_sentences,
    early_check,
    sentences,
    trim_reply,
)
from simtrainer.patient.judge import contradictions, invented_numbers
from simtrainer.patient.lines import CardLine, LineBank, card_lines
from simtrainer.patient.prompt import Line, TranscriptPrompt, latest
from simtrainer.patient.relevance import (
    THRESHOLD,
    AnswerCheck,
    Embed,
    asks_for_content,
    lexical_embed,
    relevance,
)
from simtrainer.patient.state import PatientState
from simtrainer.patient.steer import (
    ACCEPT_AT,
    CARD_LINE_BELOW,
    MODEL_RELEVANT_FROM,
    Candidate,
    TalkScorer,
    disclosure,
    vet,
)
from simtrainer.patient.triggers import reaction_lines
from simtrainer.scenarios.card import Card

CONTEXT_MARGIN = 32
MAX_FAILED_TURNS = 3  # turns in a row the model may fail, each covered by a card line, before its error ends them
MIN_CANDIDATE_TOKENS = 8  # a candidate with less room than this could not finish a sentence
LEANING_TRIES = 2  # one-candidate models: first sentences checked against the leaning before a card line speaks
REACT_AGAIN_AFTER = 3  # turns after a scripted reaction before the same trigger gets one again (steered)
HELD_SENTENCES = 2  # sentences a reply may say only what was said before, held unseen, before it is refused
# a trainee turn that raises homework, so the card's homework lines may answer
HOMEWORK = re.compile(r"\b(homework|diary|diaries|log|worksheet|record|task|exercise|experiment|practi[cs]e|"
                      r"since (we|last)|last (week|time|session)|this (past )?week|between sessions|did you (try|get))",
                      re.IGNORECASE)
COPY_WORDS = 10  # an unshown reply that runs this many words along an earlier one is copying it: refused there
RELEVANCE_WEIGHT = 0.5  # in the candidate ranking: fit to the trainee's turn against fit to the leaning
MAX_HELD = 2  # turns a disclosure that does not answer the turn may wait behind a card line that does
PatientEvent = PatientToken | PatientReset | PatientNotice | PatientDone


def new_seed() -> int:
    """A fresh session seed: sessions differ unless a seed is set, and the one drawn is saved to replay them."""
    return secrets.randbelow(2**31 - 1)


def said_before(text: str, earlier: set[str]) -> bool:
    """Said already, word for word or as a part of an earlier reply ("Efua saw the bank app. So now I'm here."
    after an opening line that began with it)."""
    said = norm_text(text)
    return said in earlier or (len(said) >= 20 and any(said in line for line in earlier))


def copies_earlier(text: str, earlier: set[str]) -> bool:
    """The text so far (its last word perhaps unfinished) runs COPY_WORDS words or more inside an earlier reply."""
    said = norm_text(text)
    return len(said.split()) >= COPY_WORDS and any(said in line for line in earlier)


def norm_text(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


@dataclass
class Draft:
    """One attempt at a reply while it streams."""

    text: str = ""
    verdict: GuardVerdict = field(default_factory=lambda: GuardVerdict(True))
    tokens: int = 0
    cut: str = ""  # why the reply ended before a sentence the guard refused, after earlier ones were shown


class Patient:
    """Plays the persona on `card`.

    Every reply answers the turn in front of it and is never one the patient said before in the session. A
    turn that hits one of the card's triggers (`triggers.py`, detected by the session) gets the card's scripted
    reaction, steered or not. Unsteered, or on a model whose budget allows one candidate, replies stream as they
    are generated, a sentence at a time, each checked by the guard and against the card's facts before it is
    shown; a rejected reply is reset and regenerated, and after `settings.retries` failures a card line stands
    in. Steered (a state and a talk scorer are given, and the model's budget allows several candidates),
    candidates are generated first, within the model's token budget, and the one that best fits both the
    state's leaning and the trainee's turn is streamed; when none fits, the card line that fits the turn best
    stands in (`lines.py`).

    A card line is never passed off as the model's: each reply's meta names its `source` ("model" or
    "card:..."), and when the model failed or every reply it wrote was rejected, a `PatientNotice` says so
    before the card line. A failed model call (`ModelCallError`) is covered by a card line only while it looks
    transient: the model's error is raised instead when the model has not yet produced one answer in this
    session, or when it has failed MAX_FAILED_TURNS turns in a row.
    """

    def __init__(self, card: Card, backend: ChatBackend, settings: PatientSettings, *, seed: int | None = None,
                 talk_scorer: TalkScorer | None = None, embed: Embed | None = None,
                 answers: AnswerCheck | None = None):
        self.card = card
        self.backend = backend
        self.settings = settings
        self.prompt = TranscriptPrompt(card)
        self.seed = new_seed() if seed is None else seed
        self.talk_scorer = talk_scorer
        self.embed = embed or lexical_embed
        self.answers = answers  # the answer check (`relevance.AnswerCheck`), else the encoder similarity alone
        self.bank = LineBank(self.embed, answers)
        self.lines = card_lines(card)
        self.budget: ModelBudget = getattr(backend, "budget", None) or ModelBudget()
        self._token_cache: dict[str, int] = {}
        self._said: set[str] = set()  # every reply of this session, normalised: none is said twice
        self._said_texts: list[str] = []  # the same replies as said, for near-repeats (`LineBank.near_repeats`)
        self._said_sentences: list[str] = []  # their sentences: a reply's later sentence may not say one again
        self._card_texts = list(dict.fromkeys(
            [line.text for line in self.lines] + list(card.pressure_reactions)
            + [text for reaction in card.reactions for text in reaction.lines]))
        self._card_lines_used: set[str] = set()
        self._homework_raised = False  # has a trainee turn raised homework (`HOMEWORK`)?
        self._card_json = card.model_dump_json(exclude={"facts": {"__all__": {"contradicted_by"}}})  # no patterns
        self._known = self._card_json  # the card and the session's words: where a reply's numbers may come from
        self._last_disclosure_turn = -10
        self._held: dict[str, int] = {}  # disclosure -> turns it waited behind a card line that answered
        self._reacted: dict[str, int] = {}  # trigger -> the turn its scripted reaction was said
        self._turn = 0
        self._calls_ok = 0  # model calls that streamed to their end (prime excluded)
        self._failed_turns = 0  # turns in a row in which every model call failed

    def recall(self, replies: list[tuple[str, dict]]) -> None:
        """Remember what earlier replies (text, meta) said, so a resumed session does not repeat them."""
        for text, meta in replies:
            self._remember(text)
            if meta.get("disclosed"):
                self._last_disclosure_turn = meta.get("state", {}).get("turns", self._last_disclosure_turn)
            elif str(meta.get("source", "")).startswith("card:"):
                self._card_lines_used.add(text)
            if meta.get("held"):  # a disclosure that waited behind this line waits no longer than it would have
                self._held[meta["held"]] = self._held.get(meta["held"], 0) + 1
            if meta.get("source") == "card:reaction" and meta.get("trigger"):
                self._reacted[meta["trigger"]] = meta.get("state", {}).get("turns", 0)

    def _fit(self, trainee_text: str, texts: list[str]) -> list[float]:
        """How well each text answers the turn: the answer check where it is loaded, else the encoder similarity
        (`relevance.py`); compare with `_relevant_at`."""
        if self.answers is not None:
            return self.answers.scores(trainee_text, texts)
        return [relevance(self.embed, trainee_text, text) for text in texts]

    @property
    def _relevant_at(self) -> float:
        return self.answers.threshold if self.answers is not None else THRESHOLD

    @property
    def _model_relevant_from(self) -> float:
        """The bar for the model's own text on turns that ask for something (steer.py)."""
        return self.answers.threshold if self.answers is not None else MODEL_RELEVANT_FROM

    @property
    def steers(self) -> bool:
        return self.talk_scorer is not None and self.settings.steering

    def _count(self, text: str) -> int:
        if text not in self._token_cache:
            self._token_cache[text] = self.backend.count_tokens(text)
        return self._token_cache[text]

    def _prompt_budget(self) -> int | None:
        """Prompt tokens that leave room in the context for the reply (for every candidate, decoded together)."""
        n_ctx = getattr(self.backend, "n_ctx", None)
        if n_ctx is None:
            return None
        reply = self.settings.max_tokens
        if self.budget.parallel:
            reply = max(reply, self._candidate_count * min(reply, self.budget.tokens))
        return n_ctx - reply - CONTEXT_MARGIN

    def render(self, history: list[Line]) -> str:
        budget = self._prompt_budget()
        if budget is None:
            return self.prompt.render(history)
        return self.prompt.render(history, budget_tokens=budget, count=self._count)

    def chat_messages(self, history: list[Line], direction: str | None = None) -> list[dict[str, str]]:
        budget = self._prompt_budget()
        return self.prompt.messages(history, budget_tokens=budget, count=self._count if budget else None,
                                    direction=direction)

    def stream(self, history: list[Line], params: GenParams, direction: str | None = None) -> Iterator[str]:
        """The model's text for the next reply, in the prompt style the model needs (only a chat-style model
        is given a `direction`)."""
        if self.budget.prompt_style == "chat":
            return self.backend.chat(self.chat_messages(history, direction), params)
        return self.backend.complete(self.render(history), params)

    @property
    def follows_directions(self) -> bool:
        """Chat-style models (the larger ones) follow a stage direction; SmolLM2-135M ignored every prompt hint."""
        return self.budget.prompt_style == "chat"

    def prime(self, history: list[Line]) -> None:
        """Evaluate the prompt so far, so the first reply only pays for the trainee's new line; encode the card's
        lines too (about a hundred encoder calls, a third of a second, that would otherwise land on the first
        turn that reaches for a card line)."""
        for line in self.lines:
            self.bank.vector(line)
        self.bank.near_repeats(self._card_texts, [line.text for line in history if line.speaker == "patient"])
        params = GenParams(max_tokens=1, temperature=0.0, stop=self.prompt.stops)
        if self.budget.prompt_style == "chat":
            stream = self.backend.chat(self.chat_messages(history), params)
        else:
            prompt = self.render(history)
            stream = self.backend.complete(prompt[: prompt.rfind(f"{self.prompt.patient_label}:")], params)
        for _ in stream:
            pass

    def _params(self, attempt: int, max_tokens: int | None = None) -> GenParams:
        return GenParams(
            max_tokens=max_tokens or self.settings.max_tokens,
            temperature=self.settings.temperature + 0.1 * attempt,
            top_p=self.settings.top_p,
            stop=self.prompt.stops,
            seed=(self.seed + 1000 * self._turn + attempt) % 2**31,  # each turn its own draw, replayable
        )

    def _rng(self) -> random.Random:
        """The draw among near-best card lines, fixed by the session seed and the turn (so a replay agrees)."""
        return random.Random(f"{self.seed}:{self._turn}")

    def reply(
        self, history: list[Line], state: PatientState | None = None, *, pressured: bool = False,
        trigger: str | None = None,
    ) -> Iterator[PatientEvent]:
        """The next patient reply to `history` (which ends with the trainee's turn), as events. `trigger`: the
        card trigger the turn hit (the card's scripted reaction answers it, in every mode)."""
        self._turn = sum(1 for line in history if line.speaker == "trainee")
        self._known = " ".join([self._card_json, *(line.text for line in history)])
        self._homework_raised = any(HOMEWORK.search(line.text) for line in history if line.speaker == "trainee")
        for line in history:
            if line.speaker == "patient":
                self._remember(line.text)
        holds_leaning = state is not None and self.steers
        steered = holds_leaning and self.budget.candidates > 1
        reacted_lately = self._turn - self._reacted.get(trigger, -99) <= REACT_AGAIN_AFTER
        if trigger is not None and holds_leaning and self.follows_directions:
            yield from self._voiced_reaction(history, trigger)
            return
        if trigger is not None and not (steered and reacted_lately):
            if (reaction := self._reaction(history, trigger, must_fit=holds_leaning)) is not None:
                self._reacted[trigger] = self._turn
                yield from self._say(reaction.text, {"source": "card:reaction", "trigger": trigger,
                                                     "candidates": [], "rejected": []}, time.perf_counter())
                return
        if steered:
            yield from self._steered(history, state, pressured, trigger)
        else:
            yield from self._live(history, state.leaning if holds_leaning else None, trigger)

    def _voiced_reaction(self, history: list[Line], trigger: str) -> Iterator[PatientEvent]:
        """The card's reaction to `trigger` in the model's own words: a model that follows directions is told how
        the person takes the turn, with a scripted line as the example. Its first sentence must not read as
        change talk (else it is redrawn unseen, and after LEANING_TRIES the scripted line speaks); a reply that
        merely repeats the example is labelled as the card's line it is."""
        examples = [text for text in reaction_lines(self.card, trigger) if text not in self._used_lines()]
        examples = examples or reaction_lines(self.card, trigger)
        example = self._rng().choice(examples)
        self._reacted[trigger] = self._turn
        for event in self._live(history, "sustain", trigger, direction=self.prompt.direction_for(trigger, example)):
            if isinstance(event, PatientDone) and event.meta.get("source") == "model":
                event.meta["directed"] = True
                if self.bank.near_repeats([event.text], examples):
                    event.meta.update(source="card:reaction", echoed=True)
                    self._card_lines_used.add(example)
            yield event

    def _reaction(self, history: list[Line], trigger: str, *, must_fit: bool = False) -> CardLine | None:
        """The card's scripted reaction to `trigger` that fits the turn; where a talk scorer is at hand, one it
        reads as pushing back (a line meant as a retort can read as agreement out of context).

        `must_fit` (the patient can hold the provoked leaning without a script): only a line the relevance check
        says answers the turn, else one of the card's general pressure reactions that does, else None and the
        model answers, leaning to sustain. A trigger is hit by its kind (any "you should ..." is a lecture), so
        a line written for one lecture ("Just delete them. Right.") misfits another; blind readers marked a
        third of the scripted reactions as not answering the turn."""
        trainee_text, context = self._turn_texts(history)
        pool = [CardLine(text, "sustain", trigger, "card:reaction") for text in reaction_lines(self.card, trigger)]
        used = self._used_lines()
        if must_fit:
            def answering(lines: list[CardLine]) -> list[CardLine]:
                fresh = [line for line in lines if line.text not in used]
                fits = self._fit(trainee_text, [line.text for line in fresh])
                return [line for line, fit in zip(fresh, fits, strict=True) if fit >= self._relevant_at]

            general = [CardLine(text, "sustain", "", "card:reaction") for text in self.card.pressure_reactions]
            pool = answering(pool) or answering(general)
            if not pool:
                return None
        if self.talk_scorer is not None:
            resisting = [line for line in pool if line.text not in used
                         and _pushes_back(self.talk_scorer(line.text, trainee_text, context))]
            pool = resisting or pool
        line = self.bank.pick(pool, trainee_text, context, None, used, self._rng())
        if line is not None:
            self._card_lines_used.add(line.text)
        return line

    def _remember(self, text: str) -> None:
        if norm_text(text) not in self._said:
            self._said.add(norm_text(text))
            self._said_texts.append(text)
            self._said_sentences.extend(sentences(text))

    def _said_already(self, text: str) -> bool:
        """Said word for word, as part of an earlier reply, or in other words (a near-repeat)."""
        return said_before(text, self._said) or bool(self.bank.near_repeats([text], self._said_texts))

    def _used_lines(self) -> set[str]:
        """Card lines not to say now: said already, saying again what an earlier reply said, or about homework
        before the trainee has raised it (an outside writer's CBT patient reported on a diary in a first
        session's opening turns)."""
        said = {line.text for line in self.lines if norm_text(line.text) in self._said}
        unasked = set() if self._homework_raised else {line.text for line in self.lines if line.theme == "homework"}
        return self._card_lines_used | said | unasked | self.bank.near_repeats(self._card_texts, self._said_texts)

    @staticmethod
    def _turn_texts(history: list[Line]) -> tuple[str, str]:
        """The trainee's latest turn and the patient's line before it."""
        trainee_text, before = latest(history, "trainee")
        return trainee_text or "", before or ""

    def _say(self, text: str, meta: dict, started: float) -> Iterator[PatientEvent]:
        """Stream a reply that is already chosen, word by word."""
        first_token_s = time.perf_counter() - started
        for i, word in enumerate(text.split(" ")):
            yield PatientToken(word if i == 0 else " " + word)
        meta.setdefault("attempts", max(1, len(meta.get("candidates", [])) + len(meta.get("rejected", []))))
        meta.setdefault("tokens", 0)
        meta.update(first_token_s=round(first_token_s, 4), elapsed_s=round(time.perf_counter() - started, 4))
        self._remember(text)
        yield PatientDone(text, meta)

    def _draft(self, stream: Iterator[str], draft: Draft, max_tokens: int,
               vet_first: Callable[[str], str | None] | None = None,
               vet_later: Callable[[str], str | None] | None = None,
               hold: Callable[[str], bool] | None = None) -> Iterator[str]:
        """Stream one attempt, yielding whole sentences once the guard and the card's facts have passed them;
        `draft` ends up holding the trimmed text, the verdict on what streamed and the token count.
        `vet_first` may still refuse the first sentence before it is shown (a reason, or None); a later sentence
        `vet_later` or the guard objects to ends the reply before it, and what was shown stands (taken back and
        redrawn, it cost the trainee a second wait for words they had read). While `hold` is true of the text so
        far, nothing is shown yet: "I don't know." said once already is held until the reply goes on (then it
        shows with the next sentence) or ends (then it is a repeat, refused unseen; shown at once, a 1.5B session
        took back such repeats on 10 of 30 turns); still held after HELD_SENTENCES, or COPY_WORDS into one long
        sentence copied from an earlier reply, it is refused there rather than written to its end (a 1.5B model
        spent two seconds on such drafts at turn 30)."""
        stopped_early = False
        shown = 0

        def ends_here(sentence: str) -> bool:
            return bool(shown and vet_later and vet_later(sentence))

        def refused(first: str) -> bool:
            problem = vet_first(first) if vet_first and not shown else None
            if problem:
                draft.verdict = GuardVerdict(False, problem)
            return problem is not None

        try:
            for piece in stream:
                draft.tokens += 1
                if not draft.text:
                    piece = piece.lstrip()
                draft.text += piece
                draft.verdict = self._early_verdict(draft.text)
                if not draft.verdict.ok:
                    if shown:  # the sentence after those shown broke role or the card: the reply ends before it
                        draft.text, draft.cut = _shown_text(draft.text, shown), draft.verdict.reason
                        draft.verdict = GuardVerdict(True)
                        stopped_early = True
                    break
                if hold and not shown and copies_earlier(draft.text, self._said):
                    draft.verdict = GuardVerdict(False, "repeats an earlier reply")
                    break
                done = complete_sentences(draft.text)
                if done > shown:  # a sentence has ended: it may be shown
                    cut = _sentence_end(draft.text, done)
                    if refused(draft.text[:cut]):
                        break
                    if ends_here(draft.text[len(_shown_text(draft.text, shown)):cut].strip()):
                        draft.text = _shown_text(draft.text, shown)
                        stopped_early = True
                        break
                    if shown or not (hold and hold(draft.text[:cut])):
                        if draft.text[len(_shown_text(draft.text, shown)):cut]:
                            yield draft.text[len(_shown_text(draft.text, shown)):cut]
                        shown = done
                    elif done >= HELD_SENTENCES:  # still only what was said before: a repeat, refused now
                        draft.verdict = GuardVerdict(False, "repeats an earlier reply")
                        break
                if done >= self._max_sentences:
                    stopped_early = True
                    break
                if draft.tokens >= max_tokens:  # the cap holds whatever the backend does
                    break
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()
        self._calls_ok += 1
        self._failed_turns = 0
        if draft.verdict.ok:
            finished = stopped_early or draft.tokens < max_tokens
            draft.text = trim_reply(draft.text, self._max_sentences, finished=finished)
            before_tail = _shown_text(draft.text, shown)
            if draft.text[len(before_tail):].strip() and ends_here(draft.text[len(before_tail):].strip()):
                draft.text = before_tail.rstrip()
            broken = contradictions(self.card, draft.text)
            if broken:
                draft.verdict = GuardVerdict(False, f"contradicts the card: {broken[0]}")
            elif (draft.text[len(_shown_text(draft.text, shown)):].strip() and not refused(draft.text)
                  and not (not shown and hold and hold(draft.text))):
                yield draft.text[len(_shown_text(draft.text, shown)):]

    def _early_verdict(self, text: str) -> GuardVerdict:
        verdict = early_check(text)
        if verdict.ok and (broken := contradictions(self.card, text)):
            return GuardVerdict(False, f"contradicts the card: {broken[0]}")
        return verdict

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

    def _problem(self, text: str, verdict: GuardVerdict, trainee_text: str) -> str | None:
        """Why a finished candidate may not be used: the guard, the card's facts, the judge, said before, or, from
        a transcript-style (small) model, words addressed to the counselor (`guard.addresses_listener`) or a
        number neither the card nor the session gave (`judge.invented_numbers`: read blind, 11 of 13 such
        SmolLM2 replies made no sense, "Twenty." glasses a night, "Two million pounds")."""
        if verdict.ok:
            verdict = check_reply(text, trainee_text)
        if not verdict.ok:
            return verdict.reason
        if self._said_already(text):
            return "repeats an earlier reply"
        if self.budget.prompt_style == "transcript" and addresses_listener(text):
            return "speaks to the counselor (a small model's slip of role)"
        if self.budget.prompt_style == "transcript" and (numbers := invented_numbers(text, self._known)):
            return f"a number nobody gave ({numbers[0]})"
        return vet(self.card, text)

    def _steered(self, history: list[Line], state: PatientState, pressured: bool, trigger: str | None = None):
        """Candidates first, then the best fit or a card line. `trigger`: a trigger hit again soon after its
        scripted reaction; the person keeps pushing back (a model reply only if clearly sustain talk, else
        another of the card's reactions)."""
        started = time.perf_counter()
        trainee_text, before = self._turn_texts(history)
        target = "sustain" if trigger else state.leaning
        accept_below = ACCEPT_AT if trigger else CARD_LINE_BELOW
        # after "Hm." any reply answers: the bar for the model's own text is for turns that ask for something
        relevant_from = self._model_relevant_from if asks_for_content(trainee_text) else self._relevant_at
        meta: dict = {"target": target, "candidates": [], "rejected": []}
        if trigger:
            meta["trigger"] = trigger
        # in the card's order: a disclosure that does not answer the turn waits (MAX_HELD turns at most) behind a
        # card line that does; held back for the model's own text instead, it read worse (reading 4)
        reveal = None if trigger else disclosure(self.card, state, self._said_already)
        if reveal and state.turns - self._last_disclosure_turn >= 2:
            if (line := self._before_disclosure(history, reveal, target, pressured)) is not None:
                self._card_lines_used.add(line.text)
                yield from self._say(line.text, {**meta, "source": line.source, "held": reveal}, started)
                return
            self._last_disclosure_turn = state.turns
            yield from self._say(reveal, {**meta, "source": "card:reveal", "disclosed": reveal}, started)
            return
        best: Candidate | None = None
        meta["tokens"] = 0
        with closing(self._candidate_drafts(history, meta)) as drafts:
            for draft in drafts:
                meta["tokens"] += draft.tokens
                problem = self._problem(draft.text, draft.verdict, trainee_text)
                if problem:
                    meta["rejected"].append(problem)
                    continue
                candidate = Candidate(draft.text, self.talk_scorer(draft.text, trainee_text, before),
                                      self._fit(trainee_text, [draft.text])[0])
                meta["candidates"].append({"text": draft.text, "p_" + target: round(candidate.score(target), 3),
                                           "relevance": round(candidate.relevance, 3)})
                if best is None or candidate.rank(target, RELEVANCE_WEIGHT) > best.rank(target, RELEVANCE_WEIGHT):
                    best = candidate
                if candidate.fits(target, ACCEPT_AT, relevant_from):
                    break
                if self.settings.steer_budget_s and time.perf_counter() - started > self.settings.steer_budget_s:
                    break
        error = meta.pop("_error", None)
        if best is not None and best.fits(target, accept_below, relevant_from):
            yield from self._say(best.text, {**meta, "source": "model"}, started)
            return
        reaction = self._reaction(history, trigger, must_fit=True) if trigger else None
        if reaction is not None:
            self._reacted[trigger] = self._turn
            yield from self._say(reaction.text, {**meta, "source": "card:reaction"}, started)
            return
        line = self._card_line(history, target, pressured)
        if line is not None:  # a card line, even one that fits the turn less, beats weak model text (steer.py)
            self._card_lines_used.add(line.text)
            text, meta["source"] = line.text, line.source
        elif best is not None:
            text, meta["source"] = best.text, "model"
        else:
            text, meta["source"], meta["fallback"] = self._fallback_line(history), "card:fallback", True
        if best is None:
            meta["notice"] = self._notice(error, meta["rejected"])
            yield PatientNotice(meta["notice"])
        yield from self._say(text, meta, started)

    @property
    def _max_sentences(self) -> int:
        """Sentences of model text a reply keeps: the settings' cap within the model's."""
        return min(self.settings.max_sentences, self.budget.sentences or self.settings.max_sentences)

    @property
    def _candidate_count(self) -> int:
        """Candidates per steered turn: the settings' cap within the model's budget."""
        return min(self.settings.candidates, self.budget.candidates)

    def _candidate_drafts(self, history: list[Line], meta: dict) -> Iterator[Draft]:
        """The model's candidate replies, each already guarded while it streamed. A backend that decodes
        several sequences at once (`llm/parallel.py`) writes them all together, each within the model's token
        budget, for little more than the wait for one; otherwise they come one after another until the budget
        is spent (the caller stops asking once one fits). A failed model call ends them (`meta["_error"]`)."""
        count = self._candidate_count
        parallel = getattr(self.backend, "complete_parallel", None)
        calls_before = self._calls_ok
        if parallel is not None and self.budget.parallel and self.budget.prompt_style == "transcript" and count > 1:
            cap = max(MIN_CANDIDATE_TOKENS, min(self.settings.max_tokens, self.budget.tokens))

            def enough(text: str) -> bool:
                return complete_sentences(text) >= self._max_sentences or not self._early_verdict(text).ok

            meta["parallel"] = count
            written = parallel(self.render(history), [self._params(i, cap) for i in range(count)], enough)
            try:
                for pieces in written:
                    draft = Draft()
                    for _piece in self._draft(iter(pieces), draft, cap):
                        pass
                    yield draft
            except ModelCallError as exc:
                self._model_failed(exc, calls_before)
                meta["_error"], meta["model_error"] = exc, exc.what
            finally:
                written.close()  # the caller took one that fits: the other sequences end here
            return
        tokens_left = self.budget.tokens
        for attempt in range(count):
            if tokens_left < MIN_CANDIDATE_TOKENS:
                return
            draft = Draft()
            cap = min(self.settings.max_tokens, tokens_left)
            try:
                for _piece in self._draft(self.stream(history, self._params(attempt, cap)), draft, cap):
                    pass
            except ModelCallError as exc:
                self._model_failed(exc, calls_before)
                meta["_error"], meta["model_error"] = exc, exc.what
                return
            tokens_left -= draft.tokens
            yield draft

    def _before_disclosure(self, history: list[Line], reveal: str, target: str, pressured: bool) -> CardLine | None:
        """A card line that answers the turn, to say before `reveal` where the answer check says the disclosure
        does not answer it; None where it does, or it has waited MAX_HELD turns, or no line answers."""
        trainee_text, context = self._turn_texts(history)
        if self.answers is None or pressured or not trainee_text.strip() or self._held.get(reveal, 0) >= MAX_HELD:
            return None
        if self.answers.scores(trainee_text, [reveal])[0] >= self.answers.threshold:
            return None
        line = self.bank.pick(list(self.lines), trainee_text, context, target, self._used_lines(), self._rng(),
                              answering_only=True)
        if line is not None:
            self._held[reveal] = self._held.get(reveal, 0) + 1
        return line

    def _card_line(self, history: list[Line], target: str, pressured: bool) -> CardLine | None:
        """The unused card line that best answers the turn for the `target` leaning (pressure reactions first
        after a confrontation)."""
        trainee_text, context = self._turn_texts(history)
        if pressured and target == "sustain":
            pressure = [CardLine(t, "sustain", "", "card:pressure") for t in self.card.pressure_reactions]
            line = self.bank.pick(pressure, trainee_text, context, target, self._used_lines(), self._rng())
            if line is not None:
                return line
        return self.bank.pick(list(self.lines), trainee_text, context, target, self._used_lines(), self._rng())

    def _against(self, leaning: str | None, trainee_text: str, before: str) -> Callable[[str], str | None] | None:
        """With one candidate there is nothing to choose from: a first sentence that is clearly the other kind
        of talk than the person's leaning (change talk straight after a lecture) is redrawn, unseen; after
        LEANING_TRIES such drafts a card line of the leaning speaks."""
        if leaning not in ("change", "sustain") or self.talk_scorer is None:
            return None
        other = "sustain" if leaning == "change" else "change"

        def vet(first: str) -> str | None:
            probs = self.talk_scorer(first, trainee_text, before)
            if probs.get(other, 0.0) >= ACCEPT_AT and probs[other] > probs.get(leaning, 0.0):
                return f"{other} talk while leaning to {leaning}"
            return None

        return vet

    def _later_sentence(self, against: Callable[[str], str | None] | None) -> Callable[[str], str | None]:
        """What ends a streamed reply before its next sentence: a sentence the session has heard (a 1.5B model
        tacked "I just want to stay on the team and do my best." onto four replies running), or, after a trigger
        (`against`), one of the other kind of talk: the card has the person dig in. Elsewhere mixed replies
        stay whole: ambivalence is what the trainee is there to hear."""

        def vet(sentence: str) -> str | None:
            if self.bank.echoes(sentence, self._said_sentences):
                return "says again what was said"
            return against(sentence) if against else None

        return vet

    def _live(self, history: list[Line], leaning: str | None, trigger: str | None = None,
              direction: str | None = None) -> Iterator[PatientEvent]:
        trainee_text, before = self._turn_texts(history)
        started = time.perf_counter()
        first_token_s: float | None = None
        rejected: list[str] = []
        tokens = 0
        error: ModelCallError | None = None
        calls_before = self._calls_ok
        for attempt in range(self.settings.retries + 1):
            draft = Draft()
            shown = False
            try:
                stream = self.stream(history, self._params(attempt), direction)
                against = self._against(leaning, trainee_text, before)
                vet_first = against if attempt < LEANING_TRIES else None
                vet_later = self._later_sentence(against if direction else None)
                for piece in self._draft(stream, draft, self.settings.max_tokens, vet_first, vet_later,
                                         hold=self._said_already):
                    if first_token_s is None:
                        first_token_s = time.perf_counter() - started
                    shown = True
                    yield PatientToken(piece)
            except ModelCallError as exc:
                self._model_failed(exc, calls_before)
                error = exc
                if shown:
                    yield PatientReset("the model failed")
                break
            tokens += draft.tokens
            problem = self._problem(draft.text, draft.verdict, trainee_text)
            if problem is None:
                meta = self._meta(attempt, rejected, first_token_s, tokens, started)
                if draft.cut:
                    meta["cut"] = draft.cut
                if trigger:
                    meta.update(trigger=trigger, target=leaning)
                self._remember(draft.text)
                yield PatientDone(draft.text, {**meta, "source": "model"})
                return
            rejected.append(problem)
            if shown:  # a draft refused before its first sentence was shown is redrawn unseen
                yield PatientReset(problem)
            if sum(r.endswith(f"while leaning to {leaning}") for r in rejected) >= LEANING_TRIES:
                scripted = self._reaction(history, trigger) if trigger and direction else None
                line = scripted or self._card_line(history, leaning, pressured=leaning == "sustain")
                if line is not None:  # the model keeps to the other side: the card speaks for the leaning
                    self._card_lines_used.add(line.text)
                    meta = self._meta(attempt, rejected, None, tokens, started)
                    yield from self._say(line.text, {**meta, "source": line.source, "target": leaning},
                                         started)
                    return
        notice = self._notice(error, rejected)
        yield PatientNotice(notice)
        text = self._fallback_line(history)
        meta = self._meta(len(rejected) + (error is not None) - 1, rejected, first_token_s, tokens, started)
        meta.update(source="card:fallback", fallback=True, notice=notice)
        if error is not None:
            meta["model_error"] = error.what
        yield from self._say(text, meta, started)

    def _fallback_line(self, history: list[Line]) -> str:
        """The unused card line that best fits the turn (repair after the model failed or every reply was
        rejected); only once every line has been said does one come back."""
        trainee_text, context = self._turn_texts(history)
        line = self.bank.pick(self.lines, trainee_text, context, None, self._used_lines(), self._rng())
        if line is None:
            return self.lines[self._turn % len(self.lines)].text
        self._card_lines_used.add(line.text)
        return line.text

    @staticmethod
    def _meta(attempt: int, rejected: list[str], first_token_s: float | None, tokens: int, started: float) -> dict:
        return {
            "attempts": attempt + 1,
            "rejected": rejected,
            "first_token_s": round(first_token_s, 4) if first_token_s is not None else None,
            "tokens": tokens,
            "elapsed_s": round(time.perf_counter() - started, 4),
        }


def _pushes_back(probs: dict[str, float]) -> bool:
    return probs.get("sustain", 0.0) >= probs.get("change", 0.0)


def _sentence_end(text: str, n: int) -> int:
    """The index just after the `n`th sentence ending (terminator and its following space) in `text`."""
    from simtrainer.patient.guard import SENTENCE_END

    ends = [m.end() for m in SENTENCE_END.finditer(text)]
    return ends[n - 1] if len(ends) >= n else len(text)


def _shown_text(text: str, n: int) -> str:
    """The first `n` sentences of `text`, as streamed (what was shown so far)."""
    return text[: _sentence_end(text, n)] if n else ""
