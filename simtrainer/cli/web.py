"""The server behind `simtrainer serve`: textual-serve, guarded so the app stays the trainee's own.

Plain textual-serve accepts a WebSocket from any page the browser has open (that page could then drive the
app and read transcripts), answers to any Host name (so DNS rebinding reaches it), and its page loads fonts
from Google. This server refuses foreign origins and hosts, asks for an access token when it listens beyond
this machine, and serves a page whose every asset, fonts included, comes from this machine. Every app it runs
asks the student in that tab for their name (several students share one machine and its settings file).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp_jinja2
from aiohttp import web
from rich.logging import RichHandler
from textual_serve.server import Server

from simtrainer.identity import ASK_ENV

COOKIE = "simtrainer_token"
TEMPLATES = Path(__file__).parent / "templates"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    """True for a name or address only this machine can reach: localhost, 127.0.0.0/8, ::1."""
    host = host.strip().strip("[]").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def page_url(host: str, port: int, token: str | None = None) -> str:
    """The address to open; a wildcard host is shown as this machine's name."""
    shown = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


class GuardedServer(Server):
    """textual-serve with an origin, host and token check in front of every route, and a local-only page."""

    def __init__(self, command: str, *, host: str, port: int, token: str | None, title: str) -> None:
        super().__init__(command, host=host, port=port, title=title, templates_path=TEMPLATES)
        self.token = token
        self.local_only = is_loopback(host)

    def serve(self, debug: bool = False) -> None:
        """Serve until Ctrl-C; every app started from here (one per tab) inherits `ASK_ENV`, so it asks its
        student's name and keeps it for that app, whatever the shared settings file says."""
        os.environ[ASK_ENV] = "1"
        super().serve(debug=debug)

    def initialize_logging(self) -> None:
        super().initialize_logging()
        # The token is printed once: not again in request lines or in the locals of a logged traceback.
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
        for handler in logging.getLogger().handlers:
            if isinstance(handler, RichHandler):
                handler.tracebacks_show_locals = False

    async def on_startup(self, app: web.Application) -> None:
        """The CLI has already said where to go; textual-serve's banner would name the wildcard address."""

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self.guard)
        return app

    def refusal(self, request: web.Request) -> str | None:
        """Why this request must not reach the app, or None."""
        if self.local_only and not is_loopback(request.url.host or ""):
            return "This server only answers to this machine's own address (127.0.0.1 or localhost)."
        if request.path == "/ws":
            origin = request.headers.get("Origin", "")
            if origin.lower() != f"{request.scheme}://{request.host}".lower():
                return "WebSocket refused: it was not opened by this server's own page."
        if self.token is not None and not self.has_token(request):
            return "Access token missing or wrong: open the address that `simtrainer serve` printed."
        return None

    def has_token(self, request: web.Request) -> bool:
        assert self.token is not None
        given = request.query.get("token") or request.cookies.get(COOKIE) or ""
        return hmac.compare_digest(given.encode(), self.token.encode())

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        refusal = self.refusal(request)
        if refusal is not None:
            return web.Response(status=403, text=f"403 Forbidden: {refusal}\n")
        if self.token is not None and "token" in request.query:
            # Keep the token in an HttpOnly cookie (sent with the WebSocket too) and out of the address bar.
            rest = request.rel_url.with_query([(k, v) for k, v in request.query.items() if k != "token"])
            response = web.Response(status=303, headers={"Location": str(rest)})
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict", path="/")
            return response
        response = await handler(request)
        if response.prepared:  # a WebSocket, already answered
            return response
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            f"connect-src 'self' ws://{request.host} wss://{request.host}; frame-ancestors 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @aiohttp_jinja2.template("serve.html")
    async def handle_index(self, request: web.Request) -> dict[str, object]:
        """The page, with addresses relative to the host the browser used (not the address we listen on)."""
        try:
            font_size = min(max(int(request.query.get("fontsize", "16")), 8), 48)
        except ValueError:
            font_size = 16
        scheme = "wss" if request.secure else "ws"
        return {"title": self.title, "font_size": font_size, "websocket_url": f"{scheme}://{request.host}/ws"}
