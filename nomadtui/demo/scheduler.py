"""Nomad's reconciler for service jobs, as a pure decision: what to place, stop and update.

`reconcile()` reads the store and returns a `Decision` without changing anything, so the same
code answers `POST /v1/job/:id/plan` (dry run) and processes evaluations (then applied by the
cluster). The rules follow nomad-api.md §5: rolling updates as a sliding window of
`max_parallel`, canaries beside the old allocations until promotion, surplus stops after
promotion, in-place updates all at once, rescheduling of failed allocations.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field

from .jobdiff import tasks_updated
from .store import ACTIVE_DEPLOYMENT, Store

NOT_NEEDED = "alloc not needed due to job update"
UPDATING = "alloc is being updated due to job update"
RESCHEDULED = "alloc was rescheduled because it failed"

_NAME_INDEX = re.compile(r"\[(\d+)\]$")


def name_index(alloc_name: str) -> int:
    m = _NAME_INDEX.search(alloc_name)
    return int(m.group(1)) if m else 0


def alloc_name(job_id: str, group: str, index: int) -> str:
    return f"{job_id}.{group}[{index}]"


def update_strategy(job: dict, group: dict) -> dict | None:
    """The group's update block when it drives deployments (service jobs, max_parallel > 0)."""
    upd = group.get("Update")
    if job.get("Type") != "service" or not upd or upd.get("MaxParallel", 0) <= 0:
        return None
    return upd


@dataclass
class Placement:
    group: str
    name: str
    canary: bool = False
    previous: dict | None = None  # the alloc this one replaces (update or reschedule)
    reschedule: bool = False


