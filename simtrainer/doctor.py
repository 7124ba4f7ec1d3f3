"""`simtrainer doctor`: every part a user depends on, checked the way it is used, with a fix for each problem.

The model is run in a child process (`llm.probe`), so a llama.cpp build that crashes this CPU is reported as
what crashed, where, and the fix, never as a dead terminal. Speech and sound are optional: missing ones are
warnings (the app falls back to text), not problems.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from urllib.parse import urlparse

from simtrainer import OFFLINE_ENV
from simtrainer.config import Settings, config_file, data_dir, load_settings
from simtrainer.errors import UserError

OK, WARN, PROBLEM = "ok", "warn", "problem"


@dataclass(frozen=True)
class Check:
    part: str
    status: str
    detail: str
    fix: str = ""


def run_checks(settings: Settings | None = None) -> list[Check]:
    """Every check in order; a part that cannot be checked because an earlier one failed says so."""
    checks: list[Check] = []
    try:
        settings = settings or load_settings()
    except UserError as error:
        return [Check("config", PROBLEM, f"{error.what} ({error.where})", error.fix or "")]
    where = config_file()
    checks.append(Check("config", OK, f"{where}" if where.exists() else f"defaults ({where} does not exist)"))
    for check in (_data_folder, _database, _model_file, _model_runs, _coders, _speech, _audio,
                  _network, _cpu):
        checks.extend(_guarded(check, settings))
    return checks


def _guarded(check: Callable[[Settings], Iterator[Check]], settings: Settings) -> Iterator[Check]:
    name = check.__name__.strip("_").replace("_", " ")
    try:
        yield from check(settings)
    except UserError as error:
        yield Check(name, PROBLEM, f"{error.what}" + (f" ({error.where})" if error.where else ""), error.fix or "")


def _data_folder(settings: Settings) -> Iterator[Check]:
    folder = data_dir()
    if not folder.exists():
        yield Check("data folder", OK, f"{folder} (new: it is created private, mode 700)")
        return
    if not os.access(folder, os.W_OK | os.X_OK):
        yield Check("data folder", PROBLEM, f"{folder} is not writable", f"chmod u+rwx {folder}")
        return
    mode = stat.S_IMODE(folder.stat().st_mode)
    if mode & 0o077:
        yield Check("data folder", PROBLEM, f"{folder} is readable by other users (mode {mode:o})",
                    f"chmod 700 {folder} (simtrainer also tightens it when it starts)")
        return
    yield Check("data folder", OK, f"{folder} (private, mode {mode:o})")


def _database(settings: Settings) -> Iterator[Check]:
    from simtrainer.storage import open_store

    store = open_store()
    try:
        result = store.db.execute("pragma quick_check").fetchone()[0]
        sessions = store.db["sessions"].count
    finally:
        store.close()
    if result != "ok":
        yield Check("database", PROBLEM, f"{store.path}: {result}",
                    "Back up the file, then run `sqlite3 FILE .recover` into a new file.")
        return
    yield Check("database", OK, f"{store.path} ({sessions} sessions, integrity ok)")


def _model_file(settings: Settings) -> Iterator[Check]:
    from simtrainer.llm import resolve_model

    entry = resolve_model(settings)
    if entry.spec.backend != "llamacpp":
        yield Check("model", OK, f"{entry.name}: {entry.spec.backend} backend at {entry.location}")
        return
    path = entry.local_file()
    yield Check("model", OK, f"{entry.name}: {path} ({path.stat().st_size / 1e6:.0f} MB)")


def _model_runs(settings: Settings) -> Iterator[Check]:
    from simtrainer.llm import resolve_model

    entry = resolve_model(settings)
    if entry.spec.backend == "openai":
        yield from _server_answers(entry, settings)
        return
    if entry.spec.backend != "llamacpp" or entry.path is None or not entry.path.is_file():
        return
    from simtrainer.llm.probe import check_model_runs

    result = check_model_runs(entry.path, n_threads=settings.n_threads, n_gpu_layers=settings.n_gpu_layers,
                              use_cache=False)
    speed = f", {result.tokens_per_s:.0f} tokens/s" if result.tokens_per_s else ""
    yield Check("model runs", OK, f"{result.detail} in a child process{speed}")


def _server_answers(entry, settings: Settings) -> Iterator[Check]:
    from simtrainer.llm import open_backend
    from simtrainer.llm.base import GenParams

    backend = open_backend(settings, entry.name)
    try:
        text = "".join(backend.complete("COUNSELOR: Hello.\nCLIENT:", GenParams(max_tokens=8, temperature=0)))
    finally:
        backend.close()
    yield Check("model runs", OK, f"the server at {entry.location} answered ({len(text)} characters)")


def _coders(settings: Settings) -> Iterator[Check]:
    from simtrainer.feedback.ctrs.scorer import load_ctrs_scorer
    from simtrainer.feedback.dearman.coder import load_dearman_coder
    from simtrainer.feedback.mi import load_mi_coder

    start = time.perf_counter()
    codes = load_mi_coder().code("What would you like to talk about today?", "", "")
    labels = ", ".join(code.label for code in codes) or "no code"
    yield Check("MI coder", OK, f"coded a test line as {labels} ({time.perf_counter() - start:.1f} s with loading)")
    load_dearman_coder()
    load_ctrs_scorer()
    yield Check("DEAR MAN / CTRS scorers", OK, "loaded")


def _speech(settings: Settings) -> Iterator[Check]:
    from simtrainer.speech.models import stt_model_dir, voice_path

    parts = (("speech in", stt_model_dir, "Typing still works.", "faster-whisper model at {}"),
             ("speech out", voice_path, "Replies stay text.", "piper voice {.name}"))
    for part, locate, fallback, found in parts:
        try:
            where = locate(settings.speech)
        except UserError as error:
            yield Check(part, WARN, f"{error.what} {fallback}", error.fix or "")
        else:
            yield Check(part, OK, found.format(where))


def _audio(settings: Settings) -> Iterator[Check]:
    from simtrainer.speech.audio import AudioUnavailable, check_input, check_output

    for kind, check in (("input", check_input), ("output", check_output)):
        try:
            check()
        except AudioUnavailable as notice:
            yield Check(f"audio {kind}", WARN, str(notice),
                        "Connect a microphone / speaker, or keep practising by typing.")
        else:
            yield Check(f"audio {kind}", OK, "default device found")


def _network(settings: Settings) -> Iterator[Check]:
    unset = [key for key, value in OFFLINE_ENV.items() if os.environ.get(key) != value]
    if unset:
        yield Check("network policy", PROBLEM, f"telemetry switches not set: {', '.join(unset)}",
                    "Start simtrainer through its own commands (they set them before any library loads).")
        return
    from simtrainer.llm import list_models, resolve_model

    active = resolve_model(settings)
    if active.spec.backend == "openai":
        url = active.spec.base_url or ""
        local = _is_loopback(url)
        yield Check("network policy", OK if local else WARN,
                    f"transcripts go to the model server you configured ({url}); library telemetry is off",
                    "" if local else "Use a server on this machine to keep transcripts here.")
        return
    remote = sum(1 for e in list_models(settings) if e.spec.backend == "openai" and not _is_loopback(e.location))
    extra = f"; {remote} server(s) on other machines configured, used only when chosen" if remote else ""
    yield Check("network policy", OK, f"nothing leaves this machine (library telemetry off{extra})")


def _is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    return host == "localhost" or host.startswith("127.") or host == "::1"


def _cpu(settings: Settings) -> Iterator[Check]:
    from simtrainer.llm.cpu import AMX_FLAGS, cpu_flags, reports_amx

    flags = cpu_flags()
    if reports_amx(flags):
        found = ", ".join(f for f in AMX_FLAGS if f in flags)
        yield Check("cpu", OK, f"reports AMX ({found}): llama.cpp runs without extra buffer types, which can "
                    "crash where a VM does not grant AMX")
        return
    vector = next((f for f in ("avx512f", "avx2", "avx", "neon", "asimd") if f in flags), "no vector flags seen")
    yield Check("cpu", OK, f"{os.cpu_count()} cores, {vector}; no AMX")


def with_config_warnings(checks: list[Check], warnings: list[str]) -> list[Check]:
    """The config check as a warning when the app will ignore some entries (an unknown theme or key binding).
    The front end finds those: telling them needs the app's own bindings, which the domain does not import."""
    if not warnings or checks[0].part != "config" or checks[0].status != OK:
        return checks
    return [Check("config", WARN, f"{checks[0].detail}; " + " ".join(warnings),
                  "Correct or remove those entries (`simtrainer config show` lists them).")] + checks[1:]


def as_json(checks: list[Check]) -> dict:
    return {"ok": not any(c.status == PROBLEM for c in checks), "checks": [asdict(c) for c in checks]}

