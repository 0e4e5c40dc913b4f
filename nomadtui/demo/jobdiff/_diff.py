"""``job_diff``: ``Job.Diff`` with its task group and task diffs (nomad/structs/diff.go)."""

from __future__ import annotations

from typing import Any

from ._parts import (
    generic_diff,
    identity_diff,
    indexed_diffs,
    network_diffs,
    resources_diff,
    scaling_diff,
    service_diffs,
    template_diffs,
    volume_diffs,
)
from ._primitives import (
    field_diffs,
    field_pair,
    hashed_set_diff,
    keyed_diffs,
    opaque_diff,
    or_none,
    pointer_diff,
    same,
    set_diff,
    struct_diff,
)
from ._shapes import (
    ADDED,
    AFFINITY,
    ANY,
    ARTIFACT,
    CONSTRAINT,
    CONSUL,
    DELETED,
    DISK,
    EDITED,
    GROUP,
    JOB,
    LOG_CONFIG,
    NONE,
    PERIODIC,
    RESCHEDULE,
    RESTART,
    TASK,
    UPDATE,
    Diff,
    Job,
    Struct,
    flatmap,
    typed,
)


def _placement_objects(old: Struct, new: Struct, contextual: bool) -> list[Diff]:
    """Constraint and Affinity objects, which job, group and task diffs all start with."""
    constraints = hashed_set_diff(*field_pair(old, new, "Constraints"), CONSTRAINT, "Constraint", contextual)
    affinities = hashed_set_diff(*field_pair(old, new, "Affinities"), AFFINITY, "Affinity", contextual)
    return constraints + affinities


def _task_objects(old: Struct, new: Struct, contextual: bool) -> list[Diff]:
    """Task.Diff's objects, in the order Go appends them (they are not sorted)."""

    def pair(key: str) -> tuple[Any, Any]:
        return field_pair(old, new, key)

    objects: list[Diff | None] = [*_placement_objects(old, new, contextual)]
    objects.append(opaque_diff(*pair("Config"), "Config", contextual))
    objects.append(resources_diff(*pair("Resources"), contextual))
    objects.append(struct_diff(*pair("LogConfig"), LOG_CONFIG, "LogConfig", contextual))
    objects.append(struct_diff(*pair("DispatchPayload"), ANY, "DispatchPayload", contextual))
    objects += hashed_set_diff(*pair("Artifacts"), ARTIFACT, "Artifact", contextual)
    objects += service_diffs(*pair("Services"), contextual)
    objects.append(_vault_diff(*pair("Vault"), contextual))
    objects.append(struct_diff(*pair("Consul"), CONSUL, "Consul", contextual))
    objects += template_diffs(*pair("Templates"), contextual)
    objects.append(identity_diff(*pair("Identity"), contextual))
    objects += keyed_diffs(
        *pair("Identities"),
        lambda i: i.get("Name", ""),
        lambda a, b: identity_diff(a, b, contextual),
    )
    objects += indexed_diffs(*pair("Actions"), "Action", contextual)
    objects += indexed_diffs(*pair("VolumeMounts"), "VolumeMount", contextual)
    old_cron, new_cron = ((s or {}).get("Cron") for s in pair("Schedule"))
    objects.append(struct_diff(old_cron, new_cron, ANY, "Schedule", contextual))
    return [d for d in objects if d]


def _vault_diff(old: Any, new: Any, contextual: bool) -> Diff | None:
    diff, old, new = pointer_diff(old, new, "Vault", lambda v: flatmap(v, ANY), contextual)
    if diff is None:
        return None
    policies = set_diff(old.get("Policies"), new.get("Policies"), "Policies", contextual)
    diff["Objects"] = or_none([policies] if policies else [])
    return diff


def _task_diff(old: Struct | None, new: Struct | None, contextual: bool) -> Diff:
    kind = ADDED if old is None else DELETED if new is None else NONE if same(old, new) else EDITED
    name = (new if new is not None else old or {}).get("Name", "")
    old_flat = flatmap(old, TASK) if old is not None else None
    new_flat = flatmap(new, TASK) if new is not None else None
    return {
        "Type": kind,
        "Name": name,
        "Fields": or_none(field_diffs(old_flat, new_flat, False)),
        "Objects": or_none(_task_objects(old or {}, new or {}, contextual)),
        "Annotations": None,
    }


def _by_name(diffs: list[Diff]) -> list[Diff]:
    return sorted(diffs, key=lambda d: d["Name"])


def _task_diffs(old: list[Any] | None, new: list[Any] | None, contextual: bool) -> list[Diff]:
    old_map = {t.get("Name", ""): t for t in old or ()}
    new_map = {t.get("Name", ""): t for t in new or ()}
    diffs = [_task_diff(t, new_map.get(n), contextual) for n, t in old_map.items()]
    diffs += [_task_diff(None, t, contextual) for n, t in new_map.items() if n not in old_map]
    return _by_name(diffs)


_DURATION_POINTERS = ("ShutdownDelay", "StopAfterClientDisconnect", "MaxClientDisconnect")


def _group_fields(old: Struct | None, new: Struct | None) -> list[Diff]:
    if old is None or new is None:
        old_flat = flatmap(old, GROUP) if old is not None else None
        new_flat = flatmap(new, GROUP) if new is not None else None
        return field_diffs(old_flat, new_flat, False)
    both_old, both_new = flatmap(old, GROUP), flatmap(new, GROUP)
    # *time.Duration fields: "" when nil, only when both groups exist.
    for name in _DURATION_POINTERS:
        both_old[name] = typed(old.get(name), "s")
        both_new[name] = typed(new.get(name), "s")
    return field_diffs(both_old, both_new, False)


