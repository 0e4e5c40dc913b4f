"""`/v1/client/allocation/:id/restart` and `/v1/allocation/:id/stop` as Nomad answers them: a
restart's task events, counters and start-up line (client/allocrunner, taskrunner), its refusals;
a stop's desired transition, `alloc-stop` evaluation and replacement (nomad/alloc_endpoint.go,
the reconciler's computeMigrations), and the events both publish on the event stream."""

from __future__ import annotations

import json

import httpx
import pytest

from nomadtui.demo.cluster import JOBS_DIR
from nomadtui.demo.server import DemoServer
from tests.helpers import http

JOB = "httpsbackend-sni-1"
TASK = JOB


def allocs(demo: DemoServer) -> list[dict]:
    return http.get(f"{demo.nomad_url}/v1/job/{JOB}/allocations").json()


def alloc(demo: DemoServer, alloc_id: str) -> dict:
    return http.get(f"{demo.nomad_url}/v1/allocation/{alloc_id}").json()


def restart(demo: DemoServer, alloc_id: str, body: bytes = b"", method: str = "POST") -> httpx.Response:
    return http.request(method, f"{demo.nomad_url}/v1/client/allocation/{alloc_id}/restart", content=body)


def stop(demo: DemoServer, alloc_id: str, **params) -> httpx.Response:
    return http.post(f"{demo.nomad_url}/v1/allocation/{alloc_id}/stop", params=params)


def stdout(demo: DemoServer, alloc_id: str) -> str:
    params = {"task": TASK, "type": "stdout", "plain": "true"}
    return http.get(f"{demo.nomad_url}/v1/client/fs/logs/{alloc_id}", params=params).text


def stream_after(demo: DemoServer, index: int) -> list[dict]:
    """Every event after `index`, up to the cluster's index now, from the event stream."""
    last = demo.call(lambda: demo.cluster.store.index)
    out: list[dict] = []
    with http.stream("GET", f"{demo.nomad_url}/v1/event/stream", params={"index": index + 1}, timeout=10) as r:
        for line in r.iter_lines():
            frame = json.loads(line)
            out += frame.get("Events", [])
            if frame.get("Index", 0) >= last:
                return out
    raise AssertionError("the stream ended")


def events_after(demo: DemoServer, index: int) -> list[tuple[int, str, str, str]]:
    """(index, topic, type, key) of every event after `index`."""
    return [(e["Index"], e["Topic"], e["Type"], e["Key"]) for e in stream_after(demo, index)]


def test_a_restart_adds_the_events_counts_and_a_start_up_line(demo):
    target = allocs(demo)[0]
    before = alloc(demo, target["ID"])["TaskStates"][TASK]
    index = demo.call(lambda: demo.cluster.store.index)
    r = restart(demo, target["ID"])  # no body: the running tasks
    assert (r.status_code, r.text, r.headers["Content-Type"]) == (200, '{"Index":0}', "application/json")
    assert "X-Nomad-Index" not in r.headers
    now = alloc(demo, target["ID"])
    state = now["TaskStates"][TASK]
    assert (now["ClientStatus"], state["State"], state["Restarts"]) == ("pending", "pending", 1)
    assert state["LastRestart"] == "2026-01-01T01:00:00Z"
    added = state["Events"][len(before["Events"]) :]
    assert [(e["Type"], e["DisplayMessage"], e["Details"]) for e in added] == [
        (
            "Restart Signaled",
            "User requested running tasks to restart",
            {"restart_reason": "User requested running tasks to restart"},
        ),
        ("Terminated", "Exit Code: 0", {"exit_code": "0", "signal": "0", "oom_killed": "false"}),
        ("Restarting", "Task restarting in 0s", {"restart_reason": "", "start_delay": "0"}),
    ]
    assert added[0]["RestartReason"] == "User requested running tasks to restart"
    # Fabio routes around it while it restarts.
    assert target["ID"] not in {a for a in demo.call(lambda: set(demo.cluster.store.serving))}
    demo.advance(1)
    now = alloc(demo, target["ID"])
    state = now["TaskStates"][TASK]
    assert (now["ID"], now["ClientStatus"], state["State"], state["Restarts"]) == (
        target["ID"],
        "running",
        "running",
        1,
    )
    assert state["Events"][-1]["Type"] == "Started" and state["StartedAt"] == "2026-01-01T01:00:00.5Z"
    assert stdout(demo, target["ID"]) == (
        "2026/01/01 00:00:00 httpsbackendservice v1.0.0 listening on :7777\n"
        "2026/01/01 01:00:00 httpsbackendservice v1.0.0 listening on :7777\n"
    )
    # Client updates, each an AllocationUpdated write.
    assert [(topic, kind) for _, topic, kind, _ in events_after(demo, index)] == [
        ("Allocation", "AllocationUpdated"),
        ("Allocation", "AllocationUpdated"),
    ]
    assert len(allocs(demo)) == 3


