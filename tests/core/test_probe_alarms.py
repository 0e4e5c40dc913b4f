"""The probe's "no healthy allocation" finding speaks of outages, not of rollouts: a version with
weight on the route whose allocations Nomad is still judging (inside min_healthy_time plus a
check interval since they started) is settling, and so is one whose allocations an in-place
update kept (an auto-revert to a copy of the running version). Hand-built cluster states."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace

from nomadtui.model import Allocation, Job, JobVersion, Route, RouteTarget, TaskGroupSpec, TaskState
from nomadtui.probe import (
    Expectation,
    Finding,
    ProbeSnapshot,
    expectation_from,
    findings,
    settle_time,
)
from nomadtui.state import ClusterState, StreamStatus, WatchStatus
from tests.helpers import http, register, roll_out, until

JOB = "web"
HOST = "mysite-sni-1.com"
T0 = 1_767_225_600.0  # the cluster's clock
SETTLE = 40.0  # min_healthy_time 30 s + check interval 10 s

NOTHING_SEEN = ProbeSnapshot(0, 0, 0, 0, 0, 0, (), {}, None, 0.0, 5.0, 60.0)


@dataclass
class Alloc:
    """An allocation as a test states it: version, when it was created (index) and started,
    its health, and whether Fabio routes to it (with what weight)."""

    version: int
    created: int
    started: float
    healthy: bool | None = True
    weight: float = 1.0
    running: bool = True
    canary: bool = False


@dataclass
class Cluster:
    """Versions (number -> image tag and the index it was written at) and allocations."""

    versions: dict[int, tuple[str, int]]
    allocs: list[Alloc] = field(default_factory=list)

    def state(self, *, as_of: float | None = None) -> ClusterState:
        allocations, details, targets = [], {}, []
        for n, a in enumerate(self.allocs):
            alloc = Allocation(
                id=f"alloc-{n}",
                job_id=JOB,
                job_version=a.version,
                task_group=JOB,
                node_id="node-1",
                desired_status="run" if a.running else "stop",
                client_status="running" if a.running else "complete",
                healthy=a.healthy,
                canary=a.canary,
                create_index=a.created,
                create_time=a.started - 2,
                tasks=(TaskState(JOB, "running" if a.running else "dead", False, 0, started_at=a.started),),
                ports={"https": ("10.0.0.1", 20000 + n)},
            )
            allocations.append(alloc)
            details[alloc.id] = alloc
            if a.weight:
                targets.append(RouteTarget(JOB, f"tcp://10.0.0.1:{20000 + n}", a.weight))
        newest = max(self.versions)
        versions = tuple(
            JobVersion(v, True, None, index, index, (f"img:{tag}",), Job(JOB))
            for v, (tag, index) in sorted(self.versions.items(), reverse=True)
        )
        job = Job(
            JOB, version=newest, groups=(TaskGroupSpec(JOB, 3, (f"img:{self.versions[newest][0]}",), services=(JOB,)),)
        )
        return ClusterState(
            job=job,
            allocations=tuple(allocations),
            alloc_details=details,
            versions=versions,
            routes=(Route(f"{HOST}/", HOST, "/", "", tuple(targets)),),
            status={"job": WatchStatus("job", True, as_of=as_of)} if as_of is not None else {},
            events=StreamStatus(live=True),
        )


def alarms(state: ClusterState, **kwargs) -> list[Finding]:
    expectation = expectation_from(state, HOST, **kwargs)
    assert expectation is not None
    return [f for f in findings(NOTHING_SEEN, expectation) if f.kind == "no-healthy"]


def no_healthy(label: str, share: str) -> Finding:
    return Finding("no-healthy", label, f"{label}: {share} configured on {HOST}/ but no healthy allocation.")


# --- a rolling update ----------------------------------------------------------------------------


def rolling(started: float, healthy: bool | None = None) -> Cluster:
    """v0 (v1.0.0) written at 10, its three allocations healthy; v1 (v1.0.1) written at 100, its
    first allocation placed at 110, started at `started`, and in Fabio's table."""
    return Cluster(
        {0: ("v1.0.0", 10), 1: ("v1.0.1", 100)},
        [
            Alloc(1, 110, started, healthy),
            Alloc(0, 11, T0 - 600),
            Alloc(0, 12, T0 - 600),
            Alloc(0, 13, T0 - 600, running=False, weight=0),  # stopped for the new one
        ],
    )


