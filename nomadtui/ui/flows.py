"""What the action keys do, step by step: pick, preview, confirm (showing the equivalent nomad
command), act, then say what happened. Each runs as a worker so the UI stays live meanwhile;
the cluster's own watches then show what the action started."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from rich.console import Group
from rich.text import Text

from ..aio import wait_future
from ..model import Allocation, Deployment, short_id
from ..nomad.actions import (
    ActionResult,
    command_fail,
    command_pause,
    command_promote,
    command_restart_allocation,
    command_revert,
    command_run,
    command_stop_allocation,
)
from ..nomad.errors import STALE, ClusterError
from ..settings import Settings
from ..wire import format_duration
from .screens.dialogs import BusyScreen, ChoiceScreen, ConfirmScreen, ErrorScreen, FilePickerScreen
from .screens.plan import PlanScreen
from .screens.revert import RevertScreen
from .text import literal

if TYPE_CHECKING:
    from .screens.alloc import AllocScreen
    from .screens.base import NomadScreen
    from .screens.main import MainScreen


log = logging.getLogger(__name__)
T = TypeVar("T")
BUSY_AFTER = 1.0  # seconds before a slow answer gets a dialog that counts the wait


def _start(screen: NomadScreen, flow, name: str) -> None:
    async def guarded() -> None:
        try:
            await flow(screen)
        except Exception as e:
            log.exception("the %s action failed", name)
            await screen.nomad.push_screen_wait(
                ErrorScreen(
                    f"The {name} action stopped",
                    f"{type(e).__name__}: {e}\n\nNothing else was changed; the app "
                    "carries on. This is a bug in nomadtui: please report it.",
                )
            )

    screen.run_worker(guarded(), group="action", exclusive=True, exit_on_error=False, name=name)


class StoppedWaiting(Exception):
    """The user stopped waiting for a slow answer."""


async def _waiting(screen: NomadScreen, doing: str, work: Awaitable[T]) -> T:
    """`await work`, with a dialog that says Nomad is still `doing` it (and for how long) once it
    takes longer than BUSY_AFTER: a slow answer is not an unreachable Nomad."""
    task = asyncio.ensure_future(work)
    started = asyncio.get_running_loop().time()
    if not await wait_future(task, BUSY_AFTER):
        busy = BusyScreen(doing, task, started)
        await screen.nomad.push_screen(busy)
        await asyncio.wait({task})
        if busy.is_current:
            busy.dismiss(None)
    if task.cancelled():
        raise StoppedWaiting(doing)
    return task.result()


async def _failed(screen: NomadScreen, title: str, error: ClusterError, source: str | None = None) -> None:
    await screen.nomad.push_screen_wait(ErrorScreen(title, error, source=source))


async def _confirm_then(
    screen: NomadScreen, dialog: ConfirmScreen, act: Callable[[], Awaitable[ActionResult]], failure: str
) -> None:
    """The common end of every deployment action: ask, act, then say what happened."""
    app = screen.nomad
    if not await app.push_screen_wait(dialog):
        return
    try:
        result = await act()
    except ClusterError as e:
        await _failed(screen, failure, e)
        return
    app.notify(result.message, timeout=4)


def _nothing(screen: NomadScreen, message: str) -> None:
    screen.nomad.notify(message, severity="warning", timeout=4)


# --- run a job file ------------------------------------------------------------------------------


def run_job(screen: MainScreen) -> None:
    _start(screen, _run_job, "run-job")


async def _run_job(screen: MainScreen) -> None:
    app = screen.nomad
    path = await app.push_screen_wait(FilePickerScreen(app.jobs_dir))
    if path is None:
        return
    try:
        source = await app.actions.read_file(path)
    except ClusterError as e:
        await _failed(screen, f"Cannot use {path.name}: nothing was sent to Nomad", e)
        return
    try:
        job_file = await _waiting(screen, f"parsing {path.name}", app.actions.parse_file(path, source))
    except ClusterError as e:
        await _failed(screen, f"Cannot use {path.name}", e, source)
        return
    except StoppedWaiting:
        app.notify(f"Stopped waiting for Nomad to parse {path.name}. Nothing was registered.", timeout=4)
        return
    while True:
        try:
            plan = await _waiting(screen, f"planning {job_file.job_id}", app.actions.plan(job_file))
        except ClusterError as e:
            await _failed(screen, f"Cannot plan {path.name}", e)
            return
        except StoppedWaiting:
            app.notify(f"Stopped waiting for the plan of {job_file.job_id}. Nothing was registered.", timeout=4)
            return
        command = command_run(app.settings, job_file, plan.job_modify_index)
        if not await app.push_screen_wait(PlanScreen(job_file, plan, command)):
            app.notify("Nothing was registered.", timeout=3)
            return
        try:
            result = await app.actions.register(job_file, plan)
        except ClusterError as e:
            if e.kind == STALE and await app.push_screen_wait(
                ConfirmScreen(
                    "The job changed since the plan",
                    literal(
                        f"{e.message}\n\nSomeone (or something) registered job {job_file.job_id} after this plan "
                        "was made, so nothing was overwritten. Plan again to see the difference to what runs now.",
                        multiline=True,
                    ),
                    confirm_label="plan again",
                )
            ):
                continue
            if e.kind != STALE:
                await _failed(screen, f"Cannot register {job_file.job_id}", e)
            return
        shown = app.live.namespace
        if result.namespace and shown not in ("*", result.namespace):
            app.live.set_namespace(result.namespace)  # show the job where it went
            result = replace(result, message=f"{result.message} Now showing namespace {result.namespace}.")
        app.notify(result.message + (f"\n{result.warnings}" if result.warnings else ""), timeout=5)
        screen.select_job(result.namespace or job_file.target_namespace(shown), job_file.job_id)
        return


# --- deployments --------------------------------------------------------------------------------


def _running_deployment(screen: MainScreen) -> Deployment | None:
    state = screen.nomad.live.state
    if state.job is None:
        _nothing(screen, "Select a job first.")
        return None
    d = state.latest_deployment
    if d is None or not d.active:
        status = "no deployment" if d is None else f"its latest deployment is {d.status}"
        _nothing(
            screen,
            f"Nothing to do: job {state.job.id} has {status}."
            if d is None
            else f"Nothing to do: the latest deployment of {state.job.id} is {d.status}.",
        )
        return None
    return d


def promote(screen: MainScreen) -> None:
    _start(screen, _promote, "promote")


async def _promote(screen: MainScreen) -> None:
    app = screen.nomad
    d = _running_deployment(screen)
    if d is None:
        return
    waiting = d.promotable_groups
    if not waiting:
        _nothing(screen, f"Nothing to promote: deployment {short_id(d.id)} has no canaries waiting.")
        return
    groups: list[str] | None = None
    if len(waiting) > 1:
        options = [("*", Text("all groups", style="bold"))] + [
            (g, literal(f"{g}  ({d.groups[g].healthy}/{d.groups[g].desired_canaries} canaries healthy)"))
            for g in waiting
        ]
        choice = await app.push_screen_wait(ChoiceScreen("Promote which task group?", options))
        if choice is None:
            return
        groups = None if choice == "*" else [choice]
    chosen = [d.groups[g] for g in (groups or waiting)]
    unhealthy = [g for g in chosen if not g.canaries_healthy]
    lines = [literal(f"Deployment {short_id(d.id)} of job {d.job_id}, version {d.job_version}")]
    for g in chosen:
        lines.append(
            literal(
                f"  {g.name}: {g.healthy}/{g.desired_canaries} canaries healthy; promoting stops the old "
                f"allocations the canaries replace and rolls the rest ({g.desired_total} desired)"
            )
        )
    warning = ""
    if unhealthy:
        names = ", ".join(f"{g.name} ({g.healthy}/{g.desired_canaries})" for g in unhealthy)
        warning = f"Canaries are not healthy yet: {names}. Nomad will refuse the promotion."
    dialog = ConfirmScreen(
        "Promote the canaries?",
        Group(*lines),
        command_promote(app.settings, d, groups),
        warning=warning,
        confirm_label="promote",
    )
    await _confirm_then(screen, dialog, lambda: app.actions.promote(d, groups), "Promotion refused")


def fail(screen: MainScreen) -> None:
    _start(screen, _fail, "fail")


async def _fail(screen: MainScreen) -> None:
    app = screen.nomad
    d = _running_deployment(screen)
    if d is None:
        return
    revert = any(g.auto_revert for g in d.groups.values())
    stable = next((v for v in app.live.state.versions if v.stable and v.version != d.job_version), None)
    lines = [
        literal(f"Deployment {short_id(d.id)} of job {d.job_id} (version {d.job_version}) will be marked as failed.")
    ]
    if any(g.awaiting_promotion for g in d.groups.values()):
        lines.append(Text("Its unpromoted canaries will be stopped."))
    if revert:
        target = f"version {stable.version}" if stable else "the latest stable version (none found)"
        lines.append(literal(f"auto_revert is on: Nomad will roll back to {target} as a new version."))
    else:
        lines.append(Text("No auto_revert: the job stays at this version with the allocations it has now."))
    dialog = ConfirmScreen(
        "Fail the deployment?", Group(*lines), command_fail(app.settings, d), confirm_label="fail it"
    )
    await _confirm_then(screen, dialog, lambda: app.actions.fail(d), "Cannot fail the deployment")


def pause_resume(screen: MainScreen) -> None:
    _start(screen, _pause_resume, "pause")


async def _pause_resume(screen: MainScreen) -> None:
    app = screen.nomad
    d = _running_deployment(screen)
    if d is None:
        return
    pause = d.status != "paused"
    verb = "Pause" if pause else "Resume"
    if pause:
        body = literal(
            f"Deployment {short_id(d.id)} of job {d.job_id} stops placing and replacing allocations "
            "and its progress deadline is suspended until you resume it."
        )
    else:
        body = literal(
            f"Deployment {short_id(d.id)} of job {d.job_id} continues; its progress deadline starts again"
            + _deadline_words(max((g.progress_deadline for g in d.groups.values()), default=0), app.demo_speed)
        )
    dialog = ConfirmScreen(
        f"{verb} the deployment?", body, command_pause(app.settings, d, pause), confirm_label=verb.lower()
    )
    await _confirm_then(screen, dialog, lambda: app.actions.pause(d, pause), f"Cannot {verb.lower()} the deployment")


def _deadline_words(deadline: int, speed: float) -> str:
    """The deadline the cluster will apply: the job's, or the demo's shorter one."""
    if not deadline:
        return "."
    if speed == 1:
        return f" ({format_duration(deadline)})."
    applied = format_duration(round(deadline / speed))
    return f" ({applied}: the job's {format_duration(deadline)} at demo speed ×{speed:g})."


# --- revert --------------------------------------------------------------------------------------


def revert(screen: MainScreen) -> None:
    _start(screen, _revert, "revert")


async def _revert(screen: MainScreen) -> None:
    app = screen.nomad
    state = app.live.state
    job = state.job
    if job is None or job.version is None:
        _nothing(screen, "Select a job first.")
        return
    try:
        # Each version's diff from the running one says which are the same; the list the watch
        # holds (each diff from the version before) says what each changed, unless it lags.
        against_current = await app.actions.versions(job.id, job.namespace, diff_version=job.version)
        versions = state.versions
        if not any(v.version == job.version for v in versions):
            versions = tuple(await app.actions.versions(job.id, job.namespace))
    except ClusterError as e:
        await _failed(screen, f"Cannot list the versions of {job.id}", e)
        return
    if len(versions) < 2:
        _nothing(screen, f"Job {job.id} has no earlier version to revert to.")
        return
    diffs = {v.version: v.diff for v in against_current}
    chosen = await app.push_screen_wait(
        RevertScreen(
            job.id,
            versions,
            diffs,
            job.version,
            app.now(),
            lambda version: command_revert(app.settings, job.id, version, job.namespace),
        )
    )
    if chosen is None:
        return
    try:
        result = await app.actions.revert(job.id, chosen, prior_version=job.version, namespace=job.namespace)
    except ClusterError as e:
        title = "The job changed meanwhile" if e.kind == STALE else "Revert refused"
        await _failed(screen, title, e)
        return
    app.notify(result.message, timeout=4)


# --- an allocation ---------------------------------------------------------------------------------


def restart_allocation(screen: AllocScreen) -> None:
    _start(screen, _restart_allocation, "restart")


async def _restart_allocation(screen: AllocScreen) -> None:
    app = screen.nomad
    await _alloc_action(
        screen,
        "Restart the allocation?",
        "restarts its tasks in place, on the same node: the same allocation, its restart count goes up. "
        "Nomad does not reschedule it, and a deployment does not count it as a new placement.",
        command_restart_allocation,
        app.actions.restart_allocation,
        verb="restart",
    )


def stop_allocation(screen: AllocScreen) -> None:
    _start(screen, _stop_allocation, "stop")


async def _stop_allocation(screen: AllocScreen) -> None:
    app = screen.nomad
    await _alloc_action(
        screen,
        "Stop the allocation?",
        "is stopped; Nomad then places a replacement (a new allocation, maybe on another node), as it "
        "would after a node drain.",
        command_stop_allocation,
        app.actions.stop_allocation,
        verb="stop",
    )


async def _alloc_action(
    screen: AllocScreen,
    title: str,
    what: str,
    command: Callable[[Settings, Allocation], str],
    act: Callable[[Allocation], Awaitable[ActionResult]],
    *,
    verb: str,
) -> None:
    """Restart or stop the allocation on screen: ask (with the command), act, report."""
    app, alloc = screen.nomad, screen.alloc
    if alloc is None or alloc.terminal:
        _nothing(screen, f"This allocation is stopped: there is nothing to {verb}.")
        return
    body = literal(
        f"Allocation {short_id(alloc.id)} of job {alloc.job_id} (version {alloc.job_version}) on node "
        f"{short_id(alloc.node_id)} {what}"
    )
    dialog = ConfirmScreen(title, body, command(app.settings, alloc), confirm_label=f"{verb} it")
    await _confirm_then(screen, dialog, lambda: act(alloc), f"Cannot {verb} it")
