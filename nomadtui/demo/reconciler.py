"""Nomad's reconciler for service jobs, as a pure decision: what to place, stop and update.

`reconcile()` reads the store and returns a `Decision` without changing anything, so the same
code answers `POST /v1/job/:id/plan` (dry run) and processes evaluations (then applied by the
cluster). The rules follow nomad-api.md §5: rolling updates as a sliding window of
`max_parallel`, canaries beside the old allocations until promotion, surplus stops after
promotion, in-place updates all at once, rescheduling of failed allocations.

The functions carry the names of their counterparts in Nomad's
scheduler/reconciler/reconcile_cluster.go (and filters.go, allocs.go), each with a comment
naming it, so that the two can be read side by side. The demo's reconciler is smaller: no lost or
disconnected allocations, migrations only of the allocations `alloc stop` marks (no drains), and
its sets are lists in a fixed order.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from .jobdiff import tasks_updated
from .store import ACTIVE_DEPLOYMENT, Store
from .structs import datacenter_matches, update_strategy

# Allocation.DesiredDescription of the stops (sstructs.StatusAlloc*, scheduler/structs).
NOT_NEEDED = "alloc not needed due to job update"
UPDATING = "alloc is being updated due to job update"
RESCHEDULED = "alloc was rescheduled because it failed"
MIGRATING = "alloc is being migrated"

# Deployment.StatusDescription of a cancelled deployment (nomad/structs/deployment.go).
STOPPED_JOB = "Cancelled because job is stopped"
NEWER_JOB = "Cancelled due to newer version of job"

_NAME_INDEX = re.compile(r"\[(\d+)\]$")


def name_index(alloc_name: str) -> int:
    """Allocation.Index: the `[n]` of its name."""
    m = _NAME_INDEX.search(alloc_name)
    return int(m.group(1)) if m else 0


def alloc_name(job_id: str, group: str, index: int) -> str:
    """structs.AllocName."""
    return f"{job_id}.{group}[{index}]"


@dataclass
class Placement:
    """AllocPlaceResult."""

    group: str
    name: str
    canary: bool = False
    previous: dict | None = None  # the alloc this one replaces (update, reschedule or migration)
    reschedule: bool = False
    migrate: bool = False
    # downgradeNonCanary: while canaries are out, a migrated non-canary keeps its job version
    job: dict | None = None


@dataclass
class GroupDecision:
    """A task group's part of the ReconcileResults, with its DesiredUpdates counts."""

    place: list[Placement] = field(default_factory=list)
    stop: list[tuple[dict, str]] = field(default_factory=list)
    inplace: list[dict] = field(default_factory=list)
    ignore: int = 0
    destructive: int = 0
    canary: int = 0
    reschedule_later: list[tuple[dict, float]] = field(default_factory=list)
    # Work that remains for later passes (throttled updates, unplaced canaries): not done yet.
    pending: int = 0
    migrate: int = 0
    # Stops DesiredUpdates does not count: migrating canaries (cancelUnneededCanaries).
    uncounted_stops: int = 0

    def desired_updates(self) -> dict:
        fresh = sum(1 for p in self.place if p.previous is None and not p.canary)
        resched = sum(1 for p in self.place if p.reschedule)
        return {
            "Ignore": self.ignore,
            "Place": fresh + resched,
            "Migrate": self.migrate,
            "Stop": len(self.stop) - self.destructive - resched - self.migrate - self.uncounted_stops,
            "InPlaceUpdate": len(self.inplace),
            "DestructiveUpdate": self.destructive,
            "Canary": self.canary,
            "Preemptions": 0,
            "Disconnect": 0,
            "Reconnect": 0,
            "RescheduleNow": resched,
            "RescheduleLater": len(self.reschedule_later),
        }

    def has_deployment_work(self) -> bool:
        # createDeployment: a migration of what already runs is no reason for a deployment.
        placing = any(not p.reschedule and not p.migrate for p in self.place)
        return bool(placing or self.inplace or self.destructive or self.canary or self.pending)


@dataclass
class Decision:
    """ReconcileResults."""

    job: dict
    groups: dict[str, GroupDecision] = field(default_factory=dict)
    deployment: dict | None = None  # the deployment new work belongs to
    new_deployment: bool = False
    cancel: tuple[dict, str] | None = None  # (deployment, description)
    successful: bool = False

    def desired_tg_updates(self) -> dict:
        return {name: g.desired_updates() for name, g in self.groups.items()}


MakeDeployment = Callable[[dict, Decision], dict]


