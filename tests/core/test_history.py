"""The rollout history told from the cluster's own records: what a nomadtui opened after an
incident shows. States are read from the demo cluster over real HTTP (manual clock) as the client
reads them, or built from the wire fixtures; hand-made records cover what a demo run cannot force
(Nomad's own EvalID on an in-place update, garbage collection, a crashing task)."""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import replace

import httpx

from nomadtui.demo.server import DemoServer
from nomadtui.model import (
    Allocation,
    Deployment,
    Evaluation,
    GroupState,
    Job,
    JobVersion,
    TaskEvent,
    TaskState,
    sort_allocations,
    versions_from_api,
)
from nomadtui.nomad.live import LiveCluster
from nomadtui.settings import Settings
from nomadtui.state import JOB_WATCHES, ClusterState, WatchStatus
from nomadtui.timeline import Timeline, TimelineEvent
from nomadtui.wire import parse_rfc3339
from tests.core.test_timeline import Watched
from tests.core.test_timeline import watched as watched  # the fixture
from tests.helpers import http, register, roll_out, until

JOB = "httpsbackend-sni-1"
CANARY_FAIL = "httpsbackend-tcp-sni-1-canary-fail.nomad"
NEVER = float("nan")  # a clock that must not be read: history carries the cluster's own times


def read_state(demo: DemoServer, job: str = JOB) -> ClusterState:
    """The job's lists as nomadtui reads them (the answers its watches ask for), parsed as it parses them."""
    base = f"{demo.nomad_url}/v1/job/{job}"

    def get(path: str, **params: str):
        return http.get(base + path, params=params).json()

    return ClusterState(
        focus=("default", job),
        versions=tuple(versions_from_api(get("/versions", diffs="true"))),
        job_deployments=tuple(
            sorted(map(Deployment.from_api, get("/deployments")), key=lambda d: d.create_index, reverse=True)
        ),
        allocations=tuple(sort_allocations(map(Allocation.from_api, get("/allocations")))),
        evaluations=tuple(
            sorted(map(Evaluation.from_api, get("/evaluations")), key=lambda e: e.create_index, reverse=True)
        ),
    )


def in_order(events: list[TimelineEvent], *wanted: tuple[str, str]) -> list[TimelineEvent]:
    """The events with these (kind, text), found one after another; fails if one is missing."""
    found, rest = [], iter(events)
    for kind, text in wanted:
        match = next((e for e in rest if e.kind == kind and e.text == text), None)
        assert match is not None, f"no {kind} {text!r} after {found[-1].text if found else 'the start'}"
        found.append(match)
    return found


def steps_once(events: list[TimelineEvent]) -> bool:
    return len({e.step for e in events}) == len(events)


# --- a nomadtui opened after the incident ------------------------------------------------------


def test_a_timeline_that_never_watched_tells_the_failed_canary_and_the_auto_revert(demo):
    roll_out(demo, CANARY_FAIL)
    state = read_state(demo)
    revert, failed, first = state.job_deployments
    assert (revert.job_version, failed.job_version, failed.status) == (2, 1, "failed")
    canary = next(a for a in state.allocations if a.job_version == 1)

    tl = Timeline(clock=lambda: NEVER)
    events = tl.latest_deployment_events(state)
    placed, unhealthy, failure, reverted, started, done = in_order(
        events,
        ("placed", f"allocation {canary.id[:8]} placed on {canary.node_id[:8]}, version 1, canary"),
        ("unhealthy", f"allocation {canary.id[:8]} unhealthy: Services not healthy by deadline: {JOB}"),
        ("failed", "deployment failed: Failed due to progress deadline - rolling back to job version 0"),
        ("auto-reverted", "auto-reverted to version 0 as version 2"),
        ("deployment", f"deployment {revert.id[:8]} started for version 2"),
        ("successful", "deployment successful"),
    )
    # Each at the time the records give it.
    assert placed.at == canary.create_time and unhealthy.at == canary.health_time
    assert failure.at == failed.modify_time and reverted.at == state.versions[0].submit_time
    assert started.at == revert.create_time and done.at == revert.modify_time
    assert not any(math.isnan(e.at) for e in events)  # the clock was never read
    assert [e.at for e in events] == sorted(e.at for e in events)
    assert steps_once(events)
    assert events[0].text.startswith("job registered: version 1 (image v1.0.0 → v1.0.5;")
    assert {placed.deployment_id, unhealthy.deployment_id, failure.deployment_id} == {failed.id}
    assert (started.deployment_id, done.deployment_id) == (revert.id, revert.id)

    # The canary's end: stopped on the failure's account, its task killed.
    stop = next(e for e in events if e.kind == "stopped")
    assert stop.text == f"allocation {canary.id[:8]} stopped: alloc not needed due to job update"
    assert stop.deployment_id == failed.id and failure.at <= stop.at
    killed = [e.text for e in events if e.kind == "task" and e.alloc_id == canary.id]
    assert killed[-1] == f"allocation {canary.id[:8]} task killed"
    # The revert updates the running allocations in place; they turn healthy for it.
    updated = [e for e in events if e.kind == "updated"]
    assert len(updated) == 3 and all(e.text.endswith("updated in place to version 2") for e in updated)
    assert {e.deployment_id for e in events if e.kind == "healthy"} == {revert.id}


