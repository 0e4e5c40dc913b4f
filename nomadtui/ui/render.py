"""Pure functions from model records to Rich renderables and table rows: no widgets, no I/O.

Kept apart from the widgets so the look of every panel is decided in one place and can be
tested without running the app.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, JustifyMethod, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from ..difftext import diff_summary
from ..model import (
    Allocation,
    Deployment,
    GroupState,
    Job,
    JobSummary,
    JobVersion,
    PlacementFailure,
    Plan,
    Route,
    format_age,
    short_id,
)
from ..probe import version_key
from ..safetext import inert
from ..state import ClusterState
from ..timeline import EventKind
from ..wire import format_duration, format_time
from .text import literal
from .widgets.table import Column, Row

STATUS_STYLE = {
    "running": "bold green",
    "successful": "green",
    "failed": "bold red",
    "cancelled": "yellow",
    "paused": "bold yellow",
    "pending": "yellow",
    "dead": "dim",
    "complete": "dim",
    "lost": "red",
    "blocked": "yellow",
}
BAR_WIDTH = 24


def status_text(status: str) -> Text:
    return literal(status, STATUS_STYLE.get(status.split(" ")[0], ""))


def bar(value: float, total: float, width: int = BAR_WIDTH, style: str = "green", back: str = "grey37") -> Text:
    """A fixed-width bar of full blocks: cheap to draw and identical in every terminal."""
    filled = 0 if total <= 0 else round(width * max(0.0, min(1.0, value / total)))
    return Text("█" * filled, style=style) + Text("░" * (width - filled), style=back)


# --- jobs list ---------------------------------------------------------------------------------

JOB_COLUMNS = (
    Column("  ID", max_width=24),
    Column("Ver", justify="right"),
    Column("Status", max_width=9, min_width=7),
    Column("Run", justify="right"),
)


def rollout_mark(d: Deployment | None) -> Text:
    """One cell: ▶ rolling out, ◆ canaries starting, ✗ a canary unhealthy, ⚑ waiting for
    promotion, ‖ paused."""
    if d is None or not d.active:
        return Text("")
    if d.status == "paused":
        return Text("‖", style="bold yellow")
    if d.needs_promotion and d.canaries_unhealthy:
        return Text("✗", style="bold red")
    if d.needs_promotion:
        if d.canaries_healthy and not d.auto_promotes:
            return Text("⚑", style="bold magenta")
        return Text("◆", style="cyan")
    return Text("▶", style="bold green")


def job_row(job: Job, d: Deployment | None, focused: Job | None, all_namespaces: bool = False) -> Row:
    version = focused.version if focused is not None else (d.job_version if d is not None else None)
    running = job.summary.running if job.summary else 0
    desired = (
        focused.desired
        if focused is not None
        else (sum(g.desired_total for g in d.groups.values()) if d is not None and d.groups else None)
    )
    run = f"{running}/{desired}" if desired is not None else str(running)
    name = literal(job.id)
    if all_namespaces:  # every namespace in one list: each job says which it is in
        name = Text.assemble(literal(f"{job.namespace}/", "dim"), name)
    return Row(
        f"{job.namespace}/{job.id}",
        (
            rollout_mark(d).append(" ") + name if d is not None and d.active else Text("  ") + name,
            "" if version is None else str(version),
            status_text(job.display_status),
            Text(run, style="yellow" if desired is not None and running < desired else ""),
        ),
        search=f"{job.id} {job.display_type} {job.display_status} {job.namespace}",
    )


class JobRows:
    """The jobs list's rows, rebuilt only for jobs whose record or latest deployment changed:
    with 10,000 jobs a rebuild from scratch costs a fifth of a second."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[Job, Deployment | None, Job | None, Row]] = {}
        self._all_namespaces = False

    def rows(self, state: ClusterState, *, all_namespaces: bool = False) -> list[Row]:
        if all_namespaces != self._all_namespaces:
            self._cache, self._all_namespaces = {}, all_namespaces
        latest = state.latest_by_job()
        out, cache = [], {}
        for job in state.jobs:
            key = f"{job.namespace}/{job.id}"
            d = latest.get((job.namespace, job.id))
            focused = state.job if state.job is not None and state.job.id == job.id else None
            hit = self._cache.get(key)
            if hit is None or hit[0] is not job or hit[1] is not d or hit[2] is not focused:
                hit = (job, d, focused, job_row(job, d, focused, all_namespaces))
            cache[key] = hit  # the same tuple when nothing changed: no new long-lived objects
            out.append(hit[3])
        self._cache = cache
        return out

    def row_for(self, state: ClusterState, key: tuple[str, str]) -> Row | None:
        """The row of one job (namespace, id), rebuilt and remembered: a change to one job's
        row costs that row."""
        job = state.job_stub(key)
        if job is None:
            return None
        d = state.latest_by_job().get(key)
        focused = state.job if state.job is not None and (state.job.namespace, state.job.id) == key else None
        row = job_row(job, d, focused, self._all_namespaces)
        self._cache[f"{key[0]}/{key[1]}"] = (job, d, focused, row)
        return row

    def focused_row(self, state: ClusterState) -> Row | None:
        job = state.job
        if job is None:
            return None
        d = state.latest_by_job().get((job.namespace, job.id))
        stub = state.job_stub((job.namespace, job.id))
        return job_row(stub, d, job, self._all_namespaces) if stub is not None else None


