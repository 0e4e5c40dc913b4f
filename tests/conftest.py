"""Shared fixtures: a demo cluster served over real HTTP on free loopback ports."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nomadtui.demo.clock import ManualClock
from nomadtui.demo.cluster import Cluster
from nomadtui.demo.server import DemoServer

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(autouse=True)
def _no_user_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never see the developer's cluster, token or config."""
    for name in (
        "NOMAD_ADDR",
        "NOMAD_TOKEN",
        "NOMAD_NAMESPACE",
        "NOMAD_REGION",
        "NOMAD_CACERT",
        "NOMAD_CAPATH",
        "NOMAD_CLIENT_CERT",
        "NOMAD_CLIENT_KEY",
        "NOMAD_TLS_SERVER_NAME",
        "NOMAD_SKIP_VERIFY",
        "NOMAD_HTTP_AUTH",
        "FABIO_ADDR",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    # Absolute times are printed in local time: pin the zone so snapshots match everywhere.
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside this checkout")
    return SHARED


@pytest.fixture
def demo() -> Iterator[DemoServer]:
    """A demo cluster on a manual clock: time moves only through demo.advance()."""
    server = DemoServer(Cluster(ManualClock(), seed=7), seed=7).start()
    try:
        yield server
    finally:
        server.stop()


class ScriptedServer:
    """A throwaway HTTP server (any ASGI app) on a free loopback port, in its own thread:
    for the broken servers a client must survive."""

    def __init__(self, app, port: int = 0) -> None:
        import asyncio
        import socket
        import threading

        import uvicorn

        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.bind(("127.0.0.1", port))
        self._sock.listen(64)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._server = uvicorn.Server(
            uvicorn.Config(app, lifespan="off", log_level="critical", timeout_graceful_shutdown=1)
        )
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[self._sock])), daemon=True
        )

    def __enter__(self) -> ScriptedServer:
        import time

        self._thread.start()
        while not self._server.started:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self._server.should_exit = True
        self._server.force_exit = True
        self._thread.join(5)
        self._sock.close()  # gone: new connections are refused, as from a stopped server


@pytest.fixture
def scripted():
    return ScriptedServer
