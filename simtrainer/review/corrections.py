"""A supervisor's review of a session: corrected codes, hand ratings, and the summary "as reviewed".

One turn numbering everywhere: a turn's number is its `idx` + 1 (the patient's opening line is turn 1); that is
what `sessions show` prints and what `--turn N` takes. The store keeps `idx`.

A correction names the code a turn should have had for a rubric (DEAR MAN: one skill or several joined by "+",
`negotiate+reinforce`, as a turn may show more than one); the latest correction per turn and rubric
replaces that rubric's automatic codes on the turn when the summary is recomputed ("none" for DEAR MAN and CTRS:
no skill on that turn; a CTRS item may carry the level it showed, `agenda:4`, else it scores 0). The automatic
codes stay stored beside it. Hand ratings replace the coders' estimates of
a rubric's global items: MITI's four globals (1-5), DEAR MAN's skills (0/1), CTRS items (0-6).
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from typing import Any

from simtrainer.errors import UserError
from simtrainer.feedback.base import Code, TurnView
from simtrainer.feedback.labels import SEVERAL, code_label, stored_code
from simtrainer.feedback.shown import MAIN_RUBRIC, is_shown, main_rubric
from simtrainer.rubrics import RUBRIC_IDS, load_rubric
from simtrainer.storage import Store

NONE = "none"
LABEL_HINT = {"trainee": "labels such as CR or 'Q open'", "patient": "labels such as CT, ST or N"}
RUBRIC_HINT = {"dearman": "letters such as D or M, and 'none'", "ctrs": "ITEM:LEVEL such as agenda:4, and 'none'"}


def turn_number(idx: int) -> int:
    """The number a person sees for the turn stored at `idx`."""
    return idx + 1


def turn_idx(number: int, turns: list[dict[str, Any]], where: str) -> int:
    """The stored `idx` of visible turn `number`; a number outside the transcript is a `UserError`."""
    if not 1 <= number <= len(turns):
        raise UserError(f"There is no turn {number}: this session has turns 1 to {len(turns)}.", where=where,
                        fix="Use a turn number that `simtrainer sessions show` prints.")
    return number - 1


def default_author(author: str | None) -> str:
    """The author given, else the OS user name, else "supervisor"."""
    if author and author.strip():
        return author.strip()
    try:
        return getpass.getuser() or "supervisor"
    except (KeyError, OSError):  # no name for this uid (a container)
        return "supervisor"


def _key(text: str) -> str:
    return " ".join(text.replace("_", " ").replace("-", " ").split()).casefold()


def code_choices(rubric_id: str, speaker: str) -> dict[str, tuple[str, str]]:
    """Every accepted spelling (case-folded) of a code for a turn of `speaker`: -> (code id, detail)."""
    rubric = load_rubric(rubric_id)
    out: dict[str, tuple[str, str]] = {}
    if rubric_id == "mi" and speaker == "patient":
        for code_id, client in rubric.client_codes.items():
            for name in (code_id, client.label, client.name):
                out[_key(name)] = (code_id, "client talk")
        return out
    if rubric_id == "mi":
        for code in rubric.codes:
            for name in (code.id, code.label, code.name):
                out[_key(name)] = (code.id, "")
        for kind in ("open", "closed"):
            out[_key(f"Q {kind}")] = ("Q", kind)
            out[_key(f"{kind} question")] = ("Q", kind)
        return out
    for item in rubric.items:
        for name in (item.id, item.name, code_label(rubric_id, item.id)):
            out[_key(name)] = (item.id, "")
    out[NONE] = (NONE, "")
    return out


def session_rubric(session: dict[str, Any]) -> str:
    """The rubric of the session's modality (every session is MI-coded as well)."""
    return {"dearman": "dearman", "cbt": "ctrs"}.get(session["modality"], "mi")


