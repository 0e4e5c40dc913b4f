"""The live picture of a cluster: one immutable `ClusterState`, fed events first.

The namespace's event stream (`events.py`) is the first source: its records update the lists
(deployments, and the job in focus's allocations, deployments and evaluations) as they come,
and what an event lacks is read with one targeted request per object, coalesced: a job's list
row (`/v1/jobs?prefix=`, with its summary counts), and for the job in focus its full record,
versions and summary. The lists themselves are read once at every (re)subscription, to
resynchronise, and every RESYNC_EVERY (Nomad's garbage collector deletes records without an
event); records absent from those answers are dropped. While the stream is live an idle
cluster costs its heartbeats and the nodes list's one blocking query per 5 minutes.

Where the stream is refused or failing, every list is a blocking query (Nomad's 5-minute wait,
leading edge: see `watch.py`), as it was before the stream existed. Fabio's route table is
polled alongside, as often as it matters. Changing the focus cancels the old job's reads at
once.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import httpx

from ..model import (
    Allocation,
    CheckResult,
    Deployment,
    Evaluation,
    Job,
    JobSummary,
    Node,
    checks_from_api,
    short_id,
    sort_allocations,
    versions_from_api,
)
from ..settings import Settings
from ..state import (
    BAD_RESPONSE,
    BLOCKING_WAIT,
    JOB_WATCHES,
    PROXY,
    STOPPED,
    TIMEOUT,
    UNREACHABLE,
    Change,
    ClusterError,
    ClusterState,
    Reuse,
    StreamStatus,
    WatchStatus,
    indexed_key,
    job_key,
)
from .decode import parse_body
from .events import EventBatch, EventStream
from .fabio import FabioClient, FabioWatch
from .http import async_client, get_answer, query, request_extensions
from .watch import MIN_GAP, Expect, Watch, backoff_delay

log = logging.getLogger(__name__)

# Namespace-wide lists change with every allocation anywhere and cost a fifth of a second to
# decode at 10,000 jobs: at most one refresh a second keeps keys answered during busy rollouts.
LIST_GAP = 1.0
HEAL_EVERY = 0.5  # seconds between checks that an unreachable Nomad answers again
HEAL_SPACING = 2.0  # at most one wake-up of the waiting sources per this many seconds
HEAL_TIMEOUT = 2.0
CONNECTION_KINDS = frozenset({UNREACHABLE, TIMEOUT, PROXY})
ALLOCATION = Expect("an allocation", is_list=False)
JOB_LIST = Expect("a list of jobs")
MAX_DETAILS = 200  # full allocation reads kept for the job in focus
MAX_DETAIL_READS = 16  # full allocation reads in flight at once


Listener = Callable[[ClusterState, Change], None]


def _newest_first(records) -> tuple:
    return tuple(sorted(records, key=lambda r: r.create_index, reverse=True))


def _newest(records: tuple) -> int:
    return max((r.modify_index for r in records), default=0)


# How long a list answer may wait for the event stream to deliver the writes it shows.
STREAM_LAG = 0.5
# The lists the event stream also updates, and how each is ordered.
STREAMED: dict[Change, Callable[[Any], tuple]] = {
    "deployments": _newest_first,
    "allocations": lambda rs: tuple(sort_allocations(rs)),
    "job_deployments": _newest_first,
    "evaluations": _newest_first,
}
# The watches of the job in focus that events cannot fill in (their records are not in any
# event): read again when an event says they moved.
ON_JOB_EVENT: tuple[Change, ...] = ("job", "versions", "summary")
ON_ALLOCATION_EVENT: tuple[Change, ...] = ("summary",)
STUB_READS = 4  # targeted reads of job list rows in flight at once
FIRST_PAGE = 100  # jobs read first, to paint a screenful before the whole list arrives
# Lists whose records Nomad's garbage collector deletes without an event (nomad/core_sched.go
# reaps allocations, evaluations and deployments; nomad/state/events.go maps no event to it).
GC_WITHOUT_EVENT = ("allocations", "evaluations", "deployments", "job_deployments")
# While the stream is live the lists are read again this often: Nomad's garbage collector
# publishes no event for the allocations, evaluations and deployments it deletes (core_sched.go),
# so only a fresh list tells that they are gone. Nomad collects them an hour after they end.
RESYNC_EVERY = 600.0
# The views of the job in focus, empty: what a new focus (or none) starts from.
NO_FOCUS: dict[str, Any] = {
    "job": None,
    "allocations": (),
    "job_deployments": (),
    "versions": (),
    "summary": None,
    "evaluations": (),
    "alloc_details": {},
}


class LiveCluster:
    def __init__(
        self,
        settings: Settings,
        *,
        http: httpx.AsyncClient | None = None,
        fabio: FabioClient | None = None,
        wait: float = BLOCKING_WAIT,
        clock: Callable[[], float] = time.time,
        resync_every: float = RESYNC_EVERY,
    ) -> None:
        self.settings = settings
        self.resync_every = resync_every
        self.http = http or async_client(settings)
        if fabio is None and settings.fabio_address:
            fabio = FabioClient(settings.fabio_address, max_answer=settings.max_answer_bytes)
        self.fabio = fabio
        self.wait = wait
        self.clock = clock
        self.namespace = settings.namespace  # what the lists show; a run in another namespace moves it
        self.state = ClusterState()
        self._listeners: list[Listener] = []
        self._global: dict[str, asyncio.Task] = {}
        self._job: dict[str, asyncio.Task] = {}
        self.watches: dict[str, Watch | FabioWatch] = {}
        self._detail_tasks: dict[str, asyncio.Task] = {}
        self._fabio_watch: FabioWatch | None = None
        self._streamed: dict[Change, dict[str, Any]] = {}  # records from events, newer than the lists
        self._listed: dict[Change, int] = {}  # index of each list's last answer
        self._stream: EventStream | None = None
        self._held: dict[Change, tuple[tuple, int]] = {}  # list answers waiting for the stream
        self._hold_timers: dict[Change, asyncio.TimerHandle] = {}
        self._following = False  # the stream is live: lists are read at resync and on events only
        self._stubs_wanted: dict[tuple[str, str], None] = {}  # job rows to read again, in order
        self._stubs_wake = asyncio.Event()
        # The one job whose list row the last "job_row" or streamed "deployments" change moved
        # (None: any may have): the screen redraws that row alone.
        self.changed_job: tuple[str, str] | None = None

    @property
    def stream_index(self) -> int:
        """The index of the last write the event stream delivered (0: none, or no stream)."""
        return self._stream.index if self._stream is not None else 0

    # --- subscription ------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _set(self, what: Change, **changes: Any) -> None:
        self.state = replace(self.state, **changes)
        for listener in list(self._listeners):
            listener(self.state, what)

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        ns = self.namespace
        self._start_lists()
        self._spawn(
            self._global,
            "nodes",
            "/v1/nodes",
            lambda b: tuple(Node.from_api(n) for n in b),
            Expect("a list of nodes"),
            query(self.settings),
            capability="node:read",
            follows=False,  # no Node topic is subscribed: nodes stay a blocking query
        )
        self._stream = EventStream(
            self.http,
            ns,
            params=query(self.settings, ns),
            on_batch=self._on_events,
            on_status=self._on_stream_status,
            extensions=request_extensions(self.settings),
            clock=self.clock,
            max_answer=self.settings.max_answer_bytes,
        )
        self._stream.on_heartbeat = self._on_heartbeat
        self._supervise(self._global, "events", self._stream.run)
        loop = asyncio.get_running_loop()
        self._global["heal"] = loop.create_task(self._heal(), name="heal")
        self._global["stubs"] = loop.create_task(self._read_stubs(), name="job-rows")
        self._global["resync"] = loop.create_task(self._resync_now_and_then(), name="resync")
        if self.fabio is not None:
            fabio = self._fabio_watch = FabioWatch(
                self.fabio,
                publish=self._publish,
                on_status=self._on_status,
                busy=self._busy,
                shown=lambda: self.state.focus is not None,
                clock=self.clock,
            )
            self.watches["fabio"] = fabio
            self._supervise(self._global, "fabio", fabio.run)

    def _start_lists(self) -> None:
        ns = self.namespace
        self._spawn(
            self._global,
            "jobs",
            "/v1/jobs",
            Reuse(Job.from_api, job_key),
            Expect("a list of jobs"),
            query(self.settings, ns),
            capability="list-jobs",
            min_gap=LIST_GAP,
            first_page=FIRST_PAGE,
        )
        self._spawn(
            self._global,
            "deployments",
            "/v1/deployments",
            Reuse(Deployment.from_api, indexed_key),
            Expect("a list of deployments"),
            query(self.settings, ns),
            capability="read-job",
            min_gap=LIST_GAP,
        )

    def set_namespace(self, namespace: str) -> None:
        """Watch another namespace (`*` for all): the lists start over, the focus is dropped."""
        if namespace == self.namespace:
            return
        self.namespace = namespace
        self._cancel(self._global)
        self._cancel(self._job)
        self._cancel(self._detail_tasks)
        self._drop_held()
        self._streamed, self._listed, self._stream, self._following = {}, {}, None, False
        self._stubs_wanted.clear()
        self._set(
            "namespace",
            jobs=(),
            deployments=(),
            focus=None,
            status={},
            events=StreamStatus(),
            **NO_FOCUS,
        )
        self.start()

    def focus(self, namespace: str | None, job_id: str | None) -> None:
        """Watch this job (None: no job). Cancels the previous job's watches at once."""
        key = (namespace or self.namespace, job_id) if job_id else None
        if key == self.state.focus:
            return
        self._cancel(self._job)
        self._cancel(self._detail_tasks)
        status = {k: v for k, v in self.state.status.items() if k not in JOB_WATCHES}
        for name in JOB_WATCHES:
            self._streamed.pop(name, None)
            self._listed.pop(name, None)
        self._drop_held()
        self._set(
            "focus",
            focus=key,
            status=status,
            **NO_FOCUS,
        )
        if key is None:
            return
        if self._fabio_watch is not None:
            self._fabio_watch.poke()  # a route panel appears: its routes now, not in a minute
        ns, jid = key
        base = f"/v1/job/{quote(jid, safe='')}"
        subject = f"job '{jid}'"
        params = query(self.settings, ns)
        self._spawn(self._job, "job", base, Job.from_api, Expect("a job", is_list=False), params, subject=subject)
        allocations = Reuse(Allocation.from_api, indexed_key)
        self._spawn(
            self._job,
            "allocations",
            f"{base}/allocations",
            lambda b: tuple(sort_allocations(allocations(b))),
            Expect("a list of allocations"),
            params,
            subject=subject,
        )
        self._spawn(
            self._job,
            "job_deployments",
            f"{base}/deployments",
            lambda b: tuple(sorted((Deployment.from_api(d) for d in b), key=lambda d: d.create_index, reverse=True)),
            Expect("a list of deployments"),
            params,
            subject=subject,
        )
        self._spawn(
            self._job,
            "versions",
            f"{base}/versions",
            lambda b: tuple(versions_from_api(b)),
            Expect("the job's versions", is_list=False),
            query(self.settings, ns, diffs="true"),
            subject=subject,
        )
        self._spawn(
            self._job,
            "summary",
            f"{base}/summary",
            JobSummary.from_api,
            Expect("a job summary", is_list=False),
            params,
            subject=subject,
        )
        evaluations = Reuse(Evaluation.from_api, indexed_key)
        self._spawn(
            self._job,
            "evaluations",
            f"{base}/evaluations",
            lambda b: tuple(sorted(evaluations(b), key=lambda e: e.create_index, reverse=True)),
            Expect("a list of evaluations"),
            params,
            subject=subject,
        )

    def refresh(self) -> None:
        """Start every watch over: fresh data now, not at the next change."""
        focus = self.state.focus
        self._cancel(self._global)
        self._cancel(self._job)
        self._streamed, self._listed, self._following = {}, {}, False
        self._set("focus", focus=None)
        self.start()
        if focus:
            self.focus(*focus)

    async def _heal(self) -> None:
        """While sources wait out a backoff because Nomad (or Fabio) could not be reached, a cheap
        request every HEAL_EVERY seconds (`/v1/status/leader`, Fabio's `/health`): the moment it
        answers, every such source retries at once, so a server that comes back is live again
        within a second or two however long the backoff had grown. Errors that Nomad itself
        answered (a 500, a denied token) keep their backoff."""
        poked_at = 0.0
        while True:
            await asyncio.sleep(HEAL_EVERY)
            loop_now = asyncio.get_running_loop().time()
            if loop_now - poked_at < HEAL_SPACING:
                continue
            waiting = [
                s for s in self.state.status.values() if s.error is not None and s.error.kind in CONNECTION_KINDS
            ]
            stream = self.state.events
            stream_waiting = stream.error is not None and stream.error.kind in CONNECTION_KINDS
            nomad = [s.name for s in waiting if s.name != "fabio"]
            if (nomad or stream_waiting) and await self._nomad_answers():
                poked_at = loop_now
                for name in nomad:
                    if (watch := self.watches.get(name)) is not None:
                        watch.poke()
                if stream_waiting and self._stream is not None:
                    self._stream.poke()
            if any(s.name == "fabio" for s in waiting) and self.fabio is not None and await self.fabio.healthy():
                poked_at = loop_now
                if self._fabio_watch is not None:
                    self._fabio_watch.poke()

    async def _resync_now_and_then(self) -> None:
        """Every `resync_every` seconds while the stream carries the changes, each list of records
        the garbage collector deletes without an event is read once more, so they leave the
        screen. Jobs need none of it: their collection is a JobBatchDeregistered event."""
        while True:
            await asyncio.sleep(self.resync_every)
            if not self._following:
                continue  # blocking queries: each answer is already a whole list
            for name in GC_WITHOUT_EVENT:
                watch = self.watches.get(name)
                if isinstance(watch, Watch) and watch.follows and watch.following and watch.as_of is not None:
                    self._resync(name, watch)

    async def _nomad_answers(self) -> bool:
        try:
            resp = await self.http.get(
                "/v1/status/leader",
                params=query(self.settings),
                timeout=HEAL_TIMEOUT,
                extensions=request_extensions(self.settings),
            )
        except httpx.HTTPError:
            return False
        return resp.status_code == 200

    def hurry(self) -> None:
        """Ask every polling source for fresh data now instead of after its gap (Fabio included);
        watches that follow the event stream are already current."""
        for watch in self.watches.values():
            if not (isinstance(watch, Watch) and watch.following):
                watch.poke()

    async def close(self) -> None:
        self._drop_held()
        tasks = [*self._global.values(), *self._job.values(), *self._detail_tasks.values()]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await self.http.aclose()
        if self.fabio is not None:
            await self.fabio.aclose()

    def _cancel(self, tasks: dict[str, asyncio.Task]) -> None:
        for task in tasks.values():
            task.cancel()
        tasks.clear()

    def _spawn(
        self,
        group: dict[str, asyncio.Task],
        name: Change,
        path: str,
        parse: Callable[[Any], Any],
        expect: Expect,
        params: dict,
        *,
        capability: str = "read-job",
        subject: str = "",
        min_gap: float = MIN_GAP,
        follows: bool = True,
        first_page: int | None = None,
    ) -> None:
        watch = Watch(
            self.http,
            name,
            path,
            parse,
            expect=expect,
            publish=self._publish,
            on_status=self._on_status,
            params=params,
            wait=self.wait,
            extensions=request_extensions(self.settings),
            describe={
                "action": f"watch {path}",
                "capability": capability,
                "namespace": params.get("namespace", "default"),
                "subject": subject,
            },
            clock=self.clock,
            min_gap=min_gap,
            max_answer=self.settings.max_answer_bytes,
            follows=follows,
            first_page=first_page,
        )
        watch.following = follows and self._following
        self.watches[name] = watch
        self._supervise(group, name, watch.run)

    def _resync(self, name: str, watch: Watch) -> None:
        """Cancel the watch's request (a blocking query parked on an index) and start it over
        following the stream: its first request is a full read, a resync. The watch keeps its
        last data and age."""
        group = self._job if name in self._job else self._global
        task = group.pop(name, None)
        if task is not None:
            task.cancel()
        watch.resync()
        watch.following = True
        self._supervise(group, name, watch.run)

    def _supervise(self, group: dict[str, asyncio.Task], name: str, run: Callable[[], Awaitable[None]]) -> None:
        """Run a watch or stream for as long as its group lives. Ending is for a cancel (quitting,
        a new focus) or a stream refused by design; anything else is a bug or an answer nobody
        foresaw: it is reported as the source failing, logged, and the loop starts over."""

        async def supervised() -> None:
            failures = 0
            while True:
                try:
                    await run()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    failures += 1
                    delay = backoff_delay(failures)
                    log.exception("the %s watch stopped; restarting in %.1fs", name, delay)
                    error = ClusterError(
                        STOPPED,
                        f"The {name} watch stopped ({type(e).__name__}: {str(e)[:200]}) and is being restarted.",
                    )
                    previous = self.state.status.get(name)
                    as_of = previous.as_of if previous is not None else None
                    if name == "events":
                        self._on_stream_status(StreamStatus(False, error=error, retry_at=self.clock() + delay))
                    elif group.get(name) is asyncio.current_task():
                        self._on_status(WatchStatus(name, False, error, as_of, self.clock() + delay, failures))
                    await asyncio.sleep(delay)

        group[name] = asyncio.get_running_loop().create_task(supervised(), name=f"watch-{name}")

    # --- publishing ------------------------------------------------------------------------

    def _publish(self, name: Change, data: Any, index: int) -> None:
        self.changed_job = None  # a whole list: any row may have moved
        if name == "fabio":
            self._set(name, routes=tuple(data))
        elif name not in STREAMED:
            self._show(name, data)
        elif not self._behind_stream(name, data, index):
            self._listed[name] = index
            self._show(name, self._with_streamed(name, data))

    def _show(self, name: Change, data: Any) -> None:
        self._set(name, **{name: data})
        if name == "allocations":
            self._fetch_details(data)
        if name in ("deployments", "job_deployments") and self._fabio_watch is not None and self._busy():
            self._fabio_watch.poke()

    def _on_status(self, status: WatchStatus) -> None:
        if self.state.status.get(status.name) == status:
            return
        current = self.state.status
        if status.name in JOB_WATCHES and status.name not in self._job:
            return  # a report from a watch that was just cancelled
        self._set("status", status={**current, status.name: status})

    # --- the job's event stream ----------------------------------------------------------------

    def _on_events(self, batch: EventBatch) -> None:
        focus = self.state.focus
        deployed = False  # a deployment of the job in focus moved: its version may be stable now
        for name, records in batch.records.items():
            if name == "deployments":
                self._merge("deployments", records)
                name = "job_deployments"
            if focus is not None:
                mine = tuple(r for r in records if (r.namespace, r.job_id) == focus)
                if mine:
                    self._merge(name, mine)
                    deployed = deployed or name == "job_deployments"
        if self._following:
            for key in batch.jobs | batch.allocated:
                self._stubs_wanted[key] = None
            if batch.jobs or batch.allocated:
                self._stubs_wake.set()
            # A stability update publishes no event of its own (JobStabilityRequestType): the job
            # and its versions are read again when its deployment moves.
            wanted = (
                ON_JOB_EVENT
                if focus in batch.jobs or deployed
                else ON_ALLOCATION_EVENT
                if focus in batch.allocated
                else ()
            )
            for name in wanted:
                if (watch := self.watches.get(name)) is not None:
                    watch.poke()
        for name, (data, _) in list(self._held.items()):
            if _newest(data) <= batch.index:
                self._release(name)

    def _merge(self, name: Change, records: tuple) -> None:
        listed = self._listed.get(name)
        pending = self._streamed.setdefault(name, {})
        for r in records:
            if listed is None or r.modify_index > listed:
                pending[r.id] = r
        if listed is None:
            return  # merged when the list first answers: a baseline is a whole list
        data = self._with_streamed(name, getattr(self.state, name))
        if data is not getattr(self.state, name):
            jobs = {(r.namespace, r.job_id) for r in records}
            self.changed_job = next(iter(jobs)) if len(jobs) == 1 else None  # the rows it moves
            self._show(name, data)

    def _behind_stream(self, name: Change, data: tuple, index: int) -> bool:
        """Hold back a list answer (for STREAM_LAG at most) while it shows a write the event
        stream has not delivered yet: the stream's writes come first, one at a time, so the
        steps between two list answers are seen, never folded into the later one."""
        stream = self._stream
        if stream is None or not self.state.events.live or name not in self._listed or _newest(data) <= stream.index:
            return False
        self._held[name] = (data, index)
        if name not in self._hold_timers:
            self._hold_timers[name] = asyncio.get_running_loop().call_later(STREAM_LAG, self._release, name)
        return True

    def _release(self, name: Change) -> None:
        timer = self._hold_timers.pop(name, None)
        if timer is not None:
            timer.cancel()
        held = self._held.pop(name, None)
        if held is not None:
            data, index = held
            self._listed[name] = index
            self._show(name, self._with_streamed(name, data))

    def _drop_held(self) -> None:
        for timer in self._hold_timers.values():
            timer.cancel()
        self._hold_timers.clear()
        self._held.clear()

    def _with_streamed(self, name: Change, listed: tuple) -> tuple:
        """The list with every record the event stream has shown newer (the same tuple if none)."""
        pending = self._streamed.get(name)
        if not pending:
            return listed
        floor = self._listed.get(name, 0)
        for rid in [rid for rid, r in pending.items() if r.modify_index <= floor]:
            del pending[rid]  # the list has caught up with it
        by_id = {r.id: r for r in listed}
        newer = [r for r in pending.values() if r.id not in by_id or r.modify_index > by_id[r.id].modify_index]
        if not newer:
            return listed
        by_id.update((r.id, r) for r in newer)
        return STREAMED[name](by_id.values())

    def _on_stream_status(self, status: StreamStatus) -> None:
        was_live = self.state.events.live
        if status != self.state.events:
            self._set("events", events=replace(status, as_of=self.clock() if status.live else self.state.events.as_of))
        if status.live and not was_live:
            self._follow()
        elif was_live and not status.live:
            self._poll()

    def _on_heartbeat(self) -> None:
        if self.state.events.live:
            self._set("events", events=replace(self.state.events, as_of=self.clock()))

    def _follow(self) -> None:
        """The stream is (again) live: every list is read once more (a resync: what it no longer
        holds is dropped) and from then on changes come as events."""
        self._following = True
        self._streamed, self._listed = {}, {}
        self._drop_held()
        for name, watch in list(self.watches.items()):
            if not isinstance(watch, Watch) or not watch.follows:
                continue
            if watch.index == 0:
                watch.following = True  # its first answer, still to come, is the resync
            else:
                self._resync(name, watch)

    def _poll(self) -> None:
        """The stream failed or was refused: every list becomes a blocking query again, starting
        with a full read."""
        self._following = False
        for watch in self.watches.values():
            if isinstance(watch, Watch) and watch.following:
                watch.following = False
                watch.poke()

    async def _read_stubs(self) -> None:
        """Targeted reads of the job list rows events said moved (coalesced per job, a few at
        a time): a row's status and summary counts are in no event."""
        while True:
            await self._stubs_wake.wait()
            self._stubs_wake.clear()
            while self._stubs_wanted:
                keys = list(self._stubs_wanted)[:STUB_READS]
                for key in keys:
                    del self._stubs_wanted[key]
                answers = await asyncio.gather(*(self._read_stub(*key) for key in keys), return_exceptions=True)
                for key, answer in zip(keys, answers):
                    if isinstance(answer, asyncio.CancelledError):
                        raise answer
                    if isinstance(answer, BaseException):
                        # The row keeps its last good data; the next event or resync reads it again.
                        log.info("reading job %s/%s failed: %s", key[0], key[1], answer)
                    else:
                        self._upsert_job(key, answer)

    async def _read_stub(self, namespace: str, job_id: str) -> Job | None:
        content, _ = await get_answer(
            self.http,
            "/v1/jobs",
            params=query(self.settings, namespace, prefix=job_id),
            timeout=15,
            extensions=request_extensions(self.settings),
            limit=self.settings.max_answer_bytes,
            describe={"action": "read a job", "capability": "list-jobs", "namespace": namespace},
        )
        stubs = await parse_body(content, lambda body: [Job.from_api(j) for j in JOB_LIST.check(body)])
        return next((j for j in stubs if j.id == job_id and j.namespace == namespace), None)

    def _upsert_job(self, key: tuple[str, str], stub: Job | None) -> None:
        jobs = list(self.state.jobs)
        at = next((i for i, j in enumerate(jobs) if (j.namespace, j.id) == key), None)
        if stub is None:
            if at is None:
                return
            del jobs[at]
        elif at is not None:
            if jobs[at] == stub:
                return
            jobs[at] = stub
            self.changed_job = key  # one row, in place: the screen redraws that row alone
            self._set("job_row", jobs=tuple(jobs))
            return
        else:
            order = (lambda j: (j.namespace, j.id)) if self.namespace == "*" else (lambda j: j.id)
            bisect.insort(jobs, stub, key=order)
        self._set("jobs", jobs=tuple(jobs))

    def _busy(self) -> bool:
        return self.state.any_active_deployment()

    # --- full allocation reads (ports, image) ----------------------------------------------------

    def _fetch_details(self, allocations: tuple[Allocation, ...]) -> None:
        """Full reads of the job's live allocations (their ports tie Fabio's targets to them): the
        newest MAX_DETAILS of them, and never more than MAX_DETAIL_READS at once, whatever a list
        answer claims."""
        job_id = self.state.focus[1] if self.state.focus else None
        live = [a.id for a in allocations if not a.terminal and a.job_id == job_id][:MAX_DETAILS]
        details = {k: v for k, v in self.state.alloc_details.items() if k in live}
        if len(details) != len(self.state.alloc_details):
            self._set("alloc_details", alloc_details=details)
        wanted = {a.id: a for a in allocations if a.id in live and a.id not in details}
        for alloc_id, alloc in wanted.items():
            if len(self._detail_tasks) >= MAX_DETAIL_READS:
                break  # the next allocations answer asks for the rest
            if alloc_id not in self._detail_tasks:
                self._detail_tasks[alloc_id] = asyncio.get_running_loop().create_task(self._read_alloc(alloc))

    async def read_checks(self, alloc: Allocation) -> tuple[CheckResult, ...]:
        """The latest results of the allocation's Nomad-provider service checks. They have no
        blocking query: the allocation screen asks again while it is open."""
        path = f"/v1/client/allocation/{quote(alloc.id, safe='')}/checks"
        content, _ = await get_answer(
            self.http,
            path,
            params=query(self.settings, alloc.namespace),
            timeout=15,
            extensions=request_extensions(self.settings),
            limit=self.settings.max_answer_bytes,
            describe={
                "action": f"read the checks of allocation {short_id(alloc.id)}",
                "capability": "read-job",
                "namespace": alloc.namespace,
                "subject": f"allocation {short_id(alloc.id)}",
            },
        )
        try:
            return await parse_body(content, checks_from_api)
        except ValueError:
            raise ClusterError(BAD_RESPONSE, f"Nomad's answer to {path} was not a JSON object.") from None

    async def _read_alloc(self, alloc: Allocation) -> None:
        try:
            content, _ = await get_answer(
                self.http,
                f"/v1/allocation/{quote(alloc.id, safe='')}",
                params=query(self.settings, alloc.namespace),
                timeout=15,
                extensions=request_extensions(self.settings),
                limit=self.settings.max_answer_bytes,
                describe={"action": "read an allocation", "capability": "read-job", "namespace": alloc.namespace},
            )
            full = await parse_body(content, lambda body: Allocation.from_api(ALLOCATION.check(body)))
        except Exception:
            return
        finally:
            self._detail_tasks.pop(alloc.id, None)
        if self.state.focus and alloc.job_id == self.state.focus[1]:
            self._set("alloc_details", alloc_details={**self.state.alloc_details, alloc.id: full})
