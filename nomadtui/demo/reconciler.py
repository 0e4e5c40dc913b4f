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

A failed allocation keeps its slot (and a failed canary counts as a placed canary) until the
reschedule policy replaces it: inside an active deployment only once the deployment watcher has
marked it `DesiredTransition.Reschedule`, then after the policy's delay, through a follow-up
evaluation that waits until then (filterByRescheduleable, createRescheduleLaterEvals).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ..wire import nanos
from .jobdiff import tasks_updated
from .store import ACTIVE_DEPLOYMENT, Store
from .structs import datacenter_matches, lookup_task_group, update_strategy

# Allocation.DesiredDescription of the stops (sstructs.StatusAlloc*, scheduler/structs).
NOT_NEEDED = "alloc not needed due to job update"
UPDATING = "alloc is being updated due to job update"
RESCHEDULED = "alloc was rescheduled because it failed"
MIGRATING = "alloc is being migrated"

# Deployment.StatusDescription of a cancelled deployment (nomad/structs/deployment.go).
STOPPED_JOB = "Cancelled because job is stopped"
NEWER_JOB = "Cancelled due to newer version of job"

# reconcile_cluster.go: an allocation due within rescheduleWindowSize is rescheduled now; follow-up
# evaluations gather the allocations due within batchedFailedAllocWindowSize of the first.
RESCHEDULE_WINDOW_SECONDS = 1.0
BATCHED_FAILED_ALLOC_WINDOW_SECONDS = 5.0
# sstructs.DescReschedulingFollowupEval (scheduler/structs/const.go)
FOLLOWUP_DESCRIPTION = "created for delayed rescheduling"
# maxPastRescheduleEvents (scheduler/generic_sched.go): what an unlimited policy's tracker keeps
MAX_PAST_RESCHEDULE_EVENTS = 5

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
        """placeAllocs counts a rescheduled allocation's replacement in Place and its stop in Stop;
        RescheduleNow is counted only for disconnecting allocations (computeDisconnecting), which
        the demo has none of."""
        fresh = sum(1 for p in self.place if p.previous is None and not p.canary)
        resched = sum(1 for p in self.place if p.reschedule)
        return {
            "Ignore": self.ignore,
            "Place": fresh + resched,
            "Migrate": self.migrate,
            "Stop": len(self.stop) - self.destructive - self.migrate - self.uncounted_stops,
            "InPlaceUpdate": len(self.inplace),
            "DestructiveUpdate": self.destructive,
            "Canary": self.canary,
            "Preemptions": 0,
            "Disconnect": 0,
            "Reconnect": 0,
            "RescheduleNow": 0,
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


def reconcile(store: Store, job: dict, make_deployment: MakeDeployment, eval_id: str = "") -> Decision:
    """Decide what the scheduler does for `job` now (AllocReconciler.Compute in
    reconcile_cluster.go), for the evaluation `eval_id` (none for a plan).
    `make_deployment(job, decision)` builds (without storing) a new deployment when one is
    needed."""
    decision = Decision(job)
    allocs = store.job_allocs(job)
    decision.cancel, current = cancel_unneeded_service_deployments(job, store.latest_deployment(job))
    if job.get("Stop"):
        handle_stop(decision, allocs)
        return decision
    decision.deployment = current
    decision.groups = compute_groups(store, job, allocs, current, eval_id)
    if current is None and _needs_deployment(job, decision):
        # createDeployment: the groups are computed again, now that their work belongs to it.
        decision.deployment = make_deployment(job, decision)
        decision.new_deployment = True
        decision.groups = compute_groups(store, job, allocs, decision.deployment, eval_id)
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
def compute_groups(
    store: Store, job: dict, allocs: list[dict], d: dict | None, eval_id: str = ""
) -> dict[str, GroupDecision]:
    return {group["Name"]: compute_group(store, job, group, allocs, d, eval_id) for group in job["TaskGroups"]}


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
        if g and (g.place or g.inplace or g.pending or g.canary or g.destructive or g.reschedule_later):
            return False
        if dstate["DesiredCanaries"] > 0 and not dstate["Promoted"]:
            return False
        if dstate["HealthyAllocs"] < max(dstate["DesiredTotal"], dstate["DesiredCanaries"]):
            return False
    return True


# computeGroup (reconcile_cluster.go)
def compute_group(
    store: Store, job: dict, group: dict, allocs: list[dict], d: dict | None, eval_id: str = ""
) -> GroupDecision:
    """Reconcile one task group: its allocations sorted into sets, then the stops, canaries,
    updates and placements, in computeGroup's order."""
    r = _GroupReconciler(store, job, group, d, eval_id)
    # filterServerTerminalAllocs, then shouldFilter (filters.go): of the allocations the servers
    # still want running, a service job's complete (or lost) ones are ignored, failed ones wait for
    # the reschedule policy.
    mine = [a for a in allocs if a["TaskGroup"] == r.name and a["DesiredStatus"] == "run"]
    live = [a for a in mine if a["ClientStatus"] in ("pending", "running")]
    failed = [a for a in mine if r.reschedulable(a)]
    live, migrate = r.classify_migrating(live)
    current, outdated = r.cancel_unneeded_canaries(live)
    failed = r.cancel_unneeded_failed_canaries(failed)
    # cancelUnneededCanaries: every canary the servers did not stop counts, failed ones included.
    canaries = [a for a in current + failed if a["ID"] in r.placed_canaries]
    waiting = r.filter_by_rescheduleable(failed)
    kept, destructive, inplace = r.sort_failed(waiting, *r.compute_updates(outdated))
    if r.requires_canaries(destructive):
        r.compute_canaries(destructive, canaries)
        r.out.ignore += len(current) + len(destructive) + len(kept)
        r.out.inplace.extend(inplace)
        r.compute_migrations(migrate)
        return r.out
    current, destructive, inplace, migrate = r.compute_stop(current, destructive, inplace, len(kept), migrate)
    limit = r.compute_under_provisioned_by(len(destructive))
    r.compute_destructive_updates(destructive, limit)
    r.out.ignore += len(current) + len(kept)
    r.place_in_place_updates(inplace)
    r.compute_placements(current + destructive + inplace + migrate + kept)
    r.compute_migrations(migrate)
    return r.out


class _GroupReconciler:
    """computeGroup's state for one task group: the group, its deployment's state, and the
    decision as it is built."""

    def __init__(self, store: Store, job: dict, group: dict, d: dict | None, eval_id: str = "") -> None:
        self.store = store
        self.job = job
        self.eval_id = eval_id
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
        # isCanarying: the deployment has canaries out, not promoted yet
        self.canarying = bool(self.dstate and self.dstate["DesiredCanaries"] and not self.promoted)
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
        current, outdated = [], []
        for a in live:
            if self._unneeded_canary(a):
                self.out.stop.append((a, NOT_NEEDED))
            elif _is_current(a, self.job):
                current.append(a)
            else:
                outdated.append(a)
        return current, outdated

    # cancelUnneededCanaries (reconcile_cluster.go): its stopSet holds failed canaries too
    def cancel_unneeded_failed_canaries(self, failed: list[dict]) -> list[dict]:
        """The failed canaries that go away with their deployment are stopped as the live ones
        are (`alloc not needed due to job update`). Returns the other failed allocations."""
        kept = []
        for a in failed:
            if self._unneeded_canary(a):
                self.out.stop.append((a, NOT_NEEDED))
            else:
                kept.append(a)
        return kept

    def _unneeded_canary(self, a: dict) -> bool:
        if not _is_current(a, self.job):
            return bool((a.get("DeploymentStatus") or {}).get("Canary"))
        return self.deployment_failed and self.canarying and a["ID"] in self.placed_canaries

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

    # shouldFilter (filters.go) for a service job's allocation the servers want running, and
    # filterByRescheduleable's skip of the failed allocations already replaced
    def reschedulable(self, a: dict) -> bool:
        """A failed allocation is left to the reschedule policy; a complete (or lost) one is
        ignored, a pending or running one is untainted."""
        return a["ClientStatus"] == "failed" and not a.get("NextAllocation")

    # filterByRescheduleable (filters.go)
    def filter_by_rescheduleable(self, failed: list[dict]) -> list[dict]:
        """Failed allocations are replaced by the reschedule policy (5.10): now, later (a follow-up
        evaluation waits until then: createRescheduleLaterEvals), or not at all. Returns those
        that keep their slot (untainted) meanwhile."""
        untainted = []
        for a in failed:
            now, later, when = self.update_by_reschedulable(a)
            if now:
                self.reschedule_now(a)
                continue
            untainted.append(a)
            if later:
                self.out.reschedule_later.append((a, when))
        return untainted

    # updateByReschedulable (filters.go)
    def update_by_reschedulable(self, a: dict) -> tuple[bool, bool, float]:
        """(now, later, when). Inside the active deployment an allocation waits until the
        deployment watcher marks it (DesiredTransition.ShouldReschedule); then it is due at
        NextRescheduleTime, now when that is within rescheduleWindowSize or this is its follow-up
        evaluation, later when no follow-up evaluation was made for it yet."""
        d = self.d
        transition = a.get("DesiredTransition") or {}
        if (
            d is not None
            and a.get("DeploymentID") == d["ID"]
            and d["Status"] in ACTIVE_DEPLOYMENT
            and not transition.get("Reschedule")
        ):
            return False, False, 0.0
        forced = bool(transition.get("ForceReschedule"))  # ShouldForceReschedule of a terminal alloc
        when, eligible = next_reschedule_time(self.store, a)
        followup = a.get("FollowupEvalID") or ""
        due = when - self.store.now() <= self.store.scaled(RESCHEDULE_WINDOW_SECONDS)
        if eligible and ((self.eval_id and followup == self.eval_id) or due):
            return True, False, when
        return forced, eligible and not followup, when

    # computePlacements and placeAllocs (reconcile_cluster.go), for an allocation rescheduled now
    def reschedule_now(self, a: dict) -> None:
        """Its replacement is placed under its name (a canary for a canary; while canaries are
        out, a non-canary's keeps its job version: downgradeNonCanary) and it is stopped, unless it
        belongs to this job version's failed deployment (partOfFailedDeployment)."""
        if self.deployment_failed and self.d is not None and a.get("DeploymentID") == self.d["ID"]:
            return
        canary = bool((a.get("DeploymentStatus") or {}).get("Canary"))
        downgrade = a["_job"] if self.canarying and not canary else None
        self.out.stop.append((a, RESCHEDULED))
        self.out.place.append(
            Placement(self.name, a["Name"], canary=canary, previous=a, reschedule=True, job=downgrade)
        )

    # computeUpdates (reconcile_cluster.go), for the failed allocations that keep their slot
    def sort_failed(
        self, waiting: list[dict], destructive: list[dict], inplace: list[dict]
    ) -> tuple[list[dict], list[dict], list[dict]]:
        """(kept, destructive, inplace): a failed allocation of this job version is ignored and
        keeps its slot; one of an older version whose tasks changed is replaced by the update
        like a running one; genericAllocUpdateFn updates no terminal allocation in place."""
        kept = []
        for a in waiting:
            if not _is_current(a, self.job) and self._destructive(a):
                destructive.append(a)
            else:
                kept.append(a)
        return kept, sorted(destructive, key=lambda a: name_index(a["Name"])), inplace

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
        # `canaries` holds the failed ones the servers have not stopped: a failed canary is
        # replaced by its reschedule, not by another canary.
        missing = want - len(canaries)
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
        canarying = self.canarying
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

    # computeUnderProvisionedBy (reconcile_cluster.go), less the replacements placeAllocs places
    def compute_under_provisioned_by(self, wanted: int) -> int:
        """How many destructive updates may start now: max_parallel less the deployment's
        untainted allocations not yet healthy and the replacements of rescheduled ones; none
        while one is unhealthy, or while the deployment is paused or failed."""
        if self.upd is None:
            return wanted
        if self.d is None or self.frozen:
            return 0
        rescheduled = {p.previous["ID"] for p in self.out.place if p.reschedule and p.previous is not None}
        # untainted.filterByDeployment: neither stopped by the servers, nor complete, nor
        # rescheduled now
        in_deployment = [
            a
            for a in self.store.deployment_allocs(self.d["ID"])
            if a["TaskGroup"] == self.name
            and a["DesiredStatus"] == "run"
            and a["ClientStatus"] in ("pending", "running", "failed")
            and a["ID"] not in rescheduled
        ]
        if any((a.get("DeploymentStatus") or {}).get("Healthy") is False for a in in_deployment):
            return 0
        not_healthy = sum(1 for a in in_deployment if (a.get("DeploymentStatus") or {}).get("Healthy") is not True)
        return max(0, self.upd["MaxParallel"] - not_healthy - len(rescheduled))

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


def reschedule_policy(alloc: dict) -> dict:
    """Allocation.ReschedulePolicy: the group's, in the job version the allocation runs."""
    return lookup_task_group(alloc["_job"], alloc["TaskGroup"]).get("ReschedulePolicy") or {}


def _reschedule_events(alloc: dict) -> list[dict]:
    return (alloc.get("RescheduleTracker") or {}).get("Events") or []


def _last_event_time(alloc: dict) -> float:
    """Allocation.LastEventTime: when its tasks finished, else its last change."""
    finished = alloc.get("_finished_at")
    return finished if finished is not None else alloc["ModifyTime"] / 1e9


# RescheduleTracker.rescheduleInfo (nomad/structs/structs.go)
def _attempted(store: Store, alloc: dict, policy: dict, fail_time: float) -> int:
    """The reschedules within the policy's interval before `fail_time`."""
    interval = store.scaled((policy.get("Interval") or 0) / 1e9)
    return sum(1 for e in _reschedule_events(alloc) if fail_time - e["RescheduleTime"] / 1e9 < interval)


# Allocation.RescheduleEligible and RescheduleTracker.RescheduleEligible (nomad/structs)
def reschedule_eligible(store: Store, alloc: dict, fail_time: float) -> bool:
    """Attempts left in the group's reschedule policy (what Node.UpdateAlloc asks before it
    creates an `alloc-failure` evaluation)."""
    policy = reschedule_policy(alloc)
    attempts = policy.get("Attempts") or 0
    if policy.get("Unlimited"):
        return True
    return attempts > 0 and _attempted(store, alloc, policy, fail_time) < attempts


# Allocation.NextDelay (nomad/structs/alloc.go)
def next_delay(store: Store, alloc: dict) -> int:
    """The delay (ns of rollout time) before the allocation's replacement: the policy's delay
    first, then by its delay function from the last reschedule's, capped at max_delay (and
    back to the first delay once the last reschedule is longer ago than the cap)."""
    policy = reschedule_policy(alloc)
    delay = policy.get("Delay") or 0
    events = _reschedule_events(alloc)
    function = policy.get("DelayFunction")
    if not events or function not in ("exponential", "fibonacci"):
        return delay
    if function == "exponential":
        delay = events[-1]["Delay"] * 2
    elif len(events) >= 2:
        last, before = events[-1]["Delay"], events[-2]["Delay"]
        delay = last if (before == policy.get("MaxDelay") and last == policy.get("Delay")) else last + before
    max_delay = policy.get("MaxDelay") or 0
    if 0 < max_delay < delay:
        delay = max_delay
        since = _last_event_time(alloc) - events[-1]["RescheduleTime"] / 1e9
        if since > store.scaled(delay / 1e9):
            delay = policy.get("Delay") or 0
    return delay


# Allocation.NextRescheduleTime (nomad/structs/alloc.go)
def next_reschedule_time(store: Store, alloc: dict) -> tuple[float, bool]:
    """(when the allocation may be replaced, whether the policy allows it)."""
    policy = reschedule_policy(alloc)
    attempts = policy.get("Attempts") or 0
    if not policy or (attempts == 0 and not policy.get("Unlimited")):
        return 0.0, False
    if alloc["DesiredStatus"] == "stop" or alloc["ClientStatus"] not in ("failed", "lost"):
        return 0.0, False
    fail_time = _last_event_time(alloc)
    delay = next_delay(store, alloc)
    eligible = bool(policy.get("Unlimited")) or (attempts > 0 and alloc.get("RescheduleTracker") is None)
    if attempts > 0 and _reschedule_events(alloc):
        eligible = _attempted(store, alloc, policy, fail_time) < attempts and delay < (policy.get("Interval") or 0)
    return fail_time + store.scaled(delay / 1e9), eligible


# UpdateRescheduleTracker (scheduler/generic_sched.go)
def replacement_reschedule_tracker(store: Store, prev: dict, now: float) -> dict:
    """The replacement's RescheduleTracker: the failed allocation's events (those within the
    policy's interval, or the last few of an unlimited policy) and this reschedule, with the
    delay it waited (NextDelay)."""
    policy = reschedule_policy(prev)
    events = _reschedule_events(prev)
    if (policy.get("Attempts") or 0) > 0:
        interval = store.scaled((policy.get("Interval") or 0) / 1e9)
        events = [e for e in events if interval > 0 and now - e["RescheduleTime"] / 1e9 <= interval]
    else:
        events = events[-MAX_PAST_RESCHEDULE_EVENTS:]
    event = {"RescheduleTime": nanos(now), "PrevAllocID": prev["ID"], "PrevNodeID": prev["NodeID"]}
    event["Delay"] = next_delay(store, prev)
    return {"Events": [dict(e) for e in events] + [event], "LastReschedule": "ok"}


# createLaterEvals (reconcile_cluster.go): its batches
def later_eval_batches(later: list[tuple[dict, float]], window: float) -> list[tuple[float, list[dict]]]:
    """The allocations to reschedule later, by time, in batches: each batch's evaluation waits
    until its first allocation is due and takes those due within `window` of it."""
    batches: list[tuple[float, list[dict]]] = []
    for alloc, when in sorted(later, key=lambda item: item[1]):
        if batches and when - batches[-1][0] < window:
            batches[-1][1].append(alloc)
        else:
            batches.append((when, [alloc]))
    return batches
