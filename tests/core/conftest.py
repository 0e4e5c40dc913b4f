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
    await until(lambda: cluster.state.job is not None and cluster.state.versions and cluster.state.allocations)
    yield cluster
    await cluster.close()
