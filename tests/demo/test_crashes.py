"""Crashes as Nomad has them: the client restarts a failing task as the group's restart policy
says, then the servers replace the failed allocation as its reschedule policy says, and a
failed canary counts as a placed canary until it is replaced. Driven over real HTTP by
python-nomad on a manual clock; every test names the upstream code it follows."""

from __future__ import annotations

import nomad
import pytest

from nomadtui.demo.cluster import JOBS_DIR
from nomadtui.wire import format_duration, parse_rfc3339

JOB = "httpsbackend-sni-1"
SECOND = 1_000_000_000
MINUTE = 60 * SECOND
FAILED_FOR_GOOD = 'Exceeded allowed attempts 2 in interval 30m0s and mode is "fail"'


@pytest.fixture
def n(demo):
    return nomad.Nomad(address=demo.nomad_url, timeout=10)


def canary_fail(*, crash: bool = True, progress_deadline: str = "2m", extra: str = "") -> str:
    """The article's failing canary (canary = 1, auto_revert, healthy_deadline 1m), its task
    crashing, with `extra` HCL in its group."""
    text = (JOBS_DIR / "httpsbackend-tcp-sni-1-canary-fail.nomad").read_text()
    if crash:
        text = text.replace('nomadtui_demo_fail = "unhealthy"', 'nomadtui_demo_fail = "crash"')
    text = text.replace('progress_deadline = "2m"', f'progress_deadline = "{progress_deadline}"')
    return text.replace("    count = 3\n", f"    count = 3\n{extra}", 1)


# A task that fails at its first exit, so that rescheduling is quick to watch.
NO_RESTARTS = "\n    restart {\n      attempts = 0\n    }\n"


def run_source(n, text: str) -> dict:
    return n.jobs.register_job({"Job": n.jobs.parse(text)})


def latest(n) -> dict:
    return n.job.get_deployment(JOB)


def count(n) -> int:
    return len([a for a in n.job.get_allocations(JOB) if a["JobVersion"] == 1])


def canaries(n) -> list[dict]:
    """The new version's allocations, oldest first, in full."""
    stubs = [a for a in n.job.get_allocations(JOB) if a["JobVersion"] == 1]
    return [n.allocation.get_allocation(a["ID"]) for a in sorted(stubs, key=lambda a: a["CreateIndex"])]


def task(alloc: dict) -> dict:
    return alloc["TaskStates"][JOB]


def kinds(alloc: dict) -> list[str]:
    return [e["Type"] for e in task(alloc)["Events"]]


def now(demo) -> float:
    return demo.cluster.clock.now()


def advance_until(demo, predicate, limit: float = 900, step: float = 0.5) -> None:
    waited = 0.0
    while not predicate():
        assert waited < limit, "condition not reached in time"
        demo.advance(step)
        waited += step


def test_a_crashing_canary_is_restarted_twice_per_allocation_and_makes_at_most_4_allocations(demo, n):
    """Issue 12's done-when: before a 10-minute progress deadline a crashing canary is restarted
    twice per allocation (restarts.go, RestartTracker.GetState: 2 attempts in 30m) and makes at
    most 4 allocations, each replacing the last after the reschedule delay (structs
    DefaultServiceJobReschedulePolicy, alloc.go NextDelay: 30s, 60s, 120s, ...); at the deadline
    the deployment fails and auto-reverts (deployment_watcher.go, FailDeployment), and the
    canaries of the failed deployment are stopped (reconcile_cluster.go, cancelUnneededCanaries)."""
    run_source(n, canary_fail(progress_deadline="10m"))
    demo.advance(0)
    d = latest(n)
    assert d["JobVersion"] == 1
    deadline = parse_rfc3339(d["TaskGroups"][JOB]["RequireProgressBy"])
    assert deadline is not None and deadline - now(demo) == pytest.approx(600)
    while now(demo) < deadline - 1:
        demo.advance(min(10, deadline - 1 - now(demo)))
        assert count(n) <= 4
    assert latest(n)["Status"] == "running"
    made = canaries(n)
    assert len(made) == 4
    for alloc in made[:-1]:
        assert (alloc["ClientStatus"], alloc["DesiredStatus"]) == ("failed", "stop")
        assert alloc["DesiredDescription"] == "alloc was rescheduled because it failed"
    for alloc in made:
        if alloc["ClientStatus"] == "failed":
            assert task(alloc)["Restarts"] == 2 and kinds(alloc).count("Restarting") == 2
            assert task(alloc)["Events"][-2]["DisplayMessage"] == FAILED_FOR_GOOD
    for prev, alloc in zip(made, made[1:]):
        assert alloc["PreviousAllocation"] == prev["ID"] and prev["NextAllocation"] == alloc["ID"]
        assert alloc["DeploymentStatus"]["Canary"] is True
    delays = [e["Delay"] for e in made[-1]["RescheduleTracker"]["Events"]]
    assert delays == [30 * SECOND, 60 * SECOND, 120 * SECOND]

    demo.advance(2)
    failed = n.deployment.get_deployment(d["ID"])
    assert failed["Status"] == "failed"
    assert failed["StatusDescription"] == "Failed due to progress deadline - rolling back to job version 0"
    assert len(failed["TaskGroups"][JOB]["PlacedCanaries"]) == 4
    advance_until(demo, lambda: latest(n)["ID"] != d["ID"] and latest(n)["Status"] == "successful")
    assert all(a["DesiredStatus"] == "stop" for a in canaries(n))
    assert len(canaries(n)) == 4  # the follow-up evaluation still pending places nothing more
    demo.advance(300)
    assert len(canaries(n)) == 4


