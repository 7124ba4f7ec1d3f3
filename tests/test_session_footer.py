"""The session screen's footer in a real terminal (tmux), with the real model.

llama-cpp-python points the process's stdout and stderr at /dev/null while it loads a model, so whatever the
app drew meanwhile never reached the terminal: the session screen's footer, built as the screen opened, stayed
blank (or kept the home screen's keys) for the whole session. Only a real terminal shows it; Textual's test
driver renders from its own buffers.
"""

import os
import shutil
import subprocess
import sys
import time

import pytest

from simtrainer.config import config_file

TMUX = shutil.which("tmux")


def pane(socket: str) -> list[str]:
    out = subprocess.run([TMUX, "-L", socket, "capture-pane", "-p", "-t", "footer"], capture_output=True, text=True)
    return out.stdout.splitlines()


def wait_for(socket: str, text: str, limit: float) -> bool:
    deadline = time.time() + limit  # generous: a busy machine loads the model slowly
    while time.time() < deadline:
        if any(text in line for line in pane(socket)):
            return True
        time.sleep(0.5)
    return False


def test_the_session_footer_shows_the_session_keys_after_the_model_loads(home, tmp_path):
    if TMUX is None:
        pytest.fail("tmux is missing: apt-get install tmux")
    config_file().parent.mkdir(parents=True)
    config_file().write_text('trainee = "Bo"\n')
    socket = f"simtrainer-test-{os.getpid()}"
    env = {"SIMTRAINER_HOME": str(home), "SIMTRAINER_SPEECH__ENABLED": "false", "PYTHONPATH": os.environ.get(
        "PYTHONPATH", "")}
    command = " ".join(f"{k}={v}" for k, v in env.items()) + f" {sys.executable} -m simtrainer"
    subprocess.run([TMUX, "-L", socket, "new-session", "-d", "-s", "footer", "-x", "120", "-y", "40", command],
                   check=True)
    try:
        assert wait_for(socket, "Trainee: Bo", 300), pane(socket)
        for _ in range(10):  # a key sent while the app is still starting can be lost: send until the screen opens
            subprocess.run([TMUX, "-L", socket, "send-keys", "-t", "footer", "Enter"], check=True)
            if wait_for(socket, "· Dana · moderate", 15):
                break
        assert wait_for(socket, "My sister kind of made me book this", 600), pane(socket)  # the model loaded
        assert wait_for(socket, "End session", 30), pane(socket)
        footer = next(line for line in pane(socket) if "End session" in line)
        assert "Talk" in footer and "History" not in footer and "Trainees" not in footer
    finally:
        subprocess.run([TMUX, "-L", socket, "kill-server"], capture_output=True)


async def test_a_session_that_cannot_start_shows_why(home, monkeypatch):
    """The repaint on the failure path (the model may have half loaded) still ends in the error, read in full."""
    from simtrainer.config import load_settings
    from simtrainer.ui.app import make_app
    from simtrainer.ui.screens.modals import ErrorScreen

    monkeypatch.setenv("SIMTRAINER_SPEECH__ENABLED", "false")
    monkeypatch.delenv("NO_SUCH_KEY_VARIABLE", raising=False)
    settings = load_settings(models={"classroom": {"backend": "openai", "base_url": "http://127.0.0.1:9/v1",
                                                   "model": "m", "api_key_env": "NO_SUCH_KEY_VARIABLE"}})
    app = make_app(settings, model="classroom")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, ErrorScreen)
        assert app.screen.error_title == "Cannot start the session" and "NO_SUCH_KEY_VARIABLE" in app.screen.what
