"""The revert picker: versions newest first, the diff from the running version to the one under
the cursor, the equivalent command; `y` reverts to it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, OptionList, Static
from textual.widgets.option_list import Option

from ...difftext import format_diff
from ...model import JobVersion
from .. import render
from ..keys import DIALOG_KEYS, bindings
from ..text import literal
from .dialogs import command_block


def default_choice(versions: Sequence[JobVersion], current: int | None) -> int | None:
    """The latest stable version whose specification differs from the running one."""
    for v in versions:
        if v.version != current and v.stable and (v.diff is None or v.diff.get("Type") != "None"):
            return v.version
    return next((v.version for v in versions if v.version != current), None)


class RevertScreen(ModalScreen[int | None]):
    BINDINGS = bindings(DIALOG_KEYS)

    def __init__(
        self,
        job_id: str,
        versions: Sequence[JobVersion],
        against_current: Mapping[int, Mapping | None],
        current: int | None,
        now: float,
        command: Callable[[int], str],
    ) -> None:
        super().__init__()
        self.job_id = job_id
        self.versions = list(versions)
        self.against_current = against_current
        self.current = current
        self.now = now
        self.command = command

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(literal(f"Revert job {self.job_id} (running version {self.current})"), classes="dialog-title")
            options = [
                Option(
                    render.version_line(v, self.current, self.now),
                    id=str(v.version),
                    disabled=v.version == self.current,
                )
                for v in self.versions
            ]
            yield OptionList(*options, id="versions")
            yield Label("", id="diff-title", classes="dim")
            with VerticalScroll(classes="dialog-body", id="diff-scroll"):
                yield Static(id="diff")
            yield Static(id="command", classes="command")
            yield Static(
                Text.assemble(
                    ("y", "bold"),
                    " revert to the highlighted version   ",
                    ("n", "bold"),
                    "/",
                    ("esc", "bold"),
                    " cancel",
                ),
                classes="dialog-keys",
            )
        yield Footer()

    def on_mount(self) -> None:
        chosen = default_choice(self.versions, self.current)
        options = self.query_one("#versions", OptionList)
        if chosen is not None:
            options.highlighted = options.get_option_index(str(chosen))
        options.focus()
        self._show(chosen)

    @on(OptionList.OptionHighlighted, "#versions")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show(int(str(event.option.id)))

    def _show(self, version: int | None) -> None:
        title = self.query_one("#diff-title", Label)
        diff = self.query_one("#diff", Static)
        command = self.query_one("#command", Static)
        if version is None or version == self.current:
            title.update(Text(""))
            diff.update(Text("No other version to revert to.", style="dim"))
            command.update(Text(""))
            return
        title.update(
            Text(
                f"What reverting changes: running version {self.current} → version {version} "
                "(Nomad writes it as a new version)"
            )
        )
        body = self.against_current.get(version)
        if body is None:
            diff.update(Text("(no diff available)", style="dim"))
        elif body.get("Type") == "None":
            diff.update(
                Text("Same specification as the running version: no new version would be made.", style="yellow")
            )
        else:
            diff.update(render.diff_text(format_diff(body)))
        command.update(command_block(self.command(version)))

    def action_confirm(self) -> None:
        options = self.query_one("#versions", OptionList)
        if options.highlighted is None:
            return
        version = int(str(options.get_option_at_index(options.highlighted).id))
        if version != self.current:
            self.dismiss(version)

    def action_cancel(self) -> None:
        self.dismiss(None)
