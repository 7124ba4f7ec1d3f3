"""Which of the card's triggers the trainee's turn hits, so the person reacts as the card scripts.

A card names its triggers in words ("threats made in anger", "being called an alcoholic", "being told to
think positive"). Each trigger is sorted into a kind by those words, and each kind has cues in what a trainee
says (a threat names a sanction: "I'll report you to the council"). A hit needs both: the card lists a trigger
of that kind and the turn carries its cue. The MI coder's CONFRONT / PERSUADE codes count as a lecture or a
label when the wording alone did not show it. Rules, not a model: cheap, predictable, testable.
"""

from __future__ import annotations

import re

from simtrainer.scenarios.card import Card

# kind -> (words in a card's trigger that name it, cues in a trainee's turn that hit it)
KINDS: dict[str, tuple[str, str]] = {
    "threat": (
        r"\b(threat|ultimatum)",
        r"\b(report (you|this|him|her)|take (you|this) to (court|the council|a tribunal)|sue you|see you in court|"
        r"call the (council|police)|stop paying|withhold(ing)? (the )?rent|get a lawyer|my lawyer|solicitor|"
        r"or else|or i'?ll|or you'?re (off|out|fired)|kick(ed)? (you )?off the team|you'?re (off|out of) the team|"
        r"i'?ll quit|i'?m quitting|tell your (coach|parents|boss|manager)|report (you )?to)\b",
    ),
    "label": (
        r"\b(called|label|all in (her|his|their) head|compliant|treated as old)",
        r"\b(you'?re|you are|you sound like) (an? |just )?(alcoholic|addict|drunk|junkie|lazy|hypochondriac|"
        r"failure|liar|in denial|stoner|gambling addict|non-?compliant|too old)\b|"
        r"\b(it'?s|that'?s) (all )?in your head\b|\byou'?re imagining\b",
    ),
    "reassurance": (
        r"\b(reassur|definitely fine|will be fine|cheerful)",
        r"\b(cheer up|don'?t worry|it'?ll (all )?be (fine|ok|okay|alright)|look on the bright side|"
        r"you'?ll be (fine|ok|okay)|(it'?s|you'?re) definitely fine|nothing to worry about)\b",
    ),
    "blame": (
        r"\b(blam|grievance|accus|keeping score)",
        r"\b(it'?s|this is) (all )?your fault\b|\byou always\b|\byou never\b|\bbecause of you\b|"
        r"\blike last (time|year|month)\b",
    ),
    "rushed": (
        r"\b(rushed|straight away|pushed)",
        r"\b(hurry( up)?|we don'?t have (much time|all day|time for this)|let'?s (move on|get on with it)|"
        r"straight away|be quick)\b",
    ),
    "comparison": (
        r"\bcompar",
        r"\b(other (kids|people|patients|tenants|staff|students|dads|fathers)|everyone else|"
        r"your (brother|sister|cousin|friends?) (does|doesn'?t|managed?|did))\b",
    ),
    "sarcasm": (
        r"\b(sarcas|jokes)",
        r"\b(oh (great|wonderful|brilliant|sure)|yeah,? right|well done,? genius|thanks a lot)\b",
    ),
    "lecture": (
        r"\b(lectur|being told|told to|told what|think positive|talking down|like a child|demanding|targets)",
        r"\byou (really )?(need|have|ought|must)( to)?\b|\byou should\b|\bjust (stop|quit|cut it out|cut down|"
        r"eat less|think positive|relax|get over it)\b|\bthink positive\b|\bdo you (even )?know what .{1,40} "
        r"does to\b|\b(it'?s|that'?s|vaping is|drinking is|smoking is) (killing|destroying|ruining) you\b",
    ),
}
PRESSURE_CODES = {"CONFRONT", "PERSUADE"}
_PRESSURE_KINDS = ("lecture", "label")  # what a confrontation or persuasion is taken for, when the card lists it


def kind_of(trigger: str) -> str | None:
    """The kind a card's trigger names, if any (None: a trigger no cue can detect, e.g. 'vague complaints')."""
    return next((kind for kind, (named, _) in KINDS.items() if re.search(named, trigger, re.IGNORECASE)), None)


def hit_trigger(card: Card, trainee_text: str, codes: list[str] = ()) -> str | None:
    """The card's trigger (word for word) the turn hits, or None."""
    by_kind: dict[str, str] = {}
    for trigger in card.triggers:
        kind = kind_of(trigger)
        if kind and kind not in by_kind:
            by_kind[kind] = trigger
    for kind, trigger in by_kind.items():
        if re.search(KINDS[kind][1], trainee_text, re.IGNORECASE):
            return trigger
    if PRESSURE_CODES & set(codes):
        return next((by_kind[k] for k in _PRESSURE_KINDS if k in by_kind), None)
    return None


def reaction_lines(card: Card, trigger: str) -> list[str]:
    """The card's scripted lines for `trigger`, or its general pressure reactions."""
    scripted = [line for reaction in card.reactions if reaction.trigger == trigger for line in reaction.lines]
    return scripted or list(card.pressure_reactions)
