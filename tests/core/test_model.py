"""The models parse every wire fixture and any odd input; the helpers print as the CLI does."""

from __future__ import annotations

import json

import pytest

from nomadtui.model import (
    Allocation,
    Deployment,
    Evaluation,
    GroupPlan,
    Job,
    JobSummary,
    Node,
    Plan,
    format_age,
    routes_from_api,
    short_id,
    versions_from_api,
)
from nomadtui.wire import format_duration, format_time, image_tag, unix_nanos
from nomadtui.wire import parse_rfc3339 as rfc3339

PARSERS = {
    "get-v1-jobs.json": lambda b: [Job.from_api(j) for j in b],
    "get-v1-jobs.filtering-example.json": lambda b: [Job.from_api(j) for j in b],
    "get-v1-job-id.json": Job.from_api,
    "get-v1-job-id-versions.diffs-true.json": versions_from_api,
    "get-v1-job-id-allocations.json": lambda b: [Allocation.from_api(a) for a in b],
    "get-v1-deployment-allocations-id.json": lambda b: [Allocation.from_api(a) for a in b],
    "get-v1-allocations.json": lambda b: [Allocation.from_api(a) for a in b],
    "get-v1-job-id-deployments.json": lambda b: [Deployment.from_api(d) for d in b],
    "get-v1-deployments.filtering-example.json": lambda b: [Deployment.from_api(d) for d in b],
    "get-v1-job-id-deployment.json": Deployment.from_api,
    "get-v1-deployment-id.json": Deployment.from_api,
    "get-v1-job-id-summary.json": JobSummary.from_api,
    "get-v1-nodes.json": lambda b: [Node.from_api(n) for n in b],
    "post-v1-job-id-plan.response.json": lambda b: Plan.from_api("example", b),
    "post-v1-jobs-parse.response.json": Job.from_api,
}


def test_every_fixture_parses(shared):
    fixtures = sorted((shared / "fixtures" / "nomad-api").glob("get-*.json")) + [
        shared / "fixtures" / "nomad-api" / n
        for n in ("post-v1-job-id-plan.response.json", "post-v1-jobs-parse.response.json")
    ]
    parsed = {p.name: PARSERS[p.name](json.loads(p.read_text())) for p in fixtures}
    job = parsed["get-v1-job-id.json"]
    assert (job.id, job.type, job.periodic, job.parameterized, job.groups[0].name) == (
        "example",
        "batch",
        True,
        True,
        "cache",
    )
    versions = parsed["get-v1-job-id-versions.diffs-true.json"]
    assert [v.version for v in versions] == [1, 0] and versions[0].diff["Type"] == "Edited" and versions[1].diff is None
    d = parsed["get-v1-job-id-deployment.json"]
    assert len(d.groups["cache"].placed_canaries) == d.groups["cache"].desired_canaries == 2
    # Old samples say "Deployment is running" for unpromoted canaries: decided from fields anyway.
    assert d.needs_promotion is True
    plan = parsed["post-v1-job-id-plan.response.json"]
    assert plan.groups[0].counts_text() == "11 create" and plan.placement_failures[0].name == "cache"
    allocs = parsed["get-v1-allocations.json"]
    assert allocs[0].healthy is True and allocs[0].tasks[0].name == "redis"
    nodes = parsed["get-v1-nodes.json"]
    assert nodes[0].name == "nomad-4" and nodes[0].status == "ready"
    summary = parsed["get-v1-job-id-summary.json"]
    assert summary.groups


@pytest.mark.parametrize(
    "parse",
    [Job.from_api, Allocation.from_api, Deployment.from_api, Evaluation.from_api, Node.from_api, JobSummary.from_api],
)
@pytest.mark.parametrize(
    "body",
    [
        {},
        {
            "ID": None,
            "TaskGroups": None,
            "DeploymentStatus": None,
            "Summary": None,
            "CreateTime": "yesterday",
            "Status": "quantum",
            "Version": None,
        },
        {"Extra": {"Nested": [1, 2]}, "ModifyIndex": "12", "Count": True},
    ],
)
def test_odd_input_never_raises(parse, body):
    record = parse(body)
    assert record is not None


def test_unknown_values_are_kept_as_text():
    d = Deployment.from_api({"ID": "x", "Status": "rebalancing", "TaskGroups": {"web": {"DesiredTotal": 2}}})
    assert d.status == "rebalancing" and not d.active and d.groups["web"].desired_total == 2


