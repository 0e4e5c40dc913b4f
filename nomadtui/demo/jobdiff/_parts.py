"""Diffs of the structs inside tasks and groups: networks, services, templates and more."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._primitives import (
    field_pair,
    go_sort,
    hash_key,
    keyed_diffs,
    object_less,
    opaque_diff,
    or_none,
    pointer_diff,
    primitive_diff,
    set_diff,
    struct_diff,
)
from ._shapes import (
    ANY,
    CHECK,
    CHECK_RESTART,
    DEVICE,
    DYNAMIC_PORT,
    NETWORK,
    RESOURCES,
    SCALING,
    SERVICE,
    STATIC_PORT,
    TEMPLATE,
    Diff,
    Flat,
    Struct,
    flatmap,
    scalar,
)

# --- networks, services, resources -----------------------------------------------------


def _port_diffs(old: list[Any] | None, new: list[Any] | None, dynamic: bool, contextual: bool) -> list[Diff]:
    shape, name = (DYNAMIC_PORT, "Dynamic Port") if dynamic else (STATIC_PORT, "Static Port")
    return keyed_diffs(
        old,
        new,
        lambda p: p.get("Label", ""),
        lambda o, n: struct_diff(o, n, shape, name, contextual),
    )


def _dns_flat(dns: Struct) -> Flat:
    lists = {k: dns.get(k) or [] for k in ("Servers", "Searches", "Options")}
    return {k: ",".join(v) for k, v in lists.items() if v}


def _cni_args(network: Struct) -> Flat:
    args = (network.get("CNI") or {}).get("Args") or {}
    return {key: text for key, value in args.items() if (text := scalar(value)) is not None}


def _network_diff(old: Any, new: Any, contextual: bool) -> Diff | None:
    diff, old, new = pointer_diff(old, new, "Network", lambda n: flatmap(n, NETWORK), contextual)
    if diff is None:
        return None
    objects = _port_diffs(old.get("ReservedPorts"), new.get("ReservedPorts"), False, contextual)
    objects += _port_diffs(old.get("DynamicPorts"), new.get("DynamicPorts"), True, contextual)
    dns, _, _ = pointer_diff(old.get("DNS"), new.get("DNS"), "DNS", _dns_flat, contextual)
    cni = primitive_diff(_cni_args(old), _cni_args(new), "CNIConfig", contextual)
    objects += [d for d in (dns, cni) if d]
    diff["Objects"] = or_none(objects)
    return diff


def network_diffs(old: list[Any] | None, new: list[Any] | None, contextual: bool) -> list[Diff]:
    """networkResourceDiffs: networks are matched by content only, so never Edited."""
    old_set = {hash_key(o): o for o in old or ()}
    new_set = {hash_key(n): n for n in new or ()}
    diffs = [_network_diff(o, None, contextual) for k, o in old_set.items() if k not in new_set]
    diffs += [_network_diff(None, n, contextual) for k, n in new_set.items() if k not in old_set]
    return go_sort([d for d in diffs if d], object_less)


def _check_diff(old: Any, new: Any, contextual: bool) -> Diff | None:
    diff, old, new = pointer_diff(old, new, "Check", lambda c: flatmap(c, CHECK), contextual)
    if diff is None:
        return None
    header = opaque_diff(old.get("Header"), new.get("Header"), "Header", contextual, floats=False)
    restart, _, _ = pointer_diff(
        old.get("CheckRestart"),
        new.get("CheckRestart"),
        "CheckRestart",
        lambda r: flatmap(r, CHECK_RESTART),
        contextual,
    )
    diff["Objects"] = or_none([d for d in (header, restart) if d])
    return diff


def _service_diff(old: Any, new: Any, contextual: bool) -> Diff | None:
    diff, old, new = pointer_diff(old, new, "Service", lambda s: flatmap(s, SERVICE), contextual)
    if diff is None:
        return None
    objects = [
        set_diff(old.get("CanaryTags"), new.get("CanaryTags"), "CanaryTags", contextual),
        set_diff(old.get("Tags"), new.get("Tags"), "Tags", contextual),
    ]
    objects += keyed_diffs(
        old.get("Checks"),
        new.get("Checks"),
        lambda c: c.get("Name", ""),
        lambda o, n: _check_diff(o, n, contextual),
    )
    objects.append(generic_diff(*field_pair(old, new, "Connect"), "ConsulConnect", contextual))
    objects.append(identity_diff(old.get("Identity"), new.get("Identity"), contextual))
    diff["Objects"] = or_none([d for d in objects if d])
    return diff


def _service_match(service: Struct, index: int, others: list[Any], matched: list[int]) -> int:
    """findServiceMatch: score position (1), port label (2) and name (3); need more than 2."""
    best, best_score = -1, 0
    for i, other in enumerate(others):
        if matched[i] >= 0:
            continue
        score = (i == index) + 2 * (service.get("PortLabel", "") == other.get("PortLabel", ""))
        score += 3 * (service.get("Name", "") == other.get("Name", ""))
        if score > 2 and score > best_score:
            best, best_score = i, score
    return best


def service_diffs(old: list[Any] | None, new: list[Any] | None, contextual: bool) -> list[Diff]:
    old, new = old or [], new or []
    if len(old) == 1 and len(new) == 1:
        diff = _service_diff(old[0], new[0], contextual)
        return [diff] if diff else []
    new_matches = [-1] * len(new)
    diffs = []
    for index, service in enumerate(old):
        match = _service_match(service, index, new, new_matches)
        if match >= 0:
            new_matches[match] = index
        diffs.append(_service_diff(service, new[match] if match >= 0 else None, contextual))
    diffs += [_service_diff(None, new[i], contextual) for i, m in enumerate(new_matches) if m == -1]
    return go_sort([d for d in diffs if d], object_less)


def resources_diff(old: Any, new: Any, contextual: bool) -> Diff | None:
    diff, old, new = pointer_diff(old, new, "Resources", lambda r: flatmap(r, RESOURCES), contextual)
    if diff is None:
        return None
    objects = network_diffs(old.get("Networks"), new.get("Networks"), contextual)
    objects += keyed_diffs(
        old.get("Devices"),
        new.get("Devices"),
        lambda d: d.get("Name", ""),
        lambda o, n: pointer_diff(o, n, "Device", lambda d: flatmap(d, DEVICE), contextual)[0],
    )
    numa = generic_diff(old.get("NUMA"), new.get("NUMA"), "NUMA", contextual)
    diff["Objects"] = or_none(objects + ([numa] if numa else []))
    return diff


# --- templates, identities and other task parts ---------------------------------------


def _template_flat(template: Struct) -> Flat:
    flat = flatmap(template, TEMPLATE)
    flat.update({k: str(template[k]) for k in ("Uid", "Gid") if template.get(k) is not None})
    return flat


def _template_diff(old: Any, new: Any, contextual: bool) -> Diff | None:
    diff, old, new = pointer_diff(old, new, "Template", _template_flat, contextual)
    if diff is None:
        return None
    # waitConfigDiff really names its object "Template".
    wait = opaque_diff(old.get("Wait"), new.get("Wait"), "Template", contextual, floats=False)
    script = generic_diff(*field_pair(old, new, "ChangeScript"), "ChangeScript", contextual)
    diff["Objects"] = or_none([d for d in (wait, script) if d])
    return diff


def template_diffs(old: list[Any] | None, new: list[Any] | None, contextual: bool) -> list[Diff]:
    """templateDiffs: templates are matched by DiffID, their destination path."""
    old, new = old or [], new or []
    if len(old) == 1 and len(new) == 1:
        diff = _template_diff(old[0], new[0], contextual)
        return [diff] if diff else []
    new_matched = [False] * len(new)
    diffs = []
    for template in old:
        dest = template.get("DestPath")
        match = next((i for i, n in enumerate(new) if not new_matched[i] and n.get("DestPath") == dest), -1)
        if match >= 0:
            new_matched[match] = True
        diffs.append(_template_diff(template, new[match] if match >= 0 else None, contextual))
    diffs += [_template_diff(None, n, contextual) for i, n in enumerate(new) if not new_matched[i]]
    return go_sort([d for d in diffs if d], object_less)


def identity_diff(old: Any, new: Any, contextual: bool) -> Diff | None:
    diff, old, new = pointer_diff(old, new, "Identity", lambda i: flatmap(i, ANY), contextual)
    if diff is None:
        return None
    audience = set_diff(old.get("Audience"), new.get("Audience"), "Audience", contextual)
    diff["Objects"] = or_none([audience] if audience else [])
    return diff


def generic_diff(old: Any, new: Any, name: str, contextual: bool) -> Diff | None:
    """For blocks this module has no exact rules for: scalars as fields, string lists as sets,
    nested blocks as objects named after their key."""
    diff, old, new = pointer_diff(old, new, name, lambda o: flatmap(o, ANY), contextual)
    if diff is None:
        return None
    objects = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, Mapping) or isinstance(b, Mapping):
            objects.append(generic_diff(a, b, key, contextual))
        elif _string_list(a) and _string_list(b) and (a or b):
            objects.append(set_diff(a, b, key, contextual))
    diff["Objects"] = or_none([d for d in objects if d])
    return diff


def _string_list(value: Any) -> bool:
    return value is None or isinstance(value, list) and all(isinstance(v, str) for v in value)


def scaling_diff(old: Any, new: Any, contextual: bool) -> Diff | None:
    def flatten(policy: Struct) -> Flat:
        flat = flatmap(policy, SCALING)
        for key in ("Target[Job]", "Target[Group]", "Target[Namespace]"):
            flat.pop(key, None)
        return flat

    # scalingDiff diffs its own fields non-contextually.
    diff, old, new = pointer_diff(old, new, "Scaling", flatten, False)
    if diff is None:
        return None
    policy = opaque_diff(old.get("Policy"), new.get("Policy"), "Policy", False)
    diff["Objects"] = or_none([policy] if policy else [])
    return diff


def volume_diffs(old: Struct | None, new: Struct | None, contextual: bool) -> list[Diff]:
    old, new = old or {}, new or {}
    diffs = []
    for name in sorted(old.keys() | new.keys()):
        diff, a, b = pointer_diff(*field_pair(old, new, name), "Volume", lambda v: flatmap(v, ANY), contextual)
        if diff:
            options = generic_diff(*field_pair(a, b, "MountOptions"), "MountOptions", contextual)
            diff["Objects"] = or_none([options] if options else [])
            diffs.append(diff)
    return diffs


def indexed_diffs(old: list[Any] | None, new: list[Any] | None, name: str, contextual: bool) -> list[Diff]:
    """actionDiffs / volumeMountsDiffs: items paired by position."""
    old, new = old or [], new or []
    pairs = [
        (old[i] if i < len(old) else None, new[i] if i < len(new) else None) for i in range(max(len(old), len(new)))
    ]
    diffs = [generic_diff(a, b, name, contextual) for a, b in pairs]
    return go_sort([d for d in diffs if d], object_less)
