"""The demo cluster's client nodes: allocations start, report health, crash and stop.

A job can make its allocations misbehave through the meta key `nomadtui_demo_fail` (job, group
or task meta): `"unhealthy"` keeps the service checks failing, so the allocation turns unhealthy
at its healthy_deadline; `"crash"` makes the task exit with an error a few seconds after start.
"""

from __future__ import annotations

from typing import Protocol

from ..wire import format_rfc3339, nanos
from .reconciler import Placement
from .scheduler import ready_nodes_in_dcs_and_pool
from .store import ACTIVE_DEPLOYMENT, Store
from .structs import group_resources, lookup_task_group, update_strategy
from .tasklogs import TaskLogs
from .timers import Timers
from .watcher import DeploymentWatcher

FAILURE_META_KEY = "nomadtui_demo_fail"
START_SECONDS = 0.5  # placement -> tasks running
KILL_SECONDS = 0.5  # stop requested -> tasks dead
CRASH_SECONDS = 5.0  # "crash": tasks running -> task exits with code 1
_PORT_RANGE = (20000, 32000)

_DEFAULT_HEALTH = {"HealthCheck": "checks", "MinHealthyTime": 10_000_000_000, "HealthyDeadline": 300_000_000_000}

_TASK_EVENT_FIELDS = {
    "Details": {},
    "DiskLimit": 0,
    "DisplayMessage": "",
    "DownloadError": "",
    "DriverError": "",
    "DriverMessage": "",
    "ExitCode": 0,
    "FailedSibling": "",
    "FailsTask": False,
    "GenericSource": "",
    "KillError": "",
    "KillReason": "",
    "KillTimeout": 0,
    "Message": "",
    "RestartReason": "",
    "SetupError": "",
    "Signal": 0,
    "StartDelay": 0,
    "TaskSignal": "",
    "TaskSignalReason": "",
    "Time": 0,
    "Type": "",
    "ValidationError": "",
    "VaultError": "",
}


def failure_mode(job: dict, group: dict) -> str:
    for task in group["Tasks"]:
        meta = {**(job.get("Meta") or {}), **(group.get("Meta") or {}), **(task.get("Meta") or {})}
        if meta.get(FAILURE_META_KEY) in ("unhealthy", "crash"):
            return meta[FAILURE_META_KEY]
    return ""


def task_event(type_: str, when: float, message: str = "", **extra) -> dict:
    event = dict(_TASK_EVENT_FIELDS, Type=type_, Time=nanos(when), DisplayMessage=message, Details={})
    event.update(extra)
    return event


def _task_state(
    state: str, events: list[dict], started: float | None, finished: float | None = None, failed: bool = False
) -> dict:
    return {
        "State": state,
        "Failed": failed,
        "Restarts": 0,
        "LastRestart": None,
        "StartedAt": format_rfc3339(started),
        "FinishedAt": format_rfc3339(finished),
        "Events": events,
        "TaskHandle": None,
        "Paused": "",
    }


_SUMMARY_BIN = {
    "pending": "Starting",
    "running": "Running",
    "complete": "Complete",
    "failed": "Failed",
    "lost": "Lost",
    "unknown": "Unknown",
}


def _allocated_resources(job: dict, group: dict, node: dict, ports: list[dict]) -> dict:
    tasks = {
        t["Name"]: {
            "Cpu": {"CpuShares": (t.get("Resources") or {}).get("CPU") or 0, "ReservedCores": None},
            "Memory": {
                "MemoryMB": (t.get("Resources") or {}).get("MemoryMB") or 0,
                "MemoryMaxMB": (t.get("Resources") or {}).get("MemoryMaxMB") or 0,
            },
            "Networks": None,
            "Devices": None,
        }
        for t in group["Tasks"]
    }
    dynamic = [{"Label": p["Label"], "Value": p["Value"], "To": p["To"], "HostNetwork": "default"} for p in ports]
    return {
        "Tasks": tasks,
        "TaskLifecycles": {t["Name"]: None for t in group["Tasks"]},
        "Shared": {
            "Networks": [
                {
                    "Mode": "host",
                    "Device": "",
                    "CIDR": "",
                    "IP": node["Address"],
                    "Hostname": "",
                    "MBits": 0,
                    "DNS": None,
                    "ReservedPorts": None,
                    "DynamicPorts": dynamic,
                }
            ],
            "DiskMB": (group.get("EphemeralDisk") or {}).get("SizeMB", 300),
            "Ports": ports,
        },
    }


