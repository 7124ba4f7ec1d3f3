"""Rules for the MITI codes AnnoMI does not label (affirm, seeking collaboration, emphasizing autonomy, confront,
persuade with or without permission), and for plain client change / sustain talk the trained coder misreads.

Written against the project's own labelled dev sets (models/mi-coder/rule_codes_dev.csv, client_talk_dev.csv) and
measured on separate held-out sets written before the rules were run on them (rule_codes_test.csv,
client_talk_test.csv); `simtrainer eval rules` prints the figures. Each rule returns the phrase that fired, which
becomes the code's one-line reason.
"""

from __future__ import annotations

import re

_I = re.IGNORECASE

AFFIRM = re.compile(
    r"\b(you'?ve (really |already |clearly )?(done|worked|stuck|managed|shown|been (a|so|really)|made|kept|"
    r"cut|taken|tried)|you (really |obviously |clearly )?(care|love|value)\b|"
    r"(it )?(took|takes) (real |a lot of )?(courage|guts|strength)|says a lot about you|good for you|"
    r"(i )?appreciate (how|your|you)|impressive|well done|you should be proud|"
    r"you'?re (someone|a person) who|you'?re (really |so )?(determined|committed|resourceful|strong|brave)|"
    r"(showed|show|have) (a lot of |real |great )?(strength|courage|determination)|"
    r"(that was|that's) (a )?(smart|great|good|wise|clever) (idea|move|step|choice)|no small thing)",
    _I,
)
SEEK = re.compile(
    r"\b(what would you like to (focus on|talk about|start with|work on)|where would you like to (start|begin|go)|"
    r"how would you like to|what (ideas|thoughts) do you have|what do you think (would|might|could) (work|help)|"
    r"(would|is) it (be )?(ok|okay|alright|all right) (with you )?if (i|we)|would you mind if i|"
    r"can i (share|tell you|offer|give you)|may i (share|tell|offer|suggest)|"
    r"(let'?s|can we|could we) (figure|work|look|think|decide)\b.*\btogether|together\b.*\?|"
    r"how does (that|this) (plan )?sound( to you)?|does (that|this) (fit|make sense) (for|to) you)",
    _I,
)
AUTONOMY = re.compile(
    r"\b((it'?s|that'?s) (completely |entirely |totally )?(up to you|your (choice|call|decision|life))|"
    # "what made you decide", "did you decide" ask about a past choice; they do not hand the choice over
    r"(?<!made )(?<!make )(?<!did )(?<!help )(?<!helped )(?<!when )(?<!have )(?<!had )"
    r"(you|you'?re the one who) (decides?|choose|get to decide)|only you can|your decision|"
    r"you know yourself better|you'?re the expert|(no ?one|nobody) can (make|force)|"
    r"you'?re free to|whatever you (decide|choose))",
    _I,
)
CONFRONT = re.compile(
    r"\b(in denial|(just |only )?(an )?excuses?\b|why can'?t you (just )?|you should be ashamed|ashamed of|"
    r"kidding yourself|lying to yourself|(that'?s|that is) (just )?(not true|ridiculous|nonsense|wrong)|"
    r"don'?t you realize|how could you|you'?re an? (alcoholic|addict|junkie)|plain and simple|"
    r"stop (blaming|making)|you obviously don'?t care|you'?re being (lazy|stupid|silly|childish|selfish)|"
    r"come on\b)",
    _I,
)
PERSUADE = re.compile(
    r"\b(you (really )?(need|have) to|you'?ve got to|you (really )?(should|must|ought to)|you'?d better|"
    r"the best thing (you can do|would be)|my advice is|i (think|believe) you (should|need|ought)|"
    r"why don'?t you (just )?|if you (keep|don'?t)\b.{0,40}\byou'?ll)",
    _I,
)
PERMISSION = re.compile(
    r"\b(if (it'?s|that'?s) (ok|okay|alright) with you|with your permission|you (asked|wanted to know)|"
    r"take it or leave it|you may (disagree|not agree)|see what you think|this may or may not (fit|work))",
    _I,
)