def test_a_rolling_update_inside_min_healthy_time_is_no_outage():
    state = rolling(started=T0 - 5).state()
    expectation = expectation_from(state, HOST, now=T0, settle={0: SETTLE, 1: SETTLE})
    assert expectation is not None
    assert expectation.healthy == {"v1.0.0": 2} and expectation.settling == {"v1.0.1"}
    assert alarms(state, now=T0, settle={0: SETTLE, 1: SETTLE}) == []
    # Without the spec's timing, Nomad's own judgement bounds it: still undecided, still settling.
    assert alarms(state) == []


def test_the_alarm_speaks_after_min_healthy_time_plus_a_check_interval():
    state = rolling(started=T0 - 5).state()
    assert alarms(state, now=T0 - 5 + SETTLE - 0.1, settle={1: SETTLE}) == []
    assert alarms(state, now=T0 - 5 + SETTLE, settle={1: SETTLE}) == [no_healthy("v1.0.1", "33.3%")]


def test_an_allocation_nomad_judged_unhealthy_is_an_outage_at_once():
    state = rolling(started=T0 - 5, healthy=False).state()
    assert alarms(state, now=T0, settle={1: SETTLE}) == [no_healthy("v1.0.1", "33.3%")]
    assert alarms(state) == [no_healthy("v1.0.1", "33.3%")]


def test_a_healthy_new_version_is_quiet():
    assert alarms(rolling(started=T0 - 50, healthy=True).state(), now=T0, settle={1: SETTLE}) == []


# --- a canary ------------------------------------------------------------------------------------


def canary(started: float, healthy: bool | None = None) -> Cluster:
    return Cluster(
        {1: ("v1.0.1", 100), 2: ("v1.0.2", 200)},
        [Alloc(2, 210, started, healthy, canary=True)] + [Alloc(1, 110 + n, T0 - 900) for n in range(3)],
    )


def test_a_canary_settles_then_is_healthy_or_an_alarm():
    settle = {1: SETTLE, 2: SETTLE}
    assert alarms(canary(started=T0 - 1).state(), now=T0, settle=settle) == []
    assert alarms(canary(started=T0 - 30).state(), now=T0, settle=settle) == []
    assert alarms(canary(started=T0 - 30, healthy=True).state(), now=T0, settle=settle) == []
    assert alarms(canary(started=T0 - 41).state(), now=T0, settle=settle) == [no_healthy("v1.0.2", "25.0%")]


def test_now_is_the_clusters_latest_answer():
    state = canary(started=T0 - 41).state(as_of=T0)
    assert alarms(state, settle={2: SETTLE}) == [no_healthy("v1.0.2", "25.0%")]
    assert alarms(canary(started=T0 - 41).state(as_of=T0 - 2), settle={2: SETTLE}) == []


def test_a_version_without_a_bound_or_a_start_time_settles_until_nomad_decides():
    state = canary(started=T0 - 3600).state()
    assert alarms(state, now=T0, settle={1: SETTLE}) == []  # no timing for version 2
    assert alarms(state, now=T0) == []
    # Neither task start nor creation time known: how long it has had weight cannot be told.
    unknown = replace(state.allocations[0], tasks=(), create_time=None)
    state = replace(state, allocations=(unknown, *state.allocations[1:]))
    assert alarms(state, now=T0, settle={2: SETTLE}) == []


