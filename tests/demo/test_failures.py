"""What the article leaves to the reader: failing canaries, auto-revert, progress deadlines,
fail / pause / resume, and every refused request answered as Nomad answers it."""

from __future__ import annotations

import nomad
import pytest
from nomad.api import exceptions

from nomadtui.demo.cluster import JOBS_DIR
from tests.helpers import fingerprint, http

JOB = "httpsbackend-sni-1"


@pytest.fixture
def n(demo):
    return nomad.Nomad(address=demo.nomad_url, timeout=10)


def source(name: str) -> str:
    return (JOBS_DIR / name).read_text()


def run_source(n, text: str) -> dict:
    return n.jobs.register_job({"Job": n.jobs.parse(text)})


def latest(n) -> dict:
    return n.job.get_deployment(JOB)


def group(d: dict) -> dict:
    return d["TaskGroups"][JOB]


def settle(demo, n, limit: float = 900) -> dict:
    demo.advance(0)  # an API call returns before its evaluation runs, as in Nomad
    waited = 0.0
    while latest(n)["Status"] in ("running", "paused") and waited < limit:
        demo.advance(1)
        waited += 1
    return latest(n)


def error_text(e: exceptions.BaseNomadException) -> tuple[int, str]:
    return e.nomad_resp.status_code, e.nomad_resp.text


def test_failing_canary_auto_reverts(demo, n):
    run_source(n, source("httpsbackend-tcp-sni-1-canary-fail.nomad"))
    demo.advance(1)
    d = latest(n)
    assert d["JobVersion"] == 1
    assert d["StatusDescription"] == "Deployment is running but requires manual promotion"
    demo.advance(60)  # healthy_deadline 1m: the canary's checks never passed
    g = group(latest(n))
    assert (g["HealthyAllocs"], g["UnhealthyAllocs"]) == (0, 1)
    canary = next(a for a in n.job.get_allocations(JOB) if a["JobVersion"] == 1)
    assert canary["DeploymentStatus"]["Healthy"] is False
    assert canary["ClientStatus"] == "running"
    # The unhealthy canary takes no traffic: its checks fail, so Fabio never routes to it.
    rows = http.get(f"{demo.fabio_url}/api/routes").json()
    assert len(rows) == 3

    demo.advance(61)  # progress_deadline 2m from the canary's placement
    failed = n.deployment.get_deployment(d["ID"])
    assert failed["Status"] == "failed"
    assert failed["StatusDescription"] == "Failed due to progress deadline - rolling back to job version 0"
    job = n.job.get_job(JOB)
    assert job["Version"] == 2
    demo.advance(1)
    canary = n.allocation.get_allocation(canary["ID"])
    assert canary["DesiredStatus"] == "stop"
    rollback = latest(n)
    assert rollback["JobVersion"] == 2 and rollback["ID"] != d["ID"]
    done = settle(demo, n)
    assert done["Status"] == "successful"
    running = [a for a in n.job.get_allocations(JOB) if a["DesiredStatus"] == "run"]
    assert len(running) == 3 and {a["JobVersion"] for a in running} == {2}
    # The old allocations were updated in place: still the original three.
    assert {a["CreateIndex"] for a in running} == {a["CreateIndex"] for a in running if a["JobVersion"] == 2}
    assert n.job.get_job(JOB)["Stable"] is True


def test_progress_deadline_without_auto_revert(demo, n):
    text = source("httpsbackend-tcp-sni-1-canary-fail.nomad").replace("      auto_revert       = true\n", "")
    run_source(n, text)
    demo.advance(125)
    d = latest(n)
    assert d["Status"] == "failed" and d["StatusDescription"] == "Failed due to progress deadline"
    assert n.job.get_job(JOB)["Version"] == 1
    demo.advance(1)
    running = [a for a in n.job.get_allocations(JOB) if a["DesiredStatus"] == "run"]
    assert {a["JobVersion"] for a in running} == {0} and len(running) == 3


