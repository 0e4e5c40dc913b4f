"""The traffic probe: measured shares against the demo's Fabio listener over real HTTP, findings
against the route table, and a probe that stays bounded against slow, dead and late URLs."""

from __future__ import annotations

import asyncio
import math
import re
import time

import pytest
from starlette.responses import PlainTextResponse, Response

from nomadtui.model import Route, RouteTarget
from nomadtui.nomad.live import LiveCluster
from nomadtui.probe import (
    MAX_RATE,
    Answer,
    Expectation,
    Finding,
    Probe,
    ProbeConfig,
    ProbeSnapshot,
    expectation_from,
    findings,
    match_route,
    nearest_rank,
    settle_time,
    summarize,
    version_key,
    wilson,
)
from tests.helpers import http, register, until

JOB = "httpsbackend-sni-1"
HOST = "mysite-sni-1.com"
CANARY_HOST = "canary.mysite-sni-1.com"


# --- helpers -----------------------------------------------------------------------------------


def latest(demo) -> dict:
    return http.get(f"{demo.nomad_url}/v1/job/{JOB}/deployment").json()


def roll_out(demo, filename: str) -> None:
    register(demo, filename)
    waited = 0
    while latest(demo)["Status"] == "running" and waited < 900:
        demo.advance(2)
        waited += 2
    assert latest(demo)["Status"] == "successful"


def canary_1(demo) -> None:
    roll_out(demo, "httpsbackend-tcp-sni-1-rolling-update.nomad")  # v1.0.1
    register(demo, "httpsbackend-tcp-sni-1-canary-1.nomad")  # v1.0.2 canary at 25 %


async def probe_until(
    config: ProbeConfig, answered: int = 0, *, finished: int = 0, timeout: float = 20.0
) -> ProbeSnapshot:
    """Run a probe until it has this many answers with a version (or finished requests)."""
    async with Probe(config) as probe:
        task = asyncio.create_task(probe.run())
        try:
            await until(
                lambda: (s := probe.snapshot()).answered >= answered and s.answered + s.errors + s.timeouts >= finished,
                timeout,
            )
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return probe.snapshot()


def routes_settled(cluster: LiveCluster, targets: int) -> bool:
    """Fabio's table is polled, targets are tied to allocations, and the versions they run are
    read, all in the background."""
    routes = cluster.state.job_routes()
    ts = [t for r in routes for t in r.targets]
    known = {v.version for v in cluster.state.versions}
    return len(ts) == targets and all(t.job_version is not None and t.job_version in known for t in ts)


def canary_healthy(cluster: LiveCluster) -> bool:
    return any(a.canary and a.healthy for a in cluster.state.allocations)


def snapshot_of(
    counts: dict[str, int], *, errors: int = 0, timeouts: int = 0, in_flight: int = 0, last_error: str = ""
) -> ProbeSnapshot:
    """A snapshot as a probe would report these answers, spread over one minute."""
    answers = []
    for version, n in counts.items():
        answers += [Answer(1 + i * 59 / max(n, 1), version, 0.001 * (i + 1), "ok") for i in range(n)]
    answered = sum(counts.values())
    versions, history = summarize(answers, as_of=60.0, window=60.0)
    return ProbeSnapshot(
        answered,
        errors,
        timeouts,
        answered + errors + timeouts + in_flight,
        0,
        in_flight,
        versions,
        history,
        0.0,
        60.0,
        5.0,
        60.0,
        last_error,
    )


def kinds(found: list[Finding]) -> list[tuple[str, str | None]]:
    return [(f.kind, f.version) for f in found]


# --- (a) the weighted canary gets its 25 % -----------------------------------------------------


