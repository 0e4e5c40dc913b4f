"""The demo cluster's HTTP side: Nomad's /v1 API, Fabio's admin API and Fabio's traffic
listener, each an ASGI app served by uvicorn on loopback.

All three apps and the cluster share one asyncio loop (its own thread when embedded), so the
cluster needs no locks. Blocking queries park on a future that every write resolves.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import socket
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass

import uvicorn
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse

from ..aio import wait_event, wait_future
from . import routes as fabio_routes
from .clock import Clock
from .cluster import DEFAULT_SPEED, Cluster
from .store import ALLOC_STUB_KEYS, JOB_STUB_KEYS, NomadError, public

MAX_WAIT = 300.0
HEARTBEAT_SECONDS = 30.0
FABIO_VERSION = "1.7.3"


# --- helpers -----------------------------------------------------------------------------------

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)$")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_wait(text: str) -> float:
    total, rest = 0.0, text
    while rest:
        m = re.match(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", rest)
        if not m:
            raise NomadError(400, "Invalid wait time")
        total += float(m.group(1)) * _UNIT[m.group(2)]
        rest = rest[m.end():]
    return total


def truthy(value: str | None) -> bool:
    return value is not None and value.lower() not in ("", "0", "false")


def dumps(data, pretty: bool) -> bytes:
    if pretty:
        return (json.dumps(data, indent=4) + "\n").encode()
    return json.dumps(data, separators=(",", ":")).encode()


class Changes:
    """Wakes blocking queries after every write."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._future: asyncio.Future = loop.create_future()

    def notify(self, _index: int) -> None:
        if not self._future.done():
            self._future.set_result(None)
        self._future = self._loop.create_future()

    async def wait(self, timeout: float) -> None:
        await wait_future(self._future, timeout)


# --- the Nomad API -------------------------------------------------------------------------------

Handler = Callable[..., Awaitable[Response]]


@dataclass
class _Route:
    methods: frozenset[str]
    pattern: re.Pattern
    handler: Handler
    write: bool


