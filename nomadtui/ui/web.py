"""The app in browsers: textual-serve's page, static files and websocket protocol, behind a token,
one-time websocket tickets, roles and a limit on sessions (`nomadtui serve` composes it).

Every page needs a random token (compared in constant time; 403 without it) and hands its
websocket a one-time ticket that expires after a minute; a websocket from another site's page is
refused; at most `max_sessions` at once, one place kept for the presenter; each session is its own
app process, started with the argv of its role and ended when its tab closes; a viewer's process
runs in a scratch folder, so nothing a viewer saves lands on this machine's disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2
from aiohttp import WSCloseCode, web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

VIEWER, PRESENTER = "viewer", "presenter"
TICKET_SECONDS = 60.0  # a page's websocket ticket is good this long, once
GRACE_SECONDS = 3.0  # after `quit`, how long a session's process has to end before it is killed

# textual-serve's page loads its font from Google: a request from every viewer's browser to a third
# party (which would see the page's address), and a page that waits for it in a room without
# internet. Its own copy of the font is among the static files.
REMOTE_FONT = re.compile(r'<link\s+rel="stylesheet"\s+href="https://fonts\.googleapis\.com/[^"]*"\s*/>')
FONT = "/static/fonts/RobotoMono-VariableFont_wght.ttf"
ITALIC = "/static/fonts/RobotoMono-Italic-VariableFont_wght.ttf"
LOCAL_FONT = f"""<link rel="preload" href="{FONT}" as="font" type="font/ttf" crossorigin />
    <style>
      @font-face {{ font-family: "Roboto Mono"; src: url("{FONT}") format("truetype"); font-weight: 100 700; }}
      @font-face {{ font-family: "Roboto Mono"; src: url("{ITALIC}") format("truetype"); font-weight: 100 700;
                   font-style: italic; }}
    </style>"""
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the address carries the token
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
}

log = logging.getLogger("nomadtui.serve")


# --- tokens and tickets ------------------------------------------------------------------------


def same(given: str, secret: str) -> bool:
    """Constant-time comparison (of any text: compare_digest refuses a non-ASCII str)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), secret.encode())


@dataclass
class Tickets:
    """One-time websocket tickets: a page with a valid token gets one; its websocket spends it."""

    lifetime: float = TICKET_SECONDS
    limit: int = 1000  # outstanding at once; the oldest go first
    clock: Callable[[], float] = time.monotonic
    _open: dict[str, tuple[str, float]] = field(default_factory=dict)

    def issue(self, role: str) -> str:
        self._expire()
        while len(self._open) >= self.limit:
            self._open.pop(next(iter(self._open)))
        ticket = secrets.token_urlsafe(24)
        self._open[ticket] = (role, self.clock() + self.lifetime)
        return ticket

    def take(self, given: str) -> str | None:
        """The ticket's role, and the ticket is spent; None for an unknown, spent or expired one."""
        self._expire()
        found = None
        for ticket in list(self._open):
            if same(given, ticket):
                found = ticket
        return self._open.pop(found)[0] if found is not None else None

    def _expire(self) -> None:
        now = self.clock()
        for ticket, (_, expires) in list(self._open.items()):
            if expires <= now:
                del self._open[ticket]


# --- sessions ----------------------------------------------------------------------------------


