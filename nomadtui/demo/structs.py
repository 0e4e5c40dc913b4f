"""What Nomad's structs know about their own values (nomad/structs/structs.go, deployment.go),
as functions on the demo's wire-shape dicts: the scheduler, the deployment watcher and the
client simulator read jobs, groups, nodes and deployments through these."""

from __future__ import annotations

import fnmatch

# Deployment.StatusDescription while it runs (nomad/structs/deployment.go).
RUNNING = "Deployment is running"
NEEDS_PROMOTION = "Deployment is running but requires manual promotion"
AUTO_PROMOTION = "Deployment is running pending automatic promotion"


# Fields of a job that are bookkeeping, not spec: a register that differs only here changes nothing.
_NOT_SPEC = (
    "Status",
    "StatusDescription",
    "Stable",
    "Version",
    "SubmitTime",
    "CreateIndex",
    "ModifyIndex",
    "JobModifyIndex",
    "VersionTag",
    "NomadTokenID",
)


def spec_changed(a: dict, b: dict) -> bool:
    """Job.SpecChanged: whether two jobs differ in more than bookkeeping (or the demo's own
    `_` keys)."""

    def strip(job: dict) -> dict:
        return {k: v for k, v in job.items() if k not in _NOT_SPEC and not k.startswith("_")}

    return strip(a) != strip(b)


def lookup_task_group(job: dict, name: str) -> dict:
    """Job.LookupTaskGroup: the job's task group of this name (which must exist)."""
    return next(g for g in job["TaskGroups"] if g["Name"] == name)


def update_strategy(job: dict, group: dict) -> dict | None:
    """The group's update block when it drives deployments (service jobs, max_parallel > 0):
    UpdateStrategy.IsEmpty's opposite."""
    upd = group.get("Update")
    if job.get("Type") != "service" or not upd or upd.get("MaxParallel", 0) <= 0:
        return None
    return upd


def datacenter_matches(patterns: list[str] | None, dc: str) -> bool:
    """Node.IsInAnyDC: a datacenter matches any of the job's patterns (none: every one)."""
    return any(fnmatch.fnmatchcase(dc, p) for p in patterns or ["*"])


def running_description(groups: dict) -> str:
    """A running deployment's description: whether its canaries wait for a promotion, and whose
    (Deployment.RequiresPromotion and HasAutoPromote)."""
    canary_groups = [s for s in groups.values() if s["DesiredCanaries"] > 0 and not s["Promoted"]]
    if not canary_groups:
        return RUNNING
    if all(s["AutoPromote"] for s in canary_groups):
        return AUTO_PROMOTION
    return NEEDS_PROMOTION


def group_resources(group: dict) -> tuple[int, int]:
    """The CPU (MHz) and memory (MB) a task group's tasks ask for together."""
    cpu = sum((t.get("Resources") or {}).get("CPU") or 0 for t in group["Tasks"])
    mem = sum((t.get("Resources") or {}).get("MemoryMB") or 0 for t in group["Tasks"])
    return cpu, mem
