"""What happened during a rollout, in what order, and how long each step took: the job's history
as the cluster's records tell it (`history.py`), merged with what this process saw happen.

`Timeline.observe()` compares each `ClusterState` snapshot of the job in focus with the previous
one seen for that job, and turns what changed into `TimelineEvent`s: versions registered,
evaluations finished, deployments started / promoted / paused / finished, allocations placed,
updated in place, running, healthy, stopped, and Fabio's weights for the job's routes. It also
keeps the steps the records tell, so what Nomad garbage-collects later stays told.

Observed events carry the cluster's own timestamps (a version's SubmitTime, a deployment's
CreateTime or ModifyTime, an allocation's CreateTime, health Timestamp or ModifyTime, an
evaluation's CreateTime) and the Raft index of the change. Only Fabio's weight changes, which
have no timestamp, carry the time they were observed (the injected clock). A step both observed
and read from the records is told once, as observed.

The first snapshot of each kind of record for a job is a baseline for the observation: opening a
job observes nothing, its past is what the records tell. A kind that is not loaded yet (right
after a focus change) is skipped, so after switching the focus away and back, what changed
meanwhile is reported with the cluster's timestamps, against what was seen last.

Events at one timestamp sort cause before effect (see history.EventKind), then by Raft index. A
deployment's events are those in its window, from the registration of its version to its
terminal status (compared by time, then Raft index), plus any tagged with its id; a deployment
that failed and auto-reverted is told with the deployment of the version its revert wrote
(`rollout()`). Tags are best effort: an allocation seen before its deployment is left untagged and
belongs by its window. A rollback version seen before the failure that wrote it is first told as
"registered", then replaced in the history by "auto-reverted" once the failure is seen.
"""

from __future__ import annotations

import heapq
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import Any

from .history import (
    STOPPING,
    EventIndex,
    EventKind,
    Memo,
    Records,
    TimelineEvent,
    alloc_step,
    canaries_healthy_text,
    deployment_step,
    evaluation_deployment,
    evaluation_text,
    failed_canary_owner,
    placed_text,
    rebuild,
    revert_text,
    rolled_back,
    rollout,
    sort_events,
    started_text,
    status_event,
    unhealthy_reason,
    version_event,
)
from .model import Allocation, Deployment, Evaluation, GroupState, JobVersion, Route, latest_deployment, short_id
from .safetext import markdown as markdown_text
from .state import ClusterState
from .wire import format_duration, format_time

__all__ = [
    "MAX_EVENTS",
    "EventKind",
    "Timeline",
    "TimelineEvent",
    "format_span",
    "sort_events",
    "with_durations",
]

MAX_EVENTS = 1000  # per job; the oldest go first
MAX_JOBS = 100  # jobs whose history is kept; the least recently observed go first
MAX_REMEMBERED = 100  # versions and deployments kept per job after Nomad garbage-collects them
ROUTE_LAG = 10.0  # seconds Fabio may take to show the last change a deployment made

Step = tuple[str, ...]


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


def _group_summary(g: GroupState) -> str:
    n = g.desired_canaries
    canaries = f"{n} {'canary' if n == 1 else 'canaries'}, " if n else ""
    counts = f"{g.desired_total} desired, {g.placed} placed, {g.healthy} healthy, {g.unhealthy} unhealthy"
    return f"group {g.name}: {canaries}{counts}" + (", promoted" if g.promoted else "")


