"""Nomad's deployment watcher: health counters, progress deadlines, promotion (manual and
automatic), failure, auto-revert, pause and resume (nomad-api.md §5.4-§5.12)."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import TYPE_CHECKING

from .store import ACTIVE_DEPLOYMENT, NomadError, multierror, rfc3339

if TYPE_CHECKING:
    from .cluster import Cluster

RUNNING = "Deployment is running"
NEEDS_PROMOTION = "Deployment is running but requires manual promotion"
AUTO_PROMOTION = "Deployment is running pending automatic promotion"
EVAL_BATCH_SECONDS = 1.0


def running_description(groups: dict) -> str:
    canary_groups = [s for s in groups.values() if s["DesiredCanaries"] > 0 and not s["Promoted"]]
    if not canary_groups:
        return RUNNING
    if all(s["AutoPromote"] for s in canary_groups):
        return AUTO_PROMOTION
    return NEEDS_PROMOTION


def _epoch(value: str | None) -> float | None:
    return datetime.fromisoformat(value).timestamp() if value else None


def _deployment_of(cluster: Cluster, alloc: dict) -> dict | None:
    d = cluster.store.deployments.get(alloc.get("DeploymentID") or "")
    return d if d is not None and d["Status"] in ACTIVE_DEPLOYMENT else None


def record_health(cluster: Cluster, alloc: dict, healthy: bool, was: bool | None) -> None:
    """Deployment counters move in the client's own write (AllocationUpdated)."""
    d = _deployment_of(cluster, alloc)
    if d is None or alloc["TaskGroup"] not in d["TaskGroups"]:
        return
    state = d["TaskGroups"][alloc["TaskGroup"]]
    now = cluster.store.txn.now
    if healthy and was is None:
        state["HealthyAllocs"] += 1
    elif not healthy and was is None:
        state["UnhealthyAllocs"] += 1
    elif not healthy and was:
        state["HealthyAllocs"] -= 1
        state["UnhealthyAllocs"] += 1
    if healthy and state["ProgressDeadline"]:
        pushed = now + cluster.clock.scaled(state["ProgressDeadline"] / 1e9)
        if (_epoch(state["RequireProgressBy"]) or 0) < pushed:
            state["RequireProgressBy"] = rfc3339(pushed)
    cluster.store.put_deployment(d)
    schedule_deadline(cluster, d)


def after_alloc_update(cluster: Cluster, alloc: dict) -> None:
    """What the watcher does once an allocation's health changed (separate writes)."""
    d = _deployment_of(cluster, alloc)
    if d is None or alloc["TaskGroup"] not in d["TaskGroups"]:
        return
    state = d["TaskGroups"][alloc["TaskGroup"]]
    healthy = (alloc.get("DeploymentStatus") or {}).get("Healthy")
    if healthy is False:
        if state["ProgressDeadline"] == 0 or (alloc["ClientStatus"] == "failed" and not _reschedule_left(alloc)):
            fail(cluster, d, "Failed due to unhealthy allocations", rollback=state["AutoRevert"])
            return
        if alloc["ClientStatus"] == "failed":
            with cluster.store.write("AllocationUpdateDesiredStatus"):
                alloc["DesiredTransition"]["Reschedule"] = True
                cluster.store.put_alloc(alloc)
            _batched_eval(cluster, d)
        return
    if healthy:
        if not auto_promote(cluster, d):
            _batched_eval(cluster, d)


def _reschedule_left(alloc: dict) -> bool:
    group = next(g for g in alloc["_job"]["TaskGroups"] if g["Name"] == alloc["TaskGroup"])
    policy = group.get("ReschedulePolicy") or {}
    if policy.get("Unlimited"):
        return True
    used = len((alloc.get("RescheduleTracker") or {}).get("Events") or [])
    return used < (policy.get("Attempts") or 0)


def _batched_eval(cluster: Cluster, d: dict) -> None:
    """One deployment-watcher evaluation per second at most, like Nomad's batcher."""
    if d["ID"] in cluster._batched_evals:
        return
    cluster._batched_evals.add(d["ID"])

    def create() -> None:
        cluster._batched_evals.discard(d["ID"])
        job = cluster.store.job(d["Namespace"], d["JobID"])
        if job is not None and d["Status"] in ACTIVE_DEPLOYMENT:
            cluster.new_eval(job, "deployment-watcher", deployment_id=d["ID"])

    cluster.after(EVAL_BATCH_SECONDS, create)


# --- progress deadline -------------------------------------------------------------------------


