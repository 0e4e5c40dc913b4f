"""Fixtures of the client-layer tests."""

from __future__ import annotations

import pytest

from nomadtui.nomad.live import LiveCluster
from nomadtui.settings import Settings
from tests.helpers import until

JOB = "httpsbackend-sni-1"


@pytest.fixture
async def live(demo):
    cluster = LiveCluster(Settings(address=demo.nomad_url, fabio_address=demo.fabio_url), wait=30)
    cluster.start()
    cluster.focus("default", JOB)
    # The job's first answers each come on their own: wait for every one the tests read.
    await until(
        lambda: (
            cluster.state.job is not None
            and cluster.state.versions
            and cluster.state.allocations
            and cluster.state.summary is not None
            and cluster.state.latest_deployment is not None
        )
    )
    yield cluster
    await cluster.close()
