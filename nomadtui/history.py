"""A job's rollout history told from the cluster's own records, and the steps it is told in.

Nomad keeps a record of what happened: each job version (its SubmitTime and the diff that made
it), each deployment (CreateTime, its per-group counters and canaries, its status with
StatusDescription and the ModifyTime of its last change), each allocation (CreateTime, the
deployment health its client reported with its Timestamp, DesiredStatus "stop" with its
DesiredDescription, and its tasks' events: Received, Started, Terminated with the exit code,
Restarting, Killing, Killed, ...) and each evaluation (what triggered it, its status and times).
`rebuild()` turns those records into the same `TimelineEvent`s the live observation makes
(`timeline.py`), so a nomadtui opened after an incident still tells the incident.

Every event names the step it tells (`TimelineEvent.step`): a step seen live and read from the
records is one step, told once (the live one keeps its time). Everything is decided from
structured fields (statuses, counters, ids, indexes, event types); description texts are only
shown. Where the records do not say when something happened, the nearest time they do say is
used:

- the deployment an allocation belongs to: its DeploymentID where the record has one (full
  reads), else the deployment its placing evaluation names, else the latest deployment of its
  job version created before it; a failed deployment's canaries are stopped on its account;
- a stop: the allocation's ModifyTime, or the first Killing of its tasks after their last start
  when that is earlier (a client's later update moves ModifyTime);
- a promotion: the last evaluation of the deployment's watcher between the canaries turning
  healthy and the first thing the promotion did (a placement or a stop), else that first thing;
- an in-place update: the evaluation that made it (the allocation's EvalID) when that came
  after the placement, else the creation of the deployment of the new version;
- an evaluation counts for the deployment it names, unless it was made after that deployment
  ended and not by its watcher (Nomad names the job's latest deployment on every evaluation).

Nomad keeps the last 10 events of each task: steps that fall off (and records it
garbage-collects) stay told by the `Timeline` that read them.

Deployments chain: a deployment that failed and auto-reverted is told together with the
deployment of the version the revert wrote (`rollout()`).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from operator import attrgetter
from typing import Any, Literal, TypeVar, get_args

from .difftext import diff_summary
from .model import Allocation, Deployment, Evaluation, JobVersion, TaskEvent, TaskState, short_id
from .state import ClusterState

T = TypeVar("T")
STOPPING = ("stop", "evict")
LATE_RECEIPT = 1.0  # seconds after its placement that a client's receipt of an allocation is a step of its own

# At one timestamp (one Raft write, or the demo's manual clock) events sort by what causes what:
# a client reports health, the deployment watcher reacts (promotes, fails, reverts), a
# registration is evaluated, the scheduler creates a deployment, stops, places and updates
# allocations, whose tasks then start, are killed, exit.
EventKind = Literal[
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
    "updated",
    "running",
    "task",
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
    index: int = 0  # the cluster's Raft index of the change (as seen, when seen late; estimated from records)
    step: tuple[str, ...] = ()  # which step this tells: the same step observed and read from records is one

    @property
    def position(self) -> tuple[float, int]:
        """Where the event sits in the cluster's history: its time, then its Raft index."""
        return (self.at, self.index)

    @cached_property
    def order(self) -> tuple[float, int, int]:
        """Its place in a timeline: time, then cause before effect, then Raft index (computed once:
        a history is sorted again each time it changes)."""
        return (self.at, _RANK.get(self.kind, len(_RANK)), self.index)


def sort_events(events: Iterable[TimelineEvent]) -> list[TimelineEvent]:
    """By time, then cause before effect, then Raft index; ties keep their order."""
    return sorted(events, key=attrgetter("order"))


# --- steps and their texts, shared by the observation and the records ----------------------------


def version_step(version: int) -> tuple[str, ...]:
    return ("version", str(version))


def deployment_step(kind: str, deployment_id: str, *detail: str) -> tuple[str, ...]:
    return (kind, deployment_id, *detail)


def alloc_step(kind: str, alloc_id: str, *detail: str) -> tuple[str, ...]:
    return (kind, alloc_id, *detail)


def placed_text(a: Allocation, *, version: int | None = None, canary: bool | None = None) -> str:
    where = short_id(a.node_id) or a.node_name or "?"
    text = f"allocation {short_id(a.id)} placed on {where}, version {a.job_version if version is None else version}"
    canary = a.canary if canary is None else canary
    return text + (", canary" if canary else "") + (", rescheduled" if a.reschedules else "")


