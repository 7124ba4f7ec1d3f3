"""Rubric definitions are data (`rubrics/*.toml`); this module validates and loads them."""

from __future__ import annotations

import tomllib
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simtrainer.errors import UserError
from simtrainer.resources import data_folder


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CodeDef(_Strict):
    id: str
    label: str
    name: str
    adherence: Literal["adherent", "non-adherent", "neutral"] = "neutral"
    description: str


class ClientCode(_Strict):
    label: str
    name: str
    description: str


class Threshold(_Strict):
    fair: float
    good: float
    description: str = ""


class GlobalDef(_Strict):
    id: str
    name: str
    kind: Literal["technical", "relational"]
    description: str


class ItemDef(_Strict):
    """A scored item (CTRS: 0-6 with anchors) or a skill (DEAR MAN: shown or not)."""

    id: str
    name: str
    max: int = Field(ge=1)
    description: str
    anchors: dict[str, str] = Field(default_factory=dict, description="Score (as text) -> what it looks like.")
    tip: str = Field("", description="What to try next when this item is missing or low.")


class Rubric(_Strict):
    id: str
    name: str
    description: str
    items: list[ItemDef] = Field(default_factory=list)
    competence_threshold: int | None = None
    codes: list[CodeDef] = Field(default_factory=list)
    client_codes: dict[str, ClientCode] = Field(default_factory=dict)
    thresholds: dict[str, Threshold] = Field(default_factory=dict)
    globals: list[GlobalDef] = Field(default_factory=list)

    @property
    def total_max(self) -> int:
        return sum(item.max for item in self.items)

    def as_listing(self) -> dict:
        """The `rubrics list --json` shape."""
        out: dict = {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "items": [{"id": i.id, "name": i.name, "max": i.max} for i in self.items]
            or [{"id": c.id, "name": c.name, "max": 1} for c in self.codes],
        }
        if self.items:
            out["total_max"] = self.total_max
        if self.competence_threshold is not None:
            out["competence_threshold"] = self.competence_threshold
        if self.thresholds:
            out["thresholds"] = {k: {"fair": t.fair, "good": t.good} for k, t in self.thresholds.items()}
        return out

    def item(self, item_id: str) -> ItemDef:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    def code(self, code_id: str) -> CodeDef:
        for code in self.codes:
            if code.id == code_id:
                return code
        raise KeyError(code_id)


RUBRIC_IDS = ("mi", "dearman", "ctrs")


@cache
def load_rubric(rubric_id: str) -> Rubric:
    """Load `rubrics/<id>.toml`; a broken file is a `UserError` naming file and field."""
    return parse_rubric(data_folder("rubrics") / f"{rubric_id}.toml")


def parse_rubric(path) -> Rubric:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError("The rubric file is missing.", where=str(path), fix="Reinstall simtrainer.") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"The rubric file is not valid TOML: {exc}", where=str(path), fix="Fix that line.") from None
    try:
        return Rubric(**raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise UserError(f"Rubric field {field}: {err['msg']}", where=str(path), fix="Correct that field.") from None
