"""`simtrainer serve` for real: a subprocess on a loopback port, probed with httpx, aiohttp and headless Chromium.

The page and every asset come from this machine; WebSockets from other origins and requests naming another
host are refused; with a token, nothing is served without it.
"""

import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from urllib.parse import urljoin, urlsplit

import aiohttp
import httpx
import pytest
from conftest import free_port

from simtrainer.cli.web import is_loopback

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def serving(home, *args: str):
    """A real `simtrainer serve` on a free loopback port; yields (base URL, printed lines so far)."""
    port = free_port()
    env = {**os.environ, "SIMTRAINER_HOME": str(home), "SIMTRAINER_MODEL": "fake", "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen([sys.executable, "-m", "simtrainer", "serve", "--port", str(port), *args], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    printed = [server.stdout.readline()]  # the "Open ... in your browser" line comes before the server starts
    try:
        deadline = time.time() + 120  # generous: a busy machine starts slowly
        while time.time() < deadline:
            try:
                httpx.get(f"{base}/", timeout=1)
                break
            except httpx.HTTPError:
                assert server.poll() is None, server.stdout.read()
                time.sleep(0.2)
        yield base, printed
    finally:
        server.terminate()
        printed.append(server.communicate(timeout=20)[0])


def ws_handshake(base: str, origin: str | None, cookies: dict | None = None) -> tuple[int, int]:
    """Open the app's WebSocket as a page at `origin` would; (HTTP status, bytes of screen received)."""

    async def attempt() -> tuple[int, int]:
        headers = {"Origin": origin} if origin else {}
        async with aiohttp.ClientSession(cookies=cookies) as session:
            try:
                async with session.ws_connect(f"{base}/ws?width=80&height=24", headers=headers) as ws:
                    received = 0
                    while received < 1000:
                        message = await asyncio.wait_for(ws.receive(), 60)
                        if message.type not in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                            break
                        received += len(message.data)
                    return 101, received
            except aiohttp.WSServerHandshakeError as refused:
                return refused.status, 0

    return asyncio.run(attempt())


def external_urls(text: str, kind: str) -> list[str]:
    """http(s) URLs in a page or asset that name a host other than this machine (references are crawled too)."""
    if not kind.startswith("application/javascript"):
        text = re.sub(r"/\*.*?\*/|<!--.*?-->", "", text, flags=re.S)  # CSS and HTML comments are never fetched
    return [url for url in re.findall(r"""https?://[^\s"'()<>`]+""", text) if not is_loopback(urlsplit(url).hostname or "")]


def test_is_loopback():
    for host in ("127.0.0.1", "127.0.0.2", "localhost", "LOCALHOST", "::1", "[::1]"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "", "192.168.1.20", "10.0.0.1", "example.com", "localhost.example.com"):
        assert not is_loopback(host), host


def test_page_and_every_asset_come_from_this_machine(home):
    with serving(home) as (base, printed):
        assert f"Open {base}/ " in printed[0] and "token" not in printed[0]
        page = httpx.get(f"{base}/")
        assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
        seen: dict[str, httpx.Response] = {}
        queue = [f"{base}/"]
        while queue:
            url = queue.pop()
            if url in seen:
                continue
            assert urlsplit(url).hostname == "127.0.0.1", url
            seen[url] = response = httpx.get(url)
            assert response.status_code == 200, url
            kind = response.headers["content-type"]
            if kind.startswith(("text/", "application/javascript")):
                assert external_urls(response.text, kind) == [], url
                refs = re.findall(r"""(?:src|href)="([^"]+)"|url\(["']?([^"')]+)""", response.text)
                queue += [urljoin(url, a or b) for a, b in refs if not (a or b).startswith("data:")]
    fetched = {urlsplit(url).path for url in seen}
    assert {"/static/js/textual.js", "/static/css/xterm.css", "/static/fonts/RobotoMono-VariableFont_wght.ttf"} <= fetched
    assert "fonts.googleapis.com" not in seen[f"{base}/"].text


def test_websocket_from_another_origin_is_refused(home):
    with serving(home) as (base, _):
        assert ws_handshake(base, "http://evil.example") == (403, 0)
        assert ws_handshake(base, None) == (403, 0)
        status, received = ws_handshake(base, base)
        assert status == 101 and received >= 1000  # the page's own origin gets the live screen
        # DNS rebinding: a foreign name that resolves to 127.0.0.1 is refused before any route answers
        rebound = httpx.get(f"{base}/", headers={"Host": "evil.example"})
        assert rebound.status_code == 403 and "only answers to this machine" in rebound.text


def test_token_is_needed_for_the_page_and_the_websocket(home):
    with serving(home, "--token") as (base, printed):
        token = re.search(r"\?token=([\w-]+)", printed[0]).group(1)
        refused = httpx.get(f"{base}/")
        assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/plain")
        assert "Access token missing or wrong" in refused.text
        assert httpx.get(f"{base}/?token=not-{token}").status_code == 403
        assert httpx.get(f"{base}/static/js/textual.js").status_code == 403
        with httpx.Client() as browser:
            first = browser.get(f"{base}/?token={token}&fontsize=20")
            assert first.status_code == 303 and first.headers["location"] == "/?fontsize=20"  # token out of the bar
            assert "HttpOnly" in first.headers["set-cookie"] and "SameSite=Strict" in first.headers["set-cookie"]
            page = browser.get(f"{base}{first.headers['location']}")
            assert page.status_code == 200 and 'data-font-size="20"' in page.text
            cookies = dict(browser.cookies)
        assert ws_handshake(base, base) == (403, 0)
        status, received = ws_handshake(base, base, cookies)
        assert status == 101 and received >= 1000
        assert ws_handshake(base, "http://evil.example", cookies) == (403, 0)
    assert "".join(printed).count(token) == 1  # printed once: not in request logs


def test_a_non_loopback_host_gets_a_token_and_says_why(cli, monkeypatch):
    from simtrainer.cli import web

    started = []
    monkeypatch.setattr(web.GuardedServer, "serve", lambda self: started.append(self))  # never binds
    result = cli("serve", "--host", "0.0.0.0", "--port", "8123")
    assert result.exit_code == 0 and "anyone who can reach this machine" in result.output
    token = started[0].token
    assert token and len(token) >= 32 and f":8123/?token={token}" in result.output
    result = cli("serve", "--port", "8123")
    assert started[1].token is None and "token" not in result.output


@pytest.mark.parametrize("args", [(), ("--token",)], ids=["loopback", "token"])
def test_browser_sees_the_home_screen_and_asks_nothing_of_other_machines(home, tmp_path, args):
    from playwright.sync_api import sync_playwright

    if CHROMIUM is None:
        pytest.fail("Debian's chromium is missing: run ./scripts/test, which installs it (apt-get install chromium)")
    with serving(home, *args) as (base, printed):
        address = re.search(r"Open (\S+) in your browser", printed[0]).group(1)
        frames: list[str] = []
        requests: list[str] = []
        console: list[str] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic"])
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("request", lambda request: requests.append(request.url))
            page.on("console", lambda message: console.append(message.text))

            def on_websocket(ws) -> None:
                requests.append(ws.url)
                ws.on("framereceived", lambda payload: frames.append(
                    payload if isinstance(payload, str) else payload.decode("utf-8", "replace")))

            page.on("websocket", on_websocket)
            page.goto(address)  # with a token: one redirect, then the cookie carries it, WebSocket included
            deadline = time.time() + 120
            while time.time() < deadline and "Wine after night shifts" not in "".join(frames):
                page.wait_for_timeout(250)
            fonts = page.evaluate("document.fonts.check('16px \"Roboto Mono\"')")
            page.screenshot(path=str(tmp_path / "home.png"))
            browser.close()
    received = "".join(frames)
    assert "Scenarios" in received and "Wine after night shifts" in received
    assert (tmp_path / "home.png").stat().st_size > 10_000
    assert requests and all(urlsplit(url).hostname == "127.0.0.1" for url in requests), requests
    assert any(url.endswith(".ttf") for url in requests) and fonts  # the font came from this server
    assert not [line for line in console if "Content Security Policy" in line], console


def test_serve_refuses_a_bad_exercise_pack_before_it_listens(home, tmp_path):
    """The real command: a broken pack is named with its field and fix, exit 2, and no server starts."""
    from conftest import run_cli

    bad = tmp_path / "bad.toml"
    bad.write_text('id = "broken-pack"\ntitle = "Broken"\nmax_turns = 3\n', encoding="utf-8")
    for pack, what in ((bad, "`instructions` is missing"), (tmp_path / "gone.toml", "no such exercise pack")):
        result = run_cli("serve", "--port", str(free_port()), "--exercise", str(pack), timeout=120,
                         env={"SIMTRAINER_HOME": str(home)})
        assert result.returncode == 2, result.stdout + result.stderr
        assert what in result.stderr.lower() and str(pack) in result.stderr and "fix:" in result.stderr
        assert "Traceback" not in result.stderr + result.stdout and "Open http" not in result.stdout


def test_each_tab_runs_the_app_on_the_served_exercise(cli, monkeypatch, tmp_path):
    """`serve --exercise PACK` hands every tab `simtrainer --exercise <the checked pack's absolute path>`, which the
    top-level option opens the app on; without it, the bare app."""
    import shlex

    from simtrainer.classroom.pack import load_pack
    from simtrainer.cli import practice, web

    started = []
    monkeypatch.setattr(web.GuardedServer, "serve", lambda self: started.append(self))  # never binds
    pack = tmp_path / "mine.toml"
    pack.write_text(load_pack("mi-reflect-first").path.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for given in ("mi-reflect-first", "mine.toml"):
        assert cli("serve", "--port", "8123", "--exercise", given).exit_code == 0
    assert cli("serve", "--port", "8123").exit_code == 0
    shipped, mine, bare = (shlex.split(server.command) for server in started)
    assert bare == shlex.split(practice.app_command()) and bare[-2:] == ["-m", "simtrainer"]
    assert shipped == [*bare, "--exercise", str(load_pack("mi-reflect-first").path)]
    assert mine == [*bare, "--exercise", str(pack)]

    opened = []  # what the tab's command line does: the top-level --exercise starts the app on that pack
    monkeypatch.setattr(practice, "start_app", lambda exercise_pack=None: opened.append(exercise_pack))
    monkeypatch.chdir(tmp_path.parent)
    assert cli(*mine[3:]).exit_code == 0
    assert [load_pack(path).path for path in opened] == [pack]
