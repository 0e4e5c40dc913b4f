"""`nomadtui screenshots`: drive the app headless against the demo cluster through the article's
walkthrough and write `screenshots/*.svg`.

The demo cluster runs on a manual clock with a fixed seed, and the app reads the same clock, so
the pictures come out the same every time: regenerate them, never edit them.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from ..demo.clock import ManualClock
from ..demo.cluster import JOBS_DIR, Cluster
from ..demo.server import DemoServer
from ..probe import ProbeConfig
from ..settings import Settings
from .app import NomadApp
from .screens.dialogs import FilePickerScreen
from .screens.main import MainScreen
from .screens.plan import PlanScreen

JOB = "httpsbackend-sni-1"
SEED = 42
PORTS = (14646, 19998, 19999)     # fixed, so the commands in the pictures stay the same


def _demo(**kwargs) -> DemoServer:
    try:
        return DemoServer(Cluster(ManualClock(), seed=SEED), seed=SEED, port=PORTS[0], fabio_port=PORTS[1],
                          lb_port=PORTS[2], **kwargs).start()
    except OSError:
        return DemoServer(Cluster(ManualClock(), seed=SEED), seed=SEED, **kwargs).start()


def screen_text(app: NomadApp) -> str:
    """The screen as plain text, as a person reading the terminal sees it."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True, legacy_windows=False,
                      color_system=None)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