def evaluation_text(e: Evaluation) -> str:
    text = f"evaluation {short_id(e.id)} ({e.triggered_by}) {e.status}"
    details = [e.status_description] if e.status_description else []
    if e.failed_groups:
        details.append("could not place " + ", ".join(e.failed_groups))
    return text + (": " + "; ".join(details) if details else "")


def started_text(d: Deployment) -> str:
    canaries = sum(g.desired_canaries for g in d.groups.values())
    extra = f", {canaries} {'canary' if canaries == 1 else 'canaries'}" if canaries else ""
    return f"deployment {short_id(d.id)} started for version {d.job_version}{extra}"


def canaries_healthy_text(healthy: int, wanted: int, automatic: bool) -> str:
    return f"canaries healthy ({healthy}/{wanted}): " + ("promoting automatically" if automatic else "ready to promote")


_STATUS_KINDS: dict[str, EventKind] = {
    "paused": "paused",
    "successful": "successful",
    "failed": "failed",
    "cancelled": "cancelled",
}


def status_event(previous: str, d: Deployment) -> tuple[EventKind, str] | None:
    """(kind, text) for a deployment's new status; None when there is nothing to tell."""
    if d.status == "running":
        return ("resumed", "deployment resumed") if previous == "paused" else None
    kind = _STATUS_KINDS.get(d.status, "deployment")
    if d.status in ("paused", "successful"):
        return kind, f"deployment {d.status}"
    return kind, f"deployment {d.status}" + (f": {d.status_description}" if d.status_description else "")


def rolled_back(version: JobVersion, deployments: Iterable[Deployment]) -> Deployment | None:
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


def revert_text(version: JobVersion, failed: Deployment, versions: Iterable[JobVersion]) -> str:
    # Nomad rolls back to the latest stable version before the one that failed.
    stable = [v.version for v in versions if v.stable and v.version < failed.job_version]
    target = f" to version {max(stable)}" if stable else ""
    return f"auto-reverted{target} as version {version.version}"


def version_event(
    job_id: str, v: JobVersion, deployments: Iterable[Deployment], versions: Iterable[JobVersion], at: float
) -> TimelineEvent:
    """A version registered, or written by the auto-revert of a failed deployment."""
    failed = rolled_back(v, deployments)
    if failed is not None:
        kind: EventKind = "auto-reverted"
        text = revert_text(v, failed, versions)
    else:
        kind = "registered"
        text = f"job registered: version {v.version}" + (f" ({diff_summary(v.diff)})" if v.diff else "")
    return TimelineEvent(at, kind, text, job_id, index=v.job_modify_index, step=version_step(v.version))


def evaluation_deployment(e: Evaluation, deployments: Mapping[str, Deployment]) -> str:
    """The deployment an evaluation counts for. Nomad's scheduler names the job's latest deployment
    on every evaluation, ended or not: one created after that deployment ended (a node update, a
    registration that changed nothing) is not part of it, unless its watcher made it."""
    d = deployments.get(e.deployment_id)
    if d is None or d.active or e.triggered_by == "deployment-watcher":
        return e.deployment_id
    ended = (d.modify_time if d.modify_time is not None else math.inf, d.modify_index)
    return e.deployment_id if (e.create_time or 0.0, e.create_index) <= ended else ""


def failed_canary_owner(a: Allocation, deployments: Iterable[Deployment]) -> str:
    """The failed deployment this allocation was a canary of: its stop is that failure's doing
    (Nomad stops a failed deployment's canaries), whenever it comes."""
    return next(
        (
            d.id
            for d in deployments
            if d.status == "failed" and any(a.id in g.placed_canaries for g in d.groups.values())
        ),
        "",
    )


# --- the records, indexed --------------------------------------------------------------------------


@dataclass
class Memo:
    """What was made of each allocation record, kept from one rebuild to the next: the state
    reuses unchanged records (and lists), so during a rollout only the allocations that moved
    are read again."""

    made: dict[tuple[str, str], tuple[Allocation, Any, Any]] = field(default_factory=dict)  # (record, context, made)
    structure: tuple = ()  # Records.structure at the last rebuild


