"""`enter` on an allocation: why it is in the state it is in. Its statuses and their
descriptions, deployment health and when it was decided, each task's state, restarts and recent
events (as `nomad alloc status` lists them), and one line that says what is wrong. `l` opens its
logs; `r` restarts it and `S` stops it (Nomad places a replacement), each confirmed with the
equivalent command."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.events import Key
from textual.widgets import Footer, Label

from ...model import Allocation, CheckResult, format_age, short_id
from ...nomad.errors import ClusterError
from ...state import ClusterState
from ...wire import format_time
from .. import flows
from ..keys import ALLOC_KEYS, CLUSTER_CHANGING_ACTIONS, bindings
from ..messages import ClusterChanged
from ..render import health_text, status_text
from ..text import literal
from ..widgets.panels import LivePanel
from .base import NomadScreen
from .logs import LogsScreen

EVENTS_SHOWN = 10  # Nomad keeps a task's last 10 events
CHECKS_EVERY = 5.0  # seconds between reads of the check results while the screen is open

# What the checks section says before the first answer, or when Nomad has nothing to report.
NO_CHECKS = (
    "Nomad reports no check results for this allocation: it runs and reports only the checks of "
    '`provider = "nomad"` services. Consul runs this job\'s checks; their verdict is the '
    "deployment health above."
)


class AllocScreen(NomadScreen):
    KEYS = ALLOC_KEYS
    BINDINGS = bindings(ALLOC_KEYS)
    HELP_TITLE = "Allocation"

    def __init__(self, alloc_id: str) -> None:
        super().__init__()
        self.alloc_id = alloc_id
        self.checks: tuple[CheckResult, ...] | str | None = None  # None: not read yet; str: why not

    def compose(self) -> ComposeResult:
        yield Label(f"Allocation {short_id(self.alloc_id)}", classes="pane-title", id="alloc-title")
        with VerticalScroll(id="alloc-body"):
            yield LivePanel(id="alloc-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(1.0, self._refresh)  # ages tick; the data itself arrives as messages
        # Check results have no blocking query: read while this screen is open, and only then.
        self.set_interval(CHECKS_EVERY, self._read_checks)
        self._read_checks()
        self._refresh()

    def _read_checks(self) -> None:
        alloc = self.alloc
        if alloc is not None and (self.checks is None or not alloc.terminal):
            self.run_worker(self._fetch_checks(alloc), group="checks", exclusive=True)

    async def _fetch_checks(self, alloc: Allocation) -> None:
        try:
            self.checks = await self.nomad.live.read_checks(alloc)
        except ClusterError as e:
            self.checks = e.short if self.checks is None or isinstance(self.checks, str) else self.checks
        self._refresh()

    def on_key(self, event: Key) -> None:
        self.refuse_read_only(event)

    def on_cluster_changed(self, message: ClusterChanged) -> None:
        self._refresh()

    @property
    def alloc(self) -> Allocation | None:
        return find_allocation(self.nomad.live.state, self.alloc_id)

    def _refresh(self) -> None:
        alloc, now = self.alloc, self.nomad.now()
        checks = self.checks
        self.query_one("#alloc-detail", LivePanel).show(
            (alloc, int(now), checks), lambda: alloc_detail(alloc, now, checks) if alloc else _gone(self.alloc_id)
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in CLUSTER_CHANGING_ACTIONS and self.nomad.settings.read_only:
            return False
        return True

    def action_logs(self) -> None:
        alloc = self.alloc
        if alloc is None or not alloc.tasks:
            self.nomad.notify("This allocation has no tasks that write logs yet.", severity="warning", timeout=3)
            return
        self.nomad.push_screen(LogsScreen(alloc, alloc.tasks[0].name))

    def action_restart(self) -> None:
        flows.restart_allocation(self)

    def action_stop(self) -> None:
        flows.stop_allocation(self)

    def action_back(self) -> None:
        self.dismiss()


def find_allocation(state: ClusterState, alloc_id: str) -> Allocation | None:
    """The freshest record of the allocation: the list's, or a full read if it is newer."""
    listed = next((a for a in state.allocations if a.id == alloc_id), None)
    full = state.alloc_details.get(alloc_id)
    if full is None or (listed is not None and listed.modify_index > full.modify_index):
        return listed
    return full


