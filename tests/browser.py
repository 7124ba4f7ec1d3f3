"""Open a local HTML file in real headless Chromium (Debian's), recording every request and dialog."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Visit:
    url: str
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    #: page.evaluate results, by the expression given
    values: dict[str, object] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    pdf: bytes = b""


def visit(path: Path, screenshot: Path, *, texts: tuple[str, ...] = ("body",), evaluate: tuple[str, ...] = (),
          width: int = 1000) -> Visit:
    """Load `path`, read the inner text of each selector in `texts`, evaluate each expression, save a full-page
    screenshot and print the page to PDF with print media."""
    from playwright.sync_api import sync_playwright

    if CHROMIUM is None:
        pytest.fail("Debian's chromium is missing: run ./scripts/test, which installs it (apt-get install chromium)")
    seen = Visit(path.as_uri())
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        try:
            page = browser.new_page(viewport={"width": width, "height": 1200})
            page.on("request", lambda request: seen.requests.append(request.url))
            page.on("dialog", lambda dialog: (seen.dialogs.append(dialog.message), dialog.dismiss()))
            page.goto(seen.url)
            page.wait_for_load_state("load")
            seen.texts = {selector: page.inner_text(selector) for selector in texts}
            seen.values = {expression: page.evaluate(expression) for expression in evaluate}
            page.screenshot(path=str(screenshot), full_page=True)
            page.emulate_media(media="print")
            seen.pdf = page.pdf()
        finally:
            browser.close()
    return seen