def _done_groups(cluster: Cluster, d: dict) -> dict[str, bool]:
    healthy: dict[str, int] = {}
    for a in cluster.store.allocs.values():
        if (
            a.get("DeploymentID") != d["ID"]
            or a["DesiredStatus"] != "run"
            or a["ClientStatus"] not in ("pending", "running")
        ):
            continue
        if (a.get("DeploymentStatus") or {}).get("Healthy"):
            healthy[a["TaskGroup"]] = healthy.get(a["TaskGroup"], 0) + 1
    return {
        name: not (s["DesiredCanaries"] and not s["Promoted"]) and healthy.get(name, 0) >= s["DesiredTotal"]
        for name, s in d["TaskGroups"].items()
    }


def progress_cutoff(cluster: Cluster, d: dict) -> float | None:
    done = _done_groups(cluster, d)
    cutoffs = [
        _epoch(s["RequireProgressBy"])
        for name, s in d["TaskGroups"].items()
        if not done[name] and s["RequireProgressBy"]
    ]
    return min(cutoffs) if cutoffs else None


def schedule_deadline(cluster: Cluster, d: dict) -> None:
    cutoff = progress_cutoff(cluster, d)
    if cutoff is not None and d["Status"] == "running":
        cluster.at(cutoff, lambda: _deadline_hit(cluster, d["ID"]))


def _deadline_hit(cluster: Cluster, deployment_id: str) -> None:
    d = cluster.store.deployments.get(deployment_id)
    if d is None or d["Status"] != "running":
        return
    cutoff = progress_cutoff(cluster, d)
    if cutoff is None or cutoff > cluster.clock.now() + 1e-6:
        return
    failing, rollback = False, False
    job = cluster.store.job(d["Namespace"], d["JobID"])
    for s in d["TaskGroups"].values():
        if s["DesiredCanaries"] > 0 and not s["Promoted"]:
            if s["HealthyAllocs"] >= s["DesiredCanaries"]:
                continue
        elif s["HealthyAllocs"] >= s["DesiredTotal"]:
            continue
        failing = True
        if s["AutoRevert"] and job is not None:
            rollback = True
            break
    if failing:
        fail(cluster, d, "Failed due to progress deadline", rollback=rollback)


# --- failure and auto-revert ------------------------------------------------------------------


def fail(cluster: Cluster, d: dict, description: str, *, rollback: bool) -> dict:
    """Fail the deployment; with auto_revert, write the latest stable version as a new one."""
    from .cluster import spec_changed

    store = cluster.store
    job = store.job(d["Namespace"], d["JobID"])
    reverted = None
    with store.write("DeploymentStatusUpdate") as txn:
        if rollback and job is not None:
            stable = next((v for v in store.versions[(job["Namespace"], job["ID"])] if v["Stable"]), None)
            if stable is None:
                description += " - no stable job version to auto revert to"
            elif spec_changed(job, stable):
                description += f" - rolling back to job version {stable['Version']}"
                revert = copy.deepcopy(stable)
                revert["VersionTag"] = None
                job = cluster._upsert_version(revert, job, stable=True)
                reverted = job["Version"]
            else:
                description += (
                    f" - not rolling back to stable job version {stable['Version']}"
                    " as current job has same specification"
                )
        d["Status"], d["StatusDescription"] = "failed", description
        store.put_deployment(d)
        ev = None
        if job is not None:
            ev = cluster._new_eval(job, "deployment-watcher", deployment_id=d["ID"])
            cluster.refresh_job_status(job)
    return {
        "EvalID": ev["ID"] if ev else "",
        "EvalCreateIndex": txn.index,
        "DeploymentModifyIndex": txn.index,
        "RevertedJobVersion": reverted,
        "Index": txn.index,
    }


# --- promotion ---------------------------------------------------------------------------------


