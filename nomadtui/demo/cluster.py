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
import gc
import hashlib
import math
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, cast

from ..wire import format_rfc3339, multierror, nanos
from . import jobspec
from .clientsim import ClientSimulator
from .clock import Clock, ManualClock
from .gc import GarbageCollector, prune_job_submissions
from .gostrconv import quote
from .jobdiff import annotate_plan, job_diff
from .reconciler import Decision, reconcile
from .scheduler import NODE_CPU, NODE_MEMORY, assign_nodes, create_followup_evals
from .store import ACTIVE_DEPLOYMENT, NomadError, Store
from .stream import BufferItem, Event
from .structs import group_resources, running_description, spec_changed, update_strategy
from .timers import Timers
from .watcher import DeploymentWatcher

JOBS_DIR = Path(__file__).parent / "jobs"
SEED_JOB_FILE = JOBS_DIR / "httpsbackend-tcp-sni-1.nomad"
DEFAULT_SPEED = 10.0
HISTORY_SECONDS = 3600.0  # how far back the seed job was started
TRACKED_VERSIONS = 6  # Nomad's job_tracked_versions default
JOB_MAX_COUNT = 50000  # Nomad's job_max_count default (structs.JobDefaultMaxCount)


class NodeSpec(NamedTuple):
    id: str
    name: str
    address: str
    datacenter: str = "dc1"
    cpu: int = NODE_CPU  # MHz
    memory: int = NODE_MEMORY  # MB


# Identity of the three client nodes (the article's short ids).
NODES = [
    NodeSpec("7acdd7bc-3c3e-2a1b-9f53-2e8bc56d01a7", "nomad-client-1", "10.0.0.11"),
    NodeSpec("c281658a-54f0-4d4c-8f6e-0b7c1e3a9d42", "nomad-client-2", "10.0.0.12"),
    NodeSpec("9e3ef19f-8a27-4c61-b0d5-6f4a2c8e1b93", "nomad-client-3", "10.0.0.13"),
]

# --extra-jobs: small service jobs named service-00001 and up, in a datacenter of their own whose
# nodes are big enough to run them all (so they take no room the article's rollouts need). No
# update block: Canonicalize gives the group Nomad's default update strategy, so each job's first
# run is a deployment, as `nomad job run` of such a file is.
EXTRA_DC = "dc2"
EXTRA_JOB_HCL = """job "%s" {
  datacenters = ["dc2"]

  group "app" {
    task "app" {
      driver = "docker"

      config {
        image   = "busybox:1.36"
        command = "sleep"
        args    = ["infinity"]
      }

      resources {
        cpu    = 20
        memory = 32
      }
    }
  }
}
"""
EXTRA_NODE_CPU = 64 * 3000  # 64 cores at 3 GHz: room for 9,600 of them
EXTRA_NODE_MEMORY = 512 * 1024
EXTRA_JOBS_PER_NODE = 8000  # nodes for N extra jobs: N / this, rounded up (a fifth to spare)


def extra_job_id(i: int, n: int) -> str:
    """`service-00001`...: zero-padded so that they list in order (and after the article's job)."""
    return f"service-{i:0{max(5, len(str(n)))}d}"


def extra_job(i: int, n: int) -> dict:
    """The api.Job of extra job `i` of `n`, as `POST /v1/jobs/parse` answers for its file."""
    job_id = extra_job_id(i, n)
    return dict(_extra_job_base(), ID=job_id, Name=job_id)


@functools.lru_cache(maxsize=1)
def _extra_job_base() -> dict:
    return jobspec.parse_hcl(EXTRA_JOB_HCL % "service")


def extra_nodes(jobs: int) -> list[NodeSpec]:
    """The client nodes of datacenter dc2, enough for `jobs` extra jobs."""
    specs = []
    for k in range(1, math.ceil(jobs / EXTRA_JOBS_PER_NODE) + 1):
        name = f"nomad-client-{EXTRA_DC}-{k}"
        node_id = str(uuid.UUID(bytes=hashlib.md5(name.encode()).digest(), version=4))
        address = f"10.0.{2 + (k - 1) // 250}.{11 + (k - 1) % 250}"
        specs.append(NodeSpec(node_id, name, address, EXTRA_DC, EXTRA_NODE_CPU, EXTRA_NODE_MEMORY))
    return specs


