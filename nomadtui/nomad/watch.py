"""One blocking-query loop: `GET path?index=N&wait=W`, again and again (and the loop it shares
with Fabio's polling).

Each request starts when the previous one returns, so an unchanged cluster costs one request
per `wait`. A changed index means new data; an index that went backwards (a restarted or
replaced server) resets to 0. Errors back off with jitter; the last good data stays published
with its age, and the loop's status says whether it is connected, waiting to retry, or retrying.
An answer that is not what Nomad sends (wrong shape, not JSON, too large) is an error like any
other: a sentence, then a retry.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from ..aio import wait_event
from ..state import BAD_RESPONSE, Change, ClusterError, WatchStatus
from .decode import LARGE_BODY, parse_body, release_memory_soon
from .http import MAX_ANSWER, get_answer

T = TypeVar("T")

MIN_GAP = 0.05  # seconds between requests while the index keeps moving
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0


_rng = random.Random()


def backoff_delay(failures: int) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, failures - 1))
    return ceiling / 2 + _rng.uniform(0, ceiling / 2)


class ShapeError(ValueError):
    """An answer that is valid JSON but not the shape Nomad sends for it."""


def json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return "a string" if isinstance(value, str) else "a number"


@dataclass(frozen=True)
class Expect:
    """What a watch's answer must be: a list of objects or one object. Nomad answers `[]` for an
    empty list (its endpoints replace a nil slice), so `null` there is a wrong shape; Fabio's
    route table is `null` when empty."""

    noun: str  # "a list of jobs", "the job"
    is_list: bool = True
    null_is_empty: bool = False

    def check(self, body: Any) -> Any:
        """`body` if it has the shape; a list may come as an iterator of its elements (see
        `decode.elements`), which is checked as it is consumed."""
        if self.is_list:
            if body is None and self.null_is_empty:
                return []
            if isinstance(body, Iterator):
                return self._objects(body)
            if not isinstance(body, list):
                raise ShapeError(f"not {self.noun} (it is {json_kind(body)})")
            return list(self._objects(body))
        if not isinstance(body, dict):
            raise ShapeError(f"not {self.noun} (it is {json_kind(body)})")
        return body

    def _objects(self, items: Iterable[Any]) -> Iterator[dict]:
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise ShapeError(f"not {self.noun} (item {i} is {json_kind(item)}, not an object)")
            yield item


ANY_OBJECT = Expect("a JSON object", is_list=False)


class Source(Generic[T]):
    """One source of live data, asked again and again: each failure a sentence and a backoff with
    jitter, the last good data kept with its age, new data published only when it changed, and a
    status after every attempt. Subclasses say how to fetch (`fetch`) and how long to rest between
    good answers (`rest`); Nomad's blocking queries and Fabio's polling share this loop."""

    def __init__(
        self,
        name: Change,
        *,
        publish: Callable[[Change, T, int], None],
        on_status: Callable[[WatchStatus], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.publish = publish
        self.on_status = on_status
        self.clock = clock
        self.requests = 0
        self._last: T | None = None
        self._have_data = False
        self.as_of: float | None = None
        self._wake = asyncio.Event()

    async def fetch(self) -> tuple[T, int]:
        """The current data and its index (0 where there is none)."""
        raise NotImplementedError

    def failed(self) -> None:
        """Called after each failed attempt."""

    async def rest(self) -> None:
        """Wait before the next attempt after a good answer."""

    async def run(self) -> None:
        failures = 0
        while True:
            self.requests += 1
            self._wake.clear()  # a poke from now on asks again after this answer
            try:
                data, index = await self.fetch()
            except ClusterError as e:
                self.failed()
                failures += 1
                delay = backoff_delay(failures)
                self.on_status(WatchStatus(self.name, False, e, self.as_of, self.clock() + delay, failures))
                await self._sleep(delay)
                # The countdown is over but the answer may take a while: say so, not "in 0s".
                self.on_status(WatchStatus(self.name, False, e, self.as_of, None, failures, retrying=True))
                continue
            failures = 0
            self.as_of = self.clock()
            if not self._have_data or data != self._last:
                self._have_data, self._last = True, data
                self.publish(self.name, data, index)
            self.on_status(WatchStatus(self.name, True, None, self.as_of, None, 0))
            await self.rest()

    def resync(self) -> None:
        """Ask for everything again: the next request is a full read, published even if it
        equals what was published last (whoever listens starts over from it)."""
        self._have_data = False

    def poke(self) -> None:
        """Skip the rest of the wait (someone knows the data just changed)."""
        self._wake.set()

    async def _sleep(self, seconds: float | None) -> None:
        await wait_event(self._wake, seconds)


class Watch(Source[T]):
    """A blocking query: `GET path?index=N&wait=W`, each asked when the previous one returns."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        name: Change,
        path: str,
        parse: Callable[[Any], T],
        *,
        publish: Callable[[Change, T, int], None],
        on_status: Callable[[WatchStatus], None],
        expect: Expect = ANY_OBJECT,
        params: dict | None = None,
        wait: float = 30.0,
        extensions: dict | None = None,
        describe: dict | None = None,
        clock: Callable[[], float] = time.time,
        min_gap: float = MIN_GAP,
        max_answer: int = MAX_ANSWER,
        follows: bool = True,
        first_page: int | None = None,
    ) -> None:
        super().__init__(name, publish=publish, on_status=on_status, clock=clock)
        self.http = http
        self.path = path
        self.parse = parse
        self.expect = expect
        self.params = params or {}
        self.wait = wait
        self.extensions = extensions or {}
        self.describe = describe or {}  # action/capability/namespace/subject for error sentences
        self.min_gap = min_gap
        self.max_answer = max_answer
        self.index = 0
        self._large = False
        self._asked_at = 0.0
        self.following = False  # kept current by the event stream: read only when poked
        # Ask for a first page of this many records before the whole list (a screenful of jobs
        # painted while tens of megabytes are still on their way; Nomad pages with `per_page`).
        self.first_page = first_page
        self._paged = False
        self.follows = follows  # may follow the stream (not the nodes list, whose topic is not asked)

    def resync(self) -> None:
        super().resync()
        self.index = 0

    def failed(self) -> None:
        # The server may be a new one with a lower index: ask for the current state at once
        # instead of blocking on an index it may never reach.
        self.index = 0

    async def rest(self) -> None:
        """Leading edge: the next request goes out at once after a quiet spell (the change that
        ended it is shown, and the next one is waited for immediately); only under churn are
        requests spaced `min_gap` apart, counted from the previous request's start. A watch that
        follows the event stream asks again only when poked (an event said its data moved)."""
        if self.following:
            self.index = 0  # the next read is a whole answer, not a blocking query
            await self._sleep(None)
            return
        delay = self._asked_at + self.min_gap - asyncio.get_running_loop().time()
        if delay > 0:
            await self._sleep(delay)

    async def fetch(self) -> tuple[T, int]:
        self._asked_at = asyncio.get_running_loop().time()
        if self.first_page and not self._paged and not self._have_data:
            self._paged = True
            data, _ = await self._fetch(per_page=self.first_page)
            self._asked_at = 0.0  # the whole list follows at once
            return data, 0
        data, index = await self._fetch()
        self.index = 0 if index < self.index else index  # an index that went backwards: start over
        return data, index

    async def _fetch(self, **extra: Any) -> tuple[T, int]:
        params = dict(self.params, **extra)
        blocking = self.index > 0
        if blocking:
            params.update(index=self.index, wait=f"{int(self.wait * 1000)}ms")
        # Nomad adds up to wait/16 of jitter; give it that and some slack before giving up.
        timeout = self.wait * 17 / 16 + 10 if blocking else 15
        content, headers = await get_answer(
            self.http,
            self.path,
            params=params,
            timeout=timeout,
            extensions=self.extensions,
            limit=self.max_answer,
            describe=self._describe(),
        )
        index_header = headers.get("X-Nomad-Index", "0")
        if self._large and len(content) < LARGE_BODY:
            release_memory_soon()  # the records of the last large answer are about to go
        self._large = len(content) >= LARGE_BODY
        if not index_header.isdigit():
            raise self._unreadable(f"has an X-Nomad-Index header that is not a number ({index_header[:40]!r})")
        try:
            data = await parse_body(
                content, lambda body: self.parse(self.expect.check(body)), stream=self.expect.is_list
            )
        except ShapeError as e:
            raise self._unreadable(f"was {e}") from None
        except RecursionError:
            raise self._unreadable("nests its JSON too deeply to be read") from None
        except Exception as e:
            raise self._unreadable(f"could not be read ({type(e).__name__}: {str(e)[:200]})") from None
        return data, int(index_header)

    def _unreadable(self, why: str) -> ClusterError:
        return ClusterError(BAD_RESPONSE, f"Nomad's answer to {self.path} {why}.")

    def _describe(self) -> dict:
        return {
            "action": self.describe.get("action", f"read {self.path}"),
            "capability": self.describe.get("capability", "read-job"),
            "namespace": self.describe.get("namespace", self.params.get("namespace", "default")),
            "subject": self.describe.get("subject", ""),
        }