# --- an auto-revert's in-place update ------------------------------------------------------------


def auto_reverted(healthy: bool | None = None) -> Cluster:
    """v4 (v1.0.4) written at 400 and rolled out; v5 (a failed canary) at 500; v6, Nomad's
    auto-revert to a copy of v4, at 600: v4's allocations updated in place to v6, their health
    cleared for Nomad to judge again, serving all traffic."""
    return Cluster(
        {4: ("v1.0.4", 400), 5: ("v1.0.5", 500), 6: ("v1.0.4", 600)},
        [
            Alloc(5, 510, T0 - 200, healthy=False, running=False, weight=0, canary=True),
            *(Alloc(6, 410 + n, T0 - 900, healthy) for n in range(3)),
        ],
    )


def test_an_in_place_update_is_no_outage():
    state = auto_reverted().state()
    settle = {4: SETTLE, 5: SETTLE, 6: SETTLE}
    expectation = expectation_from(state, HOST, now=T0, settle=settle)
    assert expectation is not None
    assert expectation.configured == {"v1.0.4": 1.0} and expectation.settling == {"v1.0.4"}
    # Started 900 s ago, far beyond the bound: kept allocations are judged again, not new ones.
    assert alarms(state, now=T0, settle=settle) == []
    assert alarms(auto_reverted(healthy=True).state(), now=T0, settle=settle) == []
    # Nomad judging them unhealthy again is news.
    assert alarms(auto_reverted(healthy=False).state(), now=T0, settle=settle) == [no_healthy("v1.0.4", "100.0%")]


def test_a_destructive_update_of_an_old_allocation_is_not_in_place():
    # Placed after v6 was written (index 610 > 600): a new allocation, bound by the timing.
    cluster = Cluster({4: ("v1.0.4", 400), 6: ("v1.0.6", 600)}, [Alloc(6, 610, T0 - 900, None)])
    assert alarms(cluster.state(), now=T0, settle={6: SETTLE}) == [no_healthy("v1.0.6", "100.0%")]


# --- outages ---------------------------------------------------------------------------------------


def test_weight_on_a_version_with_nothing_running_is_an_outage():
    cluster = Cluster(
        {1: ("v1.0.1", 100), 2: ("v1.0.2", 200)},
        [Alloc(2, 210, T0 - 1, None, running=False), Alloc(1, 110, T0 - 900)],
    )
    assert alarms(cluster.state(), now=T0, settle={2: SETTLE}) == [no_healthy("v1.0.2", "50.0%")]
    assert alarms(cluster.state()) == [no_healthy("v1.0.2", "50.0%")]


def test_a_hand_built_expectation_without_settling_still_alarms():
    expectation = Expectation({"v1.0.2": 1.0}, {}, frozenset(), f"{HOST}/")
    assert [f.kind for f in findings(NOTHING_SEEN, expectation)] == ["no-healthy"]


# --- the timing, from a job version's spec ---------------------------------------------------------


def check(interval_s: float) -> dict:
    return {"Name": "alive", "Type": "tcp", "Interval": int(interval_s * 1e9)}


def test_settle_time_is_min_healthy_time_plus_the_longest_check_interval():
    group = {
        "Name": "web",
        "Update": {"MinHealthyTime": 30_000_000_000},
        "Services": [{"Name": "a", "Checks": [check(5)]}],
        "Tasks": [{"Name": "t", "Services": [{"Name": "b", "Checks": [check(10), check(2)]}]}],
    }
    assert settle_time({"TaskGroups": [group]}) == 40.0
    # The slowest group counts; a group without its own update block takes the job's.
    other = {"Name": "api", "Tasks": [{"Name": "t", "Services": [{"Name": "c", "Checks": [check(20)]}]}]}
    job = {"Update": {"MinHealthyTime": 25_000_000_000}, "TaskGroups": [group, other]}
    assert settle_time(job) == 45.0
    # No update block at all: Nomad's default min_healthy_time (10 s); no checks: no interval.
    assert settle_time({"TaskGroups": [{"Name": "x", "Tasks": [{"Name": "t"}]}]}) == 10.0
    # Whatever the answer holds instead, it never raises.
    assert settle_time({"TaskGroups": [None, "x", {"Update": "soon", "Services": {"a": 1}}]}) == 10.0
    assert settle_time({}) == 0.0