def test_deployments_newest_first_and_a_revert_told_with_its_failure(demo):
    roll_out(demo, CANARY_FAIL)
    state = read_state(demo)
    revert, failed, first = state.job_deployments
    tl = Timeline(clock=lambda: NEVER)

    assert tl.deployments(state) == [revert, failed, first]
    assert tl.rollout(state, failed.id) == tl.rollout(state, revert.id) == [failed, revert]
    assert tl.rollout(state, first.id) == [first]
    together = tl.deployment_events(state, failed.id)
    assert together == tl.deployment_events(state, revert.id) == tl.latest_deployment_events(state)
    seed = tl.deployment_events(state, first.id)
    assert seed[0].text == "job registered: version 0" and seed[-1].text == "deployment successful"
    assert not set(seed) & set(together)
    assert tl.rollout(state, "no-such-deployment") == [] and tl.deployment_events(state, "no-such-deployment") == []

    # The whole history is those two rollouts.
    assert tl.observe(state) == []
    everything = tl.events("default", JOB)
    assert set(everything) == set(seed) | set(together) and steps_once(everything)

    # For the incident notes: both deployments, their descriptions and counters, then every step.
    text = tl.markdown(together, title="Rollout", deployments=tl.rollout(state, revert.id))
    lines = text.splitlines()
    assert lines[2] == (
        f"- deployment {failed.id[:8]} (job version 1) failed: Failed due to progress deadline - rolling back to "
        f"job version 0 · group {JOB}: 1 canary, 3 desired, 1 placed, 0 healthy, 1 unhealthy"
    )
    assert lines[3] == (
        f"- deployment {revert.id[:8]} (job version 2) successful: Deployment completed successfully"
        f" · group {JOB}: 3 desired, 3 placed, 3 healthy, 0 unhealthy"
    )
    assert lines[5] == "| time | +since start | step took | event |" and len(lines) == 7 + len(together)


def test_a_promotion_from_the_records(demo):
    roll_out(demo, "httpsbackend-tcp-sni-1-rolling-update.nomad", "httpsbackend-tcp-sni-1-canary-1.nomad")
    state = read_state(demo)
    d = state.latest_deployment
    events = Timeline(clock=lambda: NEVER).latest_deployment_events(state)
    canary = next(a for a in state.allocations if a.id in d.groups[JOB].placed_canaries)
    ready, promoted = in_order(
        events,
        ("canaries-healthy", "canaries healthy (1/1): ready to promote"),
        ("promoted", "deployment promoted"),
    )
    assert ready.at == canary.health_time
    # roll_out promotes at its next look, 10 s later: the promotion's evaluation says when.
    promotion = min(
        (e for e in state.evaluations if e.deployment_id == d.id and e.create_time > ready.at + 1),
        key=lambda e: e.create_index,
    )
    assert promoted.at == promotion.create_time
    after = [e.kind for e in events if e.at >= promoted.at]
    assert after[:3] == ["promoted", "evaluation", "placed"] and "stopped" in after
    assert events[-1].text == "deployment successful" and steps_once(events)


