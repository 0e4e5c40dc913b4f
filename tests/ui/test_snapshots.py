"""SVG snapshots of the main screen mid-canary, at 80x24 and 120x40. The demo cluster runs on a
manual clock and the app reads that clock, so ages and countdowns are frozen.

Review changes with the HTML report, then accept them with `pytest --snapshot-update`."""

from __future__ import annotations

import pytest

from nomadtui.harness.drive import Walkthrough


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_main_screen_during_a_canary(snap_compare, demo, make_app, size):
    app = make_app()

    async def run_before(pilot) -> None:
        w = Walkthrough(app, pilot, demo)
        await w.ready()
        await w.run("httpsbackend-tcp-sni-1-canary-1.nomad")
        await w.advance(31)
        app.clear_notifications()
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
