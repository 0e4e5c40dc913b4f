"""Struct shapes and Go's flatmap: how the diff sees a Nomad struct in wire shape."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

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
class Shape:
    fields: Mapping[str, str]  # primitive field -> kind: "s" string, "i" integer, "b" bool
    maps: tuple[str, ...] = ()  # map[string]string fields, flattened as Name[key]
    skip: frozenset[str] = field(default_factory=frozenset)  # filtered or pointer fields


def _kinds(spec: str) -> dict[str, str]:
    """`"Name:s Count:i"` -> {"Name": "s", "Count": "i"}."""
    return dict(item.split(":") for item in spec.split())


JOB = Shape(
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
GROUP = Shape(
    _kinds("Count:i PreventRescheduleOnLost:b"),
    maps=("Meta",),
    # Name is filtered; the rest are *time.Duration, diffed separately (MaxRunDuration: never).
    skip=frozenset("Name ShutdownDelay StopAfterClientDisconnect MaxClientDisconnect MaxRunDuration".split()),
)
TASK = Shape(
    _kinds("Driver:s User:s KillTimeout:i Leader:b ShutdownDelay:i KillSignal:s Kind:s"),
    maps=("Env", "Meta"),
    skip=frozenset({"Name", "Config"}),
)
UPDATE = Shape(
    _kinds(
        "MaxParallel:i HealthCheck:s MinHealthyTime:i HealthyDeadline:i ProgressDeadline:i "
        "AutoRevert:b AutoPromote:b Canary:i"
    ),
    skip=frozenset({"Stagger"}),  # "COMPAT: Remove Stagger in 0.7.0" - still filtered today
)
RESTART = Shape(_kinds("Attempts:i Interval:i Delay:i Mode:s RenderTemplates:b"))
RESCHEDULE = Shape(_kinds("Attempts:i Interval:i Delay:i DelayFunction:s MaxDelay:i Unlimited:b"))
DISK = Shape(_kinds("Sticky:b SizeMB:i Migrate:b"))
CONSUL = Shape(_kinds("Namespace:s Cluster:s Partition:s"))
CONSTRAINT = Shape(_kinds("LTarget:s RTarget:s Operand:s"))
AFFINITY = Shape(_kinds("LTarget:s RTarget:s Operand:s Weight:i"))
# Device, CIDR, IP and MBits are filtered by NetworkResource.Diff.
NETWORK = Shape(_kinds("Mode:s Hostname:s"), skip=frozenset({"Device", "CIDR", "IP", "MBits"}))
STATIC_PORT = Shape(_kinds("Label:s Value:i To:i HostNetwork:s IgnoreCollision:b"))
DYNAMIC_PORT = Shape(_kinds("Label:s To:i HostNetwork:s"), skip=frozenset({"Value", "IgnoreCollision"}))
SERVICE = Shape(
    _kinds(
        "Name:s TaskName:s PortLabel:s AddressMode:s Address:s EnableTagOverride:b "
        "Namespace:s OnUpdate:s Provider:s Cluster:s"
    ),
    maps=("Meta", "CanaryMeta", "TaggedAddresses"),
)
CHECK = Shape(
    _kinds(
        "Name:s Type:s Command:s Path:s Protocol:s PortLabel:s Expose:b AddressMode:s "
        "Interval:i Timeout:i InitialStatus:s TLSServerName:s TLSSkipVerify:b Method:s "
        "GRPCService:s GRPCUseTLS:b TaskName:s SuccessBeforePassing:i "
        "FailuresBeforeCritical:i FailuresBeforeWarning:i Body:s OnUpdate:s"
    )
)
CHECK_RESTART = Shape(_kinds("Limit:i Grace:i IgnoreWarnings:b"))
RESOURCES = Shape(_kinds("CPU:i Cores:i MemoryMB:i MemoryMaxMB:i DiskMB:i"))
DEVICE = Shape(_kinds("Name:s Count:i"))
LOG_CONFIG = Shape(_kinds("MaxFiles:i MaxFileSizeMB:i Disabled:b"))
ARTIFACT = Shape(
    _kinds("GetterSource:s GetterMode:s RelativeDest:s GetterInsecure:b"),
    maps=("GetterOptions", "GetterHeaders"),
)
TEMPLATE = Shape(
    _kinds(
        "SourcePath:s DestPath:s EmbeddedTmpl:s ChangeMode:s ChangeSignal:s Splay:i Perms:s "
        "LeftDelim:s RightDelim:s Envvars:b VaultGrace:i ErrMissingKey:b"
    ),
    skip=frozenset({"Uid", "Gid"}),  # *int, added by templateDiff only when set
)
PERIODIC = Shape(_kinds("Enabled:b Spec:s SpecType:s ProhibitOverlap:b TimeZone:s"))
SCALING = Shape(
    _kinds("Min:i Max:i Enabled:b"),
    maps=("Target",),
    skip=frozenset({"CreateIndex", "ModifyIndex", "ID", "Type"}),
)
ANY = Shape({})  # structs this module knows no field list for: flatten what is there

_MAP_FIELDS = frozenset("Meta Env CanaryMeta TaggedAddresses GetterOptions GetterHeaders Target".split())


# --- flattening -------------------------------------------------------------------------


def private(key: Any) -> bool:
    """The demo store's own bookkeeping keys (`_…`), which are not part of Nomad's structs."""
    return isinstance(key, str) and key.startswith("_")


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


def scalar(value: Any) -> str | None:
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


def typed(value: Any, kind: str) -> str:
    if kind == "b":
        return "true" if value else "false"
    if kind == "i":
        return str(int(value or 0))
    return "" if value is None else str(value)


def flatmap(obj: Struct | None, shape: Shape) -> Flat:
    """flatmap.Flatten(obj, filter, primitiveOnly=true) of a struct given as a dict."""
    obj = obj or {}
    out = {name: typed(obj.get(name), kind) for name, kind in shape.fields.items()}
    for name in shape.maps:
        for key, value in (obj.get(name) or {}).items():
            if (text := scalar(value)) is not None:
                out[f"{name}[{key}]"] = text
    for name, value in obj.items():
        known = name in shape.fields or name in shape.maps or name in shape.skip
        if not known and not private(name) and (text := scalar(value)) is not None:
            out[name] = text
    return out


def flatmap_opaque(value: Any, prefix: str = "", *, floats: bool = True) -> Flat:
    """flatmap.Flatten(value, nil, primitiveOnly=false), e.g. a task's Config.

    Numbers in opaque maps are float64 on a real server (the agent decodes with
    encoding/json), hence `floats`.
    """
    out: Flat = {}
    if isinstance(value, Mapping):
        for key, item in value.items():
            name = f"{prefix}[{key}]" if prefix else str(key)
            out.update(flatmap_opaque(item, name, floats=floats))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.update(flatmap_opaque(item, f"{prefix}[{index}]", floats=floats))
    elif value is None:
        out[prefix] = "nil"
    elif floats and isinstance(value, (int, float)) and not isinstance(value, bool):
        out[prefix] = _go_float(float(value))
    else:
        out[prefix] = scalar(value) or ""
    return out
