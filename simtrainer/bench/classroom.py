"""`simtrainer bench classroom`: N students practising at once against one shared model server.

Each student is a thread running a real headless session (`Session`, as `practice --script` runs it: trainee
turn saved, coded, the patient's reply streamed and saved) through the OpenAI-compatible backend. Each student
has their own data folder (one SQLite file each), as in a lab where every student runs the app on their own
machine and hands in from it: the figures then measure the shared model, not one database's write lock.
Turns saved are counted from those databases afterwards, never from the script.

The server is either started here (llama.cpp's, via `python -m simtrainer.llm.server`, on a free loopback
port, with the GGUF of the configured model; always stopped, on Ctrl-C too) or an existing one (`--server`).
llama-cpp-python's server cuts a streaming answer short when another request arrives unless it runs with
`--interrupt_requests False`; a classroom needs every answer whole, so the server started here queues them.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from simtrainer.bench.coder import _percentile
from simtrainer.bench.scripts import GENERIC_TRAINEE_LINES
from simtrainer.errors import UserError
from simtrainer.events import PatientDone, PatientToken
from simtrainer.session import Session

READY_TIMEOUT_S = 300.0  # a busy machine loads even a small model slowly
STOP_TIMEOUT_S = 30.0


# --- one student -------------------------------------------------------------------------------------------
@dataclass
class StudentRun:
    """What one scripted student saw: per turn, seconds to the first token and to the whole reply."""

    trainee: str
    session_id: str = ""
    db: Path | None = None
    first_token_s: list[float] = field(default_factory=list)
    reply_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    model_requests: int = 0
    model_tokens: int = 0


def student_lines(index: int, turns: int) -> list[str]:
    """Student `index`'s script: the generic lines from a different starting point each, so prompts differ."""
    return [GENERIC_TRAINEE_LINES[(index + k) % len(GENERIC_TRAINEE_LINES)] for k in range(turns)]


def run_student(session: Session, lines: list[str], run: StudentRun, go: threading.Event) -> None:
    """Wait for `go`, then send each line and time the reply. A turn the model failed is an error (raised, or
    answered with a card line because the model failed); the student goes on with the next line, as a student
    would retry. The session is ended at the end, so it is saved as a finished one."""
    run.session_id = session.id
    go.wait()
    for line in lines:
        started = time.perf_counter()
        first: float | None = None
        try:
            for event in session.submit(line):
                if isinstance(event, PatientToken) and first is None:
                    first = time.perf_counter() - started
                elif isinstance(event, PatientDone):
                    run.model_requests += int(event.meta.get("attempts", 0)) if event.meta.get("tokens") else 0
                    run.model_tokens += int(event.meta.get("tokens", 0))
                    if event.meta.get("model_error"):
                        run.errors.append(str(event.meta["model_error"]))
            done = time.perf_counter() - started
        except UserError as error:
            run.errors.append(error.what)
            continue
        if first is not None:
            run.first_token_s.append(first)
        run.reply_s.append(done)
    try:
        session.end()
    except UserError as error:
        run.errors.append(error.what)


def run_classroom(open_student: Callable[[int], tuple[Session, StudentRun]], students: int,
                  turns: int) -> tuple[list[StudentRun], float]:
    """Open every student's session first, then release them together; (runs, wall seconds from the release to
    the last student's end). An unexpected failure in a student's thread is recorded as an error for that
    student, never lost."""
    opened = [open_student(i) for i in range(students)]
    go = threading.Event()

    def work(session: Session, run: StudentRun, index: int) -> None:
        try:
            run_student(session, student_lines(index, turns), run, go)
        except Exception as error:  # the bench reports it; one student's failure must not hide the others'
            run.errors.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=work, args=(session, run, i), name=f"student-{i}", daemon=True)
               for i, (session, run) in enumerate(opened)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    go.set()
    for thread in threads:
        thread.join()
    return [run for _, run in opened], time.perf_counter() - started


