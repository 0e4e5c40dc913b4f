"""State-changing commands, each through python-nomad in a short daemon-thread call.

Every action returns an `ActionResult` the UI can show, or raises a `ClusterError` with a plain
sentence. Races are guarded the way the nomad CLI guards them: a registration carries the
job modify index its plan saw (`EnforceIndex`), a revert the version the user looked at
(`EnforcePriorVersion`). `command_*` functions give the equivalent `nomad` command line.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .. import jobfile
from ..jobfile import JobFile
from ..model import (
    Allocation,
    Deployment,
    JobVersion,
    Plan,
    as_int,
    short_id,
    versions_from_api,
)
from ..settings import DEFAULT_ADDRESS, Settings
from .errors import BAD_RESPONSE, INVALID, ClusterError
from .threads import in_thread

if TYPE_CHECKING:
    import nomad


@dataclass(frozen=True)
class ActionResult:
    message: str
    eval_id: str = ""
    deployment_id: str = ""
    job_id: str = ""
    job_version: int | None = None
    index: int = 0
    warnings: str = ""
    namespace: str = ""


# A big job file takes Nomad a while to parse; the UI says how long it has been waiting.
PARSE_TIMEOUT = 120.0
_HCL_POSITION = re.compile(r"input\.hcl:(\d+),(\d+)(?:-\d+(?:,\d+)?)?:\s*")


class Actions:
    def __init__(self, settings: Settings, client: nomad.Nomad | None = None, *, timeout: float = 15.0) -> None:
        self.settings = settings
        self._client = client
        self.timeout = timeout

    @property
    def client(self) -> nomad.Nomad:
        if self._client is None:
            from .pyclient import python_nomad  # python-nomad and requests: on the first command

            self._client = python_nomad(self.settings, timeout=self.timeout)
        return self._client

    async def _call(
        self,
        fn: Callable[[], Any],
        *,
        action: str,
        capability: str = "submit-job",
        subject: str = "",
        namespace: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        from .pyclient import as_cluster_error

        timeout = timeout or self.timeout
        try:
            return await in_thread(fn, timeout=timeout + 5)
        except Exception as e:
            error = as_cluster_error(
                e,
                self.settings.address,
                timeout,
                action=action,
                capability=capability,
                namespace=namespace or self.settings.namespace,
                subject=subject,
            )
            if error is e:
                raise
            raise error from None

    async def _read_job(self, job_id: str, namespace: str) -> Mapping:
        """The job as Nomad holds it now (after a write: its new version)."""
        return await self._request(
            "get",
            "job",
            job_id,
            action=f"read job '{job_id}'",
            capability="read-job",
            subject=f"job '{job_id}'",
            namespace=namespace,
        )

    async def _request(
        self,
        method: str,
        resource: str,
        *segments: str,
        action: str,
        namespace: str,
        capability: str = "submit-job",
        subject: str = "",
        body: Mapping | None = None,
        params: Mapping | None = None,
        timeout: float | None = None,
    ) -> Mapping:
        """`method /v1/<resource>/<segments>` through python-nomad, in the given namespace (ids in
        the path are escaped: Nomad allows `/`, `?` and `#` in a job id): the JSON object it
        answers."""
        api = {
            "jobs": self.client.jobs,
            "job": self.client.job,
            "deployment": self.client.deployment,
            "allocation": self.client.allocation,
        }[resource]
        path = [quote(segment, safe="") for segment in segments]
        query = {"namespace": namespace, **(params or {})}

        def call() -> Any:
            return api.request(*path, method=method, json=body, params=query, timeout=timeout or self.timeout).json()

        out = await self._call(
            call, action=action, capability=capability, subject=subject, namespace=namespace, timeout=timeout
        )
        if not isinstance(out, Mapping):
            raise ClusterError(BAD_RESPONSE, f"Nomad's answer when trying to {action} was not a JSON object.")
        return out

    # --- job files -------------------------------------------------------------------------

    async def read_file(self, path: Path) -> str:
        """A local job file's text; a sentence (INVALID) if it cannot be one. Nothing is sent."""
        try:
            return await in_thread(lambda: jobfile.read(path), timeout=30)
        except jobfile.JobFileError as e:
            raise ClusterError(INVALID, e.message, line=e.line, column=e.column) from None
        except TimeoutError:
            raise ClusterError(INVALID, f"Reading {path} took longer than 30s: is it on a disk that hangs?") from None

    async def parse_file(self, path: Path, source: str | None = None) -> JobFile:
        """A job file's job (HCL or JSON), read first unless `source` is given; HCL is parsed by
        the server, as the CLI's `-json`-less path does on Nomad's side (`POST /v1/jobs/parse`)."""
        if source is None:
            source = await self.read_file(path)
        if jobfile.is_json(path, source):
            try:
                return JobFile(path, source, "json", jobfile.json_job(path, source))
            except jobfile.JobFileError as e:
                raise ClusterError(INVALID, e.message, line=e.line, column=e.column) from None
        try:
            job = await self._request(
                "post",
                "jobs",
                "parse",
                body={"JobHCL": source, "Canonicalize": False},
                action=f"parse {path.name}",
                capability="parse-job",
                timeout=PARSE_TIMEOUT,
                namespace=self.settings.namespace if self.settings.namespace != "*" else "default",
            )
        except ClusterError as e:
            raise _located(e, path) from None
        return JobFile(path, source, "hcl2", job)

    async def plan(self, job_file: JobFile) -> Plan:
        job_id, ns = job_file.job_id, job_file.target_namespace(self.settings.namespace)
        body = await self._request(
            "post",
            "job",
            job_id,
            "plan",
            body={"Job": dict(job_file.job), "Diff": True},
            action=f"plan job '{job_id}'",
            subject=f"job '{job_id}'",
            namespace=ns,
        )
        return Plan.from_api(job_id, body)

    async def register(self, job_file: JobFile, plan: Plan) -> ActionResult:
        """Register what was planned, in the job file's namespace; refused (STALE) if the job
        changed since the plan."""
        job_id, ns = job_file.job_id, job_file.target_namespace(self.settings.namespace)
        body = {
            "Job": dict(job_file.job),
            "EnforceIndex": True,
            "JobModifyIndex": plan.job_modify_index,
            "Submission": {"Source": job_file.source, "Format": job_file.format},
        }
        out = await self._request(
            "post", "jobs", body=body, action=f"register job '{job_id}'", subject=f"job '{job_id}'", namespace=ns
        )
        job = await self._read_job(job_id, ns)
        version = as_int(job.get("Version"), None)
        eval_id = str(out.get("EvalID") or "")
        where = f" in namespace {ns}" if ns != self.settings.namespace else ""
        return ActionResult(
            f"Registered job {job_id} version {version}{where} (evaluation {short_id(eval_id)}).",
            eval_id=eval_id,
            job_id=job_id,
            job_version=version,
            namespace=ns,
            index=as_int(out.get("JobModifyIndex")),
            warnings=str(out.get("Warnings") or ""),
        )

    # --- deployments -----------------------------------------------------------------------

    async def _deployment(self, verb: str, deployment: Deployment, body: Mapping) -> Mapping:
        return await self._request(
            "post",
            "deployment",
            verb,
            deployment.id,
            body=body,
            action=f"{verb if verb != 'pause' or body.get('Pause') else 'resume'} deployment {short_id(deployment.id)}",
            subject=f"deployment {short_id(deployment.id)}",
            namespace=deployment.namespace,
        )

    async def promote(self, deployment: Deployment, groups: list[str] | None = None) -> ActionResult:
        body = {"DeploymentID": deployment.id, "All": not groups, "Groups": groups or None}
        out = await self._deployment("promote", deployment, body)
        which = ", ".join(groups) if groups else "every group"
        return ActionResult(
            f"Promoted the canaries of {which} in deployment {short_id(deployment.id)}.",
            eval_id=str(out.get("EvalID") or ""),
            deployment_id=deployment.id,
            job_id=deployment.job_id,
            index=as_int(out.get("Index")),
        )

    async def fail(self, deployment: Deployment) -> ActionResult:
        out = await self._deployment("fail", deployment, {"DeploymentID": deployment.id})
        reverted = as_int(out.get("RevertedJobVersion"), None)  # the version rolled back to
        message = f"Deployment {short_id(deployment.id)} marked as failed."
        if reverted is not None:
            message += f" Auto-reverted to job version {reverted} (written as a new version)."
        return ActionResult(
            message,
            eval_id=str(out.get("EvalID") or ""),
            deployment_id=deployment.id,
            job_id=deployment.job_id,
            job_version=reverted,
            index=as_int(out.get("Index")),
        )

    async def pause(self, deployment: Deployment, pause: bool) -> ActionResult:
        out = await self._deployment("pause", deployment, {"DeploymentID": deployment.id, "Pause": pause})
        verb = "paused" if pause else "resumed"
        return ActionResult(
            f"Deployment {short_id(deployment.id)} {verb}.",
            eval_id=str(out.get("EvalID") or ""),
            deployment_id=deployment.id,
            job_id=deployment.job_id,
            index=as_int(out.get("Index")),
        )

    # --- versions --------------------------------------------------------------------------

    async def versions(
        self, job_id: str, namespace: str | None = None, diff_version: int | None = None
    ) -> list[JobVersion]:
        """Versions newest first, each with its diff from the previous version, or, with
        `diff_version`, from that version (what reverting to it would change)."""
        params = {"diffs": "true"}
        if diff_version is not None:
            params["diff_version"] = str(diff_version)
        body = await self._request(
            "get",
            "job",
            job_id,
            "versions",
            params=params,
            capability="read-job",
            action=f"list the versions of job '{job_id}'",
            subject=f"job '{job_id}'",
            namespace=namespace or self.settings.namespace,
        )
        return versions_from_api(body)

    async def revert(self, job_id: str, version: int, prior_version: int, namespace: str | None = None) -> ActionResult:
        """Revert to `version`, refused if the job is no longer at `prior_version`."""
        ns = namespace or self.settings.namespace
        out = await self._request(
            "post",
            "job",
            job_id,
            "revert",
            namespace=ns,
            body={"JobID": job_id, "JobVersion": version, "EnforcePriorVersion": prior_version},
            action=f"revert job '{job_id}' to version {version}",
            subject=f"job '{job_id}'",
        )
        job = await self._read_job(job_id, ns)
        new_version = as_int(job.get("Version"), None)
        message = f"Reverted job {job_id} to version {version}"
        message += (
            f" (now version {new_version})."
            if new_version != prior_version
            else " (same specification: no new version)."
        )
        return ActionResult(
            message,
            eval_id=str(out.get("EvalID") or ""),
            job_id=job_id,
            job_version=new_version,
            index=as_int(out.get("JobModifyIndex")),
            warnings=str(out.get("Warnings") or ""),
        )

    # --- allocations -----------------------------------------------------------------------

    async def restart_allocation(self, alloc: Allocation, task: str | None = None) -> ActionResult:
        """Restart the allocation's tasks (or one) in place: same allocation, `Restarts` + 1."""
        await self._request(
            "post",
            "client/allocation",
            alloc.id,
            "restart",
            namespace=alloc.namespace,
            body={"TaskName": task or "", "AllTasks": False},
            capability="alloc-lifecycle",
            action=f"restart allocation {short_id(alloc.id)}",
            subject=f"allocation {short_id(alloc.id)}",
        )
        what = f"Task {task} of allocation" if task else "Allocation"
        return ActionResult(f"{what} {short_id(alloc.id)} restarting.", job_id=alloc.job_id)

    async def stop_allocation(self, alloc: Allocation) -> ActionResult:
        """Stop the allocation: Nomad places a replacement (an evaluation follows)."""
        out = await self._request(
            "post",
            "allocation",
            alloc.id,
            "stop",
            namespace=alloc.namespace,
            capability="alloc-lifecycle",
            action=f"stop allocation {short_id(alloc.id)}",
            subject=f"allocation {short_id(alloc.id)}",
        )
        return ActionResult(
            f"Allocation {short_id(alloc.id)} stopping; Nomad places a replacement.",
            eval_id=str(out.get("EvalID") or ""),
            job_id=alloc.job_id,
            index=as_int(out.get("Index")),
        )


