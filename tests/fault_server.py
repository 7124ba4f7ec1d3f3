"""A misbehaving OpenAI-compatible server on 127.0.0.1, for the fault tests: the base URL picks the fault.

`FaultServer().url("html")` is `http://127.0.0.1:PORT/html/v1`; a client of that URL gets the fault named
`html` on every call. The server records, per fault, how each streamed answer ended (`streams`), so a test can
check that the client closed an endless stream after its token cap.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPLY = "I guess work has been stressful lately."
HANG_S = 20  # how long a stalled answer stays open; the client's bounds are far shorter


def _chunk(text: str, chat: bool) -> bytes:
    choice = {"index": 0, "delta": {"content": text}} if chat else {"index": 0, "text": text}
    return b"data: " + json.dumps({"choices": [choice]}).encode() + b"\n\n"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # the body ends when the connection closes, as simple as a server gets
    server: _Server

    def log_message(self, *args) -> None:  # keep the test output clean
        pass

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()

    def _stream(self, pieces, delay_s: float, chat: bool) -> str:
        """Write `pieces` as events; how the stream ended: 'done', or 'closed by client after N'."""
        self._start_stream()
        sent = 0
        try:
            for piece in pieces:
                self.wfile.write(_chunk(piece, chat))
                self.wfile.flush()
                sent += 1
                time.sleep(delay_s)
            self.wfile.write(b"data: [DONE]\n\n")
        except (BrokenPipeError, ConnectionResetError):
            return f"closed by client after {sent}"
        return "done"

    def do_POST(self) -> None:  # noqa: N802 (the http.server API)
        _, fault, *_rest = self.path.split("/", 2)
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        chat = self.path.endswith("/chat/completions")
        with self.server.lock:
            self.server.calls[fault] += 1
            call = self.server.calls[fault]
        if fault.startswith("flaky-"):  # the first N calls answer well, every later one fails
            fault = "ok" if call <= int(fault.split("-")[1]) else "error500"
        ended = self._answer(fault, request, chat)
        if ended:
            with self.server.lock:
                self.server.streams[fault].append(ended)

    def _answer(self, fault: str, request: dict, chat: bool) -> str | None:
        words = (f" word{i}" for i in itertools.count())
        if fault == "ok" and not request.get("stream"):
            content = json.dumps({"code": "question"}) if request.get("response_format") else REPLY
            self._send(200, "application/json", json.dumps(
                {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}).encode())
        elif fault == "ok":
            return self._stream([" " + w for w in REPLY.split()], 0.0, chat)
        elif fault == "endless":  # new words forever, no sentence end: only the client's token cap stops it
            return self._stream(words, 0.005, chat)
        elif fault == "la":  # one token forever
            return self._stream(itertools.repeat(" la"), 0.005, chat)
        elif fault == "slow":  # a token every 0.4 s, forever
            return self._stream(words, 0.4, chat)
        elif fault == "stall":  # one token, then silence
            return self._stream([" Well"], HANG_S, chat)
        elif fault == "keepalive":  # comments that keep the connection alive, never a token
            self._start_stream()
            try:
                for _ in range(HANG_S * 5):
                    self.wfile.write(b": ping\n\n")
                    self.wfile.flush()
                    time.sleep(0.2)
            except (BrokenPipeError, ConnectionResetError):
                return "closed by client"
        elif fault == "shape":  # valid JSON, wrong shape
            payload = b'data: {"choices": "all of them"}\n\n' if request.get("stream") else b'{"choices": 7}'
            self._send(200, "text/event-stream" if request.get("stream") else "application/json", payload)
        elif fault == "html":
            self._send(200, "text/html", b"<!DOCTYPE html>\n<html><head><title>Router login</title></head>"
                                         b"<body>Please sign in</body></html>\n")
        elif fault == "empty":
            self._send(200, "text/event-stream", b"")
        elif fault == "garbage":  # terminal escapes and binary: they must never reach the user's terminal
            self._send(200, "application/octet-stream", b"\x1b]0;pwned\x07\x1b[2J\x00\xff\xfe\x9bGARBAGE" * 4)
        elif fault == "error500":
            self._send(500, "text/plain", b"model exploded\n")
        else:
            self._send(404, "text/plain", f"unknown fault {fault}".encode())
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.streams: defaultdict[str, list[str]] = defaultdict(list)


class FaultServer:
    """The server, running in a thread until `close`."""

    def __init__(self) -> None:
        self.httpd = _Server()
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, fault: str) -> str:
        return f"http://127.0.0.1:{self.port}/{fault}/v1"

    @property
    def calls(self) -> Counter[str]:
        return self.httpd.calls

    @property
    def streams(self) -> dict[str, list[str]]:
        return self.httpd.streams

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
