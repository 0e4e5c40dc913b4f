"""Live watching against the demo cluster over real HTTP, and against broken servers."""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from starlette.responses import PlainTextResponse, Response

from bench.storm import StormProxy
from nomadtui.demo.clock import ManualClock
from nomadtui.demo.cluster import Cluster
from nomadtui.demo.server import DemoServer
from nomadtui.nomad import errors
from nomadtui.nomad.fabio import FabioClient, FabioWatch
from nomadtui.nomad.live import LiveCluster
from nomadtui.settings import Settings
from tests.helpers import NoStreamProxy, http, register, roll_out, until

JOB = "httpsbackend-sni-1"


async def test_first_picture_of_the_cluster(live):
    s = live.state
    assert [j.id for j in s.jobs] == [JOB] and s.job.version == 0 and s.job.stable is True
    assert len([a for a in s.allocations if a.running]) == 3
    assert s.latest_deployment.status == "successful" and s.summary.running == 3
    assert len(s.nodes) == 3 and s.connected and s.errors() == []
    await until(lambda: live.state.routes and len(live.state.alloc_details) == 3)
    (route,) = live.state.job_routes()
    assert route.src == "mysite-sni-1.com/" and route.options == {"proto": "tcp+sni"}
    assert [t.job_version for t in route.targets] == [0, 0, 0] and not any(t.canary for t in route.targets)


async def test_a_change_arrives_without_waiting_for_a_poll(live, demo):
    seen: list[str] = []
    live.subscribe(lambda state, what: seen.append(what))
    started = time.monotonic()
    await asyncio.to_thread(register, demo, "httpsbackend-tcp-sni-1-canary-1.nomad")
    took = await until(lambda: live.state.latest_deployment and live.state.latest_deployment.job_version == 1)
    assert time.monotonic() - started < 2 and took < 2  # the watches wait 30 s per poll
    await until(
        lambda: (
            {"allocations", "job_deployments", "versions", "job", "deployments"} <= set(seen)
            and bool({"jobs", "job_row"} & set(seen))
        ),
        timeout=2,
    )
    d = live.state.latest_deployment
    assert d.needs_promotion and not d.canaries_healthy
    await asyncio.to_thread(demo.advance, 31)
    await until(lambda: live.state.latest_deployment.canaries_healthy)
    await until(
        lambda: (
            len(live.state.job_routes()[0].targets) == 4 and any(t.canary for t in live.state.job_routes()[0].targets)
        )
    )
    canary = [t for t in live.state.job_routes()[0].targets if t.canary]
    assert len(canary) == 1 and canary[0].job_version == 1 and canary[0].weight == 0.25


async def test_idle_costs_nothing_but_heartbeats_while_the_stream_is_live(demo):
    cluster = LiveCluster(Settings(address=demo.nomad_url), wait=0.5)
    cluster.start()
    cluster.focus("default", JOB)
    await until(lambda: cluster.state.events.live and cluster.state.job is not None and cluster.state.versions)
    await until(lambda: all(w.following for n, w in cluster.watches.items() if n != "nodes"))
    await asyncio.sleep(0.3)
    before = {name: w.requests for name, w in cluster.watches.items()}
    await asyncio.sleep(2.0)
    sent = {name: w.requests - before[name] for name, w in cluster.watches.items()}
    await cluster.close()
    # The nodes list (no Node topic) is a blocking query: one request per wait period.
    assert 1 <= sent.pop("nodes") <= 5
    assert set(sent.values()) == {0}, sent


async def test_without_the_stream_idle_watches_send_one_request_per_wait(demo, scripted):
    with scripted(NoStreamProxy(demo.nomad_url)) as proxy:
        cluster = LiveCluster(Settings(address=proxy.url), wait=0.5)
        cluster.start()
        cluster.focus("default", JOB)
        await until(lambda: cluster.state.events.off and cluster.state.job is not None and cluster.state.versions)
        before = {name: w.requests for name, w in cluster.watches.items()}
        await asyncio.sleep(3.0)
        sent = {name: w.requests - before[name] for name, w in cluster.watches.items()}
        await cluster.close()
    # 3 s of an unchanged cluster with wait=0.5 s: about 6 requests per watch (Nomad adds up to
    # wait/16 of jitter), never a tight loop.
    assert all(n <= 8 for n in sent.values()), sent
    assert all(n >= 1 for n in sent.values()), sent


