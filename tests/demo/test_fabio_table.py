"""The demo's Fabio route table as Fabio builds it from Consul (fabio registry/consul/, route/):
an instance joins once a service check passed, targets in the order of their route commands,
weight-0 targets listed, the admin server's fallback."""

from __future__ import annotations

import copy

import httpx
import pytest

from nomadtui.demo.clock import ManualClock
from nomadtui.demo.cluster import SEED_JOB_FILE, Cluster
from nomadtui.demo.server import DemoServer
from tests.helpers import http

JOB = "httpsbackend-sni-1"
SRC = "mysite-sni-1.com/"


def routes(demo) -> list[dict]:
    return http.get(f"{demo.fabio_url}/api/routes").json() or []


def seed_job(demo) -> dict:
    return http.post(f"{demo.nomad_url}/v1/jobs/parse", json={"JobHCL": SEED_JOB_FILE.read_text()}).json()


def other_job(demo, job_id: str = "other", service: str = "other-svc", **service_fields) -> dict:
    """One instance of a second service on the seed job's route (`urlprefix-mysite-sni-1.com/`)."""
    job = copy.deepcopy(seed_job(demo))
    job["ID"] = job["Name"] = job_id
    group = job["TaskGroups"][0]
    group["Name"], group["Count"] = job_id, 1
    group["Tasks"][0]["Services"][0].update(Name=service, **service_fields)
    return job


def register(demo, job: dict) -> None:
    http.post(f"{demo.nomad_url}/v1/jobs", json={"Job": job}).raise_for_status()
    demo.advance(0)  # the scheduler places it; its task starts START_SECONDS later


def services(demo) -> list[str]:
    return [r["service"] for r in routes(demo)]


def test_an_instance_joins_once_its_check_passed_and_leaves_when_it_stops(demo):
    """fabio registry/consul/passing.go passingServices: only instances with a passing check are
    routed; Consul runs the check (interval 10s) after Nomad registers the service when the task
    starts, so the instance joins a check interval after the start, not at it."""
    register(demo, other_job(demo))
    demo.advance(0.5)  # the task runs
    (alloc,) = http.get(f"{demo.nomad_url}/v1/job/other/allocations").json()
    assert alloc["ClientStatus"] == "running" and "other-svc" not in services(demo)
    demo.advance(9.9)
    assert "other-svc" not in services(demo)
    demo.advance(0.2)  # 10 s after the start: the check passed
    assert services(demo).count("other-svc") == 1
    http.delete(f"{demo.nomad_url}/v1/job/other").raise_for_status()
    demo.advance(0)  # DesiredStatus stop: Nomad deregisters the service before the kill
    assert "other-svc" not in services(demo)


def test_the_check_interval_is_a_rollout_duration():
    """The check's `interval` (fabio passing.go, Consul's check runner) is scaled by the demo's
    clock like every rollout duration: at --speed 10 a 10 s interval passes in 1 s."""
    demo = DemoServer(Cluster(ManualClock(speed=10.0), seed=7), seed=7).start()
    try:
        register(demo, other_job(demo))
        demo.advance(0.05)  # START_SECONDS / 10: the task runs
        assert "other-svc" not in services(demo)
        demo.advance(1.0)
        assert "other-svc" in services(demo)
    finally:
        demo.stop()


@pytest.mark.parametrize(
    "fields",
    [{"Checks": None}, {"Provider": "nomad", "Checks": None}],
    ids=["no checks", "nomad provider"],
)
def test_an_instance_without_a_consul_check_is_never_routed(demo, fields):
    """fabio registry/consul/passing.go passingServices walks service checks: a service without
    one is never listed; a `provider = "nomad"` service is not in Consul at all."""
    register(demo, other_job(demo, **fields))
    demo.advance(60)
    (alloc,) = http.get(f"{demo.nomad_url}/v1/job/other/allocations").json()
    assert alloc["ClientStatus"] == "running" and "other-svc" not in services(demo)


