"""What happened during a rollout, in what order, and how long each step took.

`Timeline.observe()` compares each `ClusterState` snapshot of the job in focus with the previous
one seen for that job, and turns what changed into `TimelineEvent`s: versions registered,
evaluations finished, deployments started / promoted / paused / finished, allocations placed,
running, healthy, stopped, and Fabio's weights for the job's routes.

Events carry the cluster's own timestamps (a version's SubmitTime, a deployment's CreateTime or
ModifyTime, an allocation's CreateTime, health Timestamp or ModifyTime, an evaluation's
CreateTime) and the Raft index of the change. Only Fabio's weight changes, which have no
timestamp, carry the time they were observed (the injected clock).

The first snapshot of each kind of record for a job (versions, deployments, allocations,
evaluations, routes) is a baseline, recorded quietly: opening a job does not replay its past,
the timeline starts when the watching does. A kind that is not loaded yet (right after a focus
change) is skipped, so after switching the focus away and back, what changed meanwhile is
reported with the cluster's timestamps, against what was seen last.

Events at one timestamp sort cause before effect (see _CAUSAL_ORDER), then by Raft index. A
deployment's events are those in its window, from the registration of its version to its
terminal status (compared by time, then Raft index), plus any tagged with its id. Tags are best
effort: an allocation seen before its deployment is left untagged and belongs by its window.
A rollback version seen before the failure that wrote it is first told as "registered", then
replaced in the history by "auto-reverted" once the failure is seen.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

from .difftext import diff_summary
from .model import Allocation, Deployment, Evaluation, GroupState, JobVersion, Route, latest_deployment, short_id
from .safetext import markdown as markdown_text
from .state import ClusterState
from .wire import format_duration, format_time

MAX_EVENTS = 1000  # per job; the oldest go first
MAX_JOBS = 100  # jobs whose history is kept; the least recently observed go first
MAX_REMEMBERED = 100  # versions and deployments kept per job after Nomad garbage-collects them
ROUTE_LAG = 10.0  # seconds Fabio may take to show the last change a deployment made

STOPPING = ("stop", "evict")

# At one timestamp (one Raft write, or the demo's manual clock) events sort by what causes what:
# a client reports health, the deployment watcher reacts (promotes, fails, reverts), a
# registration is evaluated, the scheduler creates a deployment, stops and places allocations.
EventKind = Literal[
    "running",
    "healthy",
    "unhealthy",
    "alloc-failed",
    "lost",
    "canaries-healthy",
    "promoted",
    "paused",
    "resumed",
    "failed",
    "auto-reverted",
    "registered",
    "evaluation",
    "cancelled",
    "deployment",
    "stopped",
    "placed",
    "successful",
    "routes",
]
_CAUSAL_ORDER: tuple[EventKind, ...] = get_args(EventKind)  # the Literal lists the kinds in that order
_RANK = {kind: i for i, kind in enumerate(_CAUSAL_ORDER)}


@dataclass(frozen=True)
class TimelineEvent:
    at: float  # epoch seconds
    kind: EventKind
    text: str  # one line a person reads
    job_id: str
    deployment_id: str = ""
    alloc_id: str = ""
    index: int = 0  # the cluster's Raft index of the change (as seen, when seen late)

    @property
    def position(self) -> tuple[float, int]:
        """Where the event sits in the cluster's history: its time, then its Raft index."""
        return (self.at, self.index)


def sort_events(events: Iterable[TimelineEvent]) -> list[TimelineEvent]:
    """By time, then cause before effect, then Raft index; ties keep their observed order."""
    return sorted(events, key=lambda e: (e.at, _RANK.get(e.kind, len(_RANK)), e.index))


def with_durations(events: Iterable[TimelineEvent]) -> list[tuple[TimelineEvent, float, float]]:
    """Each event with the seconds since the previous event and since the first."""
    out: list[tuple[TimelineEvent, float, float]] = []
    first = previous = None
    for e in events:
        first = e.at if first is None else first
        out.append((e, 0.0 if previous is None else e.at - previous, e.at - first))
        previous = e.at
    return out


