"""structs ``Validate``: admission validation, with Nomad's error text."""

from __future__ import annotations

import json
import re

from ...wire import SECOND, format_duration
from ._errors import JobspecError, MultiError

_JOB_TYPES = ("_core", "service", "batch", "system", "sysbatch")


def validate(struct_job: dict) -> None:
    """Admission validation of a ``structs.Job``; raises JobspecError with Nomad's text."""
    errors = MultiError()
    errors.merge(_validate_job(struct_job))
    job_type = struct_job.get("Type")
    if job_type == "_core":
        errors.add("job type cannot be core")
    if struct_job.get("Payload"):
        errors.add("job can't be submitted with a payload, only dispatched")
    priority = struct_job.get("Priority") or 0
    if not 1 <= priority <= 100:
        errors.add("job priority must be between [1, 100]")
    if errors.errors:
        raise JobspecError(str(errors), errors=errors.items())


def _validate_job(job: dict) -> MultiError | None:
    err = MultiError()
    if not job.get("Region"):
        err.add("Missing job region")
    if not job.get("ID"):
        err.add("Missing job ID")
    elif " " in job["ID"]:
        err.add("Job ID contains a space")
    elif "\0" in job["ID"]:
        err.add("Job ID contains a null character")
    if not job.get("Name"):
        err.add("Missing job name")
    elif "\0" in job["Name"]:
        err.add("Job Name contains a null character")
    if not job.get("Namespace"):
        err.add("Job must be in a namespace")
    job_type = job.get("Type") or ""
    if not job_type:
        err.add("Missing job type")
    elif job_type not in _JOB_TYPES:
        err.add(f"Invalid job type: {_go_q(job_type)}")
    if not job.get("Datacenters"):
        err.add("Missing job datacenters")
    for datacenter in job.get("Datacenters") or []:
        if datacenter == "":
            err.add("Job datacenter must be non-empty string")
    groups = job.get("TaskGroups") or []
    if not groups:
        err.add("Missing job task groups")
    for index, constraint in enumerate(job.get("Constraints") or [], 1):
        if (problem := _validate_constraint(constraint)) is not None:
            err.add(f"Constraint {index} validation failed: {problem}")
    _validate_group_names(groups, job_type, err)
    for group in groups:
        if (problem := _validate_group(group, job)) is not None:
            err.add(f"Task group {group.get('Name', '')} validation failed: {problem}")
    _validate_periodic_and_parameterized(job, err)
    return err.or_none()


def _go_q(text: str) -> str:
    """Go's %q for the plain strings used in messages."""
    return json.dumps(text, ensure_ascii=False)


def _validate_group_names(groups: list[dict], job_type: str, err: MultiError) -> None:
    seen: dict[str, int] = {}
    for index, group in enumerate(groups, 1):
        name = group.get("Name") or ""
        if not name:
            err.add(f"Job task group {index} missing name")
        elif name in seen:
            err.add(f"Job task group {index} redefines '{name}' from group {seen[name]}")
        else:
            seen[name] = index
        if (group.get("ShutdownDelay") or 0) < 0:
            err.add("ShutdownDelay must be a positive value")
        if job_type == "system" and (group.get("Count") or 0) > 1:
            err.add(f"Job task group {name} has count {group['Count']}. Count cannot exceed 1 with system scheduler")


def _validate_periodic_and_parameterized(job: dict, err: MultiError) -> None:
    periodic = job.get("Periodic")
    if periodic and periodic.get("Enabled"):
        if job.get("Type") not in ("batch", "sysbatch"):
            err.add('Periodic can only be used with "batch" or "sysbatch" scheduler')
        if not periodic.get("Spec") and not periodic.get("Specs"):
            err.add(_single("Must specify a spec"))
    parameterized = job.get("ParameterizedJob") and not job.get("Dispatched")
    if parameterized and job.get("Type") not in ("batch", "sysbatch"):
        err.add('Parameterized job can only be used with "batch" or "sysbatch" scheduler')


def _single(text: str) -> MultiError:
    err = MultiError()
    err.add(text)
    return err


