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
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx

from ..model import Allocation, Deployment, Evaluation
from .errors import from_status
from .watch import backoff_delay

# Nomad heartbeats every 30 s with `{}`; a stream silent for longer than this is dead.
SILENCE = 75.0
KINDS = {"Allocation": ("allocations", Allocation), "Deployment": ("job_deployments", Deployment),
         "Evaluation": ("evaluations", Evaluation)}


@dataclass(frozen=True)
class EventBatch:
    """The records of one Raft write, by the name of the watch that lists them."""
    index: int
    records: dict[str, tuple] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamStatus:
    live: bool = False
    off: str = ""            # why the stream is not used ("" while it is, or is being retried)


class EventStream:
    def __init__(self, http: httpx.AsyncClient, namespace: str, job_id: str, *, params: dict,
                 on_batch: Callable[[EventBatch], None], on_status: Callable[[StreamStatus], None],
                 extensions: dict | None = None) -> None:
        self.http = http
        self.namespace = namespace
        self.job_id = job_id
        self.params = params
        self.on_batch = on_batch
        self.on_status = on_status
        self.index = 0
        self.extensions = extensions or {}

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
                async with self.http.stream("GET", self.url(), extensions=self.extensions,
                                            timeout=httpx.Timeout(10.0, read=SILENCE)) as resp:
                    if resp.status_code >= 400:
                        body = (await resp.aread()).decode("utf-8", "replace")
                        self.on_status(StreamStatus(False, self._refusal(resp.status_code, body)))
                        return        # refused, not broken: the watches carry on alone
                    failures, self.index = 0, 0
                    self.on_status(StreamStatus(True))
                    async for line in resp.aiter_lines():
                        self._receive(line)
            except asyncio.CancelledError:
                raise
            except (httpx.HTTPError, ValueError):
                pass
            failures += 1
            self.on_status(StreamStatus(False))
            await asyncio.sleep(backoff_delay(failures))

    def _refusal(self, status: int, body: str) -> str:
        if status in (404, 405, 501):
            return f"this Nomad serves no event stream (HTTP {status}; it came with Nomad 1.0)"
        return from_status(status, body, action="stream events", capability="read-job",
                           namespace=self.namespace, subject=f"job '{self.job_id}'").message

    def _receive(self, line: str) -> None:
        if not line.strip():
            return
        frame = json.loads(line)
        index = frame.get("Index") or 0
        events = frame.get("Events") or []
        if not events or index <= self.index:
            return           # a heartbeat
        self.index = index
        records: dict[str, list] = {}
        for event in events:
            kind = KINDS.get(event.get("Topic", ""))
            payload = (event.get("Payload") or {}).get(event.get("Topic", ""))
            if kind is None or not isinstance(payload, dict) or payload.get("JobID") != self.job_id:
                continue
            name, model = kind
            records.setdefault(name, []).append(model.from_api(payload))
        if records:
            self.on_batch(EventBatch(index, {name: tuple(rs) for name, rs in records.items()}))