@dataclass
class Records:
    """What the cluster's records say of one job: the state's lists plus versions and deployments
    remembered after Nomad garbage-collected them."""

    job_id: str
    versions: dict[int, JobVersion] = field(default_factory=dict)
    deployments: dict[str, Deployment] = field(default_factory=dict)
    evaluations: dict[str, Evaluation] = field(default_factory=dict)
    allocations: dict[str, Allocation] = field(default_factory=dict)
    details: Mapping[str, Allocation] = field(default_factory=dict)
    memo: Memo = field(default_factory=Memo)

    @classmethod
    def of(
        cls,
        state: ClusterState,
        remembered_versions: Iterable[JobVersion] = (),
        remembered_deployments: Iterable[Deployment] = (),
        memo: Memo | None = None,
    ) -> Records:
        assert state.focus is not None
        return cls(
            state.focus[1],
            {**{v.version: v for v in remembered_versions}, **{v.version: v for v in state.versions}},
            {**{d.id: d for d in remembered_deployments}, **{d.id: d for d in state.job_deployments}},
            {e.id: e for e in state.evaluations},
            {a.id: a for a in state.allocations},
            state.alloc_details,
            Memo() if memo is None else memo,
        )

    def made_of(self, a: Allocation, what: str, context: Any, make: Callable[[], T]) -> T:
        """`make()`, or what it made last time of this same record in this same context."""
        kept = self.memo.made.get((a.id, what))
        if kept is not None and kept[0] is a and (kept[1] is context or kept[1] == context):
            return kept[2]
        made = make()
        self.memo.made[(a.id, what)] = (a, context, made)
        return made

    def forget_the_gone(self) -> None:
        """Forget what was made of allocations no longer listed."""
        made = self.memo.made
        for key in [k for k in made if k[0] not in self.allocations]:
            del made[key]

    @cached_property
    def structure(self) -> tuple:
        """Everything of the other records that what is made of an allocation depends on; the
        same object as at the last rebuild while it is equal (deployments' counters move during a
        rollout, their structure does not)."""
        structure = (
            self.job_id,
            tuple(self._registrations),
            tuple(
                (d.id, d.job_version, d.create_index, d.create_time, d.status == "failed", self._placed_canaries(d))
                for d in self.deployments.values()
            ),
            tuple((e.id, e.deployment_id, e.create_index, e.create_time) for e in self.evaluations.values()),
        )
        if structure != self.memo.structure:
            self.memo.structure = structure
        return self.memo.structure

    @staticmethod
    def _placed_canaries(d: Deployment) -> tuple[str, ...]:
        return tuple(a for g in d.groups.values() for a in g.placed_canaries)

    def newest_first(self) -> list[Deployment]:
        return sorted(self.deployments.values(), key=lambda d: d.create_index, reverse=True)

    # --- indexes, built on first use (a Records is built for one question or one rebuild) ------

    @cached_property
    def _by_version(self) -> dict[int, list[Deployment]]:
        out: dict[int, list[Deployment]] = {}
        for d in sorted(self.deployments.values(), key=lambda d: d.create_index):
            out.setdefault(d.job_version, []).append(d)
        return out

    @cached_property
    def _canaries(self) -> dict[str, Deployment]:
        return {a: d for d in self.deployments.values() for g in d.groups.values() for a in g.placed_canaries}

    @cached_property
    def _registrations(self) -> list[tuple[int, int]]:
        """(JobModifyIndex, version), in the order they were written."""
        return sorted((v.job_modify_index, n) for n, v in self.versions.items())

    @cached_property
    def _evaluations_by_deployment(self) -> dict[str, list[Evaluation]]:
        out: dict[str, list[Evaluation]] = {}
        for e in self.evaluations.values():
            out.setdefault(e.deployment_id, []).append(e)
        return out

    @cached_property
    def _moments(self) -> list[tuple[float, int, Allocation]]:
        """Every placement (0) and stop (1) with its time, in time order."""
        out = [(a.create_time, 0, a) for a in self.allocations.values() if a.create_time is not None]
        out += [(t, 1, a) for a in self.allocations.values() if (t := self.stop_time(a)) is not None]
        return sorted(out, key=lambda m: (m[0], m[1]))

    # --- lookups ------------------------------------------------------------------------------

    def latest_of_version(self, version: int, by_index: int) -> Deployment | None:
        """The latest deployment of a job version created at or before a Raft index."""
        candidates = [d for d in self._by_version.get(version, ()) if d.create_index <= by_index]
        return candidates[-1] if candidates else None

    def canary_of(self, alloc_id: str) -> Deployment | None:
        return self._canaries.get(alloc_id)

    def stop_time(self, a: Allocation) -> float | None:
        return self.made_of(a, "stop", None, lambda: stop_time(a))

    def placement_version(self, a: Allocation) -> int:
        """The job version an allocation was placed for: an in-place update changes its
        JobVersion, never its CreateIndex, which follows the registration of that version."""
        registrations = self._registrations
        i = bisect_right(registrations, (a.create_index, math.inf))
        return next((n for _, n in reversed(registrations[:i]) if n <= a.job_version), a.job_version)

    def _full_deployment_id(self, a: Allocation) -> str:
        """The DeploymentID of an allocation record that has one (full reads, events)."""
        if a.deployment_id:
            return a.deployment_id
        detail = self.details.get(a.id)
        return detail.deployment_id if detail is not None and detail.job_version == a.job_version else ""

    def placement_deployment(self, a: Allocation, version: int) -> str:
        if version == a.job_version and (full := self._full_deployment_id(a)):
            return full
        canary = self.canary_of(a.id)
        if canary is not None:
            return canary.id
        e = self.evaluations.get(a.eval_id)
        if e is not None and e.deployment_id:
            d = self.deployments.get(e.deployment_id)
            if d is not None and d.job_version == version:
                return d.id
        d = self.latest_of_version(version, a.create_index)
        return d.id if d is not None else ""

    def current_deployment(self, a: Allocation, placed_in: str, version: int) -> str:
        """The deployment an allocation's health counts for: that of its current job version."""
        full = self._full_deployment_id(a)
        if full or version == a.job_version:
            return full or placed_in
        d = self.latest_of_version(a.job_version, a.modify_index)
        return d.id if d is not None else ""

    def inplace_update(self, a: Allocation, deployment_id: str) -> tuple[float, int] | None:
        """When an allocation was updated in place to its current version: (time, Raft index)."""
        e = self.evaluations.get(a.eval_id)
        if e is not None and e.create_index > a.create_index and e.create_time is not None:
            return e.create_time, e.create_index
        d = self.deployments.get(deployment_id)
        if d is not None and d.create_index > a.create_index and d.create_time is not None:
            return d.create_time, d.create_index
        return None

    def evaluations_of(self, deployment_id: str) -> list[Evaluation]:
        return self._evaluations_by_deployment.get(deployment_id, [])

    def first_effect(self, d: Deployment, since: float) -> float | None:
        """The first thing a promotion of `d` does, at or after `since`: a placement for it (not
        a canary), or a stop of an allocation of another version, before it ended."""
        end = math.inf if d.active else (d.modify_time or math.inf)
        canaries = {i for g in d.groups.values() for i in g.placed_canaries}
        moments = self._moments
        for at, kind, a in moments[bisect_left(moments, since, key=lambda m: m[0]) :]:
            if at > end:
                return None
            if kind == 1 and a.job_version != d.job_version:
                return at
            if kind == 0 and a.id not in canaries:
                if self.placement_deployment(a, self.placement_version(a)) == d.id:
                    return at
        return None

    # --- auto-reverts -------------------------------------------------------------------------

    def reverted_from(self, d: Deployment) -> Deployment | None:
        """The failed deployment whose auto-revert wrote the version this deployment rolls out."""
        version = self.versions.get(d.job_version)
        failed = rolled_back(version, self.deployments.values()) if version is not None else None
        return failed if failed is not None and failed.create_index < d.create_index else None

    def revert_of(self, failed: Deployment) -> Deployment | None:
        """The deployment of the version a failed deployment's auto-revert wrote."""
        if failed.status != "failed":
            return None
        written = {n for n, v in self.versions.items() if rolled_back(v, [failed]) is failed}
        later = [
            d for d in self.deployments.values() if d.job_version in written and d.create_index > failed.create_index
        ]
        return min(later, key=lambda d: d.create_index, default=None)