def _validate_constraint(constraint: dict) -> MultiError | None:
    err = MultiError()
    operand = constraint.get("Operand") or ""
    rtarget = constraint.get("RTarget") or ""
    if not operand:
        err.add("Missing constraint operand")
    requires_ltarget = True
    if operand == "distinct_hosts":
        requires_ltarget = False
    elif operand in ("set_contains_all", "set_contains_any", "set_contains"):
        if not rtarget:
            err.add("Set contains constraint requires an RTarget")
    elif operand == "distinct_property":
        if rtarget and (not rtarget.isdigit() or int(rtarget) < 1):
            err.add(
                f"Distinct Property must have an allowed count of 1 or greater: {rtarget} < 1"
                if rtarget.isdigit()
                else f'Failed to convert RTarget "{rtarget}" to uint64'
            )
    elif operand in ("is_set", "is_not_set"):
        if rtarget:
            err.add(f"Operator {_go_q(operand)} does not support an RTarget")
    elif operand in ("=", "==", "is", "!=", "not", "<", "<=", ">", ">="):
        if not rtarget:
            err.add(f"Operator {_go_q(operand)} requires an RTarget")
    elif operand not in ("regexp", "version", "semver"):
        err.add(f"Unknown constraint type {_go_q(operand)}")
    if requires_ltarget and not constraint.get("LTarget"):
        err.add("No LTarget provided but is required by constraint")
    return err.or_none()


def _validate_group(group: dict, job: dict) -> MultiError | None:
    err = MultiError()
    job_type = job.get("Type") or ""
    if not group.get("Name"):
        err.add("Missing task group name")
    if (group.get("Count") or 0) < 0:
        err.add("Task group count can't be negative")
    tasks = group.get("Tasks") or []
    if not tasks:
        err.add("Missing tasks for task group")
    for index, constraint in enumerate(group.get("Constraints") or [], 1):
        if (problem := _validate_constraint(constraint)) is not None:
            err.add(f"Constraint {index} validation failed: {problem}")
    _validate_group_policies(group, job_type, err)
    _validate_group_strategies(group, job_type, err)
    _validate_task_names(tasks, err)
    if (problem := _validate_services(group.get("Services") or [], group.get("Networks") or [], None)) is not None:
        err.add(f"Task group service validation failed: {problem}")
    for task in tasks:
        if (problem := _validate_task(task, group)) is not None:
            err.add(f"Task {task.get('Name', '')} validation failed: {problem}")
    return err.or_none()


def _validate_group_policies(group: dict, job_type: str, err: MultiError) -> None:
    name = group.get("Name", "")
    restart = group.get("RestartPolicy")
    if restart is None:
        err.add(f"Task Group {name} should have a restart policy")
    else:
        err.add(_validate_restart(restart))
    reschedule = group.get("ReschedulePolicy")
    if job_type == "system":
        if reschedule is not None:
            err.add("System jobs should not have a reschedule policy")
    elif reschedule is None:
        err.add(f"Task Group {name} should have a reschedule policy")
    else:
        err.add(_validate_reschedule(reschedule))
    disk = group.get("EphemeralDisk")
    if disk is None:
        err.add(f"Task Group {name} should have an ephemeral disk object")
    elif (disk.get("SizeMB") or 0) < 10:
        err.add(f"minimum DiskMB value is 10; got {disk.get('SizeMB') or 0}")


def _validate_group_strategies(group: dict, job_type: str, err: MultiError) -> None:
    update = group.get("Update")
    if update is not None:
        if job_type not in ("service", "system"):
            err.add(f"Job type {_go_q(job_type)} does not allow update block")
        err.add(_validate_update(update))
    migrate = group.get("Migrate")
    if job_type == "service":
        if migrate is not None:
            err.add(_validate_migrate(migrate))
    elif migrate is not None:
        err.add(f"Job type {_go_q(job_type)} does not allow migrate block")


def _validate_task_names(tasks: list[dict], err: MultiError) -> None:
    seen: dict[str, int] = {}
    leaders = 0
    for index, task in enumerate(tasks, 1):
        name = task.get("Name") or ""
        if not name:
            err.add(f"Task {index} missing name")
        elif name in seen:
            err.add(f"Task {index} redefines '{name}' from task {seen[name]}")
        else:
            seen[name] = index
        leaders += bool(task.get("Leader"))
    if leaders > 1:
        err.add("Only one task may be marked as leader")