def code_options(rubric_id: str, speaker: str) -> list[tuple[str, str, str]]:
    """What a supervisor may pick for a turn of `speaker` in a session of `rubric_id`: (rubric, code as
    `resolve_code` takes it, what it means). On a trainee turn the session rubric's items and "none" first (a
    DEAR MAN or CTRS session is reviewed for its own rubric), then the MI codes such a session shows (as
    `default_rubric` takes them without --rubric); on a patient turn, client talk."""
    mi = load_rubric("mi")
    modality = next(m for m, r in MAIN_RUBRIC.items() if r == rubric_id)
    if speaker == "patient":
        return [("mi", code_id, f"{c.label} — {c.name}") for code_id, c in mi.client_codes.items()]
    out = []
    if rubric_id != "mi":
        out += [(rubric_id, item.id, f"{code_label(rubric_id, item.id)} — {item.name}")
                for item in load_rubric(rubric_id).items]
        out.append((rubric_id, NONE, f"none — no {rubric_id} skill on this turn"))
    for code in (c for c in mi.codes if is_shown(modality, "mi", c.id)):
        if code.id == "Q":
            out += [("mi", f"Q {kind}", f"Q {kind} — {kind} question") for kind in ("open", "closed")]
        else:
            out.append(("mi", code.id, code.name if code.label == "—" else f"{code.label} — {code.name}"))
    return out


def combines(rubric_id: str, code: str) -> bool:
    """Whether `code` may be given together with others on one turn (DEAR MAN skills, joined by `SEVERAL`)."""
    return rubric_id == "dearman" and code != NONE


def coder_code(rubric_id: str, codes: list[dict[str, Any]]) -> str:
    """What the coder said on a turn for `rubric_id`, in the form a correction takes: its first code, or for DEAR
    MAN every skill it gave, joined in the rubric's order (a turn may show several); "none" when it gave none."""
    given = [c["code"] for c in codes if c["rubric"] == rubric_id]
    if rubric_id == "dearman" and len(given) > 1:
        order = [item.id for item in load_rubric(rubric_id).items]
        return SEVERAL.join(sorted(set(given), key=lambda code: order.index(code) if code in order else len(order)))
    return given[0] if given else NONE


def resolve_code(rubric_id: str, speaker: str, text: str, where: str) -> tuple[str, str]:
    """(code id, detail) for what a supervisor typed, case-insensitive; anything else is a `UserError` listing
    the codes allowed on this turn."""
    if rubric_id not in RUBRIC_IDS:
        raise UserError(f"Unknown rubric '{rubric_id}'.", where=where, fix=f"Use one of: {', '.join(RUBRIC_IDS)}.")
    if rubric_id != "mi" and speaker != "trainee":
        whose = "the other person's" if rubric_id == "dearman" else "a patient"
        raise UserError(f"The {rubric_id} rubric codes the trainee's turns only; this is {whose} turn.",
                        where=where, fix="Pick a trainee turn, or --rubric mi for change / sustain talk on this turn.")
    if rubric_id == "dearman" and SEVERAL in text:  # one turn may show several skills: "describe+assert"
        parts = [resolve_code(rubric_id, speaker, part, where)[0] for part in text.split(SEVERAL) if part.strip()]
        if NONE in parts:
            raise UserError("'none' cannot go with a skill.", where=where, fix="Give the skills alone, or 'none'.")
        order = [item.id for item in load_rubric(rubric_id).items]
        return SEVERAL.join(sorted(set(parts), key=order.index)), ""
    level = ""
    if rubric_id == "ctrs" and ":" in text:  # a CTRS item with the level it showed, e.g. agenda:4
        text, _, level = text.rpartition(":")
        if level.strip() not in {str(n) for n in range(7)}:
            raise UserError(f"'{level}' is not a CTRS level.", where=where, fix="Write ITEM:LEVEL with LEVEL 0 to 6.")
        level = level.strip()
    choices = code_choices(rubric_id, speaker)
    found = choices.get(_key(text))
    if found is None:
        shown = sorted({code for code, _ in choices.values()})
        hint = LABEL_HINT[speaker] if rubric_id == "mi" else RUBRIC_HINT[rubric_id]
        other = " Another rubric's code? Add --rubric mi, dearman or ctrs." if rubric_id == "mi" else ""
        raise UserError(f"'{text}' is not a {rubric_id} code for a {speaker} turn.", where=where,
                        fix=f"Use one of: {', '.join(shown)} (any case; {hint} work too).{other}")
    return (found[0], level) if level and found[0] != NONE else found


