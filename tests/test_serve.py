"""`simtrainer serve` in a real headless Chromium: the browser receives and draws the home screen."""

import os
import shutil
import subprocess
import sys
import time

import httpx
import pytest
from conftest import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_browser_sees_the_home_screen(home, tmp_path):
    from playwright.sync_api import sync_playwright

    if CHROMIUM is None:
        pytest.fail("Debian's chromium is missing: run ./scripts/test, which installs it (apt-get install chromium)")
    port = free_port()
    env = {**os.environ, "SIMTRAINER_HOME": str(home), "SIMTRAINER_MODEL": "fake"}
    server = subprocess.Popen([sys.executable, "-m", "simtrainer", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 120  # generous: a busy machine starts slowly
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        frames: list[str] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic"])
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("websocket", lambda ws: ws.on(
                "framereceived", lambda payload: frames.append(payload if isinstance(payload, str)
                                                               else payload.decode("utf-8", "replace"))))
            page.goto(f"http://127.0.0.1:{port}/")
            deadline = time.time() + 120
            while time.time() < deadline and "Wine after night shifts" not in "".join(frames):
                page.wait_for_timeout(250)
            page.screenshot(path=str(tmp_path / "home.png"))
            browser.close()
        received = "".join(frames)
        assert "Scenarios" in received and "Wine after night shifts" in received
        assert (tmp_path / "home.png").stat().st_size > 10_000
    finally:
        server.terminate()
        server.wait(timeout=60)
