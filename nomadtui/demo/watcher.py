"""Nomad's deployment watcher: health counters, progress deadlines, promotion (manual and
automatic), failure, auto-revert, pause and resume (nomad-api.md §5.4-§5.12).

`DeploymentWatcher` mirrors nomad/deploymentwatcher/deployment_watcher.go (and the state store's
deployment bookkeeping it relies on, nomad/state/state_store.go). It changes the cluster's jobs
and evaluations only through the servers' `DeploymentRaftEndpoints`, as Nomad's watcher does.
"""

from __future__ import annotations

import copy
from typing import Protocol, cast

from ..wire import format_rfc3339, multierror, parse_rfc3339
from .reconciler import reschedule_eligible
from .store import ACTIVE_DEPLOYMENT, NomadError, Store
from .structs import RUNNING, running_description, spec_changed
from .timers import Timers

EVAL_BATCH_SECONDS = 1.0


class DeploymentRaftEndpoints(Protocol):
    """What the watcher asks of the servers, each inside the caller's write (the interface of
    this name in nomad/deploymentwatcher/deployments_watcher.go)."""

    def upsert_job(self, job: dict, existing: dict | None, *, stable: bool) -> dict: ...

    def create_eval(
        self, job: dict, triggered_by: str, *, deployment_id: str = "", wait_until: float | None = None
    ) -> dict: ...

    def refresh_job_status(self, job: dict) -> None: ...


def _response(index: int, eval_id: str = "", eval_index: int | None = None, reverted: int | None = None) -> dict:
    """structs.DeploymentUpdateResponse."""
    return {
        "EvalID": eval_id,
        "EvalCreateIndex": index if eval_index is None else eval_index,
        "DeploymentModifyIndex": index,
        "RevertedJobVersion": reverted,
        "Index": index,
    }