def rollout(records: Records, deployment_id: str) -> list[Deployment]:
    """The deployment with those it is told together, oldest first: a deployment that failed and
    auto-reverted, then the deployment of the version the revert wrote (and so on)."""
    d = records.deployments.get(deployment_id)
    if d is None:
        return []
    chain = [d]
    while (earlier := records.reverted_from(chain[0])) is not None and earlier not in chain:
        chain.insert(0, earlier)
    while (later := records.revert_of(chain[-1])) is not None and later not in chain:
        chain.append(later)
    return chain


def window(records: Records, d: Deployment) -> tuple[tuple[float, int], tuple[float, float]]:
    """A deployment's span of the history: from the registration of its version (or its creation)
    to its terminal status (open while it is active)."""
    start: tuple[float, int] = (d.create_time or 0.0, d.create_index)
    version = records.versions.get(d.job_version)
    if version is not None and version.submit_time is not None:
        start = min(start, (version.submit_time, version.job_modify_index))
    end: tuple[float, float] = (math.inf, 0) if d.active else (d.modify_time or math.inf, d.modify_index)
    return start, end


class EventIndex:
    """Events in timeline order, indexed so that a deployment's are found without a scan: those
    tagged with it, and the untagged ones in its span."""

    def __init__(self, events: list[TimelineEvent]) -> None:
        self.events = events
        self._tagged: dict[str, list[int]] = {}
        self._untagged: list[int] = []
        for i, e in enumerate(events):
            if e.deployment_id:
                self._tagged.setdefault(e.deployment_id, []).append(i)
            else:
                self._untagged.append(i)
        self._untagged_at = [events[i].at for i in self._untagged]

    def of(self, records: Records, deployments: Iterable[Deployment]) -> list[TimelineEvent]:
        chosen: set[int] = set()
        for d in deployments:
            chosen.update(self._tagged.get(d.id, ()))
            start, end = window(records, d)
            low = bisect_left(self._untagged_at, start[0])
            high = bisect_right(self._untagged_at, end[0])
            chosen.update(i for i in self._untagged[low:high] if start <= self.events[i].position <= end)
        return [self.events[i] for i in sorted(chosen)]

    def tagged(self, deployment_id: str) -> list[TimelineEvent]:
        return [self.events[i] for i in self._tagged.get(deployment_id, ())]


