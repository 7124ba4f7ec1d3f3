"""Exercise packs: one TOML file an instructor writes (instructions, a scenario, turn or time limits, an optional
shared model and goals), optionally with its own cards in a `cards/` folder beside it.

A pack travels from the instructor to every student, so it is validated whole before anything runs and each
mistake is a `UserError` naming the file, the field (and its line where it can be found) and the fix. Its
SHA-256 covers the TOML file and the card it ships, so a hand-in bundle says exactly which pack it was made for.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from simtrainer.classroom.goals import Goal, read_goals
from simtrainer.config import ModelSpec, Settings, load_settings
from simtrainer.errors import UserError
from simtrainer.resources import data_folder
from simtrainer.scenarios.card import Card
from simtrainer.scenarios.loader import get_card, load_cards

SCHEMA_VERSION = 1
CARDS = "cards"
MAX_BYTES = 1024 * 1024
LIST_ITEM = re.compile(r"^([-*•]|\d+[.)])\s")


class ServerModel(BaseModel):
    """A model server the class shares (llama.cpp's server, vLLM, Ollama): `[model]` with `base_url`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    base_url: str = Field(pattern=r"^https?://\S+$", description="The server's OpenAI API root, e.g. .../v1.")
    model: str = Field("default", min_length=1, description="The model name the server expects.")
    api_key_env: str | None = Field(None, description="Environment variable holding the API key, if any.")


class PackFile(BaseModel):
    """What an exercise pack's TOML file holds."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,60}$")
    title: str = Field(min_length=3, max_length=100)
    instructions: str = Field(min_length=10, max_length=4000)
    scenario: str = Field(min_length=1)
    min_turns: int | None = Field(None, ge=1, le=200)
    max_turns: int | None = Field(None, ge=1, le=200)
    time_limit_min: float | None = Field(None, gt=0, le=600)
    model: str | ServerModel | None = None
    goals: dict[str, Any] = Field(default_factory=dict)

    @field_validator("model")
    @classmethod
    def _model_text(cls, value: str | ServerModel | None) -> str | ServerModel | None:
        if isinstance(value, str):
            if not value:
                raise ValueError("the model is empty")
            if "://" in value:
                if not re.fullmatch(r"https?://\S+", value):
                    raise ValueError("a server address must start with http:// or https://")
                return ServerModel(base_url=value)
        return value

    @model_validator(mode="after")
    def _limits(self) -> PackFile:
        if self.max_turns is None and self.time_limit_min is None:
            raise ValueError("the exercise needs an end: give max_turns, time_limit_min or both")
        if self.min_turns is not None and self.max_turns is not None and self.min_turns > self.max_turns:
            raise ValueError(f"min_turns ({self.min_turns}) is more than max_turns ({self.max_turns})")
        return self


@dataclass(frozen=True)
class Pack:
    """A validated pack: its file, what it says, the card it runs and its goals."""

    path: Path
    spec: PackFile
    card: Card
    card_path: Path | None  # the shipped card, or None for a built-in scenario
    goals: tuple[Goal, ...]
    sha256: str

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def title(self) -> str:
        return self.spec.title

    @property
    def instructions(self) -> str:
        """The instructions reflowed: the TOML file's line breaks inside a paragraph joined, blank lines and list
        items (lines starting with -, * or a number) kept, so any screen width wraps them well."""
        out: list[str] = []
        joining = False
        for line in self.spec.instructions.strip().splitlines():
            line = " ".join(line.split())
            if joining and line and not LIST_ITEM.match(line):
                out[-1] += " " + line
            else:
                out.append(line)
            joining = bool(line)
        return "\n".join(out)

    @property
    def model_text(self) -> str | None:
        """The pack's model as a person reads it: a name, a file or a server address."""
        model = self.spec.model
        return model.base_url if isinstance(model, ServerModel) else model

    def model_for(self, settings: Settings) -> tuple[Settings, str | None]:
        """The settings and model name a session of this pack runs with: a shared server becomes a named model
        (`exercise-ID`), a .gguf path is read from the pack's folder; None leaves the configured model."""
        model = self.spec.model
        if model is None:
            return settings, None
        if isinstance(model, ServerModel):
            name = f"exercise-{self.id}"
            spec = ModelSpec(backend="openai", base_url=model.base_url, model=model.model,
                             api_key_env=model.api_key_env, description=f"shared by the exercise {self.id}")
            return settings.model_copy(update={"models": {**settings.models, name: spec}}), name
        if is_file_model(model):
            return settings, str((self.path.parent / Path(model).expanduser()).resolve())
        return settings, model

    def stop_reason(self, trainee_turns: int, elapsed_s: float) -> str | None:
        """Why the session ends now, or None: the turn limit or the time limit is reached."""
        limit = self.spec.max_turns
        if limit is not None and trainee_turns >= limit:
            return f"the exercise ends after {limit} of your turns"
        minutes = self.spec.time_limit_min
        if minutes is not None and elapsed_s >= minutes * 60:
            return f"the exercise's time limit of {minutes:g} minutes is up"
        return None

    def short_of_minimum(self, trainee_turns: int) -> str | None:
        """A notice when the session ended before the exercise's minimum number of turns."""
        least = self.spec.min_turns
        if least is not None and trainee_turns < least:
            return f"the exercise asks for at least {least} of your turns; this session has {trainee_turns}"
        return None

    def record(self, seed: int | None = None) -> dict[str, Any]:
        """What a session keeps about the pack it ran (see `storage`): enough to hand in and check it later."""
        return {
            "id": self.id,
            "title": self.title,
            "pack_sha256": self.sha256,
            "pack_file": str(self.path),
            "scenario": self.card.id,
            "min_turns": self.spec.min_turns,
            "max_turns": self.spec.max_turns,
            "time_limit_min": self.spec.time_limit_min,
            "goals_spec": [goal.to_dict() for goal in self.goals],
            "seed": seed,
        }

    def describe(self) -> dict[str, Any]:
        """The pack as `exercise show --json` prints it."""
        return {
            "id": self.id,
            "title": self.title,
            "file": str(self.path),
            "pack_sha256": self.sha256,
            "instructions": self.instructions,
            "scenario": {"id": self.card.id, "title": self.card.title, "modality": self.card.modality,
                         "shipped": str(self.card_path) if self.card_path else None},
            "min_turns": self.spec.min_turns,
            "max_turns": self.spec.max_turns,
            "time_limit_min": self.spec.time_limit_min,
            "model": self.model_text,
            "goals": [{**goal.to_dict(), "text": goal.text} for goal in self.goals],
        }

    def limits_text(self) -> str:
        """E.g. `at least 4 turns; ends after 8 turns or 15 minutes`."""
        spec = self.spec
        ends = " or ".join(part for part in (f"{spec.max_turns} turns" if spec.max_turns else "",
                                             f"{spec.time_limit_min:g} minutes" if spec.time_limit_min else "")
                           if part)
        return "; ".join(part for part in (f"at least {spec.min_turns} turns" if spec.min_turns else "",
                                           f"ends after {ends}") if part)

    def summary_line(self) -> str:
        """One line: id, title, scenario, limits, goals."""
        least, most, minutes = self.spec.min_turns, self.spec.max_turns, self.spec.time_limit_min
        turns = (f"{least}-{most} turns" if least and most else f"up to {most} turns" if most
                 else f"at least {least} turns" if least else "")
        ends = ", ".join(part for part in (turns, f"{minutes:g} min" if minutes else "") if part)
        return (f"{self.id} — {self.title}: scenario {self.card.id} ({self.card.modality}), {ends}, "
                f"{len(self.goals)} goal{'s' * (len(self.goals) != 1)}")


def scenario_modality(scenario: Any) -> str | None:
    """The modality a scenario id names by its prefix (`mi-`, `dearman-`, `cbt-`), None where it names none."""
    from simtrainer.feedback.shown import MAIN_RUBRIC

    prefix = scenario.split("-", 1)[0] if isinstance(scenario, str) else ""
    return prefix if prefix in MAIN_RUBRIC else None


def is_file_model(model: str) -> bool:
    """A model given as a file (read from the pack's folder) rather than a registry name."""
    return model.endswith(".gguf") or "/" in model


def line_of(text: str, key: str) -> int | None:
    """The line where `key` (its last part, or the dotted key as written) is assigned, if it can be found."""
    parts = key.split(".")
    for candidate in dict.fromkeys(".".join(parts[i:]) for i in range(len(parts))):  # goals.counts.SR_min, ...
        pattern = re.compile(rf"^\s*[\"']?{re.escape(candidate)}[\"']?\s*=", re.MULTILINE)
        found = pattern.search(text)
        if found:
            return text.count("\n", 0, found.start()) + 1
    return None


def _where(path: Path, text: str, field: str) -> str:
    line = line_of(text, field) if field not in ("(file)", "(pack)") else None
    return f"{path}: {field}" + (f" (line {line})" if line else "")


def _named_key(message: str) -> str | None:
    """The first pack key a rule across keys names in its message ("min_turns (12) is more than ..."), so the
    error can point at its line."""
    found = [(message.find(key), key) for key in PackFile.model_fields if re.search(rf"\b{key}\b", message)]
    return min(found)[1] if found else None


def _what(error: dict[str, Any], field: str) -> str:
    """The problem in the pack's terms: the key it is about, then what is wrong with it."""
    if error["type"] == "extra_forbidden":
        return f"unknown key `{field}`"
    if error["type"] == "missing":
        return f"`{field}` is missing"
    message = error["msg"].removeprefix("Value error, ")
    return message if error["type"] == "value_error" else f"`{field}`: {message[0].lower()}{message[1:]}"


def _fix(error: dict[str, Any]) -> str:
    kind = error["type"]
    field = str(error["loc"][-1]) if error["loc"] else ""
    if kind == "missing":
        return f"add `{field} = ...` (see exercises/README.md for every key)"
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(field, PackFile.model_fields, n=1)
        did = f"did you mean `{close[0]}`? " if close else ""
        return f"{did}remove this key or correct its spelling (unknown keys are not allowed)"
    if kind == "literal_error":
        return f"use {error['ctx']['expected']}"
    if kind == "string_pattern_mismatch":
        if field == "base_url":
            return "give the server's OpenAI API root, e.g. http://10.0.0.5:8080/v1"
        return "use lowercase letters, digits and dashes, e.g. mi-open-questions"
    if kind == "value_error":
        message = error["msg"]
        if "needs an end" in message:
            return "add `max_turns = 10`, `time_limit_min = 15`, or both"
        if "is more than max_turns" in message:
            return "make min_turns at most max_turns (or leave min_turns out)"
        return "correct the value as the message says"
    return "give a value of the kind exercises/README.md gives for this key"


def _read(path: Path) -> tuple[bytes, str, dict[str, Any]]:
    try:
        if path.is_dir():
            raise UserError("this is a folder, not an exercise pack", where=str(path),
                            fix="give the pack's .toml file")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError("no such exercise pack", where=str(path),
                        fix="check the path to the pack's .toml file, or name a shipped example: "
                            + ", ".join(examples())) from None
    except OSError as exc:
        raise UserError(f"cannot read the pack: {exc.strerror}", where=str(path), fix="check its permissions") \
            from None
    if len(raw) > MAX_BYTES:
        raise UserError(f"the pack is {len(raw)} bytes, over the {MAX_BYTES} byte limit", where=str(path),
                        fix="check this is an exercise pack (a short TOML file)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError("the pack is not UTF-8 text", where=str(path), fix="save it as UTF-8") from None
    try:
        return raw, text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or _line_in_message(str(exc))
        raise UserError(f"the pack is not valid TOML: {getattr(exc, 'msg', exc)}",
                        where=f"{path}" + (f", line {line}" if line else ""),
                        fix="correct the TOML syntax at that line (strings in quotes, one key = value a line)") \
            from None


def _line_in_message(message: str) -> int | None:
    found = re.search(r"line (\d+)", message)
    return int(found.group(1)) if found else None


def _scenario(path: Path, text: str, scenario: str, settings: Settings | None) -> tuple[Card, Path | None]:
    """The pack's card: one shipped in `cards/` beside the pack wins over a built-in one of the same id."""
    folder = path.parent / CARDS
    where = _where(path, text, "scenario")
    if folder.is_dir():
        cards, problems = load_cards([folder])
        for card in cards:
            if card.id == scenario:
                return card, _card_file(folder, scenario)
        broken = [p for p in problems if _names(Path(p.file), scenario)]
        if broken:
            raise UserError(f"the pack's card for '{scenario}' has errors: " +
                            "; ".join(f"{p.field}: {p.message}" for p in broken),
                            where=broken[0].file, fix=broken[0].fix)
    try:
        return get_card(scenario, settings), None
    except UserError as error:
        shipped = f"; or ship it as {folder}/{scenario}.toml" if scenario else ""
        did = error.what.partition(". ")[2]  # "Did you mean ...?", where one is close
        raise UserError(f"unknown scenario '{scenario}': neither a built-in scenario nor a card in {folder}"
                        + (f". {did}" if did else ""), where=where, fix=(error.fix or "") + shipped) from None


def _names(file: Path, card_id: str) -> bool:
    """Whether a card file that failed validation was meant to be the card `card_id` (its `id`, or its name)."""
    try:
        return tomllib.loads(file.read_text(encoding="utf-8")).get("id") == card_id
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return file.stem == card_id


def _card_file(folder: Path, card_id: str) -> Path:
    """The file in `folder` that holds the card `card_id` (cards are found by id, not by file name)."""
    from simtrainer.scenarios.loader import parse_card

    for file in sorted(folder.glob("*.toml")):
        card, _ = parse_card(file)
        if card is not None and card.id == card_id:
            return file
    raise AssertionError(f"card {card_id} vanished from {folder}")


def pack_sha256(pack_bytes: bytes, card_path: Path | None) -> str:
    """SHA-256 over the pack file and the card it ships, each framed by its role and length, so moving bytes
    from one to the other changes the hash. Only the pack's own card counts: a `cards/` folder shared by several
    packs can gain a card for another exercise without changing this one's hash."""
    digest = hashlib.sha256(b"simtrainer-exercise-pack\n")
    parts = [("pack", pack_bytes)]
    if card_path is not None:
        parts.append((f"{CARDS}/card", card_path.read_bytes()))
    for name, data in parts:
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def examples() -> dict[str, Path]:
    """The example packs shipped with simtrainer, by file name without `.toml`."""
    return {p.stem: p for p in sorted(data_folder("exercises").glob("*.toml"))}


def locate(text: Path | str) -> Path:
    """A pack's file: the path given, or, for a bare name that is no file here, the shipped example of that name."""
    path = Path(text).expanduser()
    if not path.exists() and path.name == str(text) and path.stem in examples() and path.suffix in ("", ".toml"):
        return examples()[path.stem]
    return path.absolute()


class PackProblems(UserError):
    """Every mistake found in a pack (its keys, scenario and goals): the first, with how many more, as any
    `UserError`; `problems` lists all, for `exercise validate`."""

    def __init__(self, problems: list[UserError]):
        first, more = problems[0], len(problems) - 1
        super().__init__(first.what + (f" (and {more} more)" if more else ""), where=first.where, fix=first.fix)
        self.problems = problems


def load_pack(path: Path | str, settings: Settings | None = None) -> Pack:
    """Read and validate a pack (its card, goals and model included); its problems are one `PackProblems`.
    `path` may also name a shipped example (`mi-reflect-first`). `settings` supplies the user's own model names
    and scenario folders."""
    path = locate(path)
    raw, text, data = _read(path)
    problems: list[UserError] = []
    spec = None
    try:
        spec = PackFile(**data)
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]) or _named_key(error["msg"]) or "(pack)"
            problems.append(UserError(_what(error, field), where=_where(path, text, field), fix=_fix(error)))
    card = card_path = None
    goals: list[Goal] = []
    scenario = data.get("scenario")
    if isinstance(scenario, str) and scenario:  # checked even when other keys are wrong, so all show at once
        try:
            card, card_path = _scenario(path, text, scenario, settings)
        except UserError as error:
            problems.append(error)
    table = data.get("goals", {})
    # with the scenario unknown, its id's prefix (mi-, dearman-, cbt-) still says which goals make sense
    modality = card.modality if card is not None else scenario_modality(scenario)
    if modality is not None and isinstance(table, dict):
        goals, wrong = read_goals(table, modality, lambda key: _where(path, text, f"goals.{key}"))
        problems += wrong
        if spec is not None and spec.max_turns is not None:
            problems += [UserError(f"goal `{g.key} = {g.threshold}` asks for more turns than max_turns "
                                   f"({spec.max_turns}) allows", where=_where(path, text, f"goals.{g.key}"),
                                   fix=f"lower the goal to at most {spec.max_turns}, or raise max_turns")
                         for g in goals if g.figure == "trainee_turns" and g.op == ">=" and g.threshold > spec.max_turns]
    if problems:  # misspelt keys first (they explain a key "missing"), then in the file's order
        problems.sort(key=lambda e: (not e.what.startswith("unknown key"), _line_in_message(e.where or "") or 10**6))
        raise PackProblems(problems)
    pack = Pack(path, spec, card, card_path, tuple(goals), pack_sha256(raw, card_path))
    _check_model(pack, text, settings)
    return pack


