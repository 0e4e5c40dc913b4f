"""Nomad's job diff, plan annotations and in-place/destructive rule, on server-shape job dicts.

A Python rendering of what `nomad/structs/diff.go` (`Job.Diff`), `scheduler/annotate.go`
(`Annotate`), `scheduler/util.go` (`tasksUpdated`) and `command/job_plan.go` (`formatJobDiff`)
do, so the demo cluster's `/v1/job/:id/plan` and `/v1/job/:id/versions?diffs=true` answer
field for field like a real server, and the TUI can print the diff like the CLI.

Inputs are jobs as `GET /v1/job/:id` returns them (PascalCase keys, durations in integer
nanoseconds). Missing keys and nulls count as the Go zero value.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = ["annotate_plan", "format_diff", "job_diff", "tasks_updated"]

Job = Mapping[str, Any]
Struct = Mapping[str, Any]  # any Nomad struct in wire shape
Diff = dict[str, Any]
Flat = dict[str, str]

ADDED, DELETED, EDITED, NONE = "Added", "Deleted", "Edited", "None"


# --- struct shapes ------------------------------------------------------------------------
#
# Go's flatmap (primitive-only mode) turns a struct into its bool/int/string fields plus its
# map[string]string fields as `Name[key]`; pointers, slices and nested structs are skipped.
# JSON cannot tell a pointer from a value, so each struct's primitive fields are listed with
# their kind; a missing key then flattens to the Go zero value ("", "0", "false").


@dataclass(frozen=True)
class _Shape:
    fields: Mapping[str, str]  # primitive field -> kind: "s" string, "i" integer, "b" bool
    maps: tuple[str, ...] = ()  # map[string]string fields, flattened as Name[key]
    skip: frozenset[str] = field(default_factory=frozenset)  # filtered or pointer fields


def _kinds(spec: str) -> dict[str, str]:
    """`"Name:s Count:i"` -> {"Name": "s", "Count": "i"}."""
    return dict(item.split(":") for item in spec.split())


_JOB = _Shape(
    _kinds(
        "Stop:b Region:s Namespace:s ParentID:s Name:s Type:s Priority:i AllAtOnce:b "
        "NodePool:s Dispatched:b DispatchIdempotencyToken:s ConsulNamespace:s VaultNamespace:s"
    ),
    maps=("Meta",),
    # Job.Diff's filter, plus Payload ([]byte, never flattened).
    skip=frozenset(
        "ID Status StatusDescription Version Stable CreateIndex ModifyIndex JobModifyIndex "
        "Update SubmitTime NomadTokenID VaultToken Payload".split()
    ),
)
_GROUP = _Shape(
    _kinds("Count:i PreventRescheduleOnLost:b"),
    maps=("Meta",),
    # Name is filtered; the rest are *time.Duration, diffed separately (MaxRunDuration: never).
    skip=frozenset(
        "Name ShutdownDelay StopAfterClientDisconnect MaxClientDisconnect MaxRunDuration".split()
    ),
)
_TASK = _Shape(
    _kinds("Driver:s User:s KillTimeout:i Leader:b ShutdownDelay:i KillSignal:s Kind:s"),
    maps=("Env", "Meta"),
    skip=frozenset({"Name", "Config"}),
)
_UPDATE = _Shape(
    _kinds(
        "MaxParallel:i HealthCheck:s MinHealthyTime:i HealthyDeadline:i ProgressDeadline:i "
        "AutoRevert:b AutoPromote:b Canary:i"
    ),
    skip=frozenset({"Stagger"}),  # "COMPAT: Remove Stagger in 0.7.0" - still filtered today
)
_RESTART = _Shape(_kinds("Attempts:i Interval:i Delay:i Mode:s RenderTemplates:b"))
_RESCHEDULE = _Shape(
    _kinds("Attempts:i Interval:i Delay:i DelayFunction:s MaxDelay:i Unlimited:b")
)
_DISK = _Shape(_kinds("Sticky:b SizeMB:i Migrate:b"))
_CONSUL = _Shape(_kinds("Namespace:s Cluster:s Partition:s"))
_CONSTRAINT = _Shape(_kinds("LTarget:s RTarget:s Operand:s"))
_AFFINITY = _Shape(_kinds("LTarget:s RTarget:s Operand:s Weight:i"))
# Device, CIDR, IP and MBits are filtered by NetworkResource.Diff.
_NETWORK = _Shape(_kinds("Mode:s Hostname:s"), skip=frozenset({"Device", "CIDR", "IP", "MBits"}))
_STATIC_PORT = _Shape(_kinds("Label:s Value:i To:i HostNetwork:s IgnoreCollision:b"))
_DYNAMIC_PORT = _Shape(
    _kinds("Label:s To:i HostNetwork:s"), skip=frozenset({"Value", "IgnoreCollision"})
)
_SERVICE = _Shape(
    _kinds(
        "Name:s TaskName:s PortLabel:s AddressMode:s Address:s EnableTagOverride:b "
        "Namespace:s OnUpdate:s Provider:s Cluster:s"
    ),
    maps=("Meta", "CanaryMeta", "TaggedAddresses"),
)
_CHECK = _Shape(
    _kinds(
        "Name:s Type:s Command:s Path:s Protocol:s PortLabel:s Expose:b AddressMode:s "
        "Interval:i Timeout:i InitialStatus:s TLSServerName:s TLSSkipVerify:b Method:s "
        "GRPCService:s GRPCUseTLS:b TaskName:s SuccessBeforePassing:i "
        "FailuresBeforeCritical:i FailuresBeforeWarning:i Body:s OnUpdate:s"
    )
)
_CHECK_RESTART = _Shape(_kinds("Limit:i Grace:i IgnoreWarnings:b"))
_RESOURCES = _Shape(_kinds("CPU:i Cores:i MemoryMB:i MemoryMaxMB:i DiskMB:i"))
_DEVICE = _Shape(_kinds("Name:s Count:i"))
_LOG_CONFIG = _Shape(_kinds("MaxFiles:i MaxFileSizeMB:i Disabled:b"))
_ARTIFACT = _Shape(
    _kinds("GetterSource:s GetterMode:s RelativeDest:s GetterInsecure:b"),
    maps=("GetterOptions", "GetterHeaders"),
)
_TEMPLATE = _Shape(
    _kinds(
        "SourcePath:s DestPath:s EmbeddedTmpl:s ChangeMode:s ChangeSignal:s Splay:i Perms:s "
        "LeftDelim:s RightDelim:s Envvars:b VaultGrace:i ErrMissingKey:b"
    ),
    skip=frozenset({"Uid", "Gid"}),  # *int, added by templateDiff only when set
)
_PERIODIC = _Shape(_kinds("Enabled:b Spec:s SpecType:s ProhibitOverlap:b TimeZone:s"))
_SCALING = _Shape(
    _kinds("Min:i Max:i Enabled:b"),
    maps=("Target",),
    skip=frozenset({"CreateIndex", "ModifyIndex", "ID", "Type"}),
)
_ANY = _Shape({})  # structs this module knows no field list for: flatten what is there

_MAP_FIELDS = frozenset(
    "Meta Env CanaryMeta TaggedAddresses GetterOptions GetterHeaders Target".split()
)


# --- flattening -------------------------------------------------------------------------


def _go_float(value: float) -> str:
    """Go's `fmt.Sprintf("%v", float64)`: shortest digits, exponent form from 1e+06 up."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign = "-" if value < 0 else ""
    parsed = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, parsed.digits))
    point = len(digits) + int(parsed.exponent)  # digits are 0.<digits> * 10**point
    exponent = point - 1
    if exponent < -4 or exponent >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _scalar(value: Any) -> str | None:
    """A JSON scalar as flatmap prints it; None for anything that is not a scalar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else _go_float(value)
    if isinstance(value, str):
        return value
    return None


def _typed(value: Any, kind: str) -> str:
    if kind == "b":
        return "true" if value else "false"
    if kind == "i":
        return str(int(value or 0))
    return "" if value is None else str(value)


def _flat(obj: Struct | None, shape: _Shape) -> Flat:
    """flatmap.Flatten(obj, filter, primitiveOnly=true) of a struct given as a dict."""
    obj = obj or {}
    out = {name: _typed(obj.get(name), kind) for name, kind in shape.fields.items()}
    for name in shape.maps:
        for key, value in (obj.get(name) or {}).items():
            if (text := _scalar(value)) is not None:
                out[f"{name}[{key}]"] = text
    for name, value in obj.items():
        known = name in shape.fields or name in shape.maps or name in shape.skip
        if not known and not _private(name) and (text := _scalar(value)) is not None:
            out[name] = text
    return out


def _flat_opaque(value: Any, prefix: str = "", *, floats: bool = True) -> Flat:
    """flatmap.Flatten(value, nil, primitiveOnly=false), e.g. a task's Config.

    Numbers in opaque maps are float64 on a real server (the agent decodes with
    encoding/json), hence `floats`.
    """
    out: Flat = {}
    if isinstance(value, Mapping):
        for key, item in value.items():
            name = f"{prefix}[{key}]" if prefix else str(key)
            out.update(_flat_opaque(item, name, floats=floats))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.update(_flat_opaque(item, f"{prefix}[{index}]", floats=floats))
    elif value is None:
        out[prefix] = "nil"
    elif floats and isinstance(value, (int, float)) and not isinstance(value, bool):
        out[prefix] = _go_float(float(value))
    else:
        out[prefix] = _scalar(value) or ""
    return out


# --- equality and ordering --------------------------------------------------------------


def _empty(value: Any) -> bool:
    return value is None or value in ("", 0, False) or value == [] or value == {}


def _private(key: Any) -> bool:
    """The demo store's own bookkeeping keys (`_…`), which are not part of Nomad's structs."""
    return isinstance(key, str) and key.startswith("_")


def _same(a: Any, b: Any) -> bool:
    """reflect.DeepEqual, with missing keys, nulls and zero values all counted as equal."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return all(_same(a.get(k), b.get(k)) for k in set(a) | set(b) if not _private(k))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_same, a, b))
    if _empty(a) and _empty(b):
        return True
    return a == b and (type(a) is type(b) or _num(a) and _num(b))


