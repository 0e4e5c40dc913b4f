"""The demo cluster: Nomad's server (jobs, evaluations, scheduler, deployment watcher) and its
clients, on an injectable clock.

Everything runs on one thread (the demo server's event loop): API calls change the store in
write transactions and schedule timers; `run_due()` fires the timers that are due (evaluations
are processed by zero-delay timers, so an API call returns before the scheduler runs, as in
Nomad). With a manual clock, time moves only through `advance()`.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

from ..wire import format_rfc3339, multierror, nanos
from . import jobspec
from .clientsim import ClientSimulator
from .clock import Clock
from .gostrconv import quote
from .jobdiff import annotate_plan, job_diff
from .reconciler import Decision, reconcile
from .scheduler import assign_nodes
from .store import ACTIVE_DEPLOYMENT, NomadError, Store
from .structs import running_description, spec_changed, update_strategy
from .timers import Timers
from .watcher import DeploymentWatcher

JOBS_DIR = Path(__file__).parent / "jobs"
SEED_JOB_FILE = JOBS_DIR / "httpsbackend-tcp-sni-1.nomad"
DEFAULT_SPEED = 10.0
HISTORY_SECONDS = 3600.0  # how far back the seed job was started
TRACKED_VERSIONS = 6  # Nomad's job_tracked_versions default
JOB_MAX_COUNT = 50000  # Nomad's job_max_count default (structs.JobDefaultMaxCount)

# Identity of the three client nodes (the article's short ids).
NODES = [
    ("7acdd7bc-3c3e-2a1b-9f53-2e8bc56d01a7", "nomad-client-1", "10.0.0.11"),
    ("c281658a-54f0-4d4c-8f6e-0b7c1e3a9d42", "nomad-client-2", "10.0.0.12"),
    ("9e3ef19f-8a27-4c61-b0d5-6f4a2c8e1b93", "nomad-client-3", "10.0.0.13"),
]


class Cluster:
    """The servers, with the deployment watcher and the client nodes they drive."""

    def __init__(self, clock: Clock | None = None, *, seed: int | None = None, bootstrap: bool = True) -> None:
        self.clock = clock or Clock(DEFAULT_SPEED)
        self.store = Store(self.clock.now, self.clock.scaled, seed)
        self.timers = Timers(self.clock)
        self.watcher = DeploymentWatcher(self.store, self.timers, self)
        self.clients = ClientSimulator(self.store, self.timers, self.watcher, self)
        self._add_nodes()
        if bootstrap:
            self._bootstrap()

    # --- time ---------------------------------------------------------------------------------

    def next_due(self) -> float | None:
        return self.timers.next_due()

    def run_due(self) -> None:
        self.timers.run_due()

    def advance(self, seconds: float) -> None:
        """Manual clock only: let `seconds` of clock time pass, firing timers in order."""
        self.advance_to(self.clock.now() + seconds)

    def advance_to(self, target: float) -> None:
        self.timers.advance_to(target)

    # --- start-up -----------------------------------------------------------------------------

    def _add_nodes(self) -> None:
        with self.store.write("NodeRegistration") as txn:
            for node_id, name, address in NODES:
                node = {
                    "Address": address,
                    "ID": node_id,
                    "Datacenter": "dc1",
                    "Name": name,
                    "NodePool": "default",
                    "NodeClass": "",
                    "Version": "2.0.5",
                    "Drain": False,
                    "SchedulingEligibility": "eligible",
                    "Status": "ready",
                    "StatusDescription": "",
                    "Drivers": {
                        "docker": {
                            "Attributes": {"driver.docker": "true", "driver.docker.version": "28.2.2"},
                            "Detected": True,
                            "Healthy": True,
                            "HealthDescription": "Healthy",
                            "UpdateTime": format_rfc3339(txn.now),
                        }
                    },
                    "HostVolumes": None,
                    "LastDrain": None,
                    "CreateIndex": txn.index,
                    "_attributes": {"os.name": "ubuntu", "kernel.name": "linux", "unique.hostname": name},
                    "_ports": set(),
                }
                self.store.put_node(node)

    def _bootstrap(self) -> None:
        """Start with the article's job running three healthy allocations of v1.0.0."""
        replaying = not self.clock.manual
        start = self.clock.now() - (HISTORY_SECONDS if replaying else 0)
        if replaying:
            self.clock.freeze(start)
        api_job = jobspec.parse_hcl(SEED_JOB_FILE.read_text())
        self.register(api_job, submission={"Source": SEED_JOB_FILE.read_text(), "Format": "hcl2"})
        self.advance_to(start + HISTORY_SECONDS)
        if replaying:
            self.clock.unfreeze()

    # --- jobs ---------------------------------------------------------------------------------

    def parse(self, hcl: str, canonicalize: bool = False, variables: str | None = None) -> dict:
        """Pure: it reads nothing of the cluster, so it may run on any thread."""
        if not hcl:
            raise NomadError(400, "Job spec is empty")
        try:
            return jobspec.parse_hcl(hcl, variables, canonicalize=canonicalize)
        except jobspec.JobspecError as e:
            raise NomadError(400, e.message) from None

    def _struct_job(self, api_job: dict, namespace: str | None) -> dict:
        ns = namespace or api_job.get("Namespace") or "default"
        try:
            # apiJobAndRequestToStructs sets the job's namespace to the request's.
            job = jobspec.to_struct(dict(api_job, Namespace=ns), namespace=ns)
        except jobspec.JobspecError as e:
            raise NomadError(500, e.message) from None
        # Job.admissionValidators (nomad/job_endpoint_hooks.go) in order, each validator's
        # errors flattened into one go-multierror: jobNamespaceConstraintCheckHook
        # (nomad/job_endpoint_validators.go), then jobValidate's Job.Validate and its
        # job_max_count check.
        before, after = [], []
        if ns not in self.store.namespaces:
            before.append(f"job {quote(job['ID'])} is in nonexistent namespace {quote(ns)}")
        total = sum(group["Count"] for group in job["TaskGroups"] or [])
        if total > JOB_MAX_COUNT:
            after.append(f"total count was greater than configured job_max_count: {total} > {JOB_MAX_COUNT}")
        for group in job["TaskGroups"] or []:
            # The demo's own limit, not Nomad's: its scheduler names every canary it places.
            if (canaries := (group["Update"] or {}).get("Canary") or 0) > JOB_MAX_COUNT:
                after.append(
                    f"task group {quote(group['Name'])} asks for {canaries} canaries; "
                    f"the demo places at most {JOB_MAX_COUNT}"
                )
        try:
            jobspec.validate(job)
        except jobspec.JobspecError as e:
            # multierror.Append flattens Job.Validate's own list into this one.
            raise NomadError(500, multierror(before + e.errors + after)) from None
        if before or after:
            raise NomadError(500, multierror(before + after))
        return job

    def register(
        self,
        api_job: dict,
        *,
        namespace: str | None = None,
        enforce_index: bool = False,
        job_modify_index: int = 0,
        submission: dict | None = None,
    ) -> dict:
        job = self._struct_job(api_job, namespace)
        existing = self.store.job(job["Namespace"], job["ID"])
        if enforce_index:
            _check_index(existing, job_modify_index)
        if existing is not None and not existing.get("Stop") and not spec_changed(existing, job):
            with self.store.write("JobRegistered"):
                ev = self.create_eval(existing, "job-register")
            return self._register_response(ev, existing["ModifyIndex"])
        with self.store.write("JobRegistered") as txn:
            stored = self.upsert_job(job, existing, stable=False)
            if submission:
                self.store.submissions[(stored["Namespace"], stored["ID"], stored["Version"])] = {
                    "Source": submission.get("Source", ""),
                    "Format": submission.get("Format", "hcl2"),
                    "VariableFlags": submission.get("VariableFlags"),
                    "Variables": submission.get("Variables", ""),
                    "Namespace": stored["Namespace"],
                    "JobID": stored["ID"],
                    "Version": stored["Version"],
                    "JobModifyIndex": txn.index,
                }
            ev = self.create_eval(stored, "job-register")
        return self._register_response(ev, stored["JobModifyIndex"])

    def upsert_job(self, job: dict, existing: dict | None, *, stable: bool) -> dict:
        """Write `job` as the next version (inside a write)."""
        txn = self.store.txn
        job = copy.deepcopy(job)
        job["Version"] = existing["Version"] + 1 if existing else 0
        job["CreateIndex"] = existing["CreateIndex"] if existing and not existing.get("_purged") else txn.index
        job["JobModifyIndex"] = txn.index
        job["SubmitTime"] = nanos(txn.now)
        job["Stable"] = stable
        job["Status"] = existing["Status"] if existing else "pending"
        job["StatusDescription"] = ""
        self.store.put_job(job)
        self._trim_versions(job)
        self._ensure_summary(job)
        return job

    def _trim_versions(self, job: dict) -> None:
        versions = self.store.versions[(job["Namespace"], job["ID"])]
        if len(versions) <= TRACKED_VERSIONS:
            return
        newest_stable = next((v for v in versions if v["Stable"]), None)
        keep = versions[:TRACKED_VERSIONS]
        if newest_stable is not None and newest_stable not in keep:
            keep = versions[: TRACKED_VERSIONS - 1] + [newest_stable]
        versions[:] = keep

    def _ensure_summary(self, job: dict) -> None:
        key = (job["Namespace"], job["ID"])
        summary = self.store.summaries.get(key)
        if summary is None:
            summary = {
                "JobID": job["ID"],
                "Namespace": job["Namespace"],
                "Summary": {},
                "Children": {"Pending": 0, "Running": 0, "Dead": 0},
                "CreateIndex": self.store.txn.index,
                "ModifyIndex": self.store.txn.index,
            }
        for g in job["TaskGroups"]:
            summary["Summary"].setdefault(
                g["Name"],
                {"Queued": 0, "Complete": 0, "Failed": 0, "Running": 0, "Starting": 0, "Lost": 0, "Unknown": 0},
            )
        self.store.put_summary(summary)

    @staticmethod
    def _register_response(ev: dict, job_modify_index: int) -> dict:
        return {
            "EvalID": ev["ID"],
            "EvalCreateIndex": ev["CreateIndex"],
            "JobModifyIndex": job_modify_index,
            "Warnings": "",
            "Index": ev["CreateIndex"],
            "LastContact": 0,
            "KnownLeader": True,
            "NextToken": "",
        }

    def plan(self, api_job: dict, *, namespace: str | None = None, diff: bool = True) -> dict:
        job = self._struct_job(api_job, namespace)
        existing = self.store.job(job["Namespace"], job["ID"])
        if existing is not None and not existing.get("Stop") and not spec_changed(existing, job):
            candidate = existing
        else:
            candidate = copy.deepcopy(job)
            candidate["Version"] = existing["Version"] + 1 if existing else 0
            candidate["CreateIndex"] = existing["CreateIndex"] if existing else self.store.index + 1
            candidate["JobModifyIndex"] = self.store.index + 1
            candidate["SubmitTime"] = nanos(self.clock.now())
        decision = reconcile(self.store, candidate, self._deployment_for)
        _, failures = assign_nodes(self.store, candidate, decision)
        updates = decision.desired_tg_updates()
        body = None
        if diff:
            body = annotate_plan(job_diff(existing, candidate, contextual=True), updates)
        created = None
        if failures:
            created = [
                self._eval_body(
                    candidate, "job-register", status="blocked", description="created to place remaining allocations"
                )
            ]
        return {
            "Annotations": {"DesiredTGUpdates": updates, "PreemptedAllocs": None},
            "FailedTGAllocs": failures or None,
            "JobModifyIndex": existing["JobModifyIndex"] if existing else 0,
            "CreatedEvals": created,
            "Diff": body,
            "NextPeriodicLaunch": None,
            "Warnings": "",
            "Index": self.store.index,
        }

    def revert(self, namespace: str, job_id: str, version: int, enforce_prior_version: int | None = None) -> dict:
        existing = self.store.job(namespace, job_id)
        if existing is None:
            raise NomadError(500, f'job "{job_id}" not found')
        if enforce_prior_version is not None and existing["Version"] != enforce_prior_version:
            raise NomadError(
                500, f"Current job has version {existing['Version']}; enforcing version {enforce_prior_version}"
            )
        if version == existing["Version"]:
            raise NomadError(500, "can't revert to current version")
        target = self.store.job_version(namespace, job_id, version)
        if target is None:
            raise NomadError(500, f'job "{job_id}" in namespace "{namespace}" at version {version} not found')
        with self.store.write("JobRegistered"):
            if spec_changed(existing, target):
                revert = copy.deepcopy(target)
                revert["VersionTag"] = None
                existing = self.upsert_job(revert, existing, stable=False)
            ev = self.create_eval(existing, "job-register")
        return self._register_response(ev, existing["JobModifyIndex"])

    def set_stable(self, namespace: str, job_id: str, version: int, stable: bool) -> dict:
        target = self.store.job_version(namespace, job_id, version)
        if target is None:
            raise NomadError(500, f'job "{job_id}" in namespace "{namespace}" at version {version} not found')
        with self.store.write("JobStabilityUpdate") as txn:
            target["Stable"] = stable
            if target is self.store.job(namespace, job_id):
                self.store.put_job(target)
            else:
                self.store.put_version(target)
        return {"Index": txn.index}

    def deregister(self, namespace: str, job_id: str, purge: bool = False) -> dict:
        existing = self.store.job(namespace, job_id)
        if existing is None:
            raise NomadError(404, "job not found")
        with self.store.write("JobDeregistered") as txn:
            if purge:
                self.store.jobs.pop((namespace, job_id))
                self.store.versions.pop((namespace, job_id))
                self.store.summaries.pop((namespace, job_id), None)
                stopped = dict(existing, Stop=True, _purged=True)
                txn.touch("jobs")
            else:
                stopped = copy.deepcopy(existing)
                stopped["Stop"] = True
                stopped = self.upsert_job(stopped, existing, stable=False)
            ev = self.create_eval(stopped, "job-deregister")
        if purge:
            self.timers.at(self.clock.now(), lambda: self._process_stopped_purge(stopped, ev["ID"]))
        return {
            "EvalID": ev["ID"],
            "EvalCreateIndex": ev["CreateIndex"],
            "JobModifyIndex": txn.index,
            "VolumeEvalID": "",
            "VolumeEvalIndex": 0,
            "Index": txn.index,
            "LastContact": 0,
            "KnownLeader": True,
            "NextToken": "",
        }

    # --- evaluations and the scheduler -------------------------------------------------------

    def _eval_body(
        self, job: dict, triggered_by: str, *, status: str = "pending", description: str = "", deployment_id: str = ""
    ) -> dict:
        now = nanos(self.clock.now())
        return {
            "ID": self.store.new_id(),
            "Namespace": job["Namespace"],
            "Priority": job["Priority"],
            "Type": job["Type"],
            "TriggeredBy": triggered_by,
            "JobID": job["ID"],
            "JobModifyIndex": job["JobModifyIndex"],
            "NodeID": "",
            "NodeModifyIndex": 0,
            "DeploymentID": deployment_id,
            "Status": status,
            "StatusDescription": description,
            "Wait": 0,
            "WaitUntil": None,
            "NextEval": "",
            "PreviousEval": "",
            "BlockedEval": "",
            "RelatedEvals": None,
            "FailedTGAllocs": None,
            "ClassEligibility": None,
            "QuotaLimitReached": "",
            "EscapedComputedClass": False,
            "AnnotatePlan": False,
            "QueuedAllocations": None,
            "LeaderACL": "",
            "SnapshotIndex": 0,
            "CreateIndex": 0,
            "ModifyIndex": 0,
            "CreateTime": now,
            "ModifyTime": now,
        }

    def create_eval(
        self, job: dict, triggered_by: str, *, deployment_id: str = "", wait_until: float | None = None
    ) -> dict:
        """Create a pending evaluation (inside a write) and schedule the scheduler for it."""
        ev = self._eval_body(job, triggered_by, deployment_id=deployment_id)
        ev["CreateIndex"] = self.store.txn.index
        if wait_until is not None:
            ev["WaitUntil"] = format_rfc3339(wait_until)
        self.store.put_eval(ev)
        self.timers.at(wait_until or self.clock.now(), lambda: self.process_eval(ev["ID"]))
        return ev

    def new_eval(self, job: dict, triggered_by: str, *, deployment_id: str = "") -> dict:
        """Create a pending evaluation in a write of its own."""
        with self.store.write("EvalUpdated"):
            return self.create_eval(job, triggered_by, deployment_id=deployment_id)

    def _deployment_for(self, job: dict, decision: Decision) -> dict:
        groups = {}
        for g in job["TaskGroups"]:
            upd = update_strategy(job, g)
            if not upd:
                continue
            canaries = upd["Canary"] if decision.groups[g["Name"]].canary else 0
            groups[g["Name"]] = {
                "AutoRevert": upd["AutoRevert"],
                "AutoPromote": upd["AutoPromote"],
                "ProgressDeadline": upd["ProgressDeadline"],
                "RequireProgressBy": None,
                "Promoted": False,
                "PlacedCanaries": None,
                "DesiredCanaries": canaries,
                "DesiredTotal": g["Count"],
                "PlacedAllocs": 0,
                "HealthyAllocs": 0,
                "UnhealthyAllocs": 0,
            }
        now = nanos(self.clock.now())
        return {
            "ID": self.store.new_id(),
            "Namespace": job["Namespace"],
            "JobID": job["ID"],
            "JobVersion": job["Version"],
            "JobModifyIndex": job["ModifyIndex"],
            "JobSpecModifyIndex": job["JobModifyIndex"],
            "JobCreateIndex": job["CreateIndex"],
            "IsMultiregion": False,
            "TaskGroups": groups,
            "Status": "running",
            "StatusDescription": running_description(groups),
            "EvalPriority": job["Priority"],
            "CreateIndex": 0,
            "ModifyIndex": 0,
            "CreateTime": now,
            "ModifyTime": now,
        }

    def process_eval(self, eval_id: str) -> None:
        ev = self.store.evals.get(eval_id)
        if ev is None or ev["Status"] != "pending":
            return
        job = self.store.job(ev["Namespace"], ev["JobID"])
        if job is None:
            with self.store.write("EvaluationUpdated"):
                ev["Status"] = "complete"
                self.store.put_eval(ev)
            return
        decision = reconcile(self.store, job, self._deployment_for)
        nodes, failures = assign_nodes(self.store, job, decision)
        if _has_changes(decision):
            with self.store.write("PlanResult"):
                self._apply(job, decision, nodes, ev)
        with self.store.write("EvaluationUpdated") as txn:
            ev["Status"] = "complete"
            ev["SnapshotIndex"] = txn.index - 1
            ev["FailedTGAllocs"] = failures or None
            ev["QueuedAllocations"] = {
                g: sum(1 for p in decision.groups[g].place if id(p) not in nodes) for g in decision.groups
            }
            if decision.deployment is not None and not ev["DeploymentID"]:
                ev["DeploymentID"] = decision.deployment["ID"]
            if failures:
                blocked = self._eval_body(
                    job, "queued-allocs", status="blocked", description="created to place remaining allocations"
                )
                blocked["CreateIndex"] = txn.index
                blocked["PreviousEval"] = ev["ID"]
                ev["BlockedEval"] = blocked["ID"]
                self.store.put_eval(blocked)
            self.store.put_eval(ev)
            self._followups(job, decision, ev)
            self._set_queued(job, ev["QueuedAllocations"])
            self.refresh_job_status(job)

    def _followups(self, job: dict, decision: Decision, ev: dict) -> None:
        for g in decision.groups.values():
            for alloc, when in g.reschedule_later:
                pending = self.store.evals.get(alloc.get("FollowupEvalID") or "")
                if pending and pending["Status"] == "pending":
                    continue
                follow = self.create_eval(job, "alloc-failure", wait_until=when)
                follow["PreviousEval"] = ev["ID"]
                alloc["FollowupEvalID"] = follow["ID"]
                self.store.put_alloc(alloc)

    def unblock_evals(self) -> None:
        """Capacity freed up: blocked evaluations get another go."""
        blocked = [e for e in self.store.evals.values() if e["Status"] == "blocked"]
        if not blocked:
            return
        with self.store.write("EvalUpdated"):
            for e in blocked:
                e["Status"] = "pending"
                self.store.put_eval(e)
                self.timers.at(self.clock.now(), functools.partial(self.process_eval, e["ID"]))

    def _apply(self, job: dict, decision: Decision, nodes: dict[int, str], ev: dict) -> None:
        store = self.store
        if decision.cancel:
            cancelled, description = decision.cancel
            cancelled["Status"], cancelled["StatusDescription"] = "cancelled", description
            store.put_deployment(cancelled)
        d = decision.deployment
        if d is not None and decision.new_deployment:
            d["CreateIndex"] = store.txn.index
            d["EvalPriority"] = ev["Priority"]
        for g in decision.groups.values():
            for alloc, description in g.stop:
                self.clients.stop(alloc, description)
            for p in g.place:
                node_id = nodes.get(id(p))
                if node_id is not None:
                    self.clients.place(job, p, store.nodes[node_id], ev, d)
            for alloc in g.inplace:
                self.clients.update_in_place(job, alloc, d)
        if d is not None and decision.successful:
            d["Status"], d["StatusDescription"] = "successful", "Deployment completed successfully"
            job["Stable"] = True
            store.put_job(job)
        if d is not None and (
            decision.new_deployment
            or decision.successful
            or any(g.place or g.inplace for g in decision.groups.values())
        ):
            store.put_deployment(d)
            self.watcher.schedule_deadline(d)
        self.refresh_job_status(job)

    def _process_stopped_purge(self, job: dict, eval_id: str) -> None:
        decision = reconcile(self.store, job, self._deployment_for)
        with self.store.write("PlanResult"):
            for g in decision.groups.values():
                for alloc, description in g.stop:
                    self.clients.stop(alloc, description)
            if decision.cancel:
                d, description = decision.cancel
                d["Status"], d["StatusDescription"] = "cancelled", description
                self.store.put_deployment(d)
        with self.store.write("EvaluationUpdated"):
            ev = self.store.evals[eval_id]
            ev["Status"] = "complete"
            self.store.put_eval(ev)

    # --- job status and summary ---------------------------------------------------------------

    def refresh_job_status(self, job: dict) -> None:
        """Nomad's setJobStatus (inside a write)."""
        if self.store.job(job["Namespace"], job["ID"]) is not job:
            return
        allocs = self.store.job_allocs(job)
        deployments = self.store.job_deployments(job["Namespace"], job["ID"], job["CreateIndex"])
        if any(a["DesiredStatus"] == "run" and a["ClientStatus"] in ("pending", "running") for a in allocs) or any(
            d["Status"] in ACTIVE_DEPLOYMENT for d in deployments
        ):
            status = "running"
        elif any(e["Status"] in ("pending", "blocked") for e in self.store.job_evals(job["Namespace"], job["ID"])):
            status = "pending"
        elif allocs or self.store.job_evals(job["Namespace"], job["ID"]):
            status = "dead"
        else:
            status = "pending"
        if status != job["Status"]:
            job["Status"] = status
            self.store.put_job(job)

    def summary(self, job: dict) -> dict:
        return self.store.summaries[(job["Namespace"], job["ID"])]

    def _set_queued(self, job: dict, queued: dict[str, int]) -> None:
        summary = self.store.summaries.get((job["Namespace"], job["ID"]))
        if summary is None:
            return
        changed = False
        for group, n in queued.items():
            bins = summary["Summary"].setdefault(group, {})
            if bins.get("Queued") != n:
                bins["Queued"] = n
                changed = True
        if changed:
            self.store.put_summary(summary)

    # --- deployments (operator actions) -------------------------------------------------------

    def _deployment(self, deployment_id: str) -> dict:
        d = self.store.deployments.get(deployment_id)
        if d is None:
            raise NomadError(500, "deployment not found")
        return d

    def promote(self, deployment_id: str, *, groups: list[str] | None = None, all_groups: bool = False) -> dict:
        d = self._deployment(deployment_id)
        if d["Status"] not in ACTIVE_DEPLOYMENT:
            raise NomadError(500, "can't promote terminal deployment")
        return self.watcher.promote_deployment(d, None if all_groups else (groups or []))

    def fail(self, deployment_id: str) -> dict:
        d = self._deployment(deployment_id)
        if d["Status"] not in ACTIVE_DEPLOYMENT:
            raise NomadError(500, "can't fail terminal deployment")
        rollback = any(s["AutoRevert"] for s in d["TaskGroups"].values())
        return self.watcher.fail_deployment(d, "Deployment marked as failed", rollback=rollback)

    def pause(self, deployment_id: str, pause: bool) -> dict:
        d = self._deployment(deployment_id)
        if d["Status"] not in ACTIVE_DEPLOYMENT:
            verb = "pause" if pause else "resume"
            raise NomadError(500, f"can't {verb} terminal deployment")
        return self.watcher.pause_deployment(d, pause)

    def set_alloc_health(self, deployment_id: str, healthy: list[str], unhealthy: list[str]) -> dict:
        d = self._deployment(deployment_id)
        if d["Status"] not in ACTIVE_DEPLOYMENT:
            raise NomadError(500, "can't set health of allocations for a terminal deployment")
        return self.watcher.set_alloc_health(d, healthy, unhealthy)


def _check_index(existing: dict | None, index: int) -> None:
    prefix = f"Enforcing job modify index {index}"
    if index == 0 and existing is not None:
        raise NomadError(500, f"{prefix}: job already exists")
    if index != 0 and existing is None:
        raise NomadError(500, f"{prefix}: job does not exist")
    if existing is not None and existing["JobModifyIndex"] != index:
        raise NomadError(500, f"{prefix}: job exists with conflicting job modify index: {existing['JobModifyIndex']}")


def _has_changes(decision: Decision) -> bool:
    return bool(
        decision.cancel
        or decision.new_deployment
        or decision.successful
        or any(g.place or g.stop or g.inplace for g in decision.groups.values())
    )


__all__ = ["Cluster", "NomadError", "spec_changed", "JOBS_DIR", "DEFAULT_SPEED"]
