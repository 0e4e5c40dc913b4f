"""UI tests drive the real app with Pilot key presses against the demo cluster over HTTP."""

from __future__ import annotations

import pytest

from nomadtui.demo.cluster import JOBS_DIR
from nomadtui.settings import Settings
from nomadtui.ui.app import NomadApp


@pytest.fixture
def make_app(demo):
    def make(tour=None, **settings) -> NomadApp:
        values = dict(address=demo.nomad_url, fabio_address=demo.fabio_url, jobs_dir=JOBS_DIR, cluster="demo")
        values.update(settings)
        return NomadApp(Settings(**values), clock=demo.cluster.clock.now, demo=True, tour=tour)

    return make
