"""Every action end to end against the demo cluster, and every refusal as a plain sentence with
nothing changed in the cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.responses import Response

from nomadtui.demo.clock import ManualClock
from nomadtui.demo.cluster import JOBS_DIR, Cluster
from nomadtui.demo.server import DemoServer
from nomadtui.model import Deployment
from nomadtui.nomad import errors
from nomadtui.nomad.actions import Actions, command_fail, command_pause, command_promote, command_revert, command_run
from nomadtui.nomad.errors import ClusterError
from nomadtui.settings import Secret, Settings
from tests.helpers import fingerprint, http

JOB = "httpsbackend-sni-1"


@pytest.fixture
def actions(demo) -> Actions:
    return Actions(Settings(address=demo.nomad_url), timeout=5)


def latest(demo) -> Deployment:
    return Deployment.from_api(http.get(f"{demo.nomad_url}/v1/job/{JOB}/deployment").json())


async def run_file(actions: Actions, name: str):
    job_file = await actions.parse_file(JOBS_DIR / name)
    plan = await actions.plan(job_file)
    return job_file, plan, await actions.register(job_file, plan)


async def test_parse_plan_register(actions, demo):
    job_file = await actions.parse_file(JOBS_DIR / "httpsbackend-tcp-sni-1-canary-1.nomad")
    assert job_file.job_id == JOB and job_file.format == "hcl2"
    plan = await actions.plan(job_file)
    assert [g.counts_text() for g in plan.groups] == ["1 canary, 3 ignore"]
    assert plan.job_modify_index == demo.cluster.store.jobs[("default", JOB)]["JobModifyIndex"]
    assert plan.diff["Type"] == "Edited" and plan.changes_allocations
    result = await actions.register(job_file, plan)
    assert result.job_version == 1 and result.eval_id and "version 1" in result.message
    stored = demo.cluster.store.submissions[("default", JOB, 1)]
    assert stored["Source"] == job_file.source and stored["Format"] == "hcl2"


async def test_json_job_files(actions, demo, tmp_path):
    api_job = http.post(
        f"{demo.nomad_url}/v1/jobs/parse",
        json={"JobHCL": (JOBS_DIR / "httpsbackend-tcp-sni-1-rolling-update.nomad").read_text()},
    ).json()
    path = tmp_path / "job.json"
    path.write_text(json.dumps({"Job": api_job}, indent=2))
    job_file = await actions.parse_file(path)
    assert job_file.format == "json" and job_file.job_id == JOB
    plan = await actions.plan(job_file)
    assert [g.counts_text() for g in plan.groups] == ["1 create/destroy update, 2 ignore"]
    broken = tmp_path / "broken.json"
    broken.write_text('{"Job": {"ID": "x",\n  "Type": }}')
    with pytest.raises(ClusterError) as e:
        await actions.parse_file(broken)
    assert e.value.kind == errors.INVALID and e.value.message.startswith("broken.json, line 2, column")


async def test_a_file_that_does_not_parse_names_line_and_column(actions, demo, tmp_path):
    path = tmp_path / "web.nomad"
    path.write_text((JOBS_DIR / "httpsbackend-tcp-sni-1.nomad").read_text().replace("count = 3", "count = = 3"))
    before = fingerprint(demo)
    with pytest.raises(ClusterError) as e:
        await actions.parse_file(path)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "= = 3" in text)
    assert e.value.kind == errors.INVALID and e.value.line == line and e.value.column
    assert e.value.message.startswith(f"web.nomad, line {line}, column ")
    assert fingerprint(demo) == before
    with pytest.raises(ClusterError) as e:
        await actions.parse_file(tmp_path / "missing.nomad")
    assert (
        e.value.message == f"{tmp_path / 'missing.nomad'} does not exist (any more): it was moved or deleted, "
        "or the path is mistyped."
    )


async def test_a_stale_plan_is_refused_and_nothing_changes(actions, demo):
    job_file = await actions.parse_file(JOBS_DIR / "httpsbackend-tcp-sni-1-canary-1.nomad")
    plan = await actions.plan(job_file)
    await run_file(actions, "httpsbackend-tcp-sni-1-rolling-update.nomad")  # someone else, meanwhile
    before = fingerprint(demo)
    with pytest.raises(ClusterError) as e:
        await actions.register(job_file, plan)
    assert e.value.kind == errors.STALE and "changed since you looked" in e.value.message
    assert fingerprint(demo) == before


async def test_promote_fail_pause_resume(actions, demo):
    await run_file(actions, "httpsbackend-tcp-sni-1-canary-1.nomad")
    demo.advance(1)
    d = latest(demo)
    before = fingerprint(demo)
    with pytest.raises(ClusterError) as e:
        await actions.promote(d)
    assert e.value.kind == errors.REFUSED
    assert (
        e.value.message
        == "Nomad refused to promote deployment "
        + d.id[:8]
        + ': Task group "httpsbackend-sni-1" has 0/1 healthy allocations'
    )
    assert fingerprint(demo) == before
    demo.advance(31)
    result = await actions.promote(latest(demo), groups=[JOB])
    assert result.eval_id and "httpsbackend-sni-1" in result.message
    demo.advance(0)
    assert latest(demo).groups[JOB].promoted

    paused = await actions.pause(latest(demo), True)
    assert paused.message.endswith("paused.") and latest(demo).status == "paused"
    resumed = await actions.pause(latest(demo), False)
    assert resumed.message.endswith("resumed.") and latest(demo).status == "running"
    failed = await actions.fail(latest(demo))
    assert failed.message == f"Deployment {d.id[:8]} marked as failed." and failed.job_version is None
    with pytest.raises(ClusterError) as e:
        await actions.fail(latest(demo))
    assert e.value.message.endswith("can't fail terminal deployment")


async def test_fail_with_auto_revert_reports_the_version(actions, demo):
    await run_file(actions, "httpsbackend-tcp-sni-1-canary-fail.nomad")
    demo.advance(1)
    result = await actions.fail(latest(demo))
    # RevertedJobVersion is the version rolled back to (0); Nomad writes it again as version 2.
    assert result.job_version == 0
    assert result.message.endswith("Auto-reverted to job version 0 (written as a new version).")


async def test_versions_and_revert(actions, demo):
    await run_file(actions, "httpsbackend-tcp-sni-1-rolling-update.nomad")
    versions = await actions.versions(JOB)
    assert [v.version for v in versions] == [1, 0]
    assert versions[0].images == ("bigwhite/httpsbackendservice:v1.0.1",) and versions[0].diff["Type"] == "Edited"
    before = fingerprint(demo)
    with pytest.raises(ClusterError) as e:
        await actions.revert(JOB, 0, prior_version=0)  # the job moved on to version 1
    assert e.value.kind == errors.STALE and "Current job has version 1; enforcing version 0" in e.value.message
    assert fingerprint(demo) == before
    result = await actions.revert(JOB, 0, prior_version=1)
    assert result.job_version == 2 and result.message == f"Reverted job {JOB} to version 0 (now version 2)."


async def test_missing_objects_and_denied_tokens(actions, demo):
    with pytest.raises(ClusterError) as e:
        await actions.versions("no-such-job")
    assert (
        e.value.kind == errors.NOT_FOUND
        and "job 'no-such-job' does not exist in namespace 'default'" in e.value.message
    )
    with DemoServer(Cluster(ManualClock(), seed=2), acl_tokens={"ro": "read"}) as secured:
        reader = Actions(Settings(address=secured.nomad_url, token=Secret("ro")))
        job_file = await reader.parse_file(JOBS_DIR / "httpsbackend-tcp-sni-1-canary-1.nomad")
        with pytest.raises(ClusterError) as e:
            await reader.plan(job_file)
        assert e.value.kind == errors.DENIED
        assert e.value.message == (
            "Permission denied: cannot plan job 'httpsbackend-sni-1'. The token needs the "
            "'submit-job' capability in namespace 'default'."
        )
        stranger = Actions(Settings(address=secured.nomad_url, token=Secret("who-knows")))
        with pytest.raises(ClusterError) as e:
            await stranger.versions(JOB)
        assert e.value.message.startswith("Nomad does not know this token")
        assert "who-knows" not in e.value.message


async def test_an_unreachable_cluster(tmp_path):
    dead = Actions(Settings(address="http://127.0.0.1:9"), timeout=2)
    with pytest.raises(ClusterError) as e:
        await dead.versions(JOB)
    assert e.value.kind == errors.UNREACHABLE
    assert e.value.message == "Cannot reach Nomad at http://127.0.0.1:9: connection refused."


def test_equivalent_commands():
    local = Settings()
    remote = Settings(address="https://nomad.prod:4646", namespace="apps", region="eu", token=Secret("x"))
    from nomadtui.nomad.actions import JobFile

    job_file = JobFile(Path("jobs/web app.nomad"), "", "hcl2", {"ID": "web"})
    d = Deployment("0b23b149-1c2d-4e5f-8a9b-0c1d2e3f4a5b", job_id="web", namespace="apps")
    assert command_run(local, job_file, 42) == "nomad job run -check-index=42 'jobs/web app.nomad'"
    assert command_run(remote, job_file, 42) == (
        "nomad job run -address=https://nomad.prod:4646 -namespace=apps -region=eu -check-index=42 'jobs/web app.nomad'"
    )
    assert command_promote(local, d) == f"nomad deployment promote -namespace=apps {d.id}"
    assert command_promote(local, d, ["web"]) == f"nomad deployment promote -namespace=apps -group=web {d.id}"
    assert command_fail(local, d) == f"nomad deployment fail -namespace=apps {d.id}"
    assert command_pause(local, d, False) == f"nomad deployment resume -namespace=apps {d.id}"
    assert command_revert(remote, "web", 3) == (
        "nomad job revert -address=https://nomad.prod:4646 -namespace=apps -region=eu web 3"
    )
    assert "x" not in command_run(remote, job_file, 1).split()


async def test_commands_never_reuse_an_idle_connection(scripted):
    # A server closes idle kept-alive connections on its own schedule; a POST sent on one it is
    # closing at that moment fails ("Remote end closed connection without response"). Seen in
    # the tour; commands therefore always ask for a fresh connection.
    seen: list[str] = []

    async def app(scope, receive, send):
        seen.append(dict(scope["headers"]).get(b"connection", b"").decode())
        await Response(b'{"Versions": [], "Diffs": null}', media_type="application/json")(scope, receive, send)

    with scripted(app) as server:
        actions = Actions(Settings(address=server.url), timeout=5)
        await actions.versions(JOB)
        await actions.versions(JOB)
    assert seen == ["close", "close"]
