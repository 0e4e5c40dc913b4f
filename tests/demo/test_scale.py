"""`--extra-jobs N`: N small service jobs beside the article's, made by a fast path that must
leave exactly the state registering them would (no timing here: bench/demo_scale.py)."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from nomadtui.cli import main as cli_main
from nomadtui.cli import parser
from nomadtui.demo.clock import ManualClock
from nomadtui.demo.cluster import EXTRA_JOB_HCL, Cluster, extra_job_id
from nomadtui.demo.server import DemoServer
from nomadtui.demo.store import EVENT_TYPES, Store
from tests.helpers import http


def test_extra_jobs_are_registered_evaluated_and_running():
    cluster = Cluster(ManualClock(), seed=3, extra_jobs=200)
    store = cluster.store
    ids = [extra_job_id(i, 200) for i in range(1, 201)]
    assert ids[0] == "service-00001" and ids[-1] == "service-00200"
    assert sorted(store.job_ids["default"]) == store.job_ids["default"] == ["httpsbackend-sni-1", *ids]
    for job_id in ids:
        job = store.job("default", job_id)
        assert job is not None and (job["Status"], job["Stable"], job["Version"]) == ("running", True, 0)
        assert job["TaskGroups"][0]["Update"]["MaxParallel"] == 1  # Canonicalize's default strategy
        (alloc,) = store.job_allocs(job)
        assert (alloc["ClientStatus"], alloc["DesiredStatus"]) == ("running", "run")
        assert alloc["DeploymentStatus"]["Healthy"] is True and alloc["NodeName"].startswith("nomad-client-dc2-")
        assert (alloc["Metrics"]["NodesAvailable"], alloc["Metrics"]["NodesInPool"]) == ({"dc2": 1}, 4)
        (deployment,) = store.job_deployments("default", job_id)
        assert deployment["Status"] == "successful" and deployment["TaskGroups"]["app"]["HealthyAllocs"] == 1
        register, watcher = store.job_evals("default", job_id)[::-1]
        assert (register["TriggeredBy"], watcher["TriggeredBy"]) == ("job-register", "deployment-watcher")
        assert {register["Status"], watcher["Status"]} == {"complete"}
        summary = store.summaries[("default", job_id)]["Summary"]["app"]
        assert (summary["Running"], summary["Starting"], summary["Queued"]) == (1, 0, 0)
        # One history in Raft order: registered, placed, started, healthy, promoted to stable.
        assert job["CreateIndex"] == register["CreateIndex"] < deployment["CreateIndex"] == alloc["CreateIndex"]
        assert alloc["CreateIndex"] < alloc["ModifyIndex"] < watcher["CreateIndex"] < job["ModifyIndex"]
    # The article's job is as it is without extra jobs (the extra jobs come after its history).
    plain = Cluster(ManualClock(), seed=3)
    key = ("default", "httpsbackend-sni-1")
    assert store.jobs[key] == plain.store.jobs[key]
    assert [a["ID"] for a in store.job_allocs(store.jobs[key])] == [
        a["ID"] for a in plain.store.job_allocs(plain.store.jobs[key])
    ]
    assert len(store.nodes) == 4 and store.index == plain.store.index + 8 * 200  # eight writes a job


def rows(store: Store) -> dict:
    """Everything the cluster holds, as it holds it (ids, indexes, times, order)."""

    def bare(alloc: dict) -> dict:
        return {k: v for k, v in alloc.items() if k not in ("_job", "_counted", "_dep")}

    return {
        "index": store.index,
        "tables": store.table_index,
        "jobs": list(store.jobs.items()),
        "versions": store.versions,
        "summaries": store.summaries,
        "evals": list(store.evals.items()),
        "deployments": list(store.deployments.items()),
        "allocs": [(k, bare(a)) for k, a in store.allocs.items()],
        "usage": store.node_usage,
        "created": store.created,
        "events": [
            (
                item.index,
                item.type,
                [(e.topic, e.key, e.namespace, e.filter_keys, e.payload) for e in item.events or ()],
            )
            for item in store.events.items()
        ],
        "rng": store.rng.getstate(),
    }


@pytest.mark.parametrize("n", [5, 60])
def test_the_fast_path_is_the_slow_path_row_for_row(n):
    """Same seed: registering n jobs at once and letting the cluster run, or the fast path."""
    fast = Cluster(ManualClock(), seed=9, extra_jobs=n)
    slow = Cluster(ManualClock(), seed=9, capacity_for=n)
    slow.add_extra_jobs(n, fast=False)
    assert fast.clock.now() == slow.clock.now()
    fast_rows, slow_rows = rows(fast.store), rows(slow.store)
    for name in slow_rows:
        assert fast_rows[name] == slow_rows[name], name
    for alloc in fast.store.allocs.values():
        assert alloc["_job"] is fast.store.job(alloc["Namespace"], alloc["JobID"])
    # Each copy owns what the cluster changes in place.
    a, b = (fast.store.job_allocs(fast.store.job("default", extra_job_id(i, n)))[0] for i in (1, 2))
    assert a["TaskStates"]["app"] is not b["TaskStates"]["app"] and a["DesiredTransition"] is not b["DesiredTransition"]


def normalized(demo_store: Store, job_id: str) -> dict:
    """A job's rows without what differs between two histories of it (ids, indexes, times,
    node), and the links between them."""
    volatile = {"ID", "EvalID", "DeploymentID", "NodeID", "NodeName", "PreviousEval", "NextEval", "BlockedEval"}
    volatile |= {"CreateTime", "ModifyTime", "SubmitTime", "Timestamp", "RequireProgressBy", "StartedAt", "Time"}
    volatile |= {"UpdateTime", "IP", "AllocationTime"}

    def strip(value):
        if isinstance(value, dict):
            return {
                k: strip(v)
                for k, v in value.items()
                if not k.startswith("_") and k not in volatile and not k.endswith("Index")
            }
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    job = demo_store.job("default", job_id)
    assert job is not None
    evals = demo_store.job_evals("default", job_id)[::-1]
    (deployment,) = demo_store.job_deployments("default", job_id)
    (alloc,) = demo_store.job_allocs(job)
    links = {
        "evals point at the job version": [e["JobModifyIndex"] == job["JobModifyIndex"] for e in evals],
        "the deployment's": [
            deployment["JobCreateIndex"] == job["CreateIndex"],
            deployment["JobSpecModifyIndex"] == job["JobModifyIndex"],
            alloc["DeploymentID"] == deployment["ID"] == evals[-1]["DeploymentID"] == evals[0]["DeploymentID"],
            alloc["EvalID"] == evals[0]["ID"],
        ],
        "order": [
            job["CreateIndex"] <= evals[0]["CreateIndex"] < deployment["CreateIndex"] <= alloc["CreateIndex"],
            alloc["ModifyIndex"] < evals[1]["CreateIndex"] <= job["ModifyIndex"] == deployment["ModifyIndex"],
            evals[0]["SnapshotIndex"] == evals[0]["ModifyIndex"] - 1,
        ],
    }
    return {
        "job": strip(job),
        "summary": strip(demo_store.summaries[("default", job_id)]),
        "evals": strip(evals),
        "deployment": strip(deployment),
        "alloc": strip(alloc),
        "links": links,
    }


def test_extra_jobs_are_what_registering_them_over_http_makes():
    n = 12
    made = Cluster(ManualClock(), seed=4, extra_jobs=n)
    demo = DemoServer(Cluster(ManualClock(), seed=4, capacity_for=n), seed=4).start()
    try:
        api = httpx.Client(base_url=demo.nomad_url, timeout=10)
        for i in range(1, n + 1):
            job = api.post("/v1/jobs/parse", json={"JobHCL": EXTRA_JOB_HCL % extra_job_id(i, n)}).json()
            api.post("/v1/jobs", json={"Job": job}).raise_for_status()
        demo.advance(60)
        registered = demo.cluster
        assert registered is not None
        for i in range(1, n + 1):
            job_id = extra_job_id(i, n)
            assert normalized(made.store, job_id) == normalized(registered.store, job_id)
        listed = api.get("/v1/jobs").json()
        assert [j["ID"] for j in listed] == ["httpsbackend-sni-1", *(extra_job_id(i, n) for i in range(1, n + 1))]
        assert [j["Status"] for j in listed] == ["running"] * (n + 1)
    finally:
        demo.stop()


def test_every_write_of_the_fast_path_has_nomads_event_types():
    store = Cluster(ManualClock(), seed=2, extra_jobs=30).store
    types = {item.type for item in store.events.items() if item.events}
    assert types <= EVENT_TYPES and "AllocationUpdateDesiredStatus" in types  # the watcher's evaluation
    assert [item.index for item in store.events.items()] == list(range(store.index - 100, store.index + 1))


def test_the_command_lines_take_extra_jobs(capsys):
    assert parser().parse_args(["--demo", "--extra-jobs", "3"]).extra_jobs == 3
    assert cli_main(["--extra-jobs", "3"]) == 2
    assert "use it with --demo" in capsys.readouterr().err
    proc = subprocess.Popen(
        [sys.executable, "-m", "nomadtui", "demo-server", "--port", "0", "--fabio-port", "0", "--lb-port", "0"]
        + ["--extra-jobs", "40", "--seed", "1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        urls = dict(proc.stdout.readline().split() for _ in range(3))  # type: ignore[union-attr]
        jobs = http.get(f"{urls['nomad']}/v1/jobs").json()
        assert len(jobs) == 41 and jobs[-1]["ID"] == "service-00040"
        assert {j["Status"] for j in jobs} == {"running"}
        assert all(j["JobSummary"]["Summary"]["app"]["Running"] == 1 for j in jobs[1:])
    finally:
        proc.terminate()
        proc.wait(5)
    bad = subprocess.run(
        [sys.executable, "-m", "nomadtui", "demo-server", "--extra-jobs", "-1"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "--extra-jobs must be 0 or more" in bad.stderr