class NomadAPI:
    """Nomad's HTTP API over a Cluster (nomad-api.md §1-§3)."""

    def __init__(self, cluster: Cluster, changes: Changes, acl_tokens: dict[str, str] | None = None) -> None:
        self.cluster = cluster
        self.store = cluster.store
        self.changes = changes
        self.acl_tokens = acl_tokens
        self.on_write: Callable[[], None] = lambda: None
        self.routes: list[_Route] = []
        r = self._route
        r("GET", r"/v1/jobs", self.jobs)
        r("PUT POST", r"/v1/jobs", self.register, write=True)
        r("PUT POST", r"/v1/jobs/parse", self.parse, write=False)
        r("GET", r"/v1/job/(?P<job_id>.+)/(?P<what>allocations|evaluations|deployments|deployment|summary|versions|submission)", self.job_sub)
        r("PUT POST", r"/v1/job/(?P<job_id>.+)/plan", self.plan, write=True)
        r("PUT POST", r"/v1/job/(?P<job_id>.+)/revert", self.revert, write=True)
        r("PUT POST", r"/v1/job/(?P<job_id>.+)/stable", self.stable, write=True)
        r("PUT POST", r"/v1/job/(?P<job_id>.+)/evaluate", self.evaluate, write=True)
        r("GET", r"/v1/job/(?P<job_id>.+)", self.job)
        r("PUT POST", r"/v1/job/(?P<job_id>.+)", self.register, write=True)
        r("DELETE", r"/v1/job/(?P<job_id>.+)", self.deregister, write=True)
        r("GET", r"/v1/deployments", self.deployments)
        r("GET", r"/v1/deployment/allocations/(?P<dep_id>[^/]+)", self.deployment_allocs)
        r("PUT POST", r"/v1/deployment/(?P<action>promote|fail|pause|allocation-health)/(?P<dep_id>[^/]+)",
          self.deployment_action, write=True)
        r("GET", r"/v1/deployment/(?P<dep_id>[^/]+)", self.deployment)
        r("GET", r"/v1/allocations", self.allocations)
        r("GET", r"/v1/allocation/(?P<alloc_id>[^/]+)", self.allocation)
        r("GET", r"/v1/evaluations", self.evaluations)
        r("GET", r"/v1/evaluation/(?P<eval_id>[^/]+)/allocations", self.eval_allocs)
        r("GET", r"/v1/evaluation/(?P<eval_id>[^/]+)", self.evaluation)
        r("GET", r"/v1/nodes", self.nodes)
        r("GET", r"/v1/node/(?P<node_id>[^/]+)", self.node)
        r("GET", r"/v1/namespaces", self.namespaces)
        r("GET", r"/v1/regions", lambda req: self._json(req, ["global"]))
        r("GET", r"/v1/status/leader", lambda req: self._json(req, "127.0.0.1:4647"))
        r("GET", r"/v1/status/peers", lambda req: self._json(req, ["127.0.0.1:4647"]))
        r("GET", r"/v1/agent/self", self.agent_self)
        r("GET", r"/v1/event/stream", self.event_stream)

    def _route(self, methods: str, pattern: str, handler: Handler, write: bool = False) -> None:
        self.routes.append(_Route(frozenset(methods.split()), re.compile(f"^{pattern}$"), handler, write))

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self.dispatch(request)
        await response(scope, receive, send)

    async def dispatch(self, request: Request) -> Response:
        path = request.url.path
        matched = [(r, m) for r in self.routes if (m := r.pattern.match(path))]
        if not matched:
            return PlainTextResponse("404 page not found\n", 404)
        for route, m in matched:
            if request.method in route.methods:
                break
        else:
            return _error(405, "Invalid method")
        try:
            self._authorize(request, route.write)
            region = request.query_params.get("region")
            if region and region != "global":
                raise NomadError(500, "No path to region")
            response = await route.handler(request, **m.groupdict())
        except NomadError as e:
            response = _error(e.status, e.message)
        if route.write:
            self.on_write()
        return response

    def _authorize(self, request: Request, write: bool) -> None:
        if self.acl_tokens is None:
            return
        token = request.headers.get("x-nomad-token", "").strip()
        if not token:
            auth = request.headers.get("authorization", "")
            token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not token:
            raise NomadError(403, "Permission denied")
        policy = self.acl_tokens.get(token)
        if policy is None:
            raise NomadError(403, "ACL token not found")
        if write and policy != "write":
            raise NomadError(403, "Permission denied")

    # --- plumbing ---------------------------------------------------------------------------

    def _json(self, request: Request, data, index: int | None = None, status: int = 200) -> Response:
        headers = {"X-Nomad-KnownLeader": "true", "X-Nomad-LastContact": "0"}
        if index is not None:
            headers["X-Nomad-Index"] = str(index)
        pretty = "pretty" in request.query_params and request.query_params["pretty"] != "0"
        return Response(dumps(data, pretty), status, headers=headers, media_type="application/json")

    async def _blocking(self, request: Request, index_of: Callable[[], int]) -> int:
        q = request.query_params
        try:
            wanted = int(q.get("index", "0") or 0)
        except ValueError:
            raise NomadError(400, "Invalid index") from None
        wait = MAX_WAIT
        if "wait" in q:
            wait = min(parse_wait(q["wait"]), MAX_WAIT) or MAX_WAIT
        if wanted > 0:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait + random.uniform(0, wait / 16)
            while index_of() <= wanted and (remaining := deadline - loop.time()) > 0:
                await self.changes.wait(min(remaining, 1.0))
                if await request.is_disconnected():
                    raise NomadError(499, "client went away")
        return index_of()

    @staticmethod
    async def _body(request: Request) -> dict:
        raw = await request.body()
        if not raw.strip():
            raise NomadError(400, "Request body is empty")
        try:
            body = json.loads(raw)
        except json.JSONDecodeError as e:
            raise NomadError(400, str(e)) from None
        if not isinstance(body, dict):
            raise NomadError(400, "json: cannot unmarshal into Go value of type request")
        return body

    def _namespace(self, request: Request) -> str:
        return request.query_params.get("namespace") or "default"

    def _in_namespace(self, request: Request, obj: dict) -> bool:
        ns = self._namespace(request)
        return ns == "*" or obj["Namespace"] == ns

    def _job_or_404(self, request: Request, job_id: str) -> dict:
        job = self.store.job(self._namespace(request), job_id)
        if job is None:
            raise NomadError(404, "job not found")
        return job

    # --- jobs -------------------------------------------------------------------------------

    def job_stub(self, job: dict, with_meta: bool) -> dict:
        summary = public(self.store.summaries.get((job["Namespace"], job["ID"]), {}))
        stub = {k: job.get(k) for k in JOB_STUB_KEYS}
        stub["Periodic"] = job.get("Periodic") is not None
        stub["ParameterizedJob"] = job.get("ParameterizedJob") is not None
        stub["JobSummary"] = summary
        if with_meta and job.get("Meta"):
            stub["Meta"] = job["Meta"]
        return stub

    async def jobs(self, request: Request) -> Response:
        index = await self._blocking(request, lambda: max(self.store.table("jobs"), self.store.table("job_summary")))
        prefix = request.query_params.get("prefix", "")
        with_meta = truthy(request.query_params.get("meta"))
        jobs = sorted((j for j in self.store.jobs.values()
                       if self._in_namespace(request, j) and j["ID"].startswith(prefix)),
                      key=lambda j: (j["Namespace"], j["ID"]))
        return self._json(request, [self.job_stub(j, with_meta) for j in jobs], index)

    async def job(self, request: Request, job_id: str) -> Response:
        def index() -> int:
            job = self.store.job(self._namespace(request), job_id)
            return job["ModifyIndex"] if job else self.store.table("jobs")
        idx = await self._blocking(request, index)
        return self._json(request, public(self._job_or_404(request, job_id)), idx)

    async def job_sub(self, request: Request, job_id: str, what: str) -> Response:
        ns = self._namespace(request)
        store = self.store
        if what == "summary":
            def index() -> int:
                s = store.summaries.get((ns, job_id))
                return s["ModifyIndex"] if s else store.table("job_summary")
            idx = await self._blocking(request, index)
            self._job_or_404(request, job_id)
            return self._json(request, public(store.summaries[(ns, job_id)]), idx)
        if what == "versions":
            return await self.versions(request, job_id)
        if what == "allocations":
            idx = await self._blocking(request, lambda: store.table("allocs"))
            job = store.job(ns, job_id)
            allocs = store.job_allocs(job, all_incarnations=truthy(request.query_params.get("all"))) if job else []
            return self._json(request, [alloc_stub(a) for a in allocs], idx)
        if what == "evaluations":
            idx = await self._blocking(request, lambda: store.table("evals"))
            return self._json(request, [public(e) for e in store.job_evals(ns, job_id)], idx)
        if what == "deployments":
            idx = await self._blocking(request, lambda: store.table("deployment"))
            job = store.job(ns, job_id)
            all_ = truthy(request.query_params.get("all"))
            ds = store.job_deployments(ns, job_id, None if all_ or job is None else job["CreateIndex"]) if job else []
            return self._json(request, [public(d) for d in ds], idx)
        if what == "deployment":
            idx = await self._blocking(request, lambda: store.table("deployment"))
            job = store.job(ns, job_id)
            latest = store.latest_deployment(job) if job else None
            return self._json(request, public(latest) if latest else None, idx)
        # submission
        job = self._job_or_404(request, job_id)
        version = int(request.query_params.get("version", job["Version"]))
        sub = store.submissions.get((ns, job_id, version))
        if sub is None:
            raise NomadError(404, "job source not found")
        return self._json(request, sub, job["ModifyIndex"])

    async def versions(self, request: Request, job_id: str) -> Response:
        from .jobdiff import job_diff

        ns = self._namespace(request)
        key = (ns, job_id)

        def index() -> int:
            vs = self.store.versions.get(key)
            return max(v["ModifyIndex"] for v in vs) if vs else self.store.table("job_version")
        idx = await self._blocking(request, index)
        versions = self.store.versions.get(key)
        if not versions:
            raise NomadError(404, "job versions not found")
        diffs = None
        q = request.query_params
        if "diff_version" in q:
            base = self.store.job_version(ns, job_id, int(q["diff_version"]))
            if base is None:
                raise NomadError(500, f"version {q['diff_version']} not found")
            diffs = [job_diff(base, v, contextual=True) for v in versions]
        elif truthy(q.get("diffs")):
            diffs = [job_diff(versions[i + 1], versions[i], contextual=True) for i in range(len(versions) - 1)]
        body = {"Versions": [public(v) for v in versions], "Diffs": diffs, "Index": idx,
                "LastContact": 0, "KnownLeader": True, "NextToken": ""}
        return self._json(request, body, idx)

    async def register(self, request: Request, job_id: str | None = None) -> Response:
        body = await self._body(request)
        job = body.get("Job")
        if job_id is not None and job and job.get("ID") and job["ID"] != job_id:
            raise NomadError(400, "Job ID does not match name")
        result = self.cluster.register(
            job, namespace=request.query_params.get("namespace"),
            enforce_index=bool(body.get("EnforceIndex")),
            job_modify_index=int(body.get("JobModifyIndex") or 0),
            submission=body.get("Submission"))
        return self._json(request, result, result["Index"])

    async def parse(self, request: Request) -> Response:
        body = await self._body(request)
        job = self.cluster.parse(body.get("JobHCL") or "", bool(body.get("Canonicalize")),
                                 body.get("Variables") or None)
        return self._json(request, job)

    async def plan(self, request: Request, job_id: str) -> Response:
        body = await self._body(request)
        job = body.get("Job")
        if not job:
            raise NomadError(400, "Job must be specified")
        if not job.get("ID"):
            raise NomadError(400, "Job must have a valid ID")
        if job["ID"] != job_id:
            raise NomadError(400, "Job ID does not match")
        result = self.cluster.plan(job, namespace=request.query_params.get("namespace"),
                                   diff=bool(body.get("Diff")))
        return self._json(request, result, result["Index"])

    async def revert(self, request: Request, job_id: str) -> Response:
        body = await self._body(request)
        if not body.get("JobID"):
            raise NomadError(400, "JobID must be specified")
        if body["JobID"] != job_id:
            raise NomadError(400, "Job ID does not match")
        result = self.cluster.revert(self._namespace(request), job_id, int(body.get("JobVersion") or 0),
                                     body.get("EnforcePriorVersion"))
        return self._json(request, result, result["Index"])

    async def stable(self, request: Request, job_id: str) -> Response:
        body = await self._body(request)
        if not body.get("JobID"):
            raise NomadError(400, "JobID must be specified")
        result = self.cluster.set_stable(self._namespace(request), job_id,
                                         int(body.get("JobVersion") or 0), bool(body.get("Stable")))
        return self._json(request, result, result["Index"])

    async def evaluate(self, request: Request, job_id: str) -> Response:
        job = self._job_or_404(request, job_id)
        ev = self.cluster.new_eval(job, "job-register")
        return self._json(request, {"EvalID": ev["ID"], "EvalCreateIndex": ev["CreateIndex"],
                                    "JobModifyIndex": job["JobModifyIndex"], "Warnings": "",
                                    "Index": ev["CreateIndex"]}, ev["CreateIndex"])

    async def deregister(self, request: Request, job_id: str) -> Response:
        result = self.cluster.deregister(self._namespace(request), job_id,
                                         purge=truthy(request.query_params.get("purge")))
        return self._json(request, result, result["Index"])

    # --- deployments ---------------------------------------------------------------------------

    async def _read_list(self, request: Request, objects: dict[str, dict], table: str,
                         render: Callable[[dict], dict] = public, newest_first: bool = True) -> Response:
        idx = await self._blocking(request, lambda: self.store.table(table))
        prefix = request.query_params.get("prefix", "")
        chosen = sorted((o for o in objects.values()
                         if self._in_namespace(request, o) and o["ID"].startswith(prefix)),
                        key=lambda o: o["CreateIndex"], reverse=newest_first)
        return self._json(request, [render(o) for o in chosen], idx)

    async def _read_one(self, request: Request, objects: dict[str, dict], obj_id: str, table: str,
                        not_found: str, render: Callable[[dict], dict] = public) -> Response:
        def index() -> int:
            obj = objects.get(obj_id)
            return obj["ModifyIndex"] if obj else self.store.table(table)
        idx = await self._blocking(request, index)
        obj = objects.get(obj_id)
        if obj is None:
            raise NomadError(404, not_found)
        return self._json(request, render(obj), idx)

    async def deployments(self, request: Request) -> Response:
        # Oldest first, unlike the other lists (`reverse=true` flips it).
        return await self._read_list(request, self.store.deployments, "deployment",
                                     newest_first=truthy(request.query_params.get("reverse")))

    async def deployment(self, request: Request, dep_id: str) -> Response:
        return await self._read_one(request, self.store.deployments, dep_id, "deployment", "deployment not found")

    async def deployment_allocs(self, request: Request, dep_id: str) -> Response:
        idx = await self._blocking(request, lambda: self.store.table("allocs"))
        allocs = sorted((a for a in self.store.allocs.values() if a.get("DeploymentID") == dep_id),
                        key=lambda a: a["CreateIndex"], reverse=True)
        return self._json(request, [alloc_stub(a) for a in allocs], idx)

    async def deployment_action(self, request: Request, action: str, dep_id: str) -> Response:
        raw = await request.body()
        body = json.loads(raw) if raw.strip() else {}
        body = {k.lower(): v for k, v in body.items()} if isinstance(body, dict) else {}
        if action != "fail":
            if not body.get("deploymentid"):
                raise NomadError(400, "DeploymentID must be specified")
            if body["deploymentid"] != dep_id:
                raise NomadError(400, "Deployment ID does not match")
        c = self.cluster
        if action == "promote":
            result = c.promote(dep_id, groups=body.get("groups") or [], all_groups=bool(body.get("all")))
        elif action == "fail":
            result = c.fail(dep_id)
        elif action == "pause":
            result = c.pause(dep_id, bool(body.get("pause")))
        else:
            result = c.set_alloc_health(dep_id, body.get("healthyallocationids") or [],
                                        body.get("unhealthyallocationids") or [])
        return self._json(request, result, result["Index"])

    # --- allocations, evaluations, nodes ------------------------------------------------------

    async def allocations(self, request: Request) -> Response:
        q = request.query_params
        with_states = q.get("task_states", "true").lower() != "false"
        with_resources = truthy(q.get("resources"))
        return await self._read_list(request, self.store.allocs, "allocs",
                                     lambda a: alloc_stub(a, task_states=with_states, resources=with_resources))

    async def allocation(self, request: Request, alloc_id: str) -> Response:
        return await self._read_one(request, self.store.allocs, alloc_id, "allocs", "alloc not found", full_alloc)

    async def evaluations(self, request: Request) -> Response:
        return await self._read_list(request, self.store.evals, "evals")

    async def evaluation(self, request: Request, eval_id: str) -> Response:
        return await self._read_one(request, self.store.evals, eval_id, "evals", "eval not found")

    async def eval_allocs(self, request: Request, eval_id: str) -> Response:
        idx = await self._blocking(request, lambda: self.store.table("allocs"))
        allocs = [alloc_stub(a) for a in self.store.allocs.values() if a["EvalID"] == eval_id]
        return self._json(request, allocs, idx)

    async def nodes(self, request: Request) -> Response:
        idx = await self._blocking(request, lambda: self.store.table("nodes"))
        prefix = request.query_params.get("prefix", "")
        with_os = truthy(request.query_params.get("os"))
        out = []
        for node in sorted(self.store.nodes.values(), key=lambda n: n["ID"]):
            if not node["ID"].startswith(prefix):
                continue
            stub = public(node)
            if with_os:
                stub["Attributes"] = {"os.name": node["_attributes"]["os.name"]}
            out.append(stub)
        return self._json(request, out, idx)

    async def node(self, request: Request, node_id: str) -> Response:
        node = self.store.nodes.get(node_id)
        if node is None:
            raise NomadError(404, "node not found")
        body = public(node)
        body["Attributes"] = dict(node["_attributes"])
        return self._json(request, body, node["ModifyIndex"])

    async def namespaces(self, request: Request) -> Response:
        names = sorted({"default"} | {ns for ns, _ in self.store.jobs})
        return self._json(request, [{"Name": n, "Description": "Default shared namespace" if n == "default" else "",
                                     "Quota": "", "Meta": None, "Capabilities": None, "NodePoolConfiguration": None,
                                     "CreateIndex": 1, "ModifyIndex": 1} for n in names], self.store.index)

    async def agent_self(self, request: Request) -> Response:
        return self._json(request, {"config": {"Version": {"Version": "2.0.5", "VersionPrerelease": "",
                                                            "VersionMetadata": "", "Revision": "demo"},
                                               "Region": "global", "Datacenter": "dc1"},
                                    "member": {"Name": "nomadtui-demo.global", "Addr": "127.0.0.1",
                                               "Port": 4648, "Status": "alive", "Tags": {"region": "global", "dc": "dc1"}},
                                    "stats": {}})

    async def event_stream(self, request: Request) -> Response:
        topics = _parse_topics(request.query_params.getlist("topic"))
        start = int(request.query_params.get("index", "0") or 0)
        ns = self._namespace(request)

        async def lines():
            yield b"{}\n"
            last = start
            loop = asyncio.get_running_loop()
            heartbeat_at = loop.time() + HEARTBEAT_SECONDS
            while True:
                batch = [entry for entry in list(self.store.event_log) if entry[0] > last]
                for index, type_, events in batch:
                    last = index
                    chosen = [_event_json(e, index, type_) for e in events
                              if _topic_match(topics, e) and (ns == "*" or not e.namespace or e.namespace == ns)]
                    if chosen:
                        yield dumps({"Index": index, "Events": chosen}, False) + b"\n"
                if not batch:
                    timeout = heartbeat_at - loop.time()
                    if timeout <= 0:
                        yield b"{}\n"
                        heartbeat_at = loop.time() + HEARTBEAT_SECONDS
                        continue
                    await self.changes.wait(timeout)

        return StreamingResponse(lines(), media_type="application/json",
                                 headers={"Cache-Control": "no-cache"})