def deployment_summary(d: Deployment) -> str:
    """One line of a deployment for incident notes: version, status and its description, and each
    group's counters."""
    status = d.status + (f": {d.status_description}" if d.status_description else "")
    groups = "; ".join(_group_summary(g) for g in d.groups.values())
    return f"deployment {short_id(d.id)} (job version {d.job_version}) {status}" + (f" · {groups}" if groups else "")


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
    events: deque[TimelineEvent] = field(default_factory=lambda: deque(maxlen=MAX_EVENTS))  # observed
    told: Mapping[Step, TimelineEvent] = field(default_factory=dict)  # what the records told last, by step
    told_from: object = None  # the view that told it
    gone: dict[Step, TimelineEvent] = field(default_factory=dict)  # told once, no longer: Nomad collected them
    generation: int = 0  # counts changes to `events`, `told` and `gone`
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

    def recorded(self, told: Mapping[Step, TimelineEvent] | None = None) -> Mapping[Step, TimelineEvent]:
        """Every step the records told (`told`: what they tell now, if not the last complete telling)."""
        latest = self.told if told is None or told is self.told else {**self.told, **told}
        return {**self.gone, **latest} if self.gone else latest

    def shrink(self) -> None:
        """Keep only the newest MAX_EVENTS steps the records told (the job is out of focus)."""
        if len(self.told) > MAX_EVENTS:
            self.told = {e.step: e for e in heapq.nlargest(MAX_EVENTS, self.told.values(), key=attrgetter("position"))}
        self.told_from = None

    def records(self, job_id: str) -> Records:
        """The records this memory keeps, for questions asked without a state."""
        return Records(
            job_id,
            dict(self.versions or {}),
            dict(self.deployments or {}),
            dict(self.evaluations or {}),
            dict(self.allocations or {}),
        )


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


def _keep_newest(records: dict, key: Callable[[Any], Any], limit: int = MAX_REMEMBERED) -> None:
    for k in sorted(records, key=lambda k: key(records[k]))[:-limit]:
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


_HISTORY_SOURCES = ("versions", "job_deployments", "allocations", "evaluations")


@dataclass
class _View:
    """A state's records, the history they tell and the answers drawn from it with the memory."""

    sources: tuple
    records: Records
    _told: dict[Step, TimelineEvent] | None = None
    merged_for: tuple | None = None  # (memory, its generation) that `merged` was made with
    merged: EventIndex = field(default_factory=lambda: EventIndex([]))
    selected: dict[str | None, list[TimelineEvent]] = field(default_factory=dict)  # by deployment id

    def told(self) -> dict[Step, TimelineEvent]:
        if self._told is None:
            self._told = {e.step: e for e in rebuild(self.records)}
        return self._told


def _merged(mem: _Memory | None, told: Mapping[Step, TimelineEvent] | None) -> list[TimelineEvent]:
    """Observed events, and the steps the records tell (remembered, and `told` now) that were not
    observed, in order."""
    recorded = mem.recorded(told) if mem is not None else told or {}
    observed = list(mem.events) if mem is not None else []
    seen = {e.step for e in observed}
    return sort_events([*observed, *(e for step, e in recorded.items() if step not in seen)])


def _select(events: EventIndex, records: Records, deployment_id: str | None) -> list[TimelineEvent]:
    """The newest MAX_EVENTS of the events of a deployment's rollout (of the job: None)."""
    if deployment_id is None:
        return events.events[-MAX_EVENTS:]
    chain = rollout(records, deployment_id)
    return (events.of(records, chain) if chain else events.tagged(deployment_id))[-MAX_EVENTS:]


# --- the timeline --------------------------------------------------------------------------------


