"""The demo cluster's state: Nomad's tables, one global Raft-like index, and write transactions.

Objects are kept as dicts in Nomad's wire shape (PascalCase keys); keys starting with `_` are
private bookkeeping and never leave the server. Every write consumes one index, stamps every
object it touches, bumps the index of each table it touches, and publishes to the event buffer
(stream.py) the events Nomad's event stream would carry for it.

Like memdb's indexes (nomad/state/schema.go), secondary indexes kept as rows are written (a job's
allocations, evaluations and deployments, a deployment's and an evaluation's allocations, the
blocked evaluations, what each node's allocations use, the keys of each table in list order)
make a write or a read of one job cost the same with 50,000 jobs as with ten.
"""

from __future__ import annotations

import base64
import bisect
import copy
import hashlib
import random
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from ..wire import format_rfc3339, nanos, parse_rfc3339
from .stream import BufferItem, Event, EventBuffer
from .structs import group_resources, lookup_task_group

ACTIVE_DEPLOYMENT = ("running", "paused", "initializing", "pending", "blocked", "unblocking")

# Keys of an allocation that AllocListStub carries, in struct order.
ALLOC_STUB_KEYS = (
    "ID",
    "EvalID",
    "Name",
    "Namespace",
    "NodeID",
    "NodeName",
    "JobID",
    "JobType",
    "JobVersion",
    "TaskGroup",
    "DesiredStatus",
    "DesiredDescription",
    "ClientStatus",
    "ClientDescription",
    "DesiredTransition",
    "TaskStates",
    "DeploymentStatus",
    "FollowupEvalID",
    "NextAllocation",
    "RescheduleTracker",
    "PreemptedAllocations",
    "PreemptedByAllocation",
    "CreateIndex",
    "ModifyIndex",
    "CreateTime",
    "ModifyTime",
)

JOB_STUB_KEYS = (
    "ID",
    "ParentID",
    "Name",
    "Namespace",
    "Datacenters",
    "NodePool",
    "Multiregion",
    "Type",
    "Priority",
    "Periodic",
    "ParameterizedJob",
    "Stop",
    "Status",
    "StatusDescription",
    "JobSummary",
    "CreateIndex",
    "ModifyIndex",
    "JobModifyIndex",
    "SubmitTime",
)


