"""The rollout timeline: against the demo cluster over real HTTP (manual clock), and on
hand-made snapshots for the cases a demo run cannot force (watch order, focus switches).
What the records alone tell (a timeline that never watched) is in test_history.py."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, replace

import pytest

from nomadtui.demo.server import DemoServer
from nomadtui.model import Allocation, Deployment, GroupState, Job, JobVersion, routes_from_api
from nomadtui.nomad.live import LiveCluster
from nomadtui.settings import Settings
from nomadtui.state import JOB_WATCHES, ClusterState, WatchStatus
from nomadtui.timeline import MAX_EVENTS, Timeline, TimelineEvent, with_durations
from nomadtui.wire import format_time
from tests.helpers import http, register, until

JOB = "httpsbackend-sni-1"
ROUTE = "mysite-sni-1.com/"


# --- driving the demo cluster ----------------------------------------------------------------


def promote(demo: DemoServer, deployment_id: str) -> None:
    http.post(
        f"{demo.nomad_url}/v1/deployment/promote/{deployment_id}", json={"DeploymentID": deployment_id, "All": True}
    ).raise_for_status()
    demo.advance(0)


@dataclass
class Watched:
    demo: DemoServer
    live: LiveCluster
    timeline: Timeline
    observed: list[TimelineEvent]

    def now(self) -> float:
        return self.demo.cluster.clock.now()

    def written(self) -> tuple[int, int]:
        """The index of the cluster's last write with events the client subscribes to, and the
        job's latest version."""

        def read() -> tuple[int, int]:
            store = self.demo.cluster.store
            topics = {"Job", "Deployment", "Allocation", "Evaluation"}
            last = max(
                (item.index for item in store.events.items() if any(e.topic in topics for e in item.events or [])),
                default=0,
            )
            return last, max(v["Version"] for v in store.versions[("default", JOB)])

        return self.demo.call(read)

    async def catch_up(self) -> None:
        """Wait until the event stream has delivered every write and the reads it asked for have
        answered, and Fabio's current table is observed with each target tied to its allocation."""
        index, version = self.written()
        await until(lambda: self.live.stream_index >= index)
        await until(lambda: bool(self.live.state.versions) and self.live.state.versions[0].version == version)
        table = tuple(routes_from_api(http.get(f"{self.demo.fabio_url}/api/routes").json()))
        await until(
            lambda: (
                self.live.state.routes == table
                and all(t.job_version is not None for r in self.live.state.job_routes() for t in r.targets)
            )
        )

    async def advance(self, seconds: float) -> None:
        await asyncio.to_thread(self.demo.advance, seconds)
        await self.catch_up()

    async def run(self, fn, *args) -> None:
        await asyncio.to_thread(fn, self.demo, *args)
        await self.catch_up()

    async def until_successful(self, version: int) -> Deployment:
        """Advance from one cluster timer to the next, so every step is seen on its own."""
        for _ in range(100):
            d = self.live.state.latest_deployment
            if d.job_version == version and d.status == "successful":
                return d
            due = self.demo.call(self.demo.cluster.next_due)
            await self.advance(min(31.0, max(0.0, due - self.now())) if due is not None else 1.0)
        raise AssertionError("the deployment did not finish")

    def deployment_events(self, version: int) -> tuple[Deployment, list[TimelineEvent]]:
        d = next(d for d in self.live.state.job_deployments if d.job_version == version)
        return d, self.timeline.events("default", JOB, d.id)


@pytest.fixture
async def watched(demo):
    live = LiveCluster(Settings(address=demo.nomad_url, fabio_address=demo.fabio_url), wait=30)
    timeline = Timeline(clock=demo.cluster.clock.now)
    observed: list[TimelineEvent] = []
    live.subscribe(lambda state, what: observed.extend(timeline.observe(state)))
    live.start()
    live.focus("default", JOB)
    fabio = live.watches["fabio"]
    fabio.fast = fabio.slow = 0.05
    await until(
        lambda: set(JOB_WATCHES) <= set(live.state.status) and "fabio" in live.state.status and live.state.events.live
    )
    w = Watched(demo, live, timeline, observed)
    await w.catch_up()
    yield w
    await live.close()