_GROUP_BLOCKS = (
    ("RestartPolicy", RESTART),
    ("ReschedulePolicy", RESCHEDULE),
    ("EphemeralDisk", DISK),
    ("Consul", CONSUL),
    ("Update", UPDATE),
)


def _group_objects(old: Struct, new: Struct, contextual: bool) -> list[Diff]:
    """TaskGroup.Diff's objects, in the order Go appends them (they are not sorted)."""

    def pair(key: str) -> tuple[Any, Any]:
        return field_pair(old, new, key)

    objects: list[Diff | None] = [*_placement_objects(old, new, contextual)]
    objects += [struct_diff(*pair(key), shape, key, contextual) for key, shape in _GROUP_BLOCKS]
    objects.append(opaque_diff(*pair("Disconnect"), "Disconnect", contextual, floats=False))
    objects += network_diffs(*pair("Networks"), contextual)
    objects.append(scaling_diff(*pair("Scaling"), contextual))
    objects += service_diffs(*pair("Services"), contextual)
    objects += volume_diffs(*pair("Volumes"), contextual)
    return [d for d in objects if d]


def _group_diff(old: Struct | None, new: Struct | None, contextual: bool) -> Diff:
    kind = ADDED if old is None else DELETED if new is None else NONE if same(old, new) else EDITED
    return {
        "Type": kind,
        "Name": (new if new is not None else old or {}).get("Name", ""),
        "Fields": or_none(_group_fields(old, new)),
        "Objects": or_none(_group_objects(old or {}, new or {}, contextual)),
        "Tasks": or_none(_task_diffs(*field_pair(old or {}, new or {}, "Tasks"), contextual)),
        "Updates": None,
    }


def _group_diffs(old: list[Any] | None, new: list[Any] | None, contextual: bool) -> list[Diff]:
    old_map = {g.get("Name", ""): g for g in old or ()}
    new_map = {g.get("Name", ""): g for g in new or ()}
    diffs = [_group_diff(g, new_map.get(n), contextual) for n, g in old_map.items()]
    diffs += [_group_diff(None, g, contextual) for n, g in new_map.items() if n not in old_map]
    return _by_name(diffs)


def _periodic_diff(old: Any, new: Any, contextual: bool) -> Diff | None:
    diff, old, new = pointer_diff(old, new, "Periodic", lambda p: flatmap(p, PERIODIC), contextual)
    if diff is None:
        return None
    specs = set_diff(old.get("Specs"), new.get("Specs"), "Specs", contextual)
    diff["Objects"] = or_none([specs] if specs and specs["Type"] != NONE else [])
    return diff


def _parameterized_diff(old: Any, new: Any, contextual: bool) -> Diff | None:
    diff, old, new = pointer_diff(old, new, "ParameterizedJob", lambda p: flatmap(p, ANY), contextual)
    if diff is None:
        return None
    sets = [set_diff(*field_pair(old, new, k), k, contextual) for k in ("MetaOptional", "MetaRequired")]
    diff["Objects"] = or_none([d for d in sets if d])
    return diff


def _job_objects(old: Job, new: Job, contextual: bool) -> list[Diff]:
    """Job.Diff's objects, in the order Go appends them (they are not sorted)."""
    datacenters = set_diff(*field_pair(old, new, "Datacenters"), "Datacenters", contextual)
    objects: list[Diff | None] = [datacenters] if datacenters and datacenters["Type"] != NONE else []
    objects += _placement_objects(old, new, contextual)
    objects.append(_periodic_diff(*field_pair(old, new, "Periodic"), contextual))
    objects.append(_parameterized_diff(*field_pair(old, new, "ParameterizedJob"), contextual))
    objects.append(generic_diff(*field_pair(old, new, "UI"), "UI", contextual))
    return [d for d in objects if d]


def job_diff(old: Job | None, new: Job | None, *, contextual: bool) -> Diff:
    """Nomad's JobDiff of `old` -> `new` (`Job.Diff`), as the wire JSON.

    `old=None` diffs a new job (Type Added), `new=None` a removed one. Plan and version
    diffs are both contextual. Raises ValueError for jobs with different IDs, like Nomad.
    """
    if old is None and new is None:
        return {"Type": NONE, "ID": "", "Fields": None, "Objects": None, "TaskGroups": None}
    if old is not None and new is not None and old.get("ID", "") != new.get("ID", ""):
        ids = f'"{old.get("ID", "")}" and "{new.get("ID", "")}"'
        raise ValueError(f"can not diff jobs with different IDs: {ids}")
    old_flat = flatmap(old, JOB) if old is not None else None
    new_flat = flatmap(new, JOB) if new is not None else None
    fields = field_diffs(old_flat, new_flat, False)
    objects = _job_objects(old or {}, new or {}, contextual)
    groups = _group_diffs((old or {}).get("TaskGroups"), (new or {}).get("TaskGroups"), contextual)
    kind = ADDED if old is None else DELETED if new is None else NONE
    if kind == NONE and any(d["Type"] != NONE for d in (*fields, *objects, *groups)):
        kind = EDITED
    return {
        "Type": kind,
        "ID": (new if new is not None else old or {}).get("ID", ""),
        "Fields": or_none(fields),
        "Objects": or_none(objects),
        "TaskGroups": or_none(groups),
    }