class NomadError(Exception):
    """An error the HTTP API returns as a plain-text body with this status code."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def namespace(name: str, description: str) -> dict:
    """A structs.Namespace as the state store keeps it, Hash set as Namespace.SetHash does."""
    digest = hashlib.blake2b((name + description).encode(), digest_size=32).digest()
    return {
        "Name": name,
        "Description": description,
        "Quota": "",
        "Capabilities": None,
        "NodePoolConfiguration": None,
        "VaultConfiguration": None,
        "ConsulConfiguration": None,
        "Meta": None,
        "Hash": base64.b64encode(digest).decode(),
        "CreateIndex": 1,
        "ModifyIndex": 1,
        "RequiredExtraClaims": None,
        "OptionalExtraClaims": None,
    }


def public(obj: dict) -> dict:
    """A deep copy without the private `_` keys (those of the top level: no other has any)."""
    return {k: _copy(v) for k, v in obj.items() if not k.startswith("_")}


def _copy(value):
    """copy.deepcopy for the JSON-shaped values of the tables, several times faster."""
    kind = type(value)
    if kind is dict:
        return {k: _copy(v) for k, v in value.items()}
    if kind is list:
        return [_copy(v) for v in value]
    if kind in (str, int, float, bool) or value is None:
        return value
    return copy.deepcopy(value)


# Event types (nomad/structs/event.go) of the writes the demo makes. A write passes one of these,
# or None for a Raft message type that MsgTypeEvents (nomad/state/events.go) does not map, whose
# write publishes no events (a job's stability update: JobStabilityRequestType).
EVENT_TYPES = frozenset(
    {
        "NodeRegistration",
        "JobRegistered",
        "JobDeregistered",
        "PlanResult",
        "EvaluationUpdated",
        "AllocationUpdated",
        "AllocationUpdateDesiredStatus",
        "DeploymentStatusUpdate",
        "DeploymentPromotion",
        "DeploymentAllocHealth",
        "JobBatchDeregistered",  # the job GC's purge (JobBatchDeregisterRequestType, gc.py)
    }
)

LIVE_CLIENT_STATUS = ("pending", "running")

# Tables listed in Raft order for pagination: CreateIndex then ID (the `create` and
# `namespace_create_prefix` indexes of nomad/state/schema.go).
CREATE_ORDERED = ("allocs", "evals", "deployment")


def _alloc_event(alloc: dict, deleted: bool = False) -> Event:
    stub = public(alloc)
    stub["Job"] = None
    keys = [alloc["JobID"], alloc.get("DeploymentID", "")]
    return Event("Allocation", alloc["ID"], alloc["Namespace"], keys, {"Allocation": stub})


def _eval_event(ev: dict, deleted: bool = False) -> Event:
    keys = [ev["JobID"], ev.get("DeploymentID", "")]
    return Event("Evaluation", ev["ID"], ev["Namespace"], keys, {"Evaluation": public(ev)})


def _deployment_event(d: dict, deleted: bool = False) -> Event:
    return Event("Deployment", d["ID"], d["Namespace"], [d["JobID"]], {"Deployment": public(d)})


def _job_event(job: dict, deleted: bool = False) -> Event:
    payload: dict = {"Job": public(job)}
    if deleted:  # JobEvent.Deleted is omitempty
        payload["Deleted"] = True
    return Event("Job", job["ID"], job["Namespace"], None, payload)


def _node_event(node: dict, deleted: bool = False) -> Event:
    return Event("Node", node["ID"], "", None, {"Node": public(node)})


# eventFromChange (nomad/state/events.go): the event of a changed row, by table.
EVENT_OF: dict[str, Callable[[dict, bool], Event]] = {
    "jobs": _job_event,
    "allocs": _alloc_event,
    "evals": _eval_event,
    "deployment": _deployment_event,
    "nodes": _node_event,
}


@dataclass
class Txn:
    """One write: everything it touches gets its index.

    `changes` are memdb's: one per row, where the row was last written, with the row as the write
    leaves it (Txn.Changes in go-memdb collapses several writes of a row), and the write's events
    are made from them when it commits (eventsFromChanges)."""

    index: int
    type: str | None
    now: float
    tables: set[str] = field(default_factory=set)
    changes: dict[tuple[str, str], tuple[dict, bool]] = field(default_factory=dict)

    def touch(self, table: str) -> None:
        self.tables.add(table)

    def change(self, table: str, key: str, obj: dict, deleted: bool = False) -> None:
        self.tables.add(table)
        self.changes.pop((table, key), None)
        self.changes[(table, key)] = (obj, deleted)

    def events(self) -> list[Event]:
        if self.type is None:
            return []
        return [EVENT_OF[table](obj, deleted) for (table, _), (obj, deleted) in self.changes.items()]


class Recorder(Protocol):
    def drew_id(self, new_id: str) -> None: ...

    def committed(self, index: int, tables: set[str], type_: str | None, events: list[Event]) -> None: ...


def _discard(index: dict, key, member: str) -> None:
    """Drop `member` from a secondary index's set at `key`, and the set once empty."""
    rows = index.get(key)
    if rows is not None:
        rows.pop(member, None)
        if not rows:
            del index[key]


def group_has_services(group: dict) -> bool:
    return bool(group.get("Services")) or any(t.get("Services") for t in group["Tasks"])