def _parse_topics(values: list[str]) -> dict[str, set[str]]:
    topics: dict[str, set[str]] = {}
    for v in values or ["*:*"]:
        topic, _, key = v.partition(":")
        topics.setdefault(topic, set()).add(key or "*")
    return topics


def _topic_match(topics: dict[str, set[str]], event) -> bool:
    for topic in (event.topic, "*"):
        keys = topics.get(topic)
        if keys and ("*" in keys or event.key in keys or any(k in keys for k in event.filter_keys or [])):
            return True
    return False


def _event_json(event, index: int, type_: str) -> dict:
    return {"Topic": event.topic, "Type": type_, "Key": event.key, "Namespace": event.namespace,
            "FilterKeys": event.filter_keys, "Index": index, "Payload": event.payload}


def alloc_stub(alloc: dict, *, task_states: bool = True, resources: bool = False) -> dict:
    stub = {k: alloc.get(k) for k in ALLOC_STUB_KEYS}
    if resources:
        stub["AllocatedResources"] = alloc["AllocatedResources"]
    if not task_states:
        stub["TaskStates"] = None
    return json.loads(json.dumps(stub))


def full_alloc(alloc: dict) -> dict:
    body = public(alloc)
    body.pop("JobType", None)
    body["Job"] = public(alloc["_job"])
    return body