def test_restart_events_and_counters(demo, n):
    """The task runner's restarts (task_runner.go, shouldRestart and appendEvent; restarts.go,
    RestartTracker.GetState and jitter; structs.go, TaskEvent.PopulateEventDisplayMessage):
    Terminated with the exit code, Restarting "Task restarting in <delay>" (15s plus up to 25%)
    with Restarts counted and LastRestart set, the task pending, Started again; after the
    second restart Not Restarting, the task dead and failed, the allocation failed
    (alloc_runner.go, getClientStatus) and unhealthy (allochealth/tracker.go,
    taskHealthState.event)."""
    run_source(n, canary_fail())
    demo.advance(1)
    (alloc,) = canaries(n)
    assert (alloc["ClientStatus"], task(alloc)["State"], task(alloc)["Restarts"]) == ("running", "running", 0)
    assert task(alloc)["LastRestart"] is None
    demo.advance(5)  # the task exits 5 s after it started
    (alloc,) = canaries(n)
    state = task(alloc)
    assert (state["State"], state["Restarts"], state["Failed"]) == ("pending", 1, False)
    assert (alloc["ClientStatus"], alloc["ClientDescription"]) == ("pending", "No tasks have started")
    terminated, restarting = state["Events"][-2:]
    assert terminated["Type"] == "Terminated" and terminated["DisplayMessage"] == "Exit Code: 1"
    assert terminated["ExitCode"] == 1
    assert terminated["Details"] == {"exit_code": "1", "signal": "0", "oom_killed": "false"}
    assert restarting["Type"] == "Restarting" and restarting["RestartReason"] == "Restart within policy"
    delay = restarting["StartDelay"]
    assert 15 * SECOND <= delay < 18.75 * SECOND
    assert restarting["DisplayMessage"] == f"Task restarting in {format_duration(delay)}"  # e.g. 15.92177349s
    assert restarting["Details"] == {"start_delay": str(delay), "restart_reason": "Restart within policy"}
    assert parse_rfc3339(state["LastRestart"]) == pytest.approx(restarting["Time"] / 1e9, abs=1e-3)
    assert state["FinishedAt"] is None

    demo.advance(delay / 1e9 + 0.5)  # the delay, then the driver starts it again
    (alloc,) = canaries(n)
    assert (alloc["ClientStatus"], task(alloc)["State"]) == ("running", "running")
    assert kinds(alloc)[-1] == "Started"

    advance_until(demo, lambda: canaries(n)[0]["ClientStatus"] == "failed")
    (alloc,) = canaries(n)[:1]
    state = task(alloc)
    assert (state["State"], state["Failed"], state["Restarts"]) == ("dead", True, 2)
    assert state["FinishedAt"] is not None
    assert kinds(alloc)[-5:] == ["Restarting", "Started", "Terminated", "Not Restarting", "Alloc Unhealthy"]
    not_restarting = state["Events"][-2]
    assert not_restarting["DisplayMessage"] == not_restarting["RestartReason"] == FAILED_FOR_GOOD
    assert not_restarting["FailsTask"] is True
    assert not_restarting["Details"] == {"restart_reason": FAILED_FOR_GOOD, "fails_task": "true"}
    assert state["Events"][-1]["DisplayMessage"] == "Unhealthy because of failed task"
    assert (alloc["ClientStatus"], alloc["ClientDescription"]) == ("failed", "Failed tasks")
    assert alloc["DeploymentStatus"]["Healthy"] is False


