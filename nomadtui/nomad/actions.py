"""State-changing commands, each through python-nomad in a short daemon-thread call.

Every action returns an `ActionResult` the UI can show, or raises a `ClusterError` with a plain
sentence. Races are guarded the way the nomad CLI guards them: a registration carries the
job modify index its plan saw (`EnforceIndex`), a revert the version the user looked at
(`EnforcePriorVersion`). `command_*` functions give the equivalent `nomad` command line.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import nomad
import requests
from nomad.api import exceptions as nomad_exceptions

from ..model import Deployment, JobVersion, Plan, short_id, versions_from_api
from ..settings import DEFAULT_ADDRESS, Settings
from .errors import INVALID, TIMEOUT, ClusterError, from_status, from_transport
from .http import python_nomad
from .threads import in_thread

JOB_FILE_SUFFIXES = (".nomad", ".hcl", ".nomad.hcl", ".json")


@dataclass(frozen=True)
class JobFile:
    path: Path
    source: str
    format: str          # "hcl2" or "json"
    job: Mapping[str, Any]

    @property
    def job_id(self) -> str:
        return str(self.job.get("ID") or self.job.get("Name") or "")

    @property
    def namespace(self) -> str | None:
        return self.job.get("Namespace") or None


@dataclass(frozen=True)
class ActionResult:
    message: str
    eval_id: str = ""
    deployment_id: str = ""
    job_id: str = ""
    job_version: int | None = None
    index: int = 0
    warnings: str = ""


_HCL_POSITION = re.compile(r"input\.hcl:(\d+),(\d+)(?:-\d+(?:,\d+)?)?:\s*")


class Actions:
    def __init__(self, settings: Settings, client: nomad.Nomad | None = None, *, timeout: float = 15.0) -> None:
        self.settings = settings
        self.client = client or python_nomad(settings, timeout=timeout)
        self.timeout = timeout

    async def _call(self, fn: Callable[[], Any], *, action: str, capability: str = "submit-job",
                    subject: str = "", namespace: str | None = None) -> Any:
        ns = namespace or self.settings.namespace
        try:
            return await in_thread(fn, timeout=self.timeout + 5)
        except (asyncio.TimeoutError, TimeoutError):
            raise ClusterError(TIMEOUT, f"Nomad at {self.settings.address} did not answer within "
                                        f"{self.timeout:g}s (trying to {action}).") from None
        except nomad_exceptions.BaseNomadException as e:
            resp = e.nomad_resp
            if isinstance(resp, requests.Response):
                raise from_status(resp.status_code, resp.text, action=action, capability=capability,
                                  namespace=ns, subject=subject) from None
            raise from_transport(resp if isinstance(resp, Exception) else e, self.settings.address,
                                 self.timeout) from None
        except (nomad_exceptions.TimeoutNomadException, requests.RequestException) as e:
            raise from_transport(e, self.settings.address, self.timeout) from None

    # --- job files -------------------------------------------------------------------------

    async def parse_file(self, path: Path) -> JobFile:
        """Read a local job file (HCL or JSON); HCL is parsed by the server, as the CLI's
        `-json`-less path does on Nomad's side (`POST /v1/jobs/parse`)."""
        try:
            source = path.read_text()
        except (OSError, UnicodeDecodeError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            raise ClusterError(INVALID, f"Cannot read {path}: {reason}.") from None
        if path.suffix == ".json" or source.lstrip().startswith("{"):
            return JobFile(path, source, "json", _json_job(path, source))
        try:
            job = await self._call(lambda: self.client.jobs.parse(source), action=f"parse {path.name}",
                                   capability="parse-job")
        except ClusterError as e:
            raise _located(e, path) from None
        return JobFile(path, source, "hcl2", job)

    async def plan(self, job_file: JobFile) -> Plan:
        job_id = job_file.job_id
        body = await self._call(
            lambda: self.client.job.plan_job(job_id, {"Job": dict(job_file.job)}, diff=True),
            action=f"plan job '{job_id}'", subject=f"job '{job_id}'", namespace=job_file.namespace)
        return Plan.from_api(job_id, body)

    async def register(self, job_file: JobFile, plan: Plan) -> ActionResult:
        """Register what was planned; refused (STALE) if the job changed since the plan."""
        job_id = job_file.job_id
        body = {"Job": dict(job_file.job), "EnforceIndex": True, "JobModifyIndex": plan.job_modify_index,
                "Submission": {"Source": job_file.source, "Format": job_file.format}}
        out = await self._call(lambda: self.client.jobs.register_job(body), action=f"register job '{job_id}'",
                               subject=f"job '{job_id}'", namespace=job_file.namespace)
        job = await self._call(lambda: self.client.job.get_job(job_id), action=f"read job '{job_id}'",
                               capability="read-job", subject=f"job '{job_id}'", namespace=job_file.namespace)
        version = job.get("Version")
        return ActionResult(f"Registered job {job_id} version {version} (evaluation {short_id(out.get('EvalID', ''))}).",
                            eval_id=out.get("EvalID", ""), job_id=job_id, job_version=version,
                            index=int(out.get("JobModifyIndex") or 0), warnings=out.get("Warnings") or "")

    # --- deployments -----------------------------------------------------------------------

    async def promote(self, deployment: Deployment, groups: list[str] | None = None) -> ActionResult:
        d = self.client.deployment
        call = (lambda: d.promote_deployment_all(deployment.id)) if not groups else \
               (lambda: d.promote_deployment_groups(deployment.id, groups))
        out = await self._call(call, action=f"promote deployment {short_id(deployment.id)}",
                               subject=f"deployment {short_id(deployment.id)}")
        which = ", ".join(groups) if groups else "every group"
        return ActionResult(f"Promoted the canaries of {which} in deployment {short_id(deployment.id)}.",
                            eval_id=out.get("EvalID", ""), deployment_id=deployment.id, job_id=deployment.job_id,
                            index=int(out.get("Index") or 0))

    async def fail(self, deployment: Deployment) -> ActionResult:
        out = await self._call(lambda: self.client.deployment.fail_deployment(deployment.id),
                               action=f"fail deployment {short_id(deployment.id)}",
                               subject=f"deployment {short_id(deployment.id)}")
        reverted = out.get("RevertedJobVersion")
        message = f"Deployment {short_id(deployment.id)} marked as failed."
        if reverted is not None:
            message += f" Auto-reverted to job version {reverted}."
        return ActionResult(message, eval_id=out.get("EvalID", ""), deployment_id=deployment.id,
                            job_id=deployment.job_id, job_version=reverted, index=int(out.get("Index") or 0))

    async def pause(self, deployment: Deployment, pause: bool) -> ActionResult:
        out = await self._call(lambda: self.client.deployment.pause_deployment(deployment.id, pause),
                               action=f"{'pause' if pause else 'resume'} deployment {short_id(deployment.id)}",
                               subject=f"deployment {short_id(deployment.id)}")
        verb = "paused" if pause else "resumed"
        return ActionResult(f"Deployment {short_id(deployment.id)} {verb}.", eval_id=out.get("EvalID", ""),
                            deployment_id=deployment.id, job_id=deployment.job_id, index=int(out.get("Index") or 0))

    # --- versions --------------------------------------------------------------------------

    async def versions(self, job_id: str, namespace: str | None = None,
                       diff_version: int | None = None) -> list[JobVersion]:
        """Versions newest first, each with its diff from the previous version, or, with
        `diff_version`, from that version (what reverting to it would change)."""
        params = {"diffs": "true", "namespace": namespace or self.settings.namespace}
        if diff_version is not None:
            params["diff_version"] = str(diff_version)

        def call() -> Any:
            return self.client.job.request(quote(job_id, safe=""), "versions", method="get", params=params).json()
        body = await self._call(call, action=f"list the versions of job '{job_id}'", capability="read-job",
                                subject=f"job '{job_id}'", namespace=namespace)
        return versions_from_api(body)

    async def revert(self, job_id: str, version: int, prior_version: int, namespace: str | None = None) -> ActionResult:
        """Revert to `version`, refused if the job is no longer at `prior_version`."""
        out = await self._call(lambda: self.client.job.revert_job(job_id, version, enforce_prior_version=prior_version),
                               action=f"revert job '{job_id}' to version {version}",
                               subject=f"job '{job_id}'", namespace=namespace)
        job = await self._call(lambda: self.client.job.get_job(job_id), action=f"read job '{job_id}'",
                               capability="read-job", subject=f"job '{job_id}'", namespace=namespace)
        new_version = job.get("Version")
        message = f"Reverted job {job_id} to version {version}"
        message += f" (now version {new_version})." if new_version != prior_version else \
                   " (same specification: no new version)."
        return ActionResult(message, eval_id=out.get("EvalID", ""), job_id=job_id, job_version=new_version,
                            index=int(out.get("JobModifyIndex") or 0), warnings=out.get("Warnings") or "")


def _json_job(path: Path, source: str) -> Mapping[str, Any]:
    try:
        data = json.loads(source)
    except json.JSONDecodeError as e:
        raise ClusterError(INVALID, f"{path.name}, line {e.lineno}, column {e.colno}: {e.msg}.") from None
    job = data.get("Job", data) if isinstance(data, dict) else None
    if not isinstance(job, dict) or not (job.get("ID") or job.get("Name")):
        raise ClusterError(INVALID, f"{path.name} is not a Nomad job in JSON (no ID).")
    return job


def _located(error: ClusterError, path: Path) -> ClusterError:
    """Point a parse error at the user's file: `web.nomad, line 4, column 15: ...`."""
    m = _HCL_POSITION.search(error.detail)
    if not m:
        return error
    rest = error.detail[m.end():]
    message = f"{path.name}, line {m.group(1)}, column {m.group(2)}: {rest}"
    return ClusterError(INVALID, message, status=error.status, detail=error.detail,
                        line=int(m.group(1)), column=int(m.group(2)))


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
    return _line("nomad", "job", "run", *_global_flags(settings, job_file.namespace),
                 f"-check-index={check_index}", str(job_file.path))


def command_promote(settings: Settings, deployment: Deployment, groups: list[str] | None = None) -> str:
    group_flags = [f"-group={g}" for g in groups or []]
    return _line("nomad", "deployment", "promote", *_global_flags(settings, deployment.namespace),
                 *group_flags, deployment.id)


def command_fail(settings: Settings, deployment: Deployment) -> str:
    return _line("nomad", "deployment", "fail", *_global_flags(settings, deployment.namespace), deployment.id)


def command_pause(settings: Settings, deployment: Deployment, pause: bool) -> str:
    return _line("nomad", "deployment", "pause" if pause else "resume",
                 *_global_flags(settings, deployment.namespace), deployment.id)


def command_revert(settings: Settings, job_id: str, version: int, namespace: str | None = None) -> str:
    return _line("nomad", "job", "revert", *_global_flags(settings, namespace), job_id, str(version))