def _error(status: int, message: str) -> Response:
    return PlainTextResponse(message, status, media_type="text/plain; charset=utf-8")


# --- Fabio ---------------------------------------------------------------------------------------

class FabioAdmin:
    """Fabio's admin API (fabio.md §1, §6)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.manual = ""
        self.manual_version = 0

    def table(self) -> list[fabio_routes.Route]:
        return fabio_routes.build_table(fabio_routes.cluster_instances(self.cluster), self.manual)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self.dispatch(request)
        await response(scope, receive, send)

    async def dispatch(self, request: Request) -> Response:
        path, method = request.url.path, request.method
        q = request.query_params
        if path == "/health":
            return PlainTextResponse("OK\n")
        if path == "/api/routes" and method == "GET":
            table = self.table()
            if "raw" in q:
                return PlainTextResponse(fabio_routes.raw_text(table))
            return Response(dumps(fabio_routes.api_rows(table), "pretty" in q), media_type="application/json")
        if path == "/api/version":
            return PlainTextResponse(FABIO_VERSION)
        if path == "/api/config":
            return Response(dumps(_FABIO_CONFIG, "pretty" in q), media_type="application/json")
        if path == "/api/paths":
            return Response(b'[""]', media_type="application/json")
        if path == "/api/manual" and method == "GET":
            return Response(dumps({"value": self.manual, "version": str(self.manual_version)}, False),
                            media_type="application/json")
        if path == "/api/manual" and method == "PUT":
            try:
                body = json.loads(await request.body())
                value, version = str(body.get("value", "")), int(body.get("version", "0"))
            except (ValueError, AttributeError):
                return PlainTextResponse("bad request", 400)
            if version != self.manual_version:
                return PlainTextResponse("version mismatch", 409)
            self.manual, self.manual_version = value, self.manual_version + 1
            return Response(b"")
        if path == "/":
            return RedirectResponse("/routes", 303)
        if path == "/routes":
            return Response(_routes_html(self.table()), media_type="text/html")
        return PlainTextResponse("404 page not found\n", 404)


_FABIO_CONFIG = {
    "Proxy": {"Strategy": "rnd", "Matcher": "prefix", "NoRouteStatus": 404},
    "Listen": [{"Addr": ":9999", "Proto": "http"}, {"Addr": ":9996", "Proto": "tcp+sni"}],
    "Registry": {"Backend": "consul", "Consul": {"KVPath": "/fabio/config", "TagPrefix": "urlprefix-",
                                                 "ServiceStatus": ["passing"]}},
    "UI": {"Access": "rw", "Addr": ":9998"},
}


def _routes_html(table: list[fabio_routes.Route]) -> bytes:
    rows = "".join(
        f"<tr><td>{i}</td><td>{t.service}</td><td>{r.src}</td><td>{t.dst}</td><td>{r.opts}</td>"
        f"<td>{t.weight * 100:.2f}%</td></tr>"
        for i, (r, t) in enumerate(((r, t) for r in table for t in r.targets), 1))
    return (f"<html><head><title>fabio</title></head><body><table><tr><th>#</th><th>Service</th>"
            f"<th>Source</th><th>Dest</th><th>Options</th><th>Weight</th></tr>{rows}</table></body></html>").encode()


class TrafficListener:
    """Fabio's HTTP listener: routes by Host header with the published weights and answers as
    the article's backend does (`this is httpsbackendservice, version: v1.0.2`)."""

    def __init__(self, fabio: FabioAdmin, seed: int | None = None) -> None:
        self.fabio = fabio
        self.rng = random.Random(seed)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        route = fabio_routes.lookup(self.fabio.table(), request.headers.get("host", ""), request.url.path)
        if route is None:
            response = Response(b"", 404)   # Fabio's default noroute status, empty body
        else:
            target = fabio_routes.pick(route, self.rng)
            version = target.image.rpartition(":")[2] if ":" in target.image else "latest"
            name = target.image.rpartition(":")[0].rpartition("/")[2] or target.service
            response = PlainTextResponse(f"this is {name}, version: {version}\n")
        await response(scope, receive, send)