def _validate_update(update: dict) -> MultiError | None:
    err = MultiError()
    health_check = update.get("HealthCheck") or ""
    max_parallel = update.get("MaxParallel") or 0
    canary = update.get("Canary") or 0
    min_healthy = update.get("MinHealthyTime") or 0
    deadline = update.get("HealthyDeadline") or 0
    progress = update.get("ProgressDeadline") or 0
    stagger = update.get("Stagger") or 0
    if health_check not in ("checks", "task_states", "manual"):
        err.add(f"Invalid health check given: {_go_q(health_check)}")
    if max_parallel < 0:
        err.add(f"Max parallel can not be less than zero: {max_parallel} < 0")
    if canary < 0:
        err.add(f"Canary count can not be less than zero: {canary} < 0")
    if canary == 0 and update.get("AutoPromote"):
        err.add("Auto Promote requires a Canary count greater than zero")
    if min_healthy < 0:
        err.add(f"Minimum healthy time may not be less than zero: {format_duration(min_healthy)}")
    if deadline <= 0:
        err.add(f"Healthy deadline must be greater than zero: {format_duration(deadline)}")
    if progress < 0:
        err.add(f"Progress deadline must be zero or greater: {format_duration(progress)}")
    if min_healthy >= deadline:
        err.add(
            "Minimum healthy time must be less than healthy deadline: "
            f"{format_duration(min_healthy)} > {format_duration(deadline)}"
        )
    if progress != 0 and deadline >= progress:
        err.add(
            "Healthy deadline must be less than progress deadline: "
            f"{format_duration(deadline)} > {format_duration(progress)}"
        )
    if stagger <= 0:
        err.add(f"Stagger must be greater than zero: {format_duration(stagger)}")
    return err.or_none()


def _validate_migrate(migrate: dict) -> MultiError | None:
    err = MultiError()
    max_parallel = migrate.get("MaxParallel") or 0
    health_check = migrate.get("HealthCheck") or ""
    min_healthy = migrate.get("MinHealthyTime") or 0
    deadline = migrate.get("HealthyDeadline") or 0
    if max_parallel < 0:
        err.add(f"MaxParallel must be >= 0 but found {max_parallel}")
    if health_check == "" and max_parallel > 0:
        err.add("Missing HealthCheck")
    elif health_check not in ("", "checks", "task_states"):
        err.add(f"Invalid HealthCheck: {_go_q(health_check)}")
    if min_healthy < 0:
        err.add(f"MinHealthyTime is {format_duration(min_healthy)} and must be >= 0")
    if deadline < 0:
        err.add(f"HealthyDeadline is {format_duration(deadline)} and must be >= 0")
    if min_healthy > deadline:
        err.add("MinHealthyTime must be less than HealthyDeadline")
    return err.or_none()


def _validate_restart(policy: dict) -> MultiError | None:
    err = MultiError()
    mode = policy.get("Mode") or ""
    attempts = policy.get("Attempts") or 0
    interval = policy.get("Interval") or 0
    delay = policy.get("Delay") or 0
    if mode not in ("delay", "fail"):
        err.add(f"Unsupported restart mode: {_go_q(mode)}")
    if attempts == 0 and mode != "fail":
        err.add(f"Restart policy {_go_q(mode)} with {attempts} attempts is ambiguous")
    if interval < 5 * SECOND:
        err.add(f"Interval can not be less than 5s (got {format_duration(interval)})")
    if attempts * delay > interval:
        err.add(
            f"Nomad can't restart the TaskGroup {attempts} times in an interval of "
            f"{format_duration(interval)} with a delay of {format_duration(delay)}"
        )
    return err.or_none()


def _validate_reschedule(policy: dict) -> MultiError | None:
    attempts = policy.get("Attempts") or 0
    unlimited = bool(policy.get("Unlimited"))
    if not (attempts > 0 or unlimited):
        return None
    err = MultiError()
    interval = policy.get("Interval") or 0
    delay = policy.get("Delay") or 0
    max_delay = policy.get("MaxDelay") or 0
    function = policy.get("DelayFunction") or ""
    if attempts > 0:
        if interval <= 0:
            err.add("Interval must be a non zero value if Attempts > 0")
        if unlimited:
            err.add(
                f"Reschedule Policy with Attempts = {attempts}, Interval = {format_duration(interval)}, "
                f"and Unlimited = {str(unlimited).lower()} is ambiguous"
            )
            err.add("If Attempts >0, Unlimited cannot also be set to true")
    if delay < 5 * SECOND:
        err.add(f"Delay cannot be less than 5s (got {format_duration(delay)})")
    if function not in ("constant", "exponential", "fibonacci"):
        err.add(f'Invalid delay function {_go_q(function)}, must be one of ["constant" "exponential" "fibonacci"]')
    if function != "constant":
        if max_delay < 5 * SECOND:
            err.add(f"Max Delay cannot be less than 5s (got {format_duration(delay)})")
        if max_delay < delay:
            err.add(f"Max Delay cannot be less than Delay {format_duration(delay)} (got {format_duration(max_delay)})")
    if not unlimited and interval < 15 * SECOND:
        err.add(f"Interval cannot be less than 15s (got {format_duration(interval)})")
    return err.or_none()


