"""Nomad's event stream for the job in focus: every write's records, none folded together.

A blocking query answers with the state as of its answer, so writes that land between two
answers arrive as one change (a placement, its start and its health can look like a single
step). `GET /v1/event/stream` sends the records of each write in Raft order, so the live
picture, and the rollout timeline built from it, sees every step with the cluster's own
timestamps. It is optional: a cluster that refuses it (an ACL token without the capability, an
old Nomad, a proxy) leaves the watches as they are, and the stream says why it is off.
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
    "Deployment": ("job_deployments", Deployment.from_api),
    "Evaluation": ("evaluations", Evaluation.from_api),
}


@dataclass(frozen=True)
class EventBatch:
    """The records of one Raft write, by the name of the watch that lists them."""

    index: int
    records: dict[Change, tuple] = field(default_factory=dict)


class EventStream:
    def __init__(
        self,
        http: httpx.AsyncClient,
        namespace: str,
        job_id: str,
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
        self.job_id = job_id
        self.params = params
        self.on_batch = on_batch
        self.on_status = on_status
        self.index = 0
        self.extensions = extensions or {}
        self.clock = clock
        self.max_line = max_answer
        self._wake = asyncio.Event()

    def url(self) -> str:
        # No `index`: Nomad replays what its buffer holds (100 writes by default), which is
        # harmless (records no newer than what the lists show are dropped) and, unlike an index
        # from before a server restart, never waits for a write that will not come.
        topics = [("topic", f"{topic}:{self.job_id}") for topic in KINDS]
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
            subject=f"job '{self.job_id}'",
        ).message

    def _receive(self, line: bytes) -> None:
        if not line.strip():
            return
        frame = json.loads(line)
        if not isinstance(frame, dict):
            raise ValueError(f"a frame is {json_kind(frame)}, not an object")
        index = frame.get("Index") or 0
        events = frame.get("Events") or []
        if not isinstance(index, int) or not isinstance(events, list):
            raise ValueError("a frame's Index or Events has the wrong type")
        if not events or index <= self.index:
            return  # a heartbeat
        self.index = index
        records: dict[Change, list] = {}
        for event in events:
            if not isinstance(event, dict):
                continue
            topic = event.get("Topic")
            kind = KINDS.get(topic) if isinstance(topic, str) else None
            payload = event.get("Payload")
            payload = payload.get(topic) if kind is not None and isinstance(payload, dict) else None
            if kind is None or not isinstance(payload, dict) or payload.get("JobID") != self.job_id:
                continue
            name, parse = kind
            records.setdefault(name, []).append(parse(payload))
        if records:
            self.on_batch(EventBatch(index, {name: tuple(rs) for name, rs in records.items()}))