def test_crashing_allocations_are_rescheduled_until_the_deadline(demo, n):
    """A crashing task is restarted twice (restarts.go, RestartTracker.GetState), then its
    allocation has failed; the deployment watcher lets it be replaced (deployment_watcher.go,
    handleAllocUpdate) and the reconciler replaces it after the reschedule delay (filters.go,
    updateByReschedulable; generic_sched.go, UpdateRescheduleTracker)."""
    text = source("httpsbackend-tcp-sni-1-rolling-update.nomad").replace(
        'type        = "service"\n', 'type        = "service"\n\n  meta {\n    nomadtui_demo_fail = "crash"\n  }\n', 1
    )
    run_source(n, text)
    demo.advance(60)  # three runs of 5 s, two restart delays of 15 s and up to 25% jitter
    allocs = n.job.get_allocations(JOB)
    crashed = [a for a in allocs if a["ClientStatus"] == "failed"]
    assert len(crashed) == 1 and crashed[0]["ClientDescription"] == "Failed tasks"
    assert crashed[0]["TaskStates"][JOB]["Failed"] is True and crashed[0]["TaskStates"][JOB]["Restarts"] == 2
    assert group(latest(n))["UnhealthyAllocs"] == 1
    assert n.job.get_summary(JOB)["Summary"][JOB]["Failed"] == 1
    assert len([a for a in n.job.get_allocations(JOB) if a["JobVersion"] == 1]) == 1  # not replaced at once
    demo.advance(30)  # reschedule delay 30s
    replacement = [a for a in n.job.get_allocations(JOB) if a["JobVersion"] == 1 and a["ID"] != crashed[0]["ID"]]
    assert len(replacement) == 1
    full = n.allocation.get_allocation(replacement[0]["ID"])
    assert full["PreviousAllocation"] == crashed[0]["ID"]
    assert full["RescheduleTracker"]["Events"][0]["PrevAllocID"] == crashed[0]["ID"]
    d = settle(demo, n)
    assert d["Status"] == "failed" and d["StatusDescription"] == "Failed due to progress deadline"


def test_fail_pause_resume(demo, n):
    run_source(n, source("httpsbackend-tcp-sni-1-canary-1.nomad"))
    demo.advance(1)
    d = latest(n)
    paused = n.deployment.pause_deployment(d["ID"], True)
    assert paused["EvalID"] == ""
    d = latest(n)
    assert (d["Status"], d["StatusDescription"]) == ("paused", "Deployment is paused")
    demo.advance(400)  # a paused deployment never fails its deadline
    assert latest(n)["Status"] == "paused"
    resumed = n.deployment.pause_deployment(d["ID"], False)
    assert resumed["EvalID"]
    d = latest(n)
    assert (d["Status"], d["StatusDescription"]) == ("running", "Deployment is running")

    failed = n.deployment.fail_deployment(d["ID"])
    assert failed["RevertedJobVersion"] is None
    d = latest(n)
    assert (d["Status"], d["StatusDescription"]) == ("failed", "Deployment marked as failed")
    demo.advance(1)
    canary = next(a for a in n.job.get_allocations(JOB) if a["JobVersion"] == 1)
    assert canary["DesiredStatus"] == "stop"
    assert canary["DesiredDescription"] == "alloc not needed due to job update"


def test_manual_fail_with_auto_revert_reports_the_version(demo, n):
    run_source(n, source("httpsbackend-tcp-sni-1-canary-fail.nomad"))
    demo.advance(1)
    failing = latest(n)
    result = n.deployment.fail_deployment(failing["ID"])
    assert result["RevertedJobVersion"] == 0  # the version rolled back to, as Nomad reports it
    d = n.deployment.get_deployment(failing["ID"])
    assert d["StatusDescription"] == "Deployment marked as failed - rolling back to job version 0"
    assert n.job.get_job(JOB)["Version"] == 2