async def test_switching_jobs_and_closing_cancel_long_polls_at_once(live, demo):
    tasks = list(live._job.values())
    started = time.monotonic()
    live.focus("default", "another-job")
    assert time.monotonic() - started < 0.05
    await asyncio.sleep(0)
    await until(lambda: all(t.done() for t in tasks), timeout=1)
    assert live.state.job is None and live.state.allocations == ()
    await until(lambda: "job" in live.state.status and live.state.status["job"].error is not None)
    assert live.state.status["job"].error.kind == errors.NOT_FOUND
    assert "another-job" in live.state.status["job"].error.message
    started = time.monotonic()
    await live.close()
    assert time.monotonic() - started < 0.5


async def test_a_server_that_goes_away_and_comes_back(demo):
    port = int(demo.nomad_url.rsplit(":", 1)[1])
    cluster = LiveCluster(Settings(address=demo.nomad_url), wait=30)
    cluster.start()
    cluster.focus("default", JOB)
    await until(lambda: cluster.state.connected and cluster.state.jobs and cluster.state.allocations)
    old_allocs = {a.id for a in cluster.state.allocations}
    demo.stop()
    await until(lambda: cluster.state.status["jobs"].error is not None, timeout=10)
    assert not cluster.state.connected
    err = cluster.state.status["jobs"].error
    assert err.kind == errors.UNREACHABLE and "Cannot reach Nomad at" in err.message
    assert [j.id for j in cluster.state.jobs] == [JOB]  # the last good data stays
    assert cluster.state.status["jobs"].as_of is not None
    # A new server on the same port, with a fresh (lower) Raft index.
    with DemoServer(Cluster(ManualClock(), seed=9), port=port) as again:
        register(again, "httpsbackend-tcp-sni-1-rolling-update.nomad")
        # Back within the backoff (a few seconds), not after a 30 s wait on a lost index.
        await until(lambda: cluster.state.connected, timeout=10)
        await until(lambda: any(d.job_version == 1 for d in cluster.state.deployments), timeout=10)
        # The stream subscribed again and the lists were read again: what the old server had
        # and the new one does not (its allocations, its deployments) is gone.
        new_allocs = {a["ID"] for a in http.get(f"{again.nomad_url}/v1/job/{JOB}/allocations").json()}
        new_deployments = {d["ID"] for d in http.get(f"{again.nomad_url}/v1/deployments").json()}
        await until(lambda: {a.id for a in cluster.state.allocations} == new_allocs, timeout=10)
        assert not old_allocs & new_allocs
        assert {d.id for d in cluster.state.deployments} == new_deployments
        await until(lambda: cluster.state.events.live, timeout=10)
    await cluster.close()


async def test_errors_of_broken_servers_are_sentences(scripted):
    async def no_leader(scope, receive, send):
        await PlainTextResponse("No cluster leader", 500)(scope, receive, send)

    async def garbage(scope, receive, send):
        await Response(b"<html>proxy error</html>", 200, headers={"X-Nomad-Index": "5"})(scope, receive, send)

    async def denied(scope, receive, send):
        await PlainTextResponse("Permission denied", 403)(scope, receive, send)

    for app, kind, words in (
        (no_leader, errors.REFUSED, "No cluster leader"),
        (garbage, errors.BAD_RESPONSE, "answer to /v1/jobs is not JSON (it starts with '<html>proxy error</html>')."),
        (denied, errors.DENIED, "'list-jobs' capability in namespace 'default'"),
    ):
        with scripted(app) as server:
            cluster = LiveCluster(Settings(address=server.url), wait=1)
            cluster.start()
            await until(lambda c=cluster: "jobs" in c.state.status and c.state.status["jobs"].error)
            error = cluster.state.status["jobs"].error
            assert error.kind == kind and words in error.message
            # A retry is due (with its countdown) or, the first one being quick, already under way.
            status = cluster.state.status["jobs"]
            assert status.retry_at is not None or status.retrying
            await cluster.close()