def test_the_canary_of_a_failed_deployment_is_told_stopped(demo):
    # Issue 11, finding 6: after `F`, the canary's stop comes after the failure and belongs to it.
    roll_out(demo, "httpsbackend-tcp-sni-1-rolling-update.nomad")
    register(demo, "httpsbackend-tcp-sni-1-canary-1.nomad")
    demo.advance(40)
    d = http.get(f"{demo.nomad_url}/v1/job/{JOB}/deployment").json()
    http.post(f"{demo.nomad_url}/v1/deployment/fail/{d['ID']}", json={"DeploymentID": d["ID"]}).raise_for_status()
    demo.advance(10)
    state = read_state(demo)
    events = Timeline(clock=lambda: NEVER).latest_deployment_events(state)
    canary = d["TaskGroups"][JOB]["PlacedCanaries"][0][:8]
    in_order(
        events,
        ("placed", f"allocation {canary} placed on {_node_of(state, canary)}, version 2, canary"),
        ("healthy", f"allocation {canary} healthy"),
        ("failed", "deployment failed: Deployment marked as failed"),
        ("stopped", f"allocation {canary} stopped: alloc not needed due to job update"),
        ("task", f"allocation {canary} task killed"),
    )
    assert events[-1].text == f"allocation {canary} task killed"


def _node_of(state: ClusterState, short: str) -> str:
    return next(a.node_id[:8] for a in state.allocations if a.id.startswith(short))


# --- merged with what is watched ---------------------------------------------------------------


async def test_what_is_watched_and_what_the_records_tell_is_one_story(watched: Watched):
    await watched.run(register, CANARY_FAIL)
    await watched.until_successful(2)
    state = watched.live.state
    merged = watched.timeline.latest_deployment_events(state)
    fresh = Timeline(clock=lambda: NEVER).latest_deployment_events(state)
    # Every step once; where it was seen happen, as it was seen (its observed time).
    assert steps_once(merged) and steps_once(fresh)
    observed = {e.step: e for e in watched.observed}
    assert all(e is observed[e.step] or e == observed[e.step] for e in merged if e.step in observed)
    # The records tell every step the watching saw, but Fabio's weights (they have no record).
    assert {e.step for e in merged if e.kind != "routes"} == {e.step for e in fresh}
    # Seen happen: the canary running when its client said so (ModifyTime); the records say when
    # its task started: one step, told once.
    (running,) = [e for e in merged if e.kind == "running"]
    (recorded,) = [e for e in fresh if e.kind == "running"]
    assert running.step == recorded.step and running in watched.observed


async def test_a_failed_deployment_s_canary_stop_is_seen_as_its_own(watched: Watched):
    await watched.run(register, "httpsbackend-tcp-sni-1-canary-1.nomad")
    await watched.advance(31)
    d = watched.live.state.latest_deployment
    assert d.canaries_healthy
    await asyncio.to_thread(
        httpx.post, f"{watched.demo.nomad_url}/v1/deployment/fail/{d.id}", json={"DeploymentID": d.id}
    )
    await watched.advance(0)
    await watched.advance(10)
    stop = next(e for e in watched.observed if e.kind == "stopped" and e.alloc_id in d.groups[JOB].placed_canaries)
    assert stop.deployment_id == d.id
    events = watched.timeline.latest_deployment_events(watched.live.state)
    assert stop in events and [e.kind for e in events].index("failed") < events.index(stop)


async def test_the_client_s_first_picture_is_enough(demo):
    # What the app has right after it starts: LiveCluster's state, nothing observed happening.
    roll_out(demo, CANARY_FAIL)
    live = LiveCluster(Settings(address=demo.nomad_url, fabio_address=demo.fabio_url), wait=30)
    timeline = Timeline(clock=demo.cluster.clock.now)
    observed: list[TimelineEvent] = []
    live.subscribe(lambda state, what: observed.extend(timeline.observe(state)))
    live.start()
    live.focus("default", JOB)
    try:
        await until(lambda: set(JOB_WATCHES) <= set(live.state.status) and len(live.state.job_deployments) == 3)
        # Five, and the watcher's batched evaluation that lets the unhealthy canary be replaced
        # (handleAllocUpdate's allowReplacements, deployment_watcher.go).
        await until(lambda: len(live.state.evaluations) == 6 and len(live.state.versions) == 3)
        events = timeline.latest_deployment_events(live.state)
        assert observed == []
        assert events == Timeline(clock=lambda: NEVER).latest_deployment_events(read_state(demo))
        assert [e.kind for e in events].count("failed") == 1 and events[-1].kind == "successful"
    finally:
        await live.close()