def _new_alloc(store: Store, job: dict, p: Placement, group: dict, node: dict, ev: dict, ports: list[dict]) -> dict:
    """The allocation the plan creates for a placement, before anything links it."""
    txn = store.txn
    cpu, mem = group_resources(group)
    # readyNodesInDCsAndPool (scheduler/util.go): the ready nodes of the job's datacenters, by
    # datacenter, as AllocMetric.NodesAvailable counts them.
    in_pool, _, feasible = ready_nodes_in_dcs_and_pool(store, job)
    available: dict[str, int] = {}
    for n in feasible:
        available[n["Datacenter"]] = available.get(n["Datacenter"], 0) + 1
    alloc = {
        "ID": store.new_id(),
        "Namespace": job["Namespace"],
        "EvalID": ev["ID"],
        "Name": p.name,
        "NodeID": node["ID"],
        "NodeName": node["Name"],
        "JobID": job["ID"],
        "JobType": job["Type"],
        "JobVersion": job["Version"],
        "TaskGroup": p.group,
        "AllocatedResources": _allocated_resources(job, group, node, ports),
        "Metrics": {
            "NodesEvaluated": len(feasible),
            "NodesFiltered": 0,
            "NodesInPool": len(in_pool),
            "NodesAvailable": available,
            "ClassFiltered": None,
            "ConstraintFiltered": None,
            "NodesExhausted": 0,
            "ClassExhausted": None,
            "DimensionExhausted": None,
            "QuotaExhausted": None,
            "ResourcesExhausted": None,
            "Scores": None,
            "ScoreMetaData": None,
            "AllocationTime": 61_344,
            "CoalescedFailures": 0,
        },
        "DesiredStatus": "run",
        "DesiredDescription": "",
        "DesiredTransition": {
            "Migrate": None,
            "Reschedule": None,
            "ForceReschedule": None,
            "NoShutdownDelay": None,
            "MigrateDisablePlacement": None,
        },
        "ClientStatus": "pending",
        "ClientDescription": "No tasks have started",
        "TaskStates": None,
        "AllocStates": None,
        "DeploymentID": "",
        "DeploymentStatus": None,
        "FollowupEvalID": "",
        "NextAllocation": "",
        "PreviousAllocation": "",
        "RescheduleTracker": None,
        "PreemptedAllocations": None,
        "PreemptedByAllocation": "",
        "NetworkStatus": None,
        "SigningKeyID": "",
        "CreateIndex": txn.index,
        "ModifyIndex": txn.index,
        "AllocModifyIndex": txn.index,
        "CreateTime": nanos(txn.now),
        "ModifyTime": nanos(txn.now),
        "_job": job,
        "_job_create_index": job["CreateIndex"],
        "_health_gen": 0,
        "_finished_at": None,
        "_cpu": cpu,
        "_memory": mem,
    }
    return alloc


def _reschedule_tracker(prev: dict, now: float) -> dict:
    """The replacement's RescheduleTracker: the failed allocation's events and this one."""
    events = list((prev.get("RescheduleTracker") or {}).get("Events") or [])
    events.append(
        {
            "PrevAllocID": prev["ID"],
            "PrevNodeID": prev["NodeID"],
            "RescheduleTime": nanos(now),
            "Delay": int((now - prev["_finished_at"]) * 1e9),
        }
    )
    return {"Events": events, "LastReschedule": "ok"}


