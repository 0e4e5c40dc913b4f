"""The demo cluster's Nomad HTTP API (nomad-api.md §1-§3) over a Cluster: routes, blocking
queries that park on a future every write resolves, plain-text errors, pages of the lists
(per_page, next_token, X-Nomad-NextToken, as nomad/state/paginator/ makes them), the event stream.

Bodies are decoded as Nomad's agent decodes them (gojson, api_types) and query parameters
parsed as it parses them (query), so a malformed request gets Nomad's own answer."""

from __future__ import annotations

import asyncio
import bisect
import functools
import json
import operator
import random
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from ..aio import wait_future
from . import api_types, checks, gojson, gostrconv, logstream, query, stream
from .asgi import RequestApp
from .cluster import Cluster
from .jobdiff import job_diff
from .lifecycle import AllocLifecycle
from .query import get
from .store import ALLOC_STUB_KEYS, JOB_STUB_KEYS, NomadError, public

HEARTBEAT_SECONDS = 30.0
# Handlers that check no method (FsRequest and Logs, ClientAllocRequest and allocRestart).
ANY_METHOD = "GET HEAD POST PUT DELETE PATCH OPTIONS"


def _pretty(request: Request) -> bool:
    return "pretty" in request.query_params and request.query_params["pretty"] != "0"


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
        self.lifecycle = AllocLifecycle(cluster)
        self.log_waker = logstream.LogWaker()
        cluster.logs.listeners.append(self.log_waker.notify)
        self.routes: list[_Route] = []
        r = self._route
        r("GET", r"/v1/jobs", self.jobs)
        r("PUT POST", r"/v1/jobs", self.register, write=True)
        r("PUT POST", r"/v1/jobs/parse", self.parse, write=False)
        r(
            "GET",
            r"/v1/job/(?P<job_id>.+)/(?P<what>allocations|evaluations|deployments|deployment|summary|versions|submission)",
            self.job_sub,
        )
        r("PUT POST", r"/v1/job/(?P<job_id>.+)/plan", self.plan, write=True)
        r("PUT POST", r"/v1/job/(?P<job_id>.+)/revert", self.revert, write=True)
        r("PUT POST", r"/v1/job/(?P<job_id>.+)/stable", self.stable, write=True)
        r("PUT POST", r"/v1/job/(?P<job_id>.+)/evaluate", self.evaluate, write=True)
        r("GET", r"/v1/job/(?P<job_id>.+)", self.job)
        r("PUT POST", r"/v1/job/(?P<job_id>.+)", self.register, write=True)
        r("DELETE", r"/v1/job/(?P<job_id>.+)", self.deregister, write=True)
        r("GET", r"/v1/deployments", self.deployments)
        r("GET", r"/v1/deployment/allocations/(?P<dep_id>[^/]+)", self.deployment_allocs)
        r(
            "PUT POST",
            r"/v1/deployment/(?P<action>promote|fail|pause|allocation-health)/(?P<dep_id>[^/]+)",
            self.deployment_action,
            write=True,
        )
        r("GET", r"/v1/deployment/(?P<dep_id>[^/]+)", self.deployment)
        r("GET", r"/v1/allocations", self.allocations)
        r("GET", r"/v1/allocation/(?P<alloc_id>[^/]+)", self.allocation)
        r("GET", r"/v1/evaluations", self.evaluations)
        r("GET", r"/v1/evaluation/(?P<eval_id>[^/]+)/allocations", self.eval_allocs)
        r("GET", r"/v1/evaluation/(?P<eval_id>[^/]+)", self.evaluation)
        r("GET", r"/v1/nodes", self.nodes)
        r("GET", r"/v1/node/(?P<node_id>[^/]+)", self.node)
        r("GET", r"/v1/namespaces", self.namespaces)
        r("GET", r"/v1/namespace/(?P<name>.*)", self.namespace)
        r("GET", r"/v1/regions", self.regions)
        r("GET", r"/v1/status/leader", self.leader)
        r("GET", r"/v1/status/peers", self.peers)
        r("GET", r"/v1/agent/self", self.agent_self)
        r("PUT", r"/v1/system/gc", self.system_gc, write=True)
        r("GET", r"/v1/event/stream", self.event_stream)
        r("PUT POST", r"/v1/allocation/(?P<alloc_id>[^/]+)/stop", self.alloc_stop, write=True)
        r(ANY_METHOD, r"/v1/client/allocation/(?P<alloc_id>[^/]+)/restart", self.alloc_restart, write=True)
        r("GET", r"/v1/(?:client/)?allocation/(?P<alloc_id>[^/]+)/checks", self.alloc_checks)
        r(ANY_METHOD, r"/v1/client/fs/logs/(?P<alloc_id>.*)", self.alloc_logs)

    def _route(self, methods: str, pattern: str, handler: Handler, write: bool = False) -> None:
        self.routes.append(_Route(frozenset(methods.split()), re.compile(f"^{pattern}$"), handler, write))

    async def dispatch(self, request: Request) -> Response:
        # The decoded path as sent: `request.url.path` quotes some characters again (a job id
        # ending in a backslash would not be found).
        path = request.scope["path"]
        matched = [(r, m) for r in self.routes if (m := r.pattern.match(path))]
        if not matched:  # handleRootFallthrough (command/agent/http.go): a bare 404, no body
            return Response(b"", 404)
        for route, m in matched:  # noqa: B007 - the matching route and its match are used below
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

    def _json(
        self,
        request: Request,
        data,
        index: int | None = None,
        status: int = 200,
        encoded: bytes | None = None,
        next_token: str = "",
    ) -> Response:
        headers = {"X-Nomad-KnownLeader": "true", "X-Nomad-LastContact": "0"}
        if index is not None:
            headers["X-Nomad-Index"] = str(index)
        if next_token:  # setNextToken: only when more remain
            headers["X-Nomad-NextToken"] = next_token
        body = encoded if encoded is not None else dumps(data, _pretty(request))
        return Response(body, status, headers=headers, media_type="application/json")

    async def _blocking(self, request: Request, index_of: Callable[[], int]) -> int:
        """HTTPServer.parse's query options, then a blocking query on `index_of`."""
        opts = query.query_options(request.query_params)
        if opts.index > 0:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + opts.wait + random.uniform(0, opts.wait / 16)
            while index_of() <= opts.index and (remaining := deadline - loop.time()) > 0:
                await self.changes.wait(min(remaining, 1.0))
                if await request.is_disconnected():
                    raise NomadError(499, "client went away")
        return index_of()

    @staticmethod
    async def _body(request: Request, typ: gojson.Struct) -> dict:
        """decodeBody (command/agent/http.go) into `typ`; a JSON null leaves it at its zero value."""
        return gojson.decode(await request.body(), typ) or {}

    def _namespace(self, request: Request, body: dict | None = None) -> str:
        """parseNamespace: the query's, else the request body's (WriteRequest), else default."""
        return get(request.query_params, "namespace") or (body or {}).get("Namespace") or "default"

    def _job_or_404(self, request: Request, job_id: str) -> dict:
        job = self.store.job(self._namespace(request), job_id)
        if job is None:
            raise NomadError(404, "job not found")
        return job

    def _submitted_job(
        self, request: Request, body: dict, job_id: str, missing_id: str, mismatch: str
    ) -> tuple[dict, str]:
        """jobUpdate's and jobPlan's first checks (command/agent/job_endpoint.go); returns the job
        and its namespace as namespaceForJob picks it: the query's, the body's, the job's."""
        job = body.get("Job")
        if job is None:
            raise NomadError(400, "Job must be specified")
        if job.get("ID") is None:
            raise NomadError(400, missing_id)
        if job_id and job["ID"] != job_id:
            raise NomadError(400, mismatch)
        return job, (
            get(request.query_params, "namespace") or body.get("Namespace") or job.get("Namespace") or "default"
        )

    @staticmethod
    def _convertible(job: dict) -> None:
        """apiJobAndRequestToStructs dereferences every element of the job's []*T lists."""
        if (nil := gojson.nil_element(job, api_types.JOB, "Job")) is not None:
            raise _agent_panic(f"null {nil}")

    # --- jobs -------------------------------------------------------------------------------

    def job_stub(self, job: dict, with_meta: bool) -> dict:
        """Job.Stub: it shares the job's and the summary's values (it is encoded at once)."""
        summary = self.store.summaries.get((job["Namespace"], job["ID"]), {})
        stub = {k: job.get(k) for k in JOB_STUB_KEYS}
        stub["Periodic"] = job.get("Periodic") is not None
        stub["ParameterizedJob"] = job.get("ParameterizedJob") is not None
        stub["JobSummary"] = summary
        if with_meta and job.get("Meta"):
            stub["Meta"] = job["Meta"]
        return stub

    async def jobs(self, request: Request) -> Response:
        """jobListRequest (command/agent/job_endpoint.go) and Job.List (nomad/job_endpoint.go): the
        jobs in memdb's order, a page of them with per_page, from next_token on (tokens are
        `<namespace>.<id>`, NamespaceIDTokenizer); the index is the jobs or summaries table's."""
        q = request.query_params
        opts = query.query_options(q)
        with_meta = bool(query.parse_bool(q, "meta"))
        index = await self._blocking(request, lambda: max(self.store.table("jobs"), self.store.table("job_summary")))
        jobs = self._jobs_in_order(self._namespace(request), get(q, "prefix"), opts)
        tokenizer = query.NamespaceIDTokenizer(opts.next_token)
        stubs, token = query.page(jobs, opts, tokenizer, lambda j: self.job_stub(j, with_meta))
        return self._json(request, stubs, index, next_token=token)

    def _jobs_in_order(self, ns: str, prefix: str, opts: query.QueryOptions) -> Iterator[dict]:
        """The jobs as Job.List walks them: JobsByIDPrefix, JobsByNamespace or Jobs (the `id`
        index: by namespace, then by ID), backwards with `reverse`, except that a prefix over
        all namespaces walks the whole table forwards (jobsByIDPrefixAllNamespaces,
        nomad/state/state_store.go)."""
        store = self.store
        if prefix and ns == "*":
            return (
                store.jobs[(n, job_id)]
                for n in sorted(store.job_ids)
                for job_id in list(store.job_ids[n])
                if job_id.startswith(prefix)
            )
        namespaces = sorted(store.job_ids) if ns == "*" else [ns]
        if opts.reverse:
            namespaces.reverse()
        return self._seek_jobs(namespaces, prefix, opts)

    def _seek_jobs(self, namespaces: list[str], prefix: str, opts: query.QueryOptions) -> Iterator[dict]:
        """From the first job the paginator keeps: within a namespace the tokens follow the
        order of the IDs, so that job is found by bisection, and a page costs what it holds."""
        store, target = self.store, opts.next_token
        found = not target
        for n in namespaces:
            ids = store.job_ids.get(n, [])
            lo, hi = 0, len(ids)
            if prefix:
                lo = bisect.bisect_left(ids, prefix)
                hi = bisect.bisect_left(ids, True, lo, key=lambda job_id: not job_id.startswith(prefix))
            if found:
                order = range(hi - 1, lo - 1, -1) if opts.reverse else range(lo, hi)
            else:
                token_of = functools.partial(operator.add, n + ".")
                if opts.reverse:
                    first = bisect.bisect_right(ids, target, lo, hi, key=token_of) - 1
                    order = range(first, lo - 1, -1)
                else:
                    first = bisect.bisect_left(ids, target, lo, hi, key=token_of)
                    order = range(first, hi)
                found = bool(order)
            for i in order:
                yield store.jobs[(n, ids[i])]

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
        if what == "submission":
            return await self.submission(request, job_id)
        if what == "allocations":
            all_ = query.lenient_bool(request.query_params, "all")
            idx = await self._blocking(request, lambda: store.table("allocs"))
            job = store.job(ns, job_id)
            allocs = store.job_allocs(job, all_incarnations=all_) if job else []
            return self._json(request, [alloc_stub(a) for a in by_id(allocs)], idx)
        if what == "evaluations":
            idx = await self._blocking(request, lambda: store.table("evals"))
            return self._json(request, [public(e) for e in by_id(store.job_evals(ns, job_id))], idx)
        if what == "deployments":
            all_ = query.lenient_bool(request.query_params, "all")
            idx = await self._blocking(request, lambda: store.table("deployment"))
            job = store.job(ns, job_id)
            ds = store.job_deployments(ns, job_id, None if all_ else job["CreateIndex"]) if job else []
            return self._json(request, [public(d) for d in by_id(ds)], idx)
        # the latest deployment
        idx = await self._blocking(request, lambda: store.table("deployment"))
        job = store.job(ns, job_id)
        latest = store.latest_deployment(job) if job else None
        return self._json(request, public(latest) if latest else None, idx)

    async def submission(self, request: Request, job_id: str) -> Response:
        """jobSubmissionCRUD: the version is required."""
        try:
            version = gostrconv.parse_uint(get(request.query_params, "version"))
        except gostrconv.NumError:
            raise NomadError(400, "Unable to parse job submission version parameter") from None
        query.query_options(request.query_params)
        ns = self._namespace(request)
        sub = self.store.submissions.get((ns, job_id, version))
        if sub is None:
            raise NomadError(404, "job source not found")
        job = self.store.job(ns, job_id)
        return self._json(request, sub, job["ModifyIndex"] if job else sub["JobModifyIndex"])

    async def versions(self, request: Request, job_id: str) -> Response:
        """jobVersions (command/agent/job_endpoint.go) and Job.GetJobVersions (nomad/job_endpoint.go):
        a diff base (diff_version or diff_tag) counts only with diffs=true."""
        q = request.query_params
        diffs, diff_version, diff_tag = get(q, "diffs"), get(q, "diff_version"), get(q, "diff_tag")
        try:
            diffs_on = gostrconv.parse_bool(diffs) if diffs else False
        except gostrconv.NumError as e:
            raise NomadError(500, query.failed("diffs", diffs, "bool", e)) from None
        try:
            base_version = gostrconv.parse_uint(diff_version) if diff_version else None
        except gostrconv.NumError as e:
            raise NomadError(500, query.failed("diff_version", diff_version, "uint64", e)) from None
        ns = self._namespace(request)
        key = (ns, job_id)

        def index() -> int:
            vs = self.store.versions.get(key)
            return max(v["ModifyIndex"] for v in vs) if vs else self.store.table("job_version")

        idx = await self._blocking(request, index)
        versions = self.store.versions.get(key)
        if not versions:
            raise NomadError(404, "job versions not found")
        diff_list = None
        if diffs_on:
            base = self._diff_base(ns, job_id, versions, diff_tag, base_version)
            if base is not None:
                diff_list = [job_diff(base, v, contextual=True) for v in versions]
            else:
                diff_list = [job_diff(versions[i + 1], versions[i], contextual=True) for i in range(len(versions) - 1)]
        body = {
            "Versions": [public(v) for v in versions],
            "Diffs": diff_list,
            "Index": idx,
            "LastContact": 0,
            "KnownLeader": True,
            "NextToken": "",
        }
        return self._json(request, body, idx)

    def _diff_base(self, ns: str, job_id: str, versions: list[dict], tag: str, version: int | None) -> dict | None:
        """What Job.GetJobVersions diffs every version against: the version tagged `tag`, else
        version `version`, else None (each version against the one before it)."""
        if tag:
            base = next((v for v in versions if (v.get("VersionTag") or {}).get("Name") == tag), None)
            if base is None:
                raise NomadError(500, f"tag {gostrconv.quote(tag)} not found")
            return base
        if version is None:
            return None
        base = self.store.job_version(ns, job_id, version)
        if base is None:
            raise NomadError(500, f"version {version} not found")
        return base

    async def register(self, request: Request, job_id: str = "") -> Response:
        """jobUpdate (command/agent/job_endpoint.go)."""
        body = await self._body(request, api_types.JOB_REGISTER_REQUEST)
        job, ns = self._submitted_job(
            request, body, job_id, "Job ID hasn't been provided", "Job ID does not match name"
        )
        groups = job.get("TaskGroups") or []
        if job.get("Type") == "system":
            if None in groups:
                raise _agent_panic(f"null Job.TaskGroups[{groups.index(None)}]")
            if any(group.get("Scaling") is not None for group in groups):
                raise NomadError(400, "Task groups with job type system do not support scaling blocks")
        if body.get("EvalPriority", 0) and not 1 <= body["EvalPriority"] <= 100:
            raise NomadError(400, "Eval priority must be between 1 and 100 inclusively")
        self._convertible(job)
        result = self.cluster.register(
            job,
            namespace=ns,
            enforce_index=body.get("EnforceIndex", False),
            job_modify_index=body.get("JobModifyIndex", 0),
            submission=body.get("Submission"),
        )
        return self._json(request, result, result["Index"])

    async def parse(self, request: Request) -> Response:
        """JobsParseRequest (command/agent/job_endpoint.go). The parse runs on a worker thread
        (it is pure) so that a big one holds up no other request."""
        raw, pretty = await request.body(), _pretty(request)

        def work() -> bytes:  # decoding the request and encoding the answer are large too
            body = gojson.decode(raw, api_types.JOBS_PARSE_REQUEST)
            if body is None:  # args, a *api.JobsParseRequest, becomes nil and is dereferenced
                raise _agent_panic("a null body")
            job = self.cluster.parse(
                body.get("JobHCL", ""), body.get("Canonicalize", False), body.get("Variables") or None
            )
            return dumps(job, pretty)

        return self._json(request, None, encoded=await asyncio.to_thread(work))

    async def plan(self, request: Request, job_id: str) -> Response:
        """jobPlan (command/agent/job_endpoint.go)."""
        body = await self._body(request, api_types.JOB_PLAN_REQUEST)
        job, ns = self._submitted_job(request, body, job_id, "Job must have a valid ID", "Job ID does not match")
        self._convertible(job)
        result = self.cluster.plan(job, namespace=ns, diff=body.get("Diff", False))
        return self._json(request, result, result["Index"])

    async def _versioned(self, request: Request, job_id: str, typ: gojson.Struct) -> dict:
        """jobRevert's and jobStable's body checks."""
        body = await self._body(request, typ)
        if not body.get("JobID"):
            raise NomadError(400, "JobID must be specified")
        if body["JobID"] != job_id:
            raise NomadError(400, "Job ID does not match")
        return body

    async def revert(self, request: Request, job_id: str) -> Response:
        body = await self._versioned(request, job_id, api_types.JOB_REVERT_REQUEST)
        result = self.cluster.revert(
            self._namespace(request, body), job_id, body.get("JobVersion", 0), body.get("EnforcePriorVersion")
        )
        return self._json(request, result, result["Index"])

    async def stable(self, request: Request, job_id: str) -> Response:
        body = await self._versioned(request, job_id, api_types.JOB_STABILITY_REQUEST)
        result = self.cluster.set_stable(
            self._namespace(request, body), job_id, body.get("JobVersion", 0), body.get("Stable", False)
        )
        return self._json(request, result, result["Index"])

    async def evaluate(self, request: Request, job_id: str) -> Response:
        """jobForceEvaluate: a body is optional, but checked when there is one."""
        body: dict = {}
        if await request.body():
            body = await self._body(request, api_types.JOB_EVALUATE_REQUEST)
            if not body.get("JobID"):
                raise NomadError(400, "Job ID must be specified")
            if body["JobID"] != job_id:
                raise NomadError(400, "JobID not same as job name")
        job = self.store.job(self._namespace(request, body), job_id)
        if job is None:  # Job.Evaluate's plain error (nomad/job_endpoint.go)
            raise NomadError(500, "job not found")
        # Job.Evaluate commits the evaluation in an AllocUpdateDesiredTransitionRequestType write
        # (its events are of type AllocationUpdateDesiredStatus), with the job's ModifyIndex as
        # its JobModifyIndex and the answer's.
        with self.store.write("AllocationUpdateDesiredStatus") as txn:
            ev = self.cluster.create_eval(job, "job-register")
            ev["JobModifyIndex"] = job["ModifyIndex"]
        return self._json(
            request,
            {
                "EvalID": ev["ID"],
                "EvalCreateIndex": txn.index,
                "JobModifyIndex": job["ModifyIndex"],
                "Warnings": "",
                "Index": txn.index,
                "LastContact": 0,
                "KnownLeader": False,
                "NextToken": "",
            },
            txn.index,
        )

    async def deregister(self, request: Request, job_id: str) -> Response:
        """jobDelete (command/agent/job_endpoint.go)."""
        q = request.query_params
        purge = query.parse_bool(q, "purge")
        query.parse_bool(q, "global")
        priority = get(q, "eval_priority")
        try:
            priority_value = gostrconv.atoi(priority) if priority else 0
        except gostrconv.NumError as e:
            raise NomadError(500, query.failed("eval_priority", priority, "int", e)) from None
        if text := get(q, "no_shutdown_delay"):
            try:
                gostrconv.parse_bool(text)
            except gostrconv.NumError as e:  # sic: Nomad's format string has %qq
                raise NomadError(
                    500, f'Failed to parse value of "no_shutdown_delay"q ({text}) as a bool: {e}'
                ) from None
        if priority_value > 0 and not priority_value <= 100:
            raise NomadError(400, "Eval priority must be between 1 and 100 inclusively")
        ns = self._namespace(request)
        if self.store.job(ns, job_id) is None:
            # Job.Deregister returns nil for a job it does not find: the zero response, index 0.
            return self._json(request, _NO_DEREGISTER, 0)
        result = self.cluster.deregister(ns, job_id, purge=bool(purge))
        return self._json(request, result, result["Index"])

    # --- deployments ---------------------------------------------------------------------------

    async def _read_list(
        self, request: Request, objects: dict[str, dict], table: str, render: Callable[[dict], dict] = public
    ) -> Response:
        """Deployment.List, Alloc.List and Eval.List (nomad/{deployment,alloc,eval}_endpoint.go):
        oldest first (the `create` and `namespace_create_prefix` indexes: CreateIndex, then ID,
        CreateIndexAndIDTokenizer), or by ID with a prefix (IDTokenizer); backwards with
        `reverse`; a page with per_page, from next_token on."""
        opts = query.query_options(request.query_params)
        idx = await self._blocking(request, lambda: self.store.table(table))
        ns = self._namespace(request)
        prefix = get(request.query_params, "prefix")
        tokenizer: query.Tokenizer
        if prefix:
            tokenizer = query.IDTokenizer(opts.next_token)
            items: Iterator[dict] = iter(
                sorted(
                    (o for o in objects.values() if o["ID"].startswith(prefix) and ns in ("*", o["Namespace"])),
                    key=lambda o: o["ID"],
                    reverse=opts.reverse,
                )
            )
        else:
            tokenizer = query.CreateIndexAndIDTokenizer(opts.next_token)
            keys = self.store.created[table].get("" if ns == "*" else ns, [])
            if opts.next_token and tokenizer.seek is not None:
                ordered = query.seek_sorted(keys, tokenizer.seek, opts.reverse)
            else:
                ordered = reversed(keys) if opts.reverse else iter(keys)
            items = (objects[key[1]] for key in ordered)
        out, token = query.page(items, opts, tokenizer, render)
        return self._json(request, out, idx, next_token=token)

    async def _read_one(
        self,
        request: Request,
        objects: dict[str, dict],
        obj_id: str,
        table: str,
        not_found: str,
        render: Callable[[dict], dict] = public,
    ) -> Response:
        def index() -> int:
            obj = objects.get(obj_id)
            return obj["ModifyIndex"] if obj else self.store.table(table)

        idx = await self._blocking(request, index)
        obj = objects.get(obj_id)
        if obj is None:
            raise NomadError(404, not_found)
        return self._json(request, render(obj), idx)

    async def deployments(self, request: Request) -> Response:
        return await self._read_list(request, self.store.deployments, "deployment")

    async def deployment(self, request: Request, dep_id: str) -> Response:
        return await self._read_one(request, self.store.deployments, dep_id, "deployment", "deployment not found")

    async def deployment_allocs(self, request: Request, dep_id: str) -> Response:
        idx = await self._blocking(request, lambda: self.store.table("allocs"))
        return self._json(request, [alloc_stub(a) for a in by_id(self.store.deployment_allocs(dep_id))], idx)

    async def deployment_action(self, request: Request, action: str, dep_id: str) -> Response:
        """deploymentFail reads no body; the others decode theirs (command/agent/deployment_endpoint.go)."""
        c = self.cluster
        if action == "fail":
            result = c.fail(dep_id)
            return self._json(request, result, result["Index"])
        body = await self._body(request, api_types.DEPLOYMENT_REQUESTS[action])
        if not body.get("DeploymentID"):
            raise NomadError(400, "DeploymentID must be specified")
        if body["DeploymentID"] != dep_id:
            raise NomadError(400, "Deployment ID does not match")
        if action == "promote":
            result = c.promote(dep_id, groups=body.get("Groups") or [], all_groups=body.get("All", False))
        elif action == "pause":
            result = c.pause(dep_id, body.get("Pause", False))
        else:
            healthy, unhealthy = body.get("HealthyAllocationIDs") or [], body.get("UnhealthyAllocationIDs") or []
            if not healthy and not unhealthy:  # Deployment.SetAllocHealth, before it looks anything up
                raise NomadError(500, "must specify at least one healthy/unhealthy allocation ID")
            result = c.set_alloc_health(dep_id, healthy, unhealthy)
        return self._json(request, result, result["Index"])

    # --- allocations, evaluations, nodes ------------------------------------------------------

    async def allocations(self, request: Request) -> Response:
        q = request.query_params
        query.query_options(q)
        resources = query.parse_bool(q, "resources")
        task_states = query.parse_bool(q, "task_states")
        return await self._read_list(
            request,
            self.store.allocs,
            "allocs",
            lambda a: alloc_stub(a, task_states=task_states is not False, resources=bool(resources)),
        )

    async def allocation(self, request: Request, alloc_id: str) -> Response:
        return await self._read_one(request, self.store.allocs, alloc_id, "allocs", "alloc not found", full_alloc)

    async def alloc_stop(self, request: Request, alloc_id: str) -> Response:
        """allocStop (command/agent/alloc_endpoint.go) and Alloc.Stop (lifecycle.py): the
        answer carries X-Nomad-Index (setIndex) and no other meta."""
        q = request.query_params
        no_shutdown_delay = query.parse_bool(q, "no_shutdown_delay") or False
        reschedule = query.parse_bool(q, "reschedule") or False
        result = self.lifecycle.stop(alloc_id, no_shutdown_delay, reschedule)
        headers = {"X-Nomad-Index": str(result["Index"])}
        return Response(dumps(result, _pretty(request)), headers=headers, media_type="application/json")

    async def alloc_restart(self, request: Request, alloc_id: str) -> Response:
        """allocRestart (command/agent/alloc_endpoint.go): any method; its own body, read by
        json.NewDecoder(...).Decode (a blank one is fine, a bad one a plain 500); the answer is
        the client's empty GenericResponse. (Nomad's HTTPServer.parse errors there come out
        garbled in front of it: the demo answers them as plain 400s.)"""
        query.query_options(request.query_params)
        try:
            body = gojson.decode(await request.body(), api_types.ALLOC_RESTART_BODY) or {}
        except NomadError as e:
            if e.message not in ("EOF", "Request body is empty"):
                raise NomadError(500, e.message) from None
            body = {}
        self.lifecycle.restart(alloc_id, body.get("TaskName") or "", bool(body.get("AllTasks")))
        return Response(dumps({"Index": 0}, _pretty(request)), media_type="application/json")

    async def alloc_checks(self, request: Request, alloc_id: str) -> Response:
        """allocChecks (command/agent/alloc_endpoint.go) answers the client's Allocations.Checks
        (client/alloc_endpoint.go): the check store's map, `null` when it has none; no index."""
        query.query_options(request.query_params)
        alloc = self.store.allocs.get(alloc_id)
        if alloc is None:  # IsErrUnknownAllocation: a 404
            raise NomadError(404, f"Unknown allocation {gostrconv.quote(alloc_id)}")
        results = checks.check_results(alloc, self.cluster.clock)
        return Response(dumps(results, _pretty(request)), media_type="application/json")

    async def alloc_logs(self, request: Request, alloc_id: str) -> Response:
        """Logs (command/agent/fs_endpoint.go): see logstream.py."""
        return logstream.logs_response(self.cluster, alloc_id, request.query_params, self.log_waker)

    async def evaluations(self, request: Request) -> Response:
        return await self._read_list(request, self.store.evals, "evals")

    async def evaluation(self, request: Request, eval_id: str) -> Response:
        return await self._read_one(request, self.store.evals, eval_id, "evals", "eval not found")

    async def eval_allocs(self, request: Request, eval_id: str) -> Response:
        idx = await self._blocking(request, lambda: self.store.table("allocs"))
        return self._json(request, [alloc_stub(a) for a in by_id(self.store.eval_allocs(eval_id))], idx)

    async def nodes(self, request: Request) -> Response:
        q = request.query_params
        query.query_options(q)
        try:  # parseNodeListStubFields, wrapped in a 400 by NodesRequest
            query.parse_bool(q, "resources")
            with_os = query.parse_bool(q, "os")
        except NomadError as e:
            raise NomadError(400, f"Failed to parse node list fields: {e.message}") from None
        idx = await self._blocking(request, lambda: self.store.table("nodes"))
        prefix = get(q, "prefix")
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
        query.query_options(request.query_params)
        node = self.store.nodes.get(node_id)
        if node is None:
            raise NomadError(404, "node not found")
        body = public(node)
        body["Attributes"] = dict(node["_attributes"])
        return self._json(request, body, node["ModifyIndex"])

    # --- namespaces, regions, status, agent ---------------------------------------------------

    async def namespaces(self, request: Request) -> Response:
        idx = await self._blocking(request, lambda: self.store.table("namespaces"))
        prefix = get(request.query_params, "prefix")
        chosen = [ns for name, ns in sorted(self.store.namespaces.items()) if name.startswith(prefix)]
        return self._json(request, chosen, idx)

    async def namespace(self, request: Request, name: str) -> Response:
        """NamespaceSpecificRequest (command/agent/namespace_endpoint.go)."""
        if not name:
            raise NomadError(400, "Missing Namespace Name")

        def index() -> int:
            ns = self.store.namespaces.get(name)
            return ns["ModifyIndex"] if ns else self.store.table("namespaces")

        idx = await self._blocking(request, index)
        if name not in self.store.namespaces:
            raise NomadError(404, "Namespace not found")
        return self._json(request, self.store.namespaces[name], idx)

    async def regions(self, request: Request) -> Response:
        query.query_options(request.query_params)
        return self._json(request, ["global"])

    async def leader(self, request: Request) -> Response:
        query.query_options(request.query_params)
        return self._json(request, "127.0.0.1:4647")

    async def peers(self, request: Request) -> Response:
        query.query_options(request.query_params)
        return self._json(request, ["127.0.0.1:4647"])

    async def system_gc(self, request: Request) -> Response:
        """GarbageCollectRequest (command/agent/system_endpoint.go): PUT only; System.GarbageCollect
        enqueues a CoreJobForceGC evaluation and answers at once, with no body (gc.py)."""
        query.query_options(request.query_params)
        self.cluster.collector.force()
        return Response(b"", 200)

    async def agent_self(self, request: Request) -> Response:
        return self._json(
            request,
            {
                "config": {
                    "Version": {"Version": "2.0.5", "VersionPrerelease": "", "VersionMetadata": "", "Revision": "demo"},
                    "Region": "global",
                    "Datacenter": "dc1",
                },
                "member": {
                    "Name": "nomadtui-demo.global",
                    "Addr": "127.0.0.1",
                    "Port": 4648,
                    "Status": "alive",
                    "Tags": {"region": "global", "dc": "dc1"},
                },
                "stats": {},
            },
        )

    async def event_stream(self, request: Request) -> Response:
        """EventStream (command/agent/event_endpoint.go) and Event.stream (nomad/event_endpoint.go):
        a subscription to the event buffer (stream.py) from `index` (the write at that index or
        the first after it; the newest write for an index past them all; the whole buffer for
        0), `{}` first and every 30 s, one line per write with events for it.

        A reader that falls behind the buffer gets Nomad's "event dropped from buffer": the
        server sends that error to the agent, which returns it from the handler, but it has
        hijacked the connection by then (HTTP/1.1, `Connection: close`, no length), so the error
        is never written: the client sees the body end. The demo ends it the same way.

        Nomad parses the index and topics before answering (their errors are clean 400s); its
        HTTPServer.parse errors come after the response has begun (a garbled 400), which the
        demo answers as a plain 400."""
        q = request.query_params
        start = query.event_index(q)
        topics = query.event_topics(q)
        query.query_options(q)
        ns = self._namespace(request)
        # validateACL: `*` is every namespace there is when the stream starts.
        namespaces = sorted(self.store.namespaces) if ns == "*" else [ns]
        sub = stream.subscribe(self.store.events, stream.SubscribeRequest(topics, namespaces, start))

        async def lines():
            yield b"{}\n"  # NewJsonStream's first heartbeat
            loop = asyncio.get_running_loop()
            heartbeat_at = loop.time() + HEARTBEAT_SECONDS
            while True:
                if loop.time() >= heartbeat_at:  # the heartbeat ticker, events or not
                    yield b"{}\n"
                    heartbeat_at = max(heartbeat_at + HEARTBEAT_SECONDS, loop.time())
                try:
                    batch = sub.next_no_block()
                except stream.EventDropped:
                    return
                if batch is None:
                    await self.changes.wait(max(0.0, heartbeat_at - loop.time()))
                    continue
                item, events = batch
                body = {"Index": item.index, "Events": [stream.event_json(e, item.index, item.type) for e in events]}
                yield dumps(body, False) + b"\n"

        headers = {"Cache-Control": "no-cache", "Connection": "close"}
        return StreamingResponse(lines(), media_type="application/json", headers=headers)