# --- hand-made records: what Nomad does that the demo does not, and what it forgets ------------

LOADED = {name: WatchStatus(name, True, None, 1.0) for name in JOB_WATCHES}


def _version(n: int, index: int, at: float) -> JobVersion:
    return JobVersion(n, True, at, index, index, (f"img:v{n}",), Job("web", version=n))


def _events(*pairs: tuple[str, float], **extra) -> tuple[TaskEvent, ...]:
    return tuple(TaskEvent(at, kind, **extra.get(kind, {})) for kind, at in pairs)


def _state(**changes) -> ClusterState:
    d1 = Deployment(
        "d1-0000000",
        "web",
        job_version=1,
        status="successful",
        groups={"web": GroupState("web", desired_total=1, placed=1, healthy=1)},
        create_index=21,
        modify_index=40,
        create_time=200.0,
        modify_time=260.0,
    )
    base = dict(
        focus=("default", "web"),
        status=LOADED,
        versions=(_version(1, 20, 200.0), _version(0, 2, 100.0)),
        job_deployments=(d1,),
    )
    return ClusterState(**{**base, **changes})


def test_an_in_place_update_is_told_when_its_evaluation_made_it():
    # Nomad's scheduler gives an allocation it updates in place the evaluation that did it.
    alloc = Allocation(
        "a1-0000000",
        job_id="web",
        job_version=1,
        eval_id="e2-0000000",
        desired_status="run",
        client_status="running",
        healthy=True,
        health_time=215.0,
        create_index=5,
        modify_index=30,
        create_time=101.0,
        modify_time=215.0,
        tasks=(TaskState("web", "running", False, 0, events=_events(("Received", 101.0), ("Started", 101.5))),),
    )
    e2 = Evaluation("e2-0000000", "web", "complete", triggered_by="job-register", deployment_id="d1-0000000")
    e2 = replace(e2, create_index=20, create_time=200.5, modify_time=200.6)
    events = Timeline().latest_deployment_events(_state(allocations=(alloc,), evaluations=(e2,)))
    assert [(e.kind, e.at, e.text) for e in events if e.alloc_id] == [
        ("updated", 200.5, "allocation a1-00000 updated in place to version 1"),
        ("healthy", 215.0, "allocation a1-00000 healthy"),
    ]
    records = _state(allocations=(alloc,), evaluations=(e2,), job_deployments=())
    everything = Timeline().latest_deployment_events(records)
    assert [(e.kind, e.text) for e in everything if e.alloc_id][:2] == [
        ("placed", "allocation a1-00000 placed on ?, version 0"),  # placed for version 0, not its version now
        ("running", "allocation a1-00000 running"),
    ]
    assert everything[1].at == 101.0 and everything[2].at == 101.5


def test_a_crashing_task_and_a_late_stop():
    crash = dict(
        Terminated={"exit_code": 1},
        Restarting={"message": "Restart within policy"},
        Killing={"message": "Sent interrupt. Waiting 5s before force killing"},
    )
    task = TaskState(
        "web",
        "dead",
        False,
        1,
        events=_events(
            ("Received", 203.0),  # three seconds after the placement: a slow client, a step of its own
            ("Started", 204.0),
            ("Terminated", 209.0),
            ("Restarting", 209.0),
            ("Started", 225.0),
            ("Killing", 240.0),
            ("Killed", 241.0),
            **crash,
        ),
    )
    sidecar = TaskState("log", "dead", False, 0, events=_events(("Started", 204.5), ("Killed", 241.0)))
    alloc = Allocation(
        "a2-0000000",
        job_id="web",
        job_version=1,
        node_id="n1-0000000",
        desired_status="stop",
        desired_description="alloc not needed due to job update",
        client_status="complete",
        create_index=25,
        modify_index=50,
        create_time=200.0,
        modify_time=300.0,  # the client's last word, long after the stop
        tasks=(task, sidecar),
    )
    events = Timeline().latest_deployment_events(_state(allocations=(alloc,)))
    assert [(e.at, e.kind, e.text.removeprefix("allocation a2-00000 ")) for e in events if e.alloc_id] == [
        (200.0, "placed", "placed on n1-00000, version 1"),
        (203.0, "task", "task web received by its client"),
        (204.5, "running", "running"),  # its last task's first start
        (209.0, "task", "task web exited with code 1"),
        (209.0, "task", "task web restarting: Restart within policy"),
        (225.0, "task", "task web started again"),
        (240.0, "stopped", "stopped: alloc not needed due to job update"),  # the first kill, not ModifyTime
        (240.0, "task", "task web being killed: Sent interrupt. Waiting 5s before force killing"),
        (241.0, "task", "task web killed"),
        (241.0, "task", "task log killed"),
    ]
    # Its life counts for its deployment; its stop (and the kills that follow) for whichever
    # deployment's span it falls in, as a stop is the doing of the rollout that replaces it.
    assert [e.deployment_id for e in events if e.alloc_id] == ["d1-0000000"] * 6 + [""] * 4