def reconcile(store: Store, job: dict, make_deployment: MakeDeployment) -> Decision:
    """Decide what the scheduler does for `job` now (AllocReconciler.Compute in
    reconcile_cluster.go). `make_deployment(job, decision)` builds (without storing) a new
    deployment when one is needed."""
    decision = Decision(job)
    allocs = store.job_allocs(job)
    decision.cancel, current = cancel_unneeded_service_deployments(job, store.latest_deployment(job))
    if job.get("Stop"):
        handle_stop(decision, allocs)
        return decision
    decision.deployment = current
    decision.groups = compute_groups(store, job, allocs, current)
    if current is None and _needs_deployment(job, decision):
        # createDeployment: the groups are computed again, now that their work belongs to it.
        decision.deployment = make_deployment(job, decision)
        decision.new_deployment = True
        decision.groups = compute_groups(store, job, allocs, decision.deployment)
    d = decision.deployment
    if d is not None and d["Status"] == "running" and is_deployment_complete(d, decision):
        decision.successful = True
    return decision


# cancelUnneededServiceDeployments (reconcile_cluster.go)
def cancel_unneeded_service_deployments(job: dict, latest: dict | None) -> tuple[tuple[dict, str] | None, dict | None]:
    """The active deployment to cancel (with why), and the deployment of this job version."""
    active = latest if latest and latest["Status"] in ACTIVE_DEPLOYMENT else None
    if job.get("Stop"):
        return ((active, STOPPED_JOB) if active else None), None
    current = latest if latest and _for_version(latest, job) else None
    if active and active is not current:
        return (active, NEWER_JOB), current
    return None, current


# handleStop (reconcile_cluster.go)
def handle_stop(decision: Decision, allocs: list[dict]) -> None:
    """A stopped job: every allocation that still runs is stopped."""
    for a in allocs:
        if a["DesiredStatus"] == "run" and a["ClientStatus"] not in ("complete", "lost"):
            decision.groups.setdefault(a["TaskGroup"], GroupDecision()).stop.append((a, NOT_NEEDED))


# computeDeploymentComplete (reconcile_cluster.go): the loop over the groups
def compute_groups(store: Store, job: dict, allocs: list[dict], d: dict | None) -> dict[str, GroupDecision]:
    return {group["Name"]: compute_group(store, job, group, allocs, d) for group in job["TaskGroups"]}


def _needs_deployment(job: dict, decision: Decision) -> bool:
    return any(update_strategy(job, g) and decision.groups[g["Name"]].has_deployment_work() for g in job["TaskGroups"])


def _for_version(d: dict, job: dict) -> bool:
    return d["JobVersion"] == job["Version"] and d["JobSpecModifyIndex"] == job["JobModifyIndex"]


def _is_current(alloc: dict, job: dict) -> bool:
    aj = alloc["_job"]
    return aj["Version"] == job["Version"] and aj["JobModifyIndex"] == job["JobModifyIndex"]


# isDeploymentComplete (reconcile_cluster.go), for every group of the deployment
def is_deployment_complete(d: dict, decision: Decision) -> bool:
    for name, dstate in d["TaskGroups"].items():
        g = decision.groups.get(name)
        if g and (g.place or g.inplace or g.pending or g.canary or g.destructive):
            return False
        if dstate["DesiredCanaries"] > 0 and not dstate["Promoted"]:
            return False
        if dstate["HealthyAllocs"] < max(dstate["DesiredTotal"], dstate["DesiredCanaries"]):
            return False
    return True


# computeGroup (reconcile_cluster.go)
def compute_group(store: Store, job: dict, group: dict, allocs: list[dict], d: dict | None) -> GroupDecision:
    """Reconcile one task group: its allocations sorted into sets, then the stops, canaries,
    updates and placements, in computeGroup's order."""
    r = _GroupReconciler(store, job, group, d)
    mine = [a for a in allocs if a["TaskGroup"] == r.name]
    live = [a for a in mine if a["DesiredStatus"] == "run" and a["ClientStatus"] in ("pending", "running")]
    failed = [
        a for a in mine if a["DesiredStatus"] == "run" and a["ClientStatus"] == "failed" and not a.get("NextAllocation")
    ]
    live, migrate = r.classify_migrating(live)
    current, outdated = r.cancel_unneeded_canaries(live)
    destructive, inplace = r.compute_updates(outdated)
    canaries = [a for a in current if a["ID"] in r.placed_canaries]
    rescheduling = r.filter_by_rescheduleable(failed)
    if r.requires_canaries(destructive):
        r.compute_canaries(destructive, canaries)
        r.out.ignore += len(current) + len(destructive)
        r.out.inplace.extend(inplace)
        r.compute_migrations(migrate)
        return r.out
    current, destructive, inplace, migrate = r.compute_stop(current, destructive, inplace, len(rescheduling), migrate)
    limit = r.compute_under_provisioned_by(len(destructive))
    r.compute_destructive_updates(destructive, limit)
    r.out.ignore += len(current)
    r.place_in_place_updates(inplace)
    r.compute_placements(current + destructive + inplace + migrate)
    r.compute_migrations(migrate)
    return r.out