async def test_weighted_canary_gets_its_share(demo, live):
    await asyncio.to_thread(canary_1, demo)
    await asyncio.to_thread(demo.advance, 31)
    await until(lambda: routes_settled(live, 4) and canary_healthy(live))

    config = ProbeConfig(demo.lb_url + "/", host=HOST, rate=MAX_RATE, timeout=2.0, window=60.0)
    # The demo fixture seeds Fabio's picks, so this sample is the same on every run (26 % canary).
    snap = await probe_until(config, answered=300)

    assert snap.errors == snap.timeouts == 0 and snap.answered >= 300
    assert [v.version for v in snap.versions] == ["v1.0.1", "v1.0.2"]
    canary = snap.stats("v1.0.2")
    assert canary.low <= 0.25 <= canary.high and canary.high - canary.low < 0.15
    assert math.isclose(sum(v.share for v in snap.versions), 1.0)
    assert all(0 < v.p50 <= v.p95 <= v.p99 < 2000 for v in snap.versions)
    assert snap.sent >= snap.answered and snap.started_at is not None and snap.rate == MAX_RATE

    expectation = expectation_from(live.state, HOST)
    assert expectation.route == "mysite-sni-1.com/"
    assert dict(expectation.configured) == pytest.approx({"v1.0.1": 0.75, "v1.0.2": 0.25})
    assert dict(expectation.healthy) == {"v1.0.1": 3, "v1.0.2": 1}
    assert expectation.canaries == {"v1.0.2"}
    assert findings(snap, expectation) == []


# --- (b) the isolated canary on its own host ---------------------------------------------------


async def test_isolated_canary_is_seen_only_on_its_host(demo, live):
    await asyncio.to_thread(roll_out, demo, "httpsbackend-tcp-sni-1-rolling-update.nomad")
    await asyncio.to_thread(register, demo, "httpsbackend-tcp-sni-1-canary-2.nomad")
    await asyncio.to_thread(demo.advance, 31)
    await until(lambda: routes_settled(live, 4) and canary_healthy(live))

    main = await probe_until(ProbeConfig(demo.lb_url + "/", host=HOST, rate=MAX_RATE), answered=60)
    assert [(v.version, v.share) for v in main.versions] == [("v1.0.1", 1.0)]
    canary = await probe_until(ProbeConfig(demo.lb_url + "/", host=CANARY_HOST, rate=MAX_RATE), answered=60)
    assert [(v.version, v.share) for v in canary.versions] == [("v1.0.3", 1.0)]
    assert canary.versions[0].low > 0.9 and canary.history["v1.0.3"][-1] == 1.0

    on_main = expectation_from(live.state, HOST.upper() + ":443")
    assert (on_main.route, dict(on_main.configured), on_main.canaries) == (
        "mysite-sni-1.com/",
        {"v1.0.1": 1.0},
        {"v1.0.3"},
    )
    on_canary = expectation_from(live.state, CANARY_HOST, "/anything")
    assert (on_canary.route, dict(on_canary.configured)) == ("canary.mysite-sni-1.com/", {"v1.0.3": 1.0})
    assert findings(main, on_main) == [] and findings(canary, on_canary) == []

    # After promotion the canary host has no route: Fabio answers 404, and nothing is promised.
    dep = latest(demo)["ID"]
    http.put(
        f"{demo.nomad_url}/v1/deployment/promote/{dep}", json={"DeploymentID": dep, "All": True}
    ).raise_for_status()
    await asyncio.to_thread(demo.advance, 1)
    await until(lambda: live.state.routes and CANARY_HOST not in {r.host for r in live.state.routes})
    gone = expectation_from(live.state, CANARY_HOST)
    assert gone.route == "" and dict(gone.configured) == {}
    refused = await probe_until(ProbeConfig(demo.lb_url + "/", host=CANARY_HOST, rate=MAX_RATE), finished=20)
    assert refused.answered == 0 and refused.errors >= 20 and refused.last_error == "HTTP 404"
    assert kinds(findings(refused, gone)) == [("errors", None)]


async def test_no_job_in_focus_promises_nothing(demo):
    from nomadtui.state import ClusterState

    assert expectation_from(ClusterState(), HOST) is None


# --- (c) findings ------------------------------------------------------------------------------

WEIGHTED = Expectation(
    {"v1.0.1": 0.75, "v1.0.2": 0.25}, {"v1.0.1": 3, "v1.0.2": 1}, frozenset({"v1.0.2"}), "mysite-sni-1.com/"
)