def test_targets_keep_the_order_of_their_route_commands_and_weight_0_is_listed(demo):
    """fabio registry/consul/service.go ServiceMonitor.makeConfig sorts the route commands in
    reverse; route/table.go NewTable adds them in that order (Route.addTarget appends), and
    admin/api/routes.go RoutesHandler lists every target, weight 0 included. Route.config (the
    `raw` text) leaves out the targets of weight 0 and writes a fixed weight."""
    register(demo, other_job(demo))
    demo.advance(11)
    rows = routes(demo)
    commands = [f"route add {r['service']} {r['src']} {r['dst']}" for r in rows]
    assert commands == sorted(commands, reverse=True)  # not oldest allocation first
    assert [r["service"] for r in rows] == ["other-svc"] + [JOB] * 3  # "o" > "h"
    fabio = httpx.Client(base_url=demo.fabio_url)
    manual = f"route weight {JOB} {SRC} weight 1"  # the three fixed at 1/3 each: nothing left
    assert fabio.put("/api/manual", json={"value": manual, "version": "0"}).status_code == 200
    rows = routes(demo)
    assert [(r["service"], r["weight"]) for r in rows] == [("other-svc", 0)] + [(JOB, pytest.approx(1 / 3))] * 3
    raw = fabio.get("/api/routes", params={"raw": ""}).text
    assert "other-svc" not in raw and raw.count(" weight 0.3333 ") == 3 and raw.endswith("\n")


def test_a_new_instance_takes_its_commands_place_not_the_end(demo):
    """fabio registry/consul/service.go makeConfig: the order is the sorted command text, so
    during a rolling update old and new instances are listed by address, whatever their age."""
    before = [r["dst"] for r in routes(demo)]
    text = SEED_JOB_FILE.read_text().replace("v1.0.0", "v1.0.1")
    register(demo, http.post(f"{demo.nomad_url}/v1/jobs/parse", json={"JobHCL": text}).json())
    seen = set()
    for _ in range(90):
        demo.advance(1)
        dsts = [r["dst"] for r in routes(demo)]
        assert dsts == sorted(dsts, reverse=True)
        seen.add(tuple(d in before for d in dsts))
    assert any(True in s and False in s for s in seen)  # old and new side by side at some point


def test_an_empty_table_prints_an_empty_line(demo):
    """fabio admin/api/routes.go: `fmt.Fprintln(w, t.String())`, a newline for an empty table."""
    http.delete(f"{demo.nomad_url}/v1/job/{JOB}").raise_for_status()
    demo.advance(2)
    assert http.get(f"{demo.fabio_url}/api/routes", params={"raw": ""}).text == "\n"


@pytest.mark.parametrize("path", ["/", "/nope", "/api/nope"])
def test_unknown_admin_paths_redirect_to_the_routes_page(demo, path):
    """fabio admin/server.go handler: the mux's "/" pattern is a 303 to /routes."""
    r = http.get(f"{demo.fabio_url}{path}")
    assert r.status_code == 303 and r.headers["location"] == "/routes"


@pytest.mark.parametrize("weight", ["inf", "nan", "-1", "x"])
def test_a_weight_tag_that_is_no_share_counts_as_none(weight):
    """route.go addTarget: a weight below 0 is 0; `inf` and `nan` (which Go's ParseFloat accepts)
    are no share either, so the other targets' shares stay numbers that add up."""
    from nomadtui.demo.routes import build_table

    def instance(alloc: str, port: int, tags: list[str]) -> dict:
        return {"ServiceName": "svc", "Address": "10.0.0.1", "Port": port, "Tags": tags, "AllocID": alloc,
                "Image": "img:1", "Task": "t"}  # fmt: skip

    table = build_table(
        [
            instance("a", 1, ["urlprefix-x.com/"]),
            instance("b", 2, [f"urlprefix-x.com/ weight={weight}"]),
        ]
    )
    weights = [t.weight for t in table[0].targets]
    assert all(0.0 <= w <= 1.0 for w in weights) and abs(sum(weights) - 1.0) < 1e-9, weights