def test_auto_promote(demo, n):
    text = source("httpsbackend-tcp-sni-1-canary-1.nomad").replace(
        "      canary           = 1\n", "      canary           = 1\n      auto_promote     = true\n"
    )
    run_source(n, text)
    demo.advance(1)
    assert latest(n)["StatusDescription"] == "Deployment is running pending automatic promotion"
    d = settle(demo, n)
    assert d["Status"] == "successful" and group(d)["Promoted"] is True


def test_identical_register_makes_no_version(demo, n):
    before = n.job.get_job(JOB)
    result = run_source(n, source("httpsbackend-tcp-sni-1.nomad"))
    assert result["EvalID"]
    assert result["JobModifyIndex"] == before["ModifyIndex"]
    assert n.job.get_job(JOB)["Version"] == 0


def test_tag_change_is_an_in_place_update(demo, n):
    text = source("httpsbackend-tcp-sni-1.nomad").replace('proto=tcp+sni"]', 'proto=tcp+sni", "live"]')
    plan = n.job.plan_job(JOB, {"Job": n.jobs.parse(text)}, diff=True)
    assert plan["Diff"]["TaskGroups"][0]["Updates"] == {"in-place update": 3}
    ids = {a["ID"] for a in n.job.get_allocations(JOB)}
    run_source(n, text)
    d = settle(demo, n)
    assert d["Status"] == "successful" and group(d)["PlacedAllocs"] == 3
    allocs = n.job.get_allocations(JOB)
    assert {a["ID"] for a in allocs} == ids and {a["JobVersion"] for a in allocs} == {1}
    rows = http.get(f"{demo.fabio_url}/api/routes").json()
    assert all(r["tags"] == ["live"] for r in rows)


def test_plan_that_cannot_place(demo, n):
    text = source("httpsbackend-tcp-sni-1.nomad").replace("memory = 64", "memory = 100000")
    plan = n.job.plan_job(JOB, {"Job": n.jobs.parse(text)}, diff=True)
    failed = plan["FailedTGAllocs"][JOB]
    assert failed["NodesEvaluated"] == 3 and failed["DimensionExhausted"] == {"memory": 3}
    assert plan["CreatedEvals"][0]["Status"] == "blocked"
    text = source("httpsbackend-tcp-sni-1.nomad").replace('datacenters = ["dc1"]', 'datacenters = ["dc9"]')
    plan = n.job.plan_job(JOB, {"Job": n.jobs.parse(text)}, diff=True)
    assert plan["FailedTGAllocs"][JOB]["NodesEvaluated"] == 0


# --- refusals: Nomad's answers, nothing changed ----------------------------------------------------


def test_unknown_job_is_404(demo, n):
    with pytest.raises(exceptions.URLNotFoundNomadException) as e:
        n.job.get_job("nope")
    assert error_text(e.value) == (404, "job not found")
    assert n.job.get_allocations("nope") == []
    assert n.job.get_deployment("nope") is None


def test_promoting_unhealthy_canaries_is_refused(demo, n):
    run_source(n, source("httpsbackend-tcp-sni-1-canary-1.nomad"))
    demo.advance(1)
    d = latest(n)
    before = fingerprint(demo)
    with pytest.raises(exceptions.BaseNomadException) as e:
        n.deployment.promote_deployment_all(d["ID"])
    assert error_text(e.value) == (
        500,
        '1 error occurred:\n\t* Task group "httpsbackend-sni-1" has 0/1 healthy allocations\n\n',
    )
    assert fingerprint(demo) == before


def test_promoting_a_deployment_without_canaries_is_accepted(demo, n):
    """UpdateDeploymentPromotion (nomad/state/state_store.go) skips groups that need no canaries
    and marks them promoted: a rolling update can be promoted, and carries on."""
    run_source(n, source("httpsbackend-tcp-sni-1-rolling-update.nomad"))
    demo.advance(1)
    d = latest(n)
    assert d["Status"] == "running" and d["TaskGroups"][JOB]["DesiredCanaries"] == 0
    result = n.deployment.promote_deployment_all(d["ID"])
    assert result["EvalID"] and result["Index"]
    promoted = n.deployment.get_deployment(d["ID"])
    assert promoted["TaskGroups"][JOB]["Promoted"] is True and promoted["Status"] == "running"
    for _ in range(30):
        demo.advance(10)
        if latest(n)["Status"] != "running":
            break
    assert latest(n)["Status"] == "successful"


