"""Typed, immutable records of what Nomad and Fabio report, and pure helpers for printing them.

Parsing is tolerant: a missing, `null` or extra field never raises, and an enum value this code
does not know is kept as text. Everything the UI decides is derived from structured fields
(counters, flags, statuses), never from description strings, which change between Nomad
versions ("requires promotion" became "requires manual promotion").
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .wire import parse_rfc3339, unix_nanos

ACTIVE_DEPLOYMENT_STATUSES = frozenset({"running", "paused", "initializing", "pending", "blocked", "unblocking"})
TERMINAL_CLIENT_STATUSES = frozenset({"complete", "failed", "lost"})


# --- tolerant readers -------------------------------------------------------------------------


def _s(data: Mapping, key: str, default: str = "") -> str:
    value = data.get(key) if isinstance(data, Mapping) else None
    return default if value is None else str(value)


def as_int(value: Any, default: Any = 0) -> Any:
    """An integer from an answer's field, else `default` (no bool, no float garbage)."""
    try:
        return int(value) if value is not None and not isinstance(value, bool) else default
    except (TypeError, ValueError, OverflowError):
        return default


def _i(data: Mapping, key: str, default: int = 0) -> int:
    return as_int(data.get(key) if isinstance(data, Mapping) else None, default)


def _f(data: Mapping, key: str, default: float = 0.0) -> float:
    value = data.get(key) if isinstance(data, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return default
    return float(value)


def _b(data: Mapping, key: str) -> bool:
    return bool(data.get(key)) if isinstance(data, Mapping) else False


def _opt_b(data: Mapping, key: str) -> bool | None:
    value = data.get(key) if isinstance(data, Mapping) else None
    return None if value is None else bool(value)


def _m(data: Mapping, key: str) -> Mapping:
    value = data.get(key) if isinstance(data, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _l(data: Mapping, key: str) -> list:
    value = data.get(key) if isinstance(data, Mapping) else None
    return value if isinstance(value, list) else []


# --- jobs --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupSummary:
    queued: int = 0
    starting: int = 0
    running: int = 0
    failed: int = 0
    complete: int = 0
    lost: int = 0
    unknown: int = 0

    @classmethod
    def from_api(cls, d: Mapping) -> GroupSummary:
        return cls(
            _i(d, "Queued"),
            _i(d, "Starting"),
            _i(d, "Running"),
            _i(d, "Failed"),
            _i(d, "Complete"),
            _i(d, "Lost"),
            _i(d, "Unknown"),
        )


@dataclass(frozen=True, slots=True)
class JobSummary:
    job_id: str
    namespace: str
    groups: Mapping[str, GroupSummary]
    modify_index: int = 0

    @classmethod
    def from_api(cls, d: Mapping) -> JobSummary:
        return cls(
            _s(d, "JobID"),
            _s(d, "Namespace", "default"),
            {name: GroupSummary.from_api(g) for name, g in sorted(_m(d, "Summary").items())},
            _i(d, "ModifyIndex"),
        )

    @property
    def running(self) -> int:
        return sum(g.running for g in self.groups.values())

    @property
    def starting(self) -> int:
        return sum(g.starting for g in self.groups.values())


DEFAULT_MIN_HEALTHY_NANOS = 10 * 10**9  # Nomad's update block default (structs.DefaultUpdateStrategy)


@dataclass(frozen=True, slots=True)
class TaskGroupSpec:
    """The parts of a job's task group the UI shows."""

    name: str
    count: int
    images: tuple[str, ...] = ()
    canary: int = 0
    max_parallel: int = 0
    auto_revert: bool = False
    auto_promote: bool = False
    services: tuple[str, ...] = ()
    # Seconds after an allocation starts before Nomad can first call it healthy: the update
    # block's min_healthy_time plus the longest check interval of the group's services.
    settle: float = 0.0

    @classmethod
    def from_api(cls, d: Mapping) -> TaskGroupSpec:
        update = _m(d, "Update")
        images = tuple(str(_m(t, "Config").get("image")) for t in _l(d, "Tasks") if _m(t, "Config").get("image"))
        service_specs = [s for s in _l(d, "Services") if isinstance(s, Mapping)] + [
            s for t in _l(d, "Tasks") for s in _l(t, "Services") if isinstance(s, Mapping)
        ]
        services = tuple(_s(s, "Name") for s in service_specs)
        intervals = [_i(c, "Interval") / 1e9 for s in service_specs for c in _l(s, "Checks") if isinstance(c, Mapping)]
        min_healthy = _i(update, "MinHealthyTime", DEFAULT_MIN_HEALTHY_NANOS) / 1e9
        return cls(
            _s(d, "Name"),
            _i(d, "Count", 1),
            images,
            _i(update, "Canary"),
            _i(update, "MaxParallel"),
            _b(update, "AutoRevert"),
            _b(update, "AutoPromote"),
            services,
            max(0.0, min_healthy) + max(intervals, default=0.0),
        )


@dataclass(frozen=True, slots=True)
class Job:
    """A job from the list (`JobListStub`, no version) or a full read (with version and groups)."""

    id: str
    name: str = ""
    namespace: str = "default"
    type: str = "service"
    status: str = ""
    status_description: str = ""
    priority: int = 50
    stop: bool = False
    periodic: bool = False
    parameterized: bool = False
    datacenters: tuple[str, ...] = ()
    submit_time: float | None = None
    create_index: int = 0
    modify_index: int = 0
    job_modify_index: int = 0
    summary: JobSummary | None = None
    version: int | None = None
    stable: bool | None = None
    groups: tuple[TaskGroupSpec, ...] = ()
    meta: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_api(cls, d: Mapping) -> Job:
        summary = d.get("JobSummary")
        periodic, parameterized = d.get("Periodic"), d.get("ParameterizedJob")
        return cls(
            id=_s(d, "ID"),
            name=_s(d, "Name") or _s(d, "ID"),
            namespace=_s(d, "Namespace", "default"),
            type=_s(d, "Type", "service"),
            status=_s(d, "Status"),
            status_description=_s(d, "StatusDescription"),
            priority=_i(d, "Priority", 50),
            stop=_b(d, "Stop"),
            periodic=bool(periodic) if not isinstance(periodic, Mapping) else True,
            parameterized=bool(parameterized) if not isinstance(parameterized, Mapping) else True,
            datacenters=tuple(str(x) for x in _l(d, "Datacenters")),
            submit_time=unix_nanos(d.get("SubmitTime")),
            create_index=_i(d, "CreateIndex"),
            modify_index=_i(d, "ModifyIndex"),
            job_modify_index=_i(d, "JobModifyIndex"),
            summary=JobSummary.from_api(summary) if isinstance(summary, Mapping) else None,
            version=_i(d, "Version") if "Version" in d and d["Version"] is not None else None,
            stable=_opt_b(d, "Stable") if "Stable" in d else None,
            groups=tuple(TaskGroupSpec.from_api(g) for g in _l(d, "TaskGroups")),
            meta={str(k): str(v) for k, v in _m(d, "Meta").items()},
        )

    @property
    def display_status(self) -> str:
        """`nomad job status` appends ` (stopped)` to a stopped job's status."""
        return f"{self.status} (stopped)" if self.stop else self.status

    @property
    def display_type(self) -> str:
        suffix = "/periodic" if self.periodic else "/parameterized" if self.parameterized else ""
        return self.type + suffix

    @property
    def desired(self) -> int | None:
        return sum(g.count for g in self.groups) if self.groups else None

    @property
    def images(self) -> tuple[str, ...]:
        return tuple(i for g in self.groups for i in g.images)


@dataclass(frozen=True, slots=True)
class JobVersion:
    version: int
    stable: bool
    submit_time: float | None
    job_modify_index: int
    modify_index: int
    images: tuple[str, ...]
    job: Job
    diff: Mapping | None = None  # the JobDiff against the previous version (wire shape)
    tag: str = ""

    @classmethod
    def from_api(cls, d: Mapping, diff: Mapping | None = None) -> JobVersion:
        job = Job.from_api(d)
        return cls(
            _i(d, "Version"),
            _b(d, "Stable"),
            unix_nanos(d.get("SubmitTime")),
            _i(d, "JobModifyIndex"),
            _i(d, "ModifyIndex"),
            job.images,
            job,
            diff if isinstance(diff, Mapping) else None,
            _s(_m(d, "VersionTag"), "Name"),
        )


def versions_from_api(body: Mapping) -> list[JobVersion]:
    """`GET /v1/job/:id/versions?diffs=true`: newest first; Diffs[i] is Versions[i+1] -> [i]
    (with `diff_version=N`, Diffs[i] is version N -> Versions[i])."""
    versions = _l(body, "Versions")
    diffs = _l(body, "Diffs")
    return [JobVersion.from_api(v, diffs[i] if i < len(diffs) else None) for i, v in enumerate(versions)]


# --- allocations -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The latest result of one check of a `provider = "nomad"` service, as `nomad alloc checks`
    lists them (Nomad's client runs these; Consul's checks it does not report)."""

    check: str
    service: str
    task: str
    mode: str  # healthiness (gates deployments) | readiness
    status: str  # success | failure | pending
    output: str
    status_code: int
    time: float  # unix seconds

    @classmethod
    def from_api(cls, d: Mapping) -> CheckResult:
        return cls(
            check=_s(d, "Check"),
            service=_s(d, "Service"),
            task=_s(d, "Task"),
            mode=_s(d, "Mode"),
            status=_s(d, "Status"),
            output=_s(d, "Output"),
            status_code=_i(d, "StatusCode"),
            time=_f(d, "Timestamp"),
        )


def checks_from_api(body: object) -> tuple[CheckResult, ...]:
    """`/v1/client/allocation/:id/checks`: an object of check ID -> result; `null` when the
    allocation has no Nomad-provider checks."""
    if body is None:
        return ()
    if not isinstance(body, Mapping):
        raise ValueError("the check results are not a JSON object")
    results = (CheckResult.from_api(r) for r in body.values() if isinstance(r, Mapping))
    return tuple(sorted(results, key=lambda r: (r.service, r.check, r.task)))


@dataclass(frozen=True, slots=True)
class TaskEvent:
    """One line of `nomad alloc status`'s Recent Events: Received, Task Setup, Started,
    Terminated, Restarting, Not Restarting, Killing, Killed, ..."""

    time: float | None
    type: str
    message: str = ""  # DisplayMessage (what the CLI shows), else Message
    exit_code: int | None = None  # Terminated: the task's exit code
    fails_task: bool = False

    @classmethod
    def from_api(cls, e: Mapping) -> TaskEvent:
        details = _m(e, "Details")
        exit_code = None
        if _s(e, "Type") == "Terminated":
            exit_code = as_int(e["ExitCode"] if "ExitCode" in e else details.get("exit_code"), None)
        return cls(
            time=unix_nanos(e.get("Time")),
            type=_s(e, "Type"),
            message=_s(e, "DisplayMessage") or _s(e, "Message"),
            exit_code=exit_code,
            fails_task=_b(e, "FailsTask") or details.get("fails_task") == "true",
        )


@dataclass(frozen=True, slots=True)
class TaskState:
    name: str
    state: str
    failed: bool
    restarts: int
    last_event: str = ""
    last_message: str = ""
    events: tuple[TaskEvent, ...] = ()  # oldest first, as Nomad keeps them (the last 10)
    started_at: float | None = None
    finished_at: float | None = None


@dataclass(frozen=True, slots=True)
class Allocation:
    id: str
    name: str = ""
    namespace: str = "default"
    eval_id: str = ""
    node_id: str = ""
    node_name: str = ""
    job_id: str = ""
    job_version: int = 0
    task_group: str = ""
    desired_status: str = ""
    desired_description: str = ""
    client_status: str = ""
    client_description: str = ""
    healthy: bool | None = None  # DeploymentStatus.Healthy: None = not decided yet
    canary: bool = False  # an unpromoted canary (Nomad clears it on promotion)
    health_time: float | None = None
    deployment_id: str = ""  # only in full reads and events, not in list stubs
    create_index: int = 0
    modify_index: int = 0
    create_time: float | None = None
    modify_time: float | None = None
    tasks: tuple[TaskState, ...] = ()
    reschedules: int = 0
    ports: Mapping[str, tuple[str, int]] = field(default_factory=dict)  # label -> (ip, port)
    image: str = ""  # only in full reads (they embed the job)

    @classmethod
    def from_api(cls, d: Mapping) -> Allocation:
        ds = _m(d, "DeploymentStatus")
        tasks = []
        for name, t in sorted(_m(d, "TaskStates").items()):
            events = tuple(TaskEvent.from_api(e) for e in _l(t, "Events") if isinstance(e, Mapping))
            last = events[-1] if events else None
            tasks.append(
                TaskState(
                    name,
                    _s(t, "State"),
                    _b(t, "Failed"),
                    _i(t, "Restarts"),
                    last.type if last else "",
                    last.message if last else "",
                    events=events,
                    started_at=parse_rfc3339(t.get("StartedAt")),
                    finished_at=parse_rfc3339(t.get("FinishedAt")),
                )
            )
        shared = _m(_m(d, "AllocatedResources"), "Shared")
        ports = {_s(p, "Label"): (_s(p, "HostIP"), _i(p, "Value")) for p in _l(shared, "Ports")}
        job = _m(d, "Job")
        image = ""
        for g in _l(job, "TaskGroups"):
            if _s(g, "Name") == _s(d, "TaskGroup"):
                image = next(
                    (str(_m(t, "Config").get("image")) for t in _l(g, "Tasks") if _m(t, "Config").get("image")), ""
                )
        return cls(
            id=_s(d, "ID"),
            name=_s(d, "Name"),
            namespace=_s(d, "Namespace", "default"),
            eval_id=_s(d, "EvalID"),
            node_id=_s(d, "NodeID"),
            node_name=_s(d, "NodeName"),
            job_id=_s(d, "JobID"),
            job_version=_i(d, "JobVersion"),
            task_group=_s(d, "TaskGroup"),
            desired_status=_s(d, "DesiredStatus"),
            desired_description=_s(d, "DesiredDescription"),
            client_status=_s(d, "ClientStatus"),
            client_description=_s(d, "ClientDescription"),
            healthy=_opt_b(ds, "Healthy"),
            canary=_b(ds, "Canary"),
            health_time=parse_rfc3339(ds.get("Timestamp")),
            deployment_id=_s(d, "DeploymentID"),
            create_index=_i(d, "CreateIndex"),
            modify_index=_i(d, "ModifyIndex"),
            create_time=unix_nanos(d.get("CreateTime")),
            modify_time=unix_nanos(d.get("ModifyTime")),
            tasks=tuple(tasks),
            reschedules=len(_l(_m(d, "RescheduleTracker"), "Events")),
            ports=ports,
            image=image,
        )

    @property
    def terminal(self) -> bool:
        """Nomad's TerminalStatus: stopped or evicted, or finished on the client."""
        return self.desired_status in ("stop", "evict") or self.client_status in TERMINAL_CLIENT_STATUSES

    @property
    def running(self) -> bool:
        return self.desired_status == "run" and self.client_status == "running"

    def trouble(self) -> str:
        """Why the allocation is unhealthy or failed, in a line, from its tasks' events and its
        deployment health ("" when nothing is wrong)."""
        for task in self.tasks:
            exits = [e for e in task.events if e.type == "Terminated" and e.exit_code not in (None, 0)]
            gave_up = next((e for e in reversed(task.events) if e.type == "Not Restarting"), None)
            if gave_up is not None or (task.failed and exits):
                code = f"exited with code {exits[-1].exit_code}" if exits else "failed"
                why = f"task {task.name} {code}"
                if gave_up is not None:
                    plural = "s" if task.restarts != 1 else ""
                    why += f", restarts exhausted ({task.restarts} restart{plural})"
                    why += f": {gave_up.message}" if gave_up.message else ""
                return why
            failing = next((e for e in reversed(task.events) if e.fails_task and e.message), None)
            if task.failed and failing is not None:
                return f"task {task.name}: {failing.type}: {failing.message}"
        if self.client_status == "lost":
            return "its node stopped answering: the allocation is lost"
        if self.client_status == "failed":
            return self.client_description or "the client reports it failed"
        if self.healthy is False:
            if all(t.state == "running" for t in self.tasks):
                return "its tasks run, but its checks did not pass within the update block's healthy_deadline"
            return "it did not turn healthy within the update block's healthy_deadline"
        return ""


def sort_allocations(allocs: Iterable[Allocation]) -> list[Allocation]:
    """Newest first, as `nomad job status` lists them (CreateIndex descending); the allocations
    one plan placed together by their index in the group (the `[n]` of their name), then ID. A
    server gives them in no such order (Nomad lists a job's allocations by ID)."""
    return sorted(allocs, key=lambda a: (-a.create_index, _name_index(a.name), a.id))


def _name_index(name: str) -> int:
    """`job.group[2]` -> 2 (AllocName); a name without an index sorts last."""
    head, bracket, rest = name.rpartition("[")
    return int(rest[:-1]) if bracket and rest.endswith("]") and rest[:-1].isdigit() else 2**63


# --- deployments -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupState:
    name: str
    auto_revert: bool = False
    auto_promote: bool = False
    progress_deadline: int = 0  # nanoseconds
    require_progress_by: float | None = None
    promoted: bool = False
    placed_canaries: tuple[str, ...] = ()
    desired_canaries: int = 0
    desired_total: int = 0
    placed: int = 0
    healthy: int = 0
    unhealthy: int = 0

    @classmethod
    def from_api(cls, name: str, d: Mapping) -> GroupState:
        return cls(
            name,
            _b(d, "AutoRevert"),
            _b(d, "AutoPromote"),
            _i(d, "ProgressDeadline"),
            parse_rfc3339(d.get("RequireProgressBy")),
            _b(d, "Promoted"),
            tuple(str(x) for x in _l(d, "PlacedCanaries")),
            _i(d, "DesiredCanaries"),
            _i(d, "DesiredTotal"),
            _i(d, "PlacedAllocs"),
            _i(d, "HealthyAllocs"),
            _i(d, "UnhealthyAllocs"),
        )

    @property
    def has_canaries(self) -> bool:
        return self.desired_canaries > 0

    @property
    def awaiting_promotion(self) -> bool:
        return self.has_canaries and not self.promoted

    @property
    def canaries_healthy(self) -> bool:
        """Enough healthy canaries to promote (while unpromoted, every healthy alloc is a canary)."""
        return self.has_canaries and self.healthy >= self.desired_canaries


@dataclass(frozen=True, slots=True)
class Deployment:
    id: str
    job_id: str = ""
    namespace: str = "default"
    job_version: int = 0
    job_create_index: int = 0
    status: str = ""
    status_description: str = ""
    groups: Mapping[str, GroupState] = field(default_factory=dict)
    create_index: int = 0
    modify_index: int = 0
    create_time: float | None = None
    modify_time: float | None = None

    @classmethod
    def from_api(cls, d: Mapping) -> Deployment:
        return cls(
            id=_s(d, "ID"),
            job_id=_s(d, "JobID"),
            namespace=_s(d, "Namespace", "default"),
            job_version=_i(d, "JobVersion"),
            job_create_index=_i(d, "JobCreateIndex"),
            status=_s(d, "Status"),
            status_description=_s(d, "StatusDescription"),
            groups={name: GroupState.from_api(name, g) for name, g in sorted(_m(d, "TaskGroups").items())},
            create_index=_i(d, "CreateIndex"),
            modify_index=_i(d, "ModifyIndex"),
            create_time=unix_nanos(d.get("CreateTime")),
            modify_time=unix_nanos(d.get("ModifyTime")),
        )

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_DEPLOYMENT_STATUSES

    @property
    def to_place(self) -> int:
        """Allocations the deployment has yet to place (canaries count toward the total)."""
        return sum(max(0, g.desired_total - g.placed) for g in self.groups.values())

    @property
    def needs_promotion(self) -> bool:
        """Nomad's RequiresPromotion: running with a canary group not yet promoted."""
        return self.status == "running" and any(g.awaiting_promotion for g in self.groups.values())

    @property
    def promotable_groups(self) -> list[str]:
        return [g.name for g in self.groups.values() if g.awaiting_promotion]

    @property
    def canaries_healthy(self) -> bool:
        waiting = [g for g in self.groups.values() if g.awaiting_promotion]
        return bool(waiting) and all(g.canaries_healthy for g in waiting)

    @property
    def canaries_unhealthy(self) -> int:
        """Unhealthy canaries of groups still waiting for promotion (a canary that failed its
        checks, or whose task died): the rollout is stuck on them, whatever else it says."""
        return sum(g.unhealthy for g in self.groups.values() if g.awaiting_promotion)

    @property
    def auto_promotes(self) -> bool:
        waiting = [g for g in self.groups.values() if g.awaiting_promotion]
        return bool(waiting) and all(g.auto_promote for g in waiting)


def latest_deployment(deployments: Iterable[Deployment]) -> Deployment | None:
    """Nomad's "latest": the highest CreateIndex."""
    return max(deployments, key=lambda d: d.create_index, default=None)


# --- evaluations and nodes ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Evaluation:
    id: str
    job_id: str = ""
    status: str = ""
    status_description: str = ""
    triggered_by: str = ""
    deployment_id: str = ""
    blocked_eval: str = ""
    failed_groups: tuple[str, ...] = ()
    queued: Mapping[str, int] = field(default_factory=dict)
    create_index: int = 0
    create_time: float | None = None
    modify_time: float | None = None
    modify_index: int = 0
    namespace: str = "default"

    @classmethod
    def from_api(cls, d: Mapping) -> Evaluation:
        return cls(
            _s(d, "ID"),
            _s(d, "JobID"),
            _s(d, "Status"),
            _s(d, "StatusDescription"),
            _s(d, "TriggeredBy"),
            _s(d, "DeploymentID"),
            _s(d, "BlockedEval"),
            tuple(sorted(_m(d, "FailedTGAllocs"))),
            {str(k): int(v) for k, v in _m(d, "QueuedAllocations").items() if isinstance(v, int)},
            _i(d, "CreateIndex"),
            unix_nanos(d.get("CreateTime")),
            unix_nanos(d.get("ModifyTime")),
            _i(d, "ModifyIndex"),
            _s(d, "Namespace") or "default",
        )


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    name: str = ""
    address: str = ""
    datacenter: str = ""
    status: str = ""
    eligibility: str = ""
    drain: bool = False
    version: str = ""

    @classmethod
    def from_api(cls, d: Mapping) -> Node:
        return cls(
            _s(d, "ID"),
            _s(d, "Name"),
            _s(d, "Address"),
            _s(d, "Datacenter"),
            _s(d, "Status"),
            _s(d, "SchedulingEligibility"),
            _b(d, "Drain"),
            _s(d, "Version"),
        )


# --- plans and action results ------------------------------------------------------------------


def _counts(d: Mapping, key: str) -> dict[str, int]:
    return {str(k): v for k, v in _m(d, key).items() if isinstance(v, int) and not isinstance(v, bool)}


@dataclass(frozen=True, slots=True)
class PlacementFailure:
    """A group's AllocMetric from a plan's FailedTGAllocs: why allocations could not be placed."""

    coalesced: int = 0
    nodes_evaluated: int = 0
    nodes_exhausted: int = 0
    nodes_available: Mapping[str, int] = field(default_factory=dict)  # datacenter -> nodes
    dimension_exhausted: Mapping[str, int] = field(default_factory=dict)
    constraint_filtered: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_api(cls, d: Mapping) -> PlacementFailure:
        return cls(
            _i(d, "CoalescedFailures"),
            _i(d, "NodesEvaluated"),
            _i(d, "NodesExhausted"),
            _counts(d, "NodesAvailable"),
            _counts(d, "DimensionExhausted"),
            _counts(d, "ConstraintFiltered"),
        )

    @property
    def failed(self) -> int:
        return self.coalesced + 1


@dataclass(frozen=True, slots=True)
class GroupPlan:
    name: str
    updates: Mapping[str, int]
    placement_failure: PlacementFailure | None = None

    def counts_text(self) -> str:
        """`1 canary, 3 ignore`: as `nomad job plan` prints a group's updates."""
        return ", ".join(f"{n} {kind}" for kind, n in sorted(self.updates.items()) if n)


_UPDATE_KEYS = {
    "Ignore": "ignore",
    "Place": "create",
    "Migrate": "migrate",
    "Stop": "destroy",
    "Canary": "canary",
    "InPlaceUpdate": "in-place update",
    "DestructiveUpdate": "create/destroy update",
}


@dataclass(frozen=True, slots=True)
class Plan:
    job_id: str
    job_modify_index: int  # feed it to EnforceIndex when registering
    groups: tuple[GroupPlan, ...]
    diff: Mapping | None
    warnings: str = ""

    @classmethod
    def from_api(cls, job_id: str, d: Mapping) -> Plan:
        desired = _m(_m(d, "Annotations"), "DesiredTGUpdates")
        failed = _m(d, "FailedTGAllocs")
        names = sorted(str(n) for n in set(desired) | set(failed))
        groups = tuple(
            GroupPlan(
                name,
                {
                    _UPDATE_KEYS[k]: int(v)
                    for k, v in _m(desired, name).items()
                    if k in _UPDATE_KEYS and isinstance(v, int) and v
                },
                PlacementFailure.from_api(failed[name]) if isinstance(failed.get(name), Mapping) else None,
            )
            for name in names
        )
        diff = d.get("Diff")
        return cls(
            job_id, _i(d, "JobModifyIndex"), groups, diff if isinstance(diff, Mapping) else None, _s(d, "Warnings")
        )

    @property
    def changes_allocations(self) -> bool:
        """The CLI's exit code 1: creates, destroys, migrations, destructive updates or canaries."""
        return any(n for g in self.groups for kind, n in g.updates.items() if kind not in ("ignore", "in-place update"))

    @property
    def placement_failures(self) -> list[GroupPlan]:
        return [g for g in self.groups if g.placement_failure]


# --- Fabio -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RouteTarget:
    service: str
    dst: str
    weight: float
    tags: tuple[str, ...] = ()
    alloc_id: str = ""  # matched to the allocation behind the address, when known
    job_version: int | None = None
    canary: bool = False

    @property
    def address(self) -> tuple[str, int] | None:
        m = re.match(r"^[a-z+]+://\[?([^\]/]+?)\]?:(\d+)", self.dst)
        return (m.group(1), int(m.group(2))) if m else None


@dataclass(frozen=True, slots=True)
class Route:
    src: str
    host: str
    path: str
    opts: str
    targets: tuple[RouteTarget, ...]

    @property
    def options(self) -> dict[str, str]:
        """Fabio builds `opts` from a Go map, so its order varies: compare these, not the text."""
        return dict(tok.split("=", 1) for tok in self.opts.split() if "=" in tok)

    @property
    def canary(self) -> bool:
        return bool(self.targets) and all(t.canary for t in self.targets)


def routes_from_api(rows: Any) -> list[Route]:
    """Fabio's `/api/routes` rows (one per target; `null` when empty) grouped by source."""
    grouped: dict[str, list[Mapping]] = {}
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, Mapping):
            grouped.setdefault(_s(row, "src"), []).append(row)
    routes = []
    for src, items in grouped.items():
        first = items[0]
        targets = tuple(
            RouteTarget(_s(r, "service"), _s(r, "dst"), _f(r, "weight"), tuple(str(t) for t in _l(r, "tags")))
            for r in items
        )
        routes.append(Route(src, _s(first, "host"), _s(first, "path"), _s(first, "opts"), targets))
    return routes


# --- formatting as the nomad CLI prints --------------------------------------------------------


def format_bytes(n: int) -> str:
    """`12.5 MB` from a megabyte up, `4,096 bytes` below."""
    return f"{n / 2**20:,.1f} MB" if n >= 2**20 else f"{n:,} bytes"


def short_id(value: str) -> str:
    return value[:8]


def format_age(then: float | None, now: float) -> str:
    """Nomad's prettyTimeDiff: `1m18s ago`, `2h5m ago`, `3s from now`; the two largest units."""
    if then is None or then <= 0:
        return ""
    first, second = round(then), round(now)
    suffix = " ago" if second >= first else " from now"
    u = abs(second - first)
    if u == 0:
        return "0s ago"
    parts = []
    for unit, size in (("s", 60), ("m", 60), ("h", 24), ("d", 30), ("mo", 12)):
        if u % size:
            parts.append(f"{u % size}{unit}")
        u //= size
    if u:
        parts.append(f"{u}y")
    return "".join(reversed(parts[-2:])) + suffix