class DeploymentWatcher:
    def __init__(self, store: Store, timers: Timers, raft: DeploymentRaftEndpoints) -> None:
        self.store = store
        self.timers = timers
        self.raft = raft
        # Deployments whose batched evaluation is on its way, with the failed allocations it will
        # let the scheduler replace (outstandingAllowReplacements).
        self._batched: dict[str, list[dict]] = {}

    def _active_deployment_of(self, alloc: dict) -> dict | None:
        d = self.store.deployments.get(alloc.get("DeploymentID") or "")
        return d if d is not None and d["Status"] in ACTIVE_DEPLOYMENT else None

    def _job_of(self, d: dict) -> dict:
        # None once the job is purged, until the purge's evaluation cancels the deployment; an
        # operator action in between fails on it (as it always has in the demo).
        return cast(dict, self.store.job(d["Namespace"], d["JobID"]))

    # --- allocation health ---------------------------------------------------------------------

    def record_health(self, alloc: dict, healthy: bool, index: int, now: float) -> None:
        """An allocation's health as its client (or an operator) reports it, inside that write:
        its DeploymentStatus, then the deployment's counters."""
        previous = alloc.get("DeploymentStatus") or {}
        alloc["DeploymentStatus"] = {
            "Healthy": healthy,
            "Timestamp": format_rfc3339(now),
            "Canary": bool(previous.get("Canary")),
            "ModifyIndex": index,
        }
        self.update_deployment_with_alloc(alloc, healthy, previous.get("Healthy"))

    def update_deployment_with_alloc(self, alloc: dict, healthy: bool, was: bool | None) -> None:
        """Deployment counters move in the allocation's own write (updateDeploymentWithAlloc in
        nomad/state/state_store.go); a healthy allocation pushes the progress deadline."""
        d = self._active_deployment_of(alloc)
        if d is None or alloc["TaskGroup"] not in d["TaskGroups"]:
            return
        state = d["TaskGroups"][alloc["TaskGroup"]]
        if healthy and was is None:
            state["HealthyAllocs"] += 1
        elif not healthy and was is None:
            state["UnhealthyAllocs"] += 1
        elif not healthy and was:
            state["HealthyAllocs"] -= 1
            state["UnhealthyAllocs"] += 1
        if healthy and state["ProgressDeadline"]:
            self.store.reset_progress_deadline(state, keep_later=True)
        self.store.put_deployment(d)
        self.schedule_deadline(d)

    def handle_alloc_update(self, alloc: dict) -> None:
        """What the watcher does once an allocation's health changed, in writes of its own
        (handleAllocUpdate and shouldFailEarly in deployment_watcher.go)."""
        d = self._active_deployment_of(alloc)
        if d is None or alloc["TaskGroup"] not in d["TaskGroups"]:
            return
        state = d["TaskGroups"][alloc["TaskGroup"]]
        healthy = (alloc.get("DeploymentStatus") or {}).get("Healthy")
        if healthy is False:
            # shouldFailEarly: no progress deadline, or no reschedule attempt left.
            if state["ProgressDeadline"] == 0 or not reschedule_eligible(self.store, alloc, self.store.now()):
                self.fail_deployment(d, "Failed due to unhealthy allocations", rollback=state["AutoRevert"])
                return
            # handleAllocUpdate: every unhealthy allocation, failed or still running, is let be
            # replaced (allowReplacements), once (!DesiredTransition.ShouldReschedule()).
            if not (alloc.get("DesiredTransition") or {}).get("Reschedule"):
                self.create_batched_update(d, allow_replacement=alloc)
            return
        if healthy:
            if not self.auto_promote_deployment(d):
                self.create_batched_update(d)

    def create_batched_update(self, d: dict, allow_replacement: dict | None = None) -> None:
        """One deployment-watcher evaluation per second at most, written with the failed
        allocations it lets the scheduler replace (createBatchedUpdate, and the AllocUpdateBatcher
        of nomad/deploymentwatcher/batcher.go, which commits both in one
        AllocUpdateDesiredTransitionRequestType write: events of type
        AllocationUpdateDesiredStatus)."""
        replacements = self._batched.get(d["ID"])
        if allow_replacement is not None:
            self._batched.setdefault(d["ID"], []).append(allow_replacement)
        if replacements is not None:
            return
        self._batched.setdefault(d["ID"], [])

        def create() -> None:
            allocs = self._batched.pop(d["ID"], [])
            job = self.store.job(d["Namespace"], d["JobID"])
            if job is None or d["Status"] not in ACTIVE_DEPLOYMENT:
                return
            with self.store.write("AllocationUpdateDesiredStatus"):
                for alloc in allocs:
                    alloc["DesiredTransition"]["Reschedule"] = True
                    self.store.put_alloc(alloc)
                self.watcher_eval(d, job)

        self.timers.after(EVAL_BATCH_SECONDS, create)

    def watcher_eval(self, d: dict, job: dict) -> dict:
        """getEval (deployment_watcher.go), written inside the caller's write: priority the
        deployment's EvalPriority (the job's when 0), and no JobModifyIndex (getEval sets none,
        and neither the FSM nor the state store fills it in for these writes)."""
        ev = self.raft.create_eval(job, "deployment-watcher", deployment_id=d["ID"])
        ev["Priority"] = d.get("EvalPriority") or job["Priority"]
        ev["JobModifyIndex"] = 0
        return ev

    # --- progress deadline -------------------------------------------------------------------

    def done_groups(self, d: dict) -> dict[str, bool]:
        """doneGroups: the groups that have all their healthy allocations (and no canaries
        waiting for a promotion)."""
        healthy: dict[str, int] = {}
        for a in self.store.deployment_allocs(d["ID"]):
            if a["DesiredStatus"] != "run" or a["ClientStatus"] not in ("pending", "running"):
                continue
            if (a.get("DeploymentStatus") or {}).get("Healthy"):
                healthy[a["TaskGroup"]] = healthy.get(a["TaskGroup"], 0) + 1
        return {
            name: not (s["DesiredCanaries"] and not s["Promoted"]) and healthy.get(name, 0) >= s["DesiredTotal"]
            for name, s in d["TaskGroups"].items()
        }

    def progress_cutoff(self, d: dict) -> float | None:
        """getDeploymentProgressCutoff: the earliest RequireProgressBy of the groups not done."""
        done = self.done_groups(d)
        cutoffs = [
            by
            for name, s in d["TaskGroups"].items()
            if not done[name] and s["RequireProgressBy"] and (by := parse_rfc3339(s["RequireProgressBy"])) is not None
        ]
        return min(cutoffs) if cutoffs else None

    def schedule_deadline(self, d: dict) -> None:
        """The watch loop's deadline timer, set again whenever the deployment changed."""
        cutoff = self.progress_cutoff(d)
        if cutoff is not None and d["Status"] == "running":
            self.timers.at(cutoff, lambda: self._deadline_hit(d["ID"]))

    def _deadline_hit(self, deployment_id: str) -> None:
        d = self.store.deployments.get(deployment_id)
        if d is None or d["Status"] != "running":
            return
        cutoff = self.progress_cutoff(d)
        if cutoff is None or cutoff > self.store.now() + 1e-6:
            return
        failing, rollback = self.should_fail(d)
        if failing:
            self.fail_deployment(d, "Failed due to progress deadline", rollback=rollback)

    def should_fail(self, d: dict) -> tuple[bool, bool]:
        """shouldFail: whether a group lacks healthy allocations at the deadline, and whether
        one of those reverts."""
        failing = False
        job = self.store.job(d["Namespace"], d["JobID"])
        for s in d["TaskGroups"].values():
            if s["DesiredCanaries"] > 0 and not s["Promoted"]:
                if s["HealthyAllocs"] >= s["DesiredCanaries"]:
                    continue
            elif s["HealthyAllocs"] >= s["DesiredTotal"]:
                continue
            failing = True
            if s["AutoRevert"] and job is not None:
                return True, True
        return failing, False

    # --- failure and auto-revert ------------------------------------------------------------------

    def fail_deployment(self, d: dict, description: str, *, rollback: bool, note_no_target: bool = True) -> dict:
        """FailDeployment and the watch loop's failure: fail the deployment; with auto_revert,
        write the latest stable version as a new one (handleRollbackValidity), or say there is
        none (DeploymentStatusDescriptionNoRollbackTarget) unless `note_no_target` is off, as in
        setAllocHealth, which says nothing of a missing stable version."""
        store = self.store
        job = store.job(d["Namespace"], d["JobID"])
        reverted = None
        with store.write("DeploymentStatusUpdate") as txn:
            if rollback and job is not None:
                stable = next((v for v in store.versions[(job["Namespace"], job["ID"])] if v["Stable"]), None)
                if stable is None:
                    if note_no_target:
                        description += " - no stable job version to auto revert to"
                elif spec_changed(job, stable):
                    description += f" - rolling back to job version {stable['Version']}"
                    revert = copy.deepcopy(stable)
                    revert["VersionTag"] = None
                    job = self.raft.upsert_job(revert, job, stable=True)
                    # resp.RevertedJobVersion = rollbackJob.Version (deployment_watcher.go,
                    # FailDeployment): the version rolled back to, not the one the revert wrote
                    # (the state store numbers its own copy of the job).
                    reverted = stable["Version"]
                else:
                    description += (
                        f" - not rolling back to stable job version {stable['Version']}"
                        " as current job has same specification"
                    )
            d["Status"], d["StatusDescription"] = "failed", description
            store.put_deployment(d)
            ev = None
            if job is not None:
                ev = self.watcher_eval(d, job)
                self.raft.refresh_job_status(job)
        return _response(txn.index, ev["ID"] if ev else "", reverted=reverted)

    # --- promotion ---------------------------------------------------------------------------------

    def promote_deployment(self, d: dict, groups: list[str] | None) -> dict:
        """PromoteDeployment: promote all groups (groups=None) or the named ones; refuses
        unhealthy canaries (the checks of UpdateDeploymentPromotion, nomad/state/state_store.go)."""
        store = self.store
        selected = [name for name in d["TaskGroups"] if groups is None or name in groups]
        self._check_promotion(d, selected)
        job = self._job_of(d)
        with store.write("DeploymentPromotion") as txn:
            for name in selected:
                s = d["TaskGroups"][name]
                s["Promoted"] = True
                if s["ProgressDeadline"]:
                    store.reset_progress_deadline(s)
                for aid in s["PlacedCanaries"] or []:
                    a = store.allocs.get(aid)
                    if a is not None and (a.get("DeploymentStatus") or {}).get("Canary"):
                        a["DeploymentStatus"] = dict(a["DeploymentStatus"], Canary=False, ModifyIndex=txn.index)
                        store.put_alloc(a)
            if d["Status"] == "running":
                d["StatusDescription"] = running_description(d["TaskGroups"])
            store.put_deployment(d)
            ev = self.watcher_eval(d, job)
        self.schedule_deadline(d)
        return _response(txn.index, ev["ID"])

    def _check_promotion(self, d: dict, selected: list[str]) -> None:
        # A group without canaries needs nothing (need == 0: continue); a deployment with none at
        # all is promoted all the same (its groups marked Promoted), as UpdateDeploymentPromotion does.
        errors = []
        for name in sorted(selected):
            s = d["TaskGroups"][name]
            if s["DesiredCanaries"] == 0:
                continue
            healthy = sum(1 for aid in s["PlacedCanaries"] or [] if self._healthy_and_live(aid))
            if healthy < s["DesiredCanaries"]:
                errors.append(f'Task group "{name}" has {healthy}/{s["DesiredCanaries"]} healthy allocations')
        if errors:
            raise NomadError(500, multierror(errors))

    def _healthy_and_live(self, alloc_id: str) -> bool:
        a = self.store.allocs.get(alloc_id)
        return bool(
            a is not None
            and a["DesiredStatus"] == "run"
            and a["ClientStatus"] in ("pending", "running")
            and (a.get("DeploymentStatus") or {}).get("Healthy")
        )

    def auto_promote_deployment(self, d: dict) -> bool:
        """autoPromoteDeployment: promote once every canary of every auto_promote group is healthy."""
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
                if ((self.store.allocs.get(aid) or {}).get("DeploymentStatus") or {}).get("Healthy")
            )
            if healthy != s["DesiredCanaries"]:
                return False
        self.promote_deployment(d, None)
        return True

    # --- pause / resume and manual health ------------------------------------------------------------

    def pause_deployment(self, d: dict, paused: bool) -> dict:
        """PauseDeployment, and updateDeploymentStatusImpl (nomad/state/state_store.go): a status
        of paused or running resets RequireProgressBy of every group with a progress deadline,
        whether it had one yet or not."""
        store = self.store
        with store.write("DeploymentStatusUpdate") as txn:
            if paused:
                d["Status"], d["StatusDescription"] = "paused", "Deployment is paused"
            else:
                d["Status"], d["StatusDescription"] = "running", RUNNING
            for s in d["TaskGroups"].values():
                if s["ProgressDeadline"]:
                    store.reset_progress_deadline(s)
            store.put_deployment(d)
            ev = None
            if not paused:
                ev = self.watcher_eval(d, self._job_of(d))
        if not paused:
            self.schedule_deadline(d)
        return _response(txn.index, ev["ID"] if ev else "", eval_index=txn.index if ev else 0)

    def set_alloc_health(self, d: dict, healthy: list[str], unhealthy: list[str]) -> dict:
        """SetAllocHealth: an operator's verdict on allocations of the deployment, one
        ApplyDeploymentAllocHealthRequest write with the deployment's failure (and auto-revert)
        when some are unhealthy, and an evaluation (deploymentWatcher.setAllocHealth)."""
        store = self.store
        for aid in healthy + unhealthy:
            a = store.allocs.get(aid)
            if a is None:
                raise NomadError(500, f'unknown alloc "{aid}"')
            if a.get("DeploymentID") != d["ID"]:
                raise NomadError(500, f'alloc "{aid}" is not part of deployment "{d["ID"]}"')
        with store.write("DeploymentAllocHealth") as txn:
            for aid, ok in [(a, True) for a in healthy] + [(a, False) for a in unhealthy]:
                alloc = store.allocs[aid]
                self.record_health(alloc, ok, txn.index, txn.now)
                store.put_alloc(alloc)
            if unhealthy:
                rollback = any(d["TaskGroups"][store.allocs[a]["TaskGroup"]]["AutoRevert"] for a in unhealthy)
                return self.fail_deployment(
                    d, "Failed due to unhealthy allocations", rollback=rollback, note_no_target=False
                )
            ev = self.watcher_eval(d, self._job_of(d))
        return _response(txn.index, ev["ID"])