def _num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _key(obj: Any) -> str:
    """Stands in for hashstructure.Hash: equal content, equal key."""
    return json.dumps(_prune(obj), sort_keys=True, default=str)


def _prune(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _prune(v) for k, v in value.items() if not _empty(v) and not _private(k)}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def _type_less(a: str, b: str) -> bool:
    """DiffType.Less: Edited < Added < Deleted < None."""
    if a == b:
        return False
    for kind in (EDITED, ADDED, DELETED):
        if a == kind:
            return True
        if b == kind:
            return False
    return True


def _field_less(a: Diff, b: Diff) -> bool:
    if a == b:
        return False
    if a["Name"] != b["Name"]:
        return a["Name"] < b["Name"]
    if a["Old"] != b["Old"]:
        return a["Old"] < b["Old"]
    return a["New"] < b["New"]


def _object_less(a: Diff, b: Diff) -> bool:
    """ObjectDiff.Less, including its habit of sorting both sides' children in place."""
    if a == b:
        return False
    if a["Name"] != b["Name"]:
        return a["Name"] < b["Name"]
    if a["Type"] != b["Type"]:
        return _type_less(a["Type"], b["Type"])
    a_fields, b_fields = a["Fields"] or [], b["Fields"] or []
    a_objects, b_objects = a["Objects"] or [], b["Objects"] or []
    if len(a_fields) != len(b_fields):
        return len(a_fields) < len(b_fields)
    if len(a_objects) != len(b_objects):
        return len(a_objects) < len(b_objects)
    _go_sort(a_fields, _field_less)
    _go_sort(b_fields, _field_less)
    if any(_field_less(x, y) for x, y in zip(a_fields, b_fields)):
        return True
    _go_sort(a_objects, _object_less)
    _go_sort(b_objects, _object_less)
    return any(_object_less(x, y) for x, y in zip(a_objects, b_objects))


