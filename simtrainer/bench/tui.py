"""`simtrainer bench tui`: is the app responsive while the patient's reply streams?

Runs the real app headless (Textual's test driver) on a practice scenario. During each streamed reply it types
into the reply box and measures keystroke-to-echo latency: from sending the key to the character appearing in
the box. It also counts the tokens the UI rendered per second of streaming and compares them with the tokens
the model produced (`ui_keeps_up` is true when every reply was shown whole and the UI renders at least 95% as
fast as the model generates). With steering on, `model_tokens` counts every candidate generated, and the
chosen reply streams after the choice. Target: p95 keystroke-to-echo < 50 ms.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from simtrainer.bench.coder import _percentile
from simtrainer.bench.scripts import GENERIC_TRAINEE_LINES
from simtrainer.config import Settings


async def _run(settings: Settings, model: str | None, scenario_id: str, turns: int) -> dict[str, Any]:
    from simtrainer.ui.app import make_app
    from simtrainer.ui.messages import ReplyFinished, ReplyToken
    from simtrainer.ui.screens.practice import PracticeScreen
    from simtrainer.ui.widgets.reply_input import ReplyInput

    app = make_app(settings, model=model)
    token_times: list[float] = []
    finished: list[tuple[float, dict]] = []
    echo_ms: list[float] = []
    bounds: list[int] = [0]
    shown_ok = 0

    def hook(message) -> None:
        if isinstance(message, ReplyToken):
            token_times.append(time.perf_counter())
        elif isinstance(message, ReplyFinished):
            finished.append((time.perf_counter(), message.meta))
            bounds.append(len(token_times))

    async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
        await pilot.pause()
        app.start_practice(app.workspace.card(scenario_id))
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, PracticeScreen)
        box = screen.query_one("#reply", ReplyInput)
        for line in GENERIC_TRAINEE_LINES[:turns]:
            box.text = line
            done_before = len(finished)
            app.simulate_key("enter")  # not pilot.press, which waits until the app is idle (the reply done)
            typed = 0
            while len(finished) == done_before:  # type through the whole turn: coding, then streaming
                if screen.busy and typed < 40:
                    char = "abcdefghij"[typed % 10]
                    before = box.text
                    started = time.perf_counter()
                    app.simulate_key(char)  # the same path a real key takes, without the test driver's waits
                    while box.text == before:
                        await asyncio.sleep(0.0005)
                    echo_ms.append((time.perf_counter() - started) * 1000)
                    typed += 1
                await asyncio.sleep(0.005)
            await pilot.pause()
            shown_ok += screen.reply is not None and screen.reply.text == screen.session.history[-1].text
            box.text = ""
    model_tokens = sum(meta.get("tokens", 0) for _, meta in finished)
    generating_s = sum(meta.get("elapsed_s", 0) for _, meta in finished)
    # the UI's own rate: tokens rendered over the span from each reply's first to its last rendered token
    shown_s = sum(token_times[b - 1] - token_times[a] for a, b in zip(bounds, bounds[1:], strict=False) if b - a > 1)
    shown_tokens = sum(b - a - 1 for a, b in zip(bounds, bounds[1:], strict=False) if b - a > 1)
    ui_rate = shown_tokens / shown_s if shown_s else None
    model_rate = model_tokens / generating_s if generating_s else None
    return {
        "model": app.workspace.model_entry.name,
        "turns": len(finished),
        "keystrokes": len(echo_ms),
        "echo_p50_ms": round(statistics.median(echo_ms), 2) if echo_ms else None,
        "echo_p95_ms": round(_percentile(echo_ms, 0.95), 2) if echo_ms else None,
        "echo_max_ms": round(max(echo_ms), 2) if echo_ms else None,
        "tokens_shown": len(token_times),
        "model_tokens": model_tokens,
        "model_tok_s": round(model_rate, 1) if model_rate else None,
        "ui_tok_s": round(ui_rate, 1) if ui_rate else None,
        "replies_shown_whole": shown_ok,
        "ui_keeps_up": bool(ui_rate and model_rate and ui_rate >= 0.95 * model_rate and shown_ok == len(finished)),
    }


def bench_tui(settings: Settings, *, model: str | None = None, scenario_id: str = "mi-alcohol-nurse",
              turns: int = 5) -> dict[str, Any]:
    return asyncio.run(_run(settings, model, scenario_id, turns))
