"""`l` on an allocation: a task's logs, followed like `nomad alloc logs -f`. `s` switches
between stdout and stderr; scrolling back pauses following (`f` or the end key resumes it); `/`
searches and `n` jumps to the next match. Lines are shown literally, control characters made
visible: a log is outside text like any other."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.widgets import Footer, Input, Label, Log

from ...model import Allocation, short_id
from ...nomad import logs
from ...nomad.errors import ClusterError
from ...safetext import inert
from ..keys import LOG_KEYS, bindings
from ..widgets.inputs import FilterInput
from .base import NomadScreen

MAX_LINES = 20_000  # lines kept on screen; the start of a long log scrolls away
LONGEST_LINE = 4_000  # characters of one line (a binary blob in a log must not freeze the screen)


class LogsScreen(NomadScreen):
    BINDINGS = bindings(LOG_KEYS)
    HELP_TITLE = "Logs"

    def __init__(self, alloc: Allocation, task: str) -> None:
        super().__init__()
        self.alloc = alloc
        self.task_name = task
        self.kind = "stdout"
        self._partial = ""
        self._needle = ""
        self._problem = ""

    def compose(self) -> ComposeResult:
        yield Label("", classes="pane-title", id="logs-title")
        yield Log(max_lines=MAX_LINES, id="log")
        yield FilterInput(placeholder="search…", id="log-search", classes="filter")
        yield Footer()

    def on_mount(self) -> None:
        self._start()

    def _start(self) -> None:
        self._partial = ""
        self.query_one(Log).clear()
        self._follow()
        self._title()

    def _title(self) -> None:
        log = self.query_one(Log)
        following = "following" if log.auto_scroll else "paused (f or end follows again)"
        text = f"{self.kind} of task {self.task_name}, allocation {short_id(self.alloc.id)} · {following}"
        if self._problem:
            text += f" · {self._problem}"
        self.query_one("#logs-title", Label).update(inert(text))

    @work(exclusive=True, group="logs")
    async def _follow(self) -> None:
        app = self.nomad
        stream = logs.follow(
            app.live.http,
            app.settings,
            self.alloc.id,
            self.task_name,
            self.kind,
            namespace=self.alloc.namespace,
            on_error=self._on_error,
        )
        async for chunk in stream:
            self._show(chunk.text)

    def _on_error(self, error: ClusterError | None) -> None:
        self._problem = "" if error is None else (error.reason or error.message)
        self._title()

    def _show(self, text: str) -> None:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        if not lines:
            return
        log = self.query_one(Log)
        log.auto_scroll = log.is_vertical_scroll_end  # scrolled back: new lines do not pull the view
        log.write_lines(inert(line, limit=LONGEST_LINE) for line in lines)
        self._title()

    def on_mouse_scroll_up(self) -> None:
        self.query_one(Log).auto_scroll = False
        self._title()

    def action_toggle_stream(self) -> None:
        self.kind = "stderr" if self.kind == "stdout" else "stdout"
        self._start()

    def action_follow(self) -> None:
        log = self.query_one(Log)
        log.auto_scroll = True
        log.scroll_end(animate=False)
        self._title()

    def action_search(self) -> None:
        field = self.query_one("#log-search", Input)
        field.add_class("visible")
        field.focus()

    @on(Input.Submitted, "#log-search")
    def _searched(self, event: Input.Submitted) -> None:
        self._needle = event.value
        event.input.remove_class("visible")
        self.query_one(Log).focus()
        self.action_next_match()

    def action_next_match(self) -> None:
        """The next line (after the one at the top of the view) holding the search text."""
        if not self._needle:
            return
        log = self.query_one(Log)
        lines = log.lines
        start = int(log.scroll_y) + 1
        needle = self._needle.lower()
        for offset in range(len(lines)):
            y = (start + offset) % max(1, len(lines))
            if needle in lines[y].lower():
                log.auto_scroll = False
                log.scroll_to(y=y, animate=False)
                self._title()
                return
        self.nomad.notify(f"No line holds {inert(self._needle)!r}.", severity="warning", timeout=3, markup=False)

    def action_back(self) -> None:
        field = self.query_one("#log-search", Input)
        if field.has_class("visible"):
            field.remove_class("visible")
            self.query_one(Log).focus()
            return
        self.dismiss()
