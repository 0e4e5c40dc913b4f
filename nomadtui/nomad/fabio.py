"""Fabio's admin API: the route table (`GET /api/routes`) and `/health`.

Fabio has no blocking queries, so the table is polled only as often as it matters: quickly while
a Nomad deployment is moving (weights change as allocations come and go), every few seconds
while a route panel is on screen (an operator may change weights by hand), and rarely otherwise. Rows are
grouped by source (host + path) into `model.Route`s; `state.annotate()` ties each target to the
allocation behind its address, which tells its job version and whether it is a canary.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from ..model import Route, routes_from_api
from ..state import BAD_RESPONSE, Change, ClusterError, WatchStatus
from . import decode
from .errors import from_transport, status_phrase
from .http import MAX_ANSWER, read_body, read_error_text, verify_for
from .watch import Expect, ShapeError, Source

FAST_SECONDS = 0.5  # a deployment is moving
SHOWN_SECONDS = 2.0  # a route panel is on screen
SLOW_SECONDS = 60.0  # nobody is looking


ROUTES = Expect("a list of routes", null_is_empty=True)


class FabioClient:
    def __init__(self, address: str, http: httpx.AsyncClient | None = None, *, max_answer: int = MAX_ANSWER) -> None:
        self.address = address.rstrip("/")
        self.http = http or httpx.AsyncClient(timeout=5.0, verify=verify_for(self.address))
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


class FabioWatch(Source[list[Route]]):
    """Polls the route table: every FAST_SECONDS while `busy()`, SHOWN_SECONDS while `shown()`,
    else every SLOW_SECONDS (`poke()` asks at once, as when a route panel appears)."""

    def __init__(
        self,
        client: FabioClient,
        *,
        publish: Callable[[Change, list[Route], int], None],
        on_status: Callable[[WatchStatus], None],
        busy: Callable[[], bool] = lambda: False,
        shown: Callable[[], bool] = lambda: True,
        fast: float = FAST_SECONDS,
        slow: float = SLOW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__("fabio", publish=publish, on_status=on_status, clock=clock)
        self.client = client
        self.busy, self.shown = busy, shown
        self.fast, self.slow = fast, slow

    async def fetch(self) -> tuple[list[Route], int]:
        return await self.client.routes(), 0

    async def rest(self) -> None:
        await self._sleep(self.fast if self.busy() else SHOWN_SECONDS if self.shown() else self.slow)