def _go_sort(items: list[Diff], less: Callable[[Diff, Diff], bool]) -> list[Diff]:
    """sort.Sort's insertion sort; ObjectDiff.Less is no strict order, so the algorithm shows."""
    for i in range(1, len(items)):
        j = i
        while j > 0 and less(items[j], items[j - 1]):
            items[j], items[j - 1] = items[j - 1], items[j]
            j -= 1
    return items


def _or_none(items: list[Any]) -> list[Any] | None:
    return items or None


# --- field and object diffs -------------------------------------------------------------


def _field_diff(old: str, new: str, name: str, contextual: bool) -> Diff | None:
    if old == new:
        if not contextual:
            return None
        kind = NONE
    else:
        kind = ADDED if old == "" else DELETED if new == "" else EDITED
    return {
        "Type": kind,
        "Name": name,
        "Old": "" if kind == ADDED else old,
        "New": "" if kind == DELETED else new,
        "Annotations": None,
    }


def _field_diffs(old: Flat | None, new: Flat | None, contextual: bool) -> list[Diff]:
    old, new = old or {}, new or {}
    diffs = (_field_diff(old.get(k, ""), new.get(k, ""), k, contextual) for k in old.keys() | new)
    return _go_sort([d for d in diffs if d], _field_less)


def _object(kind: str, name: str, fields: list[Diff], objects: Iterable[Diff] = ()) -> Diff:
    return {
        "Type": kind, "Name": name, "Fields": _or_none(fields), "Objects": _or_none(list(objects))
    }