def test_a_policy_without_restarts_fails_the_task_at_once(demo, n):
    """restarts.go, RestartTracker.GetState: with attempts = 0 the first exit is final
    ("Policy allows no restarts")."""
    run_source(n, canary_fail(extra=NO_RESTARTS))
    demo.advance(6)
    (alloc,) = canaries(n)
    assert alloc["ClientStatus"] == "failed" and task(alloc)["Restarts"] == 0
    assert task(alloc)["Events"][-2]["DisplayMessage"] == "Policy allows no restarts"


def test_restart_and_reschedule_policies_have_nomads_defaults(demo, n):
    """api/tasks.go, TaskGroup.Canonicalize (defaultServiceJobRestartPolicy,
    defaultBatchJobRestartPolicy) and the tasks' copy of their group's policy (Task.Canonicalize);
    nomad/structs/structs.go, DefaultServiceJobReschedulePolicy and
    DefaultBatchJobReschedulePolicy."""
    run_source(n, canary_fail())
    group = n.job.get_job(JOB)["TaskGroups"][0]
    restart = {"Attempts": 2, "Interval": 30 * MINUTE, "Delay": 15 * SECOND, "Mode": "fail", "RenderTemplates": False}
    assert group["RestartPolicy"] == restart and group["Tasks"][0]["RestartPolicy"] == restart
    assert group["ReschedulePolicy"] == {
        "Attempts": 0,
        "Interval": 0,
        "Delay": 30 * SECOND,
        "DelayFunction": "exponential",
        "MaxDelay": 60 * MINUTE,
        "Unlimited": True,
    }
    batch = canary_fail().replace('type        = "service"', 'type        = "batch"')
    batch = batch[: batch.index("    update {")] + batch[batch.index("    network {") :]
    parsed = n.jobs.parse(batch, canonicalize=True)["TaskGroups"][0]
    assert parsed["RestartPolicy"] == {
        "Attempts": 3,
        "Interval": 24 * 60 * MINUTE,
        "Delay": 15 * SECOND,
        "Mode": "fail",
        "RenderTemplates": False,
    }
    assert parsed["ReschedulePolicy"] == {
        "Attempts": 1,
        "Interval": 24 * 60 * MINUTE,
        "Delay": 5 * SECOND,
        "DelayFunction": "constant",
        "MaxDelay": 0,
        "Unlimited": False,
    }


def test_reschedule_delays_double_up_to_max_delay(demo, n):
    """The reschedule delay schedule (nomad/structs/alloc.go, NextDelay and NextRescheduleTime):
    30s, 60s, 120s, then capped at max_delay; each replacement waits for a follow-up evaluation
    (reconcile_cluster.go, createRescheduleLaterEvals and createLaterEvals: WaitUntil,
    FollowupEvalID, "alloc-reschedule") and carries the failed one's RescheduleTracker with the
    delay it waited (generic_sched.go, UpdateRescheduleTracker)."""
    capped = NO_RESTARTS + '\n    reschedule {\n      max_delay = "2m"\n    }\n'
    run_source(n, canary_fail(progress_deadline="30m", extra=capped))
    advance_until(demo, lambda: count(n) == 6, step=5)
    made = canaries(n)
    assert [e["Delay"] for e in made[-1]["RescheduleTracker"]["Events"]] == [
        30 * SECOND,
        60 * SECOND,
        120 * SECOND,
        120 * SECOND,
        120 * SECOND,
    ]
    for prev, alloc in zip(made, made[1:]):
        waited = alloc["RescheduleTracker"]["Events"][-1]["Delay"]
        follow = n.evaluation.get_evaluation(prev["FollowupEvalID"])
        assert follow["TriggeredBy"] == "alloc-reschedule"
        assert follow["StatusDescription"] == "created for delayed rescheduling"
        failed_at = parse_rfc3339(task(prev)["FinishedAt"])
        assert failed_at is not None
        assert parse_rfc3339(follow["WaitUntil"]) == pytest.approx(failed_at + waited / 1e9, abs=1e-3)
        assert alloc["EvalID"] == follow["ID"]
        assert alloc["CreateTime"] / 1e9 == pytest.approx(failed_at + waited / 1e9, abs=1e-3)
        assert prev["RescheduleTracker"]["LastReschedule"] == "ok"
        assert alloc["RescheduleTracker"]["Events"][-1]["PrevAllocID"] == prev["ID"]


