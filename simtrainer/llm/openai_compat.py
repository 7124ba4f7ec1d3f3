"""Any OpenAI-compatible server: llama.cpp's server, vLLM, Ollama; e.g. one shared model for a classroom.

This is the only module that opens network connections, and only to the `base_url` the user configured.
The server is trusted for nothing. Every call is bounded: by `reply_timeout_s` from start to finish (checked
whenever bytes arrive), by `timeout_s` without a token (a stalled or silent stream), and by the caller's
`max_tokens` (the stream is closed once that many pieces came, whatever the server does with the limit), so
the worst case is `reply_timeout_s` plus one `timeout_s` of silence. Whatever comes back that is not the
OpenAI shape (an error status, HTML, an empty or unending body, a line that is not JSON, JSON of another shape)
is a `ModelCallError` that names the URL and quotes what came, never a traceback.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from simtrainer.errors import UserError
from simtrainer.llm.base import GenParams, ModelCallError, estimate_tokens, excerpt, parse_json_reply

MAX_BODY_BYTES = 1_000_000  # a whole (non-streamed) answer or error page; more is not a model's answer
MAX_LINE_BYTES = 65_536  # one line of an event stream; a body without line breaks is not one
MAX_CHARS_PER_TOKEN = 16  # a piece cap by length too, for a server that sends one huge "token"
BASE_URL_FIX = "Check base_url: it must be the server's OpenAI API root, usually ending in /v1 " \
               "(e.g. http://127.0.0.1:8080/v1), and the server must speak the OpenAI API."


class _Shape(Exception):
    """A JSON value without the field the OpenAI API puts there."""


def _field(value: Any, *keys: str | int) -> Any:
    """`value[k1][k2]...`, None where a key is missing; `_Shape` where a level is not the container expected."""
    for key in keys:
        if value is None:
            return None
        if isinstance(key, int):
            if not isinstance(value, list):
                raise _Shape
            value = value[key] if len(value) > key else None
        else:
            if not isinstance(value, dict):
                raise _Shape
            value = value.get(key)
    return value


class OpenAICompatBackend:
    """Streams completions from a server that speaks the OpenAI HTTP API."""

    kind = "server"

    def __init__(self, base_url: str, model: str, *, name: str, api_key_env: str | None = None,
                 timeout_s: float = 60.0, reply_timeout_s: float | None = None):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = name
        self.label = f"{name} ({model} on server {self.base_url})"
        self.timeout_s = timeout_s
        self.reply_timeout_s = reply_timeout_s or 2 * timeout_s
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
        try:
            self.client = httpx.Client(base_url=self.base_url, headers=headers,
                                       timeout=min(timeout_s, self.reply_timeout_s))
        except (httpx.InvalidURL, ValueError) as exc:
            raise UserError(f"The server address is not a valid URL ({exc}).", where=f"model '{name}' (base_url)",
                            fix=BASE_URL_FIX) from None

    # --- errors ------------------------------------------------------------------------------------------
    def _fail(self, what: str, path: str, fix: str = BASE_URL_FIX) -> ModelCallError:
        return ModelCallError(what, where=self.base_url + path, fix=fix)

    def _transport_error(self, exc: httpx.HTTPError, path: str) -> ModelCallError:
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            return self._fail(
                "Cannot reach the model server.", path,
                "Start the server (e.g. `python -m simtrainer.llm.server --model FILE.gguf`), or correct base_url "
                "in your config.",
            )
        if isinstance(exc, httpx.TimeoutException):
            return self._fail(
                f"The model server sent nothing for {self.client.timeout.read:g} s (a stalled answer).", path,
                "Check the server is running and not overloaded, or raise `timeout_s` in your config.",
            )
        return self._fail(f"Talking to the model server failed: {excerpt(str(exc) or type(exc).__name__)}", path)

    def _status_error(self, response: httpx.Response, body: bytes, path: str) -> ModelCallError:
        status = response.status_code
        fix = {
            401: "Set the API key variable named by api_key_env.",
            403: "Set the API key variable named by api_key_env.",
            404: f"Check base_url (usually ends in /v1) and that the server serves the model '{self.model}'.",
        }.get(status, "Read the server's log for the cause." if status >= 500 else BASE_URL_FIX)
        return self._fail(f"The model server answered HTTP {status}: {excerpt(body) if body else '(no body)'}",
                          path, fix)

    def _unusable(self, problem: str, response: httpx.Response, sample: bytes | str, path: str) -> ModelCallError:
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        return self._fail(f"The model server's answer is not a completion: {problem} "
                          f"(HTTP {response.status_code}, {kind}): {excerpt(sample)}", path)

    def _check_clock(self, started: float, path: str) -> None:
        if time.monotonic() - started > self.reply_timeout_s:
            raise self._fail(
                f"The model server took longer than {self.reply_timeout_s:g} s for one answer.", path,
                "Use a faster server or a smaller model, or raise `reply_timeout_s` in your config.",
            )

    # --- reading bodies ----------------------------------------------------------------------------------
    def _read(self, response: httpx.Response, started: float, path: str) -> bytes:
        """A whole body, within the time and size bounds."""
        body = b""
        for chunk in response.iter_bytes():
            body += chunk
            self._check_clock(started, path)
            if len(body) > MAX_BODY_BYTES:
                raise self._unusable(f"more than {MAX_BODY_BYTES:,} bytes", response, body[:200], path)
        return body

    def _lines(self, response: httpx.Response, started: float, path: str) -> Iterator[str]:
        """The body's lines as they arrive, within the time bound and MAX_LINE_BYTES each."""
        buffer = b""
        for chunk in response.iter_bytes():
            self._check_clock(started, path)
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                yield line.rstrip(b"\r").decode("utf-8", "replace")
            if len(buffer) > MAX_LINE_BYTES:
                raise self._unusable("a line longer than 64 KB", response, buffer[:200], path)
        if buffer.strip():
            yield buffer.decode("utf-8", "replace")

    # --- calls -------------------------------------------------------------------------------------------
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

    def _stream(self, path: str, body: dict[str, Any], pick: Callable[[Any], Any], max_tokens: int) -> Iterator[str]:
        """Stream the text pieces of a Server-Sent Events answer; stop (closing the connection) at `max_tokens`."""
        started = last_token = time.monotonic()
        pieces = chars = chunks = 0
        head = ""  # the start of the body, quoted when it holds no completion
        try:
            with self.client.stream("POST", path, json={**body, "stream": True}) as response:
                if not response.is_success:
                    raise self._status_error(response, self._read(response, started, path)[:2000], path)
                lines = self._lines(response, started, path)
                for line in lines:
                    if time.monotonic() - last_token > self.timeout_s:
                        raise self._fail(
                            f"The model server stopped sending tokens (none for {self.timeout_s:g} s).", path,
                            "Check the server is running and not overloaded, or raise `timeout_s` in your config.",
                        )
                    if len(head) < 200:
                        head += line + " "
                    field, _, value = line.partition(":")
                    if not line.strip() or not field or field in ("event", "id", "retry"):
                        continue  # blank separators, comments (keep-alives), other event fields
                    if field != "data":
                        raise self._unusable("not an event stream", response, self._sample(line, lines), path)
                    data = value.strip()
                    if data == "[DONE]":
                        break
                    text = self._piece(data, pick, response, path)
                    chunks += 1
                    if text:
                        yield text
                        last_token = time.monotonic()
                        pieces, chars = pieces + 1, chars + len(text)
                        if pieces >= max_tokens or chars >= max_tokens * MAX_CHARS_PER_TOKEN:
                            return  # leaving the `with` closes the connection: the server stops for nobody
                if not chunks and not head.strip():
                    raise self._fail(f"The model server sent an empty answer (HTTP {response.status_code}).", path)
                if not chunks:
                    raise self._unusable("no completion in it", response, head, path)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, path) from None

    @staticmethod
    def _sample(first: str, lines: Iterator[str]) -> str:
        """`first` and the lines after it, about 200 characters, to quote what came instead of events."""
        sample = first
        try:
            for line in lines:
                if len(sample) >= 200:
                    break
                sample += " " + line
        except (ModelCallError, httpx.HTTPError):
            pass  # what came so far is enough to quote
        return sample

    def _piece(self, data: str, pick: Callable[[Any], Any], response: httpx.Response, path: str) -> str | None:
        """The text in one streamed `data:` line (None for a chunk without text, such as the last one)."""
        try:
            chunk = json.loads(data)
        except (ValueError, RecursionError):
            raise self._unusable("a streamed line is not JSON", response, data, path) from None
        if isinstance(chunk, dict) and chunk.get("error"):
            raise self._fail(f"The model server reported an error: {excerpt(data)}", path,
                             "Read the server's log for the cause.")
        try:
            if not isinstance(_field(chunk, "choices"), list):
                raise _Shape
            text = pick(chunk)
            if text is not None and not isinstance(text, str):
                raise _Shape
        except _Shape:
            raise self._unusable("JSON without the OpenAI fields", response, data, path) from None
        return text

    def complete(self, prompt: str, params: GenParams) -> Iterator[str]:
        yield from self._stream("/completions", {**self._body(params), "prompt": prompt},
                                lambda chunk: _field(chunk, "choices", 0, "text"), params.max_tokens)

    def chat(self, messages: list[dict[str, str]], params: GenParams) -> Iterator[str]:
        yield from self._stream("/chat/completions", {**self._body(params), "messages": messages},
                                lambda chunk: _field(chunk, "choices", 0, "delta", "content"), params.max_tokens)

    def _post(self, path: str, payload: dict[str, Any]) -> tuple[httpx.Response, bytes]:
        started = time.monotonic()
        try:
            with self.client.stream("POST", path, json=payload) as response:
                return response, self._read(response, started, path)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, path) from None

    def json(self, messages: list[dict[str, str]], schema: dict[str, Any], params: GenParams) -> dict[str, Any]:
        path = "/chat/completions"
        body = {**self._body(params), "messages": messages}
        body.pop("stop", None)
        # vLLM and Ollama take `json_schema`; llama.cpp's servers take `json_object` with a schema, and answer
        # the first with 400, 422 or even 500.
        strict = {"type": "json_schema", "json_schema": {"name": "result", "schema": schema, "strict": True}}
        response, raw = self._post(path, {**body, "response_format": strict})
        if response.status_code in (400, 422, 500):
            response, raw = self._post(path, {**body, "response_format": {"type": "json_object", "schema": schema}})
        return self._json_answer(response, raw, path)

    def _json_answer(self, response: httpx.Response, raw: bytes, path: str) -> dict[str, Any]:
        if not response.is_success:
            raise self._status_error(response, raw[:2000], path)
        if not raw.strip():
            raise self._fail(f"The model server sent an empty answer (HTTP {response.status_code}).", path)
        try:
            content = _field(json.loads(raw), "choices", 0, "message", "content")
        except (ValueError, RecursionError):
            raise self._unusable("not JSON", response, raw, path) from None
        except _Shape:
            content = None
        if not isinstance(content, str):
            raise self._unusable("JSON without choices[0].message.content", response, raw, path)
        return parse_json_reply(content, self.label)

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def close(self) -> None:
        self.client.close()