def test_an_evaluation_after_its_deployment_ended_is_not_part_of_it():
    # Nomad names the job's latest deployment on every evaluation, even one made long after.
    late = Evaluation(
        "e9-0000000", "web", "complete", triggered_by="node-update", deployment_id="d1-0000000", create_index=60
    )
    late = replace(late, create_time=900.0)
    watcher = replace(late, id="e8-0000000", triggered_by="deployment-watcher", create_index=41, create_time=260.0)
    state = _state(evaluations=(late, watcher))
    events = Timeline().latest_deployment_events(state)
    assert [e.text for e in events if e.kind == "evaluation"] == ["evaluation e8-00000 (deployment-watcher) complete"]
    tl = Timeline()
    assert tl.observe(replace(state, evaluations=())) == []
    seen = tl.observe(state)
    assert [(e.text, e.deployment_id) for e in seen] == [
        ("evaluation e8-00000 (deployment-watcher) complete", "d1-0000000"),
        ("evaluation e9-00000 (node-update) complete", ""),
    ]


def test_what_nomad_garbage_collects_stays_told():
    alloc = Allocation(
        "a3-0000000",
        job_id="web",
        job_version=1,
        desired_status="stop",
        client_status="complete",
        create_index=22,
        modify_index=45,
        create_time=200.0,
        modify_time=250.0,
    )
    tl = Timeline()
    tl.observe(_state(allocations=(alloc,)))
    before = tl.events("default", "web")
    assert [e.kind for e in before if e.alloc_id] == ["placed", "stopped"]
    # The allocation and then the deployment are collected: the steps stay.
    tl.observe(_state(allocations=()))
    tl.observe(_state(allocations=(), job_deployments=()))
    assert tl.events("default", "web") == before
    assert tl.latest_deployment_events(_state(allocations=(), job_deployments=())) == before[1:]
    assert [d.id for d in tl.deployments(_state(job_deployments=()))] == ["d1-0000000"]


def test_the_wire_fixtures(shared):
    fixtures = shared / "fixtures" / "nomad-api"
    allocations = [Allocation.from_api(a) for a in json.loads((fixtures / "get-v1-allocations.json").read_text())]
    older = [Allocation.from_api(a) for a in json.loads((fixtures / "get-v1-job-id-allocations.json").read_text())]
    versions = versions_from_api(json.loads((fixtures / "get-v1-job-id-versions.diffs-true.json").read_text()))
    state = ClusterState(
        focus=("default", "example"),
        versions=tuple(versions),
        allocations=tuple(sort_allocations([*allocations, *older])),
    )
    events = Timeline(clock=lambda: NEVER).latest_deployment_events(state)
    assert steps_once(events)
    a = allocations[0]
    assert [(e.kind, e.at) for e in events if e.alloc_id == a.id] == [
        ("placed", a.create_time),  # its client received it 5 ms later: the same step
        ("running", 1636017252.049956),  # the task's Started event
        ("healthy", parse_rfc3339("2021-11-04T10:14:22.054814+01:00")),  # DeploymentStatus.Timestamp
    ]
    old = older[0]
    assert [e.text for e in events if e.alloc_id == old.id] == [
        f"allocation {old.id[:8]} placed on {old.node_id[:8]}, version 0, rescheduled",
        f"allocation {old.id[:8]} running",
    ]
    registered = [e.text for e in events if e.kind == "registered"]
    assert registered == ["job registered: version 0", "job registered: version 1 (+Env[foo] bar)"]
