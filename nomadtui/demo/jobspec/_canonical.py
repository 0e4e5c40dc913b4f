"""api ``Canonicalize``: the defaults a real agent fills into a parsed job."""

from __future__ import annotations

import copy

from ...wire import HOUR, MINUTE, SECOND
from ._api import (
    API_GROUP_KEYS,
    API_JOB_KEYS,
    API_RESOURCES_KEYS,
    UPDATE_KEYS,
    api_check_blank,
    api_service_blank,
    api_task_blank,
    blank,
    fill_defaults,
)


def _default_update() -> dict:
    return {
        "Stagger": 30 * SECOND,
        "MaxParallel": 1,
        "HealthCheck": "checks",
        "MinHealthyTime": 10 * SECOND,
        "HealthyDeadline": 5 * MINUTE,
        "ProgressDeadline": 10 * MINUTE,
        "Canary": 0,
        "AutoRevert": False,
        "AutoPromote": False,
    }


def default_reschedule(job_type: str) -> dict:
    if job_type == "service":
        return {
            "Attempts": 0,
            "Interval": 0,
            "Delay": 30 * SECOND,
            "DelayFunction": "exponential",
            "MaxDelay": HOUR,
            "Unlimited": True,
        }
    if job_type == "batch":
        return {
            "Attempts": 1,
            "Interval": 24 * HOUR,
            "Delay": 5 * SECOND,
            "DelayFunction": "constant",
            "MaxDelay": 0,
            "Unlimited": False,
        }
    return {"Attempts": 0, "Interval": 0, "Delay": 0, "DelayFunction": "", "MaxDelay": 0, "Unlimited": False}


def default_restart(job_type: str) -> dict:
    if job_type in ("service", "system"):
        return {"Interval": 30 * MINUTE, "Attempts": 2, "Delay": 15 * SECOND, "Mode": "fail", "RenderTemplates": False}
    return {"Interval": 24 * HOUR, "Attempts": 3, "Delay": 15 * SECOND, "Mode": "fail", "RenderTemplates": False}


def _update_is_empty(update: dict | None) -> bool:
    """api UpdateStrategy.Empty(): no field holds a non-zero value."""
    return not update or not any(update.get(key) for key in UPDATE_KEYS)


def _merge_set(base: dict, override: dict | None) -> dict:
    """Go's ``Merge``: fields set (non-nil) in ``override`` win."""
    merged = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if value is not None:
            merged[key] = copy.deepcopy(value)
    return merged


def canonicalize_api(job: dict) -> dict:
    """api ``Job.Canonicalize``: fill every default a real agent fills (in place)."""
    for key in API_JOB_KEYS:
        job.setdefault(key, None)
    job["Dispatched"] = bool(job.get("Dispatched"))
    fill_defaults(job, ID="")
    fill_defaults(
        job,
        Name=job["ID"],
        ParentID="",
        Namespace="default",
        Priority=50,
        Stop=False,
        Region="global",
        NodePool="",
        Type="service",
        AllAtOnce=False,
        ConsulNamespace="",
        VaultNamespace="",
        NomadTokenID="",
        Status="",
        StatusDescription="",
        Stable=False,
        Version=0,
        CreateIndex=0,
        ModifyIndex=0,
        JobModifyIndex=0,
    )
    if job["Periodic"] is not None:
        _canon_periodic(job["Periodic"])
    if job["Update"] is not None:
        job["Update"] = _merge_set(_default_update(), job["Update"])
    elif job["Type"] == "service":
        job["Update"] = _default_update()
    for group in job["TaskGroups"] or []:
        _canon_group(group, job)
    for item in (job["Spreads"] or []) + (job["Affinities"] or []):
        fill_defaults(item, Weight=50)
    return job


def _canon_periodic(periodic: dict) -> None:
    fill_defaults(periodic, Enabled=True, SpecType="cron", ProhibitOverlap=False)
    if not periodic.get("Spec") and not periodic.get("Specs"):
        periodic["Spec"] = ""
    if not periodic.get("TimeZone"):
        periodic["TimeZone"] = "UTC"


def _canon_group(group: dict, job: dict) -> None:
    for key in API_GROUP_KEYS:
        group.setdefault(key, None)
    job_type = job["Type"]
    fill_defaults(group, Name="")
    if group["Count"] is None:
        group["Count"] = 1
    group["EphemeralDisk"] = _merge_set({"Sticky": False, "Migrate": False, "SizeMB": 300}, group["EphemeralDisk"])
    consul = _merge_set({"Namespace": "", "Cluster": "", "Partition": ""}, group["Consul"])
    consul["Namespace"] = consul["Namespace"] or job["ConsulNamespace"]
    consul["Cluster"] = consul["Cluster"] or "default"
    group["Consul"] = consul
    group["Update"] = _group_update(group["Update"], job["Update"])
    group["ReschedulePolicy"] = _group_reschedule(group["ReschedulePolicy"], job["Reschedule"], job_type)
    group["Migrate"] = _group_migrate(group["Migrate"], job["Migrate"], job_type)
    group["RestartPolicy"] = _merge_set(default_restart(job_type), group["RestartPolicy"])
    for task in group["Tasks"] or []:
        _canon_task(task, group, job)
    for item in (group["Spreads"] or []) + (group["Affinities"] or []):
        fill_defaults(item, Weight=50)
    for service in group["Services"] or []:
        _canon_service(service, None, group, job)
    if group["PreventRescheduleOnLost"] is None:
        group["PreventRescheduleOnLost"] = False


