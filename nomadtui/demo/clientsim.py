"""The demo cluster's client nodes: allocations start, report health, crash and stop.

A job can make its allocations misbehave through the meta key `nomadtui_demo_fail` (job, group
or task meta): `"unhealthy"` keeps the service checks failing, so the allocation turns unhealthy
at its healthy_deadline; `"crash"` makes the task exit with an error a few seconds after every
start. A task that exits with an error is restarted as its restart policy says (the task
runner's restart tracker, client/allocrunner/taskrunner/restarts/restarts.go: service jobs 2
attempts in 30m, 15s apart with up to 25% jitter, then mode "fail"), with the task events a
Nomad client writes; once the policy gives up the allocation has failed, and the servers
replace it as its reschedule policy says (reconciler.py).
"""

from __future__ import annotations

import functools
from typing import Protocol

from ..wire import format_duration, format_rfc3339, nanos
from .gostrconv import quote
from .reconciler import Placement, replacement_reschedule_tracker, reschedule_eligible
from .scheduler import ready_nodes_in_dcs_and_pool
from .store import ACTIVE_DEPLOYMENT, Store
from .structs import group_resources, lookup_task_group, update_strategy
from .tasklogs import TaskLogs
from .timers import Timers
from .watcher import DeploymentWatcher

FAILURE_META_KEY = "nomadtui_demo_fail"
START_SECONDS = 0.5  # placement (or the end of a restart delay) -> tasks running
KILL_SECONDS = 0.5  # stop requested -> tasks dead
CRASH_SECONDS = 5.0  # "crash": task running -> task exits with code 1
CRASH_EXIT_CODE = 1

# The restart tracker's reasons (client/allocrunner/taskrunner/restarts/restarts.go).
REASON_NO_RESTARTS_ALLOWED = "Policy allows no restarts"
REASON_WITHIN_POLICY = "Restart within policy"
REASON_DELAY = "Exceeded allowed attempts, applying a delay"
RESTART_JITTER = 0.25
# Task event types (nomad/structs/structs.go).
TASK_RESTARTING = "Restarting"
TASK_NOT_RESTARTING = "Not Restarting"
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
            "NodePool": job["NodePool"],
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


# emitExitResultEvent (client/allocrunner/taskrunner/task_runner.go)
def terminated_event(now: float, exit_code: int) -> dict:
    return task_event(
        "Terminated",
        now,
        f"Exit Code: {exit_code}",
        ExitCode=exit_code,
        Details={"exit_code": str(exit_code), "signal": "0", "oom_killed": "false"},
    )


# shouldRestart (task_runner.go): the event of the restart tracker's verdict, with the
# DisplayMessage TaskEvent.PopulateEventDisplayMessage gives it (nomad/structs/structs.go)
def restart_event(now: float, verdict: str, delay: int, reason: str) -> dict:
    if verdict == TASK_NOT_RESTARTING:
        return task_event(
            TASK_NOT_RESTARTING,
            now,
            reason,
            RestartReason=reason,
            FailsTask=True,
            Details={"restart_reason": reason, "fails_task": "true"},
        )
    wait = f"Task restarting in {format_duration(delay)}"
    return task_event(
        TASK_RESTARTING,
        now,
        wait if reason == REASON_WITHIN_POLICY else f"{reason} - {wait}",
        RestartReason=reason,
        StartDelay=delay,
        Details={"start_delay": str(delay), "restart_reason": reason},
    )


def _sibling_failed_event(now: float, failed: str) -> dict:
    """The kill event handleTaskStateUpdates (client/allocrunner/alloc_runner.go) gives the
    tasks still alive once one failed."""
    return task_event(
        "Sibling Task Failed",
        now,
        f"Task's sibling {quote(failed)} failed",
        FailedSibling=failed,
        Details={"failed_sibling": failed},
    )


def restart_policy(alloc: dict, task_name: str) -> dict:
    """NewTaskRunner: the task's restart policy, else its group's."""
    group = lookup_task_group(alloc["_job"], alloc["TaskGroup"])
    task: dict = next((t for t in group["Tasks"] if t["Name"] == task_name), {})
    return task.get("RestartPolicy") or group.get("RestartPolicy") or {}


# getClientStatus (client/allocrunner/alloc_runner.go)
def client_status(task_states: dict[str, dict]) -> tuple[str, str]:
    states = task_states.values()
    if any(s["State"] == "dead" and s["Failed"] for s in states):
        return "failed", "Failed tasks"
    if any(s["State"] == "running" for s in states):
        return "running", "Tasks are running"
    if any(s["State"] == "pending" for s in states):
        return "pending", "No tasks have started"
    return "complete", "All tasks have completed"


def terminal_status(alloc: dict) -> bool:
    """Allocation.TerminalStatus: what allocRunner.shouldRun refuses to run."""
    return alloc["DesiredStatus"] in ("stop", "evict") or alloc["ClientStatus"] in ("complete", "failed", "lost")