# --- counting and figures ----------------------------------------------------------------------------------
def count_saved(runs: list[StudentRun]) -> dict[str, int]:
    """Trainee turns and patient replies (the opening line not counted) saved in each student's database for
    that student's session, read back from the files."""
    trainee = replies = 0
    for run in runs:
        if run.db is None or not run.session_id:
            continue
        with sqlite3.connect(f"file:{run.db}?mode=ro", uri=True) as conn:
            rows = conn.execute("select speaker, count(*) from turns where session_id = ? and idx > 0 "
                                "group by speaker", [run.session_id]).fetchall()
        counts = dict(rows)
        trainee += counts.get("trainee", 0)
        replies += counts.get("patient", 0)
    return {"trainee": trainee, "replies": replies}


def _ms(values: list[float], q: float) -> float | None:
    return round(_percentile(values, q), 3) if values else None


def figures(runs: list[StudentRun], wall_s: float, saved: dict[str, int], turns: int) -> dict[str, Any]:
    """The bench's figures (seconds): p50/p95 over every turn of every student, errors, turns saved, throughput."""
    first = [t for run in runs for t in run.first_token_s]
    reply = [t for run in runs for t in run.reply_s]
    requests = sum(run.model_requests for run in runs)
    return {
        "students": len(runs),
        "turns_per_student": turns,
        "first_token_p50_s": _ms(first, 0.5),
        "first_token_p95_s": _ms(first, 0.95),
        "reply_p50_s": _ms(reply, 0.5),
        "reply_p95_s": _ms(reply, 0.95),
        "reply_max_s": round(max(reply), 3) if reply else None,
        "replies": len(reply),
        "errors": sum(len(run.errors) for run in runs),
        "error_messages": sorted({e for run in runs for e in run.errors})[:5],
        "turns_saved": saved["trainee"] + saved["replies"],
        "turns_expected": 2 * len(runs) * turns,
        "model_requests": requests,
        "model_tokens": sum(run.model_tokens for run in runs),
        "wall_s": round(wall_s, 3),
        "replies_per_min": round(60 * len(reply) / wall_s, 2) if wall_s > 0 else None,
        "wall_per_request_s": round(wall_s / requests, 3) if requests else None,
    }


_PERF = re.compile(r"llama_perf_context_print:\s+(prompt eval|eval) time =\s*([\d.]+) ms /\s*(\d+)")


def server_figures(log: str) -> dict[str, Any]:
    """Per request, from llama.cpp's own timing lines in the server's log: prompt tokens evaluated and seconds
    of prompt and generation work. Every request the server worked on counts, also those whose student had
    already given up waiting, so this is the server's service time, queueing excluded."""
    prompt: list[tuple[float, int]] = []
    generate: list[tuple[float, int]] = []
    for kind, ms, count in _PERF.findall(log):
        (prompt if kind == "prompt eval" else generate).append((float(ms) / 1000, int(count)))
    service = [p[0] + g[0] for p, g in zip(prompt, generate, strict=False)]
    if not service:
        return {"server_requests": 0}
    return {
        "server_requests": len(service),
        "server_service_p50_s": round(_percentile(service, 0.5), 3),
        "server_service_mean_s": round(sum(service) / len(service), 3),
        "server_busy_s": round(sum(service), 3),
        "server_prompt_tokens_mean": round(sum(c for _, c in prompt) / len(prompt), 1),
        "server_prompt_s_mean": round(sum(t for t, _ in prompt) / len(prompt), 3),
        "server_tokens_per_s": round(sum(c for _, c in generate) / max(sum(t for t, _ in generate), 1e-9), 2),
    }