# --- running it ------------------------------------------------------------------------------------

def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this; without it every response waits ~40 ms for a delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


class DemoServer:
    """The demo cluster and its three listeners, on one event loop in a background thread."""

    def __init__(self, cluster: Cluster | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 fabio_port: int = 0, lb_port: int = 0, acl_tokens: dict[str, str] | None = None,
                 speed: float = DEFAULT_SPEED, seed: int | None = None) -> None:
        self._cluster = cluster
        self.speed = speed
        self.host = host
        self._ports = (port, fabio_port, lb_port)
        self.acl_tokens = acl_tokens
        self.seed = seed
        self.cluster: Cluster | None = None
        self.nomad_url = self.fabio_url = self.lb_url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[uvicorn.Server] = []
        self._tasks: list[asyncio.Task] = []
        self._wake: asyncio.Event | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> DemoServer:
        """Bind the ports and serve from a daemon thread; returns once requests are answered."""
        sockets = [_bind(self.host, p) for p in self._ports]
        self.nomad_url, self.fabio_url, self.lb_url = (
            f"http://{self.host}:{s.getsockname()[1]}" for s in sockets)
        ready: Future = Future()
        self._thread = threading.Thread(target=self._run, args=(sockets, ready), name="nomadtui-demo", daemon=True)
        self._thread.start()
        ready.result(timeout=30)
        return self

    def _run(self, sockets: list[socket.socket], ready: Future) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(sockets, ready))
        except Exception as e:  # noqa: BLE001 - surfaced to start()
            if not ready.done():
                ready.set_exception(e)
        finally:
            # Parked blocking queries and event streams end by cancellation; uvicorn would log
            # each as an "Exception in ASGI application".
            logging.getLogger("uvicorn.error").disabled = True
            leftovers = asyncio.all_tasks(loop)
            for task in leftovers:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
            loop.close()

    async def _serve(self, sockets: list[socket.socket], ready: Future) -> None:
        loop = asyncio.get_running_loop()
        self.cluster = self._cluster or Cluster(Clock(self.speed), seed=self.seed)
        changes = Changes(loop)
        self.cluster.store.listeners.append(changes.notify)
        self._wake = asyncio.Event()
        self.cluster.on_timer = self._wake.set
        nomad = NomadAPI(self.cluster, changes, self.acl_tokens)
        nomad.on_write = self._wake.set
        fabio = FabioAdmin(self.cluster)
        lb = TrafficListener(fabio, self.seed)
        apps = [GZipMiddleware(nomad, minimum_size=1024), fabio, lb]
        for app, sock in zip(apps, sockets):
            config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False,
                                    log_config=None, timeout_graceful_shutdown=1)
            server = uvicorn.Server(config)
            self._servers.append(server)
            self._tasks.append(loop.create_task(server.serve(sockets=[sock])))
        self._tasks.append(loop.create_task(self._drive()))
        while not all(s.started for s in self._servers):
            await asyncio.sleep(0.01)
        ready.set_result(True)
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _drive(self) -> None:
        """Fire the cluster's timers when they are due (real clock) or when woken."""
        cluster, wake = self.cluster, self._wake
        while True:
            wake.clear()
            cluster.run_due()
            due = cluster.next_due()
            timeout = None
            if due is not None and not cluster.clock.manual:
                timeout = max(0.0, due - cluster.clock.now())
            await wait_event(wake, timeout)

    def stop(self) -> None:
        if self._loop is None:
            return

        def shutdown() -> None:
            for s in self._servers:
                s.should_exit = True
                s.force_exit = True
            for t in self._tasks[-1:]:
                t.cancel()

        loop, self._loop = self._loop, None
        loop.call_soon_threadsafe(shutdown)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def call(self, fn: Callable, *args):
        """Run `fn(*args)` on the server's loop (thread-safe) and return its result."""
        assert self._loop is not None

        async def run():
            return fn(*args)
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=60)

    def advance(self, seconds: float) -> None:
        """Manual clock: let `seconds` of cluster time pass."""
        self.call(self.cluster.advance, seconds)

    def __enter__(self) -> DemoServer:
        return self if self._loop is not None else self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