def _kind_of(fields: Iterable[Diff]) -> str | None:
    """How primitiveObjectDiff types an object from its fields; None means "no diff"."""
    kinds = {f["Type"] for f in fields}
    if EDITED in kinds or {ADDED, DELETED} <= kinds:
        return EDITED
    return ADDED if ADDED in kinds else DELETED if DELETED in kinds else None


def _primitive_diff(old: Flat | None, new: Flat | None, name: str, contextual: bool) -> Diff | None:
    """primitiveObjectDiff: typed by its fields, dropped when nothing changed."""
    fields = _field_diffs(old, new, contextual)
    kind = _kind_of(fields)
    return _object(kind, name, fields) if kind else None


def _struct_diff(old: Any, new: Any, shape: _Shape, name: str, contextual: bool) -> Diff | None:
    """primitiveObjectDiff of two (possibly nil) struct pointers."""
    old_flat = _flat(old, shape) if old is not None else None
    new_flat = _flat(new, shape) if new is not None else None
    return _primitive_diff(old_flat, new_flat, name, contextual)


def _pointer_diff(
    old: Any, new: Any, name: str, flatten: Callable[[Any], Flat], contextual: bool
) -> tuple[Diff | None, Any, Any]:
    """The common head of diff.go's per-struct functions: nil-equal, added, deleted, edited.

    Returns the object diff with its primitive fields, plus the old and new values with a
    missing side replaced by an empty struct (as Go does before diffing the children).
    """
    if _same(old, new):
        return None, old, new
    if old is None:
        kind, fields = ADDED, _field_diffs(None, flatten(new), contextual)
    elif new is None:
        kind, fields = DELETED, _field_diffs(flatten(old), None, contextual)
    else:
        kind, fields = EDITED, _field_diffs(flatten(old), flatten(new), contextual)
    return _object(kind, name, fields), old or {}, new or {}


def _set_diff(
    old: Iterable[str] | None, new: Iterable[str] | None, name: str, contextual: bool
) -> Diff | None:
    """stringSetDiff."""
    old_set, new_set = set(old or ()), set(new or ())
    if old_set == new_set and not contextual:
        return None
    fields = [_field_diff(k, "", name, contextual) for k in old_set - new_set]
    if contextual:
        fields += [_field_diff(k, k, name, contextual) for k in old_set & new_set]
    fields += [_field_diff("", k, name, contextual) for k in new_set - old_set]
    fields = _go_sort([f for f in fields if f], _field_less)
    added, removed = bool(new_set - old_set), bool(old_set - new_set)
    kind = EDITED if added and removed else ADDED if added else DELETED if removed else NONE
    if kind == NONE and not fields:
        return None
    return _object(kind, name, fields)


def _hashed_set_diff(
    old: list[Any] | None, new: list[Any] | None, shape: _Shape, name: str, contextual: bool
) -> list[Diff]:
    """primitiveObjectSetDiff: items keyed by content, so an edit is a delete plus an add."""
    old_set = {_key(o): o for o in old or ()}
    new_set = {_key(n): n for n in new or ()}
    diffs = [_struct_diff(o, new_set.get(k), shape, name, contextual) for k, o in old_set.items()]
    diffs += [
        _struct_diff(None, n, shape, name, contextual)
        for k, n in new_set.items()
        if k not in old_set
    ]
    return _go_sort([d for d in diffs if d], _object_less)


def _keyed_diffs(
    old: list[Any] | None,
    new: list[Any] | None,
    key: Callable[[Any], str],
    diff: Callable[[Any, Any], Diff | None],
) -> list[Diff]:
    """The diff.go pattern "match by a key, diff same/deleted, then added, then sort"."""
    old_map = {key(o): o for o in old or ()}
    new_map = {key(n): n for n in new or ()}
    diffs = [diff(o, new_map.get(k)) for k, o in old_map.items()]
    diffs += [diff(None, n) for k, n in new_map.items() if k not in old_map]
    return _go_sort([d for d in diffs if d], _object_less)


def _opaque_diff(
    old: Any, new: Any, name: str, contextual: bool, *, floats: bool = True
) -> Diff | None:
    """configDiff / policyDiff: opaque maps flattened to `key[0][sub]` names."""
    if _same(old, new):
        return None
    kind = ADDED if not old else DELETED if not new else EDITED
    old_flat = _flat_opaque(old or {}, floats=floats)
    new_flat = _flat_opaque(new or {}, floats=floats)
    fields = _field_diffs(old_flat, new_flat, contextual)
    return _object(kind, name, fields)


# --- networks, services, resources -----------------------------------------------------


