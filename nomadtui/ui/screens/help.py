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


SECTIONS = {"screen": 0, "list": 1, "app": 2}


def key_rows(screen: Screen) -> list[tuple[str, str, str]]:
    """(section, keys, what they do) for every active binding of `screen`, each action once,
    grouped as a person looks for them: this screen's keys, the list's, then everywhere."""
    title = getattr(screen, "HELP_TITLE", "This screen")
    rows: dict[str, tuple[str, str, str]] = {}
    for active in screen.active_bindings.values():
        binding = active.binding
        where = "app" if active.node is screen.app else "screen" if active.node is screen else "list"
        display = binding.key_display or screen.app.get_key_display(binding)
        section, keys, description = rows.get(
            binding.action, (where, "", binding.tooltip or binding.description or binding.action)
        )
        if display not in keys.split(", "):
            keys = f"{keys}, {display}" if keys else display
        rows[binding.action] = (section, keys, description)
    if screen.query(VirtualTable):
        for key in TABLE_KEYS:
            display = ", ".join(screen.app.get_key_display(Binding(k, key.action)) for k in key.keys.split(","))
            rows.setdefault(key.action, ("list", display, key.description))
    ordered = sorted(rows.values(), key=lambda r: (SECTIONS.get(r[0], 3), r[2]))
    names = {"screen": title, "list": "In a list (jobs, allocations)", "app": "Everywhere"}
    return [(names.get(section, section), keys, description) for section, keys, description in ordered]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [("escape,question_mark,q", "close", "Close")]

    def __init__(self, below: Screen) -> None:
        super().__init__()
        self.below = below

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 3, 0, 1))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        # Cells as Text: a key remapped in the config file may look like markup (`[`).
        section = ""
        for where, keys, description in key_rows(self.below):
            if where != section:
                section = where
                table.add_row(Text(""), Text(where, style="bold"))
            table.add_row(literal(keys), literal(description))
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
