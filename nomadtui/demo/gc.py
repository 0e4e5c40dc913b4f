"""Garbage collection as Nomad's servers do it: the core scheduler's GC jobs (CoreScheduler's
evalGC, jobGC and deploymentGC, nomad/core_sched.go), dispatched by the leader's tickers
(Server.schedulePeriodic, nomad/leader.go) and at once by `PUT /v1/system/gc`
(System.GarbageCollect, nomad/system_endpoint.go: a CoreJobForceGC evaluation, forceGC).

Thresholds and intervals are nomad/config.go DefaultConfig's (the agent, command/agent/config.go,
sets none of them unless told). They are durations of the cluster's life, so the demo divides them
by its clock's speed like every other duration it waits (clock.py): at the default `--speed 10` a
finished evaluation and its allocations go 6 minutes after their last change, a terminal
deployment too, a dead stopped job 24 minutes after it was submitted, and the GC runs every 30 s.

"Old enough": Nomad 2.0 compares each object's ModifyTime (a job's SubmitTime) with time.Now()
less the threshold (CoreScheduler.getCutoffTime). Nomad before 1.x compared ModifyIndex with the
Raft index its FSM's time table had at that time; the demo does as 2.0 does, on its own clock.

Old job versions are not this module's: the state store drops the oldest as it writes a new one
(upsertJobVersion, nomad/state/state_store.go, JobTrackedVersions 6; Cluster._trim_versions), and
the job's submissions with them (pruneJobSubmissions; `prune_job_submissions` below). nodeGC has
nothing to collect: the demo's nodes never go down.

Each reap is one write with the Raft message Nomad writes: Eval.Reap's EvalDeleteRequestType and
Deployment.Reap's DeploymentDeleteRequestType publish no events (MsgTypeEvents,
nomad/state/events.go, does not map them); Job.BatchDeregister's JobBatchDeregisterRequestType is
a JobBatchDeregistered event per purged job (the Job topic, with Deleted). DeleteEval's
setJobStatuses is left out: removing terminal evaluations and allocations changes no job's status.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from ..wire import nanos
from .clock import Clock
from .store import ACTIVE_DEPLOYMENT, Store
from .timers import Timers

MINUTE = 60.0
HOUR = 60 * MINUTE

# nomad/config.go DefaultConfig
EVAL_GC_INTERVAL = 5 * MINUTE
EVAL_GC_THRESHOLD = 1 * HOUR  # eval_gc_threshold
BATCH_EVAL_GC_THRESHOLD = 24 * HOUR  # batch_eval_gc_threshold
JOB_GC_INTERVAL = 5 * MINUTE
JOB_GC_THRESHOLD = 4 * HOUR  # job_gc_threshold
DEPLOYMENT_GC_INTERVAL = 5 * MINUTE
DEPLOYMENT_GC_THRESHOLD = 1 * HOUR  # deployment_gc_threshold

FORCE_GC_THRESHOLD = 0.001  # forceGC: "a minimal threshold for all objects", time.Millisecond
MAX_UUIDS_PER_WRITE = 7281  # structs.MaxUUIDsPerWriteRequest: ids per reap write
JOB_REAP_BATCH = 2048  # jobReap's batch size

TERMINAL_EVAL = ("complete", "failed", "canceled")  # Evaluation.TerminalStatus
SERVER_TERMINAL = ("stop", "evict")  # Allocation.ServerTerminalStatus
CLIENT_TERMINAL = ("complete", "failed", "lost")  # terminalAllocationStatuses
_NONE: dict[str, dict] = {}  # no allocations


def alloc_terminal(alloc: dict) -> bool:
    """Allocation.TerminalStatus (nomad/structs/alloc.go)."""
    return alloc["DesiredStatus"] in SERVER_TERMINAL or alloc["ClientStatus"] in CLIENT_TERMINAL


# alloc_terminal inlined over many allocations: GC scans run on the servers' only thread, and a
# big cluster's records are mostly old ones of running allocations.


def _any_live(allocs: Iterable[dict]) -> bool:
    for a in allocs:
        if a["DesiredStatus"] not in SERVER_TERMINAL and a["ClientStatus"] not in CLIENT_TERMINAL:
            return True
    return False


def _all_live(allocs: Iterable[dict]) -> bool:
    for a in allocs:
        if a["DesiredStatus"] in SERVER_TERMINAL or a["ClientStatus"] in CLIENT_TERMINAL:
            return False
    return True


def _seconds(unix_nanos: int) -> float:
    return unix_nanos / 1e9


def job_is_gcable(job: dict) -> bool:
    """jobIsGCable (nomad/state/schema.go): the jobs table's `gc` index, which JobsByGC reads."""
    if job.get("VersionTag"):
        return False
    if (job.get("Periodic") or {}).get("Enabled") or job.get("ParameterizedJob"):
        return bool(job.get("Stop"))
    if job["Status"] != "dead":
        return False
    return bool(job.get("Stop")) or job["Type"] in ("batch", "sysbatch")