def _gone(alloc_id: str) -> Text:
    return Text(f"Allocation {short_id(alloc_id)} is no longer listed for this job (garbage-collected?).", style="dim")


def alloc_detail(a: Allocation, now: float, checks: tuple[CheckResult, ...] | str | None = ()) -> RenderableType:
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("ID", literal(a.id))
    head.add_row("Job", literal(f"{a.job_id}  version {a.job_version}  group {a.task_group}"))
    head.add_row("Node", literal(f"{short_id(a.node_id)}  {a.node_name}".rstrip()))
    head.add_row("Desired", Text.assemble(literal(a.desired_status, "bold"), "  ", literal(a.desired_description)))
    client = status_text(a.client_status)
    head.add_row("Client", Text.assemble(client, "  ", literal(a.client_description)))
    health = health_text(a) or Text("not decided", style="dim")
    if a.health_time:
        health.append(f"  at {format_time(a.health_time)[11:19]} ({format_age(a.health_time, now)})", style="dim")
    head.add_row("Deployment health", health)
    head.add_row("Canary", Text("yes", style="bold cyan") if a.canary else Text("no", style="dim"))
    head.add_row("Created", Text(f"{format_age(a.create_time, now)}  ·  modified {format_age(a.modify_time, now)}"))
    parts: list[RenderableType] = [head]
    trouble = a.trouble()
    if trouble:
        parts.append(Text.assemble("\n", ("Why: ", "bold red"), literal(trouble, "red")))
    for task in a.tasks:
        title = Text.assemble(("\nTask ", "bold"), literal(task.name, "bold"), "  ", status_text(task.state))
        title.append(f"  restarts {task.restarts}", style="yellow" if task.restarts else "dim")
        if task.failed:
            title.append("  failed", style="bold red")
        parts.append(title)
        parts.append(_events(task.events[-EVENTS_SHOWN:]))
    if not a.tasks:
        parts.append(Text("\nNo task has started yet (the client has not reported any task state).", style="dim"))
    parts += _checks(checks, now)
    return Group(*parts)


def _checks(checks: tuple[CheckResult, ...] | str | None, now: float) -> list[RenderableType]:
    title = Text("\nChecks", style="bold")
    if checks is None:
        return [title, Text("  reading…", style="dim")]
    if isinstance(checks, str):
        return [title, Text.assemble("  cannot read them: ", literal(checks), style="yellow")]
    if not checks:
        return [title, Padding(Text(NO_CHECKS, style="dim"), (0, 0, 0, 2))]
    table = Table(box=None, padding=(0, 2, 0, 2), header_style="bold dim", pad_edge=False)
    for label in ("Service", "Check", "Task", "Mode", "Status", "Output", "Checked"):
        table.add_column(label, no_wrap=label != "Output")
    styles = {"success": "green", "failure": "bold red", "pending": "yellow"}
    for c in checks:
        table.add_row(
            literal(c.service),
            literal(c.check),
            literal(c.task or "(group)", "" if c.task else "dim"),
            literal(c.mode),
            literal(c.status + (f" {c.status_code}" if c.status_code else ""), styles.get(c.status, "")),
            literal(c.output, limit=300),
            format_age(c.time, now) if c.time else "",
        )
    return [title, table]


def _events(events) -> RenderableType:
    if not events:
        return Text("  no events yet", style="dim")
    table = Table(box=None, padding=(0, 2, 0, 2), header_style="bold dim", pad_edge=False)
    table.add_column("Time", no_wrap=True)
    table.add_column("Type", no_wrap=True)
    table.add_column("Description")
    for e in reversed(events):  # newest first, as `nomad alloc status` shows them
        style = "red" if e.fails_task or (e.exit_code not in (None, 0)) else ""
        table.add_row(
            format_time(e.time)[11:19] if e.time else "",
            literal(e.type, style or "bold"),
            literal(e.message, style),
        )
    return table