def format_span(seconds: float) -> str:
    """`31s`, `1m2s`, `30.5s`, `250ms`: Go's duration style, to the millisecond."""
    return format_duration(max(0, round(seconds * 1000)) * 1_000_000)


# --- per-job memory ----------------------------------------------------------------------------


@dataclass
class _Memory:
    """What was last seen of one job (None: that kind of record has not been loaded yet)."""

    versions: dict[int, JobVersion] | None = None
    deployments: dict[str, Deployment] | None = None
    allocations: dict[str, Allocation] | None = None
    evaluations: dict[str, Evaluation] | None = None
    routes: dict[str, tuple[tuple[str, int], ...]] | None = None
    registered: dict[int, TimelineEvent] = field(default_factory=dict)  # version -> its event
    events: deque[TimelineEvent] = field(default_factory=lambda: deque(maxlen=MAX_EVENTS))
    sources: dict[str, tuple] = field(default_factory=dict)  # what was last diffed

    def unchanged(self, name: str, *sources: Any) -> bool:
        """True if these exact objects were diffed last time (the state reuses unchanged records)."""
        last = self.sources.get(name)
        self.sources[name] = sources
        return last is not None and len(last) == len(sources) and all(a is b for a, b in zip(last, sources))

    def all_deployments(self, state: ClusterState) -> list[Deployment]:
        return [*state.job_deployments, *(self.deployments or {}).values()]

    def all_versions(self, state: ClusterState) -> list[JobVersion]:
        return [*state.versions, *(self.versions or {}).values()]


def _loaded(state: ClusterState, watch: str, data: Any) -> bool:
    """The watch has answered for the job in focus (an empty answer counts once it is confirmed)."""
    status = state.status.get(watch)
    return bool(data) or (status is not None and status.as_of is not None)


def _replace_seen(state: ClusterState, mem: _Memory, name: str) -> dict | None:
    """Remember the job's current `name` records (evaluations, allocations) by id and return those
    seen before; None when there is nothing to compare: not loaded, unchanged, or the baseline."""
    records = getattr(state, name)
    loaded = _loaded(state, name, records)
    if mem.unchanged(name, loaded, records) or not loaded:
        return None
    previous = getattr(mem, name)
    setattr(mem, name, {r.id: r for r in records})
    return previous


def _keep_newest(records: dict, key: Callable[[Any], int]) -> None:
    for k in sorted(records, key=lambda k: key(records[k]))[:-MAX_REMEMBERED]:
        del records[k]


def _max_index(state: ClusterState) -> int:
    return max(
        [
            0,
            *(a.modify_index for a in state.allocations),
            *(d.modify_index for d in state.job_deployments),
            *(e.create_index for e in state.evaluations),
            *(v.modify_index for v in state.versions),
        ]
    )


# --- texts ---------------------------------------------------------------------------------------


def _placed_text(a: Allocation) -> str:
    where = short_id(a.node_id) or a.node_name or "?"
    text = f"allocation {short_id(a.id)} placed on {where}, version {a.job_version}"
    return text + (", canary" if a.canary else "") + (", rescheduled" if a.reschedules else "")


def _evaluation_text(e: Evaluation) -> str:
    text = f"evaluation {short_id(e.id)} ({e.triggered_by}) {e.status}"
    details = [e.status_description] if e.status_description else []
    if e.failed_groups:
        details.append("could not place " + ", ".join(e.failed_groups))
    return text + (": " + "; ".join(details) if details else "")


_STATUS_KINDS: dict[str, EventKind] = {
    "paused": "paused",
    "successful": "successful",
    "failed": "failed",
    "cancelled": "cancelled",
}