class Timeline:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._jobs: OrderedDict[tuple[str, str], _Memory] = OrderedDict()
        self._last_view: _View | None = None
        self._memo = Memo()  # what was made of each allocation record

    def observe(self, state: ClusterState) -> list[TimelineEvent]:
        """Compare with the previous snapshot of the job in focus; record and return what is new
        (what was seen change: the past the records tell is in `events()`, never returned here)."""
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
        if new:
            mem.events.extend(new)
            mem.generation += 1
        self._remember(state, mem)
        return sort_events(new)

    # --- questions -------------------------------------------------------------------------------

    def events(self, namespace: str, job_id: str, deployment_id: str | None = None) -> list[TimelineEvent]:
        """The job's events in order, as far as this timeline has seen and read them; with a
        deployment id, those of its rollout (see `deployment_events`)."""
        mem = self._jobs.get((namespace, job_id))
        if mem is None:
            return []
        return _select(EventIndex(_merged(mem, None)), mem.records(job_id), deployment_id)

    def deployments(self, state: ClusterState) -> list[Deployment]:
        """The deployments of the job in focus, newest first (those Nomad has garbage-collected
        included, as long as they are remembered)."""
        return self._view(state).records.newest_first() if state.focus is not None else []

    def rollout(self, state: ClusterState, deployment_id: str) -> list[Deployment]:
        """The deployments told together with this one, oldest first: a deployment that failed and
        auto-reverted, then the deployment of the version its revert wrote. Empty for an unknown id."""
        return rollout(self._view(state).records, deployment_id) if state.focus is not None else []

    def deployment_events(self, state: ClusterState, deployment_id: str) -> list[TimelineEvent]:
        """The events of one deployment of the job in focus, in order: from the registration of its
        version to its end, plus anything tagged with it; a deployment that ended in an auto-revert
        comes with the deployment of the revert (and the revert's with the failed one)."""
        return self._answer(state, deployment_id) if state.focus is not None else []

    def latest_deployment_events(self, state: ClusterState) -> list[TimelineEvent]:
        """The events of the latest deployment of the job in focus (all its events if it has none)."""
        if state.focus is None:
            return []
        latest = state.latest_deployment or latest_deployment(self._view(state).records.deployments.values())
        return self._answer(state, latest.id if latest else None)

    def markdown(self, events: Iterable[TimelineEvent], *, title: str, deployments: Sequence[Deployment] = ()) -> str:
        """A Markdown table for incident notes: absolute time, time since the first event, time
        since the previous one, what happened; `deployments` (e.g. `rollout()`) are listed above
        it, each with its status, description and group counters."""
        lines = [f"### {markdown_text(title)}", ""]
        if deployments:
            lines += [f"- {markdown_text(deployment_summary(d))}" for d in deployments] + [""]
        lines += ["| time | +since start | step took | event |", "|---|---|---|---|"]
        for i, (e, step, elapsed) in enumerate(with_durations(events)):
            took = format_span(step) if i else ""
            lines.append(f"| {format_time(e.at)} | {format_span(elapsed)} | {took} | {markdown_text(e.text)} |")
        return "\n".join(lines) + "\n"

    # --- observed and recorded, together -------------------------------------------------------

    def _view(self, state: ClusterState) -> _View:
        """The records of the state's job and what they tell, kept while its lists are the same
        objects (the state reuses unchanged lists): redraws ask the same questions again."""
        assert state.focus is not None
        mem = self._jobs.get(state.focus)
        sources = (state.focus, mem, *(getattr(state, name) for name in _HISTORY_SOURCES), state.alloc_details)
        view = self._last_view
        if view is None or len(view.sources) != len(sources) or any(a is not b for a, b in zip(view.sources, sources)):
            versions = (mem.versions or {}) if mem is not None else {}
            deployments = (mem.deployments or {}) if mem is not None else {}
            records = Records.of(state, versions.values(), deployments.values(), memo=self._memo)
            view = self._last_view = _View(sources, records)
        return view

    def _remember(self, state: ClusterState, mem: _Memory) -> None:
        """Keep what the records tell once every list is in (Nomad garbage-collects them later)."""
        if not all(_loaded(state, name, getattr(state, name)) for name in _HISTORY_SOURCES):
            return
        view = self._view(state)
        if view is mem.told_from:
            return
        told = view.told()
        gone = [e for step, e in mem.told.items() if step not in told]
        if gone:
            mem.gone.update((e.step, e) for e in gone)
            if len(mem.gone) > MAX_EVENTS:
                _keep_newest(mem.gone, lambda e: e.position, MAX_EVENTS)
        mem.told, mem.told_from = told, view
        mem.generation += 1

    def _answer(self, state: ClusterState, deployment_id: str | None) -> list[TimelineEvent]:
        assert state.focus is not None
        view, mem = self._view(state), self._jobs.get(state.focus)
        generation = (mem, mem.generation if mem is not None else 0)
        if view.merged_for != generation:
            view.merged = EventIndex(_merged(mem, view.told()))
            view.merged_for, view.selected = generation, {}
        if deployment_id not in view.selected:
            view.selected[deployment_id] = _select(view.merged, view.records, deployment_id)
        return list(view.selected[deployment_id])

    # --- memory --------------------------------------------------------------------------------

    def _memory(self, key: tuple[str, str]) -> _Memory:
        if self._jobs and next(reversed(self._jobs)) != key:
            self._jobs[next(reversed(self._jobs))].shrink()  # the focus moves on
        mem = self._jobs.get(key)
        if mem is None:
            mem = self._jobs[key] = _Memory()
            while len(self._jobs) > MAX_JOBS:
                self._jobs.popitem(last=False)
        self._jobs.move_to_end(key)
        return mem

    def _event(
        self,
        state: ClusterState,
        at: float | None,
        kind: EventKind,
        text: str,
        *,
        step: Step,
        index: int = 0,
        deployment_id: str = "",
        alloc_id: str = "",
    ) -> TimelineEvent:
        assert state.focus is not None
        return TimelineEvent(
            self.clock() if at is None else at, kind, text, state.focus[1], deployment_id, alloc_id, index, step
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
        assert state.focus is not None
        at = self.clock() if v.submit_time is None else v.submit_time
        return version_event(state.focus[1], v, mem.all_deployments(state), mem.all_versions(state), at)

    def _relabel_revert(self, state: ClusterState, mem: _Memory, d: Deployment) -> list[TimelineEvent]:
        """A rollback version seen before the failure that wrote it was told as a registration:
        replace that event now that the failure explains it."""
        for number, old in list(mem.registered.items()):
            version = (mem.versions or {}).get(number)
            if old.kind == "registered" and version is not None and rolled_back(version, [d]) is d:
                new = replace(old, kind="auto-reverted", text=revert_text(version, d, mem.all_versions(state)))
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
        def event(at: float | None, kind: EventKind, text: str, step: Step, index: int) -> TimelineEvent:
            return self._event(state, at, kind, text, step=step, index=index, deployment_id=d.id)

        events = []
        if prev is None:
            step = deployment_step("deployment", d.id)
            events.append(event(d.create_time, "deployment", started_text(d), step, d.create_index))
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
            events.append(event(d.modify_time, "promoted", text, deployment_step("promoted", d.id), d.modify_index))
        told = status_event(prev.status, d) if d.status != prev.status else None
        if told is not None:
            step = deployment_step("status", d.id, d.status)
            events.append(event(d.modify_time, *told, step, d.modify_index))
        if d.status == "failed" and prev.status != "failed":
            events += self._relabel_revert(state, mem, d)
        return events

    def _canaries_healthy(self, state: ClusterState, d: Deployment) -> TimelineEvent:
        waiting = [g for g in d.groups.values() if g.awaiting_promotion]
        canaries = {a for g in waiting for a in g.placed_canaries}
        # The last canary's health timestamp is when they all were healthy.
        health = [a.health_time for a in state.allocations if a.id in canaries and a.health_time is not None]
        healthy, wanted = sum(g.healthy for g in waiting), sum(g.desired_canaries for g in waiting)
        return self._event(
            state,
            max(health, default=d.modify_time),
            "canaries-healthy",
            canaries_healthy_text(healthy, wanted, d.auto_promotes),
            step=deployment_step("canaries-healthy", d.id),
            index=d.modify_index,
            deployment_id=d.id,
        )

    # --- evaluations ---------------------------------------------------------------------------

    def _evaluations(self, state: ClusterState, mem: _Memory) -> list[TimelineEvent]:
        previous = _replace_seen(state, mem, "evaluations")
        if previous is None:
            return []
        events = []
        deployments = {d.id: d for d in [*(mem.deployments or {}).values(), *state.job_deployments]}
        for e in sorted(state.evaluations, key=lambda e: e.create_index):
            prev = previous.get(e.id)
            # A pending evaluation is told once the scheduler is done with it, at its creation
            # time: that is where it sits between the change that caused it and its results.
            if e.status == "pending" or (prev is not None and prev.status == e.status):
                continue
            at = e.create_time if prev is None or prev.status == "pending" else e.modify_time
            events.append(
                self._event(
                    state,
                    at,
                    "evaluation",
                    evaluation_text(e),
                    step=("evaluation", e.id),
                    index=e.create_index,
                    deployment_id=evaluation_deployment(e, deployments),
                )
            )
        return events

    # --- allocations ---------------------------------------------------------------------------

    def _allocations(self, state: ClusterState, mem: _Memory) -> list[TimelineEvent]:
        previous = _replace_seen(state, mem, "allocations")
        if previous is None:
            return []
        events: list[TimelineEvent] = []
        # The state reuses the records of allocations that did not change: only the others can tell.
        changed = [a for a in state.allocations if previous.get(a.id) is not a]
        for a in sorted(changed, key=lambda a: a.create_index):
            events += self._allocation_changes(state, mem, previous.get(a.id), a)
        return events

    def _allocation_changes(
        self, state: ClusterState, mem: _Memory, prev: Allocation | None, a: Allocation
    ) -> list[TimelineEvent]:
        deployment = self._deployment_of(state, mem, a)

        def event(
            at: float | None, kind: EventKind, text: str, index: int, deployment_id: str = deployment, *detail: str
        ) -> TimelineEvent:
            step = alloc_step(kind, a.id, *detail)
            return self._event(
                state, at, kind, text, step=step, index=index, deployment_id=deployment_id, alloc_id=a.id
            )

        name = f"allocation {short_id(a.id)}"
        events = []
        if prev is None:
            events.append(event(a.create_time, "placed", placed_text(a), a.create_index))
            prev = replace(a, desired_status="run", client_status="pending", healthy=None)
        elif prev.job_version != a.job_version:
            text = f"{name} updated in place to version {a.job_version}"
            events.append(event(a.modify_time, "updated", text, a.modify_index, deployment, str(a.job_version)))
        # Once health is decided, ModifyTime no longer says when the tasks started: say nothing
        # (the records' Started event says it).
        if a.client_status == "running" and prev.client_status != "running" and a.healthy is None:
            events.append(event(a.modify_time, "running", f"{name} running", a.modify_index))
        if a.healthy is not None and a.healthy != prev.healthy:
            health: EventKind = "healthy" if a.healthy else "unhealthy"
            why = "" if a.healthy else unhealthy_reason(a)
            events.append(event(a.health_time or a.modify_time, health, f"{name} {health}{why}", a.modify_index))
        if a.client_status in ("failed", "lost") and prev.client_status != a.client_status:
            why = f": {a.client_description}" if a.client_description else ""
            ended: EventKind = "alloc-failed" if a.client_status == "failed" else "lost"
            events.append(event(a.modify_time, ended, f"{name} {a.client_status}{why}", a.modify_index))
        if a.desired_status in STOPPING and prev.desired_status not in STOPPING:
            why = f": {a.desired_description}" if a.desired_description else ""
            # A stop belongs to the rollout that replaces the allocation, not to the one that
            # placed it: untagged, it joins whichever deployment's time window it falls in. A
            # failed deployment's canary is stopped because that deployment failed: tagged with it.
            owner = failed_canary_owner(a, mem.all_deployments(state))
            events.append(event(a.modify_time, "stopped", f"{name} stopped{why}", a.modify_index, owner))
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
        # Likewise until the versions behind them are read: a label is the version's image tag.
        known = {v.version for v in state.versions}
        if any(t.job_version is None or t.job_version not in known for r in routes for t in r.targets):
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
                step=("routes", src, repr(at), str(current.get(src))),
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
