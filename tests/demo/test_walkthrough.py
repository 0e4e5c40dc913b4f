"""The article's walkthrough against the demo cluster, driven over real HTTP by python-nomad
(an independent client): rolling update, weighted canary, isolated canary, blue-green, revert."""

from __future__ import annotations

import collections

import httpx
import nomad
import pytest

from nomadtui.demo.cluster import JOBS_DIR
from tests.helpers import http

JOB = "httpsbackend-sni-1"


def job_file(name: str) -> str:
    return (JOBS_DIR / name).read_text()


@pytest.fixture
def n(demo):
    return nomad.Nomad(address=demo.nomad_url, timeout=10)


def run(n, filename: str) -> dict:
    """`nomad job run <file>`: parse on the server, then register with the source."""
    source = job_file(filename)
    job = n.jobs.parse(source)
    return n.jobs.register_job({"Job": job, "Submission": {"Source": source, "Format": "hcl2"}})


def latest(n) -> dict:
    return n.job.get_deployment(JOB)


def group(d: dict) -> dict:
    return d["TaskGroups"][JOB]


def live(n) -> list[dict]:
    return [a for a in n.job.get_allocations(JOB) if a["DesiredStatus"] == "run" and a["ClientStatus"] == "running"]


def image(n, alloc: dict) -> str:
    return n.allocation.get_allocation(alloc["ID"])["Job"]["TaskGroups"][0]["Tasks"][0]["Config"]["image"]


def routes(demo) -> dict[str, list[dict]]:
    rows = http.get(f"{demo.fabio_url}/api/routes").json() or []
    table = collections.defaultdict(list)
    for row in rows:
        table[row["src"]].append(row)
    return dict(table)


def answers(demo, host: str, count: int) -> collections.Counter:
    with httpx.Client(base_url=demo.lb_url) as c:
        return collections.Counter(c.get("/", headers={"Host": host}).text.strip() for _ in range(count))


def until_successful(demo, n, step: float = 1.0, limit: float = 900) -> dict:
    demo.advance(0)  # an API call returns before its evaluation runs, as in Nomad
    waited = 0.0
    while latest(n)["Status"] == "running" and waited < limit:
        demo.advance(step)
        waited += step
    return latest(n)


def test_starting_point(demo, n):
    job = n.job.get_job(JOB)
    assert job["Version"] == 0 and job["Stable"] is True and job["Status"] == "running"
    allocs = live(n)
    assert len(allocs) == 3
    assert {a["Name"] for a in allocs} == {f"{JOB}.{JOB}[{i}]" for i in range(3)}
    assert {image(n, a) for a in allocs} == {"bigwhite/httpsbackendservice:v1.0.0"}
    d = latest(n)
    assert d["Status"] == "successful" and d["StatusDescription"] == "Deployment completed successfully"
    table = routes(demo)
    assert list(table) == ["mysite-sni-1.com/"]
    assert [round(r["weight"], 4) for r in table["mysite-sni-1.com/"]] == [0.3333] * 3
    assert all(r["opts"] == "proto=tcp+sni" for r in table["mysite-sni-1.com/"])
    assert answers(demo, "mysite-sni-1.com", 5) == {"this is httpsbackendservice, version: v1.0.0": 5}


def test_rolling_update(demo, n):
    result = run(n, "httpsbackend-tcp-sni-1-rolling-update.nomad")
    assert result["EvalID"]
    demo.advance(0)
    d = latest(n)
    assert d["Status"] == "running" and d["StatusDescription"] == "Deployment is running"
    assert d["JobVersion"] == 1
    g = group(d)
    assert (g["DesiredTotal"], g["PlacedAllocs"], g["HealthyAllocs"], g["UnhealthyAllocs"]) == (3, 1, 0, 0)
    assert g["RequireProgressBy"] is not None
    allocs = n.job.get_allocations(JOB)
    stopped = [a for a in allocs if a["DesiredStatus"] == "stop"]
    assert len(stopped) == 1 and stopped[0]["DesiredDescription"] == "alloc is being updated due to job update"
    new = [a for a in allocs if a["JobVersion"] == 1]
    assert len(new) == 1 and new[0]["Name"] == stopped[0]["Name"]

    # One at a time: the next replacement waits for min_healthy_time (30s) of the previous one.
    demo.advance(0.5)
    assert sum(1 for a in live(n) if a["JobVersion"] == 1) == 1
    demo.advance(20)
    assert group(latest(n))["PlacedAllocs"] == 1
    demo.advance(12)
    assert group(latest(n))["HealthyAllocs"] == 1 and group(latest(n))["PlacedAllocs"] == 2

    d = until_successful(demo, n)
    assert d["Status"] == "successful" and d["StatusDescription"] == "Deployment completed successfully"
    g = group(d)
    assert (g["DesiredTotal"], g["PlacedAllocs"], g["HealthyAllocs"], g["UnhealthyAllocs"]) == (3, 3, 3, 0)
    job = n.job.get_job(JOB)
    assert job["Version"] == 1 and job["Stable"] is True
    assert {a["JobVersion"] for a in live(n)} == {1}
    summary = n.job.get_summary(JOB)["Summary"][JOB]
    assert summary["Running"] == 3 and summary["Complete"] == 3
    assert answers(demo, "mysite-sni-1.com", 5) == {"this is httpsbackendservice, version: v1.0.1": 5}
    assert [x["ID"] for x in n.deployments.get_deployments()][-1] == d["ID"]