# --- the job in focus --------------------------------------------------------------------------


def job_header(job: Job | None, now: float) -> RenderableType:
    if job is None:
        return Text("Select a job", style="dim")
    line = Text.assemble(
        literal(job.id, "bold"), "  ", literal(job.display_type), "  ", no_wrap=True, overflow="ellipsis"
    )
    if job.version is not None:
        line.append(f"version {job.version}", style="bold")
        line.append(" (stable)" if job.stable else " (not stable)", style="green" if job.stable else "yellow")
        line.append("  ")
    line.append_text(status_text(job.display_status))
    second = Text(style="dim", no_wrap=True, overflow="ellipsis")
    if job.submit_time:
        second.append(f"submitted {format_age(job.submit_time, now)}")
    images = ", ".join(dict.fromkeys(job.images))
    if images:
        second.append(f"{'  ' if second else ''}image {inert(images)}")
    return Group(line, second)


SUMMARY_COLUMNS = (
    ("Queued", "queued", ""),
    ("Starting", "starting", ""),
    ("Running", "running", "green"),
    ("Failed", "failed", "red"),
    ("Complete", "complete", ""),
    ("Lost", "lost", "red"),
    ("Unknown", "unknown", ""),
)


def summary_table(summary: JobSummary | None) -> RenderableType:
    """`nomad job status`'s Summary: client status counts per task group. Where the whole table
    does not fit, the columns that are zero in every group go (Running always stays)."""
    groups = summary.groups if summary else {}
    shown = [c for c in SUMMARY_COLUMNS if c[1] == "running" or any(getattr(g, c[1]) for g in groups.values())]
    return FirstThatFits(_summary(groups, SUMMARY_COLUMNS), _summary(groups, shown))


def _summary(groups: Mapping, columns: Sequence[tuple[str, str, str]]) -> Table:
    table = _table("Task Group", *(label for label, _, _ in columns))
    for name, g in groups.items():
        counts = [(getattr(g, attr), style) for _, attr, style in columns]
        table.add_row(literal(name), *(Text(str(n), style=style if n else "") for n, style in counts))
    return table


class FirstThatFits:
    """The first of several renderings whose natural width fits the space given (else the last)."""

    def __init__(self, *choices: RenderableType) -> None:
        self.choices = choices

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        unbounded = options.update_width(10_000)  # Measurement.get caps at the width given
        for choice in self.choices[:-1]:
            if Measurement.get(console, unbounded, choice).maximum <= options.max_width:
                yield choice
                return
        yield self.choices[-1]

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        widest = Measurement.get(console, options, self.choices[0])
        narrowest = Measurement.get(console, options, self.choices[-1])
        return Measurement(narrowest.minimum, widest.maximum)


def _table(*labels: str, left: tuple[str, ...] = ("Task Group", "Progress Deadline")) -> Table:
    table = Table(box=None, padding=(0, 2, 0, 0), pad_edge=False, show_edge=False, header_style="bold dim")
    for label in labels:
        table.add_column(label, no_wrap=True, justify="left" if label in left else "right")
    return table