def test_times():
    assert unix_nanos(1636017249798459000) == pytest.approx(1636017249.798459)
    assert unix_nanos(0) is None and unix_nanos(None) is None
    assert rfc3339("2021-11-04T10:14:22.054814+01:00") == pytest.approx(1636017262.054814)
    assert rfc3339("2019-04-08T13:16:35.123456789Z") == pytest.approx(1554729395.123456)
    assert rfc3339("0001-01-01T00:00:00Z") is None and rfc3339(None) is None and rfc3339("soon") is None


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0.2, "0s ago"),
        (5, "5s ago"),
        (78, "1m18s ago"),
        (2 * 3600 + 5 * 60 + 9, "2h5m ago"),
        (3600 + 5, "1h5s ago"),
        (3 * 86400 + 4 * 3600, "3d4h ago"),
        (5 * 86400 + 19 * 3600, "5d19h ago"),
        (45 * 86400, "1mo15d ago"),
        (400 * 86400, "1y1mo ago"),
        (-30, "30s from now"),
    ],
)
def test_ages_as_nomad_prints_them(seconds, text):
    now = 1_800_000_000.0
    assert format_age(now - seconds, now) == text
    assert format_age(None, now) == ""


@pytest.mark.parametrize(
    "ns, text",
    [
        (30_000_000_000, "30s"),
        (300_000_000_000, "5m0s"),
        (600_000_000_000, "10m0s"),
        (3_600_000_000_000, "1h0m0s"),
        (1_500_000_000, "1.5s"),
        (250_000_000, "250ms"),
        (0, "0s"),
        (90_000_000_000, "1m30s"),
    ],
)
def test_durations_as_go_prints_them(ns, text):
    assert format_duration(ns) == text


def test_small_helpers():
    assert short_id("7acdd7bc-3c3e-2a1b-9f53-2e8bc56d01a7") == "7acdd7bc"
    assert image_tag("bigwhite/httpsbackendservice:v1.0.2") == "v1.0.2"
    assert image_tag("registry:5000/app") == "registry:5000/app"
    assert format_time(None) == "" and format_time(0.0).startswith("1970-01-01T")


def test_promotion_is_decided_from_fields():
    base = {
        "ID": "d",
        "Status": "running",
        "StatusDescription": "anything at all",
        "TaskGroups": {"web": {"DesiredCanaries": 1, "DesiredTotal": 3, "Promoted": False, "HealthyAllocs": 0}},
    }
    d = Deployment.from_api(base)
    assert d.needs_promotion and not d.canaries_healthy and d.promotable_groups == ["web"]
    base["TaskGroups"]["web"]["HealthyAllocs"] = 1
    assert Deployment.from_api(base).canaries_healthy
    base["TaskGroups"]["web"]["Promoted"] = True
    assert not Deployment.from_api(base).needs_promotion
    base["Status"] = "paused"
    base["TaskGroups"]["web"]["Promoted"] = False
    assert not Deployment.from_api(base).needs_promotion and Deployment.from_api(base).active


def test_plan_counts_text():
    assert GroupPlan("web", {"canary": 1, "ignore": 3}).counts_text() == "1 canary, 3 ignore"
    plan = Plan.from_api(
        "web",
        {
            "Annotations": {"DesiredTGUpdates": {"web": {"Ignore": 2, "DestructiveUpdate": 1, "Place": 0}}},
            "JobModifyIndex": 42,
        },
    )
    assert plan.groups[0].counts_text() == "1 create/destroy update, 2 ignore"
    assert plan.job_modify_index == 42 and plan.changes_allocations
    in_place = Plan.from_api("web", {"Annotations": {"DesiredTGUpdates": {"web": {"InPlaceUpdate": 3}}}})
    assert not in_place.changes_allocations


def test_fabio_rows_group_by_source():
    assert routes_from_api(None) == []
    rows = [
        {
            "service": "s",
            "host": "a.com",
            "path": "/",
            "src": "a.com/",
            "dst": "http://10.0.0.1:2000/",
            "opts": "proto=tcp+sni strip=/x",
            "cmd": "route add",
            "weight": 0.3333333333333333,
        },
        {
            "service": "s",
            "host": "a.com",
            "path": "/",
            "src": "a.com/",
            "dst": "http://10.0.0.2:2001/",
            "opts": "strip=/x proto=tcp+sni",
            "cmd": "route add",
            "tags": ["canary"],
            "weight": 0.6666666666666667,
        },
    ]
    (route,) = routes_from_api(rows)
    assert route.src == "a.com/" and route.options == {"proto": "tcp+sni", "strip": "/x"}
    assert [t.tags for t in route.targets] == [(), ("canary",)]
    assert route.targets[0].address == ("10.0.0.1", 2000)
    assert sum(t.weight for t in route.targets) == pytest.approx(1)