# --- the history ---------------------------------------------------------------------------------------


def rebuild(records: Records) -> list[TimelineEvent]:
    """Every step the records tell, in the order they were generated (`sort_events` orders them)."""
    job = records.job_id
    events: list[TimelineEvent] = []
    versions = records.versions.values()
    for v in sorted(versions, key=lambda v: v.version):
        if v.submit_time is not None:
            events.append(version_event(job, v, records.deployments.values(), versions, v.submit_time))
    for d in sorted(records.deployments.values(), key=lambda d: d.create_index):
        events += _deployment_history(records, d)
    for e in sorted(records.evaluations.values(), key=lambda e: e.create_index):
        if e.status != "pending" and e.create_time is not None:
            text, step = evaluation_text(e), ("evaluation", e.id)
            tag = evaluation_deployment(e, records.deployments)
            events.append(TimelineEvent(e.create_time, "evaluation", text, job, tag, "", e.create_index, step))
    for a in sorted(records.allocations.values(), key=lambda a: a.create_index):
        events += _allocation_history(records, a)
    records.forget_the_gone()
    return events


# --- deployments ---------------------------------------------------------------------------------------


def _deployment_history(records: Records, d: Deployment) -> list[TimelineEvent]:
    def event(at: float | None, kind: EventKind, text: str, index: int, step: tuple[str, ...]) -> list[TimelineEvent]:
        return [] if at is None else [TimelineEvent(at, kind, text, records.job_id, d.id, "", index, step)]

    events = event(d.create_time, "deployment", started_text(d), d.create_index, deployment_step("deployment", d.id))
    healthy = _canaries_healthy_at(records, d)
    if healthy is not None:
        waiting = [g for g in d.groups.values() if g.has_canaries]
        wanted = sum(g.desired_canaries for g in waiting)
        text = canaries_healthy_text(wanted, wanted, all(g.auto_promote for g in waiting))
        events += event(healthy, "canaries-healthy", text, d.create_index, deployment_step("canaries-healthy", d.id))
    if any(g.promoted for g in d.groups.values()):
        promoted = _promoted_at(records, d, healthy)
        events += event(promoted, "promoted", "deployment promoted", d.create_index, deployment_step("promoted", d.id))
    if d.status == "paused" or not d.active:
        told = status_event("running", d)
        if told is not None:
            step = deployment_step("status", d.id, d.status)
            events += event(d.modify_time, *told, d.modify_index, step)
    return events


