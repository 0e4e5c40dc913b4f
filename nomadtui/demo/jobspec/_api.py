"""api.* shapes (the parse endpoint's output): field lists and blank values."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

API_JOB_KEYS = (
    "Region",
    "Namespace",
    "ID",
    "Name",
    "Type",
    "Priority",
    "AllAtOnce",
    "Datacenters",
    "NodePool",
    "Constraints",
    "Affinities",
    "TaskGroups",
    "Update",
    "Multiregion",
    "Spreads",
    "Periodic",
    "ParameterizedJob",
    "Reschedule",
    "Migrate",
    "Meta",
    "UI",
    "Stop",
    "ParentID",
    "Dispatched",
    "DispatchIdempotencyToken",
    "Payload",
    "ConsulNamespace",
    "VaultNamespace",
    "NomadTokenID",
    "Status",
    "StatusDescription",
    "Stable",
    "Version",
    "SubmitTime",
    "CreateIndex",
    "ModifyIndex",
    "JobModifyIndex",
    "VersionTag",
)
API_GROUP_KEYS = (
    "Name",
    "Count",
    "Constraints",
    "Affinities",
    "Tasks",
    "Spreads",
    "Volumes",
    "RestartPolicy",
    "Disconnect",
    "ReschedulePolicy",
    "EphemeralDisk",
    "Update",
    "Migrate",
    "Networks",
    "Meta",
    "Services",
    "ShutdownDelay",
    "MaxRunDuration",
    "StopAfterClientDisconnect",
    "MaxClientDisconnect",
    "Scaling",
    "Consul",
    "PreventRescheduleOnLost",
)
_API_TASK_KEYS = (
    "Name",
    "Driver",
    "User",
    "Lifecycle",
    "Config",
    "Constraints",
    "Affinities",
    "Env",
    "Services",
    "Resources",
    "RestartPolicy",
    "Meta",
    "KillTimeout",
    "LogConfig",
    "Artifacts",
    "Vault",
    "Secrets",
    "Consul",
    "Templates",
    "DispatchPayload",
    "VolumeMounts",
    "Leader",
    "ShutdownDelay",
    "KillSignal",
    "Kind",
    "ScalingPolicies",
    "Identity",
    "Identities",
    "Actions",
    "Schedule",
)
_API_SERVICE_KEYS = (
    "Name",
    "Tags",
    "CanaryTags",
    "EnableTagOverride",
    "PortLabel",
    "AddressMode",
    "Address",
    "Checks",
    "CheckRestart",
    "Connect",
    "Meta",
    "CanaryMeta",
    "TaggedAddresses",
    "TaskName",
    "OnUpdate",
    "Identity",
    "Weights",
    "Provider",
    "Cluster",
    "Kind",
)
_API_CHECK_KEYS = (
    "Name",
    "Type",
    "Command",
    "Args",
    "Path",
    "Protocol",
    "PortLabel",
    "Expose",
    "AddressMode",
    "Advertise",
    "Interval",
    "Timeout",
    "InitialStatus",
    "Notes",
    "TLSServerName",
    "TLSSkipVerify",
    "Header",
    "Method",
    "CheckRestart",
    "GRPCService",
    "GRPCUseTLS",
    "TaskName",
    "SuccessBeforePassing",
    "FailuresBeforeCritical",
    "FailuresBeforeWarning",
    "Body",
    "OnUpdate",
)
API_RESOURCES_KEYS = (
    "CPU",
    "Cores",
    "MemoryMB",
    "MemoryMaxMB",
    "DiskMB",
    "Networks",
    "Devices",
    "NUMA",
    "SecretsMB",
    "IOPS",
)
API_NETWORK_KEYS = (
    "Mode",
    "Device",
    "CIDR",
    "IP",
    "DNS",
    "ReservedPorts",
    "DynamicPorts",
    "Hostname",
    "MBits",
    "CNI",
)
API_TEMPLATE_KEYS = (
    "SourcePath",
    "DestPath",
    "EmbeddedTmpl",
    "ChangeMode",
    "ChangeScript",
    "ChangeSignal",
    "Splay",
    "Perms",
    "Uid",
    "Gid",
    "LeftDelim",
    "RightDelim",
    "Envvars",
    "VaultGrace",
    "Wait",
    "ErrMissingKey",
    "Once",
)
UPDATE_KEYS = (
    "Stagger",
    "MaxParallel",
    "HealthCheck",
    "MinHealthyTime",
    "HealthyDeadline",
    "ProgressDeadline",
    "Canary",
    "AutoRevert",
    "AutoPromote",
)


def blank(keys: Iterable[str], **values: Any) -> dict:
    out = dict.fromkeys(keys)
    out.update(values)
    return out


def api_task_blank() -> dict:
    return blank(_API_TASK_KEYS, Name="", Driver="", User="", Leader=False, ShutdownDelay=0, KillSignal="", Kind="")


def api_service_blank() -> dict:
    strings = ("Name", "PortLabel", "AddressMode", "Address", "TaskName", "OnUpdate", "Provider", "Cluster", "Kind")
    return blank(_API_SERVICE_KEYS, EnableTagOverride=False, **dict.fromkeys(strings, ""))


def api_check_blank() -> dict:
    strings = (
        "Name",
        "Type",
        "Command",
        "Path",
        "Protocol",
        "PortLabel",
        "AddressMode",
        "Advertise",
        "InitialStatus",
        "Notes",
        "TLSServerName",
        "Method",
        "GRPCService",
        "TaskName",
        "Body",
        "OnUpdate",
    )
    numbers = ("Interval", "Timeout", "SuccessBeforePassing", "FailuresBeforeCritical", "FailuresBeforeWarning")
    return blank(
        _API_CHECK_KEYS,
        Expose=False,
        TLSSkipVerify=False,
        GRPCUseTLS=False,
        **dict.fromkeys(strings, ""),
        **dict.fromkeys(numbers, 0),
    )


def api_port(label: str) -> dict:
    return {"Label": label, "Value": 0, "To": 0, "HostNetwork": "", "IgnoreCollision": False}


def fill_defaults(target: dict, **defaults: Any) -> dict:
    """Fill keys that are missing or None (Go: ``if x == nil { x = default }``)."""
    for key, value in defaults.items():
        if target.get(key) is None:
            target[key] = copy.deepcopy(value)
    return target