def _validate_task(task: dict, group: dict) -> MultiError | None:
    err = MultiError()
    name = task.get("Name") or ""
    if not name:
        err.add("Missing task name")
    if "/" in name or "\\" in name:
        err.add("Task name cannot include slashes")
    elif "\0" in name:
        err.add("Task name cannot include null characters")
    if not task.get("Driver"):
        err.add("Missing task driver")
    if (task.get("KillTimeout") or 0) < 0:
        err.add("KillTimeout must be a positive value")
    if (task.get("ShutdownDelay") or 0) < 0:
        err.add("ShutdownDelay must be a positive value")
    resources = task.get("Resources")
    if resources is None:
        err.add("Missing task resources")
    else:
        err.add(_validate_resources(resources))
    logs = task.get("LogConfig")
    if logs is None:
        err.add("Missing Log Config")
    else:
        err.add(_validate_logs(logs, group.get("EphemeralDisk")))
    for index, constraint in enumerate(task.get("Constraints") or [], 1):
        if (problem := _validate_constraint(constraint)) is not None:
            err.add(f"Constraint {index} validation failed: {problem}")
    err.add(_validate_services(task.get("Services") or [], group.get("Networks") or [], task))
    return err.or_none()


def _validate_resources(resources: dict) -> MultiError | None:
    err = MultiError()
    cpu, cores = resources.get("CPU") or 0, resources.get("Cores") or 0
    memory, memory_max = resources.get("MemoryMB") or 0, resources.get("MemoryMaxMB") or 0
    if cores > 0 and cpu > 0:
        err.add("Task can only ask for 'cpu' or 'cores' resource, not both.")
    minimum = MultiError()
    if cpu < 1 and cores == 0:
        minimum.add(f"minimum CPU value is 1; got {cpu}")
    if memory < 10:
        minimum.add(f"minimum MemoryMB value is 10; got {memory}")
    err.add(minimum.or_none())
    if (resources.get("DiskMB") or 0) > 0:
        err.add("Task can't ask for disk resources, they have to be specified at the task group level.")
    if memory_max != 0 and memory_max < memory:
        err.add(f"MemoryMaxMB value ({memory_max}) should be larger than MemoryMB value ({memory})")
    return err.or_none()


def _validate_logs(logs: dict, disk: dict | None) -> MultiError | None:
    err = MultiError()
    files, size = logs.get("MaxFiles") or 0, logs.get("MaxFileSizeMB") or 0
    if files < 1:
        err.add(f"minimum number of files is 1; got {files}")
    if size < 1:
        err.add(f"minimum file size is 1MB; got {size}")
    if disk is not None and (disk.get("SizeMB") or 0) <= files * size:
        err.add(
            f"log storage ({files * size} MB) must be less than requested disk capacity ({disk.get('SizeMB') or 0} MB)"
        )
    return err.or_none()


def _port_labels(networks: list[dict]) -> set[str]:
    labels: set[str] = set()
    for network in networks[:1]:
        for key in ("ReservedPorts", "DynamicPorts"):
            labels.update(port.get("Label", "") for port in network.get(key) or [])
    return labels


def _validate_services(services: list[dict], networks: list[dict], task: dict | None) -> MultiError | None:
    err = MultiError()
    referenced: dict[str, set[str]] = {}
    known: set[str] = set()
    for index, service in enumerate(services):
        name = service.get("Name") or ""
        if (problem := _validate_service(service)) is not None:
            err.add(f"service[{index}] {_go_q(name)} validation failed: {problem}")
        if task is not None and service.get("AddressMode") == "alloc":
            err.add(
                f'service "{name}" cannot use address_mode="alloc", '
                'only services defined in a "group" block can use this mode'
            )
        if name + (service.get("PortLabel") or "") in known:
            err.add(f"service {_go_q(name)} is duplicate")
        known.add(name + (service.get("PortLabel") or ""))
        _collect_port_labels(service, referenced)
    labels = _port_labels(networks)
    if task is not None:
        for network in (task.get("Resources") or {}).get("Networks") or []:
            labels |= _port_labels([network])
    for label in sorted(referenced):
        if label not in labels:
            names = ", ".join(sorted(referenced[label]))
            err.add(f"port label {_go_q(label)} referenced by services {names} does not exist")
    return err.or_none()


