"""The screenshots in docs/supervisors.md, rendered by the project's own parts: the walkthrough's scenario built
with the fake model and the CLI, the HTML report and the progress page shot in real headless Chromium, the app's
review screen saved by Textual. With SIMTRAINER_DOC_SHOTS=1 they are written to docs/img/ (to refresh the doc);
otherwise to a temporary folder, so a test run never rewrites committed files."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

from browser import CHROMIUM
from conftest import REPO

# read at import: the autouse `home` fixture clears every SIMTRAINER_ variable before a test runs
WRITE_DOCS = os.environ.get("SIMTRAINER_DOC_SHOTS") == "1"
WALKING = REPO / "tests" / "data" / "mi_walking.txt"
#: Ann's three practice sessions, each a little more reflective than the last
ANN = [
    ["Why don't you just stop drinking?", "You should cut down.", "How much do you drink?"],
    ["What brings you in today?", "It sounds like the shifts are exhausting.", "What would you like to change?"],
    ["What brings you in today?", "You're worn out, and the wine is how you switch off.",
     "Part of you wants to sleep better, and part of you needs something to unwind.",
     "What would a good week look like for you?"],
]
WIDTH = 1000


def _out(tmp_path: Path) -> Path:
    out = REPO / "docs" / "img" if WRITE_DOCS else tmp_path / "img"
    out.mkdir(parents=True, exist_ok=True)
    return out


def build(cli, tmp_path: Path) -> str:
    """The walkthrough: Ann practises three times; Ben's recorded session is imported, two of its codes are
    corrected and one turn annotated by CLI. Returns the imported session's id."""
    for n, lines in enumerate(ANN):
        script = tmp_path / f"ann{n}.txt"
        script.write_text("\n".join(lines) + "\n")
        result = cli("practice", "-s", "mi-alcohol-nurse", "-m", "fake", "--script", str(script), "--trainee", "Ann",
                     "--json")
        assert result.exit_code == 0, result.output
    result = cli("sessions", "import", str(WALKING), "--trainee", "Ben", "--json")
    assert result.exit_code == 0, result.output
    sid = json.loads(result.stdout)["session_id"]
    for turn, code in (("1", "ST"), ("10", "AF")):
        assert cli("sessions", "correct", sid, "--turn", turn, "--code", code, "--author", "Dr Okafor").exit_code == 0
    cli("sessions", "annotate", sid, "A good double-sided reflection.", "--turn", "6", "--author", "Dr Okafor")
    return sid


def shoot(page_path: Path, shots: dict[Path, tuple[str, int]]) -> str:
    """Load the page in Chromium at WIDTH; for each PNG, save `height` pixels from the top of the first element
    the selector finds (cut short at the page's end); return the page's text."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": 900})
            page.goto(page_path.as_uri())
            page.wait_for_load_state("load")
            end = page.evaluate("document.documentElement.scrollHeight")
            for png, (selector, height) in shots.items():
                top = max(0, page.locator(selector).first.bounding_box()["y"] - 16)
                page.screenshot(path=str(png), full_page=True,
                                clip={"x": 0, "y": top, "width": WIDTH, "height": min(height, end - top)})
            return page.inner_text("body")
        finally:
            browser.close()


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_report_and_progress_page_screenshots(cli, tmp_path):
    assert CHROMIUM, "Debian's chromium is missing: run ./scripts/test, which installs it"
    sid = build(cli, tmp_path)
    out = _out(tmp_path)
    report, progress = tmp_path / "report.html", tmp_path / "progress.html"
    cli("sessions", "report", sid, "-o", str(report))
    cli("trainees", "show", "Ann", "--html", "-o", str(progress))

    text = {"report": shoot(report, {out / "report.png": ("body", 1400),
                                     out / "report-summary.png": ("h2:text-is('Summary')", 1720)}),
            "progress": shoot(progress, {out / "progress.png": ("body", 1300)})}
    assert "Being there for your children matters a lot to you." in text["report"]
    assert "Dr Okafor" in text["report"] and "As reviewed" in text["report"]
    assert "Progress: Ann" in text["progress"] and "R:Q" in text["progress"]
    for name in ("report.png", "report-summary.png", "progress.png"):
        size = (out / name).stat().st_size
        assert png_size(out / name)[0] == WIDTH and 20_000 < size < 300_000, (name, size)


async def test_review_screen_screenshot(cli, tmp_path):
    from simtrainer.config import load_settings
    from simtrainer.ui.app import make_app
    from simtrainer.ui.screens.history import ReviewScreen

    sid = build(cli, tmp_path)
    app = make_app(load_settings(), model="fake")
    async with app.run_test(size=(110, 34)) as pilot:
        await pilot.pause()
        app.push_screen(ReviewScreen(sid))
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        svg = app.export_screenshot(title="simtrainer: reviewing an imported session")
    path = _out(tmp_path) / "review-screen.svg"
    path.write_text(svg, encoding="utf-8")
    assert svg.startswith("<svg") and "My doctor sent me." in svg.replace("&#160;", " ")
    assert 10_000 < path.stat().st_size < 300_000
