"""Plan annotations (scheduler/annotate.go): update counts and forces-… annotations."""

from __future__ import annotations

import copy
from collections.abc import Mapping

from ._shapes import ADDED, DELETED, NONE, Diff

FORCES_CREATE = "forces create"
FORCES_DESTROY = "forces destroy"
FORCES_INPLACE = "forces in-place update"
FORCES_DESTRUCTIVE = "forces create/destroy update"

# DesiredUpdates key -> TaskGroupDiff.Updates key, in annotateTaskGroup's order.
_UPDATE_TYPES = (
    ("Ignore", "ignore"),
    ("Place", "create"),
    ("Migrate", "migrate"),
    ("Stop", "destroy"),
    ("Canary", "canary"),
    ("InPlaceUpdate", "in-place update"),
    ("DestructiveUpdate", "create/destroy update"),
)
# Task objects whose changes can be applied in place (LogConfig unless Disabled changes).
_INPLACE_OBJECTS = frozenset({"Service", "Constraint", "Affinity", "Spread"})


def annotate_plan(diff: Diff, desired_updates: Mapping[str, Mapping[str, int]]) -> Diff:
    """What the plan endpoint adds to a JobDiff: update counts and forces-… annotations.

    `desired_updates` is the plan's `Annotations.DesiredTGUpdates` (group -> DesiredUpdates).
    Returns an annotated copy; `diff` is left untouched.
    """
    diff = copy.deepcopy(diff)
    for group in diff.get("TaskGroups") or ():
        if group["Name"] in desired_updates:
            counts = desired_updates[group["Name"]]
            group["Updates"] = {name: counts[key] for key, name in _UPDATE_TYPES if counts.get(key)}
        _annotate_count(group)
        for task in group.get("Tasks") or ():
            _annotate_task(task, group["Type"])
    return diff


def _annotate_count(group: Diff) -> None:
    count = next((f for f in group.get("Fields") or () if f["Name"] == "Count"), None)
    if count is None:
        return
    old, new = int(count["Old"] or 0), int(count["New"] or 0)
    if old != new:
        annotation = FORCES_CREATE if old < new else FORCES_DESTROY
        count["Annotations"] = [*(count["Annotations"] or ()), annotation]


def _annotate_task(task: Diff, group_type: str) -> None:
    if task["Type"] == NONE:
        return
    if group_type in (ADDED, DELETED) and task["Type"] in (ADDED, DELETED):
        annotation = FORCES_CREATE if task["Type"] == ADDED else FORCES_DESTROY
    else:
        annotation = FORCES_DESTRUCTIVE if _destructive(task) else FORCES_INPLACE
    task["Annotations"] = [*(task["Annotations"] or ()), annotation]


def _destructive(task: Diff) -> bool:
    if any(f["Name"] != "KillTimeout" for f in task.get("Fields") or ()):
        return True
    for obj in task.get("Objects") or ():
        if obj["Name"] == "LogConfig":
            # Any Disabled field counts, even an unchanged contextual one - as in Nomad.
            if any(f["Name"] == "Disabled" for f in obj.get("Fields") or ()):
                return True
        elif obj["Name"] not in _INPLACE_OBJECTS:
            return True
    return False
