"""``job_diff``: ``Job.Diff`` with its task group and task diffs (nomad/structs/diff.go)."""

from __future__ import annotations

from typing import Any

from .parts import (
    _generic_diff,
    _identity_diff,
    _indexed_diffs,
    _network_diffs,
    _resources_diff,
    _scaling_diff,
    _service_diffs,
    _template_diffs,
    _volume_diffs,
)
from .primitives import (
    _field_diffs,
    _hashed_set_diff,
    _keyed_diffs,
    _opaque_diff,
    _or_none,
    _pair,
    _pointer_diff,
    _same,
    _set_diff,
    _struct_diff,
)
from .shapes import (
    _AFFINITY,
    _ANY,
    _ARTIFACT,
    _CONSTRAINT,
    _CONSUL,
    _DISK,
    _GROUP,
    _JOB,
    _LOG_CONFIG,
    _PERIODIC,
    _RESCHEDULE,
    _RESTART,
    _TASK,
    _UPDATE,
    ADDED,
    DELETED,
    EDITED,
    NONE,
    Diff,
    Job,
    Struct,
    _flat,
    _typed,
)


def _placement_objects(old: Struct, new: Struct, contextual: bool) -> list[Diff]:
    """Constraint and Affinity objects, which job, group and task diffs all start with."""
    constraints = _hashed_set_diff(*_pair(old, new, "Constraints"), _CONSTRAINT, "Constraint", contextual)
    affinities = _hashed_set_diff(*_pair(old, new, "Affinities"), _AFFINITY, "Affinity", contextual)
    return constraints + affinities


def _task_objects(old: Struct, new: Struct, contextual: bool) -> list[Diff]:
    """Task.Diff's objects, in the order Go appends them (they are not sorted)."""

    def pair(key: str) -> tuple[Any, Any]:
        return _pair(old, new, key)

    objects = _placement_objects(old, new, contextual)
    objects.append(_opaque_diff(*pair("Config"), "Config", contextual))
    objects.append(_resources_diff(*pair("Resources"), contextual))
    objects.append(_struct_diff(*pair("LogConfig"), _LOG_CONFIG, "LogConfig", contextual))
    objects.append(_struct_diff(*pair("DispatchPayload"), _ANY, "DispatchPayload", contextual))
    objects += _hashed_set_diff(*pair("Artifacts"), _ARTIFACT, "Artifact", contextual)
    objects += _service_diffs(*pair("Services"), contextual)
    objects.append(_vault_diff(*pair("Vault"), contextual))
    objects.append(_struct_diff(*pair("Consul"), _CONSUL, "Consul", contextual))
    objects += _template_diffs(*pair("Templates"), contextual)
    objects.append(_identity_diff(*pair("Identity"), contextual))
    objects += _keyed_diffs(
        *pair("Identities"),
        lambda i: i.get("Name", ""),
        lambda a, b: _identity_diff(a, b, contextual),
    )
    objects += _indexed_diffs(*pair("Actions"), "Action", contextual)
    objects += _indexed_diffs(*pair("VolumeMounts"), "VolumeMount", contextual)
    old_cron, new_cron = ((s or {}).get("Cron") for s in pair("Schedule"))
    objects.append(_struct_diff(old_cron, new_cron, _ANY, "Schedule", contextual))
    return [d for d in objects if d]


def _vault_diff(old: Any, new: Any, contextual: bool) -> Diff | None:
    diff, old, new = _pointer_diff(old, new, "Vault", lambda v: _flat(v, _ANY), contextual)
    if diff is None:
        return None
    policies = _set_diff(old.get("Policies"), new.get("Policies"), "Policies", contextual)
    diff["Objects"] = _or_none([policies] if policies else [])
    return diff


