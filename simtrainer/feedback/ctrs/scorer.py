"""The CTRS coder: a badge per trainee turn (which item it seems to serve), and the 11 item scores from the whole
session and both speakers, each with the turns that raised it (evidence) and lowered it (against), total /66
and the competence flag. The running estimate is the same whole-session score of the turns so far: it moves
with what is said, not with how many turns there are."""

from __future__ import annotations

from functools import cache
from typing import Any

from simtrainer.feedback.base import Code, TurnView
from simtrainer.feedback.ctrs.data import ITEMS, SPEAKERS, folder
from simtrainer.feedback.ctrs.features import THERAPIST, is_filler
from simtrainer.feedback.ctrs.model import CTRSModel
from simtrainer.feedback.ctrs.session_model import SessionModel
from simtrainer.rubrics import Rubric, load_rubric

SHORT = {"agenda": "Agenda", "feedback": "Fb", "understanding": "Und", "interpersonal_effectiveness": "IPE",
         "collaboration": "Collab", "pacing": "Pace", "guided_discovery": "GD", "focus_on_key_cognitions": "Cog",
         "strategy_for_change": "Strat", "application_of_cb_techniques": "Tech", "homework": "HW"}
SCORER = "ctrs-scorer v2 (whole session, both speakers; trained on project-written rated CBT sessions)"


@cache
def _models() -> tuple[CTRSModel, SessionModel]:
    from simtrainer.feedback.mi import load_mi_coder

    encoder = load_mi_coder().model.encoder
    return CTRSModel(folder(), encoder), SessionModel.load(folder(), encoder)


class CTRSScorer:
    rubric = "ctrs"
    scorer = SCORER

    def __init__(self, model: CTRSModel | None, rubric: Rubric, session_model: SessionModel | None = None):
        self.model = model
        self.session_model = session_model
        self.rubric_def = rubric

    def code(self, text: str, context: str | None = None, earlier: str | None = None) -> list[Code]:
        item, conf, level = self.model.line(text)
        if item == "none":
            return []
        return [Code("ctrs", item, SHORT[item], round(conf, 3), str(level), self.scorer,
                     f"{self.rubric_def.item(item).name}, at about level {level} of 6")]

    def summarize(self, turns: list[TurnView]) -> dict[str, Any]:
        pairs = [(SPEAKERS.get(t.speaker, "patient"), t.text) for t in turns]
        if not any(s == "therapist" for s, _ in pairs):
            items = {i: {"score": 0, "evidence": [], "against": []} for i in ITEMS}
        elif self.session_model is None or self._coded_elsewhere(turns):
            items = self._from_codes(turns)
        else:
            items = self.session_model.score(pairs)
        total = sum(v["score"] for v in items.values())
        threshold = self.rubric_def.competence_threshold or 40
        return {
            "indicators": indicators(pairs),
            "items": items,
            "total": total,
            "max": self.rubric_def.total_max,
            "competence_threshold": threshold,
            "competent": total >= threshold,
        }

    def _coded_elsewhere(self, turns: list[TurnView]) -> bool:
        """Item codes given by someone else (an LLM judge): their levels are the scores, as they were before."""
        return any(c.rubric == "ctrs" and c.scorer != self.scorer for t in turns for c in t.codes)

    @staticmethod
    def _from_codes(turns: list[TurnView]) -> dict[str, dict]:
        """Each item's best coded level, the coded turns as evidence (reviews and LLM judges score this way)."""
        items = {i: {"score": 0, "evidence": [], "against": []} for i in ITEMS}
        for n, turn in enumerate(turns, start=1):  # the transcript's turn number, as every view shows it
            if turn.speaker != "trainee":
                continue
            for code in turn.codes:
                if code.rubric == "ctrs" and code.code in items:
                    items[code.code]["evidence"].append(n)
                    items[code.code]["score"] = max(items[code.code]["score"], int(code.detail or 0))
        return items


def indicators(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """What the panel lights during a session, from the therapist's turns."""
    mine = [t for s, t in pairs if s == "therapist" and not is_filler(t)]
    return {
        "agenda_set": any(THERAPIST["agenda"].search(t) for t in mine[:3]),
        "feedback_asked": any(THERAPIST["feedback"].search(t) for t in mine),
        "homework_agreed": any(THERAPIST["homework"].search(t) for t in mine),
        "guided_discovery_questions": sum(bool(THERAPIST["discovery"].search(t)) and "?" in t for t in mine),
    }


def load_ctrs_scorer() -> CTRSScorer:
    line_model, session_model = _models()
    return CTRSScorer(line_model, load_rubric("ctrs"), session_model)