def alloc_gc_eligible(alloc: dict, job: dict | None, now: float, cutoff: float, scaled: Callable) -> bool:
    """allocGCEligible (nomad/core_sched.go): terminal, unchanged since the cutoff, not running on
    its client, and not a failed allocation its reschedule policy may still replace."""
    if not alloc_terminal(alloc) or _seconds(alloc["ModifyTime"]) > cutoff:
        return False
    if alloc["ClientStatus"] == "running":
        return False
    if job is None or job.get("Stop") or job["Status"] == "dead":
        return True
    if alloc["DesiredStatus"] == "stop" or alloc["ClientStatus"] != "failed":
        return True
    return _rescheduling_over(alloc, job, now, scaled)


def _rescheduling_over(alloc: dict, job: dict, now: float, scaled: Callable) -> bool:
    """allocGCEligible's end: a failed allocation goes once it was replaced, or its policy allows
    no rescheduling, or its last reschedule is older than the policy's interval (a rollout
    duration, so scaled as the reschedule delays are)."""
    group = next((g for g in job["TaskGroups"] if g["Name"] == alloc["TaskGroup"]), None)
    policy = (group or {}).get("ReschedulePolicy")
    if not policy or (not policy.get("Unlimited") and not policy.get("Attempts")):
        return True
    if alloc.get("NextAllocation"):
        return True
    if policy.get("Unlimited"):
        return False
    events = (alloc.get("RescheduleTracker") or {}).get("Events") or []
    if not events:
        return False
    return now - _seconds(events[-1]["RescheduleTime"]) > scaled(policy["Interval"] / 1e9)


def older_version_terminal_allocs(allocs: list[dict], job: dict, cutoff: float) -> list[str]:
    """olderVersionTerminalAllocs (nomad/core_sched.go): a running batch job's terminal
    allocations of older versions."""
    return [
        a["ID"]
        for a in allocs
        if a["CreateIndex"] < job["JobModifyIndex"] and _seconds(a["ModifyTime"]) < cutoff and alloc_terminal(a)
    ]


def partition_eval_reap(evals: list[str], allocs: list[str], batch: int) -> Iterator[tuple[list[str], list[str]]]:
    """partitionEvalReap (nomad/core_sched.go): requests of at most `batch` ids, allocations
    first; a request that allocations fill takes no evaluations."""
    e = a = 0
    while e < len(evals) or a < len(allocs):
        take_allocs = allocs[a : a + batch]
        a += len(take_allocs)
        take_evals = evals[e : e + batch - len(take_allocs)]
        e += len(take_evals)
        yield take_evals, take_allocs


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def prune_job_submissions(store: Store, namespace: str, job_id: str, limit: int) -> None:
    """pruneJobSubmissions (nomad/state/state_store.go): a job keeps the submissions (the source
    `nomad job run` sent) of its `limit` latest writes, by JobModifyIndex."""
    keys = [k for k in store.submissions if k[0] == namespace and k[1] == job_id]
    if len(keys) <= limit:
        return
    keys.sort(key=lambda k: store.submissions[k]["JobModifyIndex"], reverse=True)
    for k in keys[limit:]:
        del store.submissions[k]


