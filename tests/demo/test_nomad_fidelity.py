"""The demo's Nomad where a line-by-line reading of Nomad's source (2.0.x) found it wrong: error
paths, list order, the write types of evaluations, the deployment watcher's small rules, and
the fields of the structs it answers with. Each test names the upstream identifier it follows."""

from __future__ import annotations

import httpx
import pytest

from nomadtui.demo.cluster import JOBS_DIR, SEED_JOB_FILE
from nomadtui.demo.store import EVENT_TYPES
from nomadtui.wire import parse_rfc3339
from tests.helpers import http

JOB = "httpsbackend-sni-1"

# The TypeXxx event types of nomad/structs/event.go.
NOMAD_EVENT_TYPES = frozenset(
    {
        "NodeRegistration",
        "NodeDeregistration",
        "NodeEligibility",
        "NodeDrain",
        "NodeStreamEvent",
        "NodePoolUpserted",
        "NodePoolDeleted",
        "DeploymentStatusUpdate",
        "DeploymentPromotion",
        "DeploymentAllocHealth",
        "AllocationCreated",
        "AllocationUpdated",
        "AllocationUpdateDesiredStatus",
        "EvaluationUpdated",
        "JobRegistered",
        "JobDeregistered",
        "JobBatchDeregistered",
        "PlanResult",
        "ACLTokenDeleted",
        "ACLTokenUpserted",
        "ACLPolicyDeleted",
        "ACLPolicyUpserted",
        "ACLRoleDeleted",
        "ACLRoleUpserted",
        "ACLAuthMethodUpserted",
        "ACLAuthMethodDeleted",
        "ACLBindingRuleUpserted",
        "ACLBindingRuleDeleted",
        "ServiceRegistration",
        "ServiceDeregistration",
        "HostVolumeRegistered",
        "HostVolumeDeleted",
        "CSIVolumeRegistered",
        "CSIVolumeDeregistered",
        "CSIVolumeClaim",
        "UtilizationSnapshotUpserted",
        "VariableUpdated",
    }
)


@pytest.fixture
def api(demo) -> httpx.Client:
    return httpx.Client(base_url=demo.nomad_url, timeout=10)


def parse(api: httpx.Client, text: str) -> dict:
    return api.post("/v1/jobs/parse", json={"JobHCL": text}).json()


def register(api: httpx.Client, job: dict) -> dict:
    r = api.post("/v1/jobs", json={"Job": job})
    r.raise_for_status()
    return r.json()


def write_at(demo, index: int):
    (item,) = [item for item in demo.cluster.store.events.items() if item.index == index]
    return item


# --- error paths -------------------------------------------------------------------------------


def test_deregistering_a_missing_job_answers_200_without_an_evaluation(api):
    """nomad/job_endpoint.go Job.Deregister returns nil when JobByID finds no job: the agent's
    jobDelete answers the zero JobDeregisterResponse with X-Nomad-Index 0."""
    r = api.delete("/v1/job/nope", params={"purge": "true"})
    assert r.status_code == 200 and r.headers["X-Nomad-Index"] == "0"
    assert r.json() == {
        "EvalID": "",
        "EvalCreateIndex": 0,
        "JobModifyIndex": 0,
        "VolumeEvalID": "",
        "VolumeEvalIndex": 0,
        "Index": 0,
        "LastContact": 0,
        "KnownLeader": False,
        "NextToken": "",
    }


def test_purging_a_job_deletes_its_submissions(api):
    """DeleteJobTxn calls deleteJobSubmission (nomad/state/state_store.go): a purged job's sources
    are gone, and a job registered again under its ID does not serve them."""
    assert api.get(f"/v1/job/{JOB}/submission", params={"version": 0}).status_code == 200
    api.delete(f"/v1/job/{JOB}", params={"purge": "true"}).raise_for_status()
    r = api.get(f"/v1/job/{JOB}/submission", params={"version": 0})
    assert (r.status_code, r.text) == (404, "job source not found")


def test_evaluating_a_missing_job_is_a_500(api):
    """nomad/job_endpoint.go Job.Evaluate: `fmt.Errorf("job not found")`, a plain error (500)."""
    r = api.post("/v1/job/nope/evaluate")
    assert (r.status_code, r.text) == (500, "job not found")


@pytest.mark.parametrize("path", ["/v1/nope", "/nope", "/v1/jobs/nope/extra"])
def test_unknown_paths_are_a_bare_404(api, path):
    """command/agent/http.go handleRootFallthrough: `w.WriteHeader(http.StatusNotFound)`, no body."""
    r = api.get(path)
    assert (r.status_code, r.content) == (404, b"")
    assert "content-type" not in r.headers


