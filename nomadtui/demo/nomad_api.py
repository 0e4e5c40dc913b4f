"""The demo cluster's Nomad HTTP API (nomad-api.md §1-§3) over a Cluster: routes, blocking
queries that park on a future every write resolves, plain-text errors, the event stream."""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from ..aio import wait_future
from .asgi import RequestApp
from .cluster import Cluster
from .store import ALLOC_STUB_KEYS, JOB_STUB_KEYS, NomadError, public

MAX_WAIT = 300.0
HEARTBEAT_SECONDS = 30.0

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


Handler = Callable[..., Awaitable[Response]]


@dataclass
class _Route:
    methods: frozenset[str]
    pattern: re.Pattern
    handler: Handler
    write: bool


class NomadAPI(RequestApp):
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