def _status_event(previous: str, d: Deployment) -> tuple[EventKind, str] | None:
    """(kind, text) for a deployment's new status; None when there is nothing to tell."""
    if d.status == "running":
        return ("resumed", "deployment resumed") if previous == "paused" else None
    kind = _STATUS_KINDS.get(d.status, "deployment")
    if d.status in ("paused", "successful"):
        return kind, f"deployment {d.status}"
    return kind, f"deployment {d.status}" + (f": {d.status_description}" if d.status_description else "")


def _route_shares(state: ClusterState, route: Route) -> tuple[tuple[str, int], ...]:
    """`(("v1.0.1", 75), ("v1.0.2", 25))`: each version's share of the route, oldest first."""
    weights: dict[int, float] = {}
    for t in route.targets:
        weights[t.job_version or 0] = weights.get(t.job_version or 0, 0.0) + t.weight
    total = sum(weights.values()) or 1.0
    shares: dict[str, int] = {}
    for version, weight in sorted(weights.items()):
        label = state.version_label(version)
        shares[label] = shares.get(label, 0) + round(100 * weight / total)
    return tuple(shares.items())


def _rolled_back(version: JobVersion, deployments: Iterable[Deployment]) -> Deployment | None:
    """The failed deployment whose auto-revert wrote this version (in the same Raft write)."""
    return next(
        (
            d
            for d in deployments
            if d.status == "failed"
            and d.job_version == version.version - 1
            and d.modify_index == version.job_modify_index
            and any(g.auto_revert for g in d.groups.values())
        ),
        None,
    )


def _revert_text(version: JobVersion, failed: Deployment, versions: Iterable[JobVersion]) -> str:
    # Nomad rolls back to the latest stable version before the one that failed.
    stable = [v.version for v in versions if v.stable and v.version < failed.job_version]
    target = f" to version {max(stable)}" if stable else ""
    return f"auto-reverted{target} as version {version.version}"


# --- the timeline --------------------------------------------------------------------------------