# Client sustain talk the trained coder misses on short, plain refusals (AnnoMI's sustain talk is rare and its
# n-grams cannot see negation: "not going to stop" shares "stop" with change talk). Written from MI practice,
# then checked on AnnoMI's client turns: 16 of the 21 it matches are labelled sustain (base rate 11%).
_CHANGE_VERB = r"(stop|quit|cut (down|back)|cut it|change|give (it|that|them) up|give up|do (it|that|this|anything)|try)"
SUSTAIN = re.compile(
    r"\b((i'?m|i am) not (going to|gonna|ready to|willing to|about to|interested in) " + _CHANGE_VERB
    + r"|i (don'?t|do not) (want|need|plan|intend) to " + _CHANGE_VERB
    + r"|i (won'?t|will not|can'?t|cannot|couldn'?t) (ever )?" + _CHANGE_VERB
    + r"|(i )?(don'?t|do not) (have|see) (a|any) (problem|issue)|(it'?s|that'?s) not (a|really a) problem"
    r"|no way\b|i (like|love|enjoy) (drinking|smoking|vaping|my (drinks?|wine|beer|cigarettes?))"
    r"|(there'?s )?nothing (wrong|to change)"
    r"|(i'?m|i am) not (at all |really |that |too )?(worried|concerned|bothered)"
    r"|(i'?ve|i have) (got )?(it|this|everything) under control|why (would|should) i (stop|quit|cut|change)"
    r"|(don'?t|do not) think (it'?s|it is|that'?s|i have) (a |an |really a )(\w+ )?(problem|issue)"
    r"|i (don'?t|do not) (drink|smoke|vape|eat|gamble|use) (that|too) much|i'?m fine (with (it|that)|the way))",
    _I,
)


def sustain_phrase(text: str) -> str | None:
    """The phrase that marks a client line as plain sustain talk, if any."""
    match = SUSTAIN.search(text.replace("\u2019", "'"))
    return match.group(0) if match else None


# Client change talk the trained coder misses on short, plain statements of a problem or a worry (AnnoMI's
# clients rarely say them outright, and "problem" there comes mostly in "it's not a problem"). Problem
# recognition and concern count as change talk in MI. A line fires only where the speaker owns the statement:
# not in a question, not after a negation, not in what someone else thinks ("My sister thinks I have a problem").
# On AnnoMI's client turns 23 of the 38 it matches are labelled change (base rate 25%).
CHANGE = re.compile(
    r"\b((is|'s|has become|become|becoming|turned into|turning into|be) (a |an )?(real |big |serious |bit of a )?"
    r"(\w+ )?(problem|issue)"
    r"|i (do |might |probably |really )?(have|got) (a |an )(real |big |serious )?(\w+ )?(problem|issue)"
    r"|out of (hand|control)"
    r"|(i'?m|i am|i'?ve been|i have been|i get|i feel) (really |so |a bit |kind of |getting |starting to get )?"
    r"(worried|concerned|scared|afraid|frightened|ashamed)"
    r"|(it|that|this) (really )?(worries|scares|bothers|frightens) me"
    r"|i (drink|smoke|vape|eat|gamble|use) (way |far |much )?(too much|more than)"
    r"|(hurting|harming|damaging|ruining|affecting) my|(costing|cost) me"
    r"|i (know|realise|realize) i (should|need to|have to|ought to)"
    r"|i (hate|don'?t like) (what it'?s doing|who i am)"
    r"|i feel (bad|guilty|awful|terrible) about)",
    _I,
)
_NEGATION = re.compile(r"\b(not|no|never|nothing)\b|n'?t\b", _I)
# a denial inside the phrase itself ("be no problem"); "don't" may stay there ("I don't like who I am")
_DENIAL = re.compile(r"\b(no|not|never)\b", _I)
# someone other than the speaker (a pronoun, "my sister", a name) thinking or saying it; case matters for names
_SOMEONE_ELSE = re.compile(r"\b([Hh]e|[Ss]he|[Tt]hey|[Ee]veryone|[Ee]verybody|[Pp]eople|[Mm]y \w+|[A-Z][a-z]+) "
                           r"(thinks?|says?|said|believes?|keeps? saying|wants?)\b")
_SENTENCE = re.compile(r"[^.!?]+[.!?]*")


def change_phrase(text: str) -> str | None:
    """The phrase that marks a client line as plain change talk (problem recognition, concern), if any."""
    for sentence in _SENTENCE.findall(text.replace("\u2019", "'")):
        match = CHANGE.search(sentence)
        if not match or sentence.rstrip().endswith("?"):
            continue
        before = sentence[: match.start()]
        if _NEGATION.search(before) or _SOMEONE_ELSE.search(before) or _DENIAL.search(match[0]):
            continue
        return match.group(0)
    return None


def rule_codes(text: str) -> list[tuple[str, str]]:
    """(code id, phrase that fired) for each rule code found in `text`."""
    found: list[tuple[str, str]] = []
    for code, pattern in (("AF", AFFIRM), ("SEEK", SEEK), ("AUTO", AUTONOMY), ("CONFRONT", CONFRONT)):
        match = pattern.search(text)
        if match:
            found.append((code, match.group(0)))
    match = PERSUADE.search(text)
    if match and not any(code == "CONFRONT" for code, _ in found):
        permission = PERMISSION.search(text)
        found.append(("PWP" if permission else "PERSUADE", match.group(0)))
    return found
