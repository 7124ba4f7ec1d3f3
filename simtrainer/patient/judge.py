"""Rule-based checks of a finished reply against the card, independent of the streaming guard.

`contradictions` reads the card's facts (each with patterns that would contradict it); `invented_numbers` finds
quantities nobody gave; `judge` is a second, separate in-character check (counselor-style questions, third-person
self-talk, assistant phrasing, length), used by the patient-realism benchmark next to the guard.
"""

from __future__ import annotations

import re

from simtrainer.scenarios.card import Card

COUNSELOR_MOVES = re.compile(
    r"\b(how does that make you feel|tell me more( about)?|what brings you|how can i (help|support)|"
    r"how are you feeling (today|about)|what would you like to (talk|work) (about|on)|"
    r"let'?s explore|let'?s talk about (your|how you|what you|why you)|i hear (that )?you|it sounds like you)\b",
    re.IGNORECASE,
)
# Quantities a small model makes up ("Twenty." glasses a night, "Two million pounds"). "one" is left out: it is
# mostly a pronoun ("the one thing").
NUMBER = re.compile(r"\b(\d+(?:[.,:]\d+)*|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
                    r"fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
                    r"eighty|ninety|hundred|thousand|million|billion|dozen)\b", re.IGNORECASE)
ASSISTANT = re.compile(r"^(sure|certainly|of course|absolutely)[!,.]|\b(i'?d be happy to|great question)\b",
                       re.IGNORECASE)

# a storyteller's speech tag after the words ("I'm just trying to pay my own bill, he says."), not speech
NARRATION = re.compile(r"[,.!?]\s*(he|she|they) (says|said|replies|replied|adds|added|sighs|sighed)[.!]?\s*$",
                       re.IGNORECASE)


def contradictions(card: Card, reply: str) -> list[str]:
    """Claims on the card that `reply` contradicts."""
    return [
        fact.claim
        for fact in card.facts
        if any(re.search(pattern, reply, re.IGNORECASE) for pattern in fact.contradicted_by)
    ]


_WORDS = ("two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
          "eighteen nineteen").split()
DIGITS = {**{word: str(n) for n, word in enumerate(_WORDS, start=2)},
          **{word: str(10 * n) for n, word in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(),
                                                        start=2)},
          "hundred": "100", "thousand": "1000", "dozen": "12"}
WORDS = {digits: word for word, digits in DIGITS.items() if word != "dozen"}


def invented_numbers(reply: str, known: str) -> list[str]:
    """Numbers in `reply` that occur in `known` (the card and what has been said in the session) neither as
    written nor in the other form ("20" and "twenty")."""
    numbers = dict.fromkeys(match.lower() for match in NUMBER.findall(reply))
    return [n for n in numbers
            if not any(re.search(rf"\b{re.escape(form)}\b", known, re.IGNORECASE)
                       for form in {n, DIGITS.get(n, n), WORDS.get(n, n)})]


def judge(card: Card, reply: str) -> str | None:
    """None if the reply reads as the person speaking; otherwise what is wrong."""
    if COUNSELOR_MOVES.search(reply):
        return "counselor-style move"
    if ASSISTANT.search(reply.strip()):
        return "assistant phrasing"
    name = re.escape(card.person.name.split()[-1])
    if re.search(rf"\b{name} (is|was|feels|thinks|says)\b", reply):
        return "talks about themself in the third person"
    if NARRATION.search(reply):
        return "narrates as a storyteller (\"..., he says.\")"
    if len(reply.split()) > 80:
        return "too long for a spoken turn"
    return None