class Timeline:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._jobs: OrderedDict[tuple[str, str], _Memory] = OrderedDict()

    def observe(self, state: ClusterState) -> list[TimelineEvent]:
        """Compare with the previous snapshot of the job in focus; record and return what is new."""
        if state.focus is None:
            return []
        mem = self._memory(state.focus)
        new = [
            *self._versions(state, mem),
            *self._deployments(state, mem),
            *self._evaluations(state, mem),
            *self._allocations(state, mem),
            *self._routes(state, mem),
        ]
        mem.events.extend(new)
        return sort_events(new)

    def events(self, namespace: str, job_id: str, deployment_id: str | None = None) -> list[TimelineEvent]:
        """The job's events in order; with a deployment id, those of that deployment: from the
        registration of its version to its end, plus anything tagged with it."""
        mem = self._jobs.get((namespace, job_id))
        if mem is None:
            return []
        if deployment_id is None:
            return sort_events(mem.events)
        belongs = self._membership(mem, deployment_id)
        return sort_events(e for e in mem.events if belongs(e))

    def latest_deployment_events(self, state: ClusterState) -> list[TimelineEvent]:
        """The events of the latest deployment of the job in focus (all its events if it has none)."""
        if state.focus is None:
            return []
        mem = self._jobs.get(state.focus)
        latest = state.latest_deployment or (latest_deployment(mem.all_deployments(state)) if mem else None)
        return self.events(*state.focus, latest.id if latest else None)

    def markdown(self, events: Iterable[TimelineEvent], *, title: str) -> str:
        """A Markdown table for incident notes: absolute time, time since the first event, time
        since the previous one, what happened."""
        lines = [f"### {markdown_text(title)}", "", "| time | +since start | step took | event |", "|---|---|---|---|"]
        for i, (e, step, elapsed) in enumerate(with_durations(events)):
            took = format_span(step) if i else ""
            lines.append(f"| {format_time(e.at)} | {format_span(elapsed)} | {took} | {markdown_text(e.text)} |")
        return "\n".join(lines) + "\n"

    # --- memory --------------------------------------------------------------------------------

    def _memory(self, key: tuple[str, str]) -> _Memory:
        mem = self._jobs.get(key)
        if mem is None:
            mem = self._jobs[key] = _Memory()
            while len(self._jobs) > MAX_JOBS:
                self._jobs.popitem(last=False)
        self._jobs.move_to_end(key)
        return mem

    def _membership(self, mem: _Memory, deployment_id: str) -> Callable[[TimelineEvent], bool]:
        d = (mem.deployments or {}).get(deployment_id)
        if d is None:
            return lambda e: e.deployment_id == deployment_id
        start = (d.create_time or 0.0, d.create_index)
        version = (mem.versions or {}).get(d.job_version)
        if version is not None and version.submit_time is not None:
            start = min(start, (version.submit_time, version.job_modify_index))
        end = (math.inf, 0) if d.active else (d.modify_time or math.inf, d.modify_index)
        return lambda e: e.deployment_id == deployment_id or (not e.deployment_id and start <= e.position <= end)

    def _event(
        self,
        state: ClusterState,
        at: float | None,
        kind: EventKind,
        text: str,
        *,
        index: int = 0,
        deployment_id: str = "",
        alloc_id: str = "",
    ) -> TimelineEvent:
        assert state.focus is not None
        return TimelineEvent(
            self.clock() if at is None else at, kind, text, state.focus[1], deployment_id, alloc_id, index
        )

    # --- versions ------------------------------------------------------------------------------

    def _versions(self, state: ClusterState, mem: _Memory) -> list[TimelineEvent]:
        loaded = _loaded(state, "versions", state.versions)
        if mem.unchanged("versions", loaded, state.versions) or not loaded:
            return []
        current = {v.version: v for v in state.versions}
        if mem.versions is None:
            mem.versions = current
            return []
        new = [v for n, v in sorted(current.items()) if n not in mem.versions]
        mem.versions.update(current)
        _keep_newest(mem.versions, lambda v: v.version)
        events = [self._registered(state, mem, v) for v in new]
        mem.registered.update((v.version, e) for v, e in zip(new, events))
        mem.registered = {n: e for n, e in mem.registered.items() if n in mem.versions}
        return events

    def _registered(self, state: ClusterState, mem: _Memory, v: JobVersion) -> TimelineEvent:
        failed = _rolled_back(v, mem.all_deployments(state))
        if failed is not None:
            return self._event(
                state,
                v.submit_time,
                "auto-reverted",
                _revert_text(v, failed, mem.all_versions(state)),
                index=v.job_modify_index,
            )
        changes = f" ({diff_summary(v.diff)})" if v.diff else ""
        return self._event(
            state,
            v.submit_time,
            "registered",
            f"job registered: version {v.version}{changes}",
            index=v.job_modify_index,
        )

    def _relabel_revert(self, state: ClusterState, mem: _Memory, d: Deployment) -> list[TimelineEvent]:
        """A rollback version seen before the failure that wrote it was told as a registration:
        replace that event now that the failure explains it."""
        for number, old in list(mem.registered.items()):
            version = (mem.versions or {}).get(number)
            if old.kind == "registered" and version is not None and _rolled_back(version, [d]) is d:
                new = replace(old, kind="auto-reverted", text=_revert_text(version, d, mem.all_versions(state)))
                if old in mem.events:
                    mem.events.remove(old)
                mem.registered[number] = new
                return [new]
        return []

    # --- deployments ---------------------------------------------------------------------------

    def _deployments(self, state: ClusterState, mem: _Memory) -> list[TimelineEvent]:
        loaded = _loaded(state, "job_deployments", state.job_deployments)
        if mem.unchanged("deployments", loaded, state.job_deployments) or not loaded:
            return []
        if mem.deployments is None:
            mem.deployments = {d.id: d for d in state.job_deployments}
            return []
        events: list[TimelineEvent] = []
        for d in sorted(state.job_deployments, key=lambda d: d.create_index):
            events += self._deployment_changes(state, mem, mem.deployments.get(d.id), d)
            mem.deployments[d.id] = d
        _keep_newest(mem.deployments, lambda d: d.create_index)
        return events

    def _deployment_changes(
        self, state: ClusterState, mem: _Memory, prev: Deployment | None, d: Deployment
    ) -> list[TimelineEvent]:
        events = []
        if prev is None:
            canaries = sum(g.desired_canaries for g in d.groups.values())
            extra = f", {canaries} {'canary' if canaries == 1 else 'canaries'}" if canaries else ""
            events.append(
                self._event(
                    state,
                    d.create_time,
                    "deployment",
                    f"deployment {short_id(d.id)} started for version {d.job_version}{extra}",
                    index=d.create_index,
                    deployment_id=d.id,
                )
            )
            prev = replace(
                d,
                status="running",
                groups={n: GroupState(n, desired_canaries=g.desired_canaries) for n, g in d.groups.items()},
            )
        if d.canaries_healthy and not prev.canaries_healthy:
            events.append(self._canaries_healthy(state, d))
        promoted = [n for n, g in d.groups.items() if g.promoted and not (n in prev.groups and prev.groups[n].promoted)]
        if promoted:
            everything = all(g.promoted for g in d.groups.values() if g.has_canaries)
            text = "deployment promoted" + ("" if everything else ": " + ", ".join(promoted))
            events.append(self._event(state, d.modify_time, "promoted", text, index=d.modify_index, deployment_id=d.id))
        told = _status_event(prev.status, d) if d.status != prev.status else None
        if told is not None:
            events.append(self._event(state, d.modify_time, *told, index=d.modify_index, deployment_id=d.id))
        if d.status == "failed" and prev.status != "failed":
            events += self._relabel_revert(state, mem, d)
        return events

    def _canaries_healthy(self, state: ClusterState, d: Deployment) -> TimelineEvent:
        waiting = [g for g in d.groups.values() if g.awaiting_promotion]
        canaries = {a for g in waiting for a in g.placed_canaries}
        # The last canary's health timestamp is when they all were healthy.
        health = [a.health_time for a in state.allocations if a.id in canaries and a.health_time is not None]
        healthy, wanted = sum(g.healthy for g in waiting), sum(g.desired_canaries for g in waiting)
        then = "promoting automatically" if d.auto_promotes else "ready to promote"
        return self._event(
            state,
            max(health, default=d.modify_time),
            "canaries-healthy",
            f"canaries healthy ({healthy}/{wanted}): {then}",
            index=d.modify_index,
            deployment_id=d.id,
        )

    # --- evaluations ---------------------------------------------------------------------------

    def _evaluations(self, state: ClusterState, mem: _Memory) -> list[TimelineEvent]:
        previous = _replace_seen(state, mem, "evaluations")
        if previous is None:
            return []
        events = []
        for e in sorted(state.evaluations, key=lambda e: e.create_index):
            prev = previous.get(e.id)
            # A pending evaluation is told once the scheduler is done with it, at its creation
            # time: that is where it sits between the change that caused it and its results.
            if e.status == "pending" or (prev is not None and prev.status == e.status):
                continue
            at = e.create_time if prev is None or prev.status == "pending" else e.modify_time
            events.append(
                self._event(
                    state, at, "evaluation", _evaluation_text(e), index=e.create_index, deployment_id=e.deployment_id
                )
            )
        return events

    # --- allocations ---------------------------------------------------------------------------

    def _allocations(self, state: ClusterState, mem: _Memory) -> list[TimelineEvent]:
        previous = _replace_seen(state, mem, "allocations")
        if previous is None:
            return []
        events: list[TimelineEvent] = []
        for a in sorted(state.allocations, key=lambda a: a.create_index):
            events += self._allocation_changes(state, mem, previous.get(a.id), a)
        return events

    def _allocation_changes(
        self, state: ClusterState, mem: _Memory, prev: Allocation | None, a: Allocation
    ) -> list[TimelineEvent]:
        deployment = self._deployment_of(state, mem, a)

        def event(
            at: float | None, kind: EventKind, text: str, index: int, deployment_id: str = deployment
        ) -> TimelineEvent:
            return self._event(state, at, kind, text, index=index, deployment_id=deployment_id, alloc_id=a.id)

        name = f"allocation {short_id(a.id)}"
        events = []
        if prev is None:
            events.append(event(a.create_time, "placed", _placed_text(a), a.create_index))
            prev = replace(a, desired_status="run", client_status="pending", healthy=None)
        # Once health is decided, ModifyTime no longer says when the tasks started: say nothing.
        if a.client_status == "running" and prev.client_status != "running" and a.healthy is None:
            events.append(event(a.modify_time, "running", f"{name} running", a.modify_index))
        if a.healthy is not None and a.healthy != prev.healthy:
            health: EventKind = "healthy" if a.healthy else "unhealthy"
            events.append(event(a.health_time or a.modify_time, health, f"{name} {health}", a.modify_index))
        if a.client_status in ("failed", "lost") and prev.client_status != a.client_status:
            why = f": {a.client_description}" if a.client_description else ""
            ended: EventKind = "alloc-failed" if a.client_status == "failed" else "lost"
            events.append(event(a.modify_time, ended, f"{name} {a.client_status}{why}", a.modify_index))
        if a.desired_status in STOPPING and prev.desired_status not in STOPPING:
            why = f": {a.desired_description}" if a.desired_description else ""
            # A stop belongs to the rollout that replaces the allocation, not to the one that
            # placed it: untagged, it joins whichever deployment's time window it falls in.
            events.append(event(a.modify_time, "stopped", f"{name} stopped{why}", a.modify_index, ""))
        return events

    @staticmethod
    def _deployment_of(state: ClusterState, mem: _Memory, a: Allocation) -> str:
        """The deployment an allocation belongs to: from its full read while that is current (list
        stubs omit it), else the latest deployment of its job version created before its last
        change (an in-place update moves an allocation to the new version's deployment)."""
        if a.deployment_id:
            return a.deployment_id
        detail = state.alloc_details.get(a.id)
        if detail is not None and detail.deployment_id and detail.job_version == a.job_version:
            return detail.deployment_id
        candidates = [
            d for d in mem.all_deployments(state) if d.job_version == a.job_version and d.create_index <= a.modify_index
        ]
        return max(candidates, key=lambda d: d.create_index).id if candidates else ""

    # --- Fabio routes --------------------------------------------------------------------------

    def _routes(self, state: ClusterState, mem: _Memory) -> list[TimelineEvent]:
        fabio = state.status.get("fabio")
        if state.job is None or not state.versions or fabio is None or fabio.as_of is None:
            return []
        if mem.unchanged(
            "routes", state.routes, state.job, state.allocations, state.alloc_details, state.versions, state.nodes
        ):
            return []
        routes = state.job_routes()
        # Until every target is tied to its allocation (full reads arrive after the list), a
        # target's version is unknown: wait rather than tell a half-labelled split.
        if any(t.job_version is None for r in routes for t in r.targets):
            return []
        current = {r.src: _route_shares(state, r) for r in routes}
        previous, mem.routes = mem.routes, current
        if previous is None:
            return []
        changed = sorted(src for src in current.keys() | previous.keys() if current.get(src) != previous.get(src))
        if not changed:
            return []
        at, index, deployment = self.clock(), _max_index(state), self._route_deployment(state, mem)
        return [
            self._event(
                state,
                at,
                "routes",
                f"route {src}: "
                + (" · ".join(f"{label} {share}%" for label, share in current[src]) if src in current else "removed"),
                index=index,
                deployment_id=deployment,
            )
            for src in changed
        ]

    def _route_deployment(self, state: ClusterState, mem: _Memory) -> str:
        """Weights move because of the latest deployment while it runs, and shortly after it ends."""
        d = latest_deployment(mem.all_deployments(state))
        if d is None:
            return ""
        ended = d.modify_time if d.modify_time is not None else -math.inf
        return d.id if d.active or ended >= self.clock() - ROUTE_LAG else ""