def _port_diffs(
    old: list[Any] | None, new: list[Any] | None, dynamic: bool, contextual: bool
) -> list[Diff]:
    shape, name = (_DYNAMIC_PORT, "Dynamic Port") if dynamic else (_STATIC_PORT, "Static Port")
    return _keyed_diffs(
        old, new, lambda p: p.get("Label", ""),
        lambda o, n: _struct_diff(o, n, shape, name, contextual),
    )


def _dns_flat(dns: Struct) -> Flat:
    lists = {k: dns.get(k) or [] for k in ("Servers", "Searches", "Options")}
    return {k: ",".join(v) for k, v in lists.items() if v}


def _cni_args(network: Struct) -> Flat:
    args = (network.get("CNI") or {}).get("Args") or {}
    return {key: text for key, value in args.items() if (text := _scalar(value)) is not None}


def _network_diff(old: Any, new: Any, contextual: bool) -> Diff | None:
    diff, old, new = _pointer_diff(old, new, "Network", lambda n: _flat(n, _NETWORK), contextual)
    if diff is None:
        return None
    objects = _port_diffs(old.get("ReservedPorts"), new.get("ReservedPorts"), False, contextual)
    objects += _port_diffs(old.get("DynamicPorts"), new.get("DynamicPorts"), True, contextual)
    dns, _, _ = _pointer_diff(old.get("DNS"), new.get("DNS"), "DNS", _dns_flat, contextual)
    cni = _primitive_diff(_cni_args(old), _cni_args(new), "CNIConfig", contextual)
    objects += [d for d in (dns, cni) if d]
    diff["Objects"] = _or_none(objects)
    return diff


def _network_diffs(old: list[Any] | None, new: list[Any] | None, contextual: bool) -> list[Diff]:
    """networkResourceDiffs: networks are matched by content only, so never Edited."""
    old_set = {_key(o): o for o in old or ()}
    new_set = {_key(n): n for n in new or ()}
    diffs = [_network_diff(o, None, contextual) for k, o in old_set.items() if k not in new_set]
    diffs += [_network_diff(None, n, contextual) for k, n in new_set.items() if k not in old_set]
    return _go_sort([d for d in diffs if d], _object_less)


def _check_diff(old: Any, new: Any, contextual: bool) -> Diff | None:
    diff, old, new = _pointer_diff(old, new, "Check", lambda c: _flat(c, _CHECK), contextual)
    if diff is None:
        return None
    header = _opaque_diff(old.get("Header"), new.get("Header"), "Header", contextual, floats=False)
    restart, _, _ = _pointer_diff(
        old.get("CheckRestart"), new.get("CheckRestart"), "CheckRestart",
        lambda r: _flat(r, _CHECK_RESTART), contextual,
    )
    diff["Objects"] = _or_none([d for d in (header, restart) if d])
    return diff


def _service_diff(old: Any, new: Any, contextual: bool) -> Diff | None:
    diff, old, new = _pointer_diff(old, new, "Service", lambda s: _flat(s, _SERVICE), contextual)
    if diff is None:
        return None
    objects = [
        _set_diff(old.get("CanaryTags"), new.get("CanaryTags"), "CanaryTags", contextual),
        _set_diff(old.get("Tags"), new.get("Tags"), "Tags", contextual),
    ]
    objects += _keyed_diffs(
        old.get("Checks"), new.get("Checks"), lambda c: c.get("Name", ""),
        lambda o, n: _check_diff(o, n, contextual),
    )
    objects.append(_generic_diff(*_pair(old, new, "Connect"), "ConsulConnect", contextual))
    objects.append(_identity_diff(old.get("Identity"), new.get("Identity"), contextual))
    diff["Objects"] = _or_none([d for d in objects if d])
    return diff


def _service_match(
    service: Struct, index: int, others: list[Any], matched: list[int]
) -> int:
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


def _service_diffs(old: list[Any] | None, new: list[Any] | None, contextual: bool) -> list[Diff]:
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
    return _go_sort([d for d in diffs if d], _object_less)


def _resources_diff(old: Any, new: Any, contextual: bool) -> Diff | None:
    diff, old, new = _pointer_diff(
        old, new, "Resources", lambda r: _flat(r, _RESOURCES), contextual
    )
    if diff is None:
        return None
    objects = _network_diffs(old.get("Networks"), new.get("Networks"), contextual)
    objects += _keyed_diffs(
        old.get("Devices"), new.get("Devices"), lambda d: d.get("Name", ""),
        lambda o, n: _pointer_diff(o, n, "Device", lambda d: _flat(d, _DEVICE), contextual)[0],
    )
    numa = _generic_diff(old.get("NUMA"), new.get("NUMA"), "NUMA", contextual)
    diff["Objects"] = _or_none(objects + ([numa] if numa else []))
    return diff


