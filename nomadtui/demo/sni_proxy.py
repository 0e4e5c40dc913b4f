"""Fabio's tcp+sni listener (fabio proxy/tcp/sni_proxy.go, SNIProxy.ServeTCP): the server name
is read from the TLS ClientHello without ending TLS, a target is picked by the route table's
weights (as the HTTP listener picks), and the connection, ClientHello first, is handed to that
target, which ends TLS with its own certificate for the route's host (backend.py). No server
name, a ClientHello that does not parse, or no route for the name: the connection is closed
with nothing written, as Fabio does.
"""

from __future__ import annotations

import asyncio
import random

from . import routes as fabio_routes
from .backend import answer, serve_https
from .demo_ca import DemoCA
from .fabio_api import FabioAdmin
from .tls_clienthello import HEADER_SIZE, client_hello_buffer_size, read_server_name

CONNECTION_LIMIT = 60.0  # seconds a connection may take in all (the demo's own bound)


def lookup_host(table: list[fabio_routes.Route], host: str) -> fabio_routes.Route | None:
    """fabio route/table.go Table.LookupHost: the routes of exactly this host, lower-cased (no
    glob, no host-less fallback), the first whose path is a prefix of "/". Unlike Fabio, only
    `proto=tcp+sni` routes count: only their simulated targets speak TLS."""
    host = host.lower()
    for route in table:
        if route.host == host and "/".startswith(route.path) and "proto=tcp+sni" in route.opts.split():
            if sum(t.weight for t in route.targets) > 0:
                return route
    return None


class SNIProxy:
    def __init__(self, fabio: FabioAdmin, ca: DemoCA, seed: int | None = None) -> None:
        self.fabio = fabio
        self.ca = ca
        self.rng = random.Random(seed)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One accepted connection (asyncio.start_server's callback)."""
        try:
            await asyncio.wait_for(self.serve_tcp(reader, writer), CONNECTION_LIMIT)
        except (OSError, EOFError, ValueError, asyncio.TimeoutError):
            pass  # Fabio logs these (connfail) and closes the connection
        finally:
            writer.close()  # ServeTCP's `defer in.Close()`

    async def serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """SNIProxy.ServeTCP: peek 9 bytes, read the whole ClientHello, take its server name,
        LookupHost, then hand the connection over."""
        header = await reader.readexactly(HEADER_SIZE)
        data = header + await reader.readexactly(client_hello_buffer_size(header) - HEADER_SIZE)
        host = read_server_name(data[5:])  # without the 5-byte record header
        if not host:  # "unable to parse client hello" or "server_name missing"
            return
        route = lookup_host(self.fabio.table(), host)
        if route is None:  # Noroute
            return
        target = fabio_routes.pick(route, self.rng)
        # The demo's targets live in this process: "dialing" one is handing it the stream with
        # the ClientHello already read (ServeTCP writes `data` to the upstream before copying).
        context = self.ca.server_context(route.host)
        logs = self.fabio.cluster.logs
        await serve_https(context, reader, writer, data, lambda request: answer(logs, target, request))