def default_rubric(session: dict[str, Any], speaker: str, code: str, where: str) -> str:
    """The rubric a correction given without one is for: the session's own; MI where the code is MI's and the
    session shows MI codes on that turn (an MI session, a CBT session's question and reflection micro-skills).
    A DEAR MAN session shows no MI codes, so an MI code there has to be asked for (--rubric mi)."""
    main = session_rubric(session)
    if main == "mi":
        return main
    try:
        resolve_code(main, speaker, code, where)
        return main
    except UserError as error:
        try:
            mi_code, _ = resolve_code("mi", speaker, code, where)
        except UserError:
            raise error from None
        if not is_shown(session["modality"], "mi", mi_code):
            raise UserError(f"{error.what} '{code}' is an MI code, which a {main} session does not show.",
                            where=where, fix=f"{error.fix} To correct the MI code stored on this turn anyway, add "
                            "--rubric mi.") from None
        return "mi"


def rating_scale(rubric_id: str) -> dict[str, tuple[int, int, str]]:
    """The items a supervisor rates by hand for a rubric: id -> (lowest, highest, name)."""
    rubric = load_rubric(rubric_id)
    if rubric_id == "mi":
        return {g.id: (1, 5, g.name) for g in rubric.globals}
    return {item.id: (0, item.max, item.name) for item in rubric.items}


def resolve_rating(rubric_id: str, item: str, score: int, where: str) -> str:
    """The item's id, after checking item and score against the rubric; a mismatch is a `UserError`."""
    if rubric_id not in RUBRIC_IDS:
        raise UserError(f"Unknown rubric '{rubric_id}'.", where=where, fix=f"Use one of: {', '.join(RUBRIC_IDS)}.")
    scale = rating_scale(rubric_id)
    by_key = {_key(i): i for i in scale} | {_key(name): i for i, (_, _, name) in scale.items()}
    item_id = by_key.get(_key(item))
    if item_id is None:
        raise UserError(f"'{item}' is not a rated item of the {rubric_id} rubric.", where=where,
                        fix=f"Use one of: {', '.join(scale)}.")
    low, high, name = scale[item_id]
    if not low <= score <= high:
        raise UserError(f"{name} is rated {low} to {high}; {score} is outside that.", where=where,
                        fix=f"Give --score between {low} and {high}.")
    return item_id


def latest_corrections(rows: list[dict[str, Any]]) -> dict[tuple[int, str], dict[str, Any]]:
    """(turn idx, rubric) -> the correction that counts (the latest)."""
    return {(r["turn_idx"], r["rubric"]): r for r in rows}