def reopen(record: dict[str, Any], settings: Settings | None = None) -> Pack:
    """The pack a stored session ran with (`Pack.record`), read again from its file to continue the session; a
    pack that moved or changed since is a `UserError`, since the session's goals and hash are the old pack's."""
    path = Path(record.get("pack_file") or "")
    try:
        pack = load_pack(path, settings)
    except UserError as error:
        raise UserError(f"This session ran the exercise pack {path}, which cannot be read now: {error.what}",
                        where=error.where, fix="Put the pack back where it was, unchanged, to continue the "
                        "session; or start the exercise again.") from None
    if pack.sha256 != record.get("pack_sha256"):
        raise UserError(f"The exercise pack {path} has changed since this session started.", where=str(path),
                        fix="Put back the version the session started with, or start the exercise again with "
                            f"`simtrainer practice --exercise {path}`.")
    return pack


def _check_model(pack: Pack, text: str, settings: Settings | None) -> None:
    """A named model must exist and a .gguf file must be there; a server is only reached when a session starts."""
    model = pack.spec.model
    if model is None or isinstance(model, ServerModel):
        return
    from simtrainer.llm import resolve_model

    where = _where(pack.path, text, "model")
    chosen_settings, name = pack.model_for(settings or load_settings())
    if is_file_model(model):
        if not Path(name or "").is_file():
            raise UserError(f"the model file {name} does not exist", where=where,
                            fix="ship the .gguf beside the pack (paths are read from the pack's folder), "
                                "or name a model from `simtrainer models list`")
        return
    try:
        resolve_model(chosen_settings, name)
    except UserError as error:
        raise UserError(error.what, where=where, fix=error.fix) from None