# --- list order --------------------------------------------------------------------------------


def test_lists_come_in_memdb_order_not_newest_first(demo, api):
    """nomad/state/state_store.go AllocsByJob, EvalsByJob, DeploymentsByJobID, AllocsByDeployment
    and AllocsByEval walk non-unique memdb indexes whose keys end in the row's ID (schema.go), and
    the endpoints keep that order: by ID, not newest first."""
    register(api, parse(api, (JOBS_DIR / "httpsbackend-tcp-sni-1-rolling-update.nomad").read_text()))
    for _ in range(60):
        demo.advance(1)
    lists = {
        "allocations": api.get(f"/v1/job/{JOB}/allocations").json(),
        "evaluations": api.get(f"/v1/job/{JOB}/evaluations").json(),
        "deployments": api.get(f"/v1/job/{JOB}/deployments").json(),
    }
    deployment = api.get(f"/v1/job/{JOB}/deployment").json()
    lists["deployment allocations"] = api.get(f"/v1/deployment/allocations/{deployment['ID']}").json()
    ev = max(lists["evaluations"], key=lambda e: len(api.get(f"/v1/evaluation/{e['ID']}/allocations").json()))
    lists["evaluation allocations"] = api.get(f"/v1/evaluation/{ev['ID']}/allocations").json()
    for name, rows in lists.items():
        assert len(rows) > 1, name
        assert [r["ID"] for r in rows] == sorted(r["ID"] for r in rows), name
    # Job.LatestDeployment picks the highest CreateIndex whatever the order.
    assert deployment["CreateIndex"] == max(d["CreateIndex"] for d in lists["deployments"])


# --- event types -------------------------------------------------------------------------------


def test_every_event_type_is_one_of_nomads():
    """nomad/structs/event.go: the demo's writes publish only Nomad's TypeXxx event types
    (nomad/state/events.go MsgTypeEvents maps each Raft message type to one)."""
    assert EVENT_TYPES <= NOMAD_EVENT_TYPES
    assert not {"EvalUpdated", "JobStabilityUpdate", "JobStabilityUpdated"} & EVENT_TYPES


def test_an_unchanged_register_is_an_evaluation_update(demo, api):
    """nomad/job_endpoint.go Job.Register with an unchanged spec commits the evaluation alone in an
    EvalUpdateRequestType write (nomad/state/events.go MsgTypeEvents: EvaluationUpdated); no
    JobModifyIndex is set on it, and the answer's is the job's ModifyIndex."""
    job = api.get(f"/v1/job/{JOB}").json()
    out = register(api, parse(api, SEED_JOB_FILE.read_text()))
    assert out["JobModifyIndex"] == job["ModifyIndex"]
    item = write_at(demo, out["EvalCreateIndex"])
    (event,) = item.events
    assert item.type == "EvaluationUpdated" and event.topic == "Evaluation"
    assert event.payload["Evaluation"]["JobModifyIndex"] == 0


def test_job_evaluate_is_an_alloc_desired_transition_write(demo, api):
    """nomad/job_endpoint.go Job.Evaluate: the evaluation rides an
    AllocUpdateDesiredTransitionRequestType write (events of type AllocationUpdateDesiredStatus);
    its JobModifyIndex, and the answer's, is the job's ModifyIndex."""
    job = api.get(f"/v1/job/{JOB}").json()
    r = api.post(f"/v1/job/{JOB}/evaluate")
    out = r.json()
    assert out["JobModifyIndex"] == job["ModifyIndex"] and r.headers["X-Nomad-Index"] == str(out["Index"])
    assert out["EvalCreateIndex"] == out["Index"]
    item = write_at(demo, out["Index"])
    (event,) = item.events
    assert item.type == "AllocationUpdateDesiredStatus"
    assert event.payload["Evaluation"]["ID"] == out["EvalID"]
    assert event.payload["Evaluation"]["JobModifyIndex"] == job["ModifyIndex"]


# --- the deployment watcher ----------------------------------------------------------------------


def unplaceable(api: httpx.Client) -> dict:
    """A new job whose group fits no node: its deployment starts, nothing is placed, and the
    group's RequireProgressBy stays unset."""
    job = parse(api, SEED_JOB_FILE.read_text())
    job["ID"] = job["Name"] = "too-big"
    job["TaskGroups"][0]["Tasks"][0]["Resources"]["CPU"] = 10**6
    return job