def promote(cluster: Cluster, d: dict, groups: list[str] | None) -> dict:
    """Promote all groups (groups=None) or the named ones; refuses unhealthy canaries."""
    store = cluster.store
    selected = [name for name in d["TaskGroups"] if groups is None or name in groups]
    errors = []
    have_canaries = False
    for name in sorted(selected):
        s = d["TaskGroups"][name]
        if s["DesiredCanaries"] == 0:
            continue
        have_canaries = True
        healthy = sum(
            1
            for aid in s["PlacedCanaries"] or []
            if (a := store.allocs.get(aid)) is not None
            and a["DesiredStatus"] == "run"
            and a["ClientStatus"] in ("pending", "running")
            and (a.get("DeploymentStatus") or {}).get("Healthy")
        )
        if healthy < s["DesiredCanaries"]:
            errors.append(f'Task group "{name}" has {healthy}/{s["DesiredCanaries"]} healthy allocations')
    if errors:
        raise NomadError(500, multierror(errors))
    if not have_canaries:
        raise NomadError(500, "no canaries to promote")
    job = store.job(d["Namespace"], d["JobID"])
    with store.write("DeploymentPromotion") as txn:
        now = txn.now
        for name in selected:
            s = d["TaskGroups"][name]
            s["Promoted"] = True
            if s["ProgressDeadline"]:
                s["RequireProgressBy"] = rfc3339(now + cluster.clock.scaled(s["ProgressDeadline"] / 1e9))
            for aid in s["PlacedCanaries"] or []:
                a = store.allocs.get(aid)
                if a is not None and (a.get("DeploymentStatus") or {}).get("Canary"):
                    a["DeploymentStatus"] = dict(a["DeploymentStatus"], Canary=False, ModifyIndex=txn.index)
                    store.put_alloc(a)
        if d["Status"] == "running":
            d["StatusDescription"] = running_description(d["TaskGroups"])
        store.put_deployment(d)
        ev = cluster._new_eval(job, "deployment-watcher", deployment_id=d["ID"])
    schedule_deadline(cluster, d)
    return {
        "EvalID": ev["ID"],
        "EvalCreateIndex": txn.index,
        "DeploymentModifyIndex": txn.index,
        "RevertedJobVersion": None,
        "Index": txn.index,
    }


def auto_promote(cluster: Cluster, d: dict) -> bool:
    if d["Status"] != "running":
        return False
    canary_groups = [s for s in d["TaskGroups"].values() if s["DesiredCanaries"] > 0]
    if not canary_groups or all(s["Promoted"] for s in canary_groups):
        return False
    for s in canary_groups:
        if not s["AutoPromote"] or len(s["PlacedCanaries"] or []) < s["DesiredCanaries"]:
            return False
        healthy = sum(
            1
            for aid in s["PlacedCanaries"]
            if ((cluster.store.allocs.get(aid) or {}).get("DeploymentStatus") or {}).get("Healthy")
        )
        if healthy != s["DesiredCanaries"]:
            return False
    promote(cluster, d, None)
    return True


# --- pause / resume and manual health ------------------------------------------------------------


def pause(cluster: Cluster, d: dict, paused: bool) -> dict:
    store = cluster.store
    with store.write("DeploymentStatusUpdate") as txn:
        if paused:
            d["Status"], d["StatusDescription"] = "paused", "Deployment is paused"
        else:
            d["Status"], d["StatusDescription"] = "running", RUNNING
        for s in d["TaskGroups"].values():
            if s["ProgressDeadline"] and s["RequireProgressBy"]:
                s["RequireProgressBy"] = rfc3339(txn.now + cluster.clock.scaled(s["ProgressDeadline"] / 1e9))
        store.put_deployment(d)
        ev = None
        if not paused:
            job = store.job(d["Namespace"], d["JobID"])
            ev = cluster._new_eval(job, "deployment-watcher", deployment_id=d["ID"])
    if not paused:
        schedule_deadline(cluster, d)
    return {
        "EvalID": ev["ID"] if ev else "",
        "EvalCreateIndex": txn.index if ev else 0,
        "DeploymentModifyIndex": txn.index,
        "RevertedJobVersion": None,
        "Index": txn.index,
    }


def set_alloc_health(cluster: Cluster, d: dict, healthy: list[str], unhealthy: list[str]) -> dict:
    store = cluster.store
    for aid in healthy + unhealthy:
        a = store.allocs.get(aid)
        if a is None:
            raise NomadError(500, f'unknown alloc "{aid}"')
        if a.get("DeploymentID") != d["ID"]:
            raise NomadError(500, f'alloc "{aid}" is not part of deployment "{d["ID"]}"')
    from .clientsim import _record_health

    with store.write("DeploymentAllocHealth") as txn:
        for aid, ok in [(a, True) for a in healthy] + [(a, False) for a in unhealthy]:
            alloc = store.allocs[aid]
            _record_health(cluster, alloc, ok, txn.index, txn.now)
            store.put_alloc(alloc)
    if unhealthy:
        rollback = any(d["TaskGroups"][store.allocs[a]["TaskGroup"]]["AutoRevert"] for a in unhealthy)
        return fail(cluster, d, "Failed due to unhealthy allocations", rollback=rollback)
    job = store.job(d["Namespace"], d["JobID"])
    ev = cluster.new_eval(job, "deployment-watcher", deployment_id=d["ID"])
    return {
        "EvalID": ev["ID"],
        "EvalCreateIndex": ev["CreateIndex"],
        "DeploymentModifyIndex": ev["CreateIndex"],
        "RevertedJobVersion": None,
        "Index": ev["CreateIndex"],
    }
