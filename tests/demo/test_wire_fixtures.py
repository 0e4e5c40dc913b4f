"""For every wire fixture from Nomad's API docs, the demo cluster's answer from the same endpoint
carries each field (that current Nomad still returns) with the same spelling and JSON type."""

from __future__ import annotations

import json

import httpx
import pytest

from nomadtui.demo.cluster import JOBS_DIR
from tests.helpers import http

JOB = "httpsbackend-sni-1"

# Keys whose values are maps keyed by names (groups, tasks, drivers, ...), not struct fields.
NAME_MAPS = {
    "Summary",
    "TaskGroups",
    "Drivers",
    "TaskStates",
    "Meta",
    "Env",
    "Config",
    "Attributes",
    "NodesAvailable",
    "DesiredTGUpdates",
    "FailedTGAllocs",
    "QueuedAllocations",
    "ClassEligibility",
    "Details",
    "DimensionExhausted",
    "ConstraintFiltered",
    "ClassFiltered",
    "GetterOptions",
    "Updates",
    "Tasks",
    "TaskLifecycles",
}
# Fields the doc samples show that current Nomad no longer returns (nomad-api.md §3).
GONE = {
    "get-v1-job-id-allocations.json": {"PreviousAllocation"},  # AllocListStub lost it
}
# Fields the samples show at any depth that Nomad 2.0.x no longer has: TaskState.TaskHandle is
# commented out of nomad/structs/structs.go, so no answer carries it.
GONE_ANYWHERE = {"TaskHandle"}
# Pointer fields: null whenever there is nothing to say (no revert happened).
NULLABLE = {"RevertedJobVersion"}
ZERO_TIME = "0001-01-01T00:00:00Z"  # old samples print zero times; current Nomad writes null


def shape_errors(expected, actual, path: str = "$") -> list[str]:
    if expected is None or expected == ZERO_TIME and actual is None:
        return []
    if actual is None and path.rsplit(".", 1)[-1] in NULLABLE:
        return []
    if isinstance(expected, dict):
        if actual is None:
            return []
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {type(actual).__name__}"]
        errors = []
        for key, value in expected.items():
            if key not in actual:
                if key not in GONE_ANYWHERE:
                    errors.append(f"{path}.{key}: missing")
            elif key in NAME_MAPS and isinstance(value, dict):
                if value and actual[key]:
                    errors += shape_errors(
                        next(iter(value.values())), next(iter(actual[key].values())), f"{path}.{key}[*]"
                    )
            else:
                errors += shape_errors(value, actual[key], f"{path}.{key}")
        return errors
    if isinstance(expected, list):
        if actual is None:
            return []
        if not isinstance(actual, list):
            return [f"{path}: expected an array, got {type(actual).__name__}"]
        real = [e for e in expected if e != "..."]
        if real and actual:
            return shape_errors(real[0], actual[0], f"{path}[0]")
        return []
    if isinstance(expected, bool) or isinstance(actual, bool):
        return [] if isinstance(actual, bool) == isinstance(expected, bool) else [f"{path}: {expected!r} vs {actual!r}"]
    if isinstance(expected, (int, float)):
        return [] if isinstance(actual, (int, float)) else [f"{path}: expected a number, got {actual!r}"]
    if isinstance(expected, str):
        return [] if isinstance(actual, str) else [f"{path}: expected a string, got {actual!r}"]
    return []


@pytest.fixture
def answers(demo) -> dict[str, object]:
    """One answer per fixture, collected while playing a canary rollout with promotion."""
    api = httpx.Client(base_url=demo.nomad_url, timeout=10)
    out: dict[str, object] = {}
    hcl = (JOBS_DIR / "httpsbackend-tcp-sni-1-canary-1.nomad").read_text()
    parse_request = {"JobHCL": hcl, "Canonicalize": True}
    job = api.post("/v1/jobs/parse", json=parse_request).json()
    out["post-v1-jobs-parse.response.json"] = job
    out["post-v1-job-id-plan.response.json"] = api.post(f"/v1/job/{JOB}/plan", json={"Job": job, "Diff": True}).json()
    out["post-v1-jobs.response.json"] = api.post("/v1/jobs", json={"Job": job}).json()
    demo.advance(31)
    deployment = api.get(f"/v1/job/{JOB}/deployment").json()
    out["get-v1-job-id-deployment.json"] = deployment
    out["get-v1-job-id-deployments.json"] = api.get(f"/v1/job/{JOB}/deployments").json()
    out["get-v1-deployments.filtering-example.json"] = api.get("/v1/deployments").json()
    out["get-v1-deployment-id.json"] = api.get(f"/v1/deployment/{deployment['ID']}").json()
    out["get-v1-deployment-allocations-id.json"] = api.get(f"/v1/deployment/allocations/{deployment['ID']}").json()
    out["get-v1-allocations.json"] = api.get("/v1/allocations").json()
    out["get-v1-job-id-allocations.json"] = api.get(f"/v1/job/{JOB}/allocations").json()
    out["get-v1-job-id-summary.json"] = api.get(f"/v1/job/{JOB}/summary").json()
    out["get-v1-jobs.json"] = api.get("/v1/jobs").json()
    out["get-v1-jobs.filtering-example.json"] = out["get-v1-jobs.json"]
    out["get-v1-job-id.json"] = api.get(f"/v1/job/{JOB}").json()
    out["get-v1-job-id-versions.diffs-true.json"] = api.get(f"/v1/job/{JOB}/versions", params={"diffs": "true"}).json()
    out["get-v1-nodes.json"] = api.get("/v1/nodes", params={"os": "true"}).json()
    out["post-v1-deployment-promote-id.response.json"] = api.post(
        f"/v1/deployment/promote/{deployment['ID']}", json={"DeploymentID": deployment["ID"], "All": True}
    ).json()
    out["post-v1-job-id-revert.response.json"] = api.post(
        f"/v1/job/{JOB}/revert", json={"JobID": JOB, "JobVersion": 0}
    ).json()
    demo.advance(1)
    latest = api.get(f"/v1/job/{JOB}/deployment").json()
    out["post-v1-deployment-fail-id.response.json"] = api.post(f"/v1/deployment/fail/{latest['ID']}").json()
    return out


def test_every_fixture_has_an_answer_of_the_same_shape(shared, answers):
    fixtures = sorted((shared / "fixtures" / "nomad-api").glob("*.json"))
    assert fixtures
    problems = []
    for path in fixtures:
        if path.name.endswith(".request.json"):
            continue
        assert path.name in answers, f"no endpoint exercised for {path.name}"
        expected = json.loads(path.read_text())
        for gone in GONE.get(path.name, ()):
            for item in expected if isinstance(expected, list) else [expected]:
                item.pop(gone, None)
        problems += [f"{path.name} {e}" for e in shape_errors(expected, answers[path.name])]
    assert problems == [], "\n".join(problems)


def test_parse_request_fixture_is_accepted(shared, demo):
    request = json.loads((shared / "fixtures" / "nomad-api" / "post-v1-jobs-parse.request.json").read_text())
    job = http.post(f"{demo.nomad_url}/v1/jobs/parse", json=request).json()
    expected = json.loads((shared / "fixtures" / "nomad-api" / "post-v1-jobs-parse.response.json").read_text())
    assert set(expected) <= set(job)
    assert job["ID"] == "example" and job["Type"] == "service" and job["Region"] == "global"