# taskHealthState.event (client/allochealth/tracker.go)
def unhealthy_reason(state: dict, settings: dict) -> str:
    """Why the health tracker calls a task of a "crash" allocation unhealthy (the `Alloc
    Unhealthy` event's message): it never runs min_healthy_time, so its checks are not asked."""
    healthy_deadline, min_healthy = settings["HealthyDeadline"], settings["MinHealthyTime"]
    if state["Failed"]:
        return "Unhealthy because of failed task"
    if state["State"] == "pending":
        return f"Task not running by healthy_deadline of {format_duration(healthy_deadline)}"
    if state["State"] == "dead":
        return "Unhealthy because of dead task"
    return (
        f"Task not running for min_healthy_time of {format_duration(min_healthy)}"
        f" by healthy_deadline of {format_duration(healthy_deadline)}"
    )


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


def _append_events(state: dict, *events: dict) -> None:
    """appendTaskEvent (task_runner.go): a task keeps its last 10 events."""
    state["Events"] = (state["Events"] + list(events))[-10:]


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
            # computePlacements (generic_sched.go): UpdateRescheduleTracker, which also notes on
            # the failed allocation that its reschedule went well (annotateRescheduleTracker).
            alloc["RescheduleTracker"] = replacement_reschedule_tracker(store, prev, txn.now)
            prev["RescheduleTracker"] = dict(prev.get("RescheduleTracker") or {"Events": None}, LastReschedule="ok")
            store.put_alloc(prev)
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
        self.wait_tasks(alloc, [t["Name"] for t in group["Tasks"]])

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
            # Never running for min_healthy_time: unhealthy when a task fails, or at the deadline.
            self.timers.after(settings["HealthyDeadline"] / 1e9, lambda: self.health_deadline(aid, gen))
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
                    _append_events(
                        state,
                        task_event("Alloc Unhealthy", txn.now, message, Message=message, Details={"message": message}),
                    )
            store.put_alloc(alloc, client_update=True)
        self.watcher.handle_alloc_update(alloc)

    def health_deadline(self, alloc_id: str, gen: int) -> None:
        """The healthy_deadline passed before the tasks ran min_healthy_time (health_hook.go's
        watchHealth): unhealthy, with the tracker's reason per task (Tracker.TaskEvents), also
        while a task waits to be restarted."""
        store = self.store
        alloc = store.allocs.get(alloc_id)
        if (
            alloc is None
            or alloc["_health_gen"] != gen
            or terminal_status(alloc)
            or (alloc.get("DeploymentStatus") or {}).get("Healthy") is not None
        ):
            return
        with store.write("AllocationUpdated") as txn:
            self._unhealthy(alloc, txn.index, txn.now)
            store.put_alloc(alloc, client_update=True)
        self.watcher.handle_alloc_update(alloc)

    def _unhealthy(self, alloc: dict, index: int, now: float) -> None:
        """SetHealth(false): the verdict, and for an allocation of a deployment the tracker's
        events (allocHealthWatcherHook.watchHealth)."""
        self.watcher.record_health(alloc, False, index, now)
        if not alloc.get("DeploymentID"):
            return
        settings = health_settings(alloc)
        for state in (alloc["TaskStates"] or {}).values():
            reason = unhealthy_reason(state, settings)
            _append_events(
                state, task_event("Alloc Unhealthy", now, reason, Message=reason, Details={"message": reason})
            )

    # --- the task runners (client/allocrunner/taskrunner/task_runner.go) -------------------------

    def wait_tasks(self, alloc: dict, names: list[str]) -> None:
        """The task runners wait on their running tasks (TaskRunner.Run's WAIT): a task of a
        "crash" allocation exits with an error CRASH_SECONDS after it started."""
        if failure_mode(alloc["_job"], lookup_task_group(alloc["_job"], alloc["TaskGroup"])) != "crash":
            return
        for name in names:
            started_at = alloc["TaskStates"][name]["StartedAt"]
            self.timers.after(CRASH_SECONDS, functools.partial(self.task_exited, alloc["ID"], name, started_at))

    def task_exited(self, alloc_id: str, name: str, started_at: str) -> None:
        """The task exited with an error (the start it was waiting on, not a later one):
        `Terminated`, then shouldRestart's verdict. Restarting: the task waits pending (the
        allocation too, if it was its only running task), Restarts counted. Not restarting: the
        task is dead and failed, its siblings are killed, the allocation has failed."""
        store = self.store
        alloc = store.allocs.get(alloc_id)
        if alloc is None or terminal_status(alloc):
            return
        state = (alloc["TaskStates"] or {}).get(name)
        if state is None or state["State"] != "running" or state["StartedAt"] != started_at:
            return
        with store.write("AllocationUpdated") as txn:
            now = txn.now
            self.logs.crashed(alloc, name, now, f'{FAILURE_META_KEY} = "crash": exiting with status {CRASH_EXIT_CODE}')
            verdict, delay, reason = self._restart_state(alloc, name, now)
            _append_events(state, terminated_event(now, CRASH_EXIT_CODE), restart_event(now, verdict, delay, reason))
            if verdict == TASK_RESTARTING:
                # appendEvent: a Restarting event counts the restart; the task waits pending.
                state.update(State="pending", Restarts=state["Restarts"] + 1, LastRestart=format_rfc3339(now))
            else:
                state.update(State="dead", Failed=True, FinishedAt=format_rfc3339(now))
                self._kill_siblings(alloc, name, now)
            self.set_client_status(alloc, *client_status(alloc["TaskStates"]))
            if alloc["ClientStatus"] == "failed":
                self._failed(alloc, txn.index, now)
            store.put_alloc(alloc, client_update=True)
            self._refresh_job(alloc)
        if verdict == TASK_RESTARTING:
            self.timers.after(delay / 1e9 + START_SECONDS, functools.partial(self.restart_delay_over, alloc_id, name))
        elif alloc["ClientStatus"] == "failed":
            self.watcher.handle_alloc_update(alloc)

    # RestartTracker.GetState (client/allocrunner/taskrunner/restarts/restarts.go)
    def _restart_state(self, alloc: dict, name: str, now: float) -> tuple[str, int, str]:
        """(verdict, delay in ns of rollout time, reason) for a task that exited with an error:
        the attempt is counted in the policy's interval (a new interval starts the count again);
        within the attempts the task restarts after the delay plus up to 25% jitter, past them
        mode "fail" gives up and mode "delay" waits for the next interval."""
        policy = restart_policy(alloc, name)
        attempts = policy.get("Attempts") or 0
        if attempts == 0:
            return TASK_NOT_RESTARTING, 0, REASON_NO_RESTARTS_ALLOWED
        speed = self.timers.clock.speed
        interval = policy.get("Interval") or 0
        trackers = alloc.get("_restart_trackers") or {}
        # NewRestartTracker: the interval starts when the task runner is made, as the client
        # takes the allocation.
        count, start = trackers.get(name, (0, alloc["CreateTime"] / 1e9))
        if (now - start) * speed * 1e9 > interval:
            count, start = 0, now
        count += 1
        alloc["_restart_trackers"] = {**trackers, name: (count, start)}  # a new dict: rows share none
        if count <= attempts:
            delay = policy.get("Delay") or 1
            return (
                TASK_RESTARTING,
                delay + int(float(self.store.rng.randrange(delay)) * RESTART_JITTER),
                REASON_WITHIN_POLICY,
            )
        if policy.get("Mode") == "fail":
            reason = f'Exceeded allowed attempts {attempts} in interval {format_duration(interval)} and mode is "fail"'
            return TASK_NOT_RESTARTING, 0, reason
        return TASK_RESTARTING, max(0, int(interval - (now - start) * speed * 1e9)), REASON_DELAY

    def _kill_siblings(self, alloc: dict, failed: str, now: float) -> None:
        """handleTaskStateUpdates: a failed task takes the others down (Sibling Task Failed,
        then the kill)."""
        for name, state in (alloc["TaskStates"] or {}).items():
            if name != failed and state["State"] != "dead":
                _append_events(state, _sibling_failed_event(now, failed), *_kill_events(now))
                state.update(State="dead", FinishedAt=format_rfc3339(now))

    def _failed(self, alloc: dict, index: int, now: float) -> None:
        """The allocation failed (inside the client's write): the health tracker's verdict, then
        what Node.UpdateAlloc (nomad/node_endpoint.go) does: an `alloc-failure` evaluation when
        the reschedule policy has attempts left and no follow-up evaluation waits for it."""
        alloc["_finished_at"] = now
        self._release_ports(alloc)
        if (
            alloc["_job"]["Type"] in ("service", "system")
            and (alloc.get("DeploymentStatus") or {}).get("Healthy") is None
        ):
            self._unhealthy(alloc, index, now)
        job = self.store.job(alloc["Namespace"], alloc["JobID"])
        if job is not None and not alloc.get("FollowupEvalID") and reschedule_eligible(self.store, alloc, now):
            self.server.create_eval(job, "alloc-failure")

    def _refresh_job(self, alloc: dict) -> None:
        job = self.store.job(alloc["Namespace"], alloc["JobID"])
        if job is not None:
            self.server.refresh_job_status(job)

    def restart_delay_over(self, alloc_id: str, name: str) -> None:
        """The Run loop's restart timer fired: the task runs again, unless it was killed meanwhile."""
        self.start_tasks(alloc_id, [name])

    def start_tasks(self, alloc_id: str, names: list[str]) -> bool:
        """The driver started the tasks again after a restart (the Run loop's next pass:
        `Started`); False when the allocation should no longer run or no task waits."""
        store = self.store
        alloc = store.allocs.get(alloc_id)
        if alloc is None or terminal_status(alloc):
            return False
        states = alloc["TaskStates"]
        names = [name for name in names if states[name]["State"] == "pending"]
        if not names:
            return False
        with store.write("AllocationUpdated") as txn:
            now = txn.now
            for name in names:
                state = states[name]
                _append_events(state, task_event("Started", now, "Task started by client"))
                state.update(State="running", StartedAt=format_rfc3339(now))
                self.logs.started(alloc, name, now)
            self.set_client_status(alloc, *client_status(states))
            store.put_alloc(alloc, client_update=True)
            self._refresh_job(alloc)
        self.wait_tasks(alloc, names)
        return True

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
                _append_events(state, *_kill_events(now))
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