def test_weight_on_a_version_without_healthy_allocations():
    unhealthy = Expectation(WEIGHTED.configured, {"v1.0.1": 3}, WEIGHTED.canaries, WEIGHTED.route)
    found = findings(snapshot_of({"v1.0.1": 75, "v1.0.2": 25}), unhealthy)
    assert found == [
        Finding("no-healthy", "v1.0.2", "v1.0.2: 25.0% configured on mysite-sni-1.com/ but no healthy allocation.")
    ]


def test_canary_without_traffic():
    found = findings(snapshot_of({"v1.0.1": 100}), WEIGHTED)
    assert kinds(found) == [("canary-no-traffic", "v1.0.2"), ("mismatch", "v1.0.1")]
    assert found[0].message == (
        "v1.0.2: canary with 25.0% configured on mysite-sni-1.com/, but none of 100 answers came from it."
    )
    assert found[1].message.startswith("v1.0.1: 100.0% observed (96.3–100.0%), 75.0% configured")
    # Too few samples to say anything yet; a canary on another route is not expected here.
    assert findings(snapshot_of({"v1.0.1": 20}), WEIGHTED) == []
    elsewhere = Expectation({"v1.0.1": 1.0}, {"v1.0.1": 3, "v1.0.3": 1}, frozenset({"v1.0.3"}), WEIGHTED.route)
    assert findings(snapshot_of({"v1.0.1": 100}), elsewhere) == []


def test_mismatch_needs_the_interval_to_exclude_the_configured_share():
    found = findings(snapshot_of({"v1.0.1": 264, "v1.0.2": 36}), WEIGHTED)
    assert kinds(found) == [("mismatch", "v1.0.1"), ("mismatch", "v1.0.2")]
    assert re.fullmatch(r"v1\.0\.2: 12\.0% observed \(8\.\d–16\.\d%\), 25\.0% configured", found[1].message)
    assert findings(snapshot_of({"v1.0.1": 70, "v1.0.2": 30}), WEIGHTED) == []
    # A version Fabio does not route to at all, yet answering.
    assert kinds(findings(snapshot_of({"v1.0.1": 70, "v1.0.2": 25, "v1.0.0": 5}), WEIGHTED)) == [("mismatch", "v1.0.0")]
    # Targets not tied to allocations yet: no comparison, and no "no healthy" for them.
    unknown = Expectation({"?": 0.5, "v1.0.1": 0.5}, {"v1.0.1": 3}, frozenset(), WEIGHTED.route)
    assert findings(snapshot_of({"v1.0.1": 100}), unknown) == []


def test_errors_above_five_percent():
    assert findings(snapshot_of({"v1.0.1": 75, "v1.0.2": 25}, errors=5), WEIGHTED) == []
    found = findings(
        snapshot_of({"v1.0.1": 75, "v1.0.2": 25}, errors=4, timeouts=3, in_flight=9, last_error="HTTP 502"), WEIGHTED
    )
    assert found == [Finding("errors", None, "7 of 107 requests failed (4 errors, 3 timeouts, 6.5%): last HTTP 502.")]


