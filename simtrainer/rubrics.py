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


class Rubric(_Strict):
    id: str
    name: str
    description: str
    codes: list[CodeDef] = Field(default_factory=list)
    client_codes: dict[str, ClientCode] = Field(default_factory=dict)
    thresholds: dict[str, Threshold] = Field(default_factory=dict)
    globals: list[GlobalDef] = Field(default_factory=list)

    def code(self, code_id: str) -> CodeDef:
        for code in self.codes:
            if code.id == code_id:
                return code
        raise KeyError(code_id)


@cache
def load_rubric(rubric_id: str) -> Rubric:
    """Load `rubrics/<id>.toml`; a broken file is a `UserError` naming file and field."""
    path = data_folder("rubrics") / f"{rubric_id}.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"No rubric file for '{rubric_id}'.", where=str(path), fix="Reinstall simtrainer.") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"The rubric file is not valid TOML: {exc}", where=str(path), fix="Fix that line.") from None
    try:
        return Rubric(**raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise UserError(f"Rubric field {field}: {err['msg']}", where=str(path), fix="Correct that field.") from None