def kinds(events: list[TimelineEvent], *wanted: str) -> list[str]:
    return [e.kind for e in events if e.kind in wanted]


def one(events: list[TimelineEvent], kind: str, alloc_id: str) -> TimelineEvent:
    (found,) = [e for e in events if e.kind == kind and e.alloc_id == alloc_id]
    return found


# --- against the demo cluster ----------------------------------------------------------------


async def test_the_first_observation_does_not_flood_and_the_records_tell_the_past(watched):
    # Three running allocations, a successful deployment, versions, evaluations and a route
    # were there before: nothing is observed happening...
    assert watched.observed == []
    assert watched.timeline.observe(watched.live.state) == []
    fresh = Timeline(clock=watched.now)
    assert fresh.observe(watched.live.state) == [] and fresh.observe(watched.live.state) == []
    # ...but the records say how it came to be, each step once.
    told = watched.timeline.events("default", JOB)
    assert kinds(told, "registered", "deployment", "placed", "running", "healthy", "successful") == [
        "registered",
        "deployment",
        *["placed"] * 3,
        *["running"] * 3,
        *["healthy"] * 3,
        "successful",
    ]
    assert len({e.step for e in told}) == len(told)
    assert fresh.events("default", JOB) == told
    assert watched.timeline.latest_deployment_events(watched.live.state) == told


async def test_a_rolling_update_step_by_step(watched):
    registered_at = watched.now()
    await watched.run(register, "httpsbackend-tcp-sni-1-rolling-update.nomad")
    await watched.until_successful(1)
    d, events = watched.deployment_events(1)

    main = kinds(events, "registered", "evaluation", "deployment", "stopped", "placed", "healthy", "successful")
    assert main[:3] == ["registered", "evaluation", "deployment"]
    steps = [k for k in main[3:] if k != "evaluation"]
    assert steps == ["stopped", "placed", "healthy"] * 3 + ["successful"]
    assert events[0].text == "job registered: version 1 (image v1.0.0 → v1.0.1; MinHealthyTime 10s → 30s)"
    assert events[0].at == registered_at  # the cluster's own (manual) clock
    assert events[1].text.startswith("evaluation ") and events[1].text.endswith(" (job-register) complete")
    assert events[2].text == f"deployment {d.id[:8]} started for version 1" and events[2].deployment_id == d.id
    assert events[-1].text == "deployment successful" and events[-1].at == d.modify_time

    stopped = [e for e in events if e.kind == "stopped"]
    assert all(e.text.endswith("stopped: alloc is being updated due to job update") for e in stopped)
    placed = [e for e in events if e.kind == "placed"]
    assert len(placed) == 3
    assert all(re.fullmatch(r"allocation [0-9a-f]{8} placed on [0-9a-f]{8}, version 1", e.text) for e in placed)
    for p in placed:
        # min_healthy_time is 30 s of cluster time, counted once the tasks run (0.5 s after placement).
        running, healthy = one(events, "running", p.alloc_id), one(events, "healthy", p.alloc_id)
        assert p.at < running.at < healthy.at
        assert 30 <= healthy.at - p.at <= 31
        assert healthy.text == f"allocation {p.alloc_id[:8]} healthy"
    # Each replacement starts once the previous one is healthy.
    for before, after in zip(placed, placed[1:]):
        assert after.at >= one(events, "healthy", before.alloc_id).at

    routes = [e.text for e in events if e.kind == "routes"]
    assert routes[0] == f"route {ROUTE}: v1.0.0 67% · v1.0.1 33%"
    assert routes[-1] == f"route {ROUTE}: v1.0.1 100%"
    assert [e.at for e in events] == sorted(e.at for e in events)
    assert watched.timeline.latest_deployment_events(watched.live.state) == events
    # observe() returned every step it saw; the records added what a list stub does not show
    # changing (the old allocations' tasks being killed), and no step twice.
    recorded = [e for e in events if e not in watched.observed]
    assert [e.text.split(" ", 2)[2] for e in recorded if e.alloc_id == stopped[0].alloc_id] == [
        "task being killed: Sent interrupt. Waiting 5s before force killing",
        "task exited with code 0",
        "task killed",
    ]
    assert {e.kind for e in recorded} == {"task"} and len(recorded) == 9
    assert len({e.step for e in events}) == len(events)


