"""Persona card + history -> a transcript-style completion prompt.

Measured on SmolLM2-135M: a chat-template prompt kept the role in 62% of replies, a plain transcript (a short
header, then `COUNSELOR:` / `NAME:` lines, generation stopped at the end of the line) in all of them. The
prompt is built append-only, so llama.cpp reuses the KV cache of everything before the newest lines; when the
transcript outgrows the context, the oldest turns are dropped in blocks so the prefix stays stable for many
turns after each cut.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from simtrainer.scenarios.card import Card

DROP_BLOCK = 8  # turns dropped at once when the context is full


@dataclass(frozen=True)
class Line:
    speaker: str  # "trainee" | "patient"
    text: str


def latest(history: list[Line], speaker: str) -> tuple[str | None, str | None]:
    """The speaker's latest line and the line just before it (the context a coder reads), None where absent."""
    at = next((i for i in range(len(history) - 1, -1, -1) if history[i].speaker == speaker), None)
    if at is None:
        return None, None
    return history[at].text, (history[at - 1].text if at else None)


#: labels a trainee may type before their own words (copied from the prompt `You:`, or a transcript's habit)
TRAINEE_LABELS = ("COUNSELOR", "COUNSELLOR", "THERAPIST", "YOU", "ME")


def speaker_labels(card: Card) -> tuple[str, ...]:
    """The speaker labels of a transcript with this card: the patient's name, the trainee's role, the usual ones."""
    return (card.person.name, card.trainee_label, *TRAINEE_LABELS)


def clean_utterance(text: str, labels: Iterable[str] = ()) -> str:
    """One line of speech: no newlines, and none of this transcript's speaker `labels` at the start (a forged
    `NAME:` would put words in the other speaker's mouth). Any other `WORD:` is what was said, and is kept."""
    text = re.sub(r"\s+", " ", text).strip()
    known = {label.upper() for label in labels}
    while (label := re.match(r"([^:]{1,40}):\s*", text)) and label.group(1).strip().upper() in known:
        text = text[label.end():]
    return text


def _join(items: list[str]) -> str:
    items = [i.rstrip(".") for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


class TranscriptPrompt:
    """Builds the prompt for one card; `render(history)` gives the text to complete."""

    def __init__(self, card: Card):
        self.card = card
        self.patient_label = card.person.name.upper()
        self.trainee_label = card.trainee_label.upper()
        self.labels = speaker_labels(card)
        self.header = self._header()

    def _header(self) -> str:
        c, p = self.card, self.card.person
        name = p.name
        if c.dearman:
            d = c.dearman
            intro = (
                f"The following is a transcript of a conversation between {name} and {d.trainee_role.lower()} "
                f"({name} is the trainee's {d.counterpart.removeprefix('your ')})."
            )
        else:
            kind = "cognitive therapy" if c.modality == "cbt" else "counseling"
            intro = f"The following is a transcript of a {kind} session between a counselor and {name}, a client."
        lines = [
            intro,
            f"{name} is {p.age}. {p.background}",
            f"Why this conversation: {c.presenting_concern}",
            f"{name} wants {_join(c.wants)}. {name} is afraid of {_join(c.fears)}.",
        ]
        if c.dearman:
            d = c.dearman
            lines.append(
                f"The {d.trainee_role.lower()} wants this: {d.request} {name} resists at first "
                f"({_join(d.pushback)}), but would agree if {_join(d.would_agree_if)}."
            )
        if c.cbt:
            m = c.cbt
            lines.append(
                f"When {m.situation[0].lower() + m.situation[1:].rstrip('.')}, {name} thinks "
                f"\"{m.automatic_thoughts[0]}\" and feels {_join(m.emotions)}; then {name} {m.behaviours[0]}."
            )
        lines.append(f"{name} speaks {c.voice.style}, in one to three sentences, always as {name}.")
        lines.append("")
        lines.append(f"Some things {name} has said before:")
        lines += [f"{self.patient_label}: {ex}" for ex in c.voice.examples]
        lines.append("")
        lines.append("Transcript:")
        return "\n".join(lines) + "\n"

    def line(self, item: Line) -> str:
        label = self.trainee_label if item.speaker == "trainee" else self.patient_label
        return f"{label}: {clean_utterance(item.text, self.labels)}\n"

    def render(self, history: list[Line], *, budget_tokens: int | None = None, count=None) -> str:
        """The prompt ending in `NAME:`; drops the oldest turns (in blocks) to fit `budget_tokens`."""
        lines = [self.line(item) for item in history]
        tail = f"{self.patient_label}:"
        if budget_tokens is not None and count is not None:
            used = count(self.header) + count(tail)
            sizes = [count(line) for line in lines]
            drop = 0
            while drop < len(lines) - 1 and used + sum(sizes[drop:]) > budget_tokens:
                drop = min(drop + DROP_BLOCK, len(lines) - 1)
            if drop:
                lines = ["(Earlier part of the session omitted.)\n"] + lines[drop:]
        return self.header + "".join(lines) + tail

    def messages(self, history: list[Line], *, budget_tokens: int | None = None, count=None,
                 direction: str | None = None) -> list[dict[str, str]]:
        """The same persona and turns for a chat template (`prompt_style = "chat"`): the header as the system
        message, the trainee as user, the person as assistant. Like `render`, everything before the newest turns
        stays the same from turn to turn (old turns are dropped in blocks), so llama.cpp re-reads only what is
        new. No leaning guidance: put last, Qwen2.5-1.5B echoed it ("I'm starting to see reasons to change")
        and repeated itself; put first, it changed the whole prompt whenever the leaning did, and the MI coder
        saw no effect from it (docs/models.md). The leaning is kept by checking replies instead (`patient.py`).
        A `direction` for this one reply (how the person takes a trigger, `direction_for`) follows the newest turn
        as a system message, so the next turn's prompt shares everything before it."""
        name = self.card.person.name
        system = self.header.removesuffix("Transcript:\n").rstrip()
        system += (f"\n\nYou are {name}. Answer what the {self.card.trainee_label.lower()} just said, in "
                   f"{name}'s voice, in one to three short spoken sentences. Never give advice or speak as an assistant.")
        turns = [{"role": "user" if item.speaker == "trainee" else "assistant",
                  "content": clean_utterance(item.text, self.labels)} for item in history]
        if budget_tokens is not None and count is not None:
            sizes = [count(turn["content"]) + 4 for turn in turns]  # + the template's markers
            used = count(system) + 40
            drop = 0
            while drop < len(turns) - 1 and used + sum(sizes[drop:]) > budget_tokens:
                drop = min(drop + DROP_BLOCK, len(turns) - 1)
            turns = turns[drop:]
        if turns and turns[0]["role"] == "assistant":
            turns.insert(0, {"role": "user", "content": "(The conversation begins.)"})
        direct = [{"role": "system", "content": direction}] if direction else []
        return [{"role": "system", "content": system}, *turns, *direct]

    def direction_for(self, trigger: str, example: str) -> str:
        """How the person takes a turn that hit one of the card's triggers, for a model that follows directions:
        the reaction in the person's own words, with one of the card's scripted lines as an example of it."""
        name = self.card.person.name
        return (f"{name} takes what the {self.card.trainee_label.lower()} just said as {trigger}, and pushes back, "
                f"the way {name} would (for example: \"{example}\"). Answer in {name}'s own words, in one or two "
                f"short spoken sentences, to what was just said.")

    @property
    def stops(self) -> tuple[str, ...]:
        return ("\n", f"{self.trainee_label}:", f"{self.patient_label}:")