def deployment_panel(
    d: Deployment | None, now: float, *, compact: bool = False, speed: float = 1.0, read_only: bool = False
) -> RenderableType:
    """The latest deployment as `nomad deployment status` shows it, plus a bar per group.
    `speed`: the demo's (it waits each of a job's durations divided by it); 1 on a real cluster.
    `read_only`: no key is offered that is not there."""
    if d is None:
        return Text("No deployments", style="dim")
    title = Text.assemble(("Latest deployment ", "bold"), literal(short_id(d.id), "bold"), "  ")
    title.append_text(status_text(d.status))
    title.append(f"  job version {d.job_version}")
    if d.needs_promotion and d.canaries_unhealthy:
        waiting = sum(g.desired_canaries for g in d.groups.values() if g.awaiting_promotion)
        title.append(f"  ✗ canary unhealthy ({d.canaries_unhealthy} of {waiting})", style="bold red")
    elif d.needs_promotion:
        if d.auto_promotes:
            title.append("  ◆ auto-promotes when healthy", style="cyan")
        elif d.canaries_healthy:
            title.append("  ⚑ ready to promote" + ("" if read_only else " (p)"), style="bold magenta")
        else:
            title.append("  ◆ canaries starting", style="cyan")
    has_canaries = any(g.has_canaries for g in d.groups.values())
    has_deadline = any(g.progress_deadline for g in d.groups.values())
    labels = (
        ["Task Group"]
        + (["Promoted"] if has_canaries else [])
        + ["Desired"]
        + (["Canaries"] if has_canaries else [])
        + ["Placed", "Healthy", "Unhealthy"]
    )
    table = _table(*labels)
    bars = Text()
    width = max(cell_len(inert(g.name)) for g in d.groups.values()) if d.groups else 0
    for g in d.groups.values():
        cells: list[Text | str] = [literal(g.name)]
        if has_canaries:
            cells.append(str(g.promoted).lower() if g.has_canaries else "N/A")
        cells.append(str(g.desired_total))
        if has_canaries:
            cells.append(str(g.desired_canaries))
        cells += [
            str(g.placed),
            Text(str(g.healthy), style="green" if g.healthy else ""),
            Text(str(g.unhealthy), style="bold red" if g.unhealthy else ""),
        ]
        table.add_row(*cells)
        bars.append_text(literal(g.name))
        bars.append(" " * (width - cell_len(inert(g.name)) + 2))
        bars.append_text(group_bar(g, 10 if compact else 16))
        if has_deadline:
            bars.append("  deadline ", style="dim")
            bars.append_text(_deadline(g, d, now, speed))
        bars.append("\n")
    bars.rstrip()
    description = literal(d.status_description, "dim")
    description.no_wrap, description.overflow = True, "ellipsis"
    return Group(title, description, table, bars)


def group_bar(g: GroupState, width: int = BAR_WIDTH) -> Text:
    """Healthy of desired (canaries of desired canaries while unpromoted), unhealthy in red."""
    total = g.desired_canaries if g.awaiting_promotion else g.desired_total
    healthy = min(g.healthy, total)
    filled = 0 if total <= 0 else round(width * healthy / total)
    bad = 0 if total <= 0 else min(width - filled, round(width * g.unhealthy / total))
    text = (
        Text("█" * filled, style="green")
        + Text("█" * bad, style="red")
        + Text("░" * (width - filled - bad), style="grey37")
    )
    label = "canaries healthy" if g.awaiting_promotion else "healthy"
    text += Text(f" {healthy}/{total} {label}")
    if g.unhealthy:
        text += Text(f", {g.unhealthy} unhealthy", style="bold red")
    return text


def _deadline(g: GroupState, d: Deployment, now: float, speed: float) -> Text:
    """A countdown while the deployment moves; before the first placement, the deadline's length
    as the cluster will apply it."""
    if not g.progress_deadline:
        return Text("N/A")
    if g.require_progress_by is None:
        return Text(format_duration(round(g.progress_deadline / speed)), style="dim")
    if d.status == "paused":
        return Text("paused", style="yellow")
    if not d.active:  # the time of day only: the line must not wrap under the bar
        return Text(f"was {format_time(g.require_progress_by)[11:19]}", style="dim")
    left = g.require_progress_by - now
    when = (
        "in " + format_age(g.require_progress_by, now).removesuffix(" from now")
        if left > 0
        else "passed " + format_age(g.require_progress_by, now)
    )
    return Text(when, style="bold red" if left < 30 else "")


