"""Modal dialogs: confirm (with the equivalent nomad command), error, choice, file picker.

Every dialog has its own Footer, so the keys shown are the dialog's, not the screen's below.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from ... import jobfile
from ...nomad.errors import ClusterError
from ...safetext import inert
from ..keys import COMMAND_KEYS, DIALOG_KEYS, bindings
from ..text import literal


def command_block(command: str) -> Text:
    return Text.assemble(("$ ", "dim"), literal(command, "bold"))


class ConfirmScreen(ModalScreen[bool]):
    """What will happen, the equivalent nomad command, warnings; `y` confirms, `n`/`esc` cancels."""

    BINDINGS = bindings(DIALOG_KEYS + COMMAND_KEYS)

    def __init__(
        self, title: str, body: RenderableType, command: str = "", *, warning: str = "", confirm_label: str = "Yes"
    ) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.command = command
        self.warning = warning
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(literal(self.title_text), classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(self.body)
            if self.warning:
                yield Static(literal(f"⚠ {self.warning}", multiline=True), classes="warning")
            if self.command:
                yield Label("Equivalent command:", classes="dim")
                yield Static(command_block(self.command), classes="command")
            keys = Text.assemble(
                ("y", "bold"), f" {self.confirm_label}   ", ("n", "bold"), "/", ("esc", "bold"), " cancel"
            )
            if self.command:
                keys.append_text(Text.assemble("   ", ("c", "bold"), " copy the command"))
            yield Static(keys, classes="dialog-keys")
        yield Footer()

    def action_copy_command(self) -> None:
        """The command, whole, to the terminal's clipboard (OSC 52): on screen it may wrap."""
        if self.command:
            self.app.copy_to_clipboard(self.command)
            self.app.notify("The command is on the clipboard (if the terminal allows it).", timeout=3)

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class ErrorScreen(ModalScreen[None]):
    """A failure in a sentence; for a job file, the offending line with a caret."""

    BINDINGS = [("escape,enter,q,n", "close", "Close")]

    def __init__(self, title: str, error: ClusterError | str, *, source: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.error = error
        self.source = source

    def compose(self) -> ComposeResult:
        message = self.error.message if isinstance(self.error, ClusterError) else str(self.error)
        parts: list[RenderableType] = [literal(message, multiline=True)]
        line = getattr(self.error, "line", None)
        if self.source and line:
            parts.append(Text(""))
            parts.append(_excerpt(self.source, line, getattr(self.error, "column", None) or 1))
        with Vertical(classes="dialog error"):
            yield Label(literal(self.title_text), classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(Group(*parts))
            yield Static(Text.assemble(("esc", "bold"), " close"), classes="dialog-keys")
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(None)


def _excerpt(source: str, line: int, column: int) -> Text:
    lines = [text.expandtabs(4) for text in source.splitlines()]
    text = Text()
    for number in range(max(1, line - 2), min(len(lines), line) + 1):
        text.append(f"{number:>4} │ ", style="dim")
        text.append_text(literal(lines[number - 1], "bold" if number == line else ""))
        text.append("\n")
    # The caret sits under the column as shown: escapes and wide characters before it move it.
    before = source.splitlines()[line - 1][: max(0, column - 1)].expandtabs(4) if 0 < line <= len(lines) else ""
    text.append(" " * (7 + cell_len(inert(before))) + "^", style="bold red")
    return text


class ChoiceScreen(ModalScreen[str | None]):
    """Pick one of a few options (enter), or go back (esc)."""

    BINDINGS = [("escape", "cancel", "Back")]

    def __init__(self, title: str, options: Sequence[tuple[str, RenderableType]], *, note: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.options = options
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(literal(self.title_text), classes="dialog-title")
            if self.note:
                yield Static(literal(self.note), classes="dim")
            yield OptionList(*(Option(label, id=value) for value, label in self.options), id="choices")
            yield Static(
                Text.assemble(("enter", "bold"), " choose   ", ("esc", "bold"), " back"), classes="dialog-keys"
            )
        yield Footer()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class FilePickerScreen(ModalScreen[Path | None]):
    """The job files of the jobs folder, or any path typed in."""

    BINDINGS = [("escape", "cancel", "Back")]

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder
        self.files = jobfile.listing(folder)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Run a job file", classes="dialog-title")
            yield Static(literal(f"Job files in {self.folder}", "dim"))
            options = [Option(literal(p.name), id=str(p)) for p in self.files] or [
                Option(Text("(no job files here)", style="dim"), disabled=True)
            ]
            yield OptionList(*options, id="files")
            yield Input(placeholder="…or type a path and press enter", id="path")
            yield Static(
                Text.assemble(
                    ("enter", "bold"), " plan   ", ("tab", "bold"), " type a path   ", ("esc", "bold"), " back"
                ),
                classes="dialog-keys",
            )
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#files" if self.files else "#path").focus()

    @on(OptionList.OptionSelected, "#files")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(Path(str(event.option.id)))

    @on(Input.Submitted, "#path")
    def _typed(self, event: Input.Submitted) -> None:
        if event.value.strip():
            path = Path(event.value.strip()).expanduser()
            self.dismiss(path if path.is_absolute() or path.exists() else self.folder / path)

    def action_cancel(self) -> None:
        self.dismiss(None)


class BusyScreen(ModalScreen[None]):
    """Nomad is still working on something the user asked for: how long it has been, and `esc`
    to stop waiting (what was sent may still finish on Nomad's side)."""

    BINDINGS = [("escape", "stop_waiting", "Stop waiting")]

    def __init__(self, doing: str, task: asyncio.Future, started: float) -> None:
        super().__init__()
        self.doing = doing
        self.work = task
        self.started = started

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(literal(f"Nomad is still {self.doing}"), classes="dialog-title")
            yield Static(id="elapsed")
            yield Static(Text.assemble(("esc", "bold"), " stop waiting"), classes="dialog-keys")
        yield Footer()

    def on_mount(self) -> None:
        self._tick()
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        seconds = int(asyncio.get_running_loop().time() - self.started)
        self.query_one("#elapsed", Static).update(
            Text(f"Waiting for its answer: {seconds}s so far. Nomad is working on it; the connection is fine.")
        )

    def action_stop_waiting(self) -> None:
        self.work.cancel()
        self.dismiss(None)