# --- against the demo cluster ------------------------------------------------------------------------

DEMO_JOB = "httpsbackend-sni-1"


def auto_revert_in_place(demo) -> None:
    """v1 (v1.0.1) rolled out; v2, a canary that never turns healthy; at its progress deadline
    Nomad writes v1 back as v3 and updates v1's allocations in place."""
    roll_out(demo, "httpsbackend-tcp-sni-1-rolling-update.nomad")
    register(demo, "httpsbackend-tcp-sni-1-canary-fail.nomad")
    waited = 0
    while http.get(f"{demo.nomad_url}/v1/job/{DEMO_JOB}").json()["Version"] != 3:
        assert waited < 900, "no auto-revert"
        demo.advance(5)
        waited += 5
    demo.advance(0.1)  # the in-place update's evaluation; health is judged again from now


def judged_again(state: ClusterState) -> bool:
    running = [a for a in state.allocations if a.running]
    routes = [t for r in state.job_routes() for t in r.targets]
    return (
        len(running) == 3
        and all(a.job_version == 3 and a.healthy is None for a in running)
        and len(routes) == 3
        and all(t.job_version == 3 for t in routes)
        and any(v.version == 3 for v in state.versions)
    )


async def test_an_auto_reverts_in_place_update_end_to_end(demo, live):
    await asyncio.to_thread(auto_revert_in_place, demo)
    await until(lambda: judged_again(live.state), timeout=10)
    body = http.get(f"{demo.nomad_url}/v1/job/{DEMO_JOB}/versions").json()
    settle = {v["Version"]: settle_time(v) for v in body["Versions"]}
    for expectation in (
        expectation_from(live.state, HOST),
        expectation_from(live.state, HOST, now=demo.cluster.clock.now(), settle=settle),
    ):
        assert expectation is not None
        assert expectation.configured == {"v1.0.1": 1.0} and expectation.healthy == {}
        assert expectation.settling == {"v1.0.1"}
        assert findings(NOTHING_SEEN, expectation) == []
    await asyncio.to_thread(demo.advance, 31)  # min_healthy_time: healthy again
    await until(lambda: (e := expectation_from(live.state, HOST)) is not None and e.healthy == {"v1.0.1": 3})


async def test_the_probe_panel_stays_quiet_through_an_auto_revert(demo):
    """Pilot: the probe panel of the app, probing the demo's listener, says nothing of an outage
    while the reverted version's allocations are judged again."""
    from nomadtui.demo.cluster import JOBS_DIR
    from nomadtui.harness.drive import driven, screen_text
    from nomadtui.probe import ProbeConfig
    from nomadtui.settings import Settings
    from nomadtui.ui.app import NomadApp

    await asyncio.to_thread(auto_revert_in_place, demo)
    app = NomadApp(
        Settings(address=demo.nomad_url, fabio_address=demo.fabio_url, jobs_dir=JOBS_DIR),
        clock=demo.cluster.clock.now,
        demo=True,
        probe=ProbeConfig(demo.lb_url + "/", host=HOST, rate=20),
    )
    async with driven(app, demo) as (w, pilot):
        await w.until(lambda: judged_again(app.live.state))
        await w.until(lambda: app.probe is not None and app.probe.snapshot().answered >= 10)
        await pilot.pause(0.6)  # the panel redraws with the probe's next update
        text = screen_text(app)
        assert "v1.0.1" in text and "100.0%" in text
        assert "no healthy allocation" not in text
