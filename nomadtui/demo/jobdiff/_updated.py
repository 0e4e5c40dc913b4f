"""In-place vs destructive updates (scheduler/util.go ``tasksUpdated``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._primitives import field_pair, same
from ._shapes import DISK, Job, Struct, typed


def _lookup(items: Iterable[Struct] | None, name: str) -> Struct | None:
    return next((item for item in items or () if item.get("Name") == name), None)


def tasks_updated(old_job: Job, new_job: Job, group: str) -> bool:
    """True when an allocation of `group` running `old_job` needs a destructive update
    (stop and replace) to become `new_job`; False when an in-place update will do."""
    a = _lookup(old_job.get("TaskGroups"), group)
    b = _lookup(new_job.get("TaskGroups"), group)
    if a is None or b is None:
        return True
    return _group_updated(old_job, new_job, a, b) or any(
        _task_updated(old_job, new_job, group, task, _lookup(b.get("Tasks"), task.get("Name", "")))
        for task in a.get("Tasks") or ()
    )


def _group_updated(job_a: Job, job_b: Job, a: Struct, b: Struct) -> bool:
    return (
        len(a.get("Tasks") or ()) != len(b.get("Tasks") or ())
        or not same(_disk(a.get("EphemeralDisk")), _disk(b.get("EphemeralDisk")))
        or _networks_updated(a.get("Networks"), b.get("Networks"))
        or _affinities_updated(job_a, job_b, a, b)
        or not same(_spreads(job_a, a), _spreads(job_b, b))
        or _consul_updated(a.get("Consul"), b.get("Consul"))
        or _connect_updated(a.get("Services"), b.get("Services"))
        or not same(a.get("Volumes"), b.get("Volumes"))
        or _render_templates(a.get("RestartPolicy")) != _render_templates(b.get("RestartPolicy"))
    )


_RESOURCE_KEYS = ("CPU", "Cores", "MemoryMB", "MemoryMaxMB", "Devices", "NUMA", "SecretsMB")


def _task_updated(job_a: Job, job_b: Job, group: str, at: Struct, bt: Struct | None) -> bool:
    if bt is None:
        return True
    same_keys = (
        "Driver",
        "User",
        "Config",
        "Env",
        "Artifacts",
        "Vault",
        "Templates",
        "CSIPluginConfig",
        "VolumeMounts",
        "Identity",
        "Identities",
        "Secrets",
    )
    ar, br = at.get("Resources") or {}, bt.get("Resources") or {}
    return (
        any(not same(at.get(key), bt.get(key)) for key in same_keys)
        or _consul_updated(at.get("Consul"), bt.get("Consul"))
        or _combined_meta(job_a, group, at) != _combined_meta(job_b, group, bt)
        or _networks_updated(ar.get("Networks"), br.get("Networks"))
        or any(not same(ar.get(key), br.get(key)) for key in _RESOURCE_KEYS)
        or _log_disabled(at) != _log_disabled(bt)
        or _render_templates(at.get("RestartPolicy")) != _render_templates(bt.get("RestartPolicy"))
    )


def _log_disabled(task: Struct) -> bool:
    return bool((task.get("LogConfig") or {}).get("Disabled"))


def _disk(disk: Struct | None) -> dict[str, Any] | None:
    """EphemeralDisk.Equal compares Sticky, SizeMB and Migrate, and nil only equals nil."""
    if disk is None:
        return None
    return {k: typed(disk.get(k), kind) for k, kind in DISK.fields.items()}


def _combined_meta(job: Job, group: str, task: Struct) -> dict[str, str]:
    """Job.CombinedTaskMeta: task meta wins over group meta, which wins over job meta."""
    tg = _lookup(job.get("TaskGroups"), group) or {}
    return {**(job.get("Meta") or {}), **(tg.get("Meta") or {}), **(task.get("Meta") or {})}


def _networks_updated(a: list[Any] | None, b: list[Any] | None) -> bool:
    a, b = a or [], b or []
    if len(a) != len(b):
        return True
    for an, bn in zip(a, b):
        if any(not same(*field_pair(an, bn, k)) for k in ("Mode", "MBits", "Hostname", "DNS", "CNI")):
            return True
        if _port_map(an) != _port_map(bn):
            return True
    return False


def _port_map(network: Struct) -> list[tuple[str, int, int, str]]:
    """networkPortMap: reserved ports with their value, dynamic ports with -1, in order."""

    def entry(port: Struct, value: int) -> tuple[str, int, int, str]:
        return (port.get("Label") or "", value, port.get("To") or 0, port.get("HostNetwork") or "")

    ports = [entry(p, p.get("Value") or 0) for p in network.get("ReservedPorts") or ()]
    return ports + [entry(p, -1) for p in network.get("DynamicPorts") or ()]


def _affinity_key(affinity: Struct) -> tuple[str, str, str, int]:
    return (
        affinity.get("LTarget") or "",
        affinity.get("RTarget") or "",
        affinity.get("Operand") or "",
        affinity.get("Weight") or 0,
    )


def _affinities_updated(job_a: Job, job_b: Job, a: Struct, b: Struct) -> bool:
    """Job, group and task affinities together, compared as Affinities.Equal does."""

    def collect(job: Job, tg: Struct) -> list[tuple[str, str, str, int]]:
        found = [*(job.get("Affinities") or ()), *(tg.get("Affinities") or ())]
        found += [aff for task in tg.get("Tasks") or () for aff in task.get("Affinities") or ()]
        return [_affinity_key(aff) for aff in found]

    xs, ys = collect(job_a, a), collect(job_b, b)
    return len(xs) != len(ys) or any(x not in ys for x in xs)


def _spreads(job: Job, tg: Struct) -> list[Any]:
    return [*(job.get("Spreads") or ()), *(tg.get("Spreads") or ())]


def _consul_updated(a: Struct | None, b: Struct | None) -> bool:
    if ((a or {}).get("Namespace") or "") != ((b or {}).get("Namespace") or ""):
        return True
    if a is None or b is None:
        return False
    return any((a.get(k) or "") != (b.get(k) or "") for k in ("Cluster", "Partition"))


def _connect_updated(a: list[Any] | None, b: list[Any] | None) -> bool:
    """connectServiceUpdated, simplified: any change to a Connect service's connect block,
    port label or cluster is destructive."""
    for service in a or ():
        if service.get("Connect") is None:
            continue
        other = next((s for s in b or () if s.get("Name") == service.get("Name")), None)
        if other is not None and any(
            not same(service.get(k), other.get(k)) for k in ("Connect", "PortLabel", "Cluster")
        ):
            return True
    return False


def _render_templates(policy: Struct | None) -> bool:
    return bool((policy or {}).get("RenderTemplates"))
