"""The application: owns the LiveCluster (watches) and the Actions (commands), shows MainScreen."""

from __future__ import annotations

import gc
import io
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from textual.app import App
from textual.notifications import SeverityLevel

from ..nomad.actions import Actions
from ..nomad.live import LiveCluster
from ..probe import Probe, ProbeConfig, ProbeSnapshot
from ..safetext import SHORT, inert
from ..settings import Settings
from ..state import Change, ClusterState
from ..timeline import Timeline
from .commands import NomadCommands
from .keys import APP_KEYS, bindings
from .messages import ClusterChanged, ProbeChanged
from .screens.help import HelpScreen
from .screens.main import MainScreen

NOTIFY_LIMIT = 400  # characters of a notification: a toast must not cover the screen


class NomadApp(App):
    CSS_PATH = "app.tcss"
    BINDINGS = bindings(APP_KEYS)
    COMMANDS = App.COMMANDS | {NomadCommands}
    TITLE = "nomadtui"

    def __init__(
        self,
        settings: Settings,
        *,
        live: LiveCluster | None = None,
        actions: Actions | None = None,
        clock: Callable[[], float] = time.time,
        jobs_dir: Path | None = None,
        demo: bool = False,
        demo_speed: float = 1.0,
        watch_wait: float = 30.0,
        probe: ProbeConfig | None = None,
        tour: Path | None = None,
        freeze_heap: bool = False,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.live = live or LiveCluster(settings, wait=watch_wait, clock=clock)
        self.actions = actions or Actions(settings)
        self.now = clock
        self.jobs_dir = jobs_dir or settings.jobs_dir or Path.cwd()
        self.demo = demo
        # The demo cluster waits each of a job's durations divided by this (1 on a real cluster):
        # texts that say how long the cluster will wait use what it really waits.
        self.demo_speed = demo_speed
        self.probe_config = probe
        self.probe: Probe | None = None
        self.timeline = Timeline(clock=clock)
        self.tour_jobs = tour  # the article's job files: the guided tour plays them (None: no tour)
        self.main_screen = MainScreen()
        self._freeze_heap = freeze_heap

    def on_mount(self) -> None:
        self.sub_title = inert(self.settings.describe())
        if self.settings.keymap:
            self.set_keymap(dict(self.settings.keymap))
        self.live.subscribe(self._on_state)
        self.live.start()
        if self.probe_config is not None:
            self.probe = Probe(self.probe_config, on_update=self._on_probe)
            self.run_worker(self.probe.run(), group="probe", exit_on_error=False, name="probe")
        self.push_screen(self.main_screen)
        if (
            os.name == "posix"
            and not self.is_headless
            and not self.is_web
            and sys.__stdout__
            and sys.__stdout__.isatty()
        ):
            self.set_interval(2.0, self._exit_when_the_terminal_is_gone)

    def _exit_when_the_terminal_is_gone(self) -> None:
        # A terminal that hangs up without a SIGHUP (its pty closed under a process that has no
        # controlling terminal) leaves Textual's input thread reading end-of-file in a busy loop:
        # one core at 100 % for nothing anyone can see. There is no one left to show anything to.
        import termios  # POSIX: the only terminals where this happens

        try:
            termios.tcgetattr(sys.__stdout__.fileno())  # type: ignore[union-attr]
        except (termios.error, OSError, ValueError):
            self.exit(return_code=1)

    def screen_text(self) -> str:
        """The screen as plain text (dialogs over their screens included), as a person reading
        the terminal sees it: for tests and the headless harness."""
        width, height = self.size
        console = Console(
            width=width, height=height, file=io.StringIO(), record=True, legacy_windows=False, color_system=None
        )
        console.print(self.screen._compositor.render_update(full=True, screen_stack=self._background_screens))
        return console.export_text()

    def _on_state(self, state: ClusterState, what: Change) -> None:
        # Called inside a watch task on this loop: note what happened for the timeline, then hand
        # over as a message so the screen updates in its own turn, never inside the watch.
        if what != "status":
            self.timeline.observe(state)
        if what == "jobs" and self._freeze_heap:
            # What exists once the first jobs are on screen (the libraries, 10,000 job records)
            # lives as long as the app: take it out of the cyclic collector's full passes,
            # which otherwise rescan it all (a 150-200 ms pause at 10,000 jobs) every few seconds.
            self._freeze_heap = False
            self.set_timer(1.0, gc.freeze)
        row = self.live.changed_job if what in ("job_row", "deployments") else None
        self.main_screen.post_message(ClusterChanged(what, row))
        if self.screen is not self.main_screen and hasattr(self.screen, "on_cluster_changed"):
            self.screen.post_message(ClusterChanged(what, row))  # a detail screen over it

    def _on_probe(self, snapshot: ProbeSnapshot) -> None:
        self.main_screen.post_message(ProbeChanged(snapshot))

    async def on_unmount(self) -> None:
        if self.probe is not None:
            await self.probe.aclose()
        await self.live.close()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every notification is plain text: the messages carry job ids, group names and Nomad's
        own words, none of which may be read as markup or reach the terminal as control codes."""
        super().notify(
            inert(message, multiline=True, limit=NOTIFY_LIMIT),
            title=inert(title, limit=SHORT),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    # --- app-wide keys --------------------------------------------------------------------------

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_refresh(self) -> None:
        self.live.refresh()
        self.notify("Refreshing everything from the cluster.", timeout=2)

    def action_save_screenshot(self) -> None:
        name = time.strftime("nomadtui-%Y%m%d-%H%M%S.svg", time.localtime(self.now()))
        path = self.save_screenshot(filename=name, path=str(Path.cwd()))
        self.notify(f"Screenshot saved to {path}", timeout=4)
