"""Nomad's event stream for the namespace (or `*`): the first source of live data.

One subscription to `GET /v1/event/stream` with the topics the screen needs (Job, Deployment,
Allocation, Evaluation) tells what changed, write by write, in Raft order, with the cluster's own
timestamps: nothing is folded together, and an idle cluster costs a heartbeat every 30 s. The
records of each write arrive as an `EventBatch`; the live picture applies them, reading what an
event lacks (a job's summary counts) with one targeted request. A cluster that refuses the
stream (an ACL token without the capability, an old Nomad, a buffering proxy) leaves the
blocking-query watches to carry on alone, and the stream says why it is off. When Nomad closes a
subscriber that fell behind ("subscription closed by server, client should resubscribe"), the
stream subscribes again and the lists are read once to resynchronise.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx

from ..aio import wait_event
from ..model import Allocation, Deployment, Evaluation
from ..state import BAD_RESPONSE, UNREACHABLE, Change, ClusterError, StreamStatus
from .errors import from_http_layer, from_status, from_transport, too_large
from .http import MAX_ANSWER, read_error_text
from .watch import backoff_delay, json_kind

# Nomad heartbeats every 30 s with `{}`; a stream silent for longer than this is dead.
SILENCE = 75.0
REFUSALS = (403, 404, 405, 501)  # a token without the capability, a Nomad without the endpoint
KINDS: dict[str, tuple[Change, Callable[[Mapping], Allocation | Deployment | Evaluation]]] = {
    "Allocation": ("allocations", Allocation.from_api),
    "Deployment": ("deployments", Deployment.from_api),
    "Evaluation": ("evaluations", Evaluation.from_api),
}
TOPICS = ("Job", *KINDS)
CLOSED_BY_SERVER = "subscription closed by server"  # nomad/stream/subscription.go


@dataclass(frozen=True)
class EventBatch:
    """The records of one Raft write, by the name of the list that holds them, and the jobs
    (namespace, id) whose record it changed or whose allocations it moved: their list rows, and
    for the job in focus its record, versions or summary, need a fresh read."""

    index: int
    records: dict[Change, tuple] = field(default_factory=dict)
    jobs: frozenset[tuple[str, str]] = frozenset()
    allocated: frozenset[tuple[str, str]] = frozenset()


class EventStream:
    def __init__(
        self,
        http: httpx.AsyncClient,
        namespace: str,
        *,
        params: dict,
        on_batch: Callable[[EventBatch], None],
        on_status: Callable[[StreamStatus], None],
        extensions: dict | None = None,
        clock: Callable[[], float] = time.time,
        max_answer: int = MAX_ANSWER,
    ) -> None:
        self.http = http
        self.namespace = namespace
        self.params = params
        self.on_batch = on_batch
        self.on_status = on_status
        self.index = 0
        self.extensions = extensions or {}
        self.clock = clock
        self.max_line = max_answer
        self._wake = asyncio.Event()
        self.on_heartbeat: Callable[[], None] = lambda: None

    def url(self) -> str:
        # No `index`: Nomad replays what its buffer holds (100 writes by default), which is
        # harmless (records no newer than what the lists show are dropped) and, unlike an index
        # from before a server restart, never waits for a write that will not come.
        topics = [("topic", f"{topic}:*") for topic in TOPICS]
        return "/v1/event/stream?" + urlencode(topics + list(self.params.items()))

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                async with self.http.stream(
                    "GET", self.url(), extensions=self.extensions, timeout=httpx.Timeout(10.0, read=SILENCE)
                ) as resp:
                    if resp.status_code >= 400:
                        body, kind = await read_error_text(resp), resp.headers.get("Content-Type", "")
                        if resp.status_code in REFUSALS and not from_http_layer(resp.status_code, body, kind):
                            self.on_status(StreamStatus(False, self._refusal(resp.status_code, body)))
                            return  # refused, not broken: the watches carry on alone
                        raise from_status(
                            resp.status_code,
                            body,
                            action="stream events",
                            capability="read-job",
                            namespace=self.namespace,
                            content_type=kind,
                            address=str(self.http.base_url),
                        )
                    failures, self.index = 0, 0
                    self.on_status(StreamStatus(True))
                    async for line in self._lines(resp):
                        self._receive(line)
                error = ClusterError(UNREACHABLE, "Nomad ended the event stream.")
            except httpx.HTTPError as e:
                error = from_transport(e, str(self.http.base_url), SILENCE)
            except ClusterError as e:
                error = e
            except (ValueError, RecursionError) as e:
                error = ClusterError(
                    BAD_RESPONSE,
                    f"Nomad's event stream sent something that is not an event ({type(e).__name__}: {str(e)[:200]}).",
                )
            failures += 1
            delay = backoff_delay(failures)
            self.on_status(StreamStatus(False, error=error, retry_at=self.clock() + delay))
            self._wake.clear()
            await wait_event(self._wake, delay)
            self.on_status(StreamStatus(False, error=error))

    def poke(self) -> None:
        """Retry now rather than at the end of the backoff (Nomad is known to answer again)."""
        self._wake.set()

    async def _lines(self, resp: httpx.Response) -> AsyncIterator[bytes]:
        """The stream's lines; one longer than the answer limit is refused, not buffered."""
        pending = b""
        async for chunk in resp.aiter_bytes():
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line
            if len(pending) > self.max_line:
                raise too_large("Nomad", "/v1/event/stream", len(pending), self.max_line, declared=False)

    def _refusal(self, status: int, body: str) -> str:
        if status in (404, 405, 501):
            return f"this Nomad serves no event stream (HTTP {status}; it came with Nomad 1.0)"
        return from_status(
            status,
            body,
            action="stream events",
            capability="read-job",
            namespace=self.namespace,
        ).message

    def _receive(self, line: bytes) -> None:
        if not line.strip():
            return
        if CLOSED_BY_SERVER.encode() in line and not line.lstrip().startswith(b"{"):
            # The error Nomad's agent writes after the events when it closes a subscription (a
            # subscriber that fell behind): subscribe again, and the lists resynchronise.
            raise ClusterError(UNREACHABLE, "Nomad closed the event stream; subscribing again.", reason="stream closed")
        frame = json.loads(line)
        if not isinstance(frame, dict):
            raise ValueError(f"a frame is {json_kind(frame)}, not an object")
        error = frame.get("Error")
        if isinstance(error, str) and error:
            raise ClusterError(UNREACHABLE, f"Nomad closed the event stream: {error[:300]}.", reason="stream closed")
        index = frame.get("Index") or 0
        events = frame.get("Events") or []
        if not isinstance(index, int) or not isinstance(events, list):
            raise ValueError("a frame's Index or Events has the wrong type")
        if not events or index <= self.index:
            self.on_heartbeat()
            return
        self.index = index
        batch = _batch(index, events)
        if batch.records or batch.jobs or batch.allocated:
            self.on_batch(batch)


def _batch(index: int, events: list) -> EventBatch:
    """One write's events as records by list, and the jobs they touched."""
    records: dict[Change, list] = {}
    jobs: set[tuple[str, str]] = set()
    allocated: set[tuple[str, str]] = set()
    for event in events:
        topic = event.get("Topic") if isinstance(event, dict) else None
        payload = event.get("Payload") if isinstance(event, dict) else None
        payload = payload.get(topic) if isinstance(topic, str) and isinstance(payload, dict) else None
        if not isinstance(payload, dict):
            continue
        namespace, job_id = payload.get("Namespace"), payload.get("ID" if topic == "Job" else "JobID")
        if isinstance(namespace, str) and isinstance(job_id, str):
            if topic == "Job":
                jobs.add((namespace, job_id))
            elif topic == "Allocation":
                allocated.add((namespace, job_id))  # the job's summary counts moved
        if topic in KINDS:
            name, parse = KINDS[topic]
            records.setdefault(name, []).append(parse(payload))
    return EventBatch(index, {name: tuple(rs) for name, rs in records.items()}, frozenset(jobs), frozenset(allocated))
