"""Shared fixtures: every test gets its own SIMTRAINER_HOME; the real model is loaded once per session."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch) -> Path:
    for key in list(os.environ):
        if key.startswith("SIMTRAINER_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("SIMTRAINER_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def fixed_ids(monkeypatch):
    """Fixed session ids and a fixed sampling seed (a session draws a random one otherwise), for snapshots."""
    monkeypatch.setenv("SIMTRAINER_SEED", "7")
    counter = iter(range(1000))
    monkeypatch.setattr("simtrainer.storage.store.new_session_id", lambda: f"20260101-000000-{next(counter):04d}")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def cli(runner):
    """Invoke the CLI in-process; returns the click Result."""
    from simtrainer.cli import cli as command

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(command, list(args), input=input, catch_exceptions=False)

    return invoke


def run_cli(*args: str, env: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run the real `simtrainer` entry point in a subprocess (the timeout only catches a hang: a busy machine is slow)."""
    return subprocess.run(
        [sys.executable, "-m", "simtrainer", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="session")
def real_backend():
    """The embedded SmolLM2 GGUF, loaded once for every test that generates text."""
    from simtrainer.config import Settings
    from simtrainer.llm import open_backend

    backend = open_backend(Settings(model="smollm2-135m", seed=11))
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def gguf_path() -> Path:
    from simtrainer.config import Settings
    from simtrainer.llm import resolve_model

    path = resolve_model(Settings(model="smollm2-135m")).path
    assert path is not None and path.is_file()
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def llama_server(gguf_path, tmp_path_factory):
    """A real OpenAI-compatible server (llama-cpp-python's) over the embedded GGUF, on loopback."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "simtrainer.llm.server", "--model", str(gguf_path), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "2048", "--model_alias", "smol"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 240  # generous: a busy machine loads the model slowly
    while time.time() < deadline:
        try:
            if httpx.get(f"{base}/models", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            pytest.fail(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
        time.sleep(0.25)
    else:
        proc.kill()
        pytest.fail(f"llama_cpp.server did not start: {log.read_text()[-2000:]}")
    yield base
    proc.terminate()
    proc.wait(timeout=60)