def test_terminal_deployment_actions_are_refused(demo, n):
    d = latest(n)
    before = fingerprint(demo)
    for call, text in [
        (lambda: n.deployment.promote_deployment_all(d["ID"]), "can't promote terminal deployment"),
        (lambda: n.deployment.fail_deployment(d["ID"]), "can't fail terminal deployment"),
        (lambda: n.deployment.pause_deployment(d["ID"], True), "can't pause terminal deployment"),
    ]:
        with pytest.raises(exceptions.BaseNomadException) as e:
            call()
        assert error_text(e.value) == (500, text)
    assert fingerprint(demo) == before


def test_bad_job_file_is_refused_with_line_and_column(demo, n):
    before = fingerprint(demo)
    broken = source("httpsbackend-tcp-sni-1.nomad").replace("count = 3", "count = = 3")
    with pytest.raises(exceptions.BadRequestNomadException) as e:
        n.jobs.parse(broken)
    status, text = error_text(e.value)
    line = next(i for i, text in enumerate(broken.splitlines(), 1) if "count = = 3" in text)
    assert status == 400 and text.startswith("Failed to parse job: ")
    assert f":{line}," in text
    assert fingerprint(demo) == before


def test_invalid_job_is_a_500_with_nomads_text(demo, n):
    job = n.jobs.parse(source("httpsbackend-tcp-sni-1.nomad"))
    job["TaskGroups"][0]["Count"] = -1
    before = fingerprint(demo)
    with pytest.raises(exceptions.BaseNomadException) as e:
        n.jobs.register_job({"Job": job})
    status, text = error_text(e.value)
    assert status == 500 and text.startswith("1 error occurred:\n\t* ")
    assert fingerprint(demo) == before


def test_stale_enforce_index_is_refused(demo, n):
    job = n.jobs.parse(source("httpsbackend-tcp-sni-1-rolling-update.nomad"))
    current = n.job.get_job(JOB)["JobModifyIndex"]
    before = fingerprint(demo)
    with pytest.raises(exceptions.BaseNomadException) as e:
        n.jobs.register_job({"Job": job, "EnforceIndex": True, "JobModifyIndex": current - 1})
    assert error_text(e.value) == (
        500,
        f"Enforcing job modify index {current - 1}: job exists with conflicting job modify index: {current}",
    )
    assert fingerprint(demo) == before
    ok = n.jobs.register_job({"Job": job, "EnforceIndex": True, "JobModifyIndex": current})
    assert ok["JobModifyIndex"] > current


def test_revert_refusals(demo, n):
    before = fingerprint(demo)
    with pytest.raises(exceptions.BaseNomadException) as e:
        n.job.revert_job(JOB, 0)
    assert error_text(e.value) == (500, "can't revert to current version")
    with pytest.raises(exceptions.BaseNomadException) as e:
        n.job.revert_job(JOB, 7)
    assert error_text(e.value) == (500, 'job "httpsbackend-sni-1" in namespace "default" at version 7 not found')
    with pytest.raises(exceptions.BaseNomadException) as e:
        n.job.revert_job(JOB, 0, enforce_prior_version=3)
    assert error_text(e.value) == (500, "Current job has version 0; enforcing version 3")
    assert fingerprint(demo) == before


def test_wrong_method_and_bad_query(demo):
    r = http.delete(f"{demo.nomad_url}/v1/jobs")
    assert (r.status_code, r.text) == (405, "Invalid method")
    r = http.get(f"{demo.nomad_url}/v1/jobs", params={"index": "x"})
    assert (r.status_code, r.text) == (400, "Invalid index")
    r = http.get(f"{demo.nomad_url}/v1/jobs", params={"index": "1", "wait": "soon"})
    assert (r.status_code, r.text) == (400, "Invalid wait time")
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