class _GroupReconciler:
    """computeGroup's state for one task group: the group, its deployment's state, and the
    decision as it is built."""

    def __init__(self, store: Store, job: dict, group: dict, d: dict | None) -> None:
        self.store = store
        self.job = job
        self.group = group
        self.name: str = group["Name"]
        self.count: int = group.get("Count", 1)
        self.upd = update_strategy(job, group)
        self.d = d
        self.dstate = d["TaskGroups"].get(self.name) if d else None
        status = d["Status"] if d else None
        self.deployment_failed = status == "failed"
        # DeploymentPaused or DeploymentFailed (or cancelled): no new placements.
        self.frozen = status in ("paused", "failed", "cancelled")
        self.promoted = bool(self.dstate and self.dstate["Promoted"])
        self.placed_canaries = set((self.dstate or {}).get("PlacedCanaries") or [])
        self.out = GroupDecision()

    # classifyAllocs (filters.go), for what the demo has: live allocations an `alloc stop` marked
    # for migration, and cancelUnneededCanaries' handling of those among the current canaries
    def classify_migrating(self, live: list[dict]) -> tuple[list[dict], list[dict]]:
        """(live allocations that stay, those to migrate). A migrating canary of the current
        deployment (a successful one is none: cancelUnneededServiceDeployments) is only stopped,
        uncounted in DesiredUpdates; computeCanaries, or computePlacements once promoted, places
        a fresh allocation."""
        current = self.d is not None and self.d["Status"] != "successful"
        staying, migrate = [], []
        for a in live:
            if not (a.get("DesiredTransition") or {}).get("Migrate"):
                staying.append(a)
            elif current and a["ID"] in self.placed_canaries:
                self.out.stop.append((a, MIGRATING))
                self.out.uncounted_stops += 1
            else:
                migrate.append(a)
        return staying, migrate

    # cancelUnneededCanaries (reconcile_cluster.go)
    def cancel_unneeded_canaries(self, live: list[dict]) -> tuple[list[dict], list[dict]]:
        """Unpromoted canaries of an older deployment, or of this deployment once it failed, go
        away. Returns the live allocations of this job version and of older ones, without them."""
        current = [a for a in live if _is_current(a, self.job)]
        outdated = [a for a in live if not _is_current(a, self.job)]
        for a in list(outdated):
            if (a.get("DeploymentStatus") or {}).get("Canary"):
                self.out.stop.append((a, NOT_NEEDED))
                outdated.remove(a)
        dstate = self.dstate
        if self.deployment_failed and dstate and dstate["DesiredCanaries"] and not self.promoted:
            for a in list(current):
                if a["ID"] in self.placed_canaries:
                    self.out.stop.append((a, NOT_NEEDED))
                    current.remove(a)
        return current, outdated

    # computeUpdates (reconcile_cluster.go)
    def compute_updates(self, outdated: list[dict]) -> tuple[list[dict], list[dict]]:
        """Allocations of older versions: (destructive updates in name order, in-place updates)."""
        destructive = sorted((a for a in outdated if self._destructive(a)), key=lambda a: name_index(a["Name"]))
        inplace = [a for a in outdated if a not in destructive]
        return destructive, inplace

    # genericAllocUpdateFn (scheduler/util.go), which Nomad hands the reconciler as allocUpdateFn
    def _destructive(self, alloc: dict) -> bool:
        """Changed tasks, or a node that left the job's datacenters or node pool, need a new
        allocation."""
        return tasks_updated(alloc["_job"], self.job, self.name) or not self._node_still_fits(alloc)

    def _node_still_fits(self, alloc: dict) -> bool:
        node = self.store.nodes.get(alloc["NodeID"])
        pool = self.job.get("NodePool") or "default"
        return (
            node is not None
            and datacenter_matches(self.job.get("Datacenters"), node["Datacenter"])
            and (pool == "all" or node["NodePool"] == pool)
        )

    # filterByRescheduleable (filters.go), with the placements and stops of rescheduleNow that
    # computePlacements and placeAllocs make upstream
    def filter_by_rescheduleable(self, failed: list[dict]) -> list[dict]:
        """Failed allocations are replaced after the reschedule policy's delay (5.10): now, or by
        a follow-up evaluation. Returns those that keep their slot."""
        taking_slots = []
        policy = self.group.get("ReschedulePolicy") or {}
        for a in failed:
            in_terminal_deployment = a.get("DeploymentID") and (
                self.store.deployments.get(a["DeploymentID"], {}).get("Status") not in ACTIVE_DEPLOYMENT
            )
            if in_terminal_deployment or not reschedule_eligible(a, policy):
                continue
            when = next_reschedule_time(self.store, a, policy)
            taking_slots.append(a)
            if when <= self.store.now() + 1e-9:
                canary = bool(
                    self.d and a["ID"] in ((self.d["TaskGroups"].get(self.name) or {}).get("PlacedCanaries") or [])
                )
                self.out.stop.append((a, RESCHEDULED))
                self.out.place.append(Placement(self.name, a["Name"], canary=canary, previous=a, reschedule=True))
            else:
                self.out.reschedule_later.append((a, when))
        return taking_slots

    # requiresCanaries (reconcile_cluster.go), and isCanarying
    def requires_canaries(self, destructive: list[dict]) -> bool:
        """Canaries are wanted for this update, or the deployment still waits for its promotion."""
        if not self.upd or self.promoted:
            return False
        return bool((self.upd["Canary"] > 0 and destructive) or (self.dstate and self.dstate["DesiredCanaries"] > 0))

    # computeCanaries (reconcile_cluster.go)
    def compute_canaries(self, destructive: list[dict], canaries: list[dict]) -> None:
        """Place the canaries still missing (none while the deployment is paused or failed)."""
        assert self.upd is not None  # requires_canaries
        want = self.upd["Canary"]
        missing = want - len(canaries) - sum(1 for p in self.out.place if p.canary)
        if missing > 0 and not self.frozen:
            for n in self.next_canaries(destructive, canaries, want)[:missing]:
                self.out.place.append(Placement(self.name, n, canary=True))
                self.out.canary += 1
        elif missing > 0:
            self.out.pending += missing

    # AllocNameIndex.NextCanaries (allocs.go)
    def next_canaries(self, destructive: list[dict], canaries: list[dict], want: int) -> list[str]:
        """Names for new canaries: those of the allocations they will replace first, then free
        indexes up to count + canaries."""
        taken = {a["Name"] for a in canaries}
        names = [a["Name"] for a in destructive if a["Name"] not in taken]
        names += [
            alloc_name(self.job["ID"], self.name, i)
            for i in range(self.count + want)
            if alloc_name(self.job["ID"], self.name, i) not in taken
            and alloc_name(self.job["ID"], self.name, i) not in names
        ]
        return names

    # computeStop (reconcile_cluster.go)
    def compute_stop(
        self, current: list[dict], destructive: list[dict], inplace: list[dict], rescheduling: int, migrate: list[dict]
    ) -> tuple[list[dict], list[dict], list[dict], list[dict]]:
        """Surplus (after promotion, or a lower count): stop old allocations whose name a current
        one already carries first, then migrating ones, then the highest indexes. Returns the
        four sets without them."""
        surplus = len(current) + len(destructive) + len(inplace) + rescheduling + len(migrate) - self.count
        if surplus <= 0:
            return current, destructive, inplace, migrate
        current_names = {a["Name"] for a in current}

        def highest(allocs) -> list[dict]:
            return sorted(allocs, key=lambda a: -name_index(a["Name"]))

        old = destructive + inplace
        victims = (
            highest(a for a in old if a["Name"] in current_names)
            + highest(migrate)
            + highest(a for a in old if a["Name"] not in current_names)
            + highest(current)
        )[:surplus]
        for a in victims:
            self.out.stop.append((a, NOT_NEEDED))
        return (
            [a for a in current if a not in victims],
            [a for a in destructive if a not in victims],
            [a for a in inplace if a not in victims],
            [a for a in migrate if a not in victims],
        )

    # computeMigrations (reconcile_cluster.go)
    def compute_migrations(self, migrate: list[dict]) -> None:
        """Each migrating allocation is stopped and replaced under its name (a batch allocation
        stopped with `reschedule` is left to the rescheduler); while canaries are out, a
        non-canary's replacement runs its job version (downgradeNonCanary)."""
        self.out.migrate += len(migrate)
        canarying = bool(self.dstate and self.dstate["DesiredCanaries"] and not self.promoted)
        for a in sorted(migrate, key=lambda a: name_index(a["Name"])):
            self.out.stop.append((a, MIGRATING))
            transition = a.get("DesiredTransition") or {}
            if a["_job"]["Type"] == "batch" and (
                transition.get("Reschedule") or transition.get("MigrateDisablePlacement")
            ):
                continue
            canary = bool((a.get("DeploymentStatus") or {}).get("Canary"))
            downgrade = a["_job"] if canarying and not canary else None
            self.out.place.append(
                Placement(self.name, a["Name"], canary=canary, previous=a, migrate=True, job=downgrade)
            )

    # computeUnderProvisionedBy (reconcile_cluster.go)
    def compute_under_provisioned_by(self, wanted: int) -> int:
        """How many destructive updates may start now: max_parallel less the deployment's
        allocations not yet healthy; none once one is unhealthy, or while the deployment is
        paused or failed."""
        if self.upd is None:
            return wanted
        if self.d is None or self.frozen:
            return 0
        d_id = self.d["ID"]
        in_deployment = [a for a in self.store.deployment_allocs(d_id) if a["TaskGroup"] == self.name]
        if any((a.get("DeploymentStatus") or {}).get("Healthy") is False for a in in_deployment):
            return 0
        not_healthy = sum(
            1
            for a in in_deployment
            if a["DesiredStatus"] == "run"
            and a["ClientStatus"] in ("pending", "running")
            and (a.get("DeploymentStatus") or {}).get("Healthy") is not True
        )
        return max(0, self.upd["MaxParallel"] - not_healthy)

    # computeDestructiveUpdates (reconcile_cluster.go)
    def compute_destructive_updates(self, destructive: list[dict], limit: int) -> None:
        """Replace up to `limit` allocations; the rest wait for a later evaluation."""
        for a in destructive[:limit]:
            self.out.stop.append((a, UPDATING))
            self.out.place.append(Placement(self.name, a["Name"], previous=a))
            self.out.destructive += 1
        throttled = len(destructive) - min(limit, len(destructive))
        self.out.ignore += throttled
        self.out.pending += throttled

    # the in-place half of computeUpdates (reconcile_cluster.go)
    def place_in_place_updates(self, inplace: list[dict]) -> None:
        """In-place updates happen all at once, unless the deployment is paused or failed."""
        if not self.frozen:
            self.out.inplace.extend(inplace)
        else:
            self.out.ignore += len(inplace)

    # computePlacements (reconcile_cluster.go) with AllocNameIndex.Next (allocs.go)
    def compute_placements(self, kept: list[dict]) -> None:
        """New allocations for the free names up to the group's count."""
        used = {a["Name"] for a in kept} | {p.name for p in self.out.place}
        used |= {a["Name"] for a, _ in self.out.reschedule_later}
        for i in range(self.count):
            n = alloc_name(self.job["ID"], self.name, i)
            if n in used:
                continue
            if len(used) >= self.count:
                break
            if self.frozen:
                self.out.pending += 1
            else:
                self.out.place.append(Placement(self.name, n))
            used.add(n)


# Allocation.RescheduleEligible (nomad/structs/structs.go)
def reschedule_eligible(alloc: dict, policy: dict) -> bool:
    if policy.get("Unlimited"):
        return True
    attempts = policy.get("Attempts") or 0
    events = (alloc.get("RescheduleTracker") or {}).get("Events") or []
    return len(events) < attempts


# Allocation.NextRescheduleTime and NextDelay (nomad/structs/structs.go)
def next_reschedule_time(store: Store, alloc: dict, policy: dict) -> float:
    delay = (policy.get("Delay") or 30_000_000_000) / 1e9
    attempts = len((alloc.get("RescheduleTracker") or {}).get("Events") or [])
    if policy.get("DelayFunction") == "exponential":
        delay *= 2**attempts
    elif policy.get("DelayFunction") == "fibonacci":
        a, b = delay, delay
        for _ in range(attempts):
            a, b = b, a + b
        delay = a
    max_delay = (policy.get("MaxDelay") or 0) / 1e9
    if max_delay:
        delay = min(delay, max_delay)
    return alloc["_finished_at"] + store.scaled(delay)
