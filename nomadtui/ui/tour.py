"""`nomadtui --demo --tour`: the article's walkthrough, played on the demo cluster step by step.

Each step does what an operator would (the same core actions the keys use), waits until the
cluster shows what the step is about, and says what to look at. `space` goes on, `b` plays the
step again, `esc` leaves the tour and keeps the cluster as it is. The words are the project's
own; nothing is read from outside the package at run time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Group
from rich.text import Text

from ..nomad.actions import command_promote, command_revert, command_run
from ..nomad.errors import ClusterError
from ..state import ClusterState
from ..wire import image_tag
from .text import literal
from .widgets.panels import LivePanel

if TYPE_CHECKING:
    from textual.worker import Worker

    from .screens.main import MainScreen

JOB = "httpsbackend-sni-1"


@dataclass(frozen=True)
class Step:
    title: str
    doing: str  # shown while the step acts and waits
    look: str  # shown once the cluster got there
    act: str | None = None  # "run <file>", "promote", "revert <image tag>"
    until: str | None = None  # "successful", "canaries", "rollback"


STEPS = (
    Step(
        "The starting point",
        "",
        "Job httpsbackend-sni-1 runs three allocations of v1.0.0, one per client node. Fabio has one "
        "route, mysite-sni-1.com/ (a tcp+sni route), with three targets at a third each, and the probe "
        "below the routes sees every answer come from v1.0.0.",
    ),
    Step(
        "Rolling update",
        "Running httpsbackend-tcp-sni-1-rolling-update.nomad: v1.0.1 with max_parallel = 1 and "
        "min_healthy_time = 30s. Watch the Deployed table: one old allocation is stopped as its "
        "replacement is placed, and the next one waits until that replacement has been healthy long "
        "enough. Old and new versions share the route meanwhile.",
        "The deployment completed successfully: three allocations of v1.0.1, the old ones stopped "
        "(dimmed), and the new job version is marked stable.",
        act="run httpsbackend-tcp-sni-1-rolling-update.nomad",
        until="successful",
    ),
    Step(
        "A canary that takes production traffic",
        "Running httpsbackend-tcp-sni-1-canary-1.nomad: v1.0.2 with canary = 1. Nomad places one canary "
        "beside the three old allocations and touches nothing else.",
        "The canary is healthy and the deployment waits for promotion (⚑). It registered with the "
        "normal tags, so mysite-sni-1.com/ has four targets at 25 % each, and the probe sees about one "
        "answer in four from v1.0.2.",
        act="run httpsbackend-tcp-sni-1-canary-1.nomad",
        until="canaries",
    ),
    Step(
        "Promote the canary",
        "Promoting: the old allocation whose name the canary took stops at once, and the other two are "
        "replaced one at a time, as in a rolling update.",
        "Successful: Promoted is true, three allocations of v1.0.2, and every answer is v1.0.2.",
        act="promote",
        until="successful",
    ),
    Step(
        "A canary on its own route",
        "Running httpsbackend-tcp-sni-1-canary-2.nomad: v1.0.3 whose service has canary_tags. While it "
        "is a canary the allocation registers those tags instead of its normal ones.",
        "Fabio now has a second route, canary.mysite-sni-1.com/, with the canary as its only target "
        "(100 %), while mysite-sni-1.com/ keeps the three old targets: the probe sees no v1.0.3 on the "
        "production host. Testers reach the canary through its own host name.",
        act="run httpsbackend-tcp-sni-1-canary-2.nomad",
        until="canaries",
    ),
    Step(
        "Promote the isolated canary",
        "Promoting: the canary re-registers with the normal tags and the rest roll over.",
        "The canary route is gone and the production route serves v1.0.3.",
        act="promote",
        until="successful",
    ),
    Step(
        "Blue-green as a full canary",
        "Running httpsbackend-tcp-sni-1-blue-green.nomad: v1.0.4 with canary = 3, as many canaries as the count.",
        "Six allocations run: three of v1.0.3 and three canaries of v1.0.4, all six on the production "
        "route at a sixth each (canary_tags could keep them apart instead).",
        act="run httpsbackend-tcp-sni-1-blue-green.nomad",
        until="canaries",
    ),
    Step(
        "Promote blue-green",
        "Promoting: every old allocation has a canary of the same name, so all three stop in one scheduler pass.",
        "Successful in a single step: three allocations of v1.0.4. This is Nomad's take on blue-green: "
        "one environment with a full second set, not two environments.",
        act="promote",
        until="successful",
    ),
    Step(
        "A canary that never turns healthy",
        "Running httpsbackend-tcp-sni-1-canary-fail.nomad: v1.0.5, whose checks never pass (the demo's "
        "nomadtui_demo_fail meta key), with auto_revert = true and a progress deadline of 2m.",
        "The canary went unhealthy at its healthy deadline and took no traffic; at the progress deadline "
        "the deployment failed and Nomad rolled back on its own: the latest stable version was written "
        "again as a new version, which replaced the canary and updated the old allocations in place.",
        act="run httpsbackend-tcp-sni-1-canary-fail.nomad",
        until="rollback",
    ),
    Step(
        "Going back by hand",
        "Reverting to the version that ran v1.0.1, as an on-call engineer would with R: Nomad copies "
        "that version as a new one, which rolls out under its own update rules (a rolling update here; "
        "a version with canaries would wait for promotion again).",
        "Back on v1.0.1. The revert picker (R) shows every version with what it changed; the revert is "
        "refused if someone changed the job in the meantime.",
        act="revert v1.0.1",
        until="successful",
    ),
    Step(
        "That is the tour",
        "",
        "You have seen a rolling update, a canary on the production route, an isolated canary, "
        "blue-green, an automatic and a manual revert. The cluster stays as it is: press esc to leave "
        "the tour and try the keys yourself (? lists them).",
    ),
)


class Tour:
    def __init__(self, screen: MainScreen, jobs_dir: Path, steps: tuple[Step, ...] = STEPS) -> None:
        self.screen = screen
        self.jobs_dir = jobs_dir  # where the article's job files are
        self.app = screen.nomad
        self.steps = steps
        self.index = 0
        self.phase = "done"  # "acting", "waiting", "done", "failed"
        self.version: int | None = None
        self.command = ""
        self.error = ""
        self._worker: Worker[None] | None = None

    @property
    def step(self) -> Step:
        return self.steps[self.index]

    # --- keys ------------------------------------------------------------------------------------

    def start(self) -> None:
        self.screen.select_job("default", JOB)
        self._play()

    def next(self) -> None:
        if self.phase in ("acting", "waiting"):
            self.app.notify("Still on it: the cluster has not got there yet.", timeout=2)
            return
        if self.phase == "failed":
            self._play()  # a failed step is tried again, never skipped
            return
        if self.index + 1 >= len(self.steps):
            self.app.notify("That was the last step: esc leaves the tour.", timeout=3)
            return
        self.index += 1
        self._play()

    def replay(self) -> None:
        if self.phase in ("acting", "waiting"):
            return
        self._play()

    def leave(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        self.app.notify("Left the tour; the cluster stays as it is.", timeout=3)

    # --- playing a step -------------------------------------------------------------------------

    def _play(self) -> None:
        self.version, self.command, self.error = None, "", ""
        if self.step.act is None:
            self.phase = "done"
            self.render()
            return
        self.phase = "acting"
        self.render()
        self._worker = self.screen.run_worker(self._act(), group="tour", exclusive=True, exit_on_error=False)

    async def _act(self) -> None:
        verb, _, arg = (self.step.act or "").partition(" ")
        actions, settings = self.app.actions, self.app.settings
        state = self.app.live.state
        try:
            if verb == "run":
                job_file = await actions.parse_file(self.jobs_dir / arg)
                plan = await actions.plan(job_file)
                self.command = command_run(settings, job_file, plan.job_modify_index)
                result = await actions.register(job_file, plan)
                self.version = result.job_version
            elif verb == "promote":
                d = state.latest_deployment
                if d is None:
                    raise ClusterError("refused", "There is no deployment to promote.")
                self.command = command_promote(settings, d)
                await actions.promote(d)
                self.version = d.job_version
            elif verb == "revert":
                job = state.job
                if job is None or job.version is None:
                    raise ClusterError("refused", "The job is not loaded yet.")
                target = next(
                    v for v in state.versions if v.version != job.version and any(image_tag(i) == arg for i in v.images)
                )
                self.command = command_revert(settings, job.id, target.version, job.namespace)
                result = await actions.revert(
                    job.id, target.version, prior_version=job.version, namespace=job.namespace
                )
                self.version = result.job_version
        except (ClusterError, StopIteration) as e:
            self.phase = "failed"
            self.error = e.message if isinstance(e, ClusterError) else "No such version to revert to."
            self.render()
            return
        self.phase = "waiting"
        self.render()
        self.check(self.app.live.state)

    def check(self, state: ClusterState) -> None:
        """Called on every cluster change: has the step got where it was going?"""
        if self.phase != "waiting" or self.version is None:
            return
        if _reached(self.step.until, state, self.version):
            self.phase = "done"
            self.render()

    # --- narration ----------------------------------------------------------------------------

    def render(self) -> None:
        step = self.step
        head = Text.assemble((f"Tour {self.index + 1}/{len(self.steps)}: ", "bold"), (step.title, "bold cyan"))
        parts = [head]
        if self.phase == "done":
            parts.append(Text(step.look))
        else:
            parts.append(Text(step.doing))
        if self.command:
            parts.append(Text.assemble(("$ ", "dim"), literal(self.command, "dim")))
        status = {
            "acting": Text("… doing it", style="yellow"),
            "waiting": Text(f"… waiting for {_WAITING.get(step.until or '', 'the cluster')}", style="yellow"),
            "failed": literal(f"✗ {self.error}  (b tries again, esc leaves the tour)", "bold red"),
            "done": Text("✓ space: next step   b: play it again   esc: leave the tour", style="green")
            if self.index + 1 < len(self.steps)
            else Text("esc: leave the tour", style="green"),
        }[self.phase]
        parts.append(status)
        self.screen.query_one("#tour", LivePanel).update(Group(*parts))


_WAITING = {
    "successful": "the deployment to complete",
    "canaries": "the canaries to turn healthy",
    "rollback": "the deployment to fail and roll back (about 2 minutes of cluster time)",
}


def _deployment(state: ClusterState, version: int):
    return next((d for d in state.job_deployments if d.job_version == version), None)


def _reached(until: str | None, state: ClusterState, version: int) -> bool:
    checks: dict[str, Callable[[], bool]] = {
        "successful": lambda: (d := _deployment(state, version)) is not None and d.status == "successful",
        "canaries": lambda: (d := _deployment(state, version)) is not None and d.canaries_healthy,
        "rollback": lambda: (
            (d := _deployment(state, version)) is not None
            and d.status == "failed"
            and (
                (latest := state.latest_deployment) is not None
                and latest.job_version > version
                and latest.status == "successful"
            )
        ),
    }
    return checks.get(until or "", lambda: True)()