def _started_state(task: dict, now: float) -> dict:
    return _task_state(
        "running",
        [
            task_event("Received", now - 0.4, "Task received by client"),
            task_event(
                "Task Setup",
                now - 0.3,
                "Building Task Directory",
                Message="Building Task Directory",
                Details={"message": "Building Task Directory"},
            ),
            task_event(
                "Driver",
                now - 0.2,
                "Downloading image",
                DriverMessage="Downloading image",
                Details={"image": str((task.get("Config") or {}).get("image", ""))},
            ),
            task_event("Started", now, "Task started by client"),
        ],
        started=now,
    )


def _crash_events(now: float) -> list[dict]:
    return [
        task_event(
            "Terminated",
            now,
            "Exit Code: 1",
            ExitCode=1,
            Details={"exit_code": "1", "signal": "0", "oom_killed": "false"},
        ),
        task_event(
            "Not Restarting",
            now,
            'Exceeded allowed attempts 2 in interval 30m0s and mode is "fail"',
            FailsTask=True,
            RestartReason='Exceeded allowed attempts 2 in interval 30m0s and mode is "fail"',
        ),
    ]


def _kill_events(now: float) -> list[dict]:
    return [
        task_event(
            "Killing",
            now - 0.1,
            "Sent interrupt. Waiting 5s before force killing",
            KillTimeout=5_000_000_000,
        ),
        task_event(
            "Terminated",
            now - 0.05,
            "Exit Code: 0",
            Details={"exit_code": "0", "signal": "0", "oom_killed": "false"},
        ),
        task_event("Killed", now, "Task successfully killed"),
    ]


def health_settings(alloc: dict) -> dict:
    """Allocations in a deployment are judged by the update block, others by migrate."""
    group = lookup_task_group(alloc["_job"], alloc["TaskGroup"])
    if alloc.get("DeploymentID"):
        return group.get("Update") or _DEFAULT_HEALTH
    return group.get("Migrate") or _DEFAULT_HEALTH


class NodeEndpoint(Protocol):
    """What the clients' allocation updates make the servers do (Node.UpdateAlloc in
    nomad/node_endpoint.go and the FSM behind it): inside the client's write, except
    `unblock_evals`."""

    def create_eval(
        self, job: dict, triggered_by: str, *, deployment_id: str = "", wait_until: float | None = None
    ) -> dict: ...

    def refresh_job_status(self, job: dict) -> None: ...

    def unblock_evals(self) -> None: ...