async def test_a_canary_promotion(watched):
    await watched.run(register, "httpsbackend-tcp-sni-1-rolling-update.nomad")
    rolling = await watched.until_successful(1)
    # Registered at the very instant the rolling update finished: the windows still split.
    await watched.run(register, "httpsbackend-tcp-sni-1-canary-1.nomad")
    # Fabio's weights carry the time they are observed: look once the canary's check passed
    # (10 s after it started: Fabio routes only instances whose check passes), before 31 s.
    await watched.advance(11)
    await watched.advance(20)
    d = watched.live.state.latest_deployment
    assert d.job_version == 2 and d.canaries_healthy
    await watched.run(promote, d.id)
    await watched.until_successful(2)
    d, events = watched.deployment_events(2)

    assert events[0].kind == "registered"
    assert events[0].text == "job registered: version 2 (image v1.0.1 → v1.0.2; Canary 0 → 1)"
    flow = kinds(events, "placed", "healthy", "canaries-healthy", "promoted", "stopped", "successful")
    assert flow[:4] == ["placed", "healthy", "canaries-healthy", "promoted"]
    assert flow[4:7] == ["stopped", "stopped", "placed"] and flow[-1] == "successful"
    canary = next(e for e in events if e.kind == "placed")
    assert canary.text.endswith(", version 2, canary")
    assert 30 <= one(events, "healthy", canary.alloc_id).at - canary.at <= 31
    ready = next(e for e in events if e.kind == "canaries-healthy")
    assert ready.text == "canaries healthy (1/1): ready to promote"
    assert ready.at == one(events, "healthy", canary.alloc_id).at
    assert next(e for e in events if e.kind == "promoted").text == "deployment promoted"
    stops = [e.text.split(": ", 1)[1] for e in events if e.kind == "stopped"]
    assert stops[:2] == ["alloc not needed due to job update", "alloc is being updated due to job update"]
    weighted = next(e for e in events if e.kind == "routes")
    assert weighted.text == f"route {ROUTE}: v1.0.1 75% · v1.0.2 25%"
    assert canary.at < weighted.at < ready.at
    assert events[-1].text == "deployment successful"

    # The rolling update's own events end where it ended; neither deployment claims the other's.
    old = watched.timeline.events("default", JOB, rolling.id)
    assert old[-1].kind in ("successful", "routes") and not any("version 2" in e.text for e in old)
    assert not any(e.deployment_id == rolling.id for e in events)
    everything = watched.timeline.events("default", JOB)
    assert set(old) | set(events) <= set(everything)