def roll(demo, n, filename: str) -> None:
    run(n, filename)
    until_successful(demo, n)


def test_weighted_canary_then_promote(demo, n):
    roll(demo, n, "httpsbackend-tcp-sni-1-rolling-update.nomad")
    source = job_file("httpsbackend-tcp-sni-1-canary-1.nomad")
    plan = n.job.plan_job(JOB, {"Job": n.jobs.parse(source)}, diff=True)
    assert plan["Annotations"]["DesiredTGUpdates"][JOB]["Canary"] == 1
    assert plan["Annotations"]["DesiredTGUpdates"][JOB]["Ignore"] == 3
    tg_diff = plan["Diff"]["TaskGroups"][0]
    assert tg_diff["Updates"] == {"canary": 1, "ignore": 3}
    update = next(o for o in tg_diff["Objects"] if o["Name"] == "Update")
    canary = next(f for f in update["Fields"] if f["Name"] == "Canary")
    assert (canary["Old"], canary["New"], canary["Type"]) == ("0", "1", "Edited")
    assert tg_diff["Tasks"][0]["Annotations"] == ["forces create/destroy update"]
    assert plan["JobModifyIndex"] == n.job.get_job(JOB)["JobModifyIndex"]

    run(n, "httpsbackend-tcp-sni-1-canary-1.nomad")
    demo.advance(0.5)
    d = latest(n)
    assert d["StatusDescription"] == "Deployment is running but requires manual promotion"
    g = group(d)
    assert (g["Promoted"], g["DesiredTotal"], g["DesiredCanaries"], g["PlacedAllocs"], g["HealthyAllocs"]) == (
        False,
        3,
        1,
        1,
        0,
    )
    running = live(n)
    assert len(running) == 4
    canaries = [a for a in running if a["JobVersion"] == 2]
    assert len(canaries) == 1 and canaries[0]["DeploymentStatus"]["Canary"] is True
    demo.advance(31)
    assert group(latest(n))["HealthyAllocs"] == 1
    demo.advance(120)
    assert latest(n)["Status"] == "running"  # waits for promotion, deadline notwithstanding

    table = routes(demo)
    assert list(table) == ["mysite-sni-1.com/"]
    assert [r["weight"] for r in table["mysite-sni-1.com/"]] == [0.25] * 4
    seen = answers(demo, "mysite-sni-1.com", 400)
    assert set(seen) == {"this is httpsbackendservice, version: v1.0.1", "this is httpsbackendservice, version: v1.0.2"}
    assert 60 <= seen["this is httpsbackendservice, version: v1.0.2"] <= 140

    result = n.deployment.promote_deployment_all(d["ID"])
    assert result["EvalID"]
    demo.advance(0)
    d = latest(n)
    assert group(d)["Promoted"] is True and d["StatusDescription"] == "Deployment is running"
    canary = n.allocation.get_allocation(canaries[0]["ID"])
    assert canary["DeploymentStatus"]["Canary"] is False
    old = [a for a in n.job.get_allocations(JOB) if a["JobVersion"] == 1]
    same_name = next(a for a in old if a["Name"] == canary["Name"])
    assert same_name["DesiredStatus"] == "stop"
    assert same_name["DesiredDescription"] == "alloc not needed due to job update"
    assert group(d)["PlacedAllocs"] == 2  # the canary plus the first replacement, at once

    d = until_successful(demo, n)
    g = group(d)
    assert d["Status"] == "successful"
    assert (g["Promoted"], g["DesiredTotal"], g["DesiredCanaries"], g["PlacedAllocs"], g["HealthyAllocs"]) == (
        True,
        3,
        1,
        3,
        3,
    )
    assert answers(demo, "mysite-sni-1.com", 20) == {"this is httpsbackendservice, version: v1.0.2": 20}