async def test_fabio_polling_adapts_to_rollouts(demo):
    busy = False
    published: list = []
    watch = FabioWatch(
        FabioClient(demo.fabio_url),
        publish=lambda n, r, i: published.append(r),
        on_status=lambda s: None,
        busy=lambda: busy,
        fast=0.05,
        slow=0.5,
    )
    task = asyncio.get_running_loop().create_task(watch.run())
    await asyncio.sleep(1.0)
    idle = watch.requests
    busy = True
    watch.poke()
    await asyncio.sleep(1.0)
    moving = watch.requests - idle
    task.cancel()
    await watch.client.aclose()
    assert idle <= 4 and moving >= 10
    assert len(published) == 1  # unchanged tables are not published again


async def test_fabio_down_is_reported(scripted):
    async def down(scope, receive, send):
        await PlainTextResponse("bad gateway", 502)(scope, receive, send)

    with scripted(down) as server:
        statuses = []
        watch = FabioWatch(FabioClient(server.url), publish=lambda *a: None, on_status=statuses.append)
        task = asyncio.get_running_loop().create_task(watch.run())
        await until(lambda: statuses)
        task.cancel()
        await watch.client.aclose()
    assert not statuses[0].connected and "Fabio at" in statuses[0].error.message


async def test_a_poke_and_a_cancel_in_the_same_loop_pass_still_stop_the_fabio_watch(demo):
    # asyncio.wait_for on Python 3.11 could swallow this cancel, and quitting would hang.
    for _ in range(20):
        watch = FabioWatch(FabioClient(demo.fabio_url), publish=lambda *a: None, on_status=lambda s: None)
        task = asyncio.get_running_loop().create_task(watch.run())
        await asyncio.sleep(0.05)
        watch.poke()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=2)
        assert task in done
        await watch.client.aclose()


async def test_the_event_stream_tells_what_the_lists_have_not_answered_yet(live, demo):
    from nomadtui.timeline import Timeline

    timeline = Timeline(clock=demo.cluster.clock.now)
    live.subscribe(lambda state, what: timeline.observe(state))
    await until(lambda: live.state.events.live)
    # After their next answer, the job's lists wait a minute before asking again: from then on
    # only the event stream can bring news.
    slow = [live.watches[name] for name in ("allocations", "job_deployments", "evaluations")]
    for watch in slow:
        watch.min_gap = 60
    await asyncio.to_thread(register, demo, "httpsbackend-tcp-sni-1-canary-1.nomad")
    await until(lambda: live.state.latest_deployment.job_version == 1)
    requests = [w.requests for w in slow]
    await asyncio.to_thread(demo.advance, 31)
    await until(lambda: live.state.latest_deployment.canaries_healthy)
    canary = next(a for a in live.state.allocations if a.job_version == 1)
    assert canary.canary and canary.healthy is True and canary.deployment_id == live.state.latest_deployment.id
    assert [w.requests for w in slow] == requests  # no list was asked again
    events = timeline.latest_deployment_events(live.state)
    assert [e.kind for e in events if e.alloc_id == canary.id] == ["placed", "running", "healthy"]
    assert [e.kind for e in events if e.kind in ("deployment", "canaries-healthy")] == [
        "deployment",
        "canaries-healthy",
    ]


@pytest.mark.parametrize(
    "status, body, why",
    [
        (403, "Permission denied", "The token needs the 'read-job' capability in namespace 'default'"),
        (404, "404 page not found", "this Nomad serves no event stream (HTTP 404"),  # before Nomad 1.0
    ],
)
async def test_a_refused_event_stream_says_why_and_leaves_the_watches_alone(scripted, status, body, why):
    async def refuse(scope, receive, send):
        await PlainTextResponse(body, status)(scope, receive, send)

    with scripted(refuse) as server:
        cluster = LiveCluster(Settings(address=server.url), wait=1)
        cluster.start()
        cluster.focus("default", JOB)
        await until(lambda: cluster.state.events.off != "")
        assert why in cluster.state.events.off and not cluster.state.events.live
        await until(lambda: cluster._global["events"].done())  # refused: not retried
        assert "events" not in cluster.state.status  # and no error banner for it
        await cluster.close()


