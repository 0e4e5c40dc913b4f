"""`?`: every key of the screen below, generated from its live bindings (what `check_action`
allows), so help can never disagree with what the keys do."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Label, Static

from ..keys import TABLE_KEYS
from ..text import literal
from ..widgets.table import VirtualTable

if TYPE_CHECKING:
    from ..app import NomadApp


def key_rows(screen: Screen) -> list[tuple[str, str, str]]:
    """(keys, description, where) for every active binding of `screen`, plus the list keys."""
    rows: dict[str, tuple[str, str, str]] = {}
    for active in screen.active_bindings.values():
        binding = active.binding
        where = "app" if active.node is screen.app else "screen" if active.node is screen else "list"
        display = binding.key_display or screen.app.get_key_display(binding)
        keys, description, place = rows.get(binding.action, ("", binding.description or binding.action, where))
        if display not in keys.split(", "):
            keys = f"{keys}, {display}" if keys else display
        rows[binding.action] = (keys, description, place)
    if screen.query(VirtualTable):
        for key in TABLE_KEYS:
            display = ", ".join(screen.app.get_key_display(Binding(k, key.action)) for k in key.keys.split(","))
            rows.setdefault(key.action, (display, key.description, "list"))
    return sorted(rows.values(), key=lambda r: ({"screen": 0, "list": 1, "app": 2}.get(r[2], 3), r[1]))


class HelpScreen(ModalScreen[None]):
    BINDINGS = [("escape,question_mark,q", "close", "Close")]

    def __init__(self, below: Screen) -> None:
        super().__init__()
        self.below = below

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 3, 0, 1))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        table.add_column(style="dim")
        # Cells as Text: a key remapped in the config file may look like markup (`[`).
        for keys, description, where in key_rows(self.below):
            table.add_row(literal(keys), literal(description), literal(where))
        table.add_row(Text("ctrl+p"), Text("Command palette: jump to a job, run an action"), Text("app"))
        with Vertical(classes="dialog"):
            yield Label("Keys", classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                failing = connection_problems(cast("NomadApp", self.app))
                if failing is not None:
                    yield Static(failing, classes="help-problems")
                yield Static(table)
            if cast("NomadApp", self.app).settings.read_only:
                yield Static(Text("Read-only: keys that change the cluster are switched off.", style="yellow"))
            yield Static(Text.assemble(("esc", "bold"), " close"), classes="dialog-keys")
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(None)


def connection_problems(app: NomadApp) -> Text | None:
    """The whole sentence of every failing source (the status line has room for a few words)."""
    failing = app.live.state.failing()
    if not failing:
        return None
    text = Text("What is failing now\n", style="bold red")
    for status in failing:
        if status.error is not None:
            text.append_text(literal(f"• {status.name}: {status.error.message}", multiline=True))
            text.append("\n")
    return text
