"""Small panels that redraw only when what they show changed."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable

from rich.cells import cell_len
from rich.console import RenderableType
from rich.text import Text
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from ...model import format_age
from ...state import CONFIRM_WITHIN, ClusterState, WatchStatus
from ..text import short


class LivePanel(Widget):
    """A panel whose content is rebuilt only when its fingerprint (the data it shows, ages
    already formatted) changes, and whose redraw is only the cells that changed: an age that
    ticks is those few cells. An idle cluster writes nothing to the terminal."""

    DEFAULT_CSS = "LivePanel { height: auto; }"

    def __init__(self, renderable: RenderableType = "", *, wrap: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self._fingerprint: Hashable = object()
        self._renderable: RenderableType = renderable
        self._wrap = wrap  # False: one line per line of content, cut with an ellipsis
        self._lines: list[Strip] = []
        self._width = -1

    def show(self, fingerprint: Hashable, build: Callable[[], RenderableType], *, keep_height: bool = False) -> bool:
        if fingerprint == self._fingerprint:
            return False
        self._fingerprint = fingerprint
        self.update(build(), keep_height=keep_height)
        return True

    def update(self, renderable: RenderableType, *, keep_height: bool = False) -> None:
        """`keep_height`: content that got shorter leaves blank lines rather than a new height
        (a route's targets that leave and come back during a rollout lay nothing out)."""
        self._renderable = renderable
        if self._width < 0:
            self.refresh(layout=True)  # not drawn yet: the first layout renders it
            return
        old, new = self._lines, self._lines_at(self._width)
        if keep_height and len(new) < len(old):
            new += [Strip.blank(self._width)] * (len(old) - len(new))
        self._lines = new
        self._redraw(old, new)

    def _redraw(self, old: list[Strip], new: list[Strip]) -> None:
        if len(old) != len(new):
            self.refresh(layout=True)  # a new height moves what is below: the pane is redrawn
        else:
            self._refresh_changed(old, new)

    def _refresh_changed(self, old: list[Strip], new: list[Strip]) -> None:
        blank = Strip.blank(self._width)
        for y in range(max(len(old), len(new))):
            before = old[y] if y < len(old) else blank
            after = new[y] if y < len(new) else blank
            span = changed_span(before, after)
            if span is not None:
                self.refresh(Region(span[0], y, span[1] - span[0], 1))

    def _visible(self, lines: list[Strip]) -> list[Strip]:
        return lines

    def _lines_at(self, width: int) -> list[Strip]:
        console = self.app.console
        options = console.options.update(width=width, height=None, highlight=False)
        if not self._wrap:
            options = options.update(no_wrap=True, overflow="ellipsis")
        return [Strip(line, width) for line in console.render_lines(self._renderable, options, pad=True)]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if width != self._width:
            self._width, self._lines = width, self._lines_at(width)
        return len(self._lines)

    def render_line(self, y: int) -> Strip:
        width = self.content_size.width
        if width != self._width:
            self._width, self._lines = width, self._lines_at(width)
        lines = self._visible(self._lines)
        if y >= len(lines):
            return Strip.blank(width, self.rich_style)
        # simplify(): one escape sequence per run of equal style, not one per Rich segment
        return lines[y].apply_style(self.rich_style).simplify()


class TailPanel(LivePanel):
    """A panel sized by the layout, not by its content (a new line lays nothing out): its first
    `head` lines (a title, a header), then as much of the rest as fits, the newest line always
    in view. When the newest would fall off the bottom the view jumps by half a panel, as a
    pager does, so that most new lines are one line drawn rather than every line moved up."""

    def __init__(self, *, head: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self._head = head
        self._top = 0  # the first line of the body in view
        self._top_for_size = (-1, -1)  # the height and number of lines `_top` was chosen for

    def _redraw(self, old: list[Strip], new: list[Strip]) -> None:
        before = self._visible(old)
        head = self._head
        appended = len(new) >= len(old) and new[head : len(old)] == old[head:]
        self._top = self._top_for(new, appended=appended)
        self._refresh_changed(before, self._visible(new))

    def _top_for(self, lines: list[Strip], *, appended: bool = False) -> int:
        """Lines appended keep the view until the newest would fall off (then it jumps by half);
        other content (another rollout, steps inserted from the records) shows its tail."""
        height = self.content_size.height
        self._top_for_size = (height, len(lines))
        body, room = len(lines) - self._head, max(1, height - self._head)
        if body <= room:
            return 0
        if not appended:
            return body - room
        if self._top < body <= self._top + room:
            return self._top  # the newest line is still in view
        return body - max(1, room // 2)

    def _visible(self, lines: list[Strip]) -> list[Strip]:
        # A new height, or lines made again at a new width (more or fewer of them): show the tail.
        if (self.content_size.height, len(lines)) != self._top_for_size:
            self._top = self._top_for(lines)
        room = max(1, self.content_size.height - self._head)
        return lines[: self._head] + lines[self._head + self._top : self._head + self._top + room]


def changed_span(before: Strip, after: Strip) -> tuple[int, int] | None:
    """The columns [start, end) where two lines of equal width differ (None: they do not)."""
    if before == after:
        return None
    a, b = _cells(before), _cells(after)
    if len(a) != len(b):
        return 0, max(len(a), len(b))
    start = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)
    if start is None:
        return None  # the same cells, cut into other segments
    end = len(a) - next(i for i, (x, y) in enumerate(zip(reversed(a), reversed(b))) if x != y)
    return start, end


def _cells(strip: Strip) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for segment in strip:
        for char in segment.text:
            out.append((char, segment.style))
            out.extend([("", segment.style)] * (cell_len(char) - 1))  # a wide character's second cell
    return out


def status_line(state: ClusterState, where: str, now: float, *, read_only: bool, demo: bool) -> Text:
    """The state of the data first (live, or offline and how old, when the next try is and why
    in a few words), so it is whole at 80 columns; then where (address and namespace, never the
    token). The whole sentence of a failure is in the help screen (`?`). Never "live" while any
    source (a Nomad watch, the event stream, Fabio) is failing."""
    text = Text(" ", no_wrap=True, overflow="ellipsis", end="")
    failing = state.failing()
    nomad = [s for s in failing if s.name not in ("events", "fabio")]
    if nomad:
        worst = nomad[0]
        age = f" {_age(state.as_of, now)}" if state.as_of is not None else ""
        text.append(f"○ offline{age}", style="bold red")
        text.append(f" · {_retry(worst, now)}", style="yellow")
        text.append_text(_cause("Nomad", worst))
    elif failing:
        worst = failing[0]
        source = "Fabio" if worst.name == "fabio" else "event stream"
        age = f" {_age(worst.as_of, now)}" if worst.as_of is not None else ""
        text.append(f"◐ {source} failing{age}", style="bold yellow")
        text.append(f" · {_retry(worst, now)}", style="yellow")
        text.append_text(_cause("Fabio" if worst.name == "fabio" else "Nomad", worst))
    elif not state.connected:
        text.append("○ connecting…", style="yellow")
    else:
        text.append("● live", style="green")
        if state.events.off:
            text.append(" · polling", style="dim")  # blocking queries: the stream is refused
        # Blocking queries answer at least every wait period: only a longer silence is news.
        if state.as_of is not None and now - state.as_of > CONFIRM_WITHIN:
            text.append(f" · confirmed {format_age(state.as_of, now)}", style="dim")
    text.append("  ")
    if demo:
        text.append(" DEMO ", style="bold reverse cyan")
        text.append(" ")
    if read_only:
        text.append(" READ-ONLY ", style="bold reverse yellow")
        text.append(" ")
    text.append_text(short(where, "bold"))
    return text


def _cause(service: str, status: WatchStatus) -> Text:
    return Text.assemble(" · ", short(f"{service}: {status.error.short}" if status.error else service, "red"))


def _age(then: float | None, now: float) -> str:
    return format_age(then, now).removesuffix(" ago") or "0s"


def _retry(status: WatchStatus, now: float) -> str:
    if status.retrying or status.retry_at is None:
        return "retrying now"
    return f"retry in {max(1, math.ceil(status.retry_at - now))}s"