async def test_a_storm_of_wrong_shaped_answers_never_looks_live_and_ends(demo, scripted):
    proxy = StormProxy(demo.nomad_url)
    with scripted(proxy) as server:
        cluster = LiveCluster(Settings(address=server.url), wait=0.5)
        cluster.start()
        cluster.focus("default", JOB)
        await until(lambda: cluster.state.live and cluster.state.job is not None, timeout=10)
        sources = set(cluster._global)
        seen_failing, live_while_failing, messages = False, False, set()
        proxy.storming = True
        storm_ends = time.monotonic() + 6
        while time.monotonic() < storm_ends:
            failing = cluster.state.failing()
            messages.update(s.error.message for s in failing)
            seen_failing = seen_failing or bool(failing)
            live_while_failing = live_while_failing or (seen_failing and cluster.state.live)
            await asyncio.sleep(0.01)
        proxy.storming = False
        assert seen_failing and not live_while_failing
        # Nothing died silently: every source still has a running task (a resync may have
        # restarted one in a new task, which is how it is meant to be restarted).
        assert set(cluster._global) == sources and all(not task.done() for task in cluster._global.values())
        # Each source gets whichever wrong shape comes next, and says so in its words (which
        # kinds a source meets depends on how often it asks: the stream fails first, then the
        # lists ask with backoff).
        shapes = (
            r"Nomad's answer to /v1/\S+ was not (a list of \w+|an? [\w ]+) \(.*\)\.",
            r"Nomad's answer to /v1/\S+ nests its JSON too deeply to be read\.",
        )
        assert any(re.fullmatch(shape, m) for m in messages for shape in shapes), messages
        assert [j.id for j in cluster.state.jobs] == [JOB]  # the last good data stayed
        # After the storm a new job appears with nothing done but waiting.
        await asyncio.to_thread(register_as, demo, "httpsbackend-tcp-sni-1.nomad", "after-the-storm")
        await until(lambda: "after-the-storm" in {j.id for j in cluster.state.jobs}, timeout=40)
        await until(lambda: cluster.state.live, timeout=40)
        await cluster.close()


async def test_answers_over_the_limit_are_refused_with_their_size(demo, scripted):
    proxy = StormProxy(demo.nomad_url)
    proxy.storming, proxy.large = True, 3 * 2**20
    with scripted(proxy) as server:
        cluster = LiveCluster(Settings(address=server.url, max_answer_bytes=2**20), wait=0.5)
        cluster.start()
        await until(lambda: "jobs" in cluster.state.status and cluster.state.status["jobs"].error)
        error = cluster.state.status["jobs"].error
        assert error.kind == errors.TOO_LARGE
        assert "Nomad's answer to /v1/jobs says it is 3.0 MB, over the 1.0 MB limit: it was not read" in error.message
        await cluster.close()


def register_as(demo, filename: str, job_id: str) -> None:

    from nomadtui.demo.cluster import JOBS_DIR

    job = http.post(f"{demo.nomad_url}/v1/jobs/parse", json={"JobHCL": (JOBS_DIR / filename).read_text()}).json()
    job["ID"] = job["Name"] = job_id
    http.post(f"{demo.nomad_url}/v1/jobs", json={"Job": job}).raise_for_status()
    demo.advance(0)


async def test_after_a_quiet_spell_a_list_asks_again_at_once(demo, scripted):
    """Without the stream, leading edge: the change that ends a quiet spell is shown and the next
    one is waited for at once; only under churn are a list's requests spaced a second apart."""
    with scripted(NoStreamProxy(demo.nomad_url)) as proxy:
        cluster = LiveCluster(Settings(address=proxy.url), wait=30)
        cluster.start()
        await until(lambda: cluster.state.connected and cluster.state.jobs and cluster.state.events.off)
        jobs = cluster.watches["jobs"]
        await asyncio.sleep(2.5)  # quiet for longer than the list's gap (counted from its last request)
        asked = jobs.requests
        modified = cluster.state.jobs[0].job_modify_index
        await asyncio.to_thread(register, demo, "httpsbackend-tcp-sni-1-rolling-update.nomad")
        await until(lambda: cluster.state.jobs[0].job_modify_index > modified)
        # The next request goes out straight after the answer, not after the list's one-second gap.
        await until(lambda: jobs.requests >= asked + 1, timeout=0.5)
        await cluster.close()


