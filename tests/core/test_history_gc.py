"""The timeline when the cluster garbage-collects what it told (nomadtui/demo/gc.py, after Nomad's
core scheduler, nomad/core_sched.go): the records go from the client's lists, the steps they told
stay. The hand-made version of this is test_history.py's test_what_nomad_garbage_collects_stays_told."""

from __future__ import annotations

import asyncio

import httpx

from nomadtui.state import JOB_WATCHES
from tests.core.test_timeline import Watched
from tests.core.test_timeline import watched as watched  # the fixture
from tests.helpers import register, until

JOB = "httpsbackend-sni-1"


async def test_what_the_demo_collects_stays_told(watched: Watched):
    await watched.run(register, "httpsbackend-tcp-sni-1-rolling-update.nomad")
    await watched.until_successful(1)
    await watched.advance(5)
    state = watched.live.state
    assert len(state.allocations) == 6 and len(state.job_deployments) == 2
    before = watched.timeline.events("default", JOB)
    deployments = [d.id for d in watched.timeline.deployments(state)]
    first = min(state.job_deployments, key=lambda d: d.create_index).id
    told = watched.timeline.deployment_events(state, first)
    assert {e.deployment_id for e in told} >= {first}

    # `nomad system gc`: the stopped allocations, their evaluations and the first deployment go.
    # The reaps publish no events: while the stream is live the lists show them until they are
    # read again (a new focus here; a resubscription), as against Nomad.
    response = await asyncio.to_thread(httpx.put, f"{watched.demo.nomad_url}/v1/system/gc")
    assert response.status_code == 200
    await asyncio.to_thread(watched.demo.advance, 0)
    watched.live.focus(None, None)
    watched.live.focus("default", JOB)
    await until(
        lambda: (
            set(JOB_WATCHES) <= set(watched.live.state.status)
            and len(watched.live.state.allocations) == 3
            and len(watched.live.state.job_deployments) == 1
        )
    )
    state = watched.live.state
    assert watched.timeline.events("default", JOB) == before
    assert [d.id for d in watched.timeline.deployments(state)] == deployments
    assert first not in {d.id for d in state.job_deployments}
    assert watched.timeline.deployment_events(state, first) == told
