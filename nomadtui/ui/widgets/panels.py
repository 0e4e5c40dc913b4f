"""Small panels that redraw only when what they show changed."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable

from rich.console import RenderableType
from rich.text import Text
from textual.widgets import Static

from ...model import format_age
from ...state import CONFIRM_WITHIN, ClusterState, WatchStatus
from ..text import short


class LivePanel(Static):
    """A Static whose content is rebuilt only when its fingerprint (the data it shows, ages
    already formatted) changes: an idle cluster writes nothing to the terminal."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._fingerprint: Hashable = object()

    def show(self, fingerprint: Hashable, build: Callable[[], RenderableType]) -> bool:
        if fingerprint == self._fingerprint:
            return False
        self._fingerprint = fingerprint
        self.update(build())
        return True


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