async def test_auto_revert(watched):
    await watched.run(register, "httpsbackend-tcp-sni-1-rolling-update.nomad")
    await watched.until_successful(1)
    await watched.advance(1)
    await watched.run(register, "httpsbackend-tcp-sni-1-canary-fail.nomad")
    failing = watched.live.state.latest_deployment
    await watched.until_successful(3)
    events = watched.timeline.events("default", JOB, failing.id)
    flow = kinds(events, "registered", "placed", "unhealthy", "failed", "auto-reverted")
    assert flow == ["registered", "placed", "unhealthy", "failed", "auto-reverted"]
    assert next(e for e in events if e.kind == "failed").text == (
        "deployment failed: Failed due to progress deadline - rolling back to job version 1"
    )
    assert next(e for e in events if e.kind == "auto-reverted").text == "auto-reverted to version 1 as version 3"
    # The revert's deployment is told with the failure that wrote its version, whichever is asked for.
    state = watched.live.state
    revert = state.latest_deployment
    assert [d.id for d in watched.timeline.rollout(state, revert.id)] == [failing.id, revert.id]
    together = watched.timeline.latest_deployment_events(state)
    assert together == events == watched.timeline.deployment_events(state, failing.id)
    assert together[0].text.startswith("job registered: version 2") and together[-1].kind == "successful"
    assert kinds(together, "failed", "auto-reverted", "deployment", "successful") == [
        "deployment",
        "failed",
        "auto-reverted",
        "deployment",
        "successful",
    ]
    assert not any(e.kind == "registered" and "version 3" in e.text for e in watched.timeline.events("default", JOB))


async def test_markdown_for_the_incident_notes(watched):
    await watched.run(register, "httpsbackend-tcp-sni-1-rolling-update.nomad")
    await watched.until_successful(1)
    events = watched.timeline.latest_deployment_events(watched.live.state)
    text = watched.timeline.markdown(events, title="Rolling update to v1.0.1")
    lines = text.splitlines()
    assert lines[:4] == [
        "### Rolling update to v1.0.1",
        "",
        "| time | +since start | step took | event |",
        "|---|---|---|---|",
    ]
    rows = lines[4:]
    assert len(rows) == len(events)
    assert rows[0] == f"| {format_time(events[0].at)} | 0s |  | {events[0].text} |"
    healthy = [row for row in rows if row.endswith(" healthy |")]
    assert len(healthy) == 3 and all("| 30s |" in row for row in healthy)  # running -> healthy
    assert rows[-1].endswith("| deployment successful |") and "| 1m3" in rows[-1]


# --- on hand-made snapshots ------------------------------------------------------------------

LOADED = {name: WatchStatus(name, True, None, 1.0) for name in JOB_WATCHES}


def version(n: int, *, stable: bool = True, at: float = 0.0, index: int = 0) -> JobVersion:
    job = Job("web", version=n)
    return JobVersion(n, stable, at or 100.0 + n, index or n + 1, index or n + 1, (f"img:v{n}",), job)


def deployment(n: int, status: str = "running", *, index: int = 10, at: float = 110.0, **group) -> Deployment:
    groups = {"web": GroupState("web", auto_revert=True, desired_total=1, **group)}
    return Deployment(
        f"d{n}-0000000",
        "web",
        job_version=n,
        status=status,
        groups=groups,
        create_index=10 + n,
        modify_index=index,
        create_time=100.0 + n,
        modify_time=at,
    )


def snapshot(**changes) -> ClusterState:
    base = dict(
        focus=("default", "web"), status=LOADED, versions=(version(1), version(0)), job_deployments=(deployment(1),)
    )
    return ClusterState(**{**base, **changes})


def test_unchanged_snapshots_tell_nothing_new():
    tl = Timeline(clock=lambda: 500.0)
    first = snapshot()
    assert tl.observe(first) == []
    assert tl.observe(first) == []
    assert tl.observe(snapshot()) == []  # equal, not the same objects
    assert tl.observe(ClusterState()) == []  # no job in focus
    # What the records say happened before, once.
    assert [(e.kind, e.text) for e in tl.events("default", "web")] == [
        ("registered", "job registered: version 0"),
        ("registered", "job registered: version 1"),
        ("deployment", "deployment d1-00000 started for version 1"),
    ]


def test_a_kind_of_record_that_is_not_loaded_yet_is_not_a_baseline():
    tl = Timeline()
    assert tl.observe(snapshot(status={}, versions=(), job_deployments=())) == []  # right after a focus change
    assert tl.observe(snapshot()) == []  # the answers arrive
    assert [e.kind for e in tl.events("default", "web")] == ["registered", "registered", "deployment"]


