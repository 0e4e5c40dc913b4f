"""One blocking-query loop: `GET path?index=N&wait=W`, again and again.

Each request starts when the previous one returns, so an unchanged cluster costs one request
per `wait`. A changed index means new data; an index that went backwards (a restarted or
replaced server) resets to 0. Errors back off with jitter; the last good data stays published
with its age, and the loop's status says whether it is connected or retrying.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from ..aio import wait_event
from .decode import parse_body
from .errors import BAD_RESPONSE, ClusterError, from_status, from_transport

T = TypeVar("T")

MIN_GAP = 0.05        # seconds between requests while the index keeps moving
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0


@dataclass(frozen=True)
class WatchStatus:
    name: str
    connected: bool = False
    error: ClusterError | None = None
    as_of: float | None = None          # wall time of the last good answer
    retry_at: float | None = None       # wall time of the next attempt after an error
    failures: int = 0


_rng = random.Random()


def backoff_delay(failures: int) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, failures - 1))
    return ceiling / 2 + _rng.uniform(0, ceiling / 2)


class Watch(Generic[T]):
    def __init__(self, http: httpx.AsyncClient, name: str, path: str, parse: Callable[[Any], T], *,
                 publish: Callable[[str, T, int], None], on_status: Callable[[WatchStatus], None],
                 params: dict | None = None, wait: float = 30.0, extensions: dict | None = None,
                 describe: dict | None = None, clock: Callable[[], float] = time.time,
                 min_gap: float = MIN_GAP) -> None:
        self.http = http
        self.name = name
        self.path = path
        self.parse = parse
        self.publish = publish
        self.on_status = on_status
        self.params = params or {}
        self.wait = wait
        self.extensions = extensions or {}
        self.describe = describe or {}   # action/capability/namespace/subject for error sentences
        self.clock = clock
        self.min_gap = min_gap
        self.index = 0
        self.requests = 0
        self._last: T | None = None
        self._have_data = False
        self._as_of: float | None = None
        self._wake = asyncio.Event()

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                data, index = await self._fetch()
            except asyncio.CancelledError:
                raise
            except ClusterError as e:
                # After a failure the server may be a new one with a lower index: ask for the
                # current state at once instead of blocking on an index it may never reach.
                self.index = 0
                failures += 1
                delay = backoff_delay(failures)
                self.on_status(WatchStatus(self.name, False, e, self._as_of, self.clock() + delay, failures))
                await asyncio.sleep(delay)
                continue
            failures = 0
            self._as_of = self.clock()
            if index < self.index:
                self.index = 0            # the index went backwards: start over
            else:
                self.index = index
            if not self._have_data or data != self._last:
                self._have_data, self._last = True, data
                self.publish(self.name, data, index)
            self.on_status(WatchStatus(self.name, True, None, self._as_of, None, 0))
            self._wake.clear()
            await wait_event(self._wake, self.min_gap)

    def poke(self) -> None:
        """Skip the rest of the gap between requests (someone knows the data just changed)."""
        self._wake.set()

    async def _fetch(self) -> tuple[T, int]:
        params = dict(self.params)
        blocking = self.index > 0
        if blocking:
            params.update(index=self.index, wait=f"{int(self.wait * 1000)}ms")
        # Nomad adds up to wait/16 of jitter; give it that and some slack before giving up.
        timeout = self.wait * 17 / 16 + 10 if blocking else 15
        self.requests += 1
        try:
            resp = await self.http.get(self.path, params=params, timeout=timeout, extensions=self.extensions)
        except httpx.HTTPError as e:
            raise from_transport(e, str(self.http.base_url), timeout) from None
        if resp.status_code >= 400:
            raise from_status(resp.status_code, resp.text, **self._describe())
        try:
            data = await parse_body(resp.content, self.parse)
            index = int(resp.headers.get("X-Nomad-Index", "0"))
        except (ValueError, TypeError, KeyError) as e:
            raise ClusterError(BAD_RESPONSE, f"Nomad's answer to {self.path} could not be read: {e}") from None
        return data, index

    def _describe(self) -> dict:
        return {"action": self.describe.get("action", f"read {self.path}"),
                "capability": self.describe.get("capability", "read-job"),
                "namespace": self.describe.get("namespace", self.params.get("namespace", "default")),
                "subject": self.describe.get("subject", "")}
