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

# kind -> (words in a card's trigger that name it, cues in a trainee's turn that hit it); the most specific kinds
# first, lecture last: its cue ("you should ...") is the broadest, so "Ha, maybe you should just take the bus" is
# a joke at the person before it is a lecture
KINDS: dict[str, tuple[str, str]] = {
    "threat": (
        r"\b(threat|ultimatum)",
        r"\b(report (you|this|him|her)|take (you|this) to (court|the council|a tribunal)|sue you|see you in court|"
        r"call the (council|police)|stop paying|withhold(ing)? (the )?rent|get a lawyer|my lawyer|solicitor|"
        r"or else|or i'?ll|or you'?re (off|out|fired)|kick(ed)? (you )?off the team|you'?re (off|out of) the team|"
        r"i'?ll quit|i'?m quitting|tell your (coach|parents|boss|manager)|report (you )?to|i'?m (telling|going to "
        r"tell)|i'?ll (tell|be telling)|if you don'?t\b[^.?!]{0,60}\b(i'?ll|i will|i'?m going to) (tell|report|call|"
        r"take|stop|cancel|sue|go to))\b",
    ),
    "label": (
        r"\b(called|label|in (her|his|their) head|compliant|treated as old|freeloader)",
        r"\b(you'?re|you are|you sound like|you seem like|you'?ve become)\b[^.?!]{0,30}?\b(alcoholic|addict|"
        r"addicted|hooked|drunk|junkie|lazy|hypochondriac|failure|liar|in denial|stoner|gambler|non-?compliant|"
        r"too old|freeloader|scrounger|hoarder)\b|\b(is|be|it'?s|that'?s|all|just|mostly) in your head\b|"
        r"\byou'?re imagining\b",
    ),
    "decided": (
        r"\b(decision|decided|no say|no choice|already made)",
        r"\b(already|been|has|have|it'?s) decided\b|\bdecision (is|has been|'s been) made\b|\byou (don'?t|do not) "
        r"(get|have) (a|any) (say|choice)\b|\b(there'?s|you have) no choice\b|\bit'?s happening\b|"
        r"\bnot up to you\b|\bnot optional\b|\bnon-?negotiable\b",
    ),
    "reassurance": (
        r"\b(reassur|definitely fine|will be fine|cheerful|grateful|only a minor|statistic)",
        r"\b(cheer up|don'?t worry|it'?ll (all )?be (fine|ok|okay|alright)|look on the bright side|"
        r"you'?ll be (fine|ok|okay|grand)|(it'?s|you'?re) definitely fine|nothing to worry about|"
        r"only a (minor|small|little|tiny)|statistic(s|ally)|safest|perfectly (safe|normal|fine)|"
        r"no need to (worry|panic|be (scared|nervous))|so much to be grateful for|could be (a lot )?worse)\b",
    ),
    "blame": (
        r"\b(blam|grievance|accus|keeping score|old arguments|dragged up|the past)",
        r"\b(it'?s|this is) (all )?your fault\b|\byou always\b|\byou never\b|\bbecause of you\b|"
        r"\blike last (time|year|month)\b|\bremember when you\b|\bthat time you\b|\bjust like when you\b|"
        r"\byou did the same\b",
    ),
    "comparison": (
        r"\bcompar",
        r"\b(other (kids|people|patients|tenants|staff|students|dads|fathers)|everyone else|"
        r"your (brother|sister|cousin|friends?) (does|doesn'?t|managed?|did))\b|\b(just )?like your (mum|mom|"
        r"mother|dad|father|cousins?|brother|sister)\b|\bturning into your\b",
    ),
    "sarcasm": (
        r"\b(sarcas|jokes|joking|mock)",
        r"\b(oh (great|wonderful|brilliant|sure)|yeah,? right|well done,? genius|thanks a lot|good luck with that|"
        r"what a surprise)\b|^\W*(ha(ha)*|lol|lmao)\b",
    ),
    "rushed": (
        r"\b(rushed|straight away|pushed)",
        r"\b(hurry( up)?|we don'?t have (much time|all day|time for this)|let'?s (move on|get on with it)|"
        r"straight away|be quick|get it over with|why wait)\b",
    ),
    "lecture": (
        r"\b(lectur|being told|told to|told what|think positive|talking down|like a child|demand|targets|warn|scare)",
        r"\byou (really )?(need|have|ought|must)( to)?\b|\byou should\b|\bjust (stop|quit|cut it out|cut down|"
        r"eat less|think positive|relax|get over it)\b|\bthink positive\b|\bdo you (even )?know what .{1,40} "
        r"does to\b|\b(it'?s|that'?s|vaping is|drinking is|smoking is) (killing|destroying|ruining) you\b|"
        r"\byou (could|might|will|'ll|are going to) (die|overdose|end up|lose)\b|\bdo you (even )?(realise|realize)\b",
    ),
}
PRESSURE_CODES = {"CONFRONT", "PERSUADE"}
_PRESSURE_KINDS = ("lecture", "label")  # what a confrontation or persuasion is taken for, when the card lists it
# words of a trigger that say how it is done, not what about: its own words are the rest ("cut up her cards")
_HOW = frozenset(
    "being been told called asked pushed made getting having treated suggesting suggestions threats threat jokes "
    "warnings lectured compared reassured rushed demands dragged about with into without any his her their them him "
    "she he they the a an to of at on in is was it its that this or and for from by when what who someone people "
    "like as all up tell".split())
_WORD = re.compile(r"[a-z0-9']+")


def _stems(text: str) -> set[str]:
    return {w[:5] for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _HOW}


def kind_of(trigger: str) -> str | None:
    """The kind a card's trigger names, if any (None: a trigger no cue can detect, e.g. 'vague complaints')."""
    return next((kind for kind, (named, _) in KINDS.items() if re.search(named, trigger, re.IGNORECASE)), None)


def hit_trigger(card: Card, trainee_text: str, codes: list[str] = ()) -> str | None:
    """The card's trigger (word for word) the turn hits, or None. A turn hits a trigger when it carries the cue of
    the trigger's kind; among several, the one whose own words it uses ("cut up your cards" is the lecture about
    the cards, not the one about interest), then the most specific kind. A turn the MI coder hears as a
    confrontation or persuasion, or that carries any kind's cue, hits the trigger whose words it uses; failing
    that, a confrontation is taken for the card's lecture or label."""
    said = _stems(trainee_text)
    order = list(KINDS)
    kinds = {trigger: kind_of(trigger) for trigger in card.triggers}
    uses = {trigger: len(_stems(trigger) & said) for trigger in card.triggers}
    cued = [t for t, kind in kinds.items() if kind and re.search(KINDS[kind][1], trainee_text, re.IGNORECASE)]
    if cued:
        return max(cued, key=lambda t: (uses[t], -order.index(kinds[t])))
    pressed = bool(PRESSURE_CODES & set(codes))
    if pressed or any(re.search(cue, trainee_text, re.IGNORECASE) for _, cue in KINDS.values()):
        named = [t for t in card.triggers if uses[t]]
        if named:
            return max(named, key=lambda t: uses[t])
    if pressed:
        return next((t for kind in _PRESSURE_KINDS for t, k in kinds.items() if k == kind), None)
    return None


def reaction_lines(card: Card, trigger: str) -> list[str]:
    """The card's scripted lines for `trigger`, or its general pressure reactions."""
    scripted = [line for reaction in card.reactions if reaction.trigger == trigger for line in reaction.lines]
    return scripted or list(card.pressure_reactions)
