"""The one picture of a cluster that every panel, the probe and the timeline read: an immutable
`ClusterState`, replaced (never changed) each time a source publishes. No I/O here: the client
(`nomad/`) fills it, the UI draws it.

Also here, because the state holds them: the status of each source (`WatchStatus`,
`StreamStatus`), the error type every failure becomes (`ClusterError`), the names of what can
change (`Change`), and the parsing of list answers that reuses unchanged records (`Reuse`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .model import (
    Allocation,
    Deployment,
    Evaluation,
    Job,
    JobSummary,
    JobVersion,
    Node,
    Route,
    RouteTarget,
    latest_deployment,
)
from .wire import image_tag

# What a publication changed: one name per field of ClusterState that a source fills, plus
# `status` (a source's health), `focus` (another job in focus) and `namespace` (another one shown).
Change = Literal[
    "jobs",
    "job_row",  # one job's list row changed in place (LiveCluster.changed_job says which)
    "deployments",
    "nodes",
    "focus",
    "namespace",
    "job",
    "allocations",
    "job_deployments",
    "versions",
    "summary",
    "evaluations",
    "alloc_details",
    "fabio",
    "status",
    "events",
]
# The sources of the job in focus (they stop when the focus moves).
JobWatch = Literal["job", "allocations", "job_deployments", "versions", "summary", "evaluations"]
JOB_WATCHES: tuple[JobWatch, ...] = ("job", "allocations", "job_deployments", "versions", "summary", "evaluations")


# Blocking queries wait up to Nomad's longest wait (structs.MaxBlockingRPCQueryTime, 5 minutes):
# an idle cluster costs one request per watch per 5 minutes. Nomad adds up to wait/16 of jitter,
# so a watch that has not answered for longer than CONFIRM_WITHIN is news.
BLOCKING_WAIT = 300.0
CONFIRM_WITHIN = BLOCKING_WAIT * 17 / 16 + 15


# --- failures -----------------------------------------------------------------------------------

UNREACHABLE = "unreachable"
TIMEOUT = "timeout"
DENIED = "denied"
NOT_FOUND = "not_found"
INVALID = "invalid"  # a job file or request Nomad rejects (parse, validation)
STALE = "stale"  # a check-and-set guard refused the write: someone else changed the job
REFUSED = "refused"  # anything else Nomad refused (unhealthy canaries, terminal deployment)
BAD_RESPONSE = "bad_response"  # an answer that is not what Nomad sends (wrong shape, not JSON)
TOO_LARGE = "too_large"  # an answer over the size limit: refused unread
PROXY = "proxy"  # an error from the HTTP layer in front of Nomad, not from Nomad
STOPPED = "stopped"  # a watch ended unexpectedly and is being restarted

_SHORT = {
    UNREACHABLE: "unreachable",
    TIMEOUT: "no answer in time",
    DENIED: "permission denied",
    NOT_FOUND: "not found",
    INVALID: "request rejected",
    STALE: "job changed meanwhile",
    REFUSED: "refused",
    BAD_RESPONSE: "unreadable answer",
    TOO_LARGE: "answer too large",
    PROXY: "from a proxy, not Nomad",
    STOPPED: "watch restarted",
}


class ClusterError(Exception):
    def __init__(
        self,
        kind: str,
        message: str,
        *,
        status: int | None = None,
        detail: str = "",
        line: int | None = None,
        column: int | None = None,
        reason: str = "",
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.detail = detail
        self.line = line  # where in a job file, for parse errors
        self.column = column
        self.reason = reason  # the cause in a few words, where the sentence is too long to show

    @property
    def short(self) -> str:
        """The cause in a few words, for a status line that must stay whole at 80 columns
        ("connection refused", "403 permission denied"); `message` has the whole sentence."""
        if self.reason:
            return self.reason
        status = f"{self.status} " if self.status else ""
        return f"{status}{_SHORT.get(self.kind, 'error')}"

    def __repr__(self) -> str:
        return f"ClusterError({self.kind!r}, {self.message!r})"


# --- the health of each source ------------------------------------------------------------------


@dataclass(frozen=True)
class WatchStatus:
    name: str
    connected: bool = False
    error: ClusterError | None = None
    as_of: float | None = None  # wall time of the last good answer
    retry_at: float | None = None  # wall time of the next attempt after an error
    failures: int = 0
    retrying: bool = False  # the attempt after an error is under way


@dataclass(frozen=True)
class StreamStatus:
    live: bool = False
    off: str = ""  # why the stream is not used ("" while it is, or is being retried)
    error: ClusterError | None = None  # why it is failing while it is retried
    retry_at: float | None = None  # when the next attempt starts (None: it is under way)
    as_of: float | None = None  # its last frame (events or a heartbeat): the lists it keeps current


# --- the picture ----------------------------------------------------------------------------------


class _Derived:
    """A value derived from one of the state's collections, computed once per collection: the
    states that follow a change elsewhere share the collection, and so the value (at 10,000
    jobs a scan on every keystroke or event is what makes the screen late)."""

    def __init__(self, compute: Callable[[Any], Any]) -> None:
        self._compute = compute
        self._source: object = None
        self._value: Any = None

    def of(self, source: object) -> Any:
        if source is not self._source:
            self._value, self._source = self._compute(source), source
        return self._value


def _latest_by_job(deployments: tuple[Deployment, ...]) -> dict[tuple[str, str], Deployment]:
    out: dict[tuple[str, str], Deployment] = {}
    for d in deployments:
        key = (d.namespace, d.job_id)
        if key not in out or d.create_index > out[key].create_index:
            out[key] = d
    return out


_LATEST_BY_JOB = _Derived(_latest_by_job)
_ANY_ACTIVE = _Derived(lambda deployments: any(d.active for d in deployments))
_JOB_INDEX = _Derived(lambda jobs: {(j.namespace, j.id): j for j in jobs})


@dataclass(frozen=True)
class ClusterState:
    jobs: tuple[Job, ...] = ()
    deployments: tuple[Deployment, ...] = ()  # every deployment in the namespace
    nodes: tuple[Node, ...] = ()
    focus: tuple[str, str] | None = None  # (namespace, job id)
    job: Job | None = None
    allocations: tuple[Allocation, ...] = ()  # newest first
    job_deployments: tuple[Deployment, ...] = ()
    versions: tuple[JobVersion, ...] = ()  # newest first
    summary: JobSummary | None = None
    evaluations: tuple[Evaluation, ...] = ()  # newest first
    alloc_details: Mapping[str, Allocation] = field(default_factory=dict)
    routes: tuple[Route, ...] = ()  # Fabio's whole table
    status: Mapping[str, WatchStatus] = field(default_factory=dict)
    events: StreamStatus = StreamStatus()  # the job's event stream

    @property
    def latest_deployment(self) -> Deployment | None:
        return latest_deployment(self.job_deployments)

    def latest_by_job(self) -> Mapping[tuple[str, str], Deployment]:
        return _LATEST_BY_JOB.of(self.deployments)

    def any_active_deployment(self) -> bool:
        return _ANY_ACTIVE.of(self.deployments) or any(d.active for d in self.job_deployments)

    def job_stub(self, key: tuple[str, str]) -> Job | None:
        """The jobs list's entry for (namespace, job id)."""
        return _JOB_INDEX.of(self.jobs).get(key)

    def job_routes(self) -> list[Route]:
        """Fabio's routes for the services of the job in focus, targets tied to allocations."""
        if self.job is None:
            return []
        services = {s for g in self.job.groups for s in g.services}
        addresses = {n.id: n.address for n in self.nodes}
        return annotate(routes_for_services(self.routes, services), self.allocations, self.alloc_details, addresses)

    def version_images(self) -> dict[int, tuple[str, ...]]:
        return {v.version: v.images for v in self.versions}

    def version_label(self, job_version: int | None) -> str:
        """What people call a job version: its image tag (`v1.0.2`), else `v<N>`."""
        if job_version is None:
            return "?"
        images = self.version_images().get(job_version)
        return image_tag(images[0]) if images else f"v{job_version}"

    @property
    def connected(self) -> bool:
        """Every Nomad watch has its latest answer."""
        nomad = [s for name, s in self.status.items() if name != "fabio"]
        return bool(nomad) and all(s.connected for s in nomad)

    @property
    def live(self) -> bool:
        """Every source answers: the Nomad watches, the event stream and Fabio."""
        return self.connected and not self.failing()

    def failing(self) -> list[WatchStatus]:
        """The sources that are failing now (Nomad's watches first, then the stream, then Fabio)."""
        out = [s for name, s in self.status.items() if s.error is not None and name != "fabio"]
        if self.events.error is not None:
            out.append(
                WatchStatus(
                    "events",
                    False,
                    self.events.error,
                    None,
                    self.events.retry_at,
                    retrying=self.events.retry_at is None,
                )
            )
        fabio = self.status.get("fabio")
        if fabio is not None and fabio.error is not None:
            out.append(fabio)
        return out

    @property
    def as_of(self) -> float | None:
        """When the oldest of the Nomad views was last confirmed current."""
        times = [s.as_of for name, s in self.status.items() if name != "fabio"]
        if not times or any(t is None for t in times):
            return None
        oldest = min(t for t in times if t is not None)
        # While the stream is live, its heartbeats confirm the lists it keeps current.
        streamed = self.events.as_of if self.events.live else None
        return max(oldest, streamed) if streamed is not None else oldest

    def errors(self) -> list[ClusterError]:
        seen: dict[str, ClusterError] = {}
        for s in self.status.values():
            if s.error is not None:
                seen.setdefault(s.error.message, s.error)
        return list(seen.values())


