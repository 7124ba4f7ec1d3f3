"""Whole-session CTRS features from both speakers: what the therapist does (cues per turn) and how the patient
reacts (feels understood, pushes back, reaches their own conclusion, agrees a task).

Every feature is an aggregate of per-turn values, so each turn's share of a feature (and so of an item's score)
can be named as evidence. Rates are taken over *content* turns only (fillers such as "Mm." or "Okay." are left
out of both count and denominator) with a small prior of empty turns, so padding a session with fillers never
raises a rate, and one early question does not read as a session full of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

PRIOR = 3  # empty turns added to every rate's denominator: early and very short sessions are not extrapolated

_BACKCHANNEL = (r"(mm+(-hmm)?|m-hm+|uh-huh|hmm+|ok(ay)?|right|sure|yeah|yep|yes|no|i see|go on|fine|alright|"
                r"not really|maybe|thanks|thank you|ah|oh|sorry|so|well|um+|uh+|and)")
FILLER = re.compile(rf"^{_BACKCHANNEL}([,.!?…]*\s*{_BACKCHANNEL})*[.!?,…]*$", re.I)


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


#: Therapist cues: the behaviour each item's anchors turn on, as the project words them (rubrics/ctrs.toml).
THERAPIST = {
    "agenda": _re(r"\bagenda\b|(cover|focus on|look at|talk about|work on|spend) (most of )?today|for today|"
                  r"today,? i('d| would) (like|suggest)|\bi('d| would) (like|suggest)( that)? we\b|what (else )?would you "
                  r"(like to )?(add|put|change)|anything (else )?(you'd|you would|you want to) (like to )?(add|bring)|"
                  r"which (feels|is|matters) most|most (pressing|urgent|important)|shall we (start|begin|put|do|take|"
                  r"decide|look)|(start|begin) with|before we (dive|begin|start)|agree (what|our|the)|prioriti|"
                  r"(pick|choose) one thing|what (shall|should|would you like to) (we )?(focus on|talk about|look at|"
                  r"cover)|where (would you like to|shall we) start"),
    "feedback": _re(r"how (was|has|is|did) (today|this|that|the session)|how does (that|this) (sound|feel|land)|"
                    r"does (that|this) (sound|make sense|work|feel|fit)|(taking|take) away|anything (i said |that )?"
                    r"(unhelpful|didn't (sit|work|help|land))|(is )?the pace|do (anything )?differently|"
                    r"have i (missed|got (that|this) right)|did i get that right|is that (a fair|right)|"
                    r"any questions|sum up|summari[sz]e|is this (pace|working|useful|helpful)|"
                    r"anything (unclear|i should)|what do you make of what we"),
    "reflection": _re(r"^(so|it sounds|sounds like|you('re| are) saying|what i'm hearing|you felt|it's like|"
                      r"like you|and nobody|so it's|so the|so being|so even|so having|so staying|so one|so there's|"
                      r"so in|so it wasn't|that's a (heavy|painful|harsh|lot))\b"),
    "warmth": _re(r"(sounds|must be|must have been|is) (really |so |such )?(a )?(hard|awful|painful|frightening|"
                  r"exhausting|lonely|difficult|tough|scary|hurtful|heavy|terrifying|mission)|thank you for|"
                  r"thanks for|i can (hear|see) (how|that|why)|makes (complete |a lot of )?sense|i'm glad|"
                  r"real achievement|took courage|i'm sorry|understandable|it's not (silly|dramatic|ridiculous)|"
                  r"doesn't sound (silly|ridiculous|mad)|be gentle|a lot to (carry|be carrying|understand)|"
                  r"good to see you|i appreciate|that's okay|so honest|powerful"),
    "hostile": _re(r"stop it|childish|dramatic\b|out of order|you're being|irrational|not tried hard enough|"
                   r"haven't tried hard|do you want to get better|don't be like that|\btrust me\b|moping|"
                   r"no excuse|you're (clearly|overestimating)|you need willpower|decide (it|to)\b|"
                   r"i am listening|you can't keep"),
    "lecture": _re(r"you (just |really )?(need|have|ought) to|you should|you must|^just |\bjust (go|stop|do|decide|"
                   r"delete|put|leave|bake|say)\b|stop (avoiding|googling|checking|trying|asking)|"
                   r"the (research|evidence) (is|says|shows)|it's (completely |perfectly |just |very )?(normal|"
                   r"adrenaline|anxiety|nerves|a habit)|everyone (gets|feels|struggles|hates)|nobody('s| is| has "
                   r"ever)|that's (just|no reason|the depression|self-focused)|let me explain|i'll explain|"
                   r"the problem is|the solution|the point is|the important thing|feelings aren't facts|"
                   r"statistically|it's called|the model|evidence-based|i understand perfectionism|"
                   r"it applies to|it is if|you can, you|anger is a choice|you're letting|look at it as"),
    "reassure": _re(r"(you'll|you will|it'll|it will|she'll) (be fine|love|come|go well)|nothing to worry|"
                    r"is (fine|perfectly healthy|normal)\b|don't worry|i'm sure (you|it|that|she|they)|"
                    r"you're doing (a )?(great|brilliant)|(it )?(does )?gets? better|it passes|(stay|think) "
                    r"positive|lots of (women|people|mums|girls)|you've got so much|you're a lovely|"
                    r"i bet you were|see, it went|you had every right|it'll come|they didn't miss"),
    "chat": _re(r"\bi (loved|love|flew|went|had|still hate|'ve been to|'ve done|did)\b|\bmy (cousin|nephew|"
                r"brother|first|tip)\b|\bmine (was|is|slept|'s)|how was your weekend|did you (see|watch)|"
                r"where's home|what are you doing for|have you been (to|before)|how's work\?"),
    "cognition": _re(r"went through your mind|what (did|do) you (think|tell yourself|take that to mean|imagine|"
                     r"predict|picture|see)|\bthoughts?\b|belie|mean about you|what does (that|it) (say|mean)|"
                     r"in your (head|mind)|\bpicture\b|prediction|\bassum|\brule\b|what are you (afraid|trying)|"
                     r"what's the worst|worst part|what makes (the|it|you)|what would happen|what did you "
                     r"(take|make)|how did you end up deciding|what do you imagine"),
    "rating": _re(r"\b0 (to|and) 100\b|from 0|out of (ten|a hundred|100)|\bpercent|%|how (much|strongly|sure|"
                  r"likely|convincing)|\brate\b|\brating\b|\bscale\b|how responsible"),
    "discovery": _re(r"evidence|what else (might|could|do you know)|another way|other (possible )?explanation|"
                     r"say to a friend|what do you make of|what do you conclude|what might explain|how does (that|"
                     r"this) (fit|compare|change)|what does that (suggest|say|do to)|how (could|might) (you|we) "
                     r"(find out|test|check)|what did you (learn|notice)|what do you notice|fits and|doesn't fit|"
                     r"what's (the )?different|what do you think|how do you know|how might (that|those)|"
                     r"is there (another|anything in)|what would it be like|where does .* (fit|come from|get)|"
                     r"what would (a|you)|did you think (she|he|your)|how do you usually decide|what other"),
    "technique": _re(r"thought record|experiment|hierarch|exposure|activit|diary|\blog\b|\bpie\b|continuum|"
                     r"cost-benefit|safety behaviour|balanced thought|evidence (for|against)|predict|\brecord\b|"
                     r"video|schedul|response prevention|downward|prediction sheet|the sheet|"
                     r"write (it|that|this|the|both|down)|on a card|on the plan"),
    "homework": _re(r"homework|this week|before (we meet|next)|between now|this weekend|on (monday|tuesday|"
                    r"wednesday|thursday|friday|saturday|sunday)|next (step|one|time)|(what|which) (step|evening)|"
                    r"write (it |that |this |both )?down|keep the (log|diary)|what would you like to (try|do)|"
                    r"when (will|could) you|for the (next|airport|talk)"),
    "obstacles": _re(r"get in the way|might stop you|obstacle|if the urge|what could you (do|say)|what will you do "
                     r"if|what would help on|if an attack|if that (happened|thought)|what if they|and if"),
    "collaboration": _re(r"together|shall we|would you (be willing|like|be up for)|what would you (like|add|change)|"
                         r"what do you think|your (call|pace)|you decide|does that work|is that (okay|alright|"
                         r"still right)|doable|you know your|which (first|feels)|let's (work out|decide|make|"
                         r"write|put|plan)|how would you like|what would make|what could you"),
    "plan": _re(r"\bplan\b|next step|we('ll| will) (come back|pick|look)|pick (that|this) up|link|rationale|"
                r"because (it|they) (links?|might)|keep .* in (view|mind)|the cycle|the pattern|"
                r"might (help|be) (with|creating)|breaks? it|break the"),
    "question": _re(r"\?"),
}

#: Patient cues: how the session lands.
PATIENT = {
    "understood": _re(r"exactly|that's (it|exactly|right)|you're the first|yes[.!,] (that's|it is|exactly)|"
                      r"^yes!|that's what|that's exactly"),
    "insight": _re(r"\boh\b|never thought|hadn't thought|i suppose|i guess|maybe (it's|i|they|that|reports|"
                   r"my)|makes sense|so (it's|maybe|perhaps)|i see where|when you say it|actually|i realise|"
                   r"doesn't (really )?fit|they don't really|it's not (really|every|just)|less dramatic|"
                   r"i think (if|i|it|i'm)|proves i|which sounds|that (i|the|people|my|he|she) |didn't think"),
    "pushback": _re(r"not listening|don't (understand|know that|see it)|not sure you understand|i don't think (you|"
                    r"i can)|you have to say|whatever|if you say so|easy for you|i've tried|doesn't (help|work|"
                    r"apply|really apply)|everyone tells me|why should i|why i come|i know(,| that)? but|"
                    r"i already|what if (they|it)|you've never|that's a lot of money|every day\?|every time\?|"
                    r"is this how therapy|what am i supposed|what i'm supposed|i don't really know what"),
    "commitment": _re(r"i('ll| will| can| could) (do|try|text|ring|write|ask|go|keep|put|remember|tell|stay|"
                      r"answer|add|check)|i can do that|\bdoable\b|got it|i'll (look|try)|^yes[,.] (one|two|same|"
                      r"please)|same rating|agreed\b"),
    "rated": _re(r"\b\d+\b|percent|ninety|eighty|seventy|sixty|fifty|forty|thirty|twenty|hundred|a (two|three|"
                 r"four|five|six|seven|eight|nine|ten)\b"),
    "positive": _re(r"helped|helpful|useful|\bgood\b|lighter|better than|relief|weird|\bliked\b|working|"
                    r"feel (a bit )?(lighter|better|less)"),
}

T_CUES, P_CUES = tuple(THERAPIST), tuple(PATIENT)
#: The direction in which each cue can move a score (+1 up, -1 down), as the rubric has it: the model may learn
#: how much a cue matters, never that lecturing, hostility or filler make a session better.
SIGN = {**dict.fromkeys(T_CUES + P_CUES + ("words",), 1),
        **dict.fromkeys(("hostile", "lecture", "reassure", "chat", "long", "filler", "pushback"), -1)}


@dataclass(frozen=True)
class Feature:
    """How per-turn values become one session feature."""

    name: str
    speaker: str  # "therapist" | "patient"
    cue: str  # a key of THERAPIST / PATIENT, or "words"
    how: str  # "rate" (over content turns) | "any" (seen at all) | "opening" | "closing" | "share" (of all turns)


FEATURES = (
    *(Feature(f"t_{c}_rate", "therapist", c, "rate") for c in T_CUES),
    *(Feature(f"t_{c}_any", "therapist", c, "any") for c in ("agenda", "feedback", "homework", "obstacles",
                                                               "technique", "rating", "plan", "hostile",
                                                               "lecture", "reassure", "chat", "reflection")),
    Feature("t_agenda_opening", "therapist", "agenda", "opening"),
    Feature("t_feedback_closing", "therapist", "feedback", "closing"),
    Feature("t_homework_closing", "therapist", "homework", "closing"),
    Feature("t_long_rate", "therapist", "long", "rate"),
    *(Feature(f"p_{c}_rate", "patient", c, "rate") for c in P_CUES),
    Feature("p_understood_any", "patient", "understood", "any"),
    Feature("p_commitment_closing", "patient", "commitment", "closing"),
    Feature("p_positive_closing", "patient", "positive", "closing"),
    Feature("p_pushback_any", "patient", "pushback", "any"),
    Feature("p_words_share", "patient", "words", "share"),
    Feature("t_filler_share", "therapist", "filler", "share"),
)
NAMES = tuple(f.name for f in FEATURES)
SIGNS = tuple(SIGN[f.cue] for f in FEATURES)
WINDOW = 3  # turns of a speaker that count as the opening or the closing


def is_filler(text: str) -> bool:
    return bool(FILLER.match(text.strip())) or not text.strip()


def turn_cues(speaker: str, text: str, detector: Callable[[str, str], dict[str, float]] | None = None
              ) -> dict[str, float]:
    """0-1 per cue (plus "long", "words" and "filler") for one turn: a pattern hit counts 1, otherwise how surely
    the learned detector (when given) finds the cue in one of its sentences."""
    cues = THERAPIST if speaker == "therapist" else PATIENT
    out = {name: float(bool(rx.search(text))) for name, rx in cues.items()}
    if detector is not None and not is_filler(text):
        for name, sure in detector(speaker, text).items():
            out[name] = max(out.get(name, 0.0), sure)
    words = len(text.split())
    out["long"] = float(words > 40)
    out["words"] = float(words)
    out["filler"] = float(is_filler(text))
    return out


def session_features(turns: list[tuple[str, str]], cue_of: Callable[[str, str], dict[str, float]] = turn_cues
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(features, shares): the session's feature vector and, per turn, its share of each feature (rows sum to the
    feature value over turns), from (speaker, text) pairs with speaker "therapist" or "patient"; `cue_of` gives a
    turn's cues (turn_cues, possibly with a detector and a cache)."""
    n, k = len(turns), len(FEATURES)
    cues = [cue_of(s, t) for s, t in turns]
    content = np.array([not c["filler"] for c in cues])
    spk = np.array([s for s, _ in turns]) if n else np.array([], dtype=str)
    x, shares = np.zeros(k, dtype=np.float32), np.zeros((n, k), dtype=np.float32)
    for j, f in enumerate(FEATURES):
        mine = np.flatnonzero(spk == f.speaker) if n else np.array([], dtype=int)
        vals = np.array([cues[i].get(f.cue, 0.0) for i in range(n)], dtype=np.float32)
        if f.how == "share":
            if f.cue == "words":  # the patient's share of the words said in content turns
                words = np.where(content, vals + [cues[i]["words"] * (spk[i] != f.speaker) for i in range(n)], 0.0)
                per = np.where(content & (spk == f.speaker), vals, 0.0) / max(words.sum(), 1.0)
            else:  # filler share of this speaker's turns
                per = np.where(spk == f.speaker, vals, 0.0) / (len(mine) + PRIOR)
        else:
            sel = [i for i in mine if content[i]]
            if f.how == "opening":
                sel = sel[:WINDOW]
            elif f.how == "closing":
                sel = sel[-WINDOW:]
            per = np.zeros(n, dtype=np.float32)
            got = vals[sel] if sel else np.zeros(0, dtype=np.float32)
            if f.how == "rate":
                per[sel] = got / (len(sel) + PRIOR)
            elif got.sum() > 0:  # any / opening / closing: how surely it was seen, shared by the turns that showed it
                per[sel] = got / got.sum() * got.max()
        shares[:, j] = per
        x[j] = per.sum()
    return x, shares