ALLOC_COLUMNS = (
    Column("ID"),
    Column("Node ID"),
    Column("Task Group", max_width=20, optional=True),
    Column("Ver", justify="right", min_width=3),
    Column("Desired"),
    Column("Status", min_width=8),
    Column("Health", min_width=11),
    Column("Created", min_width=9),
    Column("Modified", min_width=9),
)


def health_text(a: Allocation) -> Text:
    text = Text()
    if a.terminal:
        return text
    if a.canary:
        text.append("◆ ", style="bold cyan")
    if a.healthy is True:
        text.append("✓ healthy", style="green")
    elif a.healthy is False:
        text.append("✗ unhealthy", style="bold red")
    elif a.running:
        text.append("… pending", style="yellow")
    return text


def alloc_rows(allocs: Sequence[Allocation], nodes: Mapping[str, str], now: float) -> list[Row]:
    """`nomad job status`'s Allocations: running and pending first, then stopped ones (dimmed),
    each newest first; the Task Group column
    is left empty when the job has a single group (the header says which)."""
    single = len({a.task_group for a in allocs}) <= 1
    rows = []
    for a in sorted(allocs, key=lambda a: (a.terminal, -a.create_index)):
        style = "dim" if a.terminal else ""
        rows.append(
            Row(
                a.id,
                (
                    short_id(a.id),
                    short_id(a.node_id),
                    "" if single else a.task_group,
                    str(a.job_version),
                    a.desired_status,
                    status_text(a.client_status) if not a.terminal else a.client_status,
                    health_text(a),
                    format_age(a.create_time, now),
                    format_age(a.modify_time, now),
                ),
                style,
                search=f"{a.id} {a.node_id} {nodes.get(a.node_id, '')} {a.task_group} v{a.job_version} "
                f"{a.desired_status} {a.client_status} {'canary' if a.canary else ''}",
            )
        )
    return rows


# --- Fabio -------------------------------------------------------------------------------------


def routes_panel(
    routes: Sequence[Route],
    version_label: Callable[[int | None], str],
    *,
    configured: bool,
    connected: bool = True,
    compact: bool = False,
) -> RenderableType:
    """Each route (host + path, options) with a weight bar per target, labelled by version;
    canary targets and routes that only carry canaries are marked."""
    if not configured:
        return Text("Fabio: not configured (set FABIO_ADDR or --fabio-addr)", style="dim")
    if not routes:
        return Text("No Fabio routes for this job's services" if connected else "Fabio is unreachable", style="dim")
    lines = Text(no_wrap=True, overflow="ellipsis")
    width = 12 if compact else 20
    for route in routes:
        lines.append_text(literal(route.src, "bold"))
        lines.append_text(literal("  " + " ".join(f"{k}={v}" for k, v in sorted(route.options.items())), "dim"))
        if route.canary:
            lines.append("  ◆ canary route", style="bold cyan")
        lines.append("\n")
        labels = [inert(version_label(t.job_version)) for t in route.targets]
        label_width = max(cell_len(text) for text in labels)
        for t, label in zip(route.targets, labels):
            style = "cyan" if t.canary else "green"
            lines.append(f"  {label}{' ' * (label_width - cell_len(label))}  ", style=f"bold {style}")
            lines.append_text(bar(t.weight, 1.0, width, style=style))
            lines.append(f" {t.weight * 100:5.1f}%  ")
            lines.append_text(literal(t.dst.split("://")[-1].rstrip("/"), "dim"))
            if t.alloc_id:
                lines.append_text(literal(f"  {short_id(t.alloc_id)}", "dim"))
            if t.canary:
                lines.append("  ◆ canary", style="bold cyan")
            lines.append("\n")
    lines.rstrip()
    return lines


# --- versions ----------------------------------------------------------------------------------


def version_line(v: JobVersion, current: int | None, now: float) -> Text:
    """`v3 ✓ stable   2m8s ago  image v1.0.2 → v1.0.3; Canary 0 → 1`: one line per version."""
    text = Text.assemble((f"v{v.version:<3}", "bold"), no_wrap=True, overflow="ellipsis")
    text.append("✓ stable " if v.stable else "         ", style="green")
    text.append(f"{format_age(v.submit_time, now):>11}  ", style="dim")
    text.append("running  " if v.version == current else "         ", style="bold yellow")
    summary = diff_summary(v.diff) if v.diff else "first version"
    text.append_text(literal(summary if len(summary) <= 64 else summary[:63] + "…"))
    return text


