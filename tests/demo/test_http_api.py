"""The demo cluster's wire conventions: blocking queries, indexes, Fabio's admin API, the event
stream, ACLs, and the demo-server command."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import httpx
import pytest

from nomadtui.demo.clock import ManualClock
from nomadtui.demo.cluster import JOBS_DIR, Cluster
from nomadtui.demo.server import DemoServer
from tests.helpers import http

JOB = "httpsbackend-sni-1"


def test_blocking_query_returns_on_change(demo):
    api = httpx.Client(base_url=demo.nomad_url, timeout=30)
    first = api.get(f"/v1/job/{JOB}/allocations")
    index = int(first.headers["X-Nomad-Index"])
    result: dict = {}

    def watch():
        started = time.monotonic()
        r = api.get(f"/v1/job/{JOB}/allocations", params={"index": index, "wait": "20s"})
        result.update(seconds=time.monotonic() - started, index=int(r.headers["X-Nomad-Index"]), body=r.json())

    t = threading.Thread(target=watch)
    t.start()
    time.sleep(0.3)
    assert t.is_alive()  # parked: nothing changed yet
    hcl = (JOBS_DIR / "httpsbackend-tcp-sni-1-rolling-update.nomad").read_text()
    job = api.post("/v1/jobs/parse", json={"JobHCL": hcl}).json()
    api.post("/v1/jobs", json={"Job": job})
    demo.advance(0)
    t.join(5)
    assert not t.is_alive()
    assert result["index"] > index
    assert result["seconds"] < 5
    assert len(result["body"]) == 4


def test_blocking_query_times_out_with_the_same_index(demo):
    r = http.get(f"{demo.nomad_url}/v1/jobs")
    index = int(r.headers["X-Nomad-Index"])
    started = time.monotonic()
    again = http.get(f"{demo.nomad_url}/v1/jobs", params={"index": index, "wait": "300ms"})
    assert 0.25 < time.monotonic() - started < 3
    assert int(again.headers["X-Nomad-Index"]) == index
    assert again.json() == r.json()


def test_indexes_follow_nomads_rules(demo):
    api = httpx.Client(base_url=demo.nomad_url)
    job = api.get(f"/v1/job/{JOB}")
    assert int(job.headers["X-Nomad-Index"]) == job.json()["ModifyIndex"]
    jobs = api.get("/v1/jobs")
    stub = jobs.json()[0]
    assert "Version" not in stub and stub["JobSummary"]["Summary"][JOB]["Running"] == 3
    assert int(jobs.headers["X-Nomad-Index"]) >= stub["ModifyIndex"]
    versions = api.get(f"/v1/job/{JOB}/versions").json()
    assert versions["Diffs"] is None and versions["Index"] == max(v["ModifyIndex"] for v in versions["Versions"])
    alloc = api.get(f"/v1/job/{JOB}/allocations").json()[0]
    assert "DeploymentID" not in alloc and "PreviousAllocation" not in alloc
    full = api.get(f"/v1/allocation/{alloc['ID']}").json()
    assert full["Job"]["ID"] == JOB and full["DeploymentID"]
    assert api.get("/v1/allocation/nope").text == "alloc not found"
    assert api.get("/v1/deployment/nope").status_code == 404
    pretty = api.get(f"/v1/job/{JOB}/summary", params={"pretty": ""})
    assert pretty.text.startswith('{\n    "') and pretty.text.endswith("}\n")


def test_writes_accept_put_and_post(demo):
    hcl = (JOBS_DIR / "httpsbackend-tcp-sni-1.nomad").read_text()
    for method in ("PUT", "POST"):
        r = http.request(method, f"{demo.nomad_url}/v1/jobs/parse", json={"JobHCL": hcl})
        assert r.status_code == 200 and r.json()["ID"] == JOB
    r = http.post(f"{demo.nomad_url}/v1/jobs/parse", json={"JobHCL": ""})
    assert (r.status_code, r.text) == (400, "Job spec is empty")


def test_fabio_admin_api(demo):
    fabio = httpx.Client(base_url=demo.fabio_url)
    assert fabio.get("/health").text == "OK\n"
    rows = fabio.get("/api/routes").json()
    assert {r["src"] for r in rows} == {"mysite-sni-1.com/"}
    row = rows[0]
    assert set(row) == {"service", "host", "path", "src", "dst", "opts", "cmd", "weight", "rate1", "pct99"}
    assert row["cmd"] == "route add" and row["host"] == "mysite-sni-1.com" and row["path"] == "/"
    assert row["dst"].startswith("http://10.0.0.1") and row["rate1"] == 0
    raw = fabio.get("/api/routes", params={"raw": ""}).text
    assert raw.count("route add httpsbackend-sni-1 mysite-sni-1.com/ http://") == 3
    manual = fabio.get("/api/manual").json()
    assert manual == {"value": "", "version": "0"}
    # Manual overrides are applied after the service routes, in order, as Fabio does.
    weight = 'route weight httpsbackend-sni-1 mysite-sni-1.com/ weight 0.1 tags "canary"'
    assert fabio.put("/api/manual", json={"value": weight, "version": "1"}).status_code == 409
    assert fabio.put("/api/manual", json={"value": weight, "version": "0"}).status_code == 200
    weights = [r["weight"] for r in fabio.get("/api/routes").json()]
    assert weights == [pytest.approx(1 / 3)] * 3  # matches no target: ignored (Fabio >= 1.7.3)
    delete = f"route del httpsbackend-sni-1 mysite-sni-1.com/ {row['dst']}"
    assert fabio.put("/api/manual", json={"value": delete, "version": "1"}).status_code == 200
    rows = fabio.get("/api/routes").json()
    assert [r["weight"] for r in rows] == [0.5, 0.5] and row["dst"] not in {r["dst"] for r in rows}


def test_empty_route_table_is_null(demo):
    http.delete(f"{demo.nomad_url}/v1/job/{JOB}")
    demo.advance(2)
    assert http.get(f"{demo.fabio_url}/api/routes").text == "null"
    job = http.get(f"{demo.nomad_url}/v1/job/{JOB}").json()
    assert job["Stop"] is True and job["Version"] == 1 and job["Status"] == "dead"


def test_event_stream(demo):
    events: list[dict] = []

    def read():
        with http.stream(
            "GET",
            f"{demo.nomad_url}/v1/event/stream",
            params={"topic": ["Deployment:httpsbackend-sni-1", "Job:*"]},
            timeout=10,
        ) as r:
            for line in r.iter_lines():
                events.append(json.loads(line))
                if any(e.get("Events") and e["Events"][0]["Topic"] == "Deployment" for e in events):
                    return

    t = threading.Thread(target=read, daemon=True)
    t.start()
    time.sleep(0.3)
    hcl = (JOBS_DIR / "httpsbackend-tcp-sni-1-rolling-update.nomad").read_text()
    job = http.post(f"{demo.nomad_url}/v1/jobs/parse", json={"JobHCL": hcl}).json()
    http.post(f"{demo.nomad_url}/v1/jobs", json={"Job": job})
    demo.advance(0)
    t.join(5)
    assert events[0] == {}
    topics = [(e["Topic"], e["Type"]) for batch in events[1:] for e in batch["Events"]]
    assert ("Job", "JobRegistered") in topics and ("Deployment", "PlanResult") in topics


def test_acl_tokens():
    server = DemoServer(Cluster(ManualClock(), seed=3), acl_tokens={"reader": "read", "writer": "write"}).start()
    try:
        url = server.nomad_url
        assert (http.get(f"{url}/v1/jobs").status_code, http.get(f"{url}/v1/jobs").text) == (403, "Permission denied")
        r = http.get(f"{url}/v1/jobs", headers={"X-Nomad-Token": "wrong"})
        assert (r.status_code, r.text) == (403, "ACL token not found")
        assert http.get(f"{url}/v1/jobs", headers={"X-Nomad-Token": "reader"}).status_code == 200
        hcl = (JOBS_DIR / "httpsbackend-tcp-sni-1.nomad").read_text()
        job = http.post(f"{url}/v1/jobs/parse", json={"JobHCL": hcl}, headers={"X-Nomad-Token": "reader"}).json()
        r = http.post(f"{url}/v1/jobs", json={"Job": job}, headers={"X-Nomad-Token": "reader"})
        assert (r.status_code, r.text) == (403, "Permission denied")
        r = http.post(f"{url}/v1/jobs", json={"Job": job}, headers={"Authorization": "Bearer writer"})
        assert r.status_code == 200
    finally:
        server.stop()


def test_demo_server_command_prints_its_addresses():
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nomadtui",
            "demo-server",
            "--port",
            "0",
            "--fabio-port",
            "0",
            "--lb-port",
            "0",
            "--speed",
            "50",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [proc.stdout.readline().split() for _ in range(3)]
        assert [name for name, _ in lines] == ["nomad", "fabio", "lb"]
        urls = dict(lines)
        assert http.get(f"{urls['nomad']}/v1/job/{JOB}").json()["Status"] == "running"
        assert http.get(f"{urls['fabio']}/health").text == "OK\n"
        r = http.get(urls["lb"], headers={"Host": "mysite-sni-1.com"})
        assert r.text == "this is httpsbackendservice, version: v1.0.0\n"
    finally:
        proc.terminate()
        proc.wait(5)
    out = subprocess.run(
        [sys.executable, "-m", "nomadtui", "demo-server", "--print-jobs-dir"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == str(JOBS_DIR)