async def test_a_server_back_after_a_long_outage_is_used_before_the_backoff_ends(demo, scripted):
    """However long the backoff has grown, a cheap probe notices the server answering again and
    every waiting source retries at once."""
    port = int(demo.nomad_url.rsplit(":", 1)[1])
    cluster = LiveCluster(Settings(address=demo.nomad_url), wait=30)
    cluster.start()
    await until(lambda: cluster.state.connected and cluster.state.jobs)
    demo.stop()
    # Wait until the backoff has grown past several seconds.
    await until(
        lambda: (
            (s := cluster.state.status.get("jobs")) is not None
            and s.retry_at is not None
            and s.retry_at - cluster.clock() > 3
        ),
        timeout=30,
    )
    retry_at = cluster.state.status["jobs"].retry_at
    with DemoServer(Cluster(ManualClock(), seed=9), port=port):
        await until(lambda: cluster.state.connected, timeout=10)
        assert cluster.clock() < retry_at  # not at the end of the backoff
    await cluster.close()


async def test_fabio_is_polled_only_as_often_as_it_matters(demo):
    busy, shown = False, False
    watch = FabioWatch(
        FabioClient(demo.fabio_url),
        publish=lambda *a: None,
        on_status=lambda s: None,
        busy=lambda: busy,
        shown=lambda: shown,
        fast=0.05,
    )
    task = asyncio.get_running_loop().create_task(watch.run())
    await asyncio.sleep(0.6)
    nobody_looking = watch.requests
    busy = True
    watch.poke()
    await asyncio.sleep(0.6)
    task.cancel()
    await watch.client.aclose()
    assert nobody_looking == 1  # then a minute's rest
    assert watch.requests - nobody_looking >= 5


async def test_a_dropped_stream_is_subscribed_again_and_the_lists_resynchronise(demo, scripted):
    proxy = StormProxy(demo.nomad_url)
    with scripted(proxy) as server:
        cluster = LiveCluster(Settings(address=server.url), wait=30)
        cluster.start()
        cluster.focus("default", JOB)
        await until(lambda: cluster.state.events.live and cluster.state.allocations)
        await until(lambda: all(w.following for n, w in cluster.watches.items() if n not in ("nodes", "fabio")))
        jobs = cluster.watches["jobs"]
        asked = jobs.requests
        proxy.cut()
        # A write the dropped stream may miss: the next write ends the old stream at its chunk.
        await asyncio.to_thread(register_as, demo, "httpsbackend-tcp-sni-1.nomad", "while-it-was-down")
        await until(lambda: "while-it-was-down" in {j.id for j in cluster.state.jobs}, timeout=10)
        # Subscribed again, and the jobs list was read again in full (a resync), then followed.
        await until(lambda: cluster.state.events.live and jobs.requests > asked and jobs.following, timeout=10)
        assert cluster.state.live
        await cluster.close()


async def test_records_the_cluster_collects_leave_at_the_next_resync(demo):
    """Nomad's garbage collector deletes terminal allocations, evaluations and deployments with no
    event (nomad/core_sched.go; nomad/state/events.go maps no such deletion): while the stream is
    live, only the periodic re-read of the lists tells that they are gone."""
    roll_out(demo, "httpsbackend-tcp-sni-1-rolling-update.nomad")
    cluster = LiveCluster(Settings(address=demo.nomad_url), wait=30, resync_every=0.5)
    cluster.start()
    cluster.focus("default", JOB)
    await until(lambda: cluster.state.events.live and any(a.terminal for a in cluster.state.allocations), 10)
    await until(lambda: all(w.following for n, w in cluster.watches.items() if n != "nodes"))
    await asyncio.sleep(0.3)  # the stream's resync of the lists is over: from now on, events only
    jobs_read = cluster.watches["jobs"].requests
    demo.advance(2 * 3600)  # past every threshold: a forced GC collects what ended
    http.put(f"{demo.nomad_url}/v1/system/gc").raise_for_status()
    demo.advance(0)
    kept = {a["ID"] for a in http.get(f"{demo.nomad_url}/v1/job/{JOB}/allocations").json()}
    assert kept and all(not a.terminal for a in cluster.state.allocations if a.id in kept)
    await until(lambda: {a.id for a in cluster.state.allocations} == kept, 10)
    dep_ids = {d["ID"] for d in http.get(f"{demo.nomad_url}/v1/job/{JOB}/deployments").json()}
    await until(lambda: {d.id for d in cluster.state.job_deployments} == dep_ids, 10)
    # Jobs the collector reaps are an event: the (possibly huge) jobs list is never read again.
    assert cluster.watches["jobs"].requests == jobs_read
    await cluster.close()