def _located(error: ClusterError, path: Path) -> ClusterError:
    """Point a parse error at the user's file: `web.nomad, line 4, column 15: ...`."""
    m = _HCL_POSITION.search(error.detail)
    if not m:
        return error
    rest = error.detail[m.end() :]
    message = f"{path.name}, line {m.group(1)}, column {m.group(2)}: {rest}"
    return ClusterError(
        INVALID, message, status=error.status, detail=error.detail, line=int(m.group(1)), column=int(m.group(2))
    )


# --- the equivalent nomad commands ---------------------------------------------------------------


def _global_flags(settings: Settings, namespace: str | None = None) -> list[str]:
    flags = []
    if settings.address != DEFAULT_ADDRESS:
        flags.append(f"-address={settings.address}")
    ns = namespace or settings.namespace
    if ns and ns != "default":
        flags.append(f"-namespace={ns}")
    if settings.region:
        flags.append(f"-region={settings.region}")
    return flags


def _line(*words: str) -> str:
    return " ".join(shlex.quote(w) for w in words)


def command_run(settings: Settings, job_file: JobFile, check_index: int) -> str:
    return _line(
        "nomad",
        "job",
        "run",
        *_global_flags(settings, job_file.target_namespace(settings.namespace)),
        f"-check-index={check_index}",
        jobfile.as_typed(job_file.path),
    )