def test_a_task_restart_and_the_refusals(demo):
    target = allocs(demo)[0]["ID"]
    r = restart(demo, target, json.dumps({"TaskName": TASK}).encode(), method="PUT")
    assert r.status_code == 200
    assert alloc(demo, target)["TaskStates"][TASK]["Events"][-3]["DisplayMessage"] == "User requested task to restart"
    # The task is pending: restarting it alone is refused, restarting the running ones skips it.
    assert (restart(demo, target, b'{"TaskName": "%s"}' % TASK.encode()).text) == "Task not running"
    assert restart(demo, target).status_code == 200
    demo.advance(1)
    assert alloc(demo, target)["TaskStates"][TASK]["Restarts"] == 1
    assert restart(demo, target, b'{"AllTasks": true}').status_code == 200
    last = alloc(demo, target)["TaskStates"][TASK]
    assert (last["Restarts"], last["Events"][-3]["RestartReason"]) == (2, "User requested all tasks to restart")
    cases = [
        (b'{"TaskName": "web"}', 500, "Could not find task runner for task: web"),
        (b'{"TaskName": "web", "AllTasks": true}', 500, "task name cannot be set when restarting all tasks"),
        (b'{"AllTasks": "yes"}', 500, "json: cannot unmarshal string into Go struct field .AllTasks of type bool"),
        (b"{", 500, "unexpected EOF"),
    ]
    for body, status, text in cases:
        r = restart(demo, target, body)
        assert (r.status_code, r.text) == (status, text), body
    r = restart(demo, "5e1c0000-0000-4000-8000-000000000000", method="GET")
    assert (r.status_code, r.text) == (404, 'Unknown allocation "5e1c0000-0000-4000-8000-000000000000"')


def test_a_restart_starts_the_health_clock_again(demo):
    source = (JOBS_DIR / "httpsbackend-tcp-sni-1-rolling-update.nomad").read_text()
    job = http.post(f"{demo.nomad_url}/v1/jobs/parse", json={"JobHCL": source}).json()
    http.post(f"{demo.nomad_url}/v1/jobs", json={"Job": job})
    demo.advance(1)
    new = next(a for a in allocs(demo) if a["JobVersion"] == 1)
    demo.advance(20)  # min_healthy_time is 30s
    assert restart(demo, new["ID"]).status_code == 200
    demo.advance(20)  # 40 s after it started, 20 s after its restart
    assert alloc(demo, new["ID"])["DeploymentStatus"] is None
    demo.advance(11)
    assert alloc(demo, new["ID"])["DeploymentStatus"]["Healthy"] is True


def test_stop_migrates_the_allocation_to_a_replacement(demo):
    old = allocs(demo)[0]
    index = demo.call(lambda: demo.cluster.store.index)
    r = stop(demo, old["ID"])
    body = r.json()
    assert r.status_code == 200 and list(body) == ["EvalID", "Index"]
    assert r.headers["X-Nomad-Index"] == str(body["Index"]) == str(index + 1)
    # The write as the event stream carries it (the scheduler may have run since).
    marked, ev = (e["Payload"] for e in stream_after(demo, index)[:2])
    assert marked["Allocation"]["DesiredTransition"] == {
        "Migrate": True,
        "Reschedule": False,
        "ForceReschedule": None,
        "NoShutdownDelay": False,
        "MigrateDisablePlacement": None,
    }
    assert (marked["Allocation"]["DesiredStatus"], marked["Allocation"]["ModifyTime"]) == ("run", old["ModifyTime"])
    ev = ev["Evaluation"]
    assert (ev["ID"], ev["TriggeredBy"], ev["Status"], ev["CreateIndex"]) == (
        body["EvalID"],
        "alloc-stop",
        "pending",
        body["Index"],
    )
    demo.advance(0)  # the scheduler
    stopped = alloc(demo, old["ID"])
    assert (stopped["DesiredStatus"], stopped["DesiredDescription"]) == ("stop", "alloc is being migrated")
    new = alloc(demo, stopped["NextAllocation"])
    assert (new["Name"], new["PreviousAllocation"], new["ClientStatus"]) == (old["Name"], old["ID"], "pending")
    assert new["DeploymentID"] == ""  # the job's deployment is over: no deployment takes it
    demo.advance(1)
    assert alloc(demo, old["ID"])["ClientStatus"] == "complete"
    assert alloc(demo, new["ID"])["ClientStatus"] == "running"
    running = [a for a in allocs(demo) if a["DesiredStatus"] == "run" and a["ClientStatus"] == "running"]
    assert len(running) == 3 and new["ID"] in {a["ID"] for a in running}
    assert http.get(f"{demo.nomad_url}/v1/evaluation/{body['EvalID']}").json()["Status"] == "complete"
    assert [(i - index, topic, kind) for i, topic, kind, _ in events_after(demo, index)] == [
        (1, "Allocation", "AllocationUpdateDesiredStatus"),
        (1, "Evaluation", "AllocationUpdateDesiredStatus"),
        (2, "Allocation", "PlanResult"),
        (2, "Allocation", "PlanResult"),
        (3, "Evaluation", "EvaluationUpdated"),
        (4, "Allocation", "AllocationUpdated"),
        (5, "Allocation", "AllocationUpdated"),
    ]
    # A stopped allocation is not restarted.
    assert (restart(demo, old["ID"]).status_code, restart(demo, old["ID"]).text) == (
        500,
        "restart of an alloc that should not run",
    )
    assert restart(demo, old["ID"], b'{"TaskName": "%s"}' % TASK.encode()).text == "Task not running"