class Walkthrough:
    """Keystrokes an operator would type, plus the demo clock, for tests, tours and pictures."""

    def __init__(self, app: NomadApp, pilot, demo: DemoServer) -> None:
        self.app = app
        self.pilot = pilot
        self.demo = demo

    async def until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline:
                raise TimeoutError(f"the screen did not reach the expected state:\n{screen_text(self.app)}")
            await self.pilot.pause(0.02)

    async def ready(self) -> None:
        state = lambda: self.app.live.state  # noqa: E731
        await self.until(lambda: state().job is not None and bool(state().versions) and bool(state().allocations)
                         and bool(state().routes) and len(state().alloc_details) >= 3)
        await self.settled()

    async def settled(self, quiet: float = 0.1, timeout: float = 10.0) -> None:
        """Wait until the app's picture of the cluster stops changing (the demo clock is
        manual, so nothing happens in the cluster until the next advance)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            before = self.app.live.state
            await self.pilot.pause(quiet)
            if self.app.live.state is before:
                return
        raise TimeoutError("the app kept changing")

    async def advance(self, seconds: float) -> None:
        await asyncio.to_thread(self.demo.advance, seconds)
        fabio = self.app.live.watches.get("fabio")
        if fabio is not None:
            fabio.poke()
        await self.settled()

    async def until_deployment(self, status: str, step: float = 10.0, limit: float = 900) -> None:
        waited = 0.0
        while waited <= limit:
            d = self.app.live.state.latest_deployment
            if d is not None and d.status == status:
                return
            await self.advance(step)
            waited += step
        raise TimeoutError(f"no {status} deployment after {limit}s of cluster time")

    async def open_plan(self, filename: str) -> None:
        await self.pilot.press("r")
        await self.until(lambda: isinstance(self.app.screen, FilePickerScreen))
        await self.pilot.press("tab", *str(JOBS_DIR / filename), "enter")
        await self.until(lambda: isinstance(self.app.screen, PlanScreen))

    async def run(self, filename: str) -> None:
        """r, the file, y: what an operator types to run a job file."""
        await self.open_plan(filename)
        await self.pilot.press("y")
        await self.until(lambda: isinstance(self.app.screen, MainScreen))
        await self.advance(0)

    async def promote(self) -> None:
        await self.pilot.press("p")
        await self.until(lambda: not isinstance(self.app.screen, MainScreen))
        await self.pilot.press("y")
        await self.until(lambda: isinstance(self.app.screen, MainScreen))
        await self.advance(0)


def demo_app(demo: DemoServer, **kwargs) -> NomadApp:
    settings = Settings(address=demo.nomad_url, fabio_address=demo.fabio_url, jobs_dir=JOBS_DIR)
    return NomadApp(settings, clock=demo.cluster.clock.now, demo=True, **kwargs)


async def take(out: Path, size: tuple[int, int] = (120, 40)) -> list[Path]:
    written: list[Path] = []
    with _demo() as demo:
        app = demo_app(demo)
        async with app.run_test(size=size) as pilot:
            w = Walkthrough(app, pilot, demo)

            def save(name: str) -> None:
                path = out / f"{name}.svg"
                path.write_text(app.export_screenshot(title=f"nomadtui — {name.replace('-', ' ')}"))
                written.append(path)

            await w.ready()
            save("main")
            await w.open_plan("httpsbackend-tcp-sni-1-canary-1.nomad")
            save("plan-preview")
            await pilot.press("escape")
            await w.until(lambda: isinstance(app.screen, MainScreen))

            await w.run("httpsbackend-tcp-sni-1-rolling-update.nomad")
            await w.advance(31.5)
            save("rolling-update")
            await w.until_deployment("successful")

            await w.run("httpsbackend-tcp-sni-1-canary-1.nomad")
            await w.advance(31)
            save("canary-weighted")
            await w.promote()
            await w.until_deployment("successful")

            await w.run("httpsbackend-tcp-sni-1-canary-2.nomad")
            await w.advance(31)
            save("canary-isolated")
            await w.promote()
            await w.until_deployment("successful")

            await w.run("httpsbackend-tcp-sni-1-blue-green.nomad")
            await w.advance(31)
            save("blue-green")
            await w.promote()
            await w.until_deployment("successful")

            await pilot.press("R")
            await w.until(lambda: not isinstance(app.screen, MainScreen))
            await pilot.pause(0.2)
            save("revert-picker")
            await pilot.press("escape")
    return written


async def take_narrow(out: Path) -> list[Path]:
    with _demo() as demo:
        app = demo_app(demo)
        async with app.run_test(size=(80, 24)) as pilot:
            w = Walkthrough(app, pilot, demo)
            await w.ready()
            await w.run("httpsbackend-tcp-sni-1-canary-1.nomad")
            await w.advance(31)
            path = out / "main-80x24.svg"
            path.write_text(app.export_screenshot(title="nomadtui — 80x24"))
            return [path]


async def take_probe_and_timeline(out: Path) -> list[Path]:
    """Mid-canary, with the probe sending traffic through the demo's listener (real requests, so
    this picture's counts differ a little from run to run)."""
    with _demo() as demo:
        app = demo_app(demo, probe=ProbeConfig(url=f"{demo.lb_url}/", host="mysite-sni-1.com", rate=50))
        async with app.run_test(size=(120, 48)) as pilot:
            w = Walkthrough(app, pilot, demo)
            await w.ready()
            await w.run("httpsbackend-tcp-sni-1-canary-1.nomad")
            await w.advance(31)
            await w.until(lambda: (p := app.probe) is not None and p.snapshot().answered >= 300, timeout=30)
            main = app.screen.query_one("#detail")
            main.scroll_end(animate=False)
            await pilot.pause(0.6)
            path = out / "probe-timeline.svg"
            path.write_text(app.export_screenshot(title="nomadtui — observed traffic and rollout timeline"))
            return [path]


async def take_tour(out: Path) -> list[Path]:
    with _demo() as demo:
        app = demo_app(demo, tour=True)
        async with app.run_test(size=(120, 40)) as pilot:
            w = Walkthrough(app, pilot, demo)
            await w.ready()
            tour = app.main_screen.tour
            for _ in range(2):
                await pilot.press("space")
                await w.until(lambda: tour.phase in ("waiting", "done"))
                while tour.phase != "done":
                    await w.advance(10)
            await pilot.pause(0.3)
            path = out / "tour.svg"
            path.write_text(app.export_screenshot(title="nomadtui — guided tour"))
            return [path]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nomadtui screenshots", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("screenshots"), help="folder for the SVGs (default: screenshots)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ["TZ"] = "UTC"          # the same pictures wherever they are made
    time.tzset()

    async def both() -> list[Path]:
        return (await take(args.out) + await take_narrow(args.out) + await take_tour(args.out)
                + await take_probe_and_timeline(args.out))

    for path in asyncio.run(both()):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