def test_pause_and_resume_reset_every_groups_progress_deadline(demo, api):
    """nomad/state/state_store.go updateDeploymentStatusImpl: a status update to paused or running
    sets RequireProgressBy to the update's time plus ProgressDeadline for every group with a
    progress deadline, whether the group had one yet or not (deployment_watcher.go
    PauseDeployment writes that update)."""
    register(api, unplaceable(api))
    demo.advance(1)
    d = api.get("/v1/job/too-big/deployment").json()
    (group,) = d["TaskGroups"].values()
    assert d["Status"] == "running" and group["RequireProgressBy"] is None and group["ProgressDeadline"] > 0
    for pause in (True, False):
        demo.advance(5)
        r = api.post(f"/v1/deployment/pause/{d['ID']}", json={"DeploymentID": d["ID"], "Pause": pause})
        r.raise_for_status()
        (group,) = api.get(f"/v1/deployment/{d['ID']}").json()["TaskGroups"].values()
        by = parse_rfc3339(group["RequireProgressBy"])
        assert by == pytest.approx(demo.cluster.clock.now() + group["ProgressDeadline"] / 1e9)


def test_a_running_unhealthy_allocation_is_let_be_replaced(demo, api):
    """nomad/deploymentwatcher/deployment_watcher.go handleAllocUpdate: an unhealthy allocation of
    an active deployment that need not fail it early (shouldFailEarly) goes to allowReplacements,
    failed or still running, and createBatchedUpdate writes DesiredTransition.Reschedule on it
    (allowRescheduleTransition) with the watcher's evaluation, once."""
    register(api, parse(api, (JOBS_DIR / "httpsbackend-tcp-sni-1-canary-fail.nomad").read_text()))
    demo.advance(1)
    demo.advance(60)  # healthy_deadline: the canary's checks never passed; it still runs
    canary = next(a for a in api.get(f"/v1/job/{JOB}/allocations").json() if a["JobVersion"] == 1)
    assert canary["DeploymentStatus"]["Healthy"] is False
    demo.advance(1)  # the watcher's batch period
    alloc = api.get(f"/v1/allocation/{canary['ID']}").json()
    assert alloc["DesiredTransition"]["Reschedule"] is True
    marked = [
        item
        for item in demo.cluster.store.events.items()
        if item.type == "AllocationUpdateDesiredStatus"
        and any(e.key == canary["ID"] and e.topic == "Allocation" for e in item.events or ())
    ]
    assert len(marked) == 1


def test_an_empty_set_health_request_is_refused(demo, api):
    """nomad/deployment_endpoint.go Deployment.SetAllocHealth: "must specify at least one
    healthy/unhealthy allocation ID", a plain error (500), before the deployment is looked up."""
    d = api.get(f"/v1/job/{JOB}/deployment").json()
    for dep_id in (d["ID"], "00000000-0000-0000-0000-000000000000"):
        body = {"DeploymentID": dep_id, "HealthyAllocationIDs": [], "UnhealthyAllocationIDs": None}
        r = api.post(f"/v1/deployment/allocation-health/{dep_id}", json=body)
        assert (r.status_code, r.text) == (500, "must specify at least one healthy/unhealthy allocation ID")


def fresh_auto_revert_job(api: httpx.Client, job_id: str) -> dict:
    """A new job with auto_revert and no stable version yet (its first deployment runs)."""
    job = parse(api, (JOBS_DIR / "httpsbackend-tcp-sni-1-canary-fail.nomad").read_text())
    job["ID"] = job["Name"] = job_id
    return job


def test_only_fail_and_the_watch_loop_say_there_is_no_stable_version(demo, api):
    """nomad/deploymentwatcher/deployment_watcher.go: FailDeployment (and the watch loop's failure)
    append DeploymentStatusDescriptionNoRollbackTarget when latestStableJob finds none;
    setAllocHealth does not."""
    for job_id in ("by-health", "by-fail"):
        register(api, fresh_auto_revert_job(api, job_id))
    demo.advance(1)
    d = api.get("/v1/job/by-health/deployment").json()
    alloc = api.get("/v1/job/by-health/allocations").json()[0]
    body = {"DeploymentID": d["ID"], "UnhealthyAllocationIDs": [alloc["ID"]]}
    out = api.post(f"/v1/deployment/allocation-health/{d['ID']}", json=body).json()
    assert out["RevertedJobVersion"] is None
    assert api.get(f"/v1/deployment/{d['ID']}").json()["StatusDescription"] == "Failed due to unhealthy allocations"
    d = api.get("/v1/job/by-fail/deployment").json()
    api.post(f"/v1/deployment/fail/{d['ID']}").raise_for_status()
    assert (
        api.get(f"/v1/deployment/{d['ID']}").json()["StatusDescription"]
        == "Deployment marked as failed - no stable job version to auto revert to"
    )