def _group_update(own: dict | None, job_update: dict | None) -> dict | None:
    if job_update is not None and own is not None:
        own = _merge_set(job_update, own)
    elif job_update is not None and not _update_is_empty(job_update):
        own = copy.deepcopy(job_update)
    return _merge_set(_default_update(), own) if own is not None else None


def _group_reschedule(own: dict | None, job_policy: dict | None, job_type: str) -> dict | None:
    if job_policy is not None:
        own = _merge_set(job_policy, own)
    if own is None and job_type != "system":
        own = default_reschedule(job_type)
    return _merge_set(default_reschedule(job_type), own) if own is not None else None


def _group_migrate(own: dict | None, job_migrate: dict | None, job_type: str) -> dict | None:
    if job_migrate is not None:
        own = _merge_set(job_migrate, own)
    if own is None and job_type == "service":
        own = {}
    defaults = {"MaxParallel": 1, "HealthCheck": "checks", "MinHealthyTime": 10 * SECOND, "HealthyDeadline": 5 * MINUTE}
    return _merge_set(defaults, own) if own is not None else None


def _canon_task(task: dict, group: dict, job: dict) -> None:
    for key, value in api_task_blank().items():
        task.setdefault(key, value)
    resources = blank(API_RESOURCES_KEYS)
    resources.update(task["Resources"] or {})
    _canon_resources(resources)
    task["Resources"] = resources
    fill_defaults(task, KillTimeout=5 * SECOND)
    task["LogConfig"] = _merge_set(
        {"MaxFiles": 10, "MaxFileSizeMB": 10, "Enabled": None, "Disabled": False}, task["LogConfig"]
    )
    for artifact in task["Artifacts"] or []:
        _canon_artifact(artifact)
    for template in task["Templates"] or []:
        _canon_template(template)
    for service in task["Services"] or []:
        _canon_service(service, task, group, job)
    for affinity in task["Affinities"] or []:
        fill_defaults(affinity, Weight=50)
    if not (task["Lifecycle"] or {}).get("Hook"):
        task["Lifecycle"] = None
    task["RestartPolicy"] = _merge_set(group["RestartPolicy"], task["RestartPolicy"])


def _canon_resources(resources: dict) -> None:
    if resources["Cores"] is None:
        resources["Cores"] = 0
        if resources["CPU"] is None:
            resources["CPU"] = 100
    if resources["CPU"] is None:
        resources["CPU"] = 0
    if resources["MemoryMB"] is None:
        resources["MemoryMB"] = 300


def _canon_artifact(artifact: dict) -> None:
    fill_defaults(artifact, GetterMode="any", GetterInsecure=False, GetterSource="")
    for key in ("GetterOptions", "GetterHeaders"):
        if not artifact.get(key):
            artifact[key] = None
    if artifact.get("RelativeDest") is None:
        if artifact["GetterMode"] == "file":
            artifact["RelativeDest"] = "local/" + artifact["GetterSource"].rstrip("/").rsplit("/", 1)[-1]
        else:
            artifact["RelativeDest"] = "local/"


def _canon_template(template: dict) -> None:
    fill_defaults(template, SourcePath="", DestPath="", EmbeddedTmpl="", ChangeMode="restart")
    if template.get("ChangeSignal") is None:
        template["ChangeSignal"] = "SIGHUP" if template["ChangeMode"] == "signal" else ""
    else:
        template["ChangeSignal"] = template["ChangeSignal"].upper()
    if template.get("ChangeScript") is not None:
        fill_defaults(template["ChangeScript"], Command="", Args=[], Timeout=5 * SECOND, FailOnError=False)
    fill_defaults(
        template,
        Splay=5 * SECOND,
        Perms="0644",
        LeftDelim="{{",
        RightDelim="}}",
        Envvars=False,
        ErrMissingKey=False,
        VaultGrace=0,
    )


def _canon_service(service: dict, task: dict | None, group: dict, job: dict) -> None:
    for key, value in api_service_blank().items():
        service.setdefault(key, value)
    if not service["Name"]:
        parts = [job["Name"], group["Name"]] + ([task["Name"]] if task is not None else [])
        service["Name"] = "-".join(parts)
    service["AddressMode"] = service["AddressMode"] or "auto"
    service["OnUpdate"] = service["OnUpdate"] or "require_healthy"
    service["Provider"] = service["Provider"] or "consul"
    service["Cluster"] = service["Cluster"] or "default"
    for key in ("Meta", "CanaryMeta", "TaggedAddresses"):
        if not service[key]:
            service[key] = None
    if service["Weights"] is not None:
        for key in ("Passing", "Warning"):
            if (service["Weights"].get(key) or 0) <= 0:
                service["Weights"][key] = 1
    for check in service["Checks"] or []:
        for key, value in api_check_blank().items():
            check.setdefault(key, value)
        check["CheckRestart"] = _merge_check_restart(service["CheckRestart"], check["CheckRestart"])
        for key in ("SuccessBeforePassing", "FailuresBeforeCritical", "FailuresBeforeWarning"):
            check[key] = max(check[key] or 0, 0)
        check["OnUpdate"] = check["OnUpdate"] or service["OnUpdate"]


def _merge_check_restart(service_level: dict | None, check_level: dict | None) -> dict | None:
    if service_level is None:
        merged = copy.deepcopy(check_level)
    else:
        merged = copy.deepcopy(service_level)
        if check_level:
            if (check_level.get("Limit") or 0) > 0:
                merged["Limit"] = check_level["Limit"]
            if check_level.get("Grace") is not None:
                merged["Grace"] = check_level["Grace"]
            if check_level.get("IgnoreWarnings"):
                merged["IgnoreWarnings"] = True
    if merged is not None:
        fill_defaults(merged, Limit=0, Grace=SECOND, IgnoreWarnings=False)
    return merged