# --- the server --------------------------------------------------------------------------------------------
def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(base_url: str, proc: subprocess.Popen | None, log: Path | None, timeout_s: float) -> None:
    """Poll `/models` until the server answers 200, the process exits, or `timeout_s` passes (a `UserError`)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(encoding="utf-8", errors="replace")[-1500:] if log else ""
            raise UserError(f"The model server exited while starting (code {proc.returncode}).",
                            where=str(log or base_url), fix=f"Read its log: {tail}")
        time.sleep(0.25)
    fix = ("Check the model file loads (`simtrainer doctor`), or try again on a less busy machine." if proc else
           "Start the server, or correct --server: its OpenAI API root, usually ending in /v1.")
    raise UserError(f"The model server did not answer within {timeout_s:g} s.", where=base_url, fix=fix)


@contextmanager
def local_server(gguf: Path, *, alias: str, n_ctx: int, n_threads: int | None, log: Path) -> Iterator[str]:
    """llama.cpp's OpenAI-compatible server on a free loopback port; yields its API root. Stopped on leaving,
    whatever the reason (an error, Ctrl-C): terminated, then killed if it does not stop."""
    port = _free_port()
    command = [sys.executable, "-m", "simtrainer.llm.server", "--model", str(gguf), "--host", "127.0.0.1",
               "--port", str(port), "--n_ctx", str(n_ctx), "--model_alias", alias, "--interrupt_requests", "False",
               "--n_threads", str(n_threads or os.cpu_count() or 1)]
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        wait_ready(base, proc, log, READY_TIMEOUT_S)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def served_model(base_url: str) -> str:
    """The first model an existing server lists (vLLM and Ollama need its exact name in every request)."""
    try:
        response = httpx.get(f"{base_url}/models", timeout=10)
        data = response.json().get("data") if response.status_code == 200 else None
        name = data[0].get("id") if isinstance(data, list) and data and isinstance(data[0], dict) else None
    except (httpx.HTTPError, ValueError, AttributeError):
        name = None
    if not isinstance(name, str) or not name:
        raise UserError("The server did not list a model at /models.", where=base_url,
                        fix="Give the server's OpenAI API root (usually ending in /v1), and the model name with "
                            "--server-model.")
    return name


# --- the whole bench ---------------------------------------------------------------------------------------
def bench_classroom(settings, *, students: int, turns: int, scenario_id: str, server: str | None = None,
                    server_model: str | None = None) -> dict[str, Any]:
    """Start (or use) the shared server, run the class, count what was saved; the figures as a dict."""
    from simtrainer.llm import resolve_model
    from simtrainer.scenarios import get_card

    card = get_card(scenario_id, settings)
    with tempfile.TemporaryDirectory(prefix="simtrainer-classroom-") as work:
        folder = Path(work)
        if server is not None:
            base = server.rstrip("/")
            wait_ready(base, None, None, 5.0)
            name = server_model or served_model(base)
            result = _run(settings, card, base, name, students, turns, folder)
            result.update(server=base, server_started=False)
            return result
        entry = resolve_model(settings)
        if entry.path is None or not entry.path.is_file():
            raise UserError(f"The model '{entry.name}' is not a local GGUF file this bench can serve.",
                            where="setting `model`", fix="Use the default model, or bench a running server with "
                                                          "--server URL.")
        log = folder / "server.log"
        with local_server(entry.path, alias=entry.name, n_ctx=entry.spec.n_ctx or settings.n_ctx,
                          n_threads=settings.n_threads, log=log) as base:
            result = _run(settings, card, base, entry.name, students, turns, folder)
        result.update(server_figures(log.read_text(encoding="utf-8", errors="replace")))
        if result.get("server_busy_s"):
            result["server_busy_share"] = round(result["server_busy_s"] / result["wall_s"], 3)
        result.update(server="llama.cpp (llama-cpp-python server, started for this bench, requests queued)",
                      server_started=True, model=entry.name)
        return result


def _run(settings, card, base: str, model_name: str, students: int, turns: int, folder: Path) -> dict[str, Any]:
    from simtrainer.config import ModelSpec
    from simtrainer.feedback.registry import coders_for
    from simtrainer.llm import open_backend
    from simtrainer.storage.store import Store

    shared = settings.model_copy(update={
        "model": "classroom",
        "models": {**settings.models, "classroom": ModelSpec(backend="openai", base_url=base, model=model_name)},
    })
    opened: list = []  # backends and stores, closed at the end

    def open_student(index: int) -> tuple[Session, StudentRun]:
        trainee = f"student-{index + 1:02d}"
        db = folder / trainee / "sessions.db"
        db.parent.mkdir(parents=True)
        backend, store = open_backend(shared), Store(db)
        opened.extend((backend, store))
        session = Session(store, card, backend, patient_settings=shared.patient,
                          coders=coders_for(card, shared, backend), trainee=trainee, seed=shared.seed,
                          model_name="classroom")
        return session, StudentRun(trainee, db=db)

    try:
        runs, wall = run_classroom(open_student, students, turns)
    finally:
        for thing in opened:
            thing.close()
    result = figures(runs, wall, count_saved(runs), turns)
    result.update(scenario=card.id, model=model_name)
    return result