# --- templates, identities and other task parts ---------------------------------------


def _template_flat(template: Struct) -> Flat:
    flat = _flat(template, _TEMPLATE)
    flat.update({k: str(template[k]) for k in ("Uid", "Gid") if template.get(k) is not None})
    return flat


def _template_diff(old: Any, new: Any, contextual: bool) -> Diff | None:
    diff, old, new = _pointer_diff(old, new, "Template", _template_flat, contextual)
    if diff is None:
        return None
    # waitConfigDiff really names its object "Template".
    wait = _opaque_diff(old.get("Wait"), new.get("Wait"), "Template", contextual, floats=False)
    script = _generic_diff(*_pair(old, new, "ChangeScript"), "ChangeScript", contextual)
    diff["Objects"] = _or_none([d for d in (wait, script) if d])
    return diff


def _template_diffs(old: list[Any] | None, new: list[Any] | None, contextual: bool) -> list[Diff]:
    """templateDiffs: templates are matched by DiffID, their destination path."""
    old, new = old or [], new or []
    if len(old) == 1 and len(new) == 1:
        diff = _template_diff(old[0], new[0], contextual)
        return [diff] if diff else []
    new_matched = [False] * len(new)
    diffs = []
    for template in old:
        dest = template.get("DestPath")
        match = next(
            (i for i, n in enumerate(new) if not new_matched[i] and n.get("DestPath") == dest), -1
        )
        if match >= 0:
            new_matched[match] = True
        diffs.append(_template_diff(template, new[match] if match >= 0 else None, contextual))
    diffs += [_template_diff(None, n, contextual) for i, n in enumerate(new) if not new_matched[i]]
    return _go_sort([d for d in diffs if d], _object_less)


def _identity_diff(old: Any, new: Any, contextual: bool) -> Diff | None:
    diff, old, new = _pointer_diff(old, new, "Identity", lambda i: _flat(i, _ANY), contextual)
    if diff is None:
        return None
    audience = _set_diff(old.get("Audience"), new.get("Audience"), "Audience", contextual)
    diff["Objects"] = _or_none([audience] if audience else [])
    return diff


def _generic_diff(old: Any, new: Any, name: str, contextual: bool) -> Diff | None:
    """For blocks this module has no exact rules for: scalars as fields, string lists as sets,
    nested blocks as objects named after their key."""
    diff, old, new = _pointer_diff(old, new, name, lambda o: _flat(o, _ANY), contextual)
    if diff is None:
        return None
    objects = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, Mapping) or isinstance(b, Mapping):
            objects.append(_generic_diff(a, b, key, contextual))
        elif _string_list(a) and _string_list(b) and (a or b):
            objects.append(_set_diff(a, b, key, contextual))
    diff["Objects"] = _or_none([d for d in objects if d])
    return diff


def _string_list(value: Any) -> bool:
    return value is None or isinstance(value, list) and all(isinstance(v, str) for v in value)


def _scaling_diff(old: Any, new: Any, contextual: bool) -> Diff | None:
    def flatten(policy: Struct) -> Flat:
        flat = _flat(policy, _SCALING)
        for key in ("Target[Job]", "Target[Group]", "Target[Namespace]"):
            flat.pop(key, None)
        return flat

    # scalingDiff diffs its own fields non-contextually.
    diff, old, new = _pointer_diff(old, new, "Scaling", flatten, False)
    if diff is None:
        return None
    policy = _opaque_diff(old.get("Policy"), new.get("Policy"), "Policy", False)
    diff["Objects"] = _or_none([policy] if policy else [])
    return diff


def _volume_diffs(
    old: Struct | None, new: Struct | None, contextual: bool
) -> list[Diff]:
    old, new = old or {}, new or {}
    diffs = []
    for name in sorted(old.keys() | new.keys()):
        diff, a, b = _pointer_diff(
            *_pair(old, new, name), "Volume", lambda v: _flat(v, _ANY), contextual
        )
        if diff:
            options = _generic_diff(*_pair(a, b, "MountOptions"), "MountOptions", contextual)
            diff["Objects"] = _or_none([options] if options else [])
            diffs.append(diff)
    return diffs


def _indexed_diffs(
    old: list[Any] | None, new: list[Any] | None, name: str, contextual: bool
) -> list[Diff]:
    """actionDiffs / volumeMountsDiffs: items paired by position."""
    old, new = old or [], new or []
    pairs = [(old[i] if i < len(old) else None, new[i] if i < len(new) else None)
             for i in range(max(len(old), len(new)))]
    diffs = [_generic_diff(a, b, name, contextual) for a, b in pairs]
    return _go_sort([d for d in diffs if d], _object_less)


