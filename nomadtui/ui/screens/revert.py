"""The revert picker: versions newest first, the diff from the running version to the one under
the cursor, the equivalent command; `y` reverts to it.

Whether a version is "the same" as the running one is Nomad's word: its diff against the running
version (`/v1/job/:id/versions?diffs=true&diff_version=N`) has no change. An auto-revert writes an
earlier version back as a new one, so the version it copied is then the same as the running one
and is not what a revert should offer first."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, OptionList, Static
from textual.widgets.option_list import Option

from ...difftext import NONE, diff_summary, format_diff
from ...model import JobVersion, format_age
from .. import render
from ..keys import DIALOG_KEYS, bindings
from ..text import literal
from .dialogs import command_block

SAME_MARK = "same spec as running · "


def changes_something(diff: Mapping | None) -> bool | None:
    """Whether a JobDiff (wire shape) changes anything; None when there is no diff to tell."""
    if diff is None:
        return None
    if diff.get("Type") not in (NONE, None):
        return True
    return any(
        changes_something(child) is True
        for key in ("Fields", "Objects", "TaskGroups", "Tasks")
        for child in diff.get(key) or ()
        if isinstance(child, Mapping)
    )


def default_choice(
    versions: Sequence[JobVersion], against_current: Mapping[int, Mapping | None], current: int | None
) -> int | None:
    """The latest stable version whose specification differs from the running one (by Nomad's
    diff against it); failing that a stable one Nomad gave no diff for, then the latest that
    differs at all, then the latest other version."""
    others = [v for v in versions if v.version != current]
    differs = {v.version: changes_something(against_current.get(v.version)) for v in others}
    for wanted in (
        lambda v: v.stable and differs[v.version] is True,
        lambda v: v.stable and differs[v.version] is None,
        lambda v: differs[v.version] is True,
    ):
        chosen = next((v.version for v in others if wanted(v)), None)
        if chosen is not None:
            return chosen
    return others[0].version if others else None


def history_note(versions: Sequence[JobVersion], index: int) -> str:
    """What version `versions[index]` changed (newest first): its diff from the version before
    it that Nomad still keeps, `first version` for v0, `oldest kept` for the oldest Nomad keeps
    (it forgets all but the last few)."""
    v = versions[index]
    if v.version == 0:
        return "first version"
    before = versions[index + 1] if index + 1 < len(versions) else None
    if before is None or v.diff is None:
        return "oldest kept" if before is None else "(no diff)"
    summary = diff_summary(v.diff)
    return summary if before.version == v.version - 1 else f"since v{before.version}: {summary}"


def version_line(versions: Sequence[JobVersion], index: int, current: int | None, same: bool, now: float) -> Text:
    """`v3 ✓ stable   2m8s ago  running  image v1.0.2 → v1.0.3`: one line per version, with what
    it changed; `same spec as running ·` leads for a version whose specification is the running
    one's."""
    v = versions[index]
    text = Text.assemble((f"v{v.version:<3}", "bold"), no_wrap=True, overflow="ellipsis")
    text.append("✓ stable " if v.stable else "         ", style="green")
    text.append(f"{format_age(v.submit_time, now):>11}  ", style="dim")
    text.append("running  " if v.version == current else "         ", style="bold yellow")
    limit = 64
    if same and v.version != current:
        text.append(SAME_MARK, style="yellow")
        limit -= len(SAME_MARK)
    summary = history_note(versions, index)
    text.append_text(literal(summary if len(summary) <= limit else summary[: limit - 1] + "…"))
    return text


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
                    version_line(
                        self.versions,
                        i,
                        self.current,
                        changes_something(self.against_current.get(v.version)) is False,
                        self.now,
                    ),
                    id=str(v.version),
                    disabled=v.version == self.current,
                )
                for i, v in enumerate(self.versions)
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
        chosen = default_choice(self.versions, self.against_current, self.current)
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
        elif changes_something(body) is False:
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