# --- plans -------------------------------------------------------------------------------------


def diff_text(text: str) -> RenderableType:
    """`nomad job plan` colours: added green, deleted red, edited yellow, annotations magenta.
    A long value wraps under itself, not back at the first column."""
    lines = []
    for line in text.splitlines():
        stripped = line.lstrip()
        style = (
            "green"
            if stripped.startswith("+ ")
            else "red"
            if stripped.startswith("- ")
            else "yellow"
            if stripped.startswith("+/- ")
            else ""
        )
        head, paren, tail = line.rpartition(" (")
        if paren and line.endswith(")") and ("forces" in tail or tail[:1].isdigit()):
            out = Text.assemble(literal(head, style), literal(f" ({tail}", "magenta"))
        else:
            out = literal(line, style)
        value = _DIFF_VALUE.match(line)
        lines.append((out, value.end() if value else len(line) - len(stripped) + 2))
    return Hanging(lines)


_DIFF_VALUE = re.compile(r"^\s*(?:\+/-|[+\-~])?\s*[^:\s][^:]*:\s+")


class Hanging:
    """Lines whose wrapped rest starts under the line's value (its indent), not at column 0."""

    def __init__(self, lines: list[tuple[Text, int]]) -> None:
        self.lines = lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        for text, indent in self.lines:
            if text.cell_len <= width:
                yield text
                continue
            indent = min(indent, width // 2)
            head, value = text[:indent], text[indent:]
            for i, part in enumerate(value.wrap(console, max(1, width - indent), overflow="fold")):
                yield (head if i == 0 else Text(" " * indent)) + part


def placement_failures(plan: Plan) -> Text:
    """The scheduler dry-run's failures as `nomad job plan` prints them."""
    lines = []
    for g in plan.placement_failures:
        m = g.placement_failure or PlacementFailure()
        lines.append(
            (f'Task Group "{g.name}" (failed to place {m.failed} allocation{"s" if m.failed > 1 else ""}):', "bold red")
        )
        if not m.nodes_evaluated:
            dcs = ", ".join(f"{dc} ({n})" for dc, n in m.nodes_available.items()) or "none of the job's datacenters"
            lines.append((f"  * No nodes were eligible for evaluation (datacenters: {dcs})", ""))
        lines += [
            (f'  * Dimension "{dim}" exhausted on {n} nodes', "") for dim, n in sorted(m.dimension_exhausted.items())
        ]
        if m.nodes_exhausted:
            lines.append((f"  * Resources exhausted on {m.nodes_exhausted} nodes", ""))
        lines += [(f'  * Constraint "{c}" filtered {n} nodes', "") for c, n in sorted(m.constraint_filtered.items())]
    return Text("\n").join(literal(line, style) for line, style in lines)


# --- observed traffic and the rollout timeline --------------------------------------------------

SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float | None]) -> str:
    """Shares (0..1) as block characters, oldest first; a gap where nothing was seen."""
    return "".join(" " if v is None else SPARK[min(len(SPARK) - 1, int(v * (len(SPARK) - 1) + 0.5))] for v in values)


PROBE_COLUMNS: tuple[tuple[str, JustifyMethod], ...] = (
    ("Ver", "left"),
    ("Observed", "left"),
    ("95% CI", "right"),
    ("Weight", "right"),
    ("Healthy", "right"),
    ("p50/95/99 ms", "right"),
    ("Trend", "left"),
)