# --- task, group, job -------------------------------------------------------------------


def _pair(old: Struct, new: Struct, key: str) -> tuple[Any, Any]:
    return old.get(key), new.get(key)


def _placement_objects(old: Struct, new: Struct, contextual: bool) -> list[Diff]:
    """Constraint and Affinity objects, which job, group and task diffs all start with."""
    constraints = _hashed_set_diff(
        *_pair(old, new, "Constraints"), _CONSTRAINT, "Constraint", contextual
    )
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
        *pair("Identities"), lambda i: i.get("Name", ""),
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
    diff, old, new = _pointer_diff(
        old, new, "ParameterizedJob", lambda p: _flat(p, _ANY), contextual
    )
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


# --- plan annotations (scheduler/annotate.go) -------------------------------------------

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


# --- in-place vs destructive (scheduler/util.go tasksUpdated) --------------------------


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
        or not _same(_disk(a.get("EphemeralDisk")), _disk(b.get("EphemeralDisk")))
        or _networks_updated(a.get("Networks"), b.get("Networks"))
        or _affinities_updated(job_a, job_b, a, b)
        or not _same(_spreads(job_a, a), _spreads(job_b, b))
        or _consul_updated(a.get("Consul"), b.get("Consul"))
        or _connect_updated(a.get("Services"), b.get("Services"))
        or not _same(a.get("Volumes"), b.get("Volumes"))
        or _render_templates(a.get("RestartPolicy")) != _render_templates(b.get("RestartPolicy"))
    )


_RESOURCE_KEYS = ("CPU", "Cores", "MemoryMB", "MemoryMaxMB", "Devices", "NUMA", "SecretsMB")


def _task_updated(job_a: Job, job_b: Job, group: str, at: Struct, bt: Struct | None) -> bool:
    if bt is None:
        return True
    same_keys = ("Driver", "User", "Config", "Env", "Artifacts", "Vault", "Templates",
                 "CSIPluginConfig", "VolumeMounts", "Identity", "Identities", "Secrets")
    ar, br = at.get("Resources") or {}, bt.get("Resources") or {}
    return (
        any(not _same(at.get(key), bt.get(key)) for key in same_keys)
        or _consul_updated(at.get("Consul"), bt.get("Consul"))
        or _combined_meta(job_a, group, at) != _combined_meta(job_b, group, bt)
        or _networks_updated(ar.get("Networks"), br.get("Networks"))
        or any(not _same(ar.get(key), br.get(key)) for key in _RESOURCE_KEYS)
        or _log_disabled(at) != _log_disabled(bt)
        or _render_templates(at.get("RestartPolicy")) != _render_templates(bt.get("RestartPolicy"))
    )


def _log_disabled(task: Struct) -> bool:
    return bool((task.get("LogConfig") or {}).get("Disabled"))


def _disk(disk: Struct | None) -> dict[str, Any] | None:
    """EphemeralDisk.Equal compares Sticky, SizeMB and Migrate, and nil only equals nil."""
    if disk is None:
        return None
    return {k: _typed(disk.get(k), kind) for k, kind in _DISK.fields.items()}


def _combined_meta(job: Job, group: str, task: Struct) -> dict[str, str]:
    """Job.CombinedTaskMeta: task meta wins over group meta, which wins over job meta."""
    tg = _lookup(job.get("TaskGroups"), group) or {}
    return {**(job.get("Meta") or {}), **(tg.get("Meta") or {}), **(task.get("Meta") or {})}


def _networks_updated(a: list[Any] | None, b: list[Any] | None) -> bool:
    a, b = a or [], b or []
    if len(a) != len(b):
        return True
    for an, bn in zip(a, b):
        if any(not _same(*_pair(an, bn, k)) for k in ("Mode", "MBits", "Hostname", "DNS", "CNI")):
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
    return (affinity.get("LTarget") or "", affinity.get("RTarget") or "",
            affinity.get("Operand") or "", affinity.get("Weight") or 0)


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
            not _same(service.get(k), other.get(k)) for k in ("Connect", "PortLabel", "Cluster")
        ):
            return True
    return False


def _render_templates(policy: Struct | None) -> bool:
    return bool((policy or {}).get("RenderTemplates"))


# --- CLI text (command/job_plan.go formatJobDiff) ---------------------------------------

_MARKERS = {ADDED: "+ ", DELETED: "- ", EDITED: "+/- "}


def _marker(kind: str) -> str:
    return _MARKERS.get(kind, "")