@pytest.mark.parametrize("version_first", [True, False])
def test_an_auto_revert_is_told_whichever_watch_answers_first(version_first):
    tl = Timeline(clock=lambda: 500.0)
    tl.observe(snapshot())
    failed = deployment(1, "failed", index=20, at=200.0)
    failed = replace(failed, status_description="Failed due to progress deadline - rolling back to job version 0")
    reverted = version(2, at=200.0, index=20)
    steps = (
        [{"versions": (reverted, version(1), version(0))}, {"job_deployments": (failed,)}]
        if version_first
        else [{"job_deployments": (failed,)}, {"versions": (reverted, version(1), version(0))}]
    )
    seen = snapshot(**steps[0])
    tl.observe(seen)
    tl.observe(replace(seen, **steps[1]))
    events = tl.events("default", "web")
    assert [(e.kind, e.text) for e in events] == [
        ("registered", "job registered: version 0"),  # from the records: before the watching
        ("registered", "job registered: version 1"),
        ("deployment", "deployment d1-00000 started for version 1"),
        ("failed", "deployment failed: Failed due to progress deadline - rolling back to job version 0"),
        ("auto-reverted", "auto-reverted to version 0 as version 2"),
    ]
    assert all(e.at == 200.0 for e in events[3:])
    assert tl.events("default", "web", failed.id) == events[1:]


def test_switching_the_focus_away_and_back_keeps_the_history():
    tl = Timeline(clock=lambda: 500.0)
    alloc = Allocation(
        "a1-000000",
        job_id="web",
        job_version=1,
        desired_status="run",
        client_status="running",
        create_index=12,
        modify_index=12,
        create_time=101.0,
        modify_time=101.5,
    )
    tl.observe(snapshot())
    tl.observe(snapshot(allocations=(alloc,)))
    other = ClusterState(focus=("default", "db"), status=LOADED, versions=(version(0),))
    assert tl.observe(replace(other, focus=("default", "db"))) == []
    assert tl.observe(ClusterState(focus=("default", "web"))) == []  # cleared on focus, not loaded
    healthy = replace(alloc, healthy=True, health_time=131.5, modify_index=14)
    back = tl.observe(snapshot(allocations=(healthy,)))
    assert [(e.kind, e.at, e.deployment_id) for e in back] == [("healthy", 131.5, "d1-0000000")]
    told = ["registered", "registered", "deployment", "placed", "running", "healthy"]
    assert [e.kind for e in tl.events("default", "web")] == told
    assert [(e.job_id, e.text) for e in tl.events("default", "db")] == [("db", "job registered: version 0")]


def test_history_is_bounded():
    tl = Timeline()
    tl.observe(snapshot())
    allocs = tuple(
        Allocation(f"a{i:07}", job_version=1, create_index=20 + i, modify_index=20 + i, create_time=200.0 + i)
        for i in range(MAX_EVENTS + 50)
    )
    assert len(tl.observe(snapshot(allocations=allocs))) == MAX_EVENTS + 50
    kept = tl.events("default", "web")
    assert len(kept) == MAX_EVENTS and kept[0].alloc_id == "a0000050"


def test_durations_and_markdown_cells():
    events = [
        TimelineEvent(100.0, "registered", "job registered: version 1", "web"),
        TimelineEvent(131.0, "healthy", "a | b", "web"),
        TimelineEvent(193.0, "successful", "deployment successful", "web"),
    ]
    assert [(step, total) for _, step, total in with_durations(events)] == [(0.0, 0.0), (31.0, 31.0), (62.0, 93.0)]
    rows = Timeline().markdown(events, title="t").splitlines()[4:]
    assert rows == [
        f"| {format_time(100.0)} | 0s |  | job registered: version 1 |",
        f"| {format_time(131.0)} | 31s | 31s | a \\| b |",
        f"| {format_time(193.0)} | 1m33s | 1m2s | deployment successful |",
    ]
    assert with_durations([]) == []