def _canaries_healthy_at(records: Records, d: Deployment) -> float | None:
    """When the last canary needed turned healthy (every canary group had its canaries healthy)."""
    groups = [g for g in d.groups.values() if g.has_canaries]
    times = []
    for g in groups:
        healthy = sorted(
            a.health_time
            for a in (records.allocations.get(i) for i in g.placed_canaries)
            if a is not None and a.healthy and a.health_time is not None
        )
        if len(healthy) < g.desired_canaries:
            return None
        times.append(healthy[g.desired_canaries - 1])
    return max(times, default=None)


def _promoted_at(records: Records, d: Deployment, healthy: float | None) -> float | None:
    if healthy is None:
        return d.modify_time
    first = records.first_effect(d, healthy)
    watcher = [
        e.create_time
        for e in records.evaluations_of(d.id)
        if e.triggered_by == "deployment-watcher"
        and e.create_time is not None
        and healthy <= e.create_time <= (math.inf if first is None else first)
    ]
    return max(watcher, default=first if first is not None else healthy)


# --- allocations -----------------------------------------------------------------------------------------


NOMAD_KEEPS = 10  # task events per task (structs.TaskState: the oldest are dropped)


def truncated(events: tuple[TaskEvent, ...]) -> bool:
    """Nomad dropped the oldest of these events: the first start may be among them."""
    return len(events) >= NOMAD_KEEPS and events[0].type != "Received"


def first_start(task: TaskState) -> float | None:
    if truncated(task.events):
        return None
    return next((e.time for e in task.events if e.type == "Started"), None)


def running_time(a: Allocation) -> float | None:
    """When the allocation's tasks were all running the first time (its last task's first start)."""
    starts = [t for t in (first_start(task) for task in a.tasks) if t is not None]
    return max(starts, default=None)


def _since_last_start(events: tuple[TaskEvent, ...]) -> tuple[TaskEvent, ...]:
    last = max((i for i, e in enumerate(events) if e.type == "Started"), default=-1)
    return events[last + 1 :]


def stop_time(a: Allocation) -> float | None:
    """When the allocation was told to stop: its ModifyTime, or the first kill of its tasks after
    their last start when that is earlier (the client's later updates move ModifyTime)."""
    if a.desired_status not in STOPPING:
        return None
    kills = [
        e.time
        for t in a.tasks
        for e in _since_last_start(t.events)
        if e.type in ("Killing", "Killed") and e.time is not None
    ]
    times = [t for t in (a.modify_time, min(kills, default=None)) if t is not None]
    return min(times, default=None)


def _failed_time(a: Allocation) -> float | None:
    finished = [t.finished_at for t in a.tasks if t.finished_at is not None]
    return max(finished) if finished else a.modify_time


@dataclass
class _AllocSteps:
    """One allocation's steps as they are made, each with the deployment it counts for."""

    job_id: str
    a: Allocation
    events: list[TimelineEvent] = field(default_factory=list)

    def add(self, at: float | None, kind: EventKind, text: str, index: int, deployment: str, *detail: str) -> None:
        if at is not None:
            step = alloc_step(kind, self.a.id, *detail)
            self.events.append(TimelineEvent(at, kind, text, self.job_id, deployment, self.a.id, index, step))


def _allocation_history(records: Records, a: Allocation) -> list[TimelineEvent]:
    """An allocation's steps: what its record says, in the context the other records give it
    (unchanged records in an unchanged context: what was made of them last time)."""
    around = (records.structure, records.details.get(a.id))
    kept = records.memo.made.get((a.id, "as-before"))
    if kept is not None and kept[0] is a and kept[1][0] is around[0] and kept[1][1] is around[1]:
        return kept[2]
    made = _allocation_history_in_context(records, a)
    records.memo.made[(a.id, "as-before")] = (a, around, made)
    return made


def _allocation_history_in_context(records: Records, a: Allocation) -> list[TimelineEvent]:
    version = records.placement_version(a)
    placed_in = records.placement_deployment(a, version)
    current = records.current_deployment(a, placed_in, version)
    owner = records.canary_of(a.id)
    update = records.inplace_update(a, current) if version != a.job_version else None
    context = _AllocContext(
        records.job_id,
        version,
        placed_in,
        current,
        a.canary or owner is not None,
        update,
        owner.id if owner is not None and owner.status == "failed" else "",
        records.stop_time(a),
    )
    return records.made_of(a, "history", context, lambda: _allocation_steps(a, context))


