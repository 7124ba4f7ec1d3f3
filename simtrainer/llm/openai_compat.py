"""Any OpenAI-compatible server: llama.cpp's server, vLLM, Ollama; e.g. one shared model for a classroom.

This is the only module that opens network connections, and only to the `base_url` the user configured.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import httpx

from simtrainer.errors import UserError
from simtrainer.llm.base import GenParams, estimate_tokens, parse_json_reply


class OpenAICompatBackend:
    """Streams completions from a server that speaks the OpenAI HTTP API."""

    kind = "server"

    def __init__(
        self, base_url: str, model: str, *, name: str, api_key_env: str | None = None, timeout_s: float = 60.0
    ):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = name
        self.label = f"{name} ({model} on server {self.base_url})"
        headers = {}
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise UserError(
                    f"The API key variable {api_key_env} is not set.",
                    where=f"model '{name}' (api_key_env)",
                    fix=f"export {api_key_env}=... before starting simtrainer, or remove api_key_env.",
                )
            headers["Authorization"] = f"Bearer {key}"
        self.client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s)

    def _error(self, exc: Exception) -> UserError:
        if isinstance(exc, httpx.ConnectError):
            return UserError(
                "Cannot reach the model server.",
                where=self.base_url,
                fix="Start the server (e.g. `python -m llama_cpp.server --model FILE.gguf`), or correct base_url "
                "in your config.",
            )
        if isinstance(exc, httpx.TimeoutException):
            return UserError(
                "The model server did not answer in time.",
                where=self.base_url,
                fix="Check the server is running and not overloaded, or raise `timeout_s` in your config.",
            )
        if isinstance(exc, httpx.HTTPStatusError):
            status = exc.response.status_code
            hint = {
                401: "Set the API key variable named by api_key_env.",
                403: "Set the API key variable named by api_key_env.",
                404: f"Check base_url (usually ends in /v1) and that the server serves the model '{self.model}'.",
            }.get(status, "Read the server's log for the cause.")
            return UserError(f"The model server answered HTTP {status}.", where=str(exc.request.url), fix=hint)
        return UserError(f"Talking to the model server failed: {exc}", where=self.base_url)

    def _body(self, params: GenParams) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
        }
        if params.stop:
            body["stop"] = list(params.stop)[:4]  # the OpenAI API allows at most four stop strings
        if params.seed is not None:
            body["seed"] = params.seed
        return body

    def _stream(self, path: str, body: dict[str, Any], pick) -> Iterator[str]:
        try:
            with self.client.stream("POST", path, json={**body, "stream": True}) as response:
                if response.is_error:
                    response.read()
                    response.raise_for_status()
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        chunk = json.loads(data)
                    except json.JSONDecodeError:
                        continue
                    choices = chunk.get("choices") or []
                    text = pick(choices[0]) if choices else None
                    if text:
                        yield text
        except httpx.HTTPError as exc:
            raise self._error(exc) from None

    def complete(self, prompt: str, params: GenParams) -> Iterator[str]:
        yield from self._stream("/completions", {**self._body(params), "prompt": prompt}, lambda c: c.get("text"))

    def chat(self, messages: list[dict[str, str]], params: GenParams) -> Iterator[str]:
        yield from self._stream(
            "/chat/completions",
            {**self._body(params), "messages": messages},
            lambda c: (c.get("delta") or {}).get("content"),
        )

    def json(self, messages: list[dict[str, str]], schema: dict[str, Any], params: GenParams) -> dict[str, Any]:
        body = {**self._body(params), "messages": messages}
        body.pop("stop", None)
        # vLLM and Ollama take `json_schema`; llama.cpp's servers take `json_object` with a schema.
        formats = [
            {"type": "json_schema", "json_schema": {"name": "result", "schema": schema, "strict": True}},
            {"type": "json_object", "schema": schema},
        ]
        last: Exception | None = None
        for response_format in formats:
            try:
                response = self.client.post("/chat/completions", json={**body, "response_format": response_format})
                # Servers that lack a format answer 400, 422 or even 500: try the next one.
                if response.status_code in (400, 422, 500) and response_format is not formats[-1]:
                    last = httpx.HTTPStatusError("bad request", request=response.request, response=response)
                    continue
                response.raise_for_status()
            except httpx.HTTPError as exc:
                raise self._error(exc) from None
            content = response.json()["choices"][0]["message"].get("content") or ""
            return parse_json_reply(content, self.label)
        raise self._error(last)  # type: ignore[arg-type]

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def close(self) -> None:
        self.client.close()
