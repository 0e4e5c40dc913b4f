"""The demo cluster's state: Nomad's tables, one global Raft-like index, and write transactions.

Objects are kept as dicts in Nomad's wire shape (PascalCase keys); keys starting with `_` are
private bookkeeping and never leave the server. Every write consumes one index, stamps every
object it touches, bumps the index of each table it touches, and produces the events Nomad's
event stream would carry.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import random
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..wire import format_rfc3339, nanos, parse_rfc3339

EVENT_BUFFER = 100  # writes kept for event-stream replay, as Nomad's event_buffer_size

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
    """A copy without the private `_` keys (deep enough for the API: top level only)."""
    return {k: copy.deepcopy(v) for k, v in obj.items() if not k.startswith("_")}


@dataclass
class Event:
    topic: str
    key: str
    namespace: str
    filter_keys: list[str] | None
    payload: dict


@dataclass
class Txn:
    """One write: everything it touches gets its index."""

    index: int
    type: str
    now: float
    tables: set[str] = field(default_factory=set)
    events: list[Event] = field(default_factory=list)

    def touch(self, table: str) -> None:
        self.tables.add(table)


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
        self.event_log: deque[tuple[int, str, list[Event]]] = deque(maxlen=EVENT_BUFFER)
        self.listeners: list[Callable[[int], None]] = []
        self._txn: Txn | None = None

    # --- ids and time -------------------------------------------------------------------------

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def now(self) -> float:
        return self._now()

    # --- writes -------------------------------------------------------------------------------

    @contextmanager
    def write(self, type_: str) -> Iterator[Txn]:
        """A Raft transaction. Nested calls join the outer write."""
        if self._txn is not None:
            yield self._txn
            return
        self.index += 1
        txn = Txn(self.index, type_, self.now())
        self._txn = txn
        try:
            yield txn
        finally:
            self._txn = None
        for table in txn.tables:
            self.table_index[table] = txn.index
        if txn.events:
            self.event_log.append((txn.index, txn.type, txn.events))
        for listener in list(self.listeners):
            listener(txn.index)

    @property
    def txn(self) -> Txn:
        if self._txn is None:
            raise RuntimeError("no write in progress")
        return self._txn

    def put_job(self, job: dict) -> None:
        txn = self.txn
        job["ModifyIndex"] = txn.index
        key = (job["Namespace"], job["ID"])
        self.jobs[key] = job
        versions = self.versions.setdefault(key, [])
        for i, v in enumerate(versions):
            if v["Version"] == job["Version"]:
                versions[i] = job
                break
        else:
            versions.insert(0, job)
            versions.sort(key=lambda v: v["Version"], reverse=True)
        txn.touch("jobs")
        txn.touch("job_version")
        txn.events.append(Event("Job", job["ID"], job["Namespace"], None, {"Job": public(job)}))

    def put_version(self, job: dict) -> None:
        """Update a stored, non-current version (its stability flag)."""
        txn = self.txn
        job["ModifyIndex"] = txn.index
        txn.touch("job_version")

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
        self.allocs[alloc["ID"]] = alloc
        txn.touch("allocs")
        stub = public(alloc)
        stub["Job"] = None
        txn.events.append(
            Event(
                "Allocation",
                alloc["ID"],
                alloc["Namespace"],
                [alloc["JobID"], alloc.get("DeploymentID", "")],
                {"Allocation": stub},
            )
        )

    def put_eval(self, ev: dict) -> None:
        txn = self.txn
        ev["ModifyIndex"] = txn.index
        ev["ModifyTime"] = nanos(txn.now)
        self.evals[ev["ID"]] = ev
        txn.touch("evals")
        txn.events.append(
            Event(
                "Evaluation",
                ev["ID"],
                ev["Namespace"],
                [ev["JobID"], ev.get("DeploymentID", "")],
                {"Evaluation": public(ev)},
            )
        )

    def put_deployment(self, d: dict) -> None:
        txn = self.txn
        d["ModifyIndex"] = txn.index
        d["ModifyTime"] = nanos(txn.now)
        self.deployments[d["ID"]] = d
        txn.touch("deployment")
        txn.events.append(Event("Deployment", d["ID"], d["Namespace"], [d["JobID"]], {"Deployment": public(d)}))

    def put_node(self, node: dict) -> None:
        node["ModifyIndex"] = self.txn.index
        self.nodes[node["ID"]] = node
        self.txn.touch("nodes")
        self.txn.events.append(Event("Node", node["ID"], "", None, {"Node": public(node)}))

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
            for a in self.allocs.values()
            if a["JobID"] == job["ID"]
            and a["Namespace"] == job["Namespace"]
            and (all_incarnations or a["_job_create_index"] == job["CreateIndex"])
        ]
        return sorted(allocs, key=lambda a: a["CreateIndex"], reverse=True)

    def job_deployments(self, namespace: str, job_id: str, job_create_index: int | None = None) -> list[dict]:
        ds = [
            d
            for d in self.deployments.values()
            if d["JobID"] == job_id
            and d["Namespace"] == namespace
            and (job_create_index is None or d["JobCreateIndex"] == job_create_index)
        ]
        return sorted(ds, key=lambda d: d["CreateIndex"], reverse=True)

    def latest_deployment(self, job: dict) -> dict | None:
        ds = self.job_deployments(job["Namespace"], job["ID"], job["CreateIndex"])
        return ds[0] if ds else None

    def job_evals(self, namespace: str, job_id: str) -> list[dict]:
        evs = [e for e in self.evals.values() if e["JobID"] == job_id and e["Namespace"] == namespace]
        return sorted(evs, key=lambda e: e["CreateIndex"], reverse=True)