# --- Fabio's routes, tied to what runs ---------------------------------------------------------


def annotate(
    routes: Iterable[Route],
    allocations: Iterable[Allocation],
    details: Mapping[str, Allocation],
    node_addresses: Mapping[str, str],
) -> list[Route]:
    """Match each target's address to the allocation behind it (ports come from full
    allocation reads), giving it a job version and a canary mark."""
    by_address: dict[tuple[str, int], Allocation] = {}
    for alloc in allocations:
        full = details.get(alloc.id)
        if full is None:
            continue
        for ip, port in full.ports.values():
            by_address[(ip or node_addresses.get(alloc.node_id, ""), port)] = alloc
    out = []
    for route in routes:
        targets = []
        for t in route.targets:
            owner = by_address.get(t.address) if t.address else None
            if owner is None:
                targets.append(t)
            else:
                targets.append(
                    RouteTarget(t.service, t.dst, t.weight, t.tags, owner.id, owner.job_version, owner.canary)
                )
        out.append(Route(route.src, route.host, route.path, route.opts, tuple(targets)))
    return out


def routes_for_services(routes: Iterable[Route], services: Iterable[str]) -> list[Route]:
    """The routes with at least one target of these services (a job's)."""
    wanted = set(services)
    return [r for r in routes if any(t.service in wanted for t in r.targets)]