def _task_diff(old: Struct | None, new: Struct | None, contextual: bool) -> Diff:
    kind = ADDED if old is None else DELETED if new is None else NONE if _same(old, new) else EDITED
    name = (new if new is not None else old or {}).get("Name", "")
    old_flat = _flat(old, _TASK) if old is not None else None
    new_flat = _flat(new, _TASK) if new is not None else None
    return {
        "Type": kind,
        "Name": name,
        "Fields": _or_none(_field_diffs(old_flat, new_flat, False)),
        "Objects": _or_none(_task_objects(old or {}, new or {}, contextual)),
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
    old_flat = _flat(old, _GROUP) if old is not None else None
    new_flat = _flat(new, _GROUP) if new is not None else None
    if old_flat is not None and new_flat is not None:
        # *time.Duration fields: "" when nil, only when both groups exist.
        for name in _DURATION_POINTERS:
            old_flat[name] = _typed(old.get(name), "s")
            new_flat[name] = _typed(new.get(name), "s")
    return _field_diffs(old_flat, new_flat, False)


_GROUP_BLOCKS = (
    ("RestartPolicy", _RESTART),
    ("ReschedulePolicy", _RESCHEDULE),
    ("EphemeralDisk", _DISK),
    ("Consul", _CONSUL),
    ("Update", _UPDATE),
)


def _group_objects(old: Struct, new: Struct, contextual: bool) -> list[Diff]:
    """TaskGroup.Diff's objects, in the order Go appends them (they are not sorted)."""

    def pair(key: str) -> tuple[Any, Any]:
        return _pair(old, new, key)

    objects = _placement_objects(old, new, contextual)
    objects += [_struct_diff(*pair(key), shape, key, contextual) for key, shape in _GROUP_BLOCKS]
    objects.append(_opaque_diff(*pair("Disconnect"), "Disconnect", contextual, floats=False))
    objects += _network_diffs(*pair("Networks"), contextual)
    objects.append(_scaling_diff(*pair("Scaling"), contextual))
    objects += _service_diffs(*pair("Services"), contextual)
    objects += _volume_diffs(*pair("Volumes"), contextual)
    return [d for d in objects if d]


def _group_diff(old: Struct | None, new: Struct | None, contextual: bool) -> Diff:
    kind = ADDED if old is None else DELETED if new is None else NONE if _same(old, new) else EDITED
    return {
        "Type": kind,
        "Name": (new if new is not None else old or {}).get("Name", ""),
        "Fields": _or_none(_group_fields(old, new)),
        "Objects": _or_none(_group_objects(old or {}, new or {}, contextual)),
        "Tasks": _or_none(_task_diffs(*_pair(old or {}, new or {}, "Tasks"), contextual)),
        "Updates": None,
    }


def _group_diffs(old: list[Any] | None, new: list[Any] | None, contextual: bool) -> list[Diff]:
    old_map = {g.get("Name", ""): g for g in old or ()}
    new_map = {g.get("Name", ""): g for g in new or ()}
    diffs = [_group_diff(g, new_map.get(n), contextual) for n, g in old_map.items()]
    diffs += [_group_diff(None, g, contextual) for n, g in new_map.items() if n not in old_map]
    return _by_name(diffs)


def _periodic_diff(old: Any, new: Any, contextual: bool) -> Diff | None:
    diff, old, new = _pointer_diff(old, new, "Periodic", lambda p: _flat(p, _PERIODIC), contextual)
    if diff is None:
        return None
    specs = _set_diff(old.get("Specs"), new.get("Specs"), "Specs", contextual)
    diff["Objects"] = _or_none([specs] if specs and specs["Type"] != NONE else [])
    return diff


def _parameterized_diff(old: Any, new: Any, contextual: bool) -> Diff | None:
    diff, old, new = _pointer_diff(old, new, "ParameterizedJob", lambda p: _flat(p, _ANY), contextual)
    if diff is None:
        return None
    sets = [_set_diff(*_pair(old, new, k), k, contextual) for k in ("MetaOptional", "MetaRequired")]
    diff["Objects"] = _or_none([d for d in sets if d])
    return diff


def _job_objects(old: Job, new: Job, contextual: bool) -> list[Diff]:
    """Job.Diff's objects, in the order Go appends them (they are not sorted)."""
    datacenters = _set_diff(*_pair(old, new, "Datacenters"), "Datacenters", contextual)
    objects = [datacenters] if datacenters and datacenters["Type"] != NONE else []
    objects += _placement_objects(old, new, contextual)
    objects.append(_periodic_diff(*_pair(old, new, "Periodic"), contextual))
    objects.append(_parameterized_diff(*_pair(old, new, "ParameterizedJob"), contextual))
    objects.append(_generic_diff(*_pair(old, new, "UI"), "UI", contextual))
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
    old_flat = _flat(old, _JOB) if old is not None else None
    new_flat = _flat(new, _JOB) if new is not None else None
    fields = _field_diffs(old_flat, new_flat, False)
    objects = _job_objects(old or {}, new or {}, contextual)
    groups = _group_diffs((old or {}).get("TaskGroups"), (new or {}).get("TaskGroups"), contextual)
    kind = ADDED if old is None else DELETED if new is None else NONE
    if kind == NONE and any(d["Type"] != NONE for d in (*fields, *objects, *groups)):
        kind = EDITED
    return {
        "Type": kind,
        "ID": (new if new is not None else old or {}).get("ID", ""),
        "Fields": _or_none(fields),
        "Objects": _or_none(objects),
        "TaskGroups": _or_none(groups),
    }