def probe_panel(snapshot, expectation, problems, target: str, *, compact: bool = False) -> RenderableType:
    """Per version: observed share (95 % interval) beside Fabio's configured weight, healthy
    allocations, latency percentiles, a sparkline of the share over time; then errors, findings."""
    if snapshot is None:
        return Text(f"Probing {target}: waiting for answers…", style="dim")
    head = Text.assemble(
        ("Observed traffic", "bold"),
        (f"  {snapshot.rate:g}/s · {snapshot.answered} answers in the window · ", "dim"),
        literal(target, "dim"),
        overflow="ellipsis",
        no_wrap=True,
    )
    configured = dict(expectation.configured) if expectation is not None else {}
    healthy = dict(expectation.healthy) if expectation is not None else {}
    canaries = expectation.canaries if expectation is not None else frozenset()
    stats = {v.version: v for v in snapshot.versions}

    def versions_table(dropped: tuple[str, ...]) -> Table:
        table = Table(box=None, padding=(0, 2, 0, 0), pad_edge=False, show_edge=False, header_style="bold dim")
        for label, justify in PROBE_COLUMNS:
            if label not in dropped:
                table.add_column(label, justify=justify, no_wrap=True)
        for label in sorted(set(stats) | set(configured), key=version_key):
            v = stats.get(label)
            style = "cyan" if label in canaries else "green"
            share = v.share if v else 0.0
            cells: dict[str, RenderableType] = {
                "Ver": literal(label + (" ◆" if label in canaries else ""), f"bold {style}"),
                "Observed": bar(share, 1.0, 8, style=style) + Text(f" {share * 100:5.1f}%"),
                "95% CI": f"{v.low * 100:.0f}–{v.high * 100:.0f}%" if v is not None and v.count else "",
                "Weight": f"{configured[label] * 100:.1f}%" if label in configured else "-",
                "Healthy": str(healthy.get(label, 0)),
                "p50/95/99 ms": f"{v.p50:.0f}/{v.p95:.0f}/{v.p99:.0f}" if v is not None and v.count else "",
                "Trend": Text(sparkline(snapshot.history.get(label, ())), style=style),
            }
            table.add_row(*(cell for name, cell in cells.items() if name not in dropped))
        return table

    # Narrower panels drop whole columns, least needed first, rather than cut every one to `…`.
    narrowest = versions_table(("p50/95/99 ms", "Trend"))
    table = narrowest if compact else FirstThatFits(versions_table(()), versions_table(("p50/95/99 ms",)), narrowest)
    parts: list[RenderableType] = [head, table]
    if snapshot.errors or snapshot.timeouts or snapshot.skipped:
        parts.append(
            Text(
                f"{snapshot.errors} errors, {snapshot.timeouts} timeouts, {snapshot.skipped} skipped "
                f"(of {snapshot.sent} sent)",
                style="yellow",
            )
        )
    for finding in problems:
        parts.append(literal(f"⚠ {finding.message}", "bold red" if finding.kind != "errors" else "yellow"))
    return Group(*parts)


def timeline_panel(rows, title: str, *, limit: int = 200) -> RenderableType:
    """The latest deployment's steps: time, elapsed since the start, how long the step took.
    Its panel shows the newest steps that fit."""
    if not rows:
        return Text("No rollout observed yet", style="dim")
    table = Table(box=None, padding=(0, 2, 0, 0), pad_edge=False, show_edge=False, header_style="bold dim")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("Time", "left"),
        ("+", "right"),
        ("Took", "right"),
        ("Event", "left"),
    )
    for label, justify in columns:
        # The durations' columns keep their width as values grow (4ms, 143ms, 1m2s): a row
        # appended is then that row drawn, not every row shifted.
        table.add_column(label, justify=justify, no_wrap=label != "Event", min_width=6 if label != "Event" else None)
    for event, since_previous, since_start in rows[-limit:]:
        table.add_row(
            format_time(event.at)[11:19],
            _short_duration(since_start),
            _short_duration(since_previous),
            literal(event.text, _EVENT_STYLE.get(event.kind, "")),
        )
    steps = f"{len(rows)} step{'s' if len(rows) != 1 else ''}"
    # One line, whatever the width: the panel keeps its first two lines (this and the columns').
    head = Text.assemble(
        literal(title, "bold"), (f"  {steps} · ctrl+e exports Markdown", "dim"), no_wrap=True, overflow="ellipsis"
    )
    return Group(head, table)


_EVENT_STYLE: dict[EventKind, str] = {
    "healthy": "green",
    "successful": "bold green",
    "unhealthy": "bold red",
    "failed": "bold red",
    "promoted": "bold magenta",
    "canaries-healthy": "magenta",
    "auto-reverted": "bold yellow",
    "stopped": "dim",
    "routes": "cyan",
    "registered": "bold",
}


def _short_duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms" if seconds > 0 else "0s"
    return format_duration(int(round(seconds)) * 1_000_000_000)