def test_watcher_evaluations_carry_no_job_modify_index(demo, api):
    """nomad/deploymentwatcher/deployment_watcher.go getEval: the deployment's EvalPriority, no
    JobModifyIndex (the FSM sets it only on the evaluations of job registrations)."""
    register(api, parse(api, (JOBS_DIR / "httpsbackend-tcp-sni-1-rolling-update.nomad").read_text()))
    for _ in range(60):
        demo.advance(1)
    evals = api.get(f"/v1/job/{JOB}/evaluations").json()
    watcher = [e for e in evals if e["TriggeredBy"] == "deployment-watcher"]
    assert watcher and {e["JobModifyIndex"] for e in watcher} == {0}
    deployments = {d["ID"]: d for d in api.get(f"/v1/job/{JOB}/deployments").json()}
    assert all(e["Priority"] == deployments[e["DeploymentID"]]["EvalPriority"] for e in watcher)
    registered = [e for e in evals if e["TriggeredBy"] == "job-register"]
    assert registered and all(e["JobModifyIndex"] > 0 for e in registered)


# --- versions and struct fields ----------------------------------------------------------------------


def test_a_diff_base_counts_only_with_diffs(demo, api):
    """command/agent/job_endpoint.go jobVersions and nomad/job_endpoint.go Job.GetJobVersions:
    diff_version (or diff_tag) picks the base only `if args.Diffs`; without diffs=true there are
    no diffs at all."""
    register(api, parse(api, SEED_JOB_FILE.read_text().replace("v1.0.0", "v1.0.1")))
    demo.advance(0)
    assert api.get(f"/v1/job/{JOB}/versions", params={"diff_version": "0"}).json()["Diffs"] is None
    assert api.get(f"/v1/job/{JOB}/versions", params={"diff_version": "99"}).status_code == 200
    diffs = api.get(f"/v1/job/{JOB}/versions", params={"diffs": "true", "diff_version": "0"}).json()["Diffs"]
    assert len(diffs) == 2 and diffs[0]["Type"] == "Edited" and diffs[1]["Type"] == "None"


def test_struct_fields_are_nomads(demo, api):
    """nomad/structs/structs.go TaskState (TaskHandle is commented out: absent), nomad/structs/alloc.go
    AllocMetric (NodePool, the job's, set by generic_sched.go computePlacements) and
    nomad/structs/eval.go Evaluation (PlanAnnotations, set by scheduler/util.go setStatus to the
    reconciler's DesiredTGUpdates; MissingNonNodeResources)."""
    (alloc_stub, *_) = api.get(f"/v1/job/{JOB}/allocations").json()
    alloc = api.get(f"/v1/allocation/{alloc_stub['ID']}").json()
    for state in alloc["TaskStates"].values():
        assert "TaskHandle" not in state
    assert list(alloc["Metrics"])[2:4] == ["NodesInPool", "NodePool"] and alloc["Metrics"]["NodePool"] == "default"
    ev = api.get(f"/v1/evaluation/{alloc['EvalID']}").json()
    assert ev["Status"] == "complete" and "MissingNonNodeResources" in ev
    assert ev["PlanAnnotations"] == {
        "DesiredTGUpdates": {JOB: ev["PlanAnnotations"]["DesiredTGUpdates"][JOB]},
        "PreemptedAllocs": None,
    }
    assert ev["PlanAnnotations"]["DesiredTGUpdates"][JOB]["Place"] == 3
    register(api, unplaceable(api))
    demo.advance(1)
    evals = api.get("/v1/job/too-big/evaluations").json()
    failed = [e for e in evals if e["FailedTGAllocs"]]
    assert failed and all(m["NodePool"] == "default" for e in failed for m in e["FailedTGAllocs"].values())
    (blocked,) = [e for e in evals if e["Status"] == "blocked"]
    assert blocked["PlanAnnotations"] is None  # no scheduler has processed it


def test_write_answers_do_not_claim_a_known_leader(demo):
    """Job.Register and Job.Deregister (nomad/job_endpoint.go) fill only the reply's Index of its
    QueryMeta; KnownLeader is set by setQueryMeta for reads (the wire sample of POST /v1/jobs)."""
    hcl = (JOBS_DIR / "httpsbackend-tcp-sni-1.nomad").read_text()
    job = http.post(f"{demo.nomad_url}/v1/jobs/parse", json={"JobHCL": hcl}).json()
    job["Meta"] = {"changed": "yes"}
    registered = http.post(f"{demo.nomad_url}/v1/jobs", json={"Job": job}).json()
    assert registered["KnownLeader"] is False and registered["EvalID"]
    stopped = http.delete(f"{demo.nomad_url}/v1/job/{job['ID']}").json()
    assert stopped["KnownLeader"] is False and stopped["EvalID"]