class Cluster:
    """The servers, with the deployment watcher and the client nodes they drive."""

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        seed: int | None = None,
        bootstrap: bool = True,
        extra_jobs: int = 0,
        capacity_for: int = 0,
        nodes: list[NodeSpec] | None = None,
        collect_garbage: bool = True,
    ) -> None:
        """`extra_jobs` small service jobs run beside the article's job from the start (made by
        `add_extra_jobs`); `capacity_for` only adds the nodes they would need; `nodes` replaces
        the client nodes altogether. `collect_garbage`: the servers' periodic GC (gc.py)."""
        self.clock = clock or Clock(DEFAULT_SPEED)
        self.store = Store(self.clock.now, self.clock.scaled, seed)
        self.timers = Timers(self.clock)
        self.watcher = DeploymentWatcher(self.store, self.timers, self)
        self.clients = ClientSimulator(self.store, self.timers, self.watcher, self)
        self.logs = self.clients.logs  # the tasks' stdout and stderr (tasklogs.py)
        self.extra_jobs = extra_jobs
        if nodes is None:
            nodes = NODES + (extra_nodes(max(extra_jobs, capacity_for)) if extra_jobs or capacity_for else [])
        self.node_specs = nodes
        self._add_nodes()
        if bootstrap:
            self._bootstrap()
        self.collector = GarbageCollector(self.store, self.timers, self.clock)
        if collect_garbage:
            self.collector.start()

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
            for spec in self.node_specs:
                node = {
                    "Address": spec.address,
                    "ID": spec.id,
                    "Datacenter": spec.datacenter,
                    "Name": spec.name,
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
                    "_attributes": {"os.name": "ubuntu", "kernel.name": "linux", "unique.hostname": spec.name},
                    "_ports": set(),
                    "_cpu": spec.cpu,
                    "_memory": spec.memory,
                }
                self.store.put_node(node)

    def _bootstrap(self) -> None:
        """Start with the article's job running three healthy allocations of v1.0.0, then the
        extra jobs, all of it history by the time the servers answer."""
        replaying = not self.clock.manual
        span = HISTORY_SECONDS
        if self.extra_jobs and replaying:  # a dry run to learn how long their history takes
            span += ExtraJobs.record(self, self.clock.now()).duration
        start = self.clock.now() - (span if replaying else 0)
        if replaying:
            self.clock.freeze(start)
        api_job = jobspec.parse_hcl(SEED_JOB_FILE.read_text())
        self.register(api_job, submission={"Source": SEED_JOB_FILE.read_text(), "Format": "hcl2"})
        self.advance_to(start + HISTORY_SECONDS)
        if self.extra_jobs:
            self.add_extra_jobs(self.extra_jobs)
        if replaying:
            self.clock.unfreeze()

    def add_extra_jobs(self, n: int, *, fast: bool = True) -> None:
        """Register extra jobs 1..n now and let the cluster run until they settled (a frozen or
        manual clock only). `fast=False` registers them one by one through `register` and lets
        the timers play it out; the fast path makes the same state directly (see ExtraJobs)."""
        if not self.clock.manual:
            raise RuntimeError("add_extra_jobs needs a frozen or manual clock")
        if fast:
            plan = ExtraJobs.record(self, self.clock.now())
            collecting = gc.isenabled()
            gc.disable()  # a million new containers, none of them garbage: no collector passes
            try:
                plan.apply(self, [extra_job_id(i, n) for i in range(1, n + 1)])
            finally:
                if collecting:
                    gc.enable()
            self.advance_to(plan.end)
            return
        end = self.clock.now() + ExtraJobs.record(self, self.clock.now()).duration
        for i in range(1, n + 1):
            self.register(extra_job(i, n))
        self.advance_to(end)

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
            # Job.Register (nomad/job_endpoint.go) for an unchanged spec: the evaluation alone, in
            # an EvalUpdateRequestType write (EvaluationUpdated events), no JobModifyIndex set.
            with self.store.write("EvaluationUpdated"):
                ev = self.create_eval(existing, "job-register")
                ev["JobModifyIndex"] = 0
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
                prune_job_submissions(self.store, stored["Namespace"], stored["ID"], TRACKED_VERSIONS)
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
            # Writes never set their QueryMeta's KnownLeader (only reads' setQueryMeta does): the
            # wire sample of `POST /v1/jobs` says false.
            "KnownLeader": False,
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
        # Job.Revert registers the version: an unchanged spec is an evaluation alone (Register).
        with self.store.write("JobRegistered" if spec_changed(existing, target) else "EvaluationUpdated"):
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
        # JobStabilityRequestType has no event type (MsgTypeEvents, nomad/state/events.go):
        # Nomad's event stream says nothing of a stability update.
        with self.store.write(None) as txn:
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
                # handleJobDeregister (nomad/fsm.go): DeleteJobTxn, whose Job event carries the
                # job as it was, with Deleted set.
                self.store.delete_job(existing)
                stopped = dict(existing, Stop=True, _purged=True)
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
            "KnownLeader": False,  # a write: see _register_response
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
            "PlanAnnotations": None,
            "ClassEligibility": None,
            "QuotaLimitReached": "",
            "MissingNonNodeResources": None,
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
        """Create a pending evaluation in a write of its own (an EvalUpdateRequestType write, as
        Job.Evaluate's, nomad/job_endpoint.go)."""
        with self.store.write("EvaluationUpdated"):
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
        decision = reconcile(self.store, job, self._deployment_for, ev["ID"])
        nodes, failures = assign_nodes(self.store, job, decision)
        if _has_changes(decision):
            with self.store.write("PlanResult"):
                self._apply(job, decision, nodes, ev)
        with self.store.write("EvaluationUpdated") as txn:
            ev["Status"] = "complete"
            ev["SnapshotIndex"] = txn.index - 1
            ev["FailedTGAllocs"] = failures or None
            # setStatus (scheduler/util.go): the reconciler's DesiredTGUpdates (generic_sched.go).
            ev["PlanAnnotations"] = {"DesiredTGUpdates": decision.desired_tg_updates(), "PreemptedAllocs": None}
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
        create_followup_evals(self.store, self.create_eval, job, decision, ev)

    def unblock_evals(self) -> None:
        """Capacity freed up: blocked evaluations get another go."""
        blocked = sorted(self.store.blocked.values(), key=lambda e: e["CreateIndex"])
        if not blocked:
            return
        with self.store.write("EvaluationUpdated"):
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
                    # A downgraded placement (a migration while canaries are out) runs its old job
                    # version, outside the deployment of the new one.
                    self.clients.place(p.job or job, p, store.nodes[node_id], ev, None if p.job else d)
            for alloc in g.inplace:
                self.clients.update_in_place(job, alloc, d)
        if d is not None and decision.successful:
            d["Status"], d["StatusDescription"] = "successful", "Deployment completed successfully"
            job["Stable"] = True
            store.put_job(job)
        if d is not None and (
            decision.new_deployment
            or decision.successful
            or (d["Status"] in ACTIVE_DEPLOYMENT and any(g.place or g.inplace for g in decision.groups.values()))
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


# --- extra jobs, the fast way -------------------------------------------------------------------

# Containers the demo changes in place (a summary's counters, a deployment group's, an
# allocation's task states, ...): each stamped row gets its own. Everything else a row of the
# template holds is shared between the rows made from it (the demo replaces, never edits, those).
_OWN = {
    "job": frozenset(),
    "summary": frozenset({("Summary",), ("Summary", "*"), ("Children",)}),
    "eval": frozenset({("QueuedAllocations",), ("FailedTGAllocs",), ("RelatedEvals",)}),
    "deployment": frozenset({("TaskGroups",), ("TaskGroups", "*"), ("TaskGroups", "*", "PlacedCanaries")}),
    "alloc": frozenset(
        {("DesiredTransition",), ("TaskStates",), ("TaskStates", "*"), ("DeploymentStatus",), ("RescheduleTracker",)}
    ),
    "event": frozenset(),
}


class _Stamp:
    """A template value compiled for copying with other ids, names and indexes: what differs
    between two extra jobs is exactly the template's strings in `strings` (ids it drew, its job
    id and the names made of it, the node it chose) and its indexes (ints under a key ending in
    `Index` that are indexes of its writes)."""

    def __init__(self, strings: set[str], indexes: set[int], jobs: dict[int, int]) -> None:
        self.strings = strings
        self.indexes = indexes
        self.jobs = jobs  # id() of a template job version -> its Version

    def compile(self, value: Any, kind: str, path: tuple = (), key: str = "") -> tuple:
        """("c", v): v as is; ("s", v) / ("i", v) / ("n", v): v mapped; ("j", version): that
        job version; ("d", template, [(key, plan)]) / ("l", [plans]): a copy with those entries
        stamped."""
        if isinstance(value, str):
            return ("s", value) if value in self.strings else ("c", value)
        if type(value) is int and (key.endswith("Index") or key == "_job_create_index") and value in self.indexes:
            return ("n", value) if key == "SnapshotIndex" else ("i", value)
        if isinstance(value, dict) and id(value) in self.jobs and path:
            return ("j", self.jobs[id(value)])
        own = _matches(_OWN[kind], path)
        if isinstance(value, dict):
            dyn = [(k, p) for k, v in value.items() if (p := self.compile(v, kind, (*path, k), k))[0] != "c"]
            return ("d", value, dyn) if dyn or own else ("c", value)
        if isinstance(value, list):
            plans = [self.compile(v, kind, (*path, "*"), key) for v in value]
            return ("l", plans) if own or any(p[0] != "c" for p in plans) else ("c", value)
        return ("c", value)


def _matches(own: frozenset, path: tuple) -> bool:
    return bool(path) and any(
        len(pattern) == len(path) and all(p in ("*", k) for p, k in zip(pattern, path)) for pattern in own
    )


def _stamp(plan: tuple, strings: dict[str, str], indexes: dict[int, int], jobs: dict[int, dict]) -> Any:
    kind = plan[0]
    if kind == "d":  # the hot path: the leaves inline
        out = plan[1].copy()
        for key, sub in plan[2]:
            leaf = sub[0]
            if leaf == "s":
                out[key] = strings[sub[1]]
            elif leaf == "i":
                out[key] = indexes[sub[1]]
            else:
                out[key] = _stamp(sub, strings, indexes, jobs)
        return out
    if kind == "c":
        return plan[1]
    if kind == "s":
        return strings[plan[1]]
    if kind == "i":
        return indexes[plan[1]]
    if kind == "n":  # the index before the write that completed the evaluation
        return indexes[plan[1] + 1] - 1
    if kind == "j":
        return jobs[plan[1]]
    return [_stamp(sub, strings, indexes, jobs) for sub in plan[1]]


@dataclass
class _Write:
    index: int
    activity: int
    now: float
    tables: set[str]
    type: str | None
    events: list[Event]


class _Recorder:
    """What one template job's run does: its writes, and the ids and node choices it drew, each
    with the activity (the API call, then one per timer that fired) that made it."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.activity = 0
        self.writes: list[_Write] = []
        self.draws: dict[int, list[tuple]] = {}

    def fired(self) -> None:
        self.activity += 1

    def drew_id(self, new_id: str) -> None:
        self.draws.setdefault(self.activity, []).append(("id", new_id))

    def chose(self, seq: list, picked: Any) -> None:
        self.draws.setdefault(self.activity, []).append(("node", [n["ID"] for n in seq], picked["ID"]))

    def committed(self, index: int, tables: set[str], type_: str | None, events: list[Event]) -> None:
        self.writes.append(_Write(index, self.activity, self.clock.now(), tables, type_, events))


class _RecordingRandom(random.Random):
    def __init__(self, recorder: _Recorder) -> None:
        super().__init__(0)
        self.recorder = recorder

    def choice(self, seq):  # select_next_option's tie break: which node
        picked = super().choice(seq)
        self.recorder.chose(list(seq), picked)
        return picked


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


@dataclass
class ExtraJobs:
    """Extra jobs made fast: the state that registering N copies of a job at one moment, then
    letting the cluster run until they settled, leaves behind, written directly.

    `record` runs one template job through the real code path (register, the scheduler, the
    clients, the deployment watcher) on a scratch cluster with the same nodes, clock and speed,
    and notes its writes and the ids and node choices it drew, each with its activity: the
    register call, then every timer that fired. `apply` writes N copies as the slow path would
    have: registered at once, their timers are due at the same times and fire in the order they
    were set, so each activity runs for jobs 1..N before the next one does. The copies take their
    writes' indexes in that order, their ids from the cluster's random source in that order, their
    node as select_next_option chooses it (scheduler.py), and the event buffer is left with the
    events of the last writes. With the same seed it is the slow path's state row for row
    (tests/demo/test_scale.py compares them)."""

    t0: float
    end: float
    template: str
    writes: list[_Write]
    draws: dict[int, list[tuple]]
    rows: dict[str, list[dict]]
    resources: tuple[int, int]

    @property
    def duration(self) -> float:
        return self.end - self.t0

    @classmethod
    def record(cls, cluster: Cluster, t0: float) -> ExtraJobs:
        clock = ManualClock(t0, cluster.clock.speed)
        scratch = Cluster(clock, seed=0, bootstrap=False, nodes=cluster.node_specs, collect_garbage=False)
        recorder = _Recorder(scratch.clock)
        scratch.store.recorder = recorder
        scratch.store.rng = _RecordingRandom(recorder)
        scratch.timers.on_fire = recorder.fired
        template = extra_job_id(0, 1)
        scratch.register(extra_job(0, 1))
        for _ in range(1000):
            due = scratch.next_due()
            if due is None:
                break
            scratch.advance_to(due)
        else:
            raise RuntimeError("the template extra job never settled")
        store, key = scratch.store, ("default", template)
        by_create: Callable[[dict], int] = lambda row: row["CreateIndex"]  # noqa: E731
        rows = {
            "job": list(reversed(store.versions[key])),
            "summary": [store.summaries[key]],
            "eval": sorted(store.evals_by_job[key].values(), key=by_create),
            "deployment": sorted(store.deployments_by_job.get(key, {}).values(), key=by_create),
            "alloc": sorted(store.allocs_by_job[key].values(), key=by_create),
        }
        job = store.jobs[key]
        if any(d[0] not in ("id", "node") for ds in recorder.draws.values() for d in ds) or any(
            group.get("Networks") for group in job["TaskGroups"]
        ):
            raise RuntimeError("the template extra job draws more than ids and nodes")
        resources = group_resources(job["TaskGroups"][0])
        return cls(t0, recorder.writes[-1].now, template, recorder.writes, recorder.draws, rows, resources)

    def apply(self, cluster: Cluster, ids: list[str]) -> None:
        store, n = cluster.store, len(ids)
        # Indexes: each activity's writes for job 1, job 2, ... then the next activity's.
        activities: list[list[_Write]] = []
        for w in self.writes:
            if not activities or activities[-1][0].activity != w.activity:
                activities.append([])
            activities[-1].append(w)
        layout: dict[int, tuple[int, int, int]] = {}  # template index -> (block start, width, position)
        start = store.index + 1
        for writes in activities:
            for position, w in enumerate(writes):
                layout[w.index] = (start, len(writes), position)
            start += n * len(writes)

        def indexes(i: int) -> dict[int, int]:
            return {t: block + i * width + position for t, (block, width, position) in layout.items()}

        strings = self._draw(cluster, ids)
        stamp = _Stamp(set(strings[0]), set(layout), {id(v): v["Version"] for v in self.rows["job"]})
        plans = {kind: [stamp.compile(row, kind) for row in rows] for kind, rows in self.rows.items()}
        made: dict[str, list] = {kind: [] for kind in self.rows}
        for i in range(n):
            idx, strs = indexes(i), strings[i]
            jobs: dict[int, dict] = {}
            for plan in plans["job"]:
                version = _stamp(plan, strs, idx, jobs)
                jobs[version["Version"]] = version
            made["job"].append(list(jobs.values()))
            for kind in ("summary", "eval", "deployment", "alloc"):
                made[kind].extend(_stamp(plan, strs, idx, jobs) for plan in plans[kind])
        self._load(store, made)
        last = indexes(n - 1)
        for w in self.writes:
            for table in w.tables:
                store.table_index[table] = max(store.table_index.get(table, 0), last[w.index])
        store.index = start - 1
        self._publish(store, activities, n, indexes, stamp, strings)
        for listener in list(store.listeners):
            listener(store.index)

    def _draw(self, cluster: Cluster, ids: list[str]) -> list[dict[str, str]]:
        """Each job's strings in place of the template's: its id (and the names made of it), the
        ids it draws and its node, drawn activity by activity, job by job, as the slow path does."""
        store, specs = cluster.store, {spec.id: spec for spec in cluster.node_specs}
        names = {s for row in self.rows.values() for r in row for s in _strings(r) if s.startswith(self.template)}
        if any(s != self.template and not s.startswith(self.template + ".") for s in names):
            raise RuntimeError("the template extra job's id is in a string this cannot rename")
        strings = [{s: job_id + s[len(self.template) :] for s in names} for job_id in ids]
        feasible = [n["ID"] for n in store.nodes.values() if n["Datacenter"] == EXTRA_DC and n["Status"] == "ready"]
        usage = {node_id: list(store.node_usage[node_id]) for node_id in feasible}
        cpu, memory = self.resources
        for activity in sorted(self.draws):
            for i in range(len(ids)):
                for draw in self.draws[activity]:
                    if draw[0] == "id":
                        strings[i][draw[1]] = store.new_id()
                        continue
                    _, seq, picked = draw
                    if seq != feasible:
                        raise RuntimeError("the template extra job chose among other nodes")
                    fits = [
                        node_id
                        for node_id in feasible
                        if usage[node_id][0] + cpu <= specs[node_id].cpu
                        and usage[node_id][1] + memory <= specs[node_id].memory
                    ]
                    if not fits:
                        raise RuntimeError("no room for the extra jobs on the dc2 nodes")
                    chosen = store.rng.choice(fits)  # select_next_option: no allocation anywhere yet
                    usage[chosen][0] += cpu
                    usage[chosen][1] += memory
                    was, now = specs[picked], specs[chosen]
                    strings[i].update({was.id: now.id, was.name: now.name, was.address: now.address})
        return strings

    @staticmethod
    def _load(store: Store, made: dict[str, list]) -> None:
        """Into the tables and their indexes, each in the order the slow path fills it."""
        for versions in made["job"]:
            store.index_job(versions[-1])
            store.versions[(versions[-1]["Namespace"], versions[-1]["ID"])] = list(reversed(versions))
        for summary in made["summary"]:
            store.summaries[(summary["Namespace"], summary["JobID"])] = summary
        by_create: Callable[[dict], int] = lambda row: row["CreateIndex"]  # noqa: E731
        evals = sorted(made["eval"], key=by_create)
        for ev in evals:
            store.index_new_eval(ev)
            store.index_eval(ev)
        deployments = sorted(made["deployment"], key=by_create)
        for d in deployments:
            store.index_new_deployment(d)
        allocs = sorted(made["alloc"], key=by_create)
        for alloc in allocs:
            store.index_new_alloc(alloc)
            store.index_alloc(alloc)
        store.add_created("evals", evals)
        store.add_created("deployment", deployments)
        store.add_created("allocs", allocs)

    def _publish(
        self,
        store: Store,
        activities: list[list[_Write]],
        n: int,
        indexes: Callable[[int], dict[int, int]],
        stamp: _Stamp,
        strings: list[dict[str, str]],
    ) -> None:
        """The event buffer ends with the events of the last writes, as after the slow path."""
        tail: list[tuple[int, _Write]] = []
        wanted = store.events.max_size + 1
        for writes in reversed(activities):
            for i in reversed(range(n)):
                tail.extend((i, w) for w in reversed(writes) if w.type is not None and w.events)
            if len(tail) >= wanted:
                break
        for i, w in reversed(tail[:wanted]):
            strs, idx = strings[i], indexes(i)
            events = [
                Event(
                    e.topic,
                    strs.get(e.key, e.key),
                    e.namespace,
                    None if e.filter_keys is None else [strs.get(k, k) for k in e.filter_keys],
                    _stamp(stamp.compile(e.payload, "event"), strs, idx, {}),
                )
                for e in w.events
            ]
            store.events.append(BufferItem(idx[w.index], cast(str, w.type), events))


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
