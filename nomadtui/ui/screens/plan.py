"""The plan preview of a job file: field diff, per-group counts, scheduler dry-run, command."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from ...difftext import format_diff
from ...jobfile import JobFile
from ...model import Plan
from .. import render
from ..text import literal
from .dialogs import ConfirmScreen


def plan_body(job_file: JobFile, plan: Plan) -> RenderableType:
    parts: list[RenderableType] = []
    for g in plan.groups:
        counts = g.counts_text() or "no changes"
        parts.append(Text.assemble(literal(f'Task Group "{g.name}": '), (counts, "bold")))
    parts.append(Text(""))
    if plan.diff:
        parts.append(render.diff_text(format_diff(plan.diff)))
    parts.append(Text(""))
    parts.append(Text("Scheduler dry-run:", style="bold"))
    if plan.placement_failures:
        parts.append(Text("- WARNING: Failed to place all allocations.", style="bold red"))
        parts.append(render.placement_failures(plan))
    else:
        parts.append(Text("- All tasks successfully allocated.", style="green"))
    if plan.warnings:
        parts.append(Text(""))
        parts.append(Text("Job Warnings:", style="bold yellow"))
        parts.append(literal(plan.warnings.strip(), "yellow", multiline=True))
    parts.append(Text(""))
    guard = "a new job" if plan.job_modify_index == 0 else f"job modify index {plan.job_modify_index}"
    parts.append(
        Text(
            f"Registering checks that the job is still at {guard} (-check-index): "
            "if someone changed it meanwhile, nothing is overwritten.",
            style="dim",
        )
    )
    return Group(*parts)


class PlanScreen(ConfirmScreen):
    """`y` registers exactly what was planned."""

    def __init__(self, job_file: JobFile, plan: Plan, command: str) -> None:
        warning = ""
        if plan.placement_failures:
            warning = "Some allocations cannot be placed: registering creates a blocked evaluation."
        elif not plan.changes_allocations and plan.diff and plan.diff.get("Type") == "None":
            warning = "Nothing changes: registering makes no new version (Nomad only re-evaluates the job)."
        super().__init__(
            f"Plan {job_file.path.name}  →  job {job_file.job_id}",
            plan_body(job_file, plan),
            command,
            warning=warning,
            confirm_label="register (run) it",
        )