async def test_weight_on_a_canary_not_yet_healthy_end_to_end(demo, live):
    """A canary inside its min_healthy_time is settling, not an outage: nothing to report until
    its min_healthy_time plus a check interval (30 s + 10 s in the job file) have passed."""
    await asyncio.to_thread(canary_1, demo)
    # Running, and routed once its check passed (10 s), min_healthy_time (30 s) not reached.
    await asyncio.to_thread(demo.advance, 11)
    # Fabio's table and the allocations list are read apart: wait for both to show the canary.
    await until(lambda: routes_settled(live, 4) and any(a.canary and a.running for a in live.state.allocations))
    expectation = expectation_from(live.state, HOST)
    assert expectation.healthy == {"v1.0.1": 3} and expectation.canaries == {"v1.0.2"}
    assert expectation.settling == {"v1.0.2"}
    assert findings(snapshot_of({"v1.0.1": 75, "v1.0.2": 25}), expectation) == []

    body = http.get(f"{demo.nomad_url}/v1/job/{JOB}/versions").json()
    settle = {v["Version"]: settle_time(v) for v in body["Versions"]}
    assert settle[2] == 40.0
    now = demo.cluster.clock.now()
    within = expectation_from(live.state, HOST, now=now, settle=settle)
    assert within.settling == {"v1.0.2"} and findings(snapshot_of({"v1.0.1": 75, "v1.0.2": 25}), within) == []
    # Had Nomad still not judged it 40 s after it started, with weight on the route: say so.
    late = expectation_from(live.state, HOST, now=now + 40, settle=settle)
    assert late.settling == frozenset()
    assert kinds(findings(snapshot_of({"v1.0.1": 75, "v1.0.2": 25}), late)) == [("no-healthy", "v1.0.2")]

    await asyncio.to_thread(demo.advance, 31)
    await until(lambda: expectation_from(live.state, HOST).healthy.get("v1.0.2") == 1)
    assert findings(snapshot_of({"v1.0.1": 75, "v1.0.2": 25}), expectation_from(live.state, HOST)) == []


def test_route_matching_is_fabios():
    def route(host: str, path: str) -> Route:
        return Route(host + path, host, path, "", (RouteTarget("svc", "http://10.0.0.1:80/", 1.0),))

    table = [route("a.com", "/"), route("a.com", "/api"), route("", "/"), route("b.com", "/x")]
    assert match_route(table, "A.com:8080", "/api/v1").src == "a.com/api"
    assert match_route(table, "a.com", "/apx").src == "a.com/"
    assert match_route(table, "b.com", "/y").src == "/"  # host routes miss: the catch-all
    assert match_route(table[:2], "c.com", "/") is None


# --- statistics --------------------------------------------------------------------------------


def test_wilson_and_nearest_rank():
    low, high = wilson(25, 100)
    assert (round(low, 4), round(high, 4)) == (0.1755, 0.3430)
    assert wilson(0, 0) == (0.0, 1.0) and wilson(0, 50)[0] == 0.0 and wilson(50, 50)[1] == 1.0
    values = [float(v) for v in range(1, 101)]
    assert [nearest_rank(values, p) for p in (50, 95, 99, 100)] == [50, 95, 99, 100]
    assert nearest_rank([7.0], 99) == 7.0 and nearest_rank([], 50) == 0.0
    assert sorted(["v1.0.10", "v1.0.9", "v1.0.2"], key=version_key) == ["v1.0.2", "v1.0.9", "v1.0.10"]


def test_history_is_shares_per_bucket_oldest_first():
    answers = [Answer(t + 0.5, "v1", 0.01, "ok") for t in range(10, 60, 5)]
    answers += [Answer(t + 1.0, "v2", 0.01, "ok") for t in range(30, 60, 5)]
    answers += [Answer(59.0, None, 2.0, "timeout"), Answer(-1.0, "v0", 0.01, "ok")]  # no version; too old
    versions, history = summarize(answers, as_of=60.0, window=60.0)
    assert [v.version for v in versions] == ["v1", "v2"]
    # The first two buckets saw no answer: a gap, not a share of 0.
    assert history == {"v1": (None,) * 2 + (1.0,) * 4 + (0.5,) * 6, "v2": (None,) * 2 + (0.0,) * 4 + (0.5,) * 6}
    assert versions[1].last_seen == 56.0 and versions[0].p99 == 10.0


async def test_a_fake_clock_drives_the_window():
    now = [100.0]
    probe = Probe(ProbeConfig("http://127.0.0.1:9/", window=10.0), clock=lambda: now[0])
    probe._record(99.9, "v1", "ok")
    now[0] = 105.0
    probe._record(104.0, "v2", "ok")
    snap = probe.snapshot()
    assert snap.answered == 2 and snap.versions[0].p50 == pytest.approx(100.0) and snap.as_of == 105.0
    now[0] = 110.5
    assert [v.version for v in probe.snapshot().versions] == ["v2"]
    await probe.aclose()


