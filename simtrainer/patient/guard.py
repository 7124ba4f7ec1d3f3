"""The in-character guard: rejects replies that break the patient's role, and trims the rest.

Checked on every streamed token (so a role break is caught early and regenerated) and on the finished reply.
Rules, not a model: they must be cheap, predictable and testable on a corpus of good and broken replies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Phrases no patient says: the model has slipped into an assistant or a counselor.
ROLE_BREAK = re.compile(
    r"\b(as an ai|language model|ai assistant|virtual assistant|i am an assistant|i'm an assistant|"
    r"i'?m (just )?a (bot|chatbot|computer program)|as a (counselor|counsellor|therapist)|"
    r"how (can|may) i (help|assist)|i'?m here to (help|assist|support) you|i can help you with|"
    r"is there anything else|anything else i can|i (cannot|can't|can not) (comply|assist with)|"
    r"i'?m sorry, but i (cannot|can't)|my (instructions|programming|system prompt)|"
    r"ignore (your|my|all|previous) instructions|"
    r"(feel free to|don't hesitate to) (ask|reach out)|happy to help|glad to help)\b",
    re.IGNORECASE,
)
# Counselling the counselor: advice lists and coaching phrases.
COUNSELING = re.compile(
    r"(\bhere are (some|a few) (tips|ways|steps|strategies|suggestions)\b|\bi (would )?(recommend|suggest) "
    r"(that )?you\b|\bit'?s important (for you )?to\b|\byou (should|might want to) (try|consider)\b|"
    r"(^|\s)\d\.\s|\*\*|^\s*[-*]\s)",
    re.IGNORECASE,
)
LABEL = re.compile(r"\b[A-Z][A-Z .']{1,30}:")
# A model stuck in a loop, not a person: one word four times running ("la la la la"; "No, no, no" is a person),
# a phrase of two to four words three times running, or one short unit ten times without spaces ("lalala...").
# Punctuation between the repeats does not hide them.
REPEATED_WORD = re.compile(r"(?:^| )([a-z0-9']+ )\1{3}")
REPEATED_PHRASE = re.compile(r"(?:^| )((?:[a-z0-9']+ ){2,4})\1{2}")
REPEATED_CHARS = re.compile(r"(\S{1,8}?)\1{9}")
SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+")
# A small model's reply that speaks to the counselor has usually lost track of who is who ("No, I'm going to take
# you to the hospital."): read blind, 2 of 18 such SmolLM2 replies made sense, against 26 of 48 of its others
# (docs/benchmarks.md). Fillers such as "you know" are not addressed to anyone.
ADDRESSED = re.compile(r"\b(you|your|yours|yourself)\b", re.IGNORECASE)
FILLER = re.compile(r"\b(you know|thank you|you see|mind you)\b", re.IGNORECASE)


# Words a finished sentence does not end on ("I guess so", "Neither do I" and "nothing to worry about" do end).
DANGLING = frozenset("a an the my your his her our their and but or because if than i'm i've i'd i'll we're "
                     "they're you're".split())


@dataclass(frozen=True)
class GuardVerdict:
    ok: bool
    reason: str = ""


# First and second person folded together, so "I feel" echoes "you feel".
_PERSON = {"i": "you", "me": "you", "my": "your", "mine": "yours", "myself": "yourself", "i'm": "you're",
           "am": "are", "i've": "you've", "i'd": "you'd", "i'll": "you'll"}


def _words(text: str) -> list[str]:
    return [_PERSON.get(w, w) for w in re.findall(r"[a-z']+", text.lower())]


def repeats_itself(text: str) -> bool:
    """A looping model: a word or phrase over and over, or a long reply made of a handful of words."""
    words = re.findall(r"[a-z0-9']+", text.lower())
    spaced = " ".join(words) + " "
    if REPEATED_WORD.search(spaced) or REPEATED_PHRASE.search(spaced) or REPEATED_CHARS.search(text):
        return True
    return len(words) >= 12 and len(set(words)) < 0.34 * len(words)


def early_check(partial: str) -> GuardVerdict:
    """Checks that can reject a reply while it is still streaming."""
    if repeats_itself(partial):
        return GuardVerdict(False, "repeats itself")
    if ROLE_BREAK.search(partial):
        return GuardVerdict(False, "assistant or counselor voice")
    if COUNSELING.search(partial):
        return GuardVerdict(False, "counselling the counselor")
    if LABEL.search(partial) or "<|" in partial or "###" in partial:
        return GuardVerdict(False, "speaks as another speaker")
    return GuardVerdict(True)


def check_reply(reply: str, trainee_text: str = "", *, max_chars: int = 600) -> GuardVerdict:
    """Full check of a finished (trimmed) reply."""
    text = reply.strip()
    if len(_words(text)) < 1:
        return GuardVerdict(False, "empty reply")
    verdict = early_check(text)
    if not verdict.ok:
        return verdict
    if len(text) > max_chars:
        return GuardVerdict(False, "runaway length")
    if breaks_off(text):
        return GuardVerdict(False, "stops mid-sentence")
    said, heard = _words(text), _words(trainee_text)
    if len(said) >= 5 and heard:
        heard_set = set(heard)
        overlap = sum(1 for w in said if w in heard_set) / len(said)
        if overlap >= 0.85 and len(set(said) & heard_set) >= 5:
            return GuardVerdict(False, "echoes the trainee")
    return GuardVerdict(True)


def addresses_listener(text: str) -> bool:
    """Whether the reply speaks to the other person ("you"), fillers aside."""
    return bool(ADDRESSED.search(FILLER.sub(" ", text)))


def sentences(text: str) -> list[str]:
    return [s for s in SENTENCE_END.split(text.strip()) if s]


def complete_sentences(text: str) -> int:
    """How many sentences in `text` have ended (a terminator followed by a space)."""
    return len(SENTENCE_END.findall(text))


def breaks_off(text: str) -> bool:
    """Whether the text stops mid-sentence: no closing punctuation, and a word that needs more ("and my"), a
    comma, or twelve words or more (a long unpunctuated line was cut: "..., but my heart"; "I guess so" was not)."""
    text = text.strip()
    if not text or re.search(r"[.!?…][\"')\]]*$", text):
        return False
    words = _words(text)
    return bool(words) and (words[-1] in DANGLING or text.endswith((",", ":", ";", "-")) or len(words) >= 12)


def trim_reply(text: str, max_sentences: int, *, finished: bool = True) -> str:
    """Keep at most `max_sentences`; drop a dangling half-sentence (left by the token cap, or a line the model
    ended mid-sentence)."""
    text = re.sub(r"\s+", " ", text).strip().strip('"').strip()
    parts = sentences(text)[:max_sentences]
    if len(parts) > 1 and not re.search(r"[.!?…][\"')\]]*$", parts[-1]) and (not finished or breaks_off(parts[-1])):
        parts = parts[:-1]
    return " ".join(parts).strip()