@dataclass
class GroupDecision:
    place: list[Placement] = field(default_factory=list)
    stop: list[tuple[dict, str]] = field(default_factory=list)
    inplace: list[dict] = field(default_factory=list)
    ignore: int = 0
    destructive: int = 0
    canary: int = 0
    reschedule_later: list[tuple[dict, float]] = field(default_factory=list)
    # Work that remains for later passes (throttled updates, unplaced canaries): not done yet.
    pending: int = 0

    def desired_updates(self) -> dict:
        fresh = sum(1 for p in self.place if p.previous is None and not p.canary)
        resched = sum(1 for p in self.place if p.reschedule)
        return {
            "Ignore": self.ignore,
            "Place": fresh + resched,
            "Migrate": 0,
            "Stop": len(self.stop) - self.destructive - resched,
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
        placing = any(not p.reschedule for p in self.place)
        return bool(placing or self.inplace or self.destructive or self.canary or self.pending)


@dataclass
class Decision:
    job: dict
    groups: dict[str, GroupDecision] = field(default_factory=dict)
    deployment: dict | None = None  # the deployment new work belongs to
    new_deployment: bool = False
    cancel: tuple[dict, str] | None = None  # (deployment, description)
    successful: bool = False

    def desired_tg_updates(self) -> dict:
        return {name: g.desired_updates() for name, g in self.groups.items()}


def reconcile(store: Store, job: dict, make_deployment) -> Decision:
    """Decide what the scheduler does for `job` now. `make_deployment(job, decision)` builds
    (without storing) a new deployment when one is needed."""
    decision = Decision(job)
    allocs = store.job_allocs(job)
    latest = store.latest_deployment(job)
    active = latest if latest and latest["Status"] in ACTIVE_DEPLOYMENT else None

    if job.get("Stop"):
        for a in allocs:
            if a["DesiredStatus"] == "run" and a["ClientStatus"] not in ("complete", "lost"):
                decision.groups.setdefault(a["TaskGroup"], GroupDecision()).stop.append((a, NOT_NEEDED))
        if active:
            decision.cancel = (active, "Cancelled because job is stopped")
        return decision

    current = latest if latest and _for_version(latest, job) else None
    if active and active is not current:
        decision.cancel = (active, "Cancelled due to newer version of job")

    decision.deployment = current
    for group in job["TaskGroups"]:
        decision.groups[group["Name"]] = _reconcile_group(store, job, group, allocs, current)

    needs_deployment = any(
        update_strategy(job, g) and decision.groups[g["Name"]].has_deployment_work() for g in job["TaskGroups"]
    )
    if current is None and needs_deployment:
        decision.deployment = make_deployment(job, decision)
        decision.new_deployment = True
        for group in job["TaskGroups"]:
            decision.groups[group["Name"]] = _reconcile_group(store, job, group, allocs, decision.deployment)

    d = decision.deployment
    if d is not None and d["Status"] == "running" and _complete(d, decision):
        decision.successful = True
    return decision


def _for_version(d: dict, job: dict) -> bool:
    return d["JobVersion"] == job["Version"] and d["JobSpecModifyIndex"] == job["JobModifyIndex"]


def _is_current(alloc: dict, job: dict) -> bool:
    aj = alloc["_job"]
    return aj["Version"] == job["Version"] and aj["JobModifyIndex"] == job["JobModifyIndex"]


def _complete(d: dict, decision: Decision) -> bool:
    for name, dstate in d["TaskGroups"].items():
        g = decision.groups.get(name)
        if g and (g.place or g.inplace or g.pending or g.canary or g.destructive):
            return False
        if dstate["DesiredCanaries"] > 0 and not dstate["Promoted"]:
            return False
        if dstate["HealthyAllocs"] < max(dstate["DesiredTotal"], dstate["DesiredCanaries"]):
            return False
    return True


def _reconcile_group(store: Store, job: dict, group: dict, allocs: list[dict], d: dict | None) -> GroupDecision:
    name = group["Name"]
    count = group.get("Count", 1)
    upd = update_strategy(job, group)
    out = GroupDecision()
    mine = [a for a in allocs if a["TaskGroup"] == name]
    live = [a for a in mine if a["DesiredStatus"] == "run" and a["ClientStatus"] in ("pending", "running")]
    failed = [
        a for a in mine if a["DesiredStatus"] == "run" and a["ClientStatus"] == "failed" and not a.get("NextAllocation")
    ]

    dstate = d["TaskGroups"].get(name) if d else None
    d_status = d["Status"] if d else None
    frozen = d_status in ("paused", "failed", "cancelled")
    promoted = bool(dstate and dstate["Promoted"])
    placed_canaries = set((dstate or {}).get("PlacedCanaries") or [])

    current = [a for a in live if _is_current(a, job)]
    outdated = [a for a in live if not _is_current(a, job)]

    # Unpromoted canaries of an older deployment, or of this deployment once it failed, go away.
    for a in list(outdated):
        if (a.get("DeploymentStatus") or {}).get("Canary"):
            out.stop.append((a, NOT_NEEDED))
            outdated.remove(a)
    if d_status == "failed" and dstate and dstate["DesiredCanaries"] and not promoted:
        for a in list(current):
            if a["ID"] in placed_canaries:
                out.stop.append((a, NOT_NEEDED))
                current.remove(a)

    destructive = sorted(
        (a for a in outdated if tasks_updated(a["_job"], job, name) or not _node_still_fits(store, job, a)),
        key=lambda a: name_index(a["Name"]),
    )
    inplace = [a for a in outdated if a not in destructive]
    canaries = [a for a in current if a["ID"] in placed_canaries]

    rescheduling = _plan_reschedules(store, job, group, failed, d, out)

    want_canaries = upd["Canary"] if upd else 0
    canarying = (
        bool(upd)
        and not promoted
        and ((want_canaries > 0 and destructive) or bool(dstate and dstate["DesiredCanaries"] > 0))
    )
    if canarying:
        missing = want_canaries - len(canaries) - sum(1 for p in out.place if p.canary)
        if missing > 0 and not frozen:
            taken = {a["Name"] for a in canaries}
            names = [a["Name"] for a in destructive if a["Name"] not in taken]
            names += [
                alloc_name(job["ID"], name, i)
                for i in range(count + want_canaries)
                if alloc_name(job["ID"], name, i) not in taken and alloc_name(job["ID"], name, i) not in names
            ]
            for n in names[:missing]:
                out.place.append(Placement(name, n, canary=True))
                out.canary += 1
        elif missing > 0:
            out.pending += missing
        out.ignore += len(current) + len(destructive)
        out.inplace.extend(inplace)
        return out

    # Surplus (after promotion, or a lower count): stop old allocations whose name a current
    # one already carries first, then the highest indexes.
    everyone = current + destructive + inplace
    surplus = len(everyone) + len(rescheduling) - count
    if surplus > 0:
        current_names = {a["Name"] for a in current}
        old_first = sorted(
            destructive + inplace, key=lambda a: (a["Name"] not in current_names, -name_index(a["Name"]))
        )
        victims = (old_first + sorted(current, key=lambda a: -name_index(a["Name"])))[:surplus]
        for a in victims:
            out.stop.append((a, NOT_NEEDED))
        destructive = [a for a in destructive if a not in victims]
        inplace = [a for a in inplace if a not in victims]
        current = [a for a in current if a not in victims]

    limit = _rolling_limit(store, upd, d, name, frozen, len(destructive))
    for a in destructive[:limit]:
        out.stop.append((a, UPDATING))
        out.place.append(Placement(name, a["Name"], previous=a))
        out.destructive += 1
    throttled = len(destructive) - min(limit, len(destructive))
    out.ignore += len(current) + throttled
    out.pending += throttled
    if not frozen:
        out.inplace.extend(inplace)
    else:
        out.ignore += len(inplace)

    used = {a["Name"] for a in current + destructive + inplace} | {p.name for p in out.place}
    used |= {a["Name"] for a, _ in out.reschedule_later}
    for i in range(count):
        n = alloc_name(job["ID"], name, i)
        if n in used:
            continue
        if len(used) >= count:
            break
        if frozen:
            out.pending += 1
        else:
            out.place.append(Placement(name, n))
        used.add(n)
    return out


def _node_still_fits(store: Store, job: dict, alloc: dict) -> bool:
    """An allocation whose node left the job's datacenters or node pool must move."""
    node = store.nodes.get(alloc["NodeID"])
    pool = job.get("NodePool") or "default"
    return (
        node is not None
        and datacenter_matches(job.get("Datacenters"), node["Datacenter"])
        and (pool == "all" or node["NodePool"] == pool)
    )


def _rolling_limit(store: Store, upd: dict | None, d: dict | None, group: str, frozen: bool, wanted: int) -> int:
    if upd is None:
        return wanted
    if d is None or frozen:
        return 0
    in_deployment = [a for a in store.allocs.values() if a.get("DeploymentID") == d["ID"] and a["TaskGroup"] == group]
    if any((a.get("DeploymentStatus") or {}).get("Healthy") is False for a in in_deployment):
        return 0
    not_healthy = sum(
        1
        for a in in_deployment
        if a["DesiredStatus"] == "run"
        and a["ClientStatus"] in ("pending", "running")
        and (a.get("DeploymentStatus") or {}).get("Healthy") is not True
    )
    return max(0, upd["MaxParallel"] - not_healthy)


def _plan_reschedules(
    store: Store, job: dict, group: dict, failed: list[dict], d: dict | None, out: GroupDecision
) -> list[dict]:
    """Failed allocations are replaced after the reschedule policy's delay (5.10)."""
    taking_slots = []
    policy = group.get("ReschedulePolicy") or {}
    for a in failed:
        in_terminal_deployment = a.get("DeploymentID") and (
            store.deployments.get(a["DeploymentID"], {}).get("Status") not in ACTIVE_DEPLOYMENT
        )
        if in_terminal_deployment or not _reschedule_eligible(a, policy):
            continue
        when = _reschedule_time(store, a, policy)
        taking_slots.append(a)
        if when <= store.now() + 1e-9:
            canary = bool(d and a["ID"] in ((d["TaskGroups"].get(group["Name"]) or {}).get("PlacedCanaries") or []))
            out.stop.append((a, RESCHEDULED))
            out.place.append(Placement(group["Name"], a["Name"], canary=canary, previous=a, reschedule=True))
        else:
            out.reschedule_later.append((a, when))
    return taking_slots


def _reschedule_eligible(alloc: dict, policy: dict) -> bool:
    if policy.get("Unlimited"):
        return True
    attempts = policy.get("Attempts") or 0
    events = (alloc.get("RescheduleTracker") or {}).get("Events") or []
    return len(events) < attempts


def _reschedule_time(store: Store, alloc: dict, policy: dict) -> float:
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


# --- placement ---------------------------------------------------------------------------------

NODE_CPU = 4000
NODE_MEMORY = 8192


def alloc_resources(job: dict, group_name: str) -> tuple[int, int]:
    group = next(g for g in job["TaskGroups"] if g["Name"] == group_name)
    cpu = sum((t.get("Resources") or {}).get("CPU") or 0 for t in group["Tasks"])
    mem = sum((t.get("Resources") or {}).get("MemoryMB") or 0 for t in group["Tasks"])
    return cpu, mem


def datacenter_matches(patterns: list[str], dc: str) -> bool:
    return any(fnmatch.fnmatchcase(dc, p) for p in patterns or ["*"])


def assign_nodes(store: Store, job: dict, decision: Decision) -> tuple[dict[int, str], dict[str, dict]]:
    """Choose a node for every placement: ({id(placement): node id}, {group: AllocMetric})."""
    stopping = {a["ID"] for g in decision.groups.values() for a, _ in g.stop}
    used: dict[str, list[int]] = {n: [0, 0] for n in store.nodes}
    per_node_group: dict[tuple[str, str], int] = {}
    for a in store.allocs.values():
        if a["ID"] in stopping or a["DesiredStatus"] != "run" or a["ClientStatus"] not in ("pending", "running"):
            continue
        cpu, mem = alloc_resources(a["_job"], a["TaskGroup"])
        used[a["NodeID"]][0] += cpu
        used[a["NodeID"]][1] += mem
        if a["JobID"] == job["ID"]:
            key = (a["NodeID"], a["TaskGroup"])
            per_node_group[key] = per_node_group.get(key, 0) + 1

    pool = job.get("NodePool") or "default"
    in_pool = [n for n in store.nodes.values() if pool == "all" or n["NodePool"] == pool]
    candidates = [n for n in in_pool if n["Status"] == "ready" and n["SchedulingEligibility"] == "eligible"]
    feasible = [n for n in candidates if datacenter_matches(job.get("Datacenters"), n["Datacenter"])]

    chosen: dict[str, str] = {}
    failures: dict[str, dict] = {}
    for group_name, g in decision.groups.items():
        cpu, mem = alloc_resources(job, group_name)
        for p in g.place:
            fits = [n for n in feasible if used[n["ID"]][0] + cpu <= NODE_CPU and used[n["ID"]][1] + mem <= NODE_MEMORY]
            if not fits:
                failures[group_name] = _failure_metric(
                    failures.get(group_name), in_pool, candidates, feasible, used, cpu, mem
                )
                continue
            best = min(per_node_group.get((n["ID"], group_name), 0) for n in fits)
            node = store.rng.choice([n for n in fits if per_node_group.get((n["ID"], group_name), 0) == best])
            chosen[id(p)] = node["ID"]
            used[node["ID"]][0] += cpu
            used[node["ID"]][1] += mem
            per_node_group[(node["ID"], group_name)] = per_node_group.get((node["ID"], group_name), 0) + 1
    return chosen, failures


def _failure_metric(previous: dict | None, in_pool, candidates, feasible, used, cpu, mem) -> dict:
    if previous is not None:
        previous["CoalescedFailures"] += 1
        return previous
    available: dict[str, int] = {}
    for n in candidates:
        available[n["Datacenter"]] = available.get(n["Datacenter"], 0) + 1
    dims: dict[str, int] = {}
    for n in feasible:
        dim = "cpu" if used[n["ID"]][0] + cpu > NODE_CPU else "memory"
        dims[dim] = dims.get(dim, 0) + 1
    return {
        "NodesEvaluated": len(feasible),
        "NodesFiltered": len(candidates) - len(feasible),
        "NodesInPool": len(in_pool),
        "NodesAvailable": available,
        "ClassFiltered": None,
        "ConstraintFiltered": None,
        "NodesExhausted": len(feasible),
        "ClassExhausted": None,
        "DimensionExhausted": dims or None,
        "QuotaExhausted": None,
        "ResourcesExhausted": None,
        "Scores": None,
        "ScoreMetaData": None,
        "AllocationTime": 48_213,
        "CoalescedFailures": 0,
    }
