"""SVG snapshots of every screen an operator meets: the main screen mid-canary (80x24 and
120x40), the plan preview, the revert picker, an error dialog with its caret, the help screen and
a tour step. The demo cluster runs on a manual clock and the app reads that clock, so ages and
countdowns are frozen. The commands in the dialogs name the demo's address, so these tests use
fixed ports and run one after another on one xdist worker (the `snapshots` group).

Review changes with the HTML report, then accept them with `pytest --snapshot-update`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nomadtui.demo.clock import ManualClock
from nomadtui.demo.cluster import JOBS_DIR, Cluster
from nomadtui.demo.server import DemoServer
from nomadtui.harness.drive import Walkthrough
from nomadtui.ui import flows
from nomadtui.ui.screens.dialogs import ErrorScreen, FilePickerScreen
from nomadtui.ui.screens.help import HelpScreen
from nomadtui.ui.screens.main import MainScreen
from nomadtui.ui.screens.revert import RevertScreen

pytestmark = pytest.mark.xdist_group("snapshots")

PORTS = (24646, 29998, 29999)


@pytest.fixture(autouse=True)
def _in_the_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands name job files relative to the working directory: the same in every clone."""
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    # On a loaded machine a parse can take over a second and put the "still parsing" dialog
    # up in between: not what these pictures are of.
    monkeypatch.setattr(flows, "BUSY_AFTER", 60.0)


@pytest.fixture
def demo() -> Iterator[DemoServer]:
    cluster = Cluster(ManualClock(), seed=7)
    with DemoServer(cluster, seed=7, port=PORTS[0], fabio_port=PORTS[1], lb_port=PORTS[2]) as server:
        yield server


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


def test_plan_preview(snap_compare, demo, make_app):
    app = make_app()

    async def run_before(pilot) -> None:
        w = Walkthrough(app, pilot, demo)
        await w.ready()
        await w.open_plan("httpsbackend-tcp-sni-1-canary-1.nomad")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_revert_picker(snap_compare, demo, make_app):
    app = make_app()

    async def run_before(pilot) -> None:
        w = Walkthrough(app, pilot, demo)
        await w.ready()
        await w.run("httpsbackend-tcp-sni-1-rolling-update.nomad")
        await w.until_deployment("successful")
        app.clear_notifications()
        await pilot.press("R")
        await w.until(lambda: isinstance(app.screen, RevertScreen))
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_error_dialog_points_at_the_line(snap_compare, demo, make_app, tmp_path):
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    good = (JOBS_DIR / "httpsbackend-tcp-sni-1.nomad").read_text()
    (jobs / "broken.nomad").write_text(good.replace("count = 3", "count = = 3"))
    app = make_app(jobs_dir=jobs)

    async def run_before(pilot) -> None:
        w = Walkthrough(app, pilot, demo)
        await w.ready()
        await pilot.press("r")
        await w.until(lambda: isinstance(app.screen, FilePickerScreen))
        await pilot.press("enter")
        await w.until(lambda: isinstance(app.screen, ErrorScreen))
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


def test_help_screen(snap_compare, demo, make_app):
    app = make_app()

    async def run_before(pilot) -> None:
        w = Walkthrough(app, pilot, demo)
        await w.ready()
        await pilot.press("question_mark")
        await w.until(lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_a_tour_step(snap_compare, demo, make_app):
    app = make_app(tour=JOBS_DIR)

    async def run_before(pilot) -> None:
        w = Walkthrough(app, pilot, demo)
        await w.ready()
        tour = app.main_screen.tour
        assert tour is not None
        await pilot.press("space")
        await w.until(lambda: tour.phase in ("waiting", "done"))
        while tour.phase != "done":
            await w.advance(10)
        await w.until(lambda: isinstance(app.screen, MainScreen))
        app.clear_notifications()  # toasts expire on the wall clock: a loaded machine keeps them longer
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_an_unhealthy_canary_opened(snap_compare, demo, make_app, size):
    """`enter` on the canary that never turns healthy: its statuses, events and why."""
    from nomadtui.ui.screens.alloc import AllocScreen

    app = make_app()

    async def run_before(pilot) -> None:
        w = Walkthrough(app, pilot, demo)
        await w.ready()
        await w.run("httpsbackend-tcp-sni-1-canary-fail.nomad")
        await w.advance(70)  # past its healthy deadline: the canary is unhealthy
        await pilot.press("tab", "tab", "enter")
        await w.until(lambda: isinstance(app.screen, AllocScreen))
        app.clear_notifications()
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_a_task_log(snap_compare, demo, make_app, size):
    from nomadtui.harness.drive import screen_text
    from nomadtui.ui.screens.logs import LogsScreen

    app = make_app()

    async def run_before(pilot) -> None:
        w = Walkthrough(app, pilot, demo)
        await w.ready()
        await pilot.press("tab", "tab", "enter", "l")
        await w.until(lambda: isinstance(app.screen, LogsScreen))
        await w.until(lambda: "listening on" in screen_text(app))
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
