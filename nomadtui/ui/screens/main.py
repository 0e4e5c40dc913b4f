"""The main screen: jobs on the left; the job in focus on the right (summary, latest deployment,
allocations, Fabio routes); a status line. Everything it shows comes from the LiveCluster's
state; every key that changes the cluster opens a dialog first (see `..flows`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Union
from urllib.parse import urlsplit

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Key, Resize
from textual.timer import Timer
from textual.widgets import Footer, Input, Label

from ...model import Deployment, format_age, short_id
from ...probe import ProbeSnapshot, expectation_from, findings
from ...safetext import file_name_part
from ...state import JOB_WATCHES, Change, ClusterState
from ...timeline import with_durations
from .. import flows, render
from ..keys import CLUSTER_CHANGING_ACTIONS, MAIN_KEYS, TOUR_ACTIONS, bindings
from ..messages import ClusterChanged, ProbeChanged
from ..tour import Tour
from ..widgets.inputs import FilterInput
from ..widgets.panels import LivePanel, TailPanel, status_line
from ..widgets.table import VirtualTable
from .alloc import AllocScreen
from .base import NomadScreen

if TYPE_CHECKING:
    pass

# What a redraw is for: a change the cluster published, everything, or the clock's tick.
Refresh = Union[Change, Literal["all", "tick"]]  # noqa: UP007 - a runtime alias on 3.10

NARROW = 100  # below this width the jobs list goes on top
FOCUS_DELAY = 0.15  # seconds the cursor rests on a job before its watches start
TOUR_HIDES = frozenset({"fail_deployment", "pause_resume"})  # the article's story needs neither
FOCUS_SETTLE = 0.1  # seconds the previous job stays while the new one's first answers arrive
# (title, its text, the sources its data comes from, the panels it heads): dimmed while stale.
STALE_PANES: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("#jobs-title", "Jobs", ("jobs", "deployments"), ("#jobs",)),
    ("#allocs-title", "Allocations", JOB_WATCHES, ("#job-header", "#summary", "#deployment", "#allocs", "#timeline")),
    ("#routes-title", "Fabio routes", ("fabio",), ("#routes",)),
)


class MainScreen(NomadScreen):
    KEYS = MAIN_KEYS
    BINDINGS = bindings(MAIN_KEYS)
    HELP_TITLE = "Jobs and the job in focus"
    AUTO_FOCUS = "#jobs"

    def compose(self) -> ComposeResult:
        with Horizontal(id="body"):
            with Vertical(id="jobs-pane"):
                yield Label("Jobs", classes="pane-title", id="jobs-title")
                yield VirtualTable(render.JOB_COLUMNS, empty="No jobs", id="jobs")
                yield FilterInput(placeholder="filter jobs…", id="jobs-filter", classes="filter")
            with VerticalScroll(id="detail"):
                yield LivePanel(id="job-header")
                yield LivePanel(id="summary")
                yield LivePanel(id="deployment")
                yield Label("Allocations", classes="pane-title", id="allocs-title")
                yield VirtualTable(render.ALLOC_COLUMNS, empty="No allocations placed", sticky_top=True, id="allocs")
                yield FilterInput(placeholder="filter allocations…", id="allocs-filter", classes="filter")
                yield Label("Fabio routes", classes="pane-title", id="routes-title")
                yield LivePanel(id="routes", wrap=False)
                if self.nomad.probe_config is not None:
                    yield LivePanel(id="probe")
                yield TailPanel(id="timeline", head=2)
        yield LivePanel(id="tour")
        yield LivePanel(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self._focus_timer: Timer | None = None
        self._opening_filter: Input | None = None  # `/` was pressed; the filter has no focus yet
        self._settling: Timer | None = None  # a new job's answers are arriving: drawn together
        self._wanted: str | None = None  # a job to show once the list has it (after a run)
        self._job_rows = render.JobRows()
        self._titles: dict[str, str] = {}
        self._probe_snapshot: ProbeSnapshot | None = None
        self._configured: dict | None = None  # the probed route's weights, to notice changes
        self._allocs_of: object = None  # the focus whose allocations the table shows
        self._timeline_back = 0  # which rollout the timeline shows: 0 the newest, 1 the one before...
        self._routes_of: object = None  # the focus whose routes the panel shows
        self.tour = Tour(self, self.nomad.tour_jobs) if self.nomad.tour_jobs is not None else None
        self.query_one("#tour").display = self.tour is not None
        self.set_interval(1.0, self._tick)
        self.refresh_from(self.nomad.live.state, "all")
        if self.tour is not None:
            self.tour.start()

    # --- data in ----------------------------------------------------------------------------

    def on_cluster_changed(self, message: ClusterChanged) -> None:
        self.refresh_from(self.nomad.live.state, message.what, message.row)
        if self.tour is not None:
            self.tour.check(self.nomad.live.state)

    def on_probe_changed(self, message: ProbeChanged) -> None:
        self._probe_snapshot = message.snapshot
        self._refresh_probe(self.nomad.live.state)

    def refresh_from(self, state: ClusterState, what: Refresh, one_row: tuple[str, str] | None = None) -> None:
        now = self.nomad.now()
        jobs = self.query_one("#jobs", VirtualTable)
        if one_row is not None:
            if (row := self._job_rows.row_for(state, one_row)) is not None:
                jobs.update_row(row)  # one job's row, not a rebuild of 10,000
        elif what in ("all", "jobs", "job_row", "deployments", "namespace"):
            first = jobs.cursor_key is None
            jobs.set_rows(self._job_rows.rows(state, all_namespaces=self.nomad.live.namespace == "*"))
            if self._wanted is not None and jobs.move_to_key(self._wanted):
                self._wanted = None
            elif first and jobs.cursor_key is not None:
                self._schedule_focus(jobs.cursor_key)
        elif what == "job" and (row := self._job_rows.focused_row(state)) is not None:
            jobs.update_row(row)  # the job in focus knows its exact version and count
        if what in (
            "all",
            "job",
            "summary",
            "focus",
            "versions",
            "job_deployments",
            "allocations",
            "alloc_details",
            "fabio",
            "nodes",
            "tick",
            "events",
            "namespace",
        ):
            if what == "focus":
                self._settling = self.set_timer(FOCUS_SETTLE, self._settled)
            if self._settling is None or self._first_answers(state):
                self._refresh_detail(state, now)
        if what in ("all", "status", "tick", "focus", "namespace"):
            self._refresh_stale(state, now)
        self._refresh_status(state, now)

    def _refresh_detail(self, state: ClusterState, now: float) -> None:
        job, summary = state.job, state.summary
        self.query_one("#job-header", LivePanel).show(
            (job, format_age(job.submit_time, now) if job else ""), lambda: render.job_header(job, now)
        )
        self.query_one("#summary", LivePanel).show(summary, lambda: render.summary_table(summary))
        latest = state.latest_deployment
        narrow = self.size.width < NARROW
        self.query_one("#deployment", LivePanel).show(
            (latest, narrow, _deadline_ages(latest, now)),
            lambda: render.deployment_panel(
                latest, now, compact=narrow, speed=self.nomad.demo_speed, read_only=self.nomad.settings.read_only
            ),
        )
        nodes = {n.id: n.name for n in state.nodes}
        allocs = self.query_one("#allocs", VirtualTable)
        allocs.set_rows(render.alloc_rows(state.allocations, nodes, now))
        if self._allocs_of != state.focus:
            self._allocs_of = state.focus
            allocs.reserve(0)
        # Room for the allocations the rollout has yet to place, kept while the job is in focus.
        expected = len(state.allocations) + (latest.to_place if latest is not None and latest.active else 0)
        allocs.reserve(max(allocs.reserved, expected))
        routes = state.job_routes()
        images = state.version_images()
        fabio = state.status.get("fabio")
        configured = self.nomad.live.fabio is not None
        # During a rollout the panel keeps its height as targets leave and join (no layout);
        # once it is over, the panel fits its routes again.
        keep = self._routes_of == state.focus and latest is not None and latest.active
        self._routes_of = state.focus
        self.query_one("#routes", LivePanel).show(
            (tuple(routes), tuple(sorted(images.items())), configured, fabio is None or fabio.connected, narrow, keep),
            lambda: render.routes_panel(
                routes,
                state.version_label,
                configured=configured,
                connected=fabio is None or fabio.connected,
                compact=narrow,
            ),
            keep_height=keep,
        )
        self._refresh_probe(state)
        chain, events, place = self._shown_rollout(state)
        rows = with_durations(events)
        title = "Rollout timeline"
        if chain:
            title += " (deployment " + " → ".join(f"{short_id(d.id)} {d.status}" for d in chain) + ")"
        if place:
            title += f" {place}"
        if state.events.off:
            title += "  · no event stream: steps may be coarser"
        self.query_one("#timeline", TailPanel).show(
            (tuple(e for e, _, _ in rows), title), lambda: render.timeline_panel(rows, title)
        )

    def _rollouts(self, state: ClusterState) -> list[list[Deployment]]:
        """The job's rollouts, newest first: each a deployment, or a failed one with its revert."""
        timeline, seen, out = self.nomad.timeline, set[str](), []
        for d in timeline.deployments(state):
            if d.id not in seen:
                chain = timeline.rollout(state, d.id) or [d]
                seen.update(c.id for c in chain)
                out.append(chain)
        return out

    def _shown_rollout(self, state: ClusterState) -> tuple[list[Deployment], list, str]:
        """The rollout the timeline shows ([ and ] step through them; the newest by default),
        its events, and where it is among them ("2 of 5")."""
        rollouts = self._rollouts(state)
        if not rollouts:
            return [], self.nomad.timeline.latest_deployment_events(state), ""
        index = min(self._timeline_back, len(rollouts) - 1)
        chain = rollouts[index]
        place = f"{index + 1}/{len(rollouts)} [ ]" if len(rollouts) > 1 else ""
        return chain, self.nomad.timeline.deployment_events(state, chain[-1].id), place

    def action_timeline_older(self) -> None:
        self._step_timeline(+1)

    def action_timeline_newer(self) -> None:
        self._step_timeline(-1)

    def _step_timeline(self, by: int) -> None:
        state = self.nomad.live.state
        count = len(self._rollouts(state))
        self._timeline_back = max(0, min(count - 1, self._timeline_back + by))
        self._refresh_detail(state, self.nomad.now())

    def _refresh_probe(self, state: ClusterState) -> None:
        config = self.nomad.probe_config
        if config is None:
            return
        snapshot = self._probe_snapshot
        target = config.url + (f" SNI {config.sni}" if config.sni else "")
        if config.host and config.host != config.sni:
            target += f" Host {config.host}"
        settle = {v.version: max((g.settle for g in v.job.groups), default=0.0) for v in state.versions}
        host = config.host or urlsplit(config.url).hostname or ""
        expectation = expectation_from(state, host, now=self.nomad.now(), settle=settle)
        configured = dict(expectation.configured) if expectation is not None else {}
        if configured and self._configured is not None and configured != self._configured and self.nomad.probe:
            self.nomad.probe.restart_window()
            snapshot = self._probe_snapshot = self.nomad.probe.snapshot()
        if configured:
            self._configured = configured
        problems = findings(snapshot, expectation) if snapshot is not None and expectation is not None else []
        narrow = self.size.width < NARROW
        self.query_one("#probe", LivePanel).show(
            (snapshot, expectation, tuple(problems), narrow),
            lambda: render.probe_panel(snapshot, expectation, problems, target, compact=narrow),
        )

    def _refresh_stale(self, state: ClusterState, now: float) -> None:
        """Panels whose sources are failing are dimmed, and their title says for how long."""
        for title_id, title, sources, panels in STALE_PANES:
            failing = [s for name in sources if (s := state.status.get(name)) is not None and s.error is not None]
            text = title
            if failing:
                ages = [s.as_of for s in failing if s.as_of is not None]
                text += f" · stale {format_age(min(ages), now).removesuffix(' ago')}" if ages else " · no answer yet"
            label = self.query_one(title_id, Label)
            if self._titles.get(title_id) != text:
                self._titles[title_id] = text
                label.update(text)
                label.set_class(bool(failing), "-stale")
                for panel in panels:
                    self.query_one(panel).set_class(bool(failing), "-stale")

    def _refresh_status(self, state: ClusterState, now: float) -> None:
        settings = self.nomad.settings
        line = status_line(
            state, settings.describe(self.nomad.live.namespace), now, read_only=settings.read_only, demo=self.nomad.demo
        )
        self.query_one("#status", LivePanel).show(line.plain, lambda: line)

    def _tick(self) -> None:
        """Ages and countdowns move once a second; panels redraw only if their text changed."""
        self.refresh_from(self.nomad.live.state, "tick")

    # --- selection ------------------------------------------------------------------------------

    @on(VirtualTable.Highlighted, "#jobs")
    def _job_highlighted(self, message: VirtualTable.Highlighted) -> None:
        self._schedule_focus(message.key)

    def _first_answers(self, state: ClusterState) -> bool:
        """The new job in focus has its first answers: drawn together, once (not a frame each)."""
        if state.job is None or state.summary is None or not state.allocations or not state.versions:
            return False
        if self._settling is not None:
            self._settling.stop()
            self._settling = None
        return True

    def _settled(self) -> None:
        if self._settling is not None:
            self._settling.stop()
            self._settling = None
            self._refresh_detail(self.nomad.live.state, self.nomad.now())

    def _schedule_focus(self, key: str | None) -> None:
        if self._focus_timer is not None:
            self._focus_timer.stop()
        self._focus_timer = self.set_timer(FOCUS_DELAY, lambda: self._focus_job(key))

    def _focus_job(self, key: str | None) -> None:
        """Watch this job (None: no job, as when a filter hides every row: the right side must
        not keep showing a job the list no longer shows)."""
        self._timeline_back = 0
        if key is None:
            self.nomad.live.focus(None, None)
            return
        namespace, _, job_id = key.partition("/")
        self.nomad.live.focus(namespace, job_id)

    def select_job(self, namespace: str, job_id: str) -> None:
        """Show this job (after an action started something on it)."""
        key = f"{namespace}/{job_id}"
        jobs = self.query_one("#jobs", VirtualTable)
        if not jobs.move_to_key(key) and jobs.filter_text:
            jobs.filter_text = ""
        if not jobs.move_to_key(key):
            self._wanted = key
        if self._focus_timer is not None:
            self._focus_timer.stop()
        self._focus_job(key)

    @on(VirtualTable.Selected, "#allocs")
    def _alloc_selected(self, message: VirtualTable.Selected) -> None:
        if message.key is not None:
            self.nomad.push_screen(AllocScreen(message.key))

    @on(VirtualTable.Selected, "#jobs")
    def _job_selected(self) -> None:
        self.query_one("#allocs", VirtualTable).focus()

    # --- filter -----------------------------------------------------------------------------------

    def action_filter(self) -> None:
        if isinstance(self.focused, Input):  # a `/` typed into a filter (job ids may hold one)
            self.focused.insert_text_at_cursor("/")
            return
        table = self.focused if isinstance(self.focused, VirtualTable) else self.query_one("#jobs", VirtualTable)
        box = self.query_one(f"#{table.id}-filter", Input)
        box.value = table.filter_text
        box.add_class("visible")
        box.focus()
        self._opening_filter = box

    def on_key(self, event: Key) -> None:
        """Keys typed right after `/`, in the same burst (a paste, a quick typist, tmux), were
        sent to the list before the filter had focus: they belong to the filter (a filter that
        has focus keeps its own printable keys, so any that reach the screen are such keys)."""
        if self.refuse_read_only(event):
            return
        focused = self.focused
        if isinstance(focused, Input) and focused.has_class("filter"):
            box: Input | None = focused
            self._opening_filter = None
        else:
            box = self._opening_filter
        if box is None or not box.has_class("visible"):
            return
        if event.is_printable and event.character:
            box.insert_text_at_cursor(event.character)
        elif event.key == "backspace" and focused is not box:
            box.action_delete_left()
        else:
            return
        event.stop()
        event.prevent_default()

    @on(Input.Changed, ".filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        table_id = str(event.input.id).removesuffix("-filter")
        self.query_one(f"#{table_id}", VirtualTable).filter_text = event.value

    @on(Input.Submitted, ".filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        table_id = str(event.input.id).removesuffix("-filter")
        if not event.value:
            event.input.remove_class("visible")
        self.query_one(f"#{table_id}", VirtualTable).focus()

    def key_escape(self) -> None:
        """Esc clears the filter of the list in focus (or the one being typed); otherwise it
        leaves the guided tour, keeping the cluster as it is."""
        focused = self.focused
        filtering = isinstance(focused, Input) or (isinstance(focused, VirtualTable) and focused.filter_text)
        if self.tour is not None and not filtering:
            self.tour.leave()
            self.tour = None
            self.query_one("#tour").display = False
            self.refresh_bindings()
            return
        if isinstance(focused, Input) and focused.has_class("filter"):
            table_id = str(focused.id).removesuffix("-filter")
        elif isinstance(focused, VirtualTable) and focused.filter_text:
            table_id = str(focused.id)
        else:
            return
        box = self.query_one(f"#{table_id}-filter", Input)
        box.value = ""
        box.remove_class("visible")
        self.query_one(f"#{table_id}", VirtualTable).focus()

    # --- layout -----------------------------------------------------------------------------------

    def on_resize(self, event: Resize) -> None:
        self.set_class(event.size.width < NARROW, "narrow")
        self._refresh_detail(self.nomad.live.state, self.nomad.now())

    # --- actions ----------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in CLUSTER_CHANGING_ACTIONS and self.nomad.settings.read_only:
            return False
        if action in TOUR_ACTIONS:
            return self.tour is not None
        if action in TOUR_HIDES and self.tour is not None:
            return False  # the tour's own keys take their place in the footer
        return True

    def action_export_timeline(self) -> None:
        state = self.nomad.live.state
        chain, events, _ = self._shown_rollout(state)
        if not events or state.job is None:
            self.nomad.notify("No rollout of this job in the cluster's records: nothing to export.", timeout=3)
            return
        shown = " → ".join(f"deployment {d.id[:8]} (job version {d.job_version})" for d in chain)
        title = f"Rollout of {state.job.id}" + (f", {shown}" if shown else "")
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self.nomad.now()))
        path = Path.cwd() / f"nomadtui-timeline-{file_name_part(state.job.id)}-{stamp}.md"
        try:
            path.write_text(self.nomad.timeline.markdown(events, title=title, deployments=chain))
        except OSError as e:
            self.nomad.notify(f"Cannot write {path}: {e.strerror}", severity="error", timeout=5)
            return
        self.nomad.notify(f"Timeline saved to {path}", timeout=5)

    def action_tour_next(self) -> None:
        if self.tour is not None:
            self.tour.next()

    def action_tour_replay(self) -> None:
        if self.tour is not None:
            self.tour.replay()

    def latest_deployment(self) -> Deployment | None:
        return self.nomad.live.state.latest_deployment

    def action_run_job(self) -> None:
        flows.run_job(self)

    def action_promote(self) -> None:
        flows.promote(self)

    def action_revert(self) -> None:
        flows.revert(self)

    def action_fail_deployment(self) -> None:
        flows.fail(self)

    def action_pause_resume(self) -> None:
        flows.pause_resume(self)


def _deadline_ages(d: Deployment | None, now: float) -> tuple[str, ...]:
    if d is None or not d.active:
        return ()
    return tuple(format_age(g.require_progress_by, now) for g in d.groups.values())
