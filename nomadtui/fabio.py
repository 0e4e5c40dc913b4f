"""Fabio's admin API: the route table (`GET /api/routes`) and `/health`.

Fabio has no blocking queries, so the table is polled: quickly while a Nomad deployment is
moving (weights change as allocations come and go), slowly when nothing happens. Rows are
grouped by source (host + path) into `model.Route`s; `annotate()` ties each target to the
allocation behind its address, which tells its job version and whether it is a canary.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping

import httpx

from .aio import wait_event
from .model import Allocation, Route, RouteTarget, routes_from_api
from .nomad import decode
from .nomad.errors import BAD_RESPONSE, ClusterError, from_transport, status_phrase
from .nomad.http import MAX_ANSWER, read_body, read_error_text
from .nomad.watch import Expect, ShapeError, WatchStatus, backoff_delay

FAST_SECONDS = 0.5
SLOW_SECONDS = 5.0


ROUTES = Expect("a list of routes", null_is_empty=True)


class FabioClient:
    def __init__(self, address: str, http: httpx.AsyncClient | None = None, *, max_answer: int = MAX_ANSWER) -> None:
        self.address = address.rstrip("/")
        self.http = http or httpx.AsyncClient(timeout=5.0)
        self.max_answer = max_answer

    async def routes(self) -> list[Route]:
        url = f"{self.address}/api/routes"
        try:
            async with self.http.stream("GET", url) as resp:
                if resp.status_code != 200:
                    why = await read_error_text(resp)
                    raise ClusterError(
                        BAD_RESPONSE,
                        f"Fabio at {self.address} answered {resp.status_code} "
                        f"{status_phrase(resp.status_code)} for /api/routes.",
                        status=resp.status_code,
                        detail=why,
                    )
                content = await read_body(resp, self.max_answer, service="Fabio", path="/api/routes")
        except httpx.HTTPError as e:
            raise from_transport(e, self.address, service="Fabio") from None
        try:
            return routes_from_api(ROUTES.check(decode.loads(content.decode("utf-8"))))
        except ShapeError as e:
            raise ClusterError(BAD_RESPONSE, f"Fabio's answer to /api/routes was {e}.") from None
        except (ValueError, RecursionError):
            raise ClusterError(BAD_RESPONSE, f"Fabio at {self.address} sent a route table that is not JSON.") from None

    async def healthy(self) -> bool:
        try:
            resp = await self.http.get(f"{self.address}/health")
        except httpx.HTTPError:
            return False
        return resp.status_code == 200 and resp.text.strip() == "OK"

    async def aclose(self) -> None:
        await self.http.aclose()


class FabioWatch:
    """Polls the route table: every FAST_SECONDS while `busy()`, else every SLOW_SECONDS."""

    name = "fabio"

    def __init__(
        self,
        client: FabioClient,
        *,
        publish: Callable[[str, list[Route], int], None],
        on_status: Callable[[WatchStatus], None],
        busy: Callable[[], bool] = lambda: False,
        fast: float = FAST_SECONDS,
        slow: float = SLOW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.publish = publish
        self.on_status = on_status
        self.busy = busy
        self.fast, self.slow = fast, slow
        self.clock = clock
        self.requests = 0
        self._wake = asyncio.Event()

    def poke(self) -> None:
        """Poll now (a deployment just started moving)."""
        self._wake.set()

    async def run(self) -> None:
        last: list[Route] | None = None
        failures = 0
        as_of = None
        while True:
            self.requests += 1
            try:
                routes = await self.client.routes()
            except ClusterError as e:
                failures += 1
                delay = backoff_delay(failures)
                self.on_status(WatchStatus(self.name, False, e, as_of, self.clock() + delay, failures))
                await self._sleep(delay)
                continue
            failures = 0
            as_of = self.clock()
            if routes != last:
                last = routes
                self.publish(self.name, routes, 0)
            self.on_status(WatchStatus(self.name, True, None, as_of, None, 0))
            await self._sleep(self.fast if self.busy() else self.slow)

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        await wait_event(self._wake, seconds)


def annotate(
    routes: Iterable[Route],
    allocations: Iterable[Allocation],
    details: Mapping[str, Allocation],
    node_addresses: Mapping[str, str],
) -> list[Route]:
    """Match each target's address to the allocation behind it (ports come from full
    allocation reads), giving it a job version and a canary mark."""
    by_address: dict[tuple[str, int], Allocation] = {}
    for alloc in allocations:
        full = details.get(alloc.id)
        if full is None:
            continue
        for ip, port in full.ports.values():
            by_address[(ip or node_addresses.get(alloc.node_id, ""), port)] = alloc
    out = []
    for route in routes:
        targets = []
        for t in route.targets:
            alloc = by_address.get(t.address) if t.address else None
            if alloc is None:
                targets.append(t)
            else:
                targets.append(
                    RouteTarget(t.service, t.dst, t.weight, t.tags, alloc.id, alloc.job_version, alloc.canary)
                )
        out.append(Route(route.src, route.host, route.path, route.opts, tuple(targets)))
    return out


def routes_for_services(routes: Iterable[Route], services: Iterable[str]) -> list[Route]:
    """The routes with at least one target of these services (a job's)."""
    wanted = set(services)
    return [r for r in routes if any(t.service in wanted for t in r.targets)]