# structs.JobDeregisterResponse as Job.Deregister leaves it when the job does not exist.
_NO_DEREGISTER = {
    "EvalID": "",
    "EvalCreateIndex": 0,
    "JobModifyIndex": 0,
    "VolumeEvalID": "",
    "VolumeEvalIndex": 0,
    "Index": 0,
    "LastContact": 0,
    "KnownLeader": False,
    "NextToken": "",
}


def _agent_panic(what: str) -> NomadError:
    """A request Nomad's agent panics on (net/http then drops the connection without an answer):
    the demo refuses it with a 400 that says so."""
    return NomadError(400, f"{what} makes Nomad's HTTP agent panic; the demo refuses it")


def by_id(rows: Iterable[dict]) -> list[dict]:
    """A job's, a deployment's or an evaluation's allocations, evaluations or deployments in
    memdb's order: AllocsByJob, EvalsByJob, DeploymentsByJobID, AllocsByDeployment and
    AllocsByEval (nomad/state/state_store.go) walk a non-unique index (`job`, `job_prefix`,
    `deployment`, `eval`, nomad/state/schema.go) whose keys end in the row's ID, and Job.Allocations,
    Job.Evaluations, Job.Deployments, Deployment.Allocations and Eval.Allocations keep that order.
    Not newest first: a client sorts them itself."""
    return sorted(rows, key=lambda row: row["ID"])


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