def command_promote(settings: Settings, deployment: Deployment, groups: list[str] | None = None) -> str:
    group_flags = [f"-group={g}" for g in groups or []]
    return _line(
        "nomad", "deployment", "promote", *_global_flags(settings, deployment.namespace), *group_flags, deployment.id
    )


def command_fail(settings: Settings, deployment: Deployment) -> str:
    return _line("nomad", "deployment", "fail", *_global_flags(settings, deployment.namespace), deployment.id)


def command_pause(settings: Settings, deployment: Deployment, pause: bool) -> str:
    return _line(
        "nomad",
        "deployment",
        "pause" if pause else "resume",
        *_global_flags(settings, deployment.namespace),
        deployment.id,
    )


def command_revert(settings: Settings, job_id: str, version: int, namespace: str | None = None) -> str:
    return _line("nomad", "job", "revert", *_global_flags(settings, namespace), job_id, str(version))


def command_restart_allocation(settings: Settings, alloc: Allocation, task: str | None = None) -> str:
    return _line(
        "nomad", "alloc", "restart", *_global_flags(settings, alloc.namespace), alloc.id, *([task] if task else [])
    )


def command_stop_allocation(settings: Settings, alloc: Allocation) -> str:
    return _line("nomad", "alloc", "stop", *_global_flags(settings, alloc.namespace), alloc.id)
