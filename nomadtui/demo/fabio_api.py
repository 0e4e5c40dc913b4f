"""The demo's Fabio: its admin API (fabio.md §1, §6) and its HTTP traffic listener."""

from __future__ import annotations

import json
import random

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from . import routes as fabio_routes
from .asgi import RequestApp
from .backend import answer
from .cluster import Cluster
from .nomad_api import dumps

FABIO_VERSION = "1.7.3"


class FabioAdmin(RequestApp):
    """Fabio's admin API (fabio.md §1, §6)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.manual = ""
        self.manual_version = 0

    def table(self) -> list[fabio_routes.Route]:
        return fabio_routes.build_table(fabio_routes.cluster_instances(self.cluster), self.manual)

    async def dispatch(self, request: Request) -> Response:
        path, method = request.url.path, request.method
        q = request.query_params
        if path == "/health":
            return PlainTextResponse("OK\n")
        if path == "/api/routes" and method == "GET":
            table = self.table()
            if "raw" in q:
                return PlainTextResponse(fabio_routes.raw_text(table))
            return Response(dumps(fabio_routes.api_rows(table), "pretty" in q), media_type="application/json")
        if path == "/api/version":
            return PlainTextResponse(FABIO_VERSION)
        if path == "/api/config":
            return Response(dumps(_FABIO_CONFIG, "pretty" in q), media_type="application/json")
        if path == "/api/paths":
            return Response(b'[""]', media_type="application/json")
        if path == "/api/manual" and method == "GET":
            return Response(
                dumps({"value": self.manual, "version": str(self.manual_version)}, False), media_type="application/json"
            )
        if path == "/api/manual" and method == "PUT":
            try:
                body = json.loads(await request.body())
                value, version = str(body.get("value", "")), int(body.get("version", "0"))
            except (ValueError, AttributeError, TypeError, RecursionError):  # any body that is no manual
                return PlainTextResponse("bad request", 400)
            if version != self.manual_version:
                return PlainTextResponse("version mismatch", 409)
            self.manual, self.manual_version = value, self.manual_version + 1
            return Response(b"")
        if path == "/routes":
            return Response(_routes_html(self.table()), media_type="text/html")
        if path == "/favicon.ico":  # http.NotFound
            return PlainTextResponse("404 page not found\n", 404)
        # Every other path is the mux's "/" pattern: a redirect to the routes page (fabio
        # admin/server.go, handler).
        return RedirectResponse("/routes", 303)


_FABIO_CONFIG = {
    "Proxy": {"Strategy": "rnd", "Matcher": "prefix", "NoRouteStatus": 404},
    "Listen": [{"Addr": ":9999", "Proto": "http"}, {"Addr": ":9996", "Proto": "tcp+sni"}],
    "Registry": {
        "Backend": "consul",
        "Consul": {"KVPath": "/fabio/config", "TagPrefix": "urlprefix-", "ServiceStatus": ["passing"]},
    },
    "UI": {"Access": "rw", "Addr": ":9998"},
}


def _routes_html(table: list[fabio_routes.Route]) -> bytes:
    rows = "".join(
        f"<tr><td>{i}</td><td>{t.service}</td><td>{r.src}</td><td>{t.dst}</td><td>{r.opts}</td>"
        f"<td>{t.weight * 100:.2f}%</td></tr>"
        for i, (r, t) in enumerate(((r, t) for r in table for t in r.targets), 1)
    )
    return (
        f"<html><head><title>fabio</title></head><body><table><tr><th>#</th><th>Service</th>"
        f"<th>Source</th><th>Dest</th><th>Options</th><th>Weight</th></tr>{rows}</table></body></html>"
    ).encode()


class TrafficListener(RequestApp):
    """Fabio's HTTP listener: routes by Host header with the published weights and answers as
    the article's backend does (`this is httpsbackendservice, version: v1.0.2`)."""

    def __init__(self, fabio: FabioAdmin, seed: int | None = None) -> None:
        self.fabio = fabio
        self.rng = random.Random(seed)

    async def dispatch(self, request: Request) -> Response:
        route = fabio_routes.lookup(self.fabio.table(), request.headers.get("host", ""), request.url.path)
        if route is None:
            return Response(b"", 404)  # Fabio's default noroute status, empty body
        target = fabio_routes.pick(route, self.rng)
        # The service's answer and its access line, in the log of the task that served it.
        served = {
            "client": request.client.host if request.client else "",
            "method": request.method,
            "host": request.headers.get("host", ""),
            "path": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        }
        return PlainTextResponse(answer(self.fabio.cluster.logs, target, served))