# --- (d) the rate is bounded -------------------------------------------------------------------


@pytest.mark.parametrize("rate", [0, -1, MAX_RATE + 0.1, 1e9, math.inf, math.nan])
def test_rates_out_of_bounds_are_refused(rate):
    with pytest.raises(ValueError, match="rate"):
        ProbeConfig("http://127.0.0.1:9/", rate=rate)


def test_other_settings_are_checked():
    for kwargs in ({"timeout": 0}, {"window": -1}, {"max_in_flight": 0}, {"version_regex": "("}):
        with pytest.raises(ValueError):
            ProbeConfig("http://127.0.0.1:9/", **kwargs)
    for url in ("ftp://x/", "/just/a/path", "http://", "http://[::1/"):
        with pytest.raises(ValueError, match="url"):
            ProbeConfig(url)
    assert ProbeConfig("http://x/", rate=MAX_RATE).rate == MAX_RATE
    assert ProbeConfig("http://x/", rate=5, timeout=2).in_flight_cap == 11


def counting_app(
    times: list[float], delay: float = 0.0, body: str = "version: v1\n", status: int = 200, headers: dict | None = None
):
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        times.append(time.monotonic())
        if delay:
            await asyncio.sleep(delay)
        await PlainTextResponse(body, status, headers=headers)(scope, receive, send)

    return app


async def run_for(probe: Probe, seconds: float, *, block: float = 0.0) -> float:
    """Run the probe for about this long (optionally blocking the loop midway); the time it ran."""
    started = time.monotonic()
    task = asyncio.create_task(probe.run())
    await asyncio.sleep(seconds / 2)
    if block:
        time.sleep(block)  # a busy event loop, as a UI under load would be
    await asyncio.sleep(seconds / 2)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return time.monotonic() - started