class Store:
    def __init__(self, now: Callable[[], float], scaled: Callable[[float], float], seed: int | None = None) -> None:
        self._now = now
        self.scaled = scaled
        self.rng = random.Random(seed)
        self.index = 1
        self.table_index: dict[str, int] = {}
        # (namespace, job id) -> current job; versions newest first.
        self.jobs: dict[tuple[str, str], dict] = {}
        self.versions: dict[tuple[str, str], list[dict]] = {}
        self.submissions: dict[tuple[str, str, int], dict] = {}
        self.summaries: dict[tuple[str, str], dict] = {}
        self.allocs: dict[str, dict] = {}
        self.evals: dict[str, dict] = {}
        self.deployments: dict[str, dict] = {}
        self.nodes: dict[str, dict] = {}
        # Nomad's state store creates the default namespace at index 1 (namespaceInit in
        # nomad/state/state_store.go); the demo's second one is there from the start too.
        self.namespaces = {
            ns["Name"]: ns
            for ns in (namespace("default", "Default shared namespace"), namespace("staging", "Staging environment"))
        }
        self.events = EventBuffer()
        self.listeners: list[Callable[[int], None]] = []
        self.recorder: Recorder | None = None  # told of every id and write (ExtraJobs.record)
        self._txn: Txn | None = None
        # Secondary indexes (memdb's indexes of nomad/state/schema.go), kept as rows are
        # written, so that no read of one job, deployment or evaluation scans a whole table.
        self.allocs_by_job: dict[tuple[str, str], dict[str, dict]] = {}
        self.allocs_by_deployment: dict[str, dict[str, dict]] = {}
        self.allocs_by_eval: dict[str, dict[str, dict]] = {}
        self.evals_by_job: dict[tuple[str, str], dict[str, dict]] = {}
        self.deployments_by_job: dict[tuple[str, str], dict[str, dict]] = {}
        self.blocked: dict[str, dict] = {}  # blocked evaluations (BlockedEvals' set)
        self.serving: dict[str, dict] = {}  # running allocations with services (Fabio's source)
        # What the nodes' live allocations use: {node id: [cpu MHz, memory MB]}.
        self.node_usage: dict[str, list[int]] = {}
        # Keys in memdb's iteration order, for pages: job ids by namespace, and (CreateIndex, ID)
        # of the tables listed in Raft order, over all namespaces ("") and by namespace.
        self.job_ids: dict[str, list[str]] = {}
        self.created: dict[str, dict[str, list[tuple[int, str]]]] = {t: {} for t in CREATE_ORDERED}

    # --- ids and time -------------------------------------------------------------------------

    def new_id(self) -> str:
        """A random UUID, as uuid.UUID(int=..., version=4) makes it from 128 random bits."""
        bits = self.rng.getrandbits(128) & ~(0xC000 << 48) | 0x8000 << 48
        h = "%032x" % (bits & ~(0xF000 << 64) | 4 << 76)
        new = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        if self.recorder is not None:
            self.recorder.drew_id(new)
        return new

    def now(self) -> float:
        return self._now()

    # --- writes -------------------------------------------------------------------------------

    @contextmanager
    def write(self, type_: str | None) -> Iterator[Txn]:
        """A Raft transaction that publishes events of type `type_` (None: none). Nested calls
        join the outer write."""
        if self._txn is not None:
            yield self._txn
            return
        assert type_ is None or type_ in EVENT_TYPES, type_
        self.index += 1
        txn = Txn(self.index, type_, self.now())
        self._txn = txn
        try:
            yield txn
        finally:
            self._txn = None
        self.commit(txn.index, txn.tables, txn.type, txn.events())

    def commit(self, index: int, tables: Iterable[str], type_: str | None, events: list[Event]) -> None:
        """A write's end: its tables' indexes, its events published, the listeners told."""
        if self.recorder is not None:
            self.recorder.committed(index, set(tables), type_, events)
        for table in tables:
            self.table_index[table] = index
        if events and type_ is not None:  # EventBroker.Publish ignores a write without events
            self.events.append(BufferItem(index, type_, events))
        for listener in list(self.listeners):
            listener(index)

    @property
    def txn(self) -> Txn:
        if self._txn is None:
            raise RuntimeError("no write in progress")
        return self._txn

    def put_job(self, job: dict) -> None:
        txn = self.txn
        job["ModifyIndex"] = txn.index
        key = (job["Namespace"], job["ID"])
        self.index_job(job)
        versions = self.versions.setdefault(key, [])
        for i, v in enumerate(versions):
            if v["Version"] == job["Version"]:
                versions[i] = job
                break
        else:
            versions.insert(0, job)
            versions.sort(key=lambda v: v["Version"], reverse=True)
        txn.touch("job_version")
        txn.change("jobs", f"{key}", job)

    def delete_job(self, job: dict) -> None:
        """A purge: the job, its versions, its summary and its submissions go (DeleteJobTxn,
        deleteJobSubmission in nomad/state/state_store.go)."""
        key = (job["Namespace"], job["ID"])
        self.jobs.pop(key)
        self.versions.pop(key)
        self.summaries.pop(key, None)
        for sub in [k for k in self.submissions if k[:2] == key]:
            del self.submissions[sub]
        ids = self.job_ids[job["Namespace"]]
        del ids[bisect.bisect_left(ids, job["ID"])]
        self.txn.touch("job_version")
        self.txn.touch("job_summary")
        self.txn.change("jobs", f"{key}", job, deleted=True)

    def put_version(self, job: dict) -> None:
        """Update a stored, non-current version (its stability flag)."""
        txn = self.txn
        job["ModifyIndex"] = txn.index
        txn.touch("job_version")

    # --- deletions (the core scheduler's reaps, gc.py) ----------------------------------------
    # Deleting an allocation, an evaluation or a deployment publishes no event: eventFromChange
    # (nomad/state/events.go) has no case for their deletion (enterpriseEventFromChangeDeleted
    # finds none in Nomad CE), and a write's earlier change of the row collapses into the
    # deletion as memdb's Txn.Changes does. The table's index moves (DeleteEval,
    # DeleteDeploymentTxn, deleteAllocsForJobTxn), which wakes the blocking queries on it.

    def delete_alloc(self, alloc: dict) -> None:
        aid = alloc["ID"]
        if self.allocs.pop(aid, None) is None:
            return
        _discard(self.allocs_by_job, (alloc["Namespace"], alloc["JobID"]), aid)
        _discard(self.allocs_by_eval, alloc["EvalID"], aid)
        _discard(self.allocs_by_deployment, alloc["_dep"], aid)
        self.serving.pop(aid, None)
        if (counted := alloc["_counted"]) is not None:
            usage = self.node_usage[counted[0]]
            usage[0] -= counted[1]
            usage[1] -= counted[2]
            alloc["_counted"] = None
        self._delete_created("allocs", alloc)
        self._deleted("allocs", aid)

    def delete_eval(self, ev: dict) -> None:
        if self.evals.pop(ev["ID"], None) is None:
            return
        _discard(self.evals_by_job, (ev["Namespace"], ev["JobID"]), ev["ID"])
        self.blocked.pop(ev["ID"], None)
        self._delete_created("evals", ev)
        self._deleted("evals", ev["ID"])

    def delete_deployment(self, d: dict) -> None:
        """The deployment only: allocations keep naming it (memdb's index is on allocs)."""
        if self.deployments.pop(d["ID"], None) is None:
            return
        _discard(self.deployments_by_job, (d["Namespace"], d["JobID"]), d["ID"])
        self._delete_created("deployment", d)
        self._deleted("deployment", d["ID"])

    def _deleted(self, table: str, key: str) -> None:
        self.txn.changes.pop((table, key), None)
        self.txn.touch(table)

    def _delete_created(self, table: str, obj: dict) -> None:
        key = (obj["CreateIndex"], obj["ID"])
        for ns in ("", obj["Namespace"]):
            keys = self.created[table].get(ns, [])
            i = bisect.bisect_left(keys, key)
            if i < len(keys) and keys[i] == key:
                del keys[i]

    def put_summary(self, summary: dict) -> None:
        summary["ModifyIndex"] = self.txn.index
        self.summaries[(summary["Namespace"], summary["JobID"])] = summary
        self.txn.touch("job_summary")

    def put_alloc(self, alloc: dict, *, client_update: bool = False) -> None:
        txn = self.txn
        alloc["ModifyIndex"] = txn.index
        alloc["ModifyTime"] = nanos(txn.now)
        if not client_update:
            alloc["AllocModifyIndex"] = txn.index
        if alloc["ID"] not in self.allocs:
            self.index_new_alloc(alloc)
            self._insert_created("allocs", alloc)
        self.index_alloc(alloc)
        txn.change("allocs", alloc["ID"], alloc)

    def put_eval(self, ev: dict) -> None:
        txn = self.txn
        ev["ModifyIndex"] = txn.index
        ev["ModifyTime"] = nanos(txn.now)
        if ev["ID"] not in self.evals:
            self.index_new_eval(ev)
            self._insert_created("evals", ev)
        self.index_eval(ev)
        txn.change("evals", ev["ID"], ev)

    def put_deployment(self, d: dict) -> None:
        txn = self.txn
        d["ModifyIndex"] = txn.index
        d["ModifyTime"] = nanos(txn.now)
        if d["ID"] not in self.deployments:
            self.index_new_deployment(d)
            self._insert_created("deployment", d)
        txn.change("deployment", d["ID"], d)

    def put_node(self, node: dict) -> None:
        node["ModifyIndex"] = self.txn.index
        self.nodes[node["ID"]] = node
        self.node_usage.setdefault(node["ID"], [0, 0])
        self.txn.change("nodes", node["ID"], node)

    def reset_progress_deadline(self, state: dict, *, keep_later: bool = False) -> None:
        """A deployment task group's RequireProgressBy (inside a write): the write's time plus the
        group's progress_deadline, a rollout duration (so scaled by the clock). The state store
        sets it when a group's first allocation is placed and on promotion, pause and resume; an
        allocation turning healthy pushes it later, never earlier (keep_later)
        (updateDeploymentWithAlloc and friends, nomad/state/state_store.go)."""
        by = self.txn.now + self.scaled(state["ProgressDeadline"] / 1e9)
        if keep_later and (parse_rfc3339(state["RequireProgressBy"]) or 0) >= by:
            return
        state["RequireProgressBy"] = format_rfc3339(by)

    # --- secondary indexes --------------------------------------------------------------------
    # Each takes a row as it is stored; the bulk loader (Cluster.add_extra_jobs) calls them too.

    def index_job(self, job: dict) -> None:
        key = (job["Namespace"], job["ID"])
        if key not in self.jobs:
            bisect.insort(self.job_ids.setdefault(job["Namespace"], []), job["ID"])
        self.jobs[key] = job

    def index_new_alloc(self, alloc: dict) -> None:
        self.allocs[alloc["ID"]] = alloc
        self.allocs_by_job.setdefault((alloc["Namespace"], alloc["JobID"]), {})[alloc["ID"]] = alloc
        self.allocs_by_eval.setdefault(alloc["EvalID"], {})[alloc["ID"]] = alloc
        alloc["_dep"] = ""
        alloc["_counted"] = None

    def index_alloc(self, alloc: dict) -> None:
        """An allocation's deployment (an in-place update moves it), what it uses of its node
        while it runs, and whether Fabio sees it."""
        aid = alloc["ID"]
        dep = alloc.get("DeploymentID") or ""
        if dep != alloc["_dep"]:
            self.allocs_by_deployment.get(alloc["_dep"], {}).pop(aid, None)
            if dep:
                self.allocs_by_deployment.setdefault(dep, {})[aid] = alloc
            alloc["_dep"] = dep
        live = alloc["DesiredStatus"] == "run" and alloc["ClientStatus"] in LIVE_CLIENT_STATUS
        group = lookup_task_group(alloc["_job"], alloc["TaskGroup"])
        counted = (alloc["NodeID"], *group_resources(group)) if live else None
        if counted != alloc["_counted"]:
            for sign, entry in ((-1, alloc["_counted"]), (1, counted)):
                if entry is not None:
                    usage = self.node_usage.setdefault(entry[0], [0, 0])
                    usage[0] += sign * entry[1]
                    usage[1] += sign * entry[2]
            alloc["_counted"] = counted
        if alloc["ClientStatus"] == "running" and alloc["DesiredStatus"] == "run" and group_has_services(group):
            self.serving[aid] = alloc
        else:
            self.serving.pop(aid, None)

    def index_new_eval(self, ev: dict) -> None:
        self.evals[ev["ID"]] = ev
        self.evals_by_job.setdefault((ev["Namespace"], ev["JobID"]), {})[ev["ID"]] = ev

    def index_eval(self, ev: dict) -> None:
        if ev["Status"] == "blocked":
            self.blocked[ev["ID"]] = ev
        else:
            self.blocked.pop(ev["ID"], None)

    def index_new_deployment(self, d: dict) -> None:
        self.deployments[d["ID"]] = d
        self.deployments_by_job.setdefault((d["Namespace"], d["JobID"]), {})[d["ID"]] = d

    def _insert_created(self, table: str, obj: dict) -> None:
        key = (obj["CreateIndex"], obj["ID"])
        for ns in ("", obj["Namespace"]):
            bisect.insort(self.created[table].setdefault(ns, []), key)

    def add_created(self, table: str, objs: list[dict]) -> None:
        """Many rows at once into the Raft-ordered keys: one sort, not one insertion each."""
        by_ns = self.created[table]
        for obj in objs:
            key = (obj["CreateIndex"], obj["ID"])
            by_ns.setdefault("", []).append(key)
            by_ns.setdefault(obj["Namespace"], []).append(key)
        for keys in by_ns.values():
            keys.sort()

    # --- reads --------------------------------------------------------------------------------

    def table(self, name: str) -> int:
        return self.table_index.get(name, 1)

    def job(self, namespace: str, job_id: str) -> dict | None:
        return self.jobs.get((namespace, job_id))

    def job_version(self, namespace: str, job_id: str, version: int) -> dict | None:
        for v in self.versions.get((namespace, job_id), []):
            if v["Version"] == version:
                return v
        return None

    def job_allocs(self, job: dict, all_incarnations: bool = False) -> list[dict]:
        """The job's allocations, newest first (CreateIndex descending) as the Go client sorts."""
        allocs = [
            a
            for a in self.allocs_by_job.get((job["Namespace"], job["ID"]), {}).values()
            if all_incarnations or a["_job_create_index"] == job["CreateIndex"]
        ]
        return sorted(allocs, key=lambda a: a["CreateIndex"], reverse=True)

    def job_deployments(self, namespace: str, job_id: str, job_create_index: int | None = None) -> list[dict]:
        ds = [
            d
            for d in self.deployments_by_job.get((namespace, job_id), {}).values()
            if job_create_index is None or d["JobCreateIndex"] == job_create_index
        ]
        return sorted(ds, key=lambda d: d["CreateIndex"], reverse=True)

    def latest_deployment(self, job: dict) -> dict | None:
        ds = self.job_deployments(job["Namespace"], job["ID"], job["CreateIndex"])
        return ds[0] if ds else None

    def job_evals(self, namespace: str, job_id: str) -> list[dict]:
        evs = self.evals_by_job.get((namespace, job_id), {}).values()
        return sorted(evs, key=lambda e: e["CreateIndex"], reverse=True)

    def deployment_allocs(self, deployment_id: str) -> list[dict]:
        return list(self.allocs_by_deployment.get(deployment_id, {}).values())

    def eval_allocs(self, eval_id: str) -> list[dict]:
        return list(self.allocs_by_eval.get(eval_id, {}).values())