class ClientSimulator:
    """The three client nodes: they run the allocations the scheduler places, as Nomad's alloc
    runner does (client/allocrunner/alloc_runner.go, with its health hook and
    client/allochealth/tracker.go), and report back to the servers."""

    def __init__(self, store: Store, timers: Timers, watcher: DeploymentWatcher, server: NodeEndpoint) -> None:
        self.store = store
        self.timers = timers
        self.watcher = watcher
        self.server = server
        self.logs = TaskLogs(store, timers.clock.now)

    # --- what the scheduler's plan asks (inside its write) ---------------------------------------

    def place(self, job: dict, p: Placement, node: dict, ev: dict, d: dict | None) -> dict:
        """Create an allocation (inside the scheduler's write); the client starts it shortly."""
        store = self.store
        txn = store.txn
        group = lookup_task_group(job, p.group)
        ports = self._allocate_ports(group, node)
        alloc = _new_alloc(store, job, p, group, node, ev, ports)
        prev = p.previous
        if prev is not None:
            alloc["PreviousAllocation"] = prev["ID"]
            prev["NextAllocation"] = alloc["ID"]
            store.put_alloc(prev)
        if p.reschedule and prev is not None:
            alloc["RescheduleTracker"] = _reschedule_tracker(prev, txn.now)
        # computePlacements (scheduler/generic_sched.go): only an active deployment takes placements.
        if (
            d is not None
            and d["Status"] in ACTIVE_DEPLOYMENT
            and update_strategy(job, group)
            and p.group in d["TaskGroups"]
        ):
            alloc["DeploymentID"] = d["ID"]
            dstate = d["TaskGroups"][p.group]
            dstate["PlacedAllocs"] += 1
            if p.canary:
                dstate["PlacedCanaries"] = (dstate["PlacedCanaries"] or []) + [alloc["ID"]]
                alloc["DeploymentStatus"] = {
                    "Healthy": None,
                    "Timestamp": None,
                    "Canary": True,
                    "ModifyIndex": txn.index,
                }
            if dstate["RequireProgressBy"] is None and dstate["ProgressDeadline"]:
                store.reset_progress_deadline(dstate)
        store.put_alloc(alloc)
        summary = store.summaries.get((job["Namespace"], job["ID"]))
        if summary is not None:
            bins = summary["Summary"].setdefault(p.group, {})
            bins["Starting"] = bins.get("Starting", 0) + 1
            bins["Queued"] = max(0, bins.get("Queued", 0) - 1)
            store.put_summary(summary)
        self.timers.after(START_SECONDS, lambda: self.started(alloc["ID"]))
        return alloc

    def stop(self, alloc: dict, description: str) -> None:
        """The scheduler stops an allocation (inside its write); the client kills it shortly."""
        alloc["DesiredStatus"] = "stop"
        alloc["DesiredDescription"] = description
        self.store.put_alloc(alloc)
        if alloc["ClientStatus"] in ("pending", "running"):
            self.timers.after(KILL_SECONDS, lambda: self.stopped(alloc["ID"]))

    def update_in_place(self, job: dict, alloc: dict, d: dict | None) -> None:
        """An in-place update: same allocation, new job version, health judged again."""
        alloc["_job"] = job
        alloc["JobVersion"] = job["Version"]
        alloc["_health_gen"] += 1
        group = lookup_task_group(job, alloc["TaskGroup"])
        if d is not None and update_strategy(job, group) and alloc["TaskGroup"] in d["TaskGroups"]:
            alloc["DeploymentID"] = d["ID"]
            alloc["DeploymentStatus"] = None
            dstate = d["TaskGroups"][alloc["TaskGroup"]]
            dstate["PlacedAllocs"] += 1
            if dstate["RequireProgressBy"] is None and dstate["ProgressDeadline"]:
                self.store.reset_progress_deadline(dstate)
        self.store.put_alloc(alloc)
        if alloc["ClientStatus"] == "running":
            self.begin_health(alloc)

    # --- the client's own updates (writes of their own) ------------------------------------------

    def started(self, alloc_id: str) -> None:
        """The tasks run (the alloc runner's task runners started)."""
        store = self.store
        alloc = store.allocs.get(alloc_id)
        if alloc is None or alloc["ClientStatus"] != "pending" or alloc["DesiredStatus"] != "run":
            return
        group = lookup_task_group(alloc["_job"], alloc["TaskGroup"])
        with store.write("AllocationUpdated") as txn:
            now = txn.now
            alloc["TaskStates"] = {t["Name"]: _started_state(t, now) for t in group["Tasks"]}
            for t in group["Tasks"]:
                self.logs.started(alloc, t["Name"], now)
            self.set_client_status(alloc, "running", "Tasks are running")
            store.put_alloc(alloc, client_update=True)
            self.server.refresh_job_status(alloc["_job"])
        self.begin_health(alloc)

    def begin_health(self, alloc: dict) -> None:
        """The health hook's tracker starts watching (client/allochealth/tracker.go)."""
        job = alloc["_job"]
        if job["Type"] not in ("service", "system"):
            return
        settings = health_settings(alloc)
        if settings.get("HealthCheck") == "manual" and alloc.get("DeploymentID"):
            return
        gen = alloc["_health_gen"]
        group = lookup_task_group(job, alloc["TaskGroup"])
        mode = failure_mode(job, group)
        aid = alloc["ID"]
        if mode == "crash":
            self.timers.after(CRASH_SECONDS, lambda: self.crash(aid, gen))
        elif mode == "unhealthy":
            services = [s["Name"] for t in group["Tasks"] for s in t.get("Services") or []]
            message = f"Services not healthy by deadline: {', '.join(services) or alloc['TaskGroup']}"
            self.timers.after(settings["HealthyDeadline"] / 1e9, lambda: self.report_health(aid, False, gen, message))
        else:
            self.timers.after(settings["MinHealthyTime"] / 1e9, lambda: self.report_health(aid, True, gen))

    def report_health(self, alloc_id: str, healthy: bool, gen: int, message: str = "") -> None:
        """The tracker's verdict, sent to the servers with the allocation."""
        store = self.store
        alloc = store.allocs.get(alloc_id)
        if (
            alloc is None
            or alloc["_health_gen"] != gen
            or alloc["ClientStatus"] != "running"
            or alloc["DesiredStatus"] != "run"
        ):
            return
        with store.write("AllocationUpdated") as txn:
            self.watcher.record_health(alloc, healthy, txn.index, txn.now)
            if not healthy:
                for state in (alloc["TaskStates"] or {}).values():
                    state["Events"] = (
                        state["Events"] + [task_event("Alloc Unhealthy", txn.now, message, Message=message)]
                    )[-10:]
            store.put_alloc(alloc, client_update=True)
        self.watcher.handle_alloc_update(alloc)

    def crash(self, alloc_id: str, gen: int) -> None:
        """The task exits with an error and is not restarted: the allocation failed."""
        store = self.store
        alloc = store.allocs.get(alloc_id)
        if alloc is None or alloc["_health_gen"] != gen or alloc["ClientStatus"] != "running":
            return
        with store.write("AllocationUpdated") as txn:
            now = txn.now
            for name, state in (alloc["TaskStates"] or {}).items():
                self.logs.crashed(alloc, name, now, f'{FAILURE_META_KEY} = "crash": exiting with status 1')
                state.update(State="dead", Failed=True, FinishedAt=format_rfc3339(now))
                state["Events"] = (state["Events"] + _crash_events(now))[-10:]
            self.set_client_status(alloc, "failed", "Failed tasks")
            alloc["_finished_at"] = now
            self._release_ports(alloc)
            if (
                alloc["_job"]["Type"] in ("service", "system")
                and (alloc.get("DeploymentStatus") or {}).get("Healthy") is None
            ):
                self.watcher.record_health(alloc, False, txn.index, now)
            store.put_alloc(alloc, client_update=True)
            job = store.job(alloc["Namespace"], alloc["JobID"])
            if job is not None:
                self.server.create_eval(job, "alloc-failure")
                self.server.refresh_job_status(job)
        self.watcher.handle_alloc_update(alloc)

    def stopped(self, alloc_id: str) -> None:
        """The tasks were killed as the scheduler asked."""
        store = self.store
        alloc = store.allocs.get(alloc_id)
        if alloc is None or alloc["ClientStatus"] not in ("pending", "running"):
            return
        with store.write("AllocationUpdated") as txn:
            now = txn.now
            # A task killed between restarts had run: getClientStatus says complete, not pending.
            was_running = alloc["ClientStatus"] == "running" or any(
                state.get("StartedAt") for state in (alloc["TaskStates"] or {}).values()
            )
            for state in (alloc["TaskStates"] or {}).values():
                state.update(State="dead", FinishedAt=format_rfc3339(now))
                state["Events"] = (state["Events"] + _kill_events(now))[-10:]
            self.set_client_status(
                alloc, "complete", "All tasks have completed" if was_running else "No tasks have started"
            )
            alloc["_finished_at"] = now
            self._release_ports(alloc)
            store.put_alloc(alloc, client_update=True)
            job = store.job(alloc["Namespace"], alloc["JobID"])
            if job is not None:
                self.server.refresh_job_status(job)
        self.server.unblock_evals()

    # --- bookkeeping -----------------------------------------------------------------------------

    def set_client_status(self, alloc: dict, status: str, description: str) -> None:
        """Client status transition, with the job summary's counters (nomad-api.md §5.14)."""
        old = alloc["ClientStatus"]
        alloc["ClientStatus"], alloc["ClientDescription"] = status, description
        summary = self.store.summaries.get((alloc["Namespace"], alloc["JobID"]))
        if summary is None or old == status:
            return
        bins = summary["Summary"].setdefault(alloc["TaskGroup"], {})
        new_bin = _SUMMARY_BIN[status]
        bins[new_bin] = bins.get(new_bin, 0) + 1
        if old in ("running", "pending", "lost", "unknown"):
            old_bin = _SUMMARY_BIN[old]
            bins[old_bin] = max(0, bins.get(old_bin, 0) - 1)
        self.store.put_summary(summary)

    def _allocate_ports(self, group: dict, node: dict) -> list[dict]:
        rng = self.store.rng
        ports = []
        for network in group.get("Networks") or []:
            for port in network.get("ReservedPorts") or []:
                ports.append(
                    {"Label": port["Label"], "Value": port["Value"], "To": port.get("To", 0), "HostIP": node["Address"]}
                )
            for port in network.get("DynamicPorts") or []:
                value = rng.randrange(*_PORT_RANGE)
                while value in node["_ports"]:
                    value = rng.randrange(*_PORT_RANGE)
                node["_ports"].add(value)
                ports.append(
                    {"Label": port["Label"], "Value": value, "To": port.get("To", 0), "HostIP": node["Address"]}
                )
        return ports

    def _release_ports(self, alloc: dict) -> None:
        node = self.store.nodes.get(alloc["NodeID"])
        if node is None:
            return
        for port in alloc["AllocatedResources"]["Shared"]["Ports"]:
            node["_ports"].discard(port["Value"])