class Session(AppService):
    """One browser tab's app process: started without a shell (argv as is), in its own process
    group, and sure to be gone when the session stops."""

    def __init__(self, argv: list[str], cwd: str | None, env: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(shlex.join(argv), **kwargs)
        self.argv = argv
        self.cwd = cwd
        self.env = env  # on top of textual-serve's environment for the app

    @property
    def process(self) -> asyncio.subprocess.Process | None:
        return self._process

    async def _open_app_process(self, width: int = 80, height: int = 24) -> asyncio.subprocess.Process:
        environment = {**self._build_environment(width=width, height=height), **self.env}
        self._process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=environment,
            cwd=self.cwd,
            start_new_session=True,
        )
        assert self._process.stdin is not None
        self._stdin = self._process.stdin
        return self._process

    @property
    def output(self) -> asyncio.Task[None] | None:
        """The task relaying the app's output; it ends when the app does."""
        return self._task

    async def stop(self) -> None:
        """Ask the app to quit; kill its process group if it has not ended after a short grace."""
        task, self._task = self._task, None
        if task is not None:
            await self._download_manager.cancel_app_downloads(app_service_id=self.app_service_id)
            await self.send_meta({"type": "quit"})
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), GRACE_SECONDS)
        process = self.process
        if process is None or process.returncode is not None:
            return
        try:
            await asyncio.wait_for(process.wait(), GRACE_SECONDS if task is None else 0.5)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class SessionServer(Server):
    """textual-serve's Server, with its page and websocket behind the token, tickets, roles and
    a limit on sessions."""

    def __init__(
        self,
        argv: dict[str, list[str]],
        tokens: dict[str, str],
        *,
        max_sessions: int,
        title: str = "nomadtui",
        env: Mapping[str, str] | None = None,
    ) -> None:
        """`argv`: each role's app command; `env`: added to each session's environment."""
        super().__init__(shlex.join(argv[VIEWER]), title=title)
        self.argv = argv
        self.env = dict(env or {})
        self.tokens = tokens
        self.max_sessions = max_sessions
        self.tickets = Tickets()
        # textual-serve's page, rendered as its server renders it (autoescaped)
        environment = jinja2.Environment(loader=jinja2.FileSystemLoader(self.templates_path), autoescape=True)
        self.page = environment.get_template("app_index.html")
        self.sessions: dict[web.WebSocketResponse, str] = {}  # open (or opening) sessions -> role
        self.on_session: Callable[[str], None] = lambda line: None

    # --- who may open what

    def role_of(self, token: str) -> str | None:
        found = None
        for role, secret in self.tokens.items():
            if same(token, secret):
                found = role
        return found

    @property
    def viewer_places(self) -> int:
        return self.max_sessions - (PRESENTER in self.tokens)

    def full(self, role: str) -> str | None:
        """Why a session of this role cannot open now; None when it can."""
        roles = list(self.sessions.values())
        if role == PRESENTER:
            if PRESENTER in roles:
                return "The presenter's session is open in another tab: only one tab drives. Close it, then reload."
            return None
        places = self.viewer_places
        if roles.count(VIEWER) >= places:
            sessions = f"All {places} sessions are" if places > 1 else "The one session is"
            return f"{sessions} in use. Reload this page when someone closes theirs."
        return None

    # --- the routes

    async def _make_app(self) -> web.Application:
        app = web.Application()
        app.add_routes(
            [
                web.get("/", self.handle_index, name="index"),
                web.get("/ws/{ticket}", self.handle_websocket, name="websocket"),
                web.static("/static", self.statics_path, show_index=False, name="static"),
            ]
        )
        app.on_shutdown.append(self.on_shutdown)
        return app

    async def on_shutdown(self, app: web.Application) -> None:
        for websocket in list(self.sessions):
            await websocket.close(code=WSCloseCode.GOING_AWAY, message=b"nomadtui serve is stopping")

    @staticmethod
    def refuse(status: int, text: str) -> web.Response:
        return web.Response(status=status, text=text + "\n", headers=PAGE_HEADERS)

    async def handle_index(self, request: web.Request) -> web.Response:
        role = self.role_of(request.query.get("token", ""))
        if role is None:
            return self.refuse(403, "403: open the address `nomadtui serve` printed, with its token.")
        if why := self.full(role):
            return self.refuse(409 if role == PRESENTER else 503, why)
        ticket = self.tickets.issue(role)
        scheme = "wss" if request.secure else "ws"
        context = {
            "font_size": min(max(to_int(request.query.get("fontsize", "16"), 16), 6), 64),
            "app_websocket_url": f"{scheme}://{request.host}/ws/{ticket}",
            "config": {"static": {"url": "/static/"}},
            "application": {"name": self.title if role == VIEWER else f"{self.title} (presenter)"},
        }
        page = self.page.render(context)
        page = REMOTE_FONT.sub(LOCAL_FONT, page, count=1)
        return web.Response(text=page, content_type="text/html", headers=PAGE_HEADERS)

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:  # type: ignore[override]
        role = self.tickets.take(request.match_info["ticket"])
        if role is None:
            return self.refuse(403, "403: this session's ticket is unknown, spent or expired: reload the page.")
        origin = request.headers.get("Origin")
        if origin is not None and origin.lower() != f"{request.scheme}://{request.host}".lower():
            return self.refuse(403, "403: a session opens only from its own page.")
        if why := self.full(role):
            return self.refuse(409 if role == PRESENTER else 503, why)
        websocket = web.WebSocketResponse(heartbeat=15)
        self.sessions[websocket] = role  # counted from here: the limit holds while this one starts
        try:
            await websocket.prepare(request)
            await self.run_session(request, websocket, role)
        finally:
            del self.sessions[websocket]
            self.on_session(f"session {role} closed ({len(self.sessions)} open)")
        return websocket

    async def run_session(self, request: web.Request, websocket: web.WebSocketResponse, role: str) -> None:
        width = min(max(to_int(request.query.get("width", "80"), 80), 10), 1000)
        height = min(max(to_int(request.query.get("height", "24"), 24), 5), 1000)
        scratch = tempfile.mkdtemp(prefix="nomadtui-session-") if role == VIEWER else None
        session = Session(
            self.argv[role],
            scratch,
            env=self.env,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=websocket.close,
            download_manager=self.download_manager,
        )
        try:
            await session.start(width, height)
            assert session.process is not None and session.output is not None
            self.on_session(f"session {role} opened, pid {session.process.pid} ({len(self.sessions)} open)")
            reading = asyncio.create_task(self._process_messages(websocket, session))
            # Until the tab closes, or the app ends (`q`, or a crash: then the tab is told).
            await asyncio.wait({reading, session.output}, return_when=asyncio.FIRST_COMPLETED)
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reading
        except Exception as e:  # a malformed message, a process that would not start
            log.warning("session %s: %s", role, e)
        finally:
            await session.stop()
            await websocket.close()
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)


# --- running it --------------------------------------------------------------------------------


async def serve(server: SessionServer, sock: socket.socket, lines: list[str]) -> None:
    """Serve until SIGINT or SIGTERM; `lines` are printed once the socket answers."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(await server._make_app(), handle_signals=False, shutdown_timeout=GRACE_SECONDS + 2)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    for line in lines:
        print(line, flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
