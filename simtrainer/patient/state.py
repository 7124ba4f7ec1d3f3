"""Per-session patient state: openness, resistance, stage of change, what has been disclosed.

Updated after every trainee turn from that turn's codes (MI codes always; DEAR MAN skills and CTRS items in
those scenarios), at rates set by the card's difficulty, and saved
with each patient reply so a supervisor can see why the patient reacted as it did. The state picks the
leaning of the next reply (change, sustain or neutral talk), which steers the choice among candidate replies.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

# How fast trust builds and how easily it breaks, by difficulty.
GAIN = {"easy": 1.0, "moderate": 0.75, "hard": 0.5}
SENSITIVITY = {"easy": 0.6, "moderate": 0.8, "hard": 1.0}
START = {"easy": (0.45, 0.25), "moderate": (0.35, 0.35), "hard": (0.25, 0.45)}  # (openness, resistance)

# Per code: (openness change, resistance change) before scaling by GAIN / SENSITIVITY.
EFFECTS = {
    "CR": (0.10, -0.06),
    "SR": (0.06, -0.03),
    "AF": (0.08, -0.05),
    "SEEK": (0.06, -0.04),
    "AUTO": (0.08, -0.06),
    "PWP": (0.02, 0.0),
    "GI": (0.0, 0.0),
    "CONFRONT": (-0.10, 0.25),
    "PERSUADE": (-0.05, 0.15),
    # DEAR MAN skills (a counterpart gives in or negotiates when asked skilfully)
    "describe": (0.03, -0.01),
    "express": (0.04, -0.02),
    "assert": (0.04, 0.0),
    "reinforce": (0.08, -0.04),
    "mindful": (0.05, -0.02),
    "appear_confident": (0.04, -0.02),
    "negotiate": (0.08, -0.05),
    # DEAR MAN flags, not skills: a threat, insult or ultimatum makes the counterpart dig in
    "threat": (-0.06, 0.20),
    "insult": (-0.10, 0.25),
    "ultimatum": (-0.04, 0.15),
    # CTRS items (a CBT patient opens up under guided discovery and accurate understanding)
    "guided_discovery": (0.08, -0.03),
    "focus_on_key_cognitions": (0.08, -0.03),
    "understanding": (0.05, -0.03),
    "collaboration": (0.04, -0.02),
    "interpersonal_effectiveness": (0.04, -0.02),
}
STAGES = ((-0.2, "precontemplation"), (0.15, "contemplation"), (0.45, "preparation"), (9.0, "action"))
REVEAL_AT = 0.6  # openness needed before card disclosures
PROVOKED = (-0.08, 0.2)  # (openness, resistance) when a turn hits one of the card's triggers, scaled by SENSITIVITY
MOMENTUM = 3.0  # weight of the latest turn against the running balance
# DEAR MAN skills that show the request has been made: asking, or offering terms for it (an outside writer's
# "What I'm asking is £300 by the 30th" was coded describe, then "could we agree £150 a month" negotiate; on
# assert alone the sister never leaned towards yes)
ASKS = frozenset({"assert", "negotiate"})


def _clamp(x: float) -> float:
    return round(max(0.0, min(1.0, x)), 3)


@dataclass(frozen=True)
class PatientState:
    openness: float
    resistance: float
    closed_run: int = 0
    last_push: float = 0.0  # how the latest trainee turn moved openness minus resistance
    requested: bool = True  # DEAR MAN: a counterpart cannot give in before being asked
    disclosed: tuple[str, ...] = field(default_factory=tuple)
    turns: int = 0

    @classmethod
    def start(cls, difficulty: str, *, awaits_request: bool = False) -> PatientState:
        openness, resistance = START.get(difficulty, START["moderate"])
        return cls(openness, resistance, requested=not awaits_request)

    @classmethod
    def from_dict(cls, data: dict) -> PatientState:
        """The state saved with a patient reply (`as_dict`), to resume an interrupted session."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["disclosed"] = tuple(values.get("disclosed", ()))
        return cls(**values)

    @property
    def readiness(self) -> float:
        return round(self.openness - self.resistance, 3)

    @property
    def stage(self) -> str:
        return next(name for limit, name in STAGES if self.readiness < limit)

    @property
    def leaning(self) -> str:
        """Which talk the next reply should carry: the running balance plus the latest turn's push, because
        clients answer the turn in front of them (a confrontation draws sustain talk at once)."""
        score = self.openness - self.resistance + MOMENTUM * self.last_push
        if score < -0.05:
            return "sustain"
        if score > 0.1 and self.requested:
            return "change"
        return "neutral"

    @property
    def may_disclose(self) -> bool:
        return self.openness >= REVEAL_AT and self.resistance < 0.3

    def after(self, codes: list[str], details: list[str], difficulty: str) -> PatientState:
        """The state after a trainee turn carrying `codes` (MI code ids) with their `details`."""
        gain, sens = GAIN.get(difficulty, 0.75), SENSITIVITY.get(difficulty, 0.8)
        openness, resistance = self.openness, self.resistance
        for code, detail in zip(codes, details, strict=True):
            if code == "Q":
                effect = (0.05, -0.02) if detail == "open" else (0.0, 0.0)
            else:
                effect = EFFECTS.get(code, (0.0, 0.0))
            d_open, d_res = effect
            openness += d_open * (gain if d_open > 0 else sens)
            resistance += d_res * (sens if d_res > 0 else gain)
        closed = any(c == "Q" and d == "closed" for c, d in zip(codes, details, strict=True))
        closed_run = self.closed_run + 1 if closed else 0
        if closed_run >= 2:  # a run of closed questions feels like an interrogation
            resistance += 0.06 * sens * (closed_run - 1)
            openness -= 0.02 * sens
        openness, resistance = _clamp(openness), _clamp(resistance)
        push = round((openness - self.openness) - (resistance - self.resistance), 3)
        return replace(self, openness=openness, resistance=resistance, closed_run=closed_run,
                       turns=self.turns + 1, last_push=push, requested=self.requested or bool(ASKS & set(codes)))

    def provoked(self, difficulty: str) -> PatientState:
        """The state after the turn hit one of the card's triggers: the person digs in, closes up, defends.
        The push is made negative whatever the turn's codes were, so the next reply leans to sustain talk."""
        sens = SENSITIVITY.get(difficulty, 0.8)
        openness = _clamp(self.openness + PROVOKED[0] * sens)
        resistance = _clamp(self.resistance + PROVOKED[1] * sens)
        push = round(min(self.last_push, 0.0) + (openness - self.openness) - (resistance - self.resistance), 3)
        return replace(self, openness=openness, resistance=resistance, last_push=push)

    def with_disclosure(self, line: str) -> PatientState:
        return replace(self, disclosed=(*self.disclosed, line))

    def as_dict(self) -> dict:
        data = asdict(self)
        data["disclosed"] = list(self.disclosed)
        data.update(readiness=self.readiness, stage=self.stage, leaning=self.leaning)
        return data