async def test_requests_follow_the_rate_never_more(scripted):
    times: list[float] = []
    with scripted(counting_app(times)) as server:
        async with Probe(ProbeConfig(server.url + "/", rate=20)) as probe:
            elapsed = await run_for(probe, 2.0)
            snap = probe.snapshot()
    assert len(times) <= 20 * elapsed + 1
    assert len(times) >= 20 * elapsed * 0.6
    assert snap.answered <= len(times) <= snap.sent
    assert snap.skipped <= max(3, snap.sent // 5) and snap.errors == snap.timeouts == 0  # a loaded machine is late
    assert [v.version for v in snap.versions] == ["v1"]


async def test_a_late_loop_skips_ticks_instead_of_bursting(scripted):
    times: list[float] = []
    with scripted(counting_app(times)) as server:
        async with Probe(ProbeConfig(server.url + "/", rate=20)) as probe:
            elapsed = await run_for(probe, 1.0, block=0.6)
            snap = probe.snapshot()
    assert snap.skipped >= 8  # about 0.6 s * 20/s
    assert len(times) <= 20 * (elapsed - 0.6) + 2
    assert snap.sent + snap.skipped <= 20 * elapsed + 1


async def test_updates_are_throttled():
    seen: list[ProbeSnapshot] = []
    async with Probe(ProbeConfig("http://127.0.0.1:9/", rate=MAX_RATE), on_update=seen.append) as probe:
        elapsed = await run_for(probe, 1.6)
    assert 2 <= len(seen) <= elapsed / 0.5 + 1
    assert all(b.as_of - a.as_of >= 0.45 for a, b in zip(seen, seen[1:]))
    assert seen[-1].errors > 0


# --- (e) slow, dead and odd URLs ---------------------------------------------------------------


async def test_a_slow_url_times_out_and_the_cap_holds(scripted):
    times: list[float] = []
    with scripted(counting_app(times, delay=1.0)) as server:
        config = ProbeConfig(server.url + "/", rate=20, timeout=0.2, max_in_flight=2)
        async with Probe(config) as probe:
            task = asyncio.create_task(probe.run())
            started, most = time.monotonic(), 0
            while time.monotonic() - started < 1.5:
                most = max(most, probe.snapshot().in_flight)
                await asyncio.sleep(0.003)
            snap = probe.snapshot()
            assert snap.in_flight > 0
            task.cancel()
            cancelled = time.monotonic()
            await asyncio.gather(task, return_exceptions=True)
            assert time.monotonic() - cancelled < 0.5  # in-flight requests cancelled too
            assert probe.snapshot().in_flight == 0
    assert most <= 2
    assert snap.timeouts >= 4 and snap.answered == 0 and snap.last_error == "no answer within 0.2 s"
    assert snap.skipped > snap.sent  # most ticks found the cap reached
    assert snap.sent + snap.skipped >= 20 * 1.5 * 0.6  # and the schedule kept going
    assert snap.sent + snap.skipped <= 20 * 1.5 + 2


async def test_the_default_cap_is_one_timeout_of_requests(scripted):
    with scripted(counting_app([], delay=1.0)) as server:
        seen: list[int] = []
        config = ProbeConfig(server.url + "/", rate=20, timeout=0.2)
        async with Probe(config, on_update=lambda s: seen.append(s.in_flight)) as probe:
            await run_for(probe, 1.2)
            snap = probe.snapshot()
    assert config.in_flight_cap == 5 and max(seen) <= 5
    assert snap.timeouts >= 10 and snap.errors == 0


async def test_a_dead_url_gives_errors():
    snap = await probe_until(ProbeConfig("http://127.0.0.1:9/", rate=MAX_RATE), finished=20)
    assert snap.answered == 0 and snap.errors >= 20 and snap.versions == ()
    assert snap.last_error.startswith("cannot connect")
    (found,) = findings(snap, WEIGHTED)
    assert found.kind == "errors" and "cannot connect" in found.message


async def test_cancelling_returns_at_once():
    async with Probe(ProbeConfig("http://10.255.255.1/", rate=10, timeout=2.0)) as probe:  # unroutable
        task = asyncio.create_task(probe.run())
        await asyncio.sleep(0.3)
        started = time.monotonic()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert time.monotonic() - started < 0.5 and task.cancelled()


async def test_answers_without_a_version_and_non_2xx_are_errors(scripted):
    with scripted(counting_app([], body="hello\n")) as server:
        snap = await probe_until(ProbeConfig(server.url + "/", rate=MAX_RATE), finished=5)
    assert snap.answered == 0 and snap.errors >= 5 and snap.last_error == "no version in the answer's body"
    with scripted(counting_app([], status=503, body="version: v9\n")) as server:
        snap = await probe_until(ProbeConfig(server.url + "/", rate=MAX_RATE), finished=5)
    assert snap.answered == 0 and snap.last_error == "HTTP 503"


async def test_version_from_a_header_and_the_host_sent(scripted):
    hosts: list[str] = []

    async def app(scope, receive, send):
        hosts.append(dict(scope["headers"]).get(b"host", b"").decode())
        await Response(b"no version here", headers={"X-App-Version": "2.4.1"})(scope, receive, send)

    with scripted(app) as server:
        config = ProbeConfig(
            server.url + "/health", host="mysite.example", version_header="x-app-version", rate=MAX_RATE
        )
        snap = await probe_until(config, answered=5)
    assert [v.version for v in snap.versions] == ["2.4.1"] and set(hosts) == {"mysite.example"}


async def test_restarting_the_window_forgets_what_was_seen(demo):
    probe = Probe(ProbeConfig(url=f"{demo.lb_url}/", host="mysite-sni-1.com", rate=50))
    task = asyncio.get_running_loop().create_task(probe.run())
    await until(lambda: probe.snapshot().answered >= 20)
    probe.restart_window()
    assert probe.snapshot().answered == 0 and probe.snapshot().sent == 0
    await until(lambda: probe.snapshot().answered >= 5)
    task.cancel()
    await asyncio.wait({task}, timeout=2)
    await probe.aclose()