def test_isolated_canary_route(demo, n):
    roll(demo, n, "httpsbackend-tcp-sni-1-rolling-update.nomad")
    run(n, "httpsbackend-tcp-sni-1-canary-2.nomad")
    demo.advance(31)
    table = routes(demo)
    assert sorted(table) == ["canary.mysite-sni-1.com/", "mysite-sni-1.com/"]
    assert [r["weight"] for r in table["canary.mysite-sni-1.com/"]] == [1]
    assert len(table["mysite-sni-1.com/"]) == 3
    canary = next(a for a in live(n) if a["JobVersion"] == 2)
    assert canary["DeploymentStatus"]["Canary"] is True
    assert answers(demo, "canary.mysite-sni-1.com", 10) == {"this is httpsbackendservice, version: v1.0.3": 10}
    assert answers(demo, "mysite-sni-1.com", 30) == {"this is httpsbackendservice, version: v1.0.1": 30}

    n.deployment.promote_deployment_all(latest(n)["ID"])
    demo.advance(1)
    assert list(routes(demo)) == ["mysite-sni-1.com/"]
    with httpx.Client(base_url=demo.lb_url) as c:
        refused = c.get("/", headers={"Host": "canary.mysite-sni-1.com"})
    assert refused.status_code == 404 and refused.text == ""
    until_successful(demo, n)
    assert answers(demo, "mysite-sni-1.com", 10) == {"this is httpsbackendservice, version: v1.0.3": 10}


def test_blue_green(demo, n):
    run(n, "httpsbackend-tcp-sni-1-blue-green.nomad")
    demo.advance(31)
    d = latest(n)
    g = group(d)
    assert d["StatusDescription"] == "Deployment is running but requires manual promotion"
    assert (g["DesiredCanaries"], g["PlacedAllocs"], g["HealthyAllocs"]) == (3, 3, 3)
    assert len(live(n)) == 6
    assert len(routes(demo)["mysite-sni-1.com/"]) == 6
    summary = n.job.get_summary(JOB)["Summary"][JOB]
    assert summary["Running"] == 6

    before = {a["ID"] for a in live(n) if a["JobVersion"] == 0}
    n.deployment.promote_deployment_all(d["ID"])
    demo.advance(0)
    d = latest(n)
    assert d["Status"] == "successful"  # in the same scheduler pass as the stops
    allocs = {a["ID"]: a for a in n.job.get_allocations(JOB)}
    assert all(allocs[i]["DesiredStatus"] == "stop" for i in before)
    assert len({allocs[i]["ModifyIndex"] for i in before}) == 1
    demo.advance(1)
    assert len(live(n)) == 3 and {a["JobVersion"] for a in live(n)} == {1}


def test_revert_creates_a_new_version(demo, n):
    roll(demo, n, "httpsbackend-tcp-sni-1-rolling-update.nomad")
    result = n.job.revert_job(JOB, 0, enforce_prior_version=1)
    assert result["EvalID"]
    job = n.job.get_job(JOB)
    assert job["Version"] == 2 and job["Stable"] is False
    d = until_successful(demo, n)
    assert d["JobVersion"] == 2 and d["Status"] == "successful"
    assert {image(n, a) for a in live(n)} == {"bigwhite/httpsbackendservice:v1.0.0"}
    versions = n.job.get_versions(JOB)["Versions"]
    assert [v["Version"] for v in versions] == [2, 1, 0]
    assert versions[0]["Stable"] is True


def test_version_history_with_diffs(demo, n):
    roll(demo, n, "httpsbackend-tcp-sni-1-rolling-update.nomad")
    body = http.get(f"{demo.nomad_url}/v1/job/{JOB}/versions", params={"diffs": "true"}).json()
    assert [v["Version"] for v in body["Versions"]] == [1, 0]
    assert len(body["Diffs"]) == 1
    task = body["Diffs"][0]["TaskGroups"][0]["Tasks"][0]
    config = next(o for o in task["Objects"] if o["Name"] == "Config")
    image_field = next(f for f in config["Fields"] if f["Name"] == "image")
    assert (image_field["Old"], image_field["New"]) == (
        "bigwhite/httpsbackendservice:v1.0.0",
        "bigwhite/httpsbackendservice:v1.0.1",
    )
    assert task["Annotations"] is None
