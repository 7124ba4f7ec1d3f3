"""The bar a card must meet for a long session, beyond being well formed: enough distinct lines per leaning and
theme, a scripted reaction for every trigger, lines in character that never trip the card's own facts. The
shipped cards are held to it by the tests; `scenarios validate --strict` holds a writer's own card to it."""

from __future__ import annotations

import re
from collections import Counter

from simtrainer.patient.judge import judge
from simtrainer.scenarios.card import Card

LEANING_LINES = {"change": 12, "sustain": 12, "neutral": 8}  # so 20 turns need not repeat a kind of line
ALL_LINES = 36
THEMES, REUSED_THEMES = 6, 4  # themes on the lines, and how many of them tag two lines or more
REACTION_LINES = 3


def spoken_lines(card: Card) -> list[str]:
    """The lines the person may say as they are: `[[lines]]` and the scripted reactions."""
    return [line.text for line in card.lines] + [text for reaction in card.reactions for text in reaction.lines]


def other_text(card: Card) -> list[str]:
    """The card's other words in the person's mouth: voice examples, opening line, disclosures, pressure lines."""
    return [*card.voice.examples, *card.voice.change_examples, *card.voice.sustain_examples, card.opening_line,
            *card.reveal_when_trusted, *card.pressure_reactions]


def place(card: Card, text: str) -> str:
    """Where a spoken line sits on the card, counted from 1 as a writer counts the tables in the file: "lines #5",
    "reactions #2 line 1" (several places: the first)."""
    wanted = text.casefold()
    for i, line in enumerate(card.lines, 1):
        if line.text.casefold() == wanted:
            return f"lines #{i}"
    for i, reaction in enumerate(card.reactions, 1):
        for j, said in enumerate(reaction.lines, 1):
            if said.casefold() == wanted:
                return f"reactions #{i} line {j}"
    return "lines"


def shortfalls(card: Card) -> list[tuple[str, str]]:
    """(field, what falls short and how to mend it) for every way the card misses the bar; [] when it meets it."""
    out: list[tuple[str, str]] = []
    per_leaning = Counter(line.leaning for line in card.lines)
    for leaning, least in LEANING_LINES.items():
        if per_leaning[leaning] < least:
            out.append(("lines", f"{per_leaning[leaning]} {leaning} lines; write at least {least}"))
    if len(card.lines) < ALL_LINES:
        out.append(("lines", f"{len(card.lines)} lines in all; write at least {ALL_LINES}"))
    texts = [text.casefold() for text in spoken_lines(card)]
    out += [(place(card, text), f'"{text}" is written {n} times; make each line say something new')
            for text, n in Counter(texts).items() if n > 1]
    copied = set(texts) & {text.casefold() for text in other_text(card)}
    out += [(place(card, text), f'"{text}" repeats a voice example, the opening line, a disclosure or a pressure line; '
             "write a new one") for text in sorted(copied)]
    themes = Counter(line.theme for line in card.lines)
    if len(themes) < THEMES or sum(1 for n in themes.values() if n >= 2) < REUSED_THEMES:
        out.append(("lines.theme", f"{len(themes)} themes, {sum(1 for n in themes.values() if n >= 2)} of them on two "
                    f"lines or more; spread the lines over at least {THEMES} themes, {REUSED_THEMES} used twice"))
    reacted = {r.trigger: r.lines for r in card.reactions}
    out += [("reactions", f'no [[reactions]] for the trigger "{t}"; add one with {REACTION_LINES} lines')
            for t in card.triggers if t not in reacted]
    out += [("reactions", f'"{t}" has {len(lines)} reaction lines; write at least {REACTION_LINES}')
            for t, lines in reacted.items() if len(lines) < REACTION_LINES]
    if not card.facts:
        out.append(("facts", "no facts; add the person's age, work and family with patterns that contradict them"))
    out += [(place(card, text), f'"{text}" is out of character ({why}); rewrite it as the person would say it')
            for text in spoken_lines(card) if (why := judge(card, text))]
    spoken = spoken_lines(card)
    for fact in card.facts:
        for pattern in fact.contradicted_by:
            compiled = re.compile(pattern, re.IGNORECASE)
            out += [(place(card, text) if text in spoken else "facts", f'"{text}" trips the card\'s own fact "{fact.claim}" ({pattern}); reword the line or '
                     "narrow the pattern") for text in spoken_lines(card) + other_text(card) if compiled.search(text)]
    return out