# --- list answers ----------------------------------------------------------------------------------


class Reuse:
    """Parse a list answer, reusing the record parsed last time for every item whose identity
    key (id and modify indexes) did not change: a 10,000-job list re-parses only what moved,
    and unchanged records stay the same objects, so the UI can skip them by identity."""

    def __init__(self, parse: Callable[[Mapping], Any], key: Callable[[Mapping], Any]) -> None:
        self.parse = parse
        self.key = key
        self._seen: dict[Any, Any] = {}

    def __call__(self, items: Any) -> tuple:
        seen: dict[Any, Any] = {}
        out = []
        for raw in items or []:
            k = self.key(raw)
            record = self._seen.get(k)
            if record is None:
                record = self.parse(raw)
            seen[k] = record
            out.append(record)
        self._seen = seen
        return tuple(out)


# Identity keys are built from text: a field of an odd type (a list as an ID) must not make
# the key unhashable.
def job_key(raw: Mapping) -> tuple:
    summary = raw.get("JobSummary")
    summary_index = summary.get("ModifyIndex") if isinstance(summary, Mapping) else None
    return tuple(
        str(v) for v in (raw.get("Namespace"), raw.get("ID"), raw.get("ModifyIndex"), summary_index, raw.get("Status"))
    )


def indexed_key(raw: Mapping) -> tuple:
    return (str(raw.get("ID")), str(raw.get("ModifyIndex")))