def _go_quote(text: str) -> str:
    """Go's %q (strconv.Quote)."""
    escapes = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r",
               "\t": r"\t", "\v": r"\v", '"': r"\"", "\\": r"\\"}
    out = []
    for ch in text:
        code = ord(ch)
        if ch in escapes:
            out.append(escapes[ch])
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def format_diff(diff: Diff, *, verbose: bool = False) -> str:
    """The text `nomad job plan` / `nomad job history -p` print for a JobDiff, uncoloured."""
    fields, objects = diff.get("Fields") or [], diff.get("Objects") or []
    groups = diff.get("TaskGroups") or []
    out = f'{_marker(diff["Type"])}Job: {_go_quote(diff.get("ID", ""))}\n'
    longest_field, longest_marker = _longest(fields, objects)
    longest_marker = max([longest_marker, *(len(_marker(g["Type"])) for g in groups)])
    if diff["Type"] == EDITED or verbose:
        block = _aligned(fields, objects, 0, longest_field, longest_marker)
        out += block + ("\n" if block else "")
    for group in groups:
        out += _format_group(group, longest_marker - len(_marker(group["Type"])), verbose) + "\n"
    return out.strip()


def _format_group(group: Diff, prefix: int, verbose: bool) -> str:
    out = f'{_marker(group["Type"])}{" " * prefix}Task Group: {_go_quote(group["Name"])}'
    updates = group.get("Updates") or {}
    if updates:
        out += " (" + ", ".join(f"{updates[k]} {k}" for k in sorted(updates)) + ")"
    out += "\n"
    fields, objects = group.get("Fields") or [], group.get("Objects") or []
    tasks = group.get("Tasks") or []
    longest_field, longest_marker = _longest(fields, objects)
    longest_marker = max([longest_marker, *(len(_marker(t["Type"])) for t in tasks)])
    if group["Type"] == EDITED or verbose:
        block = _aligned(fields, objects, prefix + 2, longest_field, longest_marker)
        out += block + ("\n" if block else "")
    for task in tasks:
        task_prefix = longest_marker - len(_marker(task["Type"]))
        out += _format_task(task, prefix + 2, task_prefix, verbose) + "\n"
    return out


def _format_task(task: Diff, start: int, prefix: int, verbose: bool) -> str:
    out = f'{" " * start}{_marker(task["Type"])}{" " * prefix}Task: {_go_quote(task["Name"])}'
    if task.get("Annotations"):
        out += f' ({", ".join(task["Annotations"])})'
    if task["Type"] == NONE or (task["Type"] in (ADDED, DELETED) and not verbose):
        return out
    fields, objects = task.get("Fields") or [], task.get("Objects") or []
    return out + "\n" + _aligned(fields, objects, start + 2, *_longest(fields, objects))


def _format_object(obj: Diff, start: int, prefix: int) -> str:
    marker = _marker(obj["Type"])
    out = f'{" " * start}{marker}{" " * prefix}{obj["Name"]} {{\n'
    fields, objects = obj.get("Fields") or [], obj.get("Objects") or []
    out += _aligned(fields, objects, start + prefix + 2, *_longest(fields, objects))
    return f'{out}\n{" " * (start + len(marker) + prefix)}}}'


def _format_field(fd: Diff, start: int, prefix: int, value_prefix: int) -> str:
    out = f'{" " * start}{_marker(fd["Type"])}{" " * prefix}{fd["Name"]}: {" " * value_prefix}'
    if fd["Type"] == EDITED:
        out += f'{_go_quote(fd["Old"])} => {_go_quote(fd["New"])}'
    else:
        out += _go_quote(fd["Old"] if fd["Type"] == DELETED else fd["New"])
    if fd.get("Annotations"):
        out += f' ({", ".join(fd["Annotations"])})'
    return out


def _aligned(
    fields: list[Diff], objects: list[Diff], start: int, longest_field: int, longest_marker: int
) -> str:
    """alignedFieldAndObjects: one line per field, then each object block."""
    lines = [
        _format_field(
            f, start, longest_marker - len(_marker(f["Type"])), longest_field - _width(f["Name"])
        )
        for f in fields
    ]
    lines += [_format_object(o, start, longest_marker - len(_marker(o["Type"]))) for o in objects]
    return "\n".join(lines)


def _width(name: str) -> int:
    """Go pads with len(string), which counts UTF-8 bytes."""
    return len(name.encode())


def _longest(fields: list[Diff], objects: list[Diff]) -> tuple[int, int]:
    longest_field = max((_width(f["Name"]) for f in fields), default=0)
    longest_marker = max((len(_marker(d["Type"])) for d in (*fields, *objects)), default=0)
    return longest_field, longest_marker