def service_instances(alloc: dict) -> list[dict]:
    """The service registrations an allocation has in Consul right now (what Fabio reads):
    only for a running allocation whose checks pass; canaries register their canary_tags."""
    job = alloc["_job"]
    if alloc["DesiredStatus"] != "run" or alloc["ClientStatus"] != "running":
        return []
    group = lookup_task_group(job, alloc["TaskGroup"])
    if failure_mode(job, group) == "unhealthy":
        return []
    canary = bool((alloc.get("DeploymentStatus") or {}).get("Canary"))
    ports = {p["Label"]: p["Value"] for p in alloc["AllocatedResources"]["Shared"]["Ports"]}
    address = alloc["AllocatedResources"]["Shared"]["Networks"][0]["IP"]
    out = []
    # A group's services are the first task's to the demo (whose logs take the access lines).
    first = group["Tasks"][0]["Name"] if group["Tasks"] else ""
    services = [(s, first) for s in group.get("Services") or []] + [
        (s, t["Name"]) for t in group["Tasks"] for s in t.get("Services") or []
    ]
    for s, task in services:
        tags = s.get("CanaryTags") if canary and s.get("CanaryTags") else s.get("Tags")
        out.append(
            {
                "ServiceName": s["Name"],
                "Task": task,
                "Tags": list(tags or []),
                "Address": address,
                "Port": ports.get(s.get("PortLabel", ""), 0),
                "AllocID": alloc["ID"],
                "JobID": alloc["JobID"],
                "Canary": canary,
                "Image": _image(group),
            }
        )
    return out


def _image(group: dict) -> str:
    for t in group["Tasks"]:
        image = (t.get("Config") or {}).get("image")
        if image:
            return str(image)
    return ""
