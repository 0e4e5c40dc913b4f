"""Driving the app as an operator would: key presses through Pilot plus the demo cluster's clock.

Used by the tests, the screenshots command and anything else that plays the walkthrough headless.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from ..demo.cluster import JOBS_DIR
from ..demo.server import DemoServer
from ..settings import Settings
from ..ui.app import NomadApp
from ..ui.screens.dialogs import FilePickerScreen
from ..ui.screens.main import MainScreen
from ..ui.screens.plan import PlanScreen


class Pilot(Protocol):
    """What the harness needs of Textual's Pilot (the UI's own business): keys and waiting."""

    async def press(self, *keys: str) -> None: ...

    async def pause(self, delay: float | None = None) -> None: ...


def screen_text(app: NomadApp) -> str:
    """The screen as plain text, as a person reading the terminal sees it."""
    return app.screen_text()


class Walkthrough:
    """Keystrokes an operator would type, plus the demo clock, for tests, tours and pictures."""

    def __init__(self, app: NomadApp, pilot: Pilot, demo: DemoServer | None) -> None:
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
        await self.until(
            lambda: (
                state().job is not None
                and bool(state().versions)
                and bool(state().allocations)
                and bool(state().routes)
                and len(state().alloc_details) >= 3
                and bool(state().evaluations)  # the timeline's history includes them
            )
        )
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
        assert self.demo is not None, "no demo cluster to advance"
        await asyncio.to_thread(self.demo.advance, seconds)
        self.app.live.hurry()  # the lists and Fabio would otherwise wait out their gaps
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
        """r, then the file: picked from the list when the jobs folder has it, else typed."""
        await self.pilot.press("r")
        await self.until(lambda: isinstance(self.app.screen, FilePickerScreen))
        picker = self.app.screen
        assert isinstance(picker, FilePickerScreen)
        listed = [p.name for p in picker.files]
        if filename in listed:
            await self.pilot.press(*["down"] * listed.index(filename), "enter")
        else:
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


@contextlib.asynccontextmanager
async def driven(
    app: NomadApp, demo: DemoServer, size: tuple[int, int] = (120, 40)
) -> AsyncIterator[tuple[Walkthrough, Pilot]]:
    """The app running headless at `size`, its first picture of the cluster complete:
    `async with driven(app, demo) as (w, pilot):`."""
    async with app.run_test(size=size) as pilot:
        w = Walkthrough(app, pilot, demo)
        await w.ready()
        yield w, pilot


def demo_app(demo: DemoServer, **kwargs) -> NomadApp:
    assert demo.cluster is not None, "the demo server is not started"
    settings = Settings(address=demo.nomad_url, fabio_address=demo.fabio_url, jobs_dir=JOBS_DIR)
    kwargs.setdefault("demo_speed", demo.cluster.clock.speed)
    return NomadApp(settings, clock=demo.cluster.clock.now, demo=True, **kwargs)
