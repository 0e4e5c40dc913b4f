"""structs.Job: what register stores and ``GET /v1/job/:id`` returns."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

from ...wire import MINUTE, SECOND
from ._api import blank
from ._canonical import canonicalize_api, default_reschedule, default_restart

_STRUCT_JOB_KEYS = (
    "Stop",
    "Region",
    "Namespace",
    "ID",
    "ParentID",
    "Name",
    "Type",
    "Priority",
    "AllAtOnce",
    "Datacenters",
    "NodePool",
    "Constraints",
    "Affinities",
    "Spreads",
    "TaskGroups",
    "Update",
    "Multiregion",
    "Periodic",
    "ParameterizedJob",
    "Dispatched",
    "DispatchIdempotencyToken",
    "Payload",
    "Meta",
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
    "UI",
    "VersionTag",
)
_STRUCT_UPDATE_KEYS = (
    "Stagger",
    "MaxParallel",
    "HealthCheck",
    "MinHealthyTime",
    "HealthyDeadline",
    "ProgressDeadline",
    "AutoRevert",
    "AutoPromote",
    "Canary",
)
_STRUCT_CHECK_COPY = (
    "Name",
    "Type",
    "Command",
    "Args",
    "Path",
    "Protocol",
    "PortLabel",
    "Expose",
    "AddressMode",
    "Interval",
    "Timeout",
    "InitialStatus",
    "Notes",
    "TLSServerName",
    "TLSSkipVerify",
    "Method",
    "Header",
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


def _pick(source: dict | None, keys: Iterable[str]) -> dict | None:
    if source is None:
        return None
    return {key: copy.deepcopy(source.get(key)) for key in keys}


def _zero_update() -> dict:
    return {
        "Stagger": 0,
        "MaxParallel": 0,
        "HealthCheck": "",
        "MinHealthyTime": 0,
        "HealthyDeadline": 0,
        "ProgressDeadline": 0,
        "AutoRevert": False,
        "AutoPromote": False,
        "Canary": 0,
    }


def to_struct(api_job: dict, *, namespace: str = "default", region: str = "global") -> dict:
    """The stored ``structs.Job`` for a submitted api job, as ``GET /v1/job/:id`` shows it.

    ``namespace`` and ``region`` are the request's (query) values; like Nomad, a job that
    names its own namespace or a non-global region keeps it unless the request differs
    from the defaults. Server-assigned fields (Status, Version, indexes, SubmitTime)
    are left at their zero values for the caller to fill.
    """
    api = canonicalize_api(copy.deepcopy(api_job))
    job = blank(
        _STRUCT_JOB_KEYS,
        Dispatched=False,
        DispatchIdempotencyToken="",
        ConsulNamespace="",
        NomadTokenID="",
        Status="",
        StatusDescription="",
        Stable=False,
        Version=0,
        SubmitTime=0,
        CreateIndex=0,
        ModifyIndex=0,
        JobModifyIndex=0,
        ParentID=api["ParentID"],
    )
    for key in (
        "Stop",
        "ID",
        "Name",
        "Type",
        "Priority",
        "AllAtOnce",
        "Datacenters",
        "NodePool",
        "Payload",
        "Meta",
        "VaultNamespace",
        "UI",
    ):
        job[key] = copy.deepcopy(api[key])
    job["Region"] = _job_region(api["Region"], region)
    job["Namespace"] = api["Namespace"] if namespace == "default" and api["Namespace"] else namespace
    job["Constraints"] = _constraints(api["Constraints"])
    job["Affinities"] = _affinities(api["Affinities"])
    job["Spreads"] = _spreads(api["Spreads"])
    job["Update"] = _zero_update()
    if api["Update"] and (api["Update"].get("MaxParallel") or 0) > 0:
        job["Update"]["Stagger"] = api["Update"].get("Stagger") or 0
        job["Update"]["MaxParallel"] = api["Update"]["MaxParallel"]
    job["Periodic"] = _periodic(api["Periodic"])
    job["ParameterizedJob"] = _pick(api["ParameterizedJob"], ("Payload", "MetaRequired", "MetaOptional"))
    job["TaskGroups"] = [_struct_group(group, api) for group in api["TaskGroups"] or []] or None
    _canon_struct_job(job)
    _implied_constraints(job)
    return job


def _job_region(job_region: str, request_region: str) -> str:
    if request_region == "global" and job_region and job_region != "global":
        return job_region
    return request_region


def _constraints(items: list[dict] | None) -> list[dict] | None:
    if items is None:
        return None
    return [
        {"LTarget": item.get("LTarget", ""), "RTarget": item.get("RTarget", ""), "Operand": item.get("Operand", "")}
        for item in items
    ]


def _affinities(items: list[dict] | None) -> list[dict] | None:
    if items is None:
        return None
    return [
        {
            "LTarget": item.get("LTarget", ""),
            "RTarget": item.get("RTarget", ""),
            "Operand": item.get("Operand", ""),
            "Weight": item.get("Weight"),
        }
        for item in items
    ]


def _spreads(items: list[dict] | None) -> list[dict] | None:
    if not items:
        return None
    return [
        {
            "Attribute": item.get("Attribute", ""),
            "Weight": item.get("Weight"),
            "SpreadTarget": [
                {"Value": target.get("Value", ""), "Percent": target.get("Percent", 0)}
                for target in item.get("SpreadTarget") or []
            ]
            or None,
        }
        for item in items
    ]


def _periodic(periodic: dict | None) -> dict | None:
    if periodic is None:
        return None
    return {
        "Enabled": periodic["Enabled"],
        "Spec": periodic.get("Spec") or "",
        "Specs": periodic.get("Specs"),
        "SpecType": periodic["SpecType"],
        "ProhibitOverlap": periodic["ProhibitOverlap"],
        "TimeZone": periodic["TimeZone"],
    }


def _struct_group(group: dict, api_job: dict) -> dict:
    out = {
        "Name": group["Name"],
        "Count": group["Count"],
        "Update": None,
        "Migrate": None,
        "Constraints": _constraints(group["Constraints"]),
        "Scaling": None,
        "RestartPolicy": _struct_restart(group["RestartPolicy"]),
        "Disconnect": copy.deepcopy(group["Disconnect"]),
        "Tasks": None,
        "EphemeralDisk": _pick(group["EphemeralDisk"], ("Sticky", "SizeMB", "Migrate")),
        "Meta": copy.deepcopy(group["Meta"]),
        "ReschedulePolicy": _pick(
            group["ReschedulePolicy"], ("Attempts", "Interval", "Delay", "DelayFunction", "MaxDelay", "Unlimited")
        ),
        "Affinities": _affinities(group["Affinities"]),
        "Spreads": _spreads(group["Spreads"]),
        "Networks": _struct_networks(group["Networks"]),
        "Consul": _pick(group["Consul"], ("Namespace", "Cluster", "Partition")),
        "Services": _struct_services(group["Services"], group_level=True),
        "Volumes": None,
        "ShutdownDelay": group["ShutdownDelay"],
        "MaxRunDuration": group["MaxRunDuration"],
        "StopAfterClientDisconnect": group["StopAfterClientDisconnect"],
        "MaxClientDisconnect": group["MaxClientDisconnect"],
        "PreventRescheduleOnLost": bool(group["PreventRescheduleOnLost"]),
    }
    if group["Migrate"] is not None:
        out["Migrate"] = _pick(group["Migrate"], ("MaxParallel", "HealthCheck", "MinHealthyTime", "HealthyDeadline"))
    if group["Update"] is not None:
        out["Update"] = {key: group["Update"].get(key) for key in _STRUCT_UPDATE_KEYS}
        out["Update"]["AutoRevert"] = bool(out["Update"]["AutoRevert"])
        out["Update"]["AutoPromote"] = bool(out["Update"]["AutoPromote"])
    out["Tasks"] = [_struct_task(task) for task in group["Tasks"] or []] or None
    return out


def _struct_restart(policy: dict | None) -> dict | None:
    return _pick(policy, ("Attempts", "Interval", "Delay", "Mode", "RenderTemplates"))


def _struct_networks(networks: list[dict] | None) -> list[dict] | None:
    if not networks:
        return None
    out = []
    for network in networks:
        item: dict[str, Any] = {
            "Mode": network.get("Mode") or "",
            "Device": "",
            "CIDR": network.get("CIDR") or "",
            "IP": network.get("IP") or "",
        }
        if network.get("Hostname"):
            item["Hostname"] = network["Hostname"]  # omitempty
        item.update(
            {
                "MBits": network.get("MBits") or 0,
                "DNS": _pick(network.get("DNS"), ("Servers", "Searches", "Options")),
                "ReservedPorts": _struct_ports(network.get("ReservedPorts")),
                "DynamicPorts": _struct_ports(network.get("DynamicPorts")),
                "CNI": copy.deepcopy(network.get("CNI")),
            }
        )
        out.append(item)
    return out


def _struct_ports(ports: list[dict] | None) -> list[dict] | None:
    if not ports:
        return None
    return [
        {
            "Label": port.get("Label", ""),
            "Value": port.get("Value") or 0,
            "To": port.get("To") or 0,
            "HostNetwork": port.get("HostNetwork") or "",
            "IgnoreCollision": bool(port.get("IgnoreCollision")),
        }
        for port in ports
    ]


def _struct_services(services: list[dict] | None, group_level: bool) -> list[dict] | None:
    if not services:
        return None
    return [_struct_service(service, group_level) for service in services]


def _struct_service(service: dict, group_level: bool) -> dict:
    out = {
        "Name": service["Name"],
        "TaskName": service["TaskName"],
        "PortLabel": service["PortLabel"],
        "AddressMode": service["AddressMode"],
        "Address": service["Address"],
        "EnableTagOverride": service["EnableTagOverride"],
        "Tags": copy.deepcopy(service["Tags"]),
        "CanaryTags": copy.deepcopy(service["CanaryTags"]),
        "Checks": None,
        "Connect": None,
        "Meta": copy.deepcopy(service["Meta"]),
        "CanaryMeta": copy.deepcopy(service["CanaryMeta"]),
        "Weights": copy.deepcopy(service["Weights"]),
        "TaggedAddresses": copy.deepcopy(service["TaggedAddresses"]),
        "Namespace": "",
        "OnUpdate": service["OnUpdate"],
        "Provider": service["Provider"],
        "Cluster": service["Cluster"],
        "Identity": copy.deepcopy(service["Identity"]),
        "Kind": service["Kind"],
    }
    checks = []
    for check in service["Checks"] or []:
        item = {key: copy.deepcopy(check.get(key)) for key in _STRUCT_CHECK_COPY}
        item["OnUpdate"] = check.get("OnUpdate") or service["OnUpdate"]
        item["TaskName"] = check.get("TaskName", "") if group_level else ""
        checks.append(item)
    out["Checks"] = checks or None
    return out


def _struct_task(task: dict) -> dict:
    resources = task["Resources"]
    return {
        "Name": task["Name"],
        "Driver": task["Driver"],
        "User": task["User"],
        "Config": copy.deepcopy(task["Config"]),
        "Env": copy.deepcopy(task["Env"]),
        "Services": _struct_services(task["Services"], group_level=False),
        "Vault": None,
        "Secrets": None,
        "Consul": None,
        "Templates": _struct_templates(task["Templates"]),
        "Constraints": _constraints(task["Constraints"]),
        "Affinities": _affinities(task["Affinities"]),
        "Resources": _struct_resources(resources),
        "RestartPolicy": _struct_restart(task["RestartPolicy"]),
        "DispatchPayload": _pick(task["DispatchPayload"], ("File",)),
        "Lifecycle": _pick(task["Lifecycle"], ("Hook", "Sidecar")),
        "Meta": copy.deepcopy(task["Meta"]),
        "KillTimeout": task["KillTimeout"],
        "LogConfig": {
            "MaxFiles": task["LogConfig"]["MaxFiles"] or 0,
            "MaxFileSizeMB": task["LogConfig"]["MaxFileSizeMB"] or 0,
            "Disabled": bool(task["LogConfig"]["Disabled"]),
        },
        "Artifacts": _struct_artifacts(task["Artifacts"]),
        "Leader": task["Leader"],
        "ShutdownDelay": task["ShutdownDelay"] or 0,
        "VolumeMounts": None,
        "ScalingPolicies": None,
        "KillSignal": task["KillSignal"],
        "Kind": task["Kind"],
        "CSIPluginConfig": None,
        "Identity": None,
        "Identities": None,
        "Actions": None,
        "Schedule": None,
    }


def _struct_resources(resources: dict) -> dict:
    return {
        "CPU": resources["CPU"],
        "Cores": resources.get("Cores") or 0,
        "MemoryMB": resources["MemoryMB"],
        "MemoryMaxMB": resources.get("MemoryMaxMB") or 0,
        "DiskMB": 0,
        "IOPS": resources.get("IOPS") or 0,
        "Networks": _struct_networks(resources.get("Networks")),
        "Devices": None,
        "NUMA": None,
        "SecretsMB": resources.get("SecretsMB") or 0,
    }


def _struct_templates(templates: list[dict] | None) -> list[dict] | None:
    if not templates:
        return None
    keys = (
        "SourcePath",
        "DestPath",
        "EmbeddedTmpl",
        "ChangeMode",
        "ChangeSignal",
        "ChangeScript",
        "Once",
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
    )
    out = []
    for template in templates:
        item = {key: copy.deepcopy(template.get(key)) for key in keys}
        item["Once"] = bool(item["Once"])
        if item["ChangeScript"] is not None:
            item["ChangeScript"].setdefault("RunOnFirstRender", False)
        out.append(item)
    return out


def _struct_artifacts(artifacts: list[dict] | None) -> list[dict] | None:
    if not artifacts:
        return None
    keys = ("GetterSource", "GetterOptions", "GetterHeaders", "GetterMode", "GetterInsecure", "RelativeDest", "Chown")
    return [{key: copy.deepcopy(artifact.get(key)) for key in keys} for artifact in artifacts]


def _canon_struct_job(job: dict) -> None:
    """structs ``Job.Canonicalize`` plus the canonicalizer and node-pool mutators."""
    if not job["Meta"]:
        job["Meta"] = None
    job["Namespace"] = job["Namespace"] or "default"
    if not job["Datacenters"]:
        job["Datacenters"] = ["*"]
    if not job["Priority"]:
        job["Priority"] = 50
    job["NodePool"] = job["NodePool"] or "default"
    if job["ParameterizedJob"] is not None and not job["ParameterizedJob"]["Payload"]:
        job["ParameterizedJob"]["Payload"] = "optional"
    for group in job["TaskGroups"] or []:
        _canon_struct_group(group, job)


def _canon_struct_group(group: dict, job: dict) -> None:
    if not group["Meta"]:
        group["Meta"] = None
    if group["RestartPolicy"] is None:
        group["RestartPolicy"] = _struct_restart(default_restart(job["Type"]))
    if group["ReschedulePolicy"] is None and job["Type"] not in ("system", "sysbatch"):
        group["ReschedulePolicy"] = default_reschedule(job["Type"])
    if group["Migrate"] is None and job["Type"] == "service":
        group["Migrate"] = {
            "MaxParallel": 1,
            "HealthCheck": "checks",
            "MinHealthyTime": 10 * SECOND,
            "HealthyDeadline": 5 * MINUTE,
        }
    if group["EphemeralDisk"] is None:
        group["EphemeralDisk"] = {"Sticky": False, "SizeMB": 300, "Migrate": False}
    if job["Type"] == "system" and group["Count"] == 0:
        group["Count"] = 1
    for service in group["Services"] or []:
        _canon_struct_service(service, job, group, "group")
    for network in group["Networks"] or []:
        _canon_struct_network(network)
    for task in group["Tasks"] or []:
        _canon_struct_task(task, group, job)


def _canon_struct_network(network: dict) -> None:
    for key in ("ReservedPorts", "DynamicPorts"):
        for port in network[key] or []:
            port["HostNetwork"] = port["HostNetwork"] or "default"
        network[key] = network[key] or None


def _canon_struct_service(service: dict, job: dict, group: dict, task_name: str) -> None:
    for key in ("Tags", "CanaryTags", "Checks", "TaggedAddresses"):
        service[key] = service[key] or None
    if not service["TaskName"] and task_name != "group":
        service["TaskName"] = task_name
    service["Name"] = _replace_env(
        service["Name"],
        {
            "JOB": job["Name"],
            "TASKGROUP": group["Name"],
            "TASK": task_name,
            "BASE": f"{job['Name']}-{group['Name']}-{task_name}",
        },
    )
    for check in service["Checks"] or []:
        check["Args"] = check["Args"] or None
        check["Header"] = check["Header"] or None
        check["Name"] = check["Name"] or f'service: "{service["Name"]}" check'
        if not check["TaskName"] and service["TaskName"] != "group":
            check["TaskName"] = service["TaskName"]
        check["OnUpdate"] = check["OnUpdate"] or "require_healthy"
    service["Provider"] = service["Provider"] or "consul"
    if service["Provider"] == "consul" and not service["Namespace"]:
        service["Namespace"] = "default"
    elif service["Provider"] == "nomad":
        service["Namespace"] = job["Namespace"]


def _replace_env(text: str, env: dict[str, str]) -> str:
    """helper/args.ReplaceEnv: ``${NAME}`` becomes env[NAME] when NAME is known."""
    # Up to the last "}" only: past it, each unclosed "${" would be scanned to the end.
    end = text.rfind("}") + 1
    replaced = re.sub(r"\$\{([^}]+)\}", lambda match: env.get(match.group(1), match.group(0)), text[:end])
    return replaced + text[end:]


def _canon_struct_task(task: dict, group: dict, job: dict) -> None:
    for key in ("Meta", "Config", "Env"):
        task[key] = task[key] or None
    for service in task["Services"] or []:
        _canon_struct_service(service, job, group, task["Name"])
    for network in task["Resources"]["Networks"] or []:
        _canon_struct_network(network)
    if task["RestartPolicy"] is None:
        task["RestartPolicy"] = copy.deepcopy(group["RestartPolicy"])
    task["KillTimeout"] = task["KillTimeout"] or 5 * SECOND
    for template in task["Templates"] or []:
        template["ChangeSignal"] = (template["ChangeSignal"] or "").upper()


def _implied_constraints(job: dict) -> None:
    """The ``constraints`` admission mutator for signals and service discovery."""
    for group in job["TaskGroups"] or []:
        signals = sorted({signal for task in group["Tasks"] or [] for signal in _task_signals(task)})
        if signals:
            _add_constraint(
                group,
                {"LTarget": "${attr.os.signals}", "RTarget": ",".join(signals), "Operand": "set_contains"},
                full_match=True,
            )
        services = list(group["Services"] or []) + [s for task in group["Tasks"] or [] for s in task["Services"] or []]
        if any(service["Provider"] == "nomad" for service in services):
            _add_constraint(
                group,
                {"LTarget": "${attr.nomad.service_discovery}", "RTarget": "true", "Operand": "="},
                full_match=True,
            )
        if any(service["Provider"] == "nomad" and service["Checks"] for service in services):
            _add_constraint(
                group, {"LTarget": "${attr.nomad.version}", "RTarget": ">= 1.4.0", "Operand": "semver"}, full_match=True
            )
        for cluster in dict.fromkeys(s["Cluster"] or "default" for s in services if s["Provider"] == "consul"):
            if cluster == "default":
                constraint = {"LTarget": "${attr.consul.version}", "RTarget": ">= 1.7.0", "Operand": "semver"}
            else:
                constraint = {
                    "LTarget": f"${{attr.consul.{cluster}.version}}",
                    "RTarget": ">= 1.8.0",
                    "Operand": "semver",
                }
            _add_constraint(group, constraint, full_match=False)


def _task_signals(task: dict) -> list[str]:
    signals = [task["KillSignal"]] if task["KillSignal"] else []
    signals += [t["ChangeSignal"] for t in task["Templates"] or [] if t["ChangeMode"] == "signal"]
    return signals


def _add_constraint(group: dict, constraint: dict, full_match: bool) -> None:
    for existing in group["Constraints"] or []:
        if existing == constraint if full_match else existing["LTarget"] == constraint["LTarget"]:
            return
    group["Constraints"] = (group["Constraints"] or []) + [constraint]


def job_meta_merged(job: dict, group: dict | str, task: dict | str) -> dict:
    """Job meta < group meta < task meta, like ``Job.CombinedTaskMeta``."""
    if isinstance(group, str):
        group = next((g for g in job.get("TaskGroups") or [] if g.get("Name") == group), {})
    if isinstance(task, str):
        task = next((t for t in group.get("Tasks") or [] if t.get("Name") == task), {})
    merged: dict = {}
    for source in (job, group, task):
        merged.update(source.get("Meta") or {})
    return merged
