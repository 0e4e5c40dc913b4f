"""`/v1/client/allocation/:alloc_id/checks`: the latest result of each check of the
allocation's `provider = "nomad"` services, as a Nomad client's check runner reports them.

Mirrors client/serviceregistration/checks (client.go checkHTTP/checkTCP: "nomad: http ok",
"nomad: tcp ok"; result.go; checkstore/shim.go List: `nil`, answered `null`, for an allocation
without Nomad checks) and nomad/structs/checks.go (CheckQueryResult, GetCheckMode,
NomadCheckID). Consul's checks are not Nomad's to report: the article's jobs answer `null`.
The demo's instances pass their checks while their task runs; a check is pending until its
first interval has passed, and fails while a task that ran is not running.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from ..wire import parse_rfc3339
from .clock import Clock
from .structs import lookup_task_group

OK_OUTPUT = {"http": "nomad: http ok", "tcp": "nomad: tcp ok"}


def check_results(alloc: dict, clock: Clock) -> dict | None:
    """The allocation's check results by check ID (None: it has no Nomad checks, or has stopped:
    its client purged them). Check intervals are rollout durations: scaled by the clock's speed."""
    if alloc["DesiredStatus"] != "run" or alloc["ClientStatus"] not in ("pending", "running"):
        return None
    results = {}
    for task, service, check in _nomad_checks(alloc):
        result = _result(alloc, task, service, check, clock)
        results[result["ID"]] = result
    return results or None


def _nomad_checks(alloc: dict) -> Iterator[tuple[str, dict, dict]]:
    group = lookup_task_group(alloc["_job"], alloc["TaskGroup"])
    owners = [("", group)] + [(task["Name"], task) for task in group.get("Tasks") or []]
    for task, owner in owners:
        for service in owner.get("Services") or []:
            if service.get("Provider") == "nomad":
                for check in service.get("Checks") or []:
                    yield task or check.get("TaskName") or "", service, check


def _result(alloc: dict, task: str, service: dict, check: dict, clock: Clock) -> dict:
    now = clock.now()
    interval = clock.scaled((check.get("Interval") or 10_000_000_000) / 1e9)
    started = _started(alloc, task)
    result = {
        "ID": nomad_check_id(alloc["ID"], alloc["TaskGroup"], task, check),
        "Mode": "readiness" if check.get("OnUpdate") == "ignore" else "healthiness",  # GetCheckMode
        "Status": "pending",
        "Output": "",
        "Timestamp": int(now),
        "Group": alloc["TaskGroup"],
        "Service": service.get("Name") or "",
        "Check": check.get("Name") or "",
    }
    if task:
        result["Task"] = task
    if started is None and _ever_started(alloc, task):  # the task died or is restarting
        result.update(Status="failure", Output="nomad: dial tcp: connect: connection refused")
    elif started is None:
        pass  # not started yet: the check runner has only its initial pending result
    elif now - started >= interval:
        kind = check.get("Type") or "http"
        result.update(Status="success", Output=OK_OUTPUT.get(kind, "nomad: tcp ok"))
        result["Timestamp"] = int(started + (now - started) // interval * interval)
        if kind == "http":
            result["StatusCode"] = 200
    return result


def _started(alloc: dict, task: str) -> float | None:
    """When the task (any task, for a group check) last started running; None if none runs."""
    states = alloc.get("TaskStates") or {}
    running = [s for name, s in states.items() if s.get("State") == "running" and (not task or name == task)]
    times = [parse_rfc3339(s.get("StartedAt")) for s in running]
    return max((t for t in times if t is not None), default=None)


def _ever_started(alloc: dict, task: str) -> bool:
    states = alloc.get("TaskStates") or {}
    return any(s.get("StartedAt") for name, s in states.items() if not task or name == task)


def nomad_check_id(alloc_id: str, group: str, task: str, check: dict) -> str:
    """NomadCheckID (nomad/structs/checks.go): a SHA-256 over the check's identity."""
    digest = hashlib.sha256()
    keys = ("Name", "Type", "PortLabel", "OnUpdate", "AddressMode", "Interval", "Timeout", "Protocol", "Path")
    for part in (alloc_id, group, task, *(check.get(k) for k in (*keys, "Method", "TLSSkipVerify"))):
        digest.update(str(part or "").encode())
    return digest.hexdigest()
