"""Garbage collection as Nomad's servers do it (nomadtui/demo/gc.py after nomad/core_sched.go:
CoreScheduler.evalGC, gcEval, allocGCEligible, deploymentGC, jobGC, forceGC), on the demo's
manual clock, over real HTTP with python-nomad. Thresholds are nomad/config.go DefaultConfig's
divided by the clock's speed: at speed 10 evaluations, allocations and deployments go 6 minutes
after their last change, a stopped job 24 minutes after it was submitted, checked every 30 s."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import nomad
import pytest

from nomadtui.demo import gc
from nomadtui.demo.clock import ManualClock
from nomadtui.demo.cluster import JOBS_DIR, TRACKED_VERSIONS, Cluster
from nomadtui.demo.server import DemoServer
from tests.helpers import http

JOB = "httpsbackend-sni-1"
SPEED = 10.0
FILES = ("httpsbackend-tcp-sni-1-rolling-update.nomad", "httpsbackend-tcp-sni-1.nomad")
EVAL_THRESHOLD = gc.EVAL_GC_THRESHOLD / SPEED  # 360 s
DEPLOYMENT_THRESHOLD = gc.DEPLOYMENT_GC_THRESHOLD / SPEED  # 360 s
JOB_THRESHOLD = gc.JOB_GC_THRESHOLD / SPEED  # 1440 s
TICK = gc.EVAL_GC_INTERVAL / SPEED  # 30 s: the GC runs at most this long after a record is due


@pytest.fixture
def fast() -> Iterator[DemoServer]:
    """A demo cluster at speed 10 (the demo-server's default) on a manual clock."""
    server = DemoServer(Cluster(ManualClock(speed=SPEED), seed=7), seed=7).start()
    try:
        yield server
    finally:
        server.stop()


def client(demo: DemoServer) -> nomad.Nomad:
    return nomad.Nomad(address=demo.nomad_url, timeout=10)


def now(demo: DemoServer) -> float:
    return demo.call(demo.cluster.clock.now)


def advance_to(demo: DemoServer, when: float) -> None:
    demo.advance(max(0.0, when - now(demo)))


def rollout(demo: DemoServer, n: nomad.Nomad, filename: str) -> None:
    """`nomad job run <file>`, then the cluster's time until the deployment ended and the
    replaced tasks were killed."""
    source = (JOBS_DIR / filename).read_text()
    n.jobs.register_job({"Job": n.jobs.parse(source), "Submission": {"Source": source, "Format": "hcl2"}})
    demo.advance(0)
    for _ in range(300):
        if n.job.get_deployment(JOB)["Status"] != "running":
            break
        demo.advance(1)
    assert n.job.get_deployment(JOB)["Status"] == "successful"
    demo.advance(5)


def records(n: nomad.Nomad) -> tuple[dict[str, dict], dict[str, dict], dict[str, dict]]:
    """The job's allocations, evaluations and deployments by id, as the HTTP API lists them."""
    return (
        {a["ID"]: a for a in n.job.get_allocations(JOB)},
        {e["ID"]: e for e in n.job.get_evaluations(JOB)},
        {d["ID"]: d for d in n.job.get_deployments(JOB)},
    )


def live(allocs: dict[str, dict]) -> set[str]:
    return {i for i, a in allocs.items() if a["DesiredStatus"] == "run" and a["ClientStatus"] == "running"}


def due_times(allocs: dict[str, dict], evals: dict[str, dict], deployments: dict[str, dict]) -> dict[str, float]:
    """When each terminal record becomes collectable: an allocation EVAL_THRESHOLD after its last
    change; an evaluation when it and all its allocations are that old (gcEval); a deployment
    DEPLOYMENT_THRESHOLD after its last change, its allocations being terminal (deploymentGC)."""
    running = live(allocs)
    kept_evals = {allocs[i]["EvalID"] for i in running}
    newest = max(deployments.values(), key=lambda d: d["CreateIndex"])
    due = {i: a["ModifyTime"] / 1e9 + EVAL_THRESHOLD for i, a in allocs.items() if i not in running}
    for i, e in evals.items():
        if i not in kept_evals:
            mine = [a["ModifyTime"] for a in allocs.values() if a["EvalID"] == i]
            due[i] = max([e["ModifyTime"], *mine]) / 1e9 + EVAL_THRESHOLD
    for i, d in deployments.items():
        if i != newest["ID"]:
            due[i] = d["ModifyTime"] / 1e9 + DEPLOYMENT_THRESHOLD
    return due


def present(n: nomad.Nomad) -> set[str]:
    allocs, evals, deployments = records(n)
    return set(allocs) | set(evals) | set(deployments)


def test_terminal_records_go_after_the_scaled_threshold_and_not_before(fast):
    """evalGC/gcEval/allocGCEligible and deploymentGC: each terminal allocation, evaluation and
    deployment goes once older than its threshold (at the next GC), not a moment before; the
    running allocations, their evaluations and the deployment they belong to stay."""
    n = client(fast)
    for filename in FILES * 2:
        rollout(fast, n, filename)
    allocs, evals, deployments = records(n)
    running = live(allocs)
    assert len(running) == 3
    assert all(
        a["DesiredStatus"] == "stop" and a["ClientStatus"] == "complete" for i, a in allocs.items() if i not in running
    )
    keep = running | {allocs[i]["EvalID"] for i in running} | {n.job.get_deployment(JOB)["ID"]}
    due = due_times(allocs, evals, deployments)
    assert len(due) > 20 and not keep & set(due)
    start = now(fast)
    assert min(due.values()) > start  # nothing was old enough yet

    t = min(due.values()) - 1
    while t < max(due.values()) + TICK + 1:
        advance_to(fast, t)
        seen = present(n)
        assert {i for i, when in due.items() if when > t} <= seen, f"collected early at {t - start:.0f}s"
        assert not {i for i, when in due.items() if when + TICK < t} & seen, f"left late at {t - start:.0f}s"
        assert keep <= seen
        t += 10
    assert present(n) == keep

    # Non-terminal ones never go, however old.
    fast.advance(3 * gc.JOB_GC_THRESHOLD / SPEED)
    assert present(n) == keep
    assert n.job.get_job(JOB)["Status"] == "running"


def test_a_blocked_evaluation_stays(fast):
    """gcEval ignores evaluations that are not terminal: a job that fits no node keeps its blocked
    evaluation however old, while the one that found no room (complete, no allocations) goes."""
    n = client(fast)
    job = n.jobs.parse((JOBS_DIR / FILES[1]).read_text())
    job["ID"] = job["Name"] = "too-big"
    job["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMB"] = 10**7
    n.jobs.register_job({"Job": job})
    fast.advance(0)
    evals = n.job.get_evaluations("too-big")
    assert sorted(e["Status"] for e in evals) == ["blocked", "complete"]
    fast.advance(3 * gc.JOB_GC_THRESHOLD / SPEED)
    assert [e["Status"] for e in n.job.get_evaluations("too-big")] == ["blocked"]
    assert n.job.get_job("too-big")["ID"] == "too-big"


def test_job_versions_stay_at_most_the_tracked_number(fast):
    """upsertJobVersion (JobTrackedVersions 6) and pruneJobSubmissions (nomad/state/state_store.go):
    the oldest version and its submission go as a new one is written."""
    n = client(fast)
    for filename in FILES * 4:
        rollout(fast, n, filename)
    versions = n.job.get_versions(JOB)["Versions"]
    assert [v["Version"] for v in versions] == list(range(8, 8 - TRACKED_VERSIONS, -1))
    for version, status in ((1, 404), (2, 404), (3, 200), (8, 200)):
        r = http.get(f"{fast.nomad_url}/v1/job/{JOB}/submission", params={"version": version})
        assert r.status_code == status, version


def test_a_stopped_job_goes_after_the_job_threshold(fast):
    """jobGC: a stopped, dead job goes JOB_THRESHOLD after its submission (evalGC took its
    evaluations and allocations earlier: the job is stopped), in one Job.BatchDeregister write
    whose only events are JobBatchDeregistered ones (a Job event with Deleted,
    nomad/state/events.go)."""
    n = client(fast)
    n.job.deregister_job(JOB)
    stopped_at = now(fast)
    fast.advance(5)
    assert n.job.get_job(JOB)["Status"] == "dead" and n.job.get_job(JOB)["Stop"] is True
    advance_to(fast, stopped_at + EVAL_THRESHOLD + TICK + 1)
    assert n.job.get_allocations(JOB) == [] and n.job.get_evaluations(JOB) == []
    assert n.job.get_deployments(JOB) == []  # an hour old, its allocations terminal
    advance_to(fast, stopped_at + JOB_THRESHOLD - 1)
    before = first_batch(fast.nomad_url, index=10**9, topic="*")["Index"]
    assert n.job.get_job(JOB)["ID"] == JOB  # not yet

    advance_to(fast, stopped_at + JOB_THRESHOLD + TICK + 1)
    assert http.get(f"{fast.nomad_url}/v1/job/{JOB}").status_code == 404
    assert n.jobs.get_jobs() == [] and n.deployments.get_deployments() == []
    frame = first_batch(fast.nomad_url, index=before + 1, topic="*")
    assert {(e["Type"], e["Topic"], e["Key"]) for e in frame["Events"]} == {("JobBatchDeregistered", "Job", JOB)}
    assert frame["Events"][0]["Payload"]["Job"]["Stop"] is True and frame["Events"][0]["Payload"]["Deleted"] is True


def first_batch(url: str, **params) -> dict:
    """The first line with events of a stream from `params`."""
    with http.stream("GET", f"{url}/v1/event/stream", params=params, timeout=10) as r:
        for line in r.iter_lines():
            if frame := json.loads(line):
                return frame
    raise AssertionError("the stream ended")


def test_system_gc_collects_at_once(demo):
    """`PUT /v1/system/gc` (System.GarbageCollect): a CoreJobForceGC, forceGC's 1 ms threshold for
    everything; the reap writes publish no events but move the tables' indexes, which wakes the
    blocking queries on the lists."""
    n = client(demo)
    rollout(demo, n, FILES[0])
    demo.advance(1)
    allocs, evals, deployments = records(n)
    running = live(allocs)
    assert len(allocs) == 6 and len(deployments) == 2
    url = f"{demo.nomad_url}/v1/job/{JOB}/allocations"
    index = int(http.get(url).headers["X-Nomad-Index"])
    newest_event = first_batch(demo.nomad_url, index=10**9, topic="*")["Index"]
    woke: dict = {}

    def block() -> None:
        r = http.get(url, params={"index": index, "wait": "60s"}, timeout=90)
        woke.update(index=int(r.headers["X-Nomad-Index"]), ids={a["ID"] for a in r.json()})

    waiter = threading.Thread(target=block)
    waiter.start()
    assert http.post(f"{demo.nomad_url}/v1/system/gc").status_code == 405
    r = http.put(f"{demo.nomad_url}/v1/system/gc")
    assert (r.status_code, r.content) == (200, b"")
    demo.advance(0)
    waiter.join(30)
    assert woke["index"] > index and woke["ids"] == running

    allocs, evals, deployments = records(n)
    assert set(allocs) == running
    assert set(evals) == {a["EvalID"] for a in allocs.values()}
    assert set(deployments) == {n.job.get_deployment(JOB)["ID"]}
    assert first_batch(demo.nomad_url, index=10**9, topic="*")["Index"] == newest_event
    assert n.system.initiate_garbage_collection() is True  # python-nomad's call: nothing more to take
    demo.advance(0)
    assert records(n) == (allocs, evals, deployments)


# --- the rules themselves (nomad/core_sched.go, nomad/state/schema.go) --------------------------


def _failed(**alloc) -> dict:
    return {
        "ID": "a",
        "TaskGroup": "web",
        "DesiredStatus": "run",
        "ClientStatus": "failed",
        "ModifyTime": 0,
        "NextAllocation": "",
        "RescheduleTracker": None,
        **alloc,
    }


def _job(policy: dict | None, **job) -> dict:
    return {"Status": "running", "Stop": False, "TaskGroups": [{"Name": "web", "ReschedulePolicy": policy}], **job}


@pytest.mark.parametrize(
    ("alloc", "job", "eligible"),
    [
        (_failed(ClientStatus="running", DesiredStatus="stop"), _job(None), False),  # still running on its client
        (_failed(ModifyTime=int(200e9)), _job(None), False),  # changed after the cutoff
        (_failed(), None, True),  # its job is gone
        (_failed(), _job({"Attempts": 0, "Unlimited": False}), True),  # no rescheduling
        (_failed(), _job({"Attempts": 2, "Unlimited": True}), False),  # unlimited, not replaced yet
        (_failed(NextAllocation="b"), _job({"Attempts": 2, "Unlimited": True}), True),  # replaced
        (_failed(), _job({"Attempts": 2, "Unlimited": False}), False),  # no reschedule yet
        (
            _failed(RescheduleTracker={"Events": [{"RescheduleTime": int(50e9)}]}),
            _job({"Attempts": 2, "Unlimited": False, "Interval": int(600e9)}),
            True,  # its last reschedule is more than the (scaled) interval ago: 150 s > 60 s
        ),
        (
            _failed(RescheduleTracker={"Events": [{"RescheduleTime": int(150e9)}]}),
            _job({"Attempts": 2, "Unlimited": False, "Interval": int(600e9)}),
            False,
        ),
        (_failed(), _job({"Attempts": 2, "Unlimited": False}, Stop=True), True),  # a stopped job's
        (_failed(DesiredStatus="stop"), _job({"Attempts": 2, "Unlimited": False}), True),
    ],
)
def test_alloc_gc_eligible(alloc, job, eligible):
    """allocGCEligible (nomad/core_sched.go) at now=200 s with cutoff 100 s and speed 10."""
    assert gc.alloc_gc_eligible(alloc, job, 200.0, 100.0, lambda s: s / 10) is eligible


def test_partition_eval_reap():
    """partitionEvalReap: allocations first, at most `batch` ids a write, no evaluations in a write
    the allocations filled."""
    evals, allocs = [f"e{i}" for i in range(5)], [f"a{i}" for i in range(7)]
    assert list(gc.partition_eval_reap(evals, allocs, 4)) == [
        ([], ["a0", "a1", "a2", "a3"]),
        (["e0"], ["a4", "a5", "a6"]),
        (["e1", "e2", "e3", "e4"], []),
    ]


@pytest.mark.parametrize(
    ("job", "gcable"),
    [
        ({"Status": "dead", "Stop": True, "Type": "service"}, True),
        ({"Status": "dead", "Stop": False, "Type": "service"}, False),  # a service job only once stopped
        ({"Status": "dead", "Stop": False, "Type": "batch"}, True),
        ({"Status": "running", "Stop": True, "Type": "service"}, False),  # not dead yet
        ({"Status": "dead", "Stop": True, "Type": "service", "VersionTag": {"Name": "v1"}}, False),
        ({"Status": "running", "Stop": True, "Type": "batch", "Periodic": {"Enabled": True}}, True),
    ],
)
def test_job_is_gcable(job, gcable):
    """jobIsGCable (nomad/state/schema.go), the jobs table's `gc` index JobsByGC reads."""
    assert gc.job_is_gcable(job) is gcable