def test_a_failed_canary_is_not_replaced_while_it_awaits_its_reschedule(demo, n):
    """A failed canary counts as a placed canary (reconcile_cluster.go, cancelUnneededCanaries,
    requiresCanaries, computeCanaries), so no other canary is placed; inside the active
    deployment it waits for the deployment watcher's DesiredTransition.Reschedule
    (filters.go, updateByReschedulable), then for its delay; its replacement is a canary of the
    deployment (computePlacements) and it is stopped (placeAllocs: StatusAllocRescheduled)."""
    run_source(n, canary_fail(extra=NO_RESTARTS))
    demo.advance(6)
    (failed,) = canaries(n)
    assert failed["ClientStatus"] == "failed" and failed["DesiredStatus"] == "run"
    demo.advance(2)  # the watcher's batched update: the allocation may be rescheduled
    (failed,) = canaries(n)
    assert failed["DesiredTransition"]["Reschedule"] is True
    follow = n.evaluation.get_evaluation(failed["FollowupEvalID"])
    assert (follow["Status"], follow["TriggeredBy"]) == ("pending", "alloc-reschedule")
    for _ in range(27):
        demo.advance(1)
        assert [a["ID"] for a in canaries(n)] == [failed["ID"]]
    advance_until(demo, lambda: count(n) == 2)
    old, new = canaries(n)
    assert (old["DesiredStatus"], old["DesiredDescription"]) == ("stop", "alloc was rescheduled because it failed")
    assert old["NextAllocation"] == new["ID"] and new["PreviousAllocation"] == old["ID"]
    assert new["DeploymentStatus"]["Canary"] is True and new["DeploymentID"] == old["DeploymentID"]
    assert latest(n)["TaskGroups"][JOB]["PlacedCanaries"] == [old["ID"], new["ID"]]


def test_failed_canaries_are_stopped_with_their_failed_deployment(demo, n):
    """DesiredStatus of failed canaries: each rescheduled one is stopped as its replacement is
    placed (placeAllocs: StatusAllocRescheduled); the one still waiting for its reschedule is
    stopped when the deployment fails (reconcile_cluster.go, cancelUnneededCanaries:
    StatusAllocNotNeeded), and its pending follow-up evaluation then places nothing
    (placeAllocs: partOfFailedDeployment)."""
    run_source(n, canary_fail(extra=NO_RESTARTS))
    advance_until(demo, lambda: latest(n)["Status"] != "running")
    demo.advance(2)
    made = canaries(n)
    assert len(made) == 3  # failed at 5.5 s, 41 s and 106.5 s; the next one was due at 226.5 s
    assert [a["ClientStatus"] for a in made] == ["failed"] * 3
    assert [a["DesiredDescription"] for a in made] == [
        "alloc was rescheduled because it failed",
        "alloc was rescheduled because it failed",
        "alloc not needed due to job update",
    ]
    assert all(a["DesiredStatus"] == "stop" for a in made)
    demo.advance(300)
    assert len(canaries(n)) == 3


def test_an_unhealthy_running_canary_marked_for_reschedule_is_not_replaced(demo, n):
    """The deployment watcher marks an unhealthy allocation DesiredTransition.Reschedule
    (deployment_watcher.go, handleAllocUpdate); the reconciler replaces only failed ones
    (filters.go, shouldFilter and updateByReschedulable; alloc.go, NextRescheduleTime), so the
    running canary stays the only one until the deployment fails."""
    run_source(n, canary_fail(crash=False, progress_deadline="3m"))
    demo.advance(63)  # healthy_deadline 1m, then the watcher's batched update
    (canary,) = canaries(n)
    assert canary["DeploymentStatus"]["Healthy"] is False and canary["ClientStatus"] == "running"
    assert canary["DesiredTransition"]["Reschedule"] is True
    for _ in range(10):
        demo.advance(10)
        assert [a["ID"] for a in canaries(n)] == [canary["ID"]]
    assert latest(n)["Status"] == "running"