def test_stop_during_a_canary_keeps_the_old_version(demo):
    source = (JOBS_DIR / "httpsbackend-tcp-sni-1-canary-2.nomad").read_text()
    job = http.post(f"{demo.nomad_url}/v1/jobs/parse", json={"JobHCL": source}).json()
    http.post(f"{demo.nomad_url}/v1/jobs", json={"Job": job})
    demo.advance(40)
    old = next(a for a in allocs(demo) if a["JobVersion"] == 0)
    canary = next(a for a in allocs(demo) if a["JobVersion"] == 1)
    assert stop(demo, old["ID"]).status_code == 200
    demo.advance(1)
    replacement = alloc(demo, alloc(demo, old["ID"])["NextAllocation"])
    assert (replacement["JobVersion"], replacement["DeploymentStatus"]) == (0, None)
    # A stopped canary is only stopped; the deployment then places a fresh canary.
    assert stop(demo, canary["ID"]).status_code == 200
    demo.advance(1)
    canaries = [a for a in allocs(demo) if a["JobVersion"] == 1 and a["DesiredStatus"] == "run"]
    assert len(canaries) == 1 and canaries[0]["ID"] != canary["ID"]
    assert alloc(demo, canary["ID"])["DesiredDescription"] == "alloc is being migrated"
    assert len([a for a in allocs(demo) if a["DesiredStatus"] == "run"]) == 4


def test_stop_after_a_promotion_migrates_the_former_canary(demo):
    source = (JOBS_DIR / "httpsbackend-tcp-sni-1-canary-2.nomad").read_text()
    job = http.post(f"{demo.nomad_url}/v1/jobs/parse", json={"JobHCL": source}).json()
    http.post(f"{demo.nomad_url}/v1/jobs", json={"Job": job})
    demo.advance(40)
    d = http.get(f"{demo.nomad_url}/v1/job/{JOB}/deployment").json()
    canary = d["TaskGroups"][JOB]["PlacedCanaries"][0]
    body = {"DeploymentID": d["ID"], "All": True}
    assert http.post(f"{demo.nomad_url}/v1/deployment/promote/{d['ID']}", json=body).status_code == 200
    for _ in range(200):
        demo.advance(5)
        if http.get(f"{demo.nomad_url}/v1/deployment/{d['ID']}").json()["Status"] == "successful":
            break
    assert stop(demo, canary).status_code == 200
    demo.advance(1)
    replacement = alloc(demo, alloc(demo, canary)["NextAllocation"])
    assert (replacement["PreviousAllocation"], replacement["JobVersion"], replacement["DeploymentID"]) == (
        canary,
        1,
        "",
    )
    assert http.get(f"{demo.nomad_url}/v1/deployment/{d['ID']}").json()["Status"] == "successful"


@pytest.mark.parametrize(
    ("method", "alloc_id", "params", "status", "text"),
    [
        ("POST", "5e1c0000-0000-4000-8000-000000000000", {}, 404, "allocation not found"),
        ("GET", None, {}, 405, "Invalid method"),
        (
            "PUT",
            None,
            {"no_shutdown_delay": "maybe"},
            500,
            'Failed to parse value of "no_shutdown_delay" (maybe) as a bool: '
            'strconv.ParseBool: parsing "maybe": invalid syntax',
        ),
    ],
)
def test_stop_refusals(demo, method, alloc_id, params, status, text):
    alloc_id = alloc_id or allocs(demo)[0]["ID"]
    r = http.request(method, f"{demo.nomad_url}/v1/allocation/{alloc_id}/stop", params=params)
    assert (r.status_code, r.text) == (status, text)
