"""Small panels that redraw only when what they show changed."""

from __future__ import annotations

from collections.abc import Callable, Hashable

from rich.console import RenderableType
from rich.text import Text
from textual.widgets import Static

from ...model import format_age
from ...nomad.live import ClusterState


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
    """Cluster address, namespace, connection state and the age of the data; never the token."""
    text = Text(" ")
    if demo:
        text.append(" DEMO ", style="bold reverse cyan")
        text.append(" ")
    if read_only:
        text.append(" READ-ONLY ", style="bold reverse yellow")
        text.append(" ")
    text.append(where, style="bold")
    errors = [s for name, s in state.status.items() if name != "fabio" and s.error is not None]
    if not state.status:
        text.append("  ○ connecting…", style="yellow")
    elif errors:
        worst = errors[0]
        retry = f" retrying in {max(0, round(worst.retry_at - now))}s" if worst.retry_at else ""
        text.append(f"  ○ {worst.error.message}{retry}", style="bold red")
        if state.as_of is not None:
            text.append(f"  showing data from {format_age(state.as_of, now)}", style="yellow")
    else:
        text.append("  ● live", style="green")
        if state.as_of is not None:
            age = max(0, round(now - state.as_of))
            # Blocking queries answer at least every wait period: only a long silence is news.
            if age > 60:
                text.append(f"  data confirmed {format_age(state.as_of, now)}", style="dim")
    fabio = state.status.get("fabio")
    if fabio is not None and fabio.error is not None:
        text.append(f"  ○ {fabio.error.message}", style="yellow")
    return text