def latest_ratings(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """rubric -> item -> the rating that counts (the latest)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["rubric"], {})[r["item"]] = r
    return out


def correction_codes(row: dict[str, Any]) -> list[Code]:
    """The corrected codes as `Code`s: one, several DEAR MAN skills, or none ("none": no skill on that turn)."""
    if row["code"] == NONE:
        return []
    return [Code(row["rubric"], code, code_label(row["rubric"], code, row.get("detail")), None,
                 row.get("detail") or "", f"corrected by {row['author']}", "supervisor's correction")
            for code in row["code"].split(SEVERAL)]


def reviewed_codes(turn: dict[str, Any], corrected: dict[tuple[int, str], dict[str, Any]]) -> list[Code]:
    """A stored turn's codes with each corrected rubric's automatic codes replaced by the correction."""
    codes = [stored_code(c) for c in turn["codes"]]
    for (idx, rubric), row in corrected.items():
        if idx == turn["idx"]:
            codes = [c for c in codes if c.rubric != rubric] + correction_codes(row)
    return codes


@dataclass
class Review:
    """What a supervisor added to a session, read once."""

    corrections: dict[tuple[int, str], dict[str, Any]]
    ratings: dict[str, dict[str, dict[str, Any]]]

    @classmethod
    def load(cls, store: Store, session_id: str) -> Review:
        return cls(latest_corrections(store.corrections(session_id)), latest_ratings(store.ratings(session_id)))

    def __bool__(self) -> bool:
        return bool(self.corrections or self.ratings)


def _summarizer(rubric_id: str):
    """The coder's own summarize for a rubric, without loading its model."""
    rubric = load_rubric(rubric_id)
    if rubric_id == "mi":
        from simtrainer.feedback.mi.summary import miti_summary

        return lambda views: miti_summary(views, rubric)
    if rubric_id == "dearman":
        from simtrainer.feedback.dearman.coder import DearManCoder

        return DearManCoder(None, rubric).summarize
    from simtrainer.feedback.ctrs.scorer import CTRSScorer

    return CTRSScorer(None, rubric).summarize


def _apply_ratings(rubric_id: str, summary: dict[str, Any], rated: dict[str, int]) -> None:
    """Hand ratings replace the estimates they rate; the figures built on them are recomputed."""
    if not rated:
        return
    summary["rated"] = dict(rated)
    rubric = load_rubric(rubric_id)
    if rubric_id == "mi":
        from simtrainer.feedback.mi.summary import COMPOSITES, band

        summary["globals_estimate"].update(rated)
        g, th = summary["globals_estimate"], rubric.thresholds
        for name, parts in COMPOSITES.items():
            summary[name] = round(sum(g[p] for p in parts) / 2, 2)
            summary[f"{name}_band"] = band(summary[name], th[name].fair, th[name].good)
        summary["note"] = (f"{len(rated)} of 4 globals rated by a supervisor; the others are estimates computed "
                           "from the coded turns.")
    elif rubric_id == "dearman":
        from simtrainer.feedback.dearman.coder import tip

        summary["checklist"].update({item: bool(score) for item, score in rated.items()})
        summary["skills_shown"] = sum(summary["checklist"].values())
        summary["tip"] = tip(summary["checklist"], rubric, summary.get("hardening"))
    else:
        for item, score in rated.items():
            summary["items"][item]["score"] = score
        summary["total"] = sum(v["score"] for v in summary["items"].values())
        summary["competent"] = summary["total"] >= summary["competence_threshold"]


def _touched_items(turns: list[dict[str, Any]], review: Review, rubric_id: str) -> set[str]:
    """The items a rubric's corrections touch: those the corrected turns were coded with, and those they now are."""
    corrected = {idx for idx, rubric in review.corrections if rubric == rubric_id}
    before = {c["code"] for t in turns if t["idx"] in corrected for c in t["codes"] if c["rubric"] == rubric_id}
    after = {r["code"] for (_, rubric), r in review.corrections.items() if rubric == rubric_id and r["code"] != NONE}
    return before | after


def _ctrs_as_corrected(stored: dict[str, Any], from_codes: dict[str, Any], touched: set[str]) -> dict[str, Any]:
    """The stored CTRS summary with only the `touched` items scored again from the reviewed codes. The session
    model scores items from the whole transcript, not from turn codes: scored from codes, every item nobody
    corrected fell to its best coded level (a rating of one item took the total from 44 to 23)."""
    summary = {key: value for key, value in stored.items() if key not in ("scorer", "rated")}
    summary["items"] = {item: (from_codes["items"][item] if item in touched else dict(value))
                        for item, value in stored["items"].items()}
    summary["total"] = sum(v["score"] for v in summary["items"].values())
    summary["competent"] = summary["total"] >= summary["competence_threshold"]
    return summary


def reviewed_summary(store: Store, session_id: str, review: Review | None = None) -> dict[str, Any] | None:
    """The session summary recomputed with the supervisors' corrected codes in place of the automatic ones and
    their hand ratings in place of the estimates; the same shape as the stored summary. None when nothing was
    corrected or rated."""
    session = store.get_session(session_id)
    review = review if review is not None else Review.load(store, session["id"])
    if not review:
        return None
    turns = store.turns(session["id"])
    views = [TurnView(t["speaker"], t["text"], reviewed_codes(t, review.corrections)) for t in turns]
    stored = (session.get("summary") or {}).get("rubrics", {})
    # the session's own rubrics only: a DEAR MAN or CBT session's turns carry MI codes too (micro-skills), and
    # an MI table built from them would stand in the trainee's record as an MI session
    rubrics = [r for r in stored if r in RUBRIC_IDS] or [main_rubric(session.get("modality") or "mi")]
    authors = sorted({r["author"] for r in review.corrections.values()}
                     | {r["author"] for items in review.ratings.values() for r in items.values()})
    out: dict[str, Any] = {"trainee_turns": sum(t["speaker"] == "trainee" for t in turns), "rubrics": {}}
    for rubric_id in rubrics:
        summary = _summarizer(rubric_id)(views)
        if rubric_id == "ctrs" and stored.get("ctrs", {}).get("items"):
            summary = _ctrs_as_corrected(stored["ctrs"], summary, _touched_items(turns, review, "ctrs"))
        _apply_ratings(rubric_id, summary, {i: r["score"] for i, r in review.ratings.get(rubric_id, {}).items()})
        out["rubrics"][rubric_id] = {"scorer": f"as reviewed by {', '.join(a for a in authors if a) or 'a supervisor'}",
                                     **summary}
    return out
