"""Running the demo cluster: its Nomad API, Fabio's admin API and Fabio's HTTP listener, each an
ASGI app served by uvicorn on loopback, and Fabio's tcp+sni listener (sni_proxy.py) on asyncio
streams, with the demo CA its targets' certificates come from.

The apps, the listener and the cluster share one asyncio loop (its own thread), so the cluster
needs no locks.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Future

import uvicorn
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp

from ..aio import wait_event
from .clock import Clock
from .cluster import DEFAULT_SPEED, Cluster
from .demo_ca import DemoCA
from .fabio_api import FabioAdmin, TrafficListener
from .nomad_api import Changes, NomadAPI
from .sni_proxy import SNIProxy


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this; without it every response waits ~40 ms for a delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _gzip_but_the_event_stream(app: ASGIApp) -> ASGIApp:
    """Nomad's agent compresses its answers for clients that ask (handlers.CompressHandler),
    except the event stream: EventStream hijacks the connection and drops the Content-Encoding
    (command/agent/event_endpoint.go)."""
    gzip = GZipMiddleware(app, minimum_size=1024)

    async def serve(scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] == "/v1/event/stream":
            await app(scope, receive, send)
        else:
            await gzip(scope, receive, send)

    return serve


class _Server(uvicorn.Server):
    """uvicorn's server, stopped at once: uvicorn's own loop notices `should_exit` at its next
    0.1 s tick, which every stop of the demo (quitting `nomadtui --demo`, each test) would wait."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self.should_exit = self.force_exit = True
        self._stopping.set()

    async def main_loop(self) -> None:
        # uvicorn.Server.main_loop, waking early on stop(): on_tick keeps the Date header current.
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            await wait_event(self._stopping, 0.1)


class DemoServer:
    """The demo cluster and its four listeners, on one event loop in a background thread."""

    def __init__(
        self,
        cluster: Cluster | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        fabio_port: int = 0,
        lb_port: int = 0,
        sni_port: int = 0,
        acl_tokens: dict[str, str] | None = None,
        speed: float = DEFAULT_SPEED,
        seed: int | None = None,
        extra_jobs: int = 0,
        empty: bool = False,
        clock: Clock | None = None,
    ) -> None:
        """`extra_jobs`: small service jobs beside the article's (Cluster's `extra_jobs`), for a
        cluster of a realistic size; `empty`: the client nodes and no jobs at all; `clock`: the
        cluster's (e.g. a ManualClock for tests; `speed` then does not apply). The three are
        ignored with a `cluster` of one's own. `acl_tokens`: secret -> "read" or "write" turns
        ACLs on."""
        self._cluster = cluster
        self._clock = clock
        self.speed = speed
        self.extra_jobs = extra_jobs
        self.empty = empty
        self.host = host
        self._ports = (port, fabio_port, lb_port)
        self._sni_port = sni_port
        self.acl_tokens = acl_tokens
        self.seed = seed
        self.cluster: Cluster | None = None
        self.nomad_url = self.fabio_url = self.lb_url = self.sni_url = ""
        self.ca: DemoCA | None = None  # its PEM file, ca.path, lives until stop()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[_Server] = []
        self._tasks: list[asyncio.Task] = []

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> DemoServer:
        """Bind the ports and serve from a daemon thread; returns once requests are answered."""
        sockets = [_bind(self.host, p) for p in (*self._ports, self._sni_port)]
        self.nomad_url, self.fabio_url, self.lb_url = (f"http://{self.host}:{s.getsockname()[1]}" for s in sockets[:3])
        self.sni_url = f"https://{self.host}:{sockets[3].getsockname()[1]}"
        self.ca = DemoCA()
        ready: Future = Future()
        self._thread = threading.Thread(target=self._run, args=(sockets, ready), name="nomadtui-demo", daemon=True)
        self._thread.start()
        try:
            ready.result(timeout=30 + self.extra_jobs / 1000)  # 50,000 extra jobs take a few seconds
        except BaseException:
            self.ca.remove()
            raise
        return self

    def _run(self, sockets: list[socket.socket], ready: Future) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(sockets, ready))
        except Exception as e:
            if not ready.done():
                ready.set_exception(e)
        finally:
            # Parked blocking queries and event streams end by cancellation; uvicorn would log
            # each as an "Exception in ASGI application".
            logging.getLogger("uvicorn.error").disabled = True
            leftovers = asyncio.all_tasks(loop)
            for task in leftovers:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
            loop.close()

    async def _serve(self, sockets: list[socket.socket], ready: Future) -> None:
        loop = asyncio.get_running_loop()
        cluster = self.cluster = self._cluster or Cluster(
            self._clock or Clock(self.speed), seed=self.seed, extra_jobs=self.extra_jobs, bootstrap=not self.empty
        )
        if self._cluster is None and self.extra_jobs:
            # The cluster's rows live as long as the server: keep the cyclic collector from
            # walking them all again and again (a pause per full pass at 50,000 jobs).
            gc.freeze()
        changes = Changes(loop)
        cluster.store.listeners.append(changes.notify)
        wake = asyncio.Event()
        cluster.timers.on_timer = wake.set
        nomad = NomadAPI(cluster, changes, self.acl_tokens)
        nomad.on_write = wake.set
        fabio = FabioAdmin(cluster)
        lb = TrafficListener(fabio, self.seed)
        apps: list[ASGIApp] = [_gzip_but_the_event_stream(nomad), fabio, lb]
        for app, sock in zip(apps, sockets[:3]):
            config = uvicorn.Config(
                app, lifespan="off", log_level="warning", access_log=False, log_config=None, timeout_graceful_shutdown=1
            )
            server = _Server(config)
            self._servers.append(server)
            self._tasks.append(loop.create_task(server.serve(sockets=[sock])))
        self._tasks.append(loop.create_task(self._drive(cluster, wake)))
        while not all(s.started for s in self._servers):
            await asyncio.sleep(0.01)
        assert self.ca is not None
        sni = await asyncio.start_server(SNIProxy(fabio, self.ca, self.seed).serve, sock=sockets[3])
        ready.set_result(True)
        try:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        finally:
            sni.close()

    @staticmethod
    async def _drive(cluster: Cluster, wake: asyncio.Event) -> None:
        """Fire the cluster's timers when they are due (real clock) or when `wake` is set."""
        while True:
            wake.clear()
            cluster.run_due()
            due = cluster.next_due()
            timeout = None
            if due is not None and not cluster.clock.manual:
                timeout = max(0.0, due - cluster.clock.now())
            await wait_event(wake, timeout)

    def stop(self) -> None:
        """Close the ports and end the thread (about 0.1 s: uvicorn's shutdown waits that long)."""
        if self.ca is not None:
            self.ca.remove()
        if self._loop is None:
            return

        def shutdown() -> None:
            for s in self._servers:
                s.stop()
            for t in self._tasks[-1:]:
                t.cancel()

        loop, self._loop = self._loop, None
        loop.call_soon_threadsafe(shutdown)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def call(self, fn: Callable, *args):
        """Run `fn(*args)` on the server's loop (thread-safe) and return its result."""
        assert self._loop is not None

        async def run():
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=60)

    def advance(self, seconds: float) -> None:
        """Manual clock: let `seconds` of cluster time pass."""
        cluster = self.cluster
        assert cluster is not None, "the server was never started"
        self.call(cluster.advance, seconds)

    def __enter__(self) -> DemoServer:
        return self if self._loop is not None else self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