class GarbageCollector:
    """The core scheduler's GC on the demo's store, timers and clock."""

    def __init__(self, store: Store, timers: Timers, clock: Clock) -> None:
        self.store = store
        self.timers = timers
        self.clock = clock

    # --- dispatch --------------------------------------------------------------------------------

    def start(self) -> None:
        """schedulePeriodic's tickers, each a CoreJob evaluation when it fires."""
        self._every(EVAL_GC_INTERVAL, self.eval_gc)
        self._every(JOB_GC_INTERVAL, self.job_gc)
        self._every(DEPLOYMENT_GC_INTERVAL, self.deployment_gc)

    def _every(self, interval: float, collect: Callable[[], None]) -> None:
        def tick() -> None:
            self.timers.after(interval, tick)
            collect()

        self.timers.after(interval, tick)

    def force(self) -> None:
        """System.GarbageCollect: a CoreJobForceGC evaluation enqueued, processed after the
        request answered (as the cluster's evaluations are, by a timer due now)."""
        self.timers.at(self.clock.now(), self.force_gc)

    def force_gc(self) -> None:
        """forceGC: jobs, evaluations, deployments with a 1 ms threshold (nodes after them)."""
        self.job_gc(FORCE_GC_THRESHOLD)
        self.eval_gc(FORCE_GC_THRESHOLD)
        self.deployment_gc(FORCE_GC_THRESHOLD)

    def cutoff(self, threshold: float, forced: float | None) -> float:
        """getCutoffTime: now less the threshold (scaled), or less the forced one as it is."""
        return self.clock.now() - (forced if forced is not None else self.clock.scaled(threshold))

    # --- evaluations (and their allocations) ---------------------------------------------------

    def eval_gc(self, forced: float | None = None) -> None:
        """evalGC: every terminal evaluation old enough whose allocations all are, and every
        allocation old enough of any evaluation. Batch evaluations have a threshold of their own."""
        cutoff = self.cutoff(EVAL_GC_THRESHOLD, forced)
        batch_cutoff = self.cutoff(BATCH_EVAL_GC_THRESHOLD, forced)
        gc_evals: list[str] = []
        gc_allocs: list[str] = []
        newest = nanos(max(cutoff, batch_cutoff))
        # What gcEval rejects first is rejected here, without a call.
        by_eval = self.store.allocs_by_eval
        for ev in self.store.evals.values():
            if ev["Status"] not in TERMINAL_EVAL or ev["ModifyTime"] > newest:
                continue
            if _all_live(mine := by_eval.get(ev["ID"], _NONE).values()) and mine:
                continue
            collect, allocs = self.gc_eval(ev, batch_cutoff if ev["Type"] == "batch" else cutoff, allow_batch=False)
            if collect:
                gc_evals.append(ev["ID"])
            gc_allocs.extend(allocs)
        self.eval_reap(gc_evals, gc_allocs)

    def gc_eval(self, ev: dict, cutoff: float, *, allow_batch: bool) -> tuple[bool, list[str]]:
        """gcEval: whether the evaluation goes, and which of its allocations do."""
        if ev["Status"] not in TERMINAL_EVAL or _seconds(ev["ModifyTime"]) > cutoff:
            return False, []
        allocs = list(self.store.allocs_by_eval.get(ev["ID"], {}).values())
        if allocs and _all_live(allocs):
            return False, []  # every rule below takes terminal allocations only
        job = self.store.job(ev["Namespace"], ev["JobID"])
        if ev["Type"] == "batch" and not (job is None or job["Status"] == "dead" and (job.get("Stop") or allow_batch)):
            old = older_version_terminal_allocs(allocs, job, cutoff)
            return len(old) == len(allocs), old
        now = self.clock.now()
        ids = [a["ID"] for a in allocs if alloc_gc_eligible(a, job, now, cutoff, self.clock.scaled)]
        return len(ids) == len(allocs), ids

    def eval_reap(self, evals: list[str], allocs: list[str]) -> None:
        """evalReap: Eval.Reap writes, each DeleteEval: its evaluations, then its allocations."""
        store = self.store
        for some_evals, some_allocs in partition_eval_reap(evals, allocs, MAX_UUIDS_PER_WRITE):
            with store.write(None):
                for eval_id in some_evals:
                    if (ev := store.evals.get(eval_id)) is not None:
                        store.delete_eval(ev)
                for alloc_id in some_allocs:
                    if (alloc := store.allocs.get(alloc_id)) is not None:
                        store.delete_alloc(alloc)

    # --- deployments ---------------------------------------------------------------------------

    def deployment_gc(self, forced: float | None = None) -> None:
        """deploymentGC: every terminal deployment old enough that no live allocation names."""
        cutoff = self.cutoff(DEPLOYMENT_GC_THRESHOLD, forced)
        store = self.store
        newest = nanos(cutoff)
        gone = [
            d
            for d in store.deployments.values()
            if d["ModifyTime"] <= newest
            and d["Status"] not in ACTIVE_DEPLOYMENT
            and not _any_live(store.allocs_by_deployment.get(d["ID"], _NONE).values())
        ]
        for some in _chunks(gone, MAX_UUIDS_PER_WRITE):  # deploymentReap: Deployment.Reap writes
            with store.write(None):
                for d in some:
                    store.delete_deployment(d)

    # --- jobs ----------------------------------------------------------------------------------

    def job_gc(self, forced: float | None = None) -> None:
        """jobGC: every job the `gc` index holds, submitted before the cutoff, all of whose
        evaluations (with their allocations) may go, and no version of which is tagged; its
        evaluations and allocations are reaped first, then the job is purged."""
        cutoff = self.cutoff(JOB_GC_THRESHOLD, forced)
        jobs: list[dict] = []
        evals: list[str] = []
        allocs: list[str] = []
        # Every job the index holds is dead or stopped: a cheap test first, for a big cluster.
        for job in [
            j for j in self.store.jobs.values() if (j["Status"] == "dead" or j.get("Stop")) and job_is_gcable(j)
        ]:
            if _seconds(job["SubmitTime"]) > cutoff:
                continue
            found = self._job_collectable(job, cutoff)
            if found is not None:
                jobs.append(job)
                evals.extend(found[0])
                allocs.extend(found[1])
        self.eval_reap(evals, allocs)
        for some in _chunks(jobs, JOB_REAP_BATCH):
            self.job_reap(some)

    def _job_collectable(self, job: dict, cutoff: float) -> tuple[list[str], list[str]] | None:
        evals, allocs = [], []
        for ev in self.store.job_evals(job["Namespace"], job["ID"]):
            collect, its_allocs = self.gc_eval(ev, cutoff, allow_batch=True)
            if not collect:
                return None
            evals.append(ev["ID"])
            allocs.extend(its_allocs)
        if any(v.get("VersionTag") for v in self.store.versions.get((job["Namespace"], job["ID"]), [])):
            return None
        return evals, allocs

    def job_reap(self, jobs: list[dict]) -> None:
        """jobReap: Job.BatchDeregister with Purge, one write (applyBatchDeregisterJob) whose
        handleJobDeregister runs DeleteJobTxn for each job: the job (a Job event with Deleted),
        its versions, its deployments, its allocations, its summary and its submissions."""
        store = self.store
        with store.write("JobBatchDeregistered") as txn:
            for job in jobs:
                ns, job_id = job["Namespace"], job["ID"]
                for d in store.job_deployments(ns, job_id):
                    store.delete_deployment(d)
                for alloc in store.job_allocs(job, all_incarnations=True):
                    store.delete_alloc(alloc)
                txn.touch("allocs")
                store.delete_job(job)
