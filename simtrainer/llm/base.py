"""The `ChatBackend` protocol and what all backends share."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from simtrainer.errors import UserError


class ModelCallError(UserError):
    """A model call failed: the server is unreachable, too slow, or answered something that is not a completion.

    Distinct from other user errors so the patient can tell "the model failed" from everything else."""


class ModelOutputError(ModelCallError):
    """The model answered, but not with something usable (e.g. JSON that does not parse)."""


@dataclass(frozen=True)
class GenParams:
    """Sampling parameters for one generation."""

    max_tokens: int = 80
    temperature: float = 0.7
    top_p: float = 0.9
    stop: tuple[str, ...] = ()
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class ChatBackend(Protocol):
    """Streams text from a model. Implementations: llamacpp, openai (compatible servers), fake."""

    #: Short description for the UI: which model, local or server.
    label: str
    #: "local" or "server" or "fake".
    kind: str

    def complete(self, prompt: str, params: GenParams) -> Iterator[str]:
        """Stream a raw text completion of `prompt` (the transcript style the patient uses)."""
        ...

    def chat(self, messages: list[dict[str, str]], params: GenParams) -> Iterator[str]:
        """Stream a chat completion of `messages` (role/content dicts)."""
        ...

    def json(self, messages: list[dict[str, str]], schema: dict[str, Any], params: GenParams) -> dict[str, Any]:
        """Return an object that follows `schema` (constrained decoding where the backend has it)."""
        ...

    def count_tokens(self, text: str) -> int:
        """How many tokens `text` takes in this model (an estimate for servers)."""
        ...

    def close(self) -> None: ...


def parse_json_reply(text: str, source: str) -> dict[str, Any]:
    """Parse a model's JSON answer or raise a `ModelOutputError` saying which model produced garbage."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelOutputError(
            f"The model returned text that is not JSON ({exc.msg}): {excerpt(text, 120)}",
            where=source,
            fix="Use a larger model for JSON scoring, or keep the default trained scorers.",
        ) from None
    if not isinstance(value, dict):
        raise ModelOutputError(
            f"The model returned JSON that is not an object: {excerpt(text, 120)}",
            where=source,
            fix="Use a larger model for JSON scoring, or keep the default trained scorers.",
        )
    return value


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]+")


def excerpt(data: str | bytes, limit: int = 160) -> str:
    """What a server sent, safe to show in a terminal: control characters out, whitespace folded, cut at `limit`."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    text = " ".join(_CONTROL.sub(" ", text).split())
    return repr(text if len(text) <= limit else text[:limit] + "…")


def estimate_tokens(text: str) -> int:
    """A rough token count for servers that offer no tokenizer (about 4 characters a token)."""
    return max(1, len(text) // 4)