@dataclass(frozen=True)
class _AllocContext:
    job_id: str
    version: int  # placed for
    placed_in: str  # the deployment that placed it
    current: str  # the deployment its health counts for
    canary: bool
    update: tuple[float, int] | None  # when it was updated in place, if it was
    stopped_for: str  # the failed deployment whose canary it was
    stopped_at: float | None


def _allocation_steps(a: Allocation, c: _AllocContext) -> list[TimelineEvent]:
    name = f"allocation {short_id(a.id)}"
    version, placed_in, current = c.version, c.placed_in, c.current
    steps = _AllocSteps(c.job_id, a)
    steps.add(a.create_time, "placed", placed_text(a, version=version, canary=c.canary), a.create_index, placed_in)
    steps.add(running_time(a), "running", f"{name} running", a.create_index, placed_in)
    if c.update is not None:
        text = f"{name} updated in place to version {a.job_version}"
        steps.add(c.update[0], "updated", text, c.update[1], current, str(a.job_version))
    if a.healthy is not None:
        health: EventKind = "healthy" if a.healthy else "unhealthy"
        why = unhealthy_reason(a) if not a.healthy else ""
        steps.add(a.health_time or a.modify_time, health, f"{name} {health}{why}", a.modify_index, current)
    if a.client_status in ("failed", "lost"):
        why = f": {a.client_description}" if a.client_description else ""
        ended: EventKind = "alloc-failed" if a.client_status == "failed" else "lost"
        at = _failed_time(a) if ended == "alloc-failed" else a.modify_time
        steps.add(at, ended, f"{name} {a.client_status}{why}", a.modify_index, current)
    if a.desired_status in STOPPING:
        why = f": {a.desired_description}" if a.desired_description else ""
        steps.add(c.stopped_at, "stopped", f"{name} stopped{why}", a.modify_index, c.stopped_for)
    alloc_steps = list(steps.events)
    for task in a.tasks:
        label = f"{name} task {task.name}" if len(a.tasks) > 1 else f"{name} task"
        for i, e in enumerate(task.events):
            text = _task_text(label, task.events, i, a.create_time)
            if text and e.time is not None:
                steps.events.append(
                    TimelineEvent(
                        e.time,
                        "task",
                        text,
                        c.job_id,
                        _deployment_before(alloc_steps, e.time),
                        a.id,
                        a.create_index,
                        alloc_step("task", a.id, task.name, e.type, repr(e.time)),
                    )
                )
    return steps.events


def _deployment_before(steps: list[TimelineEvent], at: float) -> str:
    """The deployment of the allocation's latest step at or before a time (its placement's, else)."""
    before = [e for e in steps if e.at <= at]
    latest = max(before, key=lambda e: (e.at, _RANK[e.kind]), default=None)
    return latest.deployment_id if latest is not None else (steps[0].deployment_id if steps else "")


def unhealthy_reason(a: Allocation) -> str:
    """The client's words for an unhealthy allocation (its `Alloc Unhealthy` task event)."""
    for task in a.tasks:
        for e in reversed(task.events):
            if e.type == "Alloc Unhealthy" and e.message:
                return f": {e.message}"
    return ""


_TASK_VERBS = {
    "Received": "received by its client",
    "Terminated": "exited",
    "Restarting": "restarting",
    "Not Restarting": "not restarting",
    "Killing": "being killed",
    "Killed": "killed",
}
_WITH_MESSAGE = ("Restarting", "Not Restarting", "Killing")


def _task_text(label: str, events: tuple[TaskEvent, ...], i: int, placed: float | None) -> str:
    """The line for a task event worth its own step; "" for the rest (set-up, the first start,
    which is the allocation running, a receipt at the placement, which is the placement)."""
    e = events[i]
    if e.type == "Started":
        restarted = truncated(events) or any(earlier.type == "Started" for earlier in events[:i])
        return f"{label} started again" if restarted else ""
    if e.type == "Received" and (placed is None or e.time is None or e.time - placed < LATE_RECEIPT):
        return ""
    verb = _TASK_VERBS.get(e.type)
    if verb is None:
        # Anything else the client says failed the task: driver or set-up failures, ...
        return f"{label} {e.type.lower()}" + (f": {e.message}" if e.message else "") if e.fails_task else ""
    if e.type == "Terminated":
        verb += f" with code {e.exit_code}" if e.exit_code is not None else ""
    return f"{label} {verb}" + (f": {e.message}" if e.type in _WITH_MESSAGE and e.message else "")