def _collect_port_labels(service: dict, referenced: dict[str, set[str]]) -> None:
    name = service.get("Name") or ""
    port = service.get("PortLabel") or ""
    if port and not (service.get("AddressMode") == "driver" and port.isdigit()):
        referenced.setdefault(port, set()).add(name)
    for check in service.get("Checks") or []:
        if check.get("Type") not in ("http", "tcp", "grpc") or check.get("AddressMode") == "driver":
            continue
        effective = check.get("PortLabel") or port
        if effective:
            referenced.setdefault(effective, set()).add(name)


_SERVICE_NAME = re.compile(r"^(?i:[a-z0-9]|[a-z0-9][a-z0-9\-]{0,61}[a-z0-9])$")


def _validate_service(service: dict) -> MultiError | None:
    err = MultiError()
    name = service.get("Name") or ""
    # Up to the last "}" only: past it, each unclosed "${" would be scanned to the end.
    end = name.rfind("}") + 1
    stripped = re.sub(r"\$\{[^}]+\}", "ENV-VAR", name[:end]) + name[end:]
    if not _SERVICE_NAME.match(stripped):
        err.add(
            "Service name must be valid per RFC 1123 and can contain only alphanumeric characters or dashes "
            f"and must be no longer than 63 characters: {_go_q(name)}"
        )
    mode = service.get("AddressMode") or ""
    if mode in ("host", "driver", "alloc"):
        if service.get("Address"):
            err.add('Service address_mode must be "auto" if address is set')
    elif mode not in ("", "auto"):
        err.add(f'Service address_mode must be "auto", "host", or "driver"; not {_go_q(mode)}')
    on_update = service.get("OnUpdate") or ""
    if on_update not in ("", "ignore", "require_healthy", "ignore_warnings"):
        err.add(f'Service on_update must be "require_healthy", "ignore_warnings", or "ignore"; not {_go_q(on_update)}')
    provider = service.get("Provider") or ""
    if provider not in ("consul", "nomad"):
        err.add(f'Service provider must be "consul", or "nomad"; not {_go_q(provider)}')
    else:
        _validate_checks(service, provider, err)
    return err.or_none()


def _validate_checks(service: dict, provider: str, err: MultiError) -> None:
    for check in service.get("Checks") or []:
        name = check.get("Name") or ""
        if not service.get("PortLabel") and not check.get("PortLabel") and check.get("Type") in ("http", "tcp", "grpc"):
            err.add(
                f"Check {name} invalid: check requires a port but neither check nor service "
                f"{_go_q(service.get('Name') or '')} have a port"
            )
            continue
        allowed = ["grpc", "tcp", "http", "script"] if provider == "consul" else ["tcp", "http"]
        problem = _validate_check(check, allowed)
        if problem is not None:
            err.add(f"Check {name} invalid: {problem}" if provider == "consul" else problem)


def _validate_check(check: dict, allowed: list[str]) -> str | None:
    kind = (check.get("Type") or "").lower()
    if kind not in allowed:
        return f"invalid check type ({_go_q(kind)}), must be one of {', '.join(allowed)}"
    if kind == "http":
        path = check.get("Path") or ""
        if not path:
            return "http type must have http path"
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", path):
            return "http type must have relative http path"
    if kind == "script" and not check.get("Command"):
        return "script type must have a valid script path"
    interval, timeout = check.get("Interval") or 0, check.get("Timeout") or 0
    if interval == 0:
        return "missing required value interval. Interval cannot be less than 1s"
    if interval < SECOND:
        return f"interval ({format_duration(interval)}) cannot be lower than 1s"
    if timeout == 0:
        return "missing required value timeout. Timeout cannot be less than 1s"
    if timeout < SECOND:
        return f"timeout ({format_duration(timeout)}) is lower than required minimum timeout 1s"
    status = check.get("InitialStatus") or ""
    if status not in ("", "passing", "warning", "critical"):
        return f'invalid initial check state ({status}), must be one of "passing", "warning", "critical" or empty'
    return None
