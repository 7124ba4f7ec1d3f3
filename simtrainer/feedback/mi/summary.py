"""MITI 4.2.1 summary scores for a session: counts, R:Q, %CR, MI-adherent / non-adherent, global estimates.

The four globals are *estimates* from the coded behaviours and the patient's change/sustain talk, not a
rater's judgement; every formula is here and each input is in the summary, so a supervisor can check it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from simtrainer.feedback.base import TurnView
from simtrainer.rubrics import Rubric

#: MITI's two summary scores, each the mean of two globals
COMPOSITES = {"relational": ("partnership", "empathy"),
              "technical": ("cultivating_change_talk", "softening_sustain_talk")}

def _clamp(x: float) -> float:
    return max(0.0, min(1.0, x))


def _scale(x: float) -> float:
    """0..1 -> a 1..5 rating, one decimal."""
    return round(1 + 4 * _clamp(x), 1)


def band(value: float | None, fair: float, good: float) -> str:
    if value is None:
        return "n/a"
    return "good" if value >= good else "fair" if value >= fair else "below fair"


def miti_summary(turns: list[TurnView], rubric: Rubric) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    open_q = closed_q = 0
    trainee_turns = 0
    talk: Counter[str] = Counter()
    for turn in turns:
        mi_codes = [c for c in turn.codes if c.rubric == "mi"]
        if turn.speaker == "trainee":
            trainee_turns += 1
            for c in mi_codes:
                counts[c.code] += 1
                if c.code == "Q":
                    open_q += c.detail == "open"
                    closed_q += c.detail == "closed"
        else:
            for c in mi_codes:
                talk[c.code] += 1
    t = max(trainee_turns, 1)
    q, sr, cr = counts["Q"], counts["SR"], counts["CR"]
    reflections = sr + cr
    rq = round(reflections / q, 2) if q else None
    pct_cr = round(cr / reflections, 3) if reflections else None
    mia = counts["AF"] + counts["SEEK"] + counts["AUTO"]
    mina = counts["CONFRONT"] + counts["PERSUADE"]
    voiced = talk["change"] + talk["sustain"]
    change_share = talk["change"] / voiced if voiced else 0.5
    mina_rate = _clamp(mina / t / 0.2)  # one non-adherent turn in five counts as the worst
    globals_ = {
        # Evoking turns (open questions, complex reflections, affirmations) and the change talk they drew.
        "cultivating_change_talk": _scale(0.6 * _clamp((open_q + cr + counts["AF"]) / t / 0.6) + 0.4 * change_share),
        # Few persuading/confronting turns, and little sustain talk from the patient.
        "softening_sustain_talk": _scale(0.6 * (1 - mina_rate) + 0.4 * change_share),
        # Power sharing (seek, autonomy), reflective listening (R:Q up to 2) and no non-adherent turns.
        "partnership": _scale(
            0.4 * _clamp((counts["SEEK"] + counts["AUTO"]) / t / 0.15) + 0.3 * _clamp((rq or 0) / 2)
            + 0.3 * (1 - mina_rate)
        ),
        # Reflections in at least half the turns, with depth (%CR).
        "empathy": _scale(0.6 * _clamp(reflections / t / 0.5) + 0.4 * (pct_cr or 0)),
    }
    th = rubric.thresholds
    relational, technical = (round(sum(globals_[g] for g in COMPOSITES[name]) / 2, 2)
                             for name in ("relational", "technical"))
    return {
        "counts": {code.id: counts[code.id] for code in rubric.codes},
        "questions_open": open_q,
        "questions_closed": closed_q,
        "reflections": reflections,
        "rq": rq,
        "rq_band": band(rq, th["rq"].fair, th["rq"].good) if q else ("good" if reflections else "n/a"),
        "pct_cr": pct_cr,
        "pct_cr_band": band(pct_cr, th["pct_cr"].fair, th["pct_cr"].good),
        "mi_adherent": mia,
        "mi_non_adherent": mina,
        "client_talk": {"change": talk["change"], "sustain": talk["sustain"], "neutral": talk["neutral"]},
        "globals_estimate": globals_,
        "relational": relational,
        "relational_band": band(relational, th["relational"].fair, th["relational"].good),
        "technical": technical,
        "technical_band": band(technical, th["technical"].fair, th["technical"].good),
        "note": _note(trainee_turns),
        "tip": _tip(mina, rq, pct_cr, mia, talk, th),
    }


def _tip(mina: int, rq: float | None, pct_cr: float | None, mia: int, talk: Counter[str], th: dict) -> str:
    """One next step, for the weakest part first: pushing, then too few reflections, then their depth, then
    partnership, then evoking."""
    if mina:
        return ("when the urge to advise or correct comes, reflect what you heard first, and ask before you "
                "offer advice.")
    if rq is not None and rq < th["rq"].fair or rq is None and pct_cr is None:  # no R:Q: no question or no turn
        return "follow a question with a reflection; aim for at least one reflection for each question."
    if pct_cr is None or pct_cr < th["pct_cr"].fair:
        return "go beyond repeating: name the feeling, the meaning, or both sides of what the person is torn about."
    if not mia:
        return "affirm an effort or strength you hear, and ask what the person would like to do."
    if talk["sustain"] > talk["change"]:
        return "draw out the person's own reasons: ask why the change might matter to them, and reflect the answer."
    return "keep the balance, and gather the change talk you heard into a summary."


# MITI rates the globals over a 20-minute segment; a practice session of a few turns shows much less
FEW_TURNS = 10


def _note(trainee_turns: int) -> str:
    note = "Globals are estimates computed from the coded turns, not a trained rater's scores."
    if trainee_turns < FEW_TURNS:
        note += (f" With {trainee_turns} of your turns they are a rough sign: MITI rates globals over about"
                 " 20 minutes of talk.")
    return note
