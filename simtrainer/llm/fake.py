"""A deterministic, scripted backend for logic tests and demos; never the only test of a real component."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from simtrainer.llm.base import GenParams, estimate_tokens

# Neutral patient lines used when nothing is scripted; chosen by a hash of the prompt, so runs repeat exactly.
DEFAULT_LINES = (
    "I guess so. It's been a lot lately.",
    "I'm not sure. Part of me wants things to change, part of me doesn't.",
    "That's fair. I just don't know where to start.",
    "Honestly, I've thought about it more than I let on.",
    "Maybe. It's hard to talk about.",
)


class FakeBackend:
    """Streams scripted replies word by word; `enqueue` adds replies, consumed in order."""

    kind = "fake"

    def __init__(self, replies: Iterable[str] = (), *, token_delay_s: float = 0.0, name: str = "fake"):
        self.name = name
        self.label = f"{name} (scripted fake backend)"
        self.replies: deque[str] = deque(replies)
        self.token_delay_s = token_delay_s
        self.prompts: list[str] = []

    def enqueue(self, *replies: str) -> None:
        self.replies.extend(replies)

    def _next_reply(self, prompt: str) -> str:
        if self.replies:
            return self.replies.popleft()
        digest = int(hashlib.sha256(prompt.encode("utf-8")).hexdigest(), 16)
        return DEFAULT_LINES[digest % len(DEFAULT_LINES)]

    def _stream(self, text: str, params: GenParams) -> Iterator[str]:
        for stop in params.stop:
            if stop and stop in text:
                text = text[: text.index(stop)]
        for piece in re.findall(r"\s*\S+", " " + text.lstrip())[: params.max_tokens]:
            if self.token_delay_s:
                time.sleep(self.token_delay_s)
            yield piece

    def complete(self, prompt: str, params: GenParams) -> Iterator[str]:
        self.prompts.append(prompt)
        yield from self._stream(self._next_reply(prompt), params)

    def chat(self, messages: list[dict[str, str]], params: GenParams) -> Iterator[str]:
        prompt = "\n".join(m["content"] for m in messages)
        self.prompts.append(prompt)
        yield from self._stream(self._next_reply(prompt), params)

    def json(self, messages: list[dict[str, str]], schema: dict[str, Any], params: GenParams) -> dict[str, Any]:
        prompt = "\n".join(m["content"] for m in messages)
        self.prompts.append(prompt)
        return json.loads(self._next_reply(prompt)) if self.replies else {}

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def close(self) -> None:
        pass
