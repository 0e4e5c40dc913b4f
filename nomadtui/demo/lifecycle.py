"""What an operator can do to one allocation: restart its tasks on their client, or stop it so
that the scheduler replaces it.

Restart (`/v1/client/allocation/:id/restart`) is the client's: the server finds the allocation
(ClientAllocations.Restart, nomad/client_alloc_endpoint.go), the client picks the tasks
(Client.RestartAllocation, client/client.go; allocRunner.RestartTask / RestartRunning /
RestartAll and restartTasks, client/allocrunner/alloc_runner.go) and each task runner plays the
restart (TaskRunner.Restart and restartImpl, client/allocrunner/taskrunner/lifecycle.go; the
Run loop, shouldRestart and appendEvent, task_runner.go): `Restart Signaled`, the task is killed
(`Terminated`), `Restarting` (Restarts + 1, LastRestart, the task pending), and once the driver
started it again `Started`, with its start-up line in its log. The allocation keeps its ID.

Stop (`/v1/allocation/:id/stop`) is the server's: Alloc.Stop (nomad/alloc_endpoint.go) marks the
allocation's desired transition `Migrate` and creates an `alloc-stop` evaluation in one write
(UpdateAllocsDesiredTransitions, nomad/state/state_store.go: events of type
AllocationUpdateDesiredStatus); the scheduler then stops it (`alloc is being migrated`) and
places its replacement (computeMigrations, reconciler.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..wire import format_rfc3339
from .clientsim import START_SECONDS, client_status, failure_mode, task_event, terminal_status
from .gostrconv import quote
from .store import NomadError
from .structs import lookup_task_group

if TYPE_CHECKING:
    from .cluster import Cluster

# Client.RestartAllocation's restart reasons.
REASON_TASK = "User requested task to restart"
REASON_ALL = "User requested all tasks to restart"
REASON_RUNNING = "User requested running tasks to restart"


def _restart_events(reason: str, now: float) -> list[dict]:
    """restartImpl's event, the exit of the killed task (emitExitResultEvent) and shouldRestart's
    event for a restart that was asked for (RestartTracker.GetState: no reason, no delay)."""
    return [
        task_event("Restart Signaled", now, reason, RestartReason=reason, Details={"restart_reason": reason}),
        task_event(
            "Terminated",
            now,
            "Exit Code: 0",
            Details={"exit_code": "0", "signal": "0", "oom_killed": "false"},
        ),
        task_event(
            "Restarting",
            now,
            "Task restarting in 0s",
            StartDelay=0,
            Details={"restart_reason": "", "start_delay": "0"},
        ),
    ]


class AllocLifecycle:
    """Restart and stop, over the cluster's store, its clients and its scheduler."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.store = cluster.store
        self.clients = cluster.clients

    # --- restart (the client's) -------------------------------------------------------------------

    def restart(self, alloc_id: str, task_name: str, all_tasks: bool) -> None:
        alloc = self.store.allocs.get(alloc_id)
        if alloc is None:  # getAlloc; allocRestart answers it with a 404
            raise NomadError(404, f"Unknown allocation {quote(alloc_id)}")
        if all_tasks and task_name:
            raise NomadError(500, "task name cannot be set when restarting all tasks")
        states = alloc.get("TaskStates") or {}
        tasks = [t["Name"] for t in lookup_task_group(alloc["_job"], alloc["TaskGroup"])["Tasks"]]
        if task_name:  # RestartTask: no shouldRun check; TaskRunner.Restart wants the task running
            if task_name not in tasks:
                raise NomadError(500, f"Could not find task runner for task: {task_name}")
            if (states.get(task_name) or {}).get("State") != "running":
                raise NomadError(500, "Task not running")
            chosen, reason = [task_name], REASON_TASK
        else:  # restartTasks: tasks that are not running are skipped (ErrTaskNotRunning is ignored)
            if terminal_status(alloc):
                raise NomadError(500, "restart of an alloc that should not run")
            chosen = [name for name in tasks if (states.get(name) or {}).get("State") == "running"]
            reason = REASON_ALL if all_tasks else REASON_RUNNING
        if chosen:
            self._restart_tasks(alloc, chosen, reason)

    def _restart_tasks(self, alloc: dict, names: list[str], reason: str) -> None:
        store = self.store
        job, group = alloc["_job"], lookup_task_group(alloc["_job"], alloc["TaskGroup"])
        # A restart resets the health tracker's clock (tasks must run min_healthy_time again),
        # unless the verdict is in; the demo's "unhealthy" checks keep their first deadline.
        verdict = (alloc.get("DeploymentStatus") or {}).get("Healthy")
        rejudge = verdict is None and failure_mode(job, group) != "unhealthy"
        with store.write("AllocationUpdated") as txn:
            now = txn.now
            for name in names:
                self.cluster.logs.open(alloc, name)  # a log the demo never kept starts as it would have
                state = alloc["TaskStates"][name]
                state["Events"] = (state["Events"] + _restart_events(reason, now))[-10:]
                state.update(State="pending", Restarts=state["Restarts"] + 1, LastRestart=format_rfc3339(now))
            self.clients.set_client_status(alloc, *client_status(alloc["TaskStates"]))
            if rejudge:
                alloc["_health_gen"] += 1
            store.put_alloc(alloc, client_update=True)
            self.cluster.refresh_job_status(job)
        alloc_id, gen = alloc["ID"], alloc["_health_gen"]
        self.cluster.timers.after(START_SECONDS, lambda: self._started_again(alloc_id, names, gen, rejudge))

    def _started_again(self, alloc_id: str, names: list[str], gen: int, rejudge: bool) -> None:
        """The driver started the tasks again (the Run loop's next pass: TaskStarted)."""
        if not self.clients.start_tasks(alloc_id, names):
            return
        alloc = self.store.allocs[alloc_id]
        # The tracker watches again, unless the verdict is in or its old timers still stand
        # (an in-place update meanwhile dropped them too).
        undecided = (alloc.get("DeploymentStatus") or {}).get("Healthy") is None
        if undecided and (rejudge or alloc["_health_gen"] != gen):
            self.clients.begin_health(alloc)

    # --- stop (the server's) ----------------------------------------------------------------------

    def stop(self, alloc_id: str, no_shutdown_delay: bool, reschedule: bool) -> dict:
        """Alloc.Stop: the transition and the evaluation in one write; the answer is
        AllocStopResponse (EvalID, then WriteMeta's Index)."""
        store = self.store
        alloc = store.allocs.get(alloc_id)
        if alloc is None:  # getAlloc's "Unknown allocation", which allocStop turns into this
            raise NomadError(404, "allocation not found")
        job = alloc["_job"]
        with store.write("AllocationUpdateDesiredStatus") as txn:
            modify_time = alloc["ModifyTime"]
            # DesiredTransition.Merge of {Migrate, NoShutdownDelay, Reschedule}
            alloc["DesiredTransition"] = dict(
                alloc["DesiredTransition"], Migrate=True, NoShutdownDelay=no_shutdown_delay, Reschedule=reschedule
            )
            store.put_alloc(alloc)
            alloc["ModifyTime"] = modify_time  # UpdateAllocDesiredTransitionTxn leaves it as it was
            ev = self.cluster.create_eval(job, "alloc-stop")
            ev["JobModifyIndex"] = job["ModifyIndex"]  # sic: Alloc.Stop takes the job's ModifyIndex
        return {"EvalID": ev["ID"], "Index": txn.index}
