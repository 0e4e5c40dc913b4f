"""Malformed requests get Nomad's own answers, never a traceback: Go's encoding/json texts for
bodies, Nomad's handlers' texts for query parameters, and a property test that throws generated
bodies and query strings at every route of the demo's Nomad API."""

from __future__ import annotations

import json
import logging
import re
import threading
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nomadtui.demo import api_types, gojson, jobspec
from nomadtui.demo.clock import ManualClock
from nomadtui.demo.cluster import JOBS_DIR, Cluster
from nomadtui.demo.nomad_api import NomadAPI
from nomadtui.demo.server import DemoServer
from tests.helpers import http

JOB = "httpsbackend-sni-1"
HCL = (JOBS_DIR / "httpsbackend-tcp-sni-1.nomad").read_text()


@pytest.fixture(scope="module")
def server():
    """One demo cluster for the whole module: the tests refuse requests or register into
    staging, until the property tests at the end change it at will."""
    with DemoServer(Cluster(ManualClock(), seed=7), seed=7) as demo:
        yield demo


@pytest.fixture(scope="module")
def api(server):
    with httpx.Client(base_url=server.nomad_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def job(api) -> dict:
    return api.post("/v1/jobs/parse", json={"JobHCL": HCL}).json()


def answer(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.text


def with_job(job: dict, **changes) -> dict:
    out = json.loads(json.dumps(job))
    out.update(changes)
    return out


# --- bodies: Go's encoding/json (decodeBody in command/agent/http.go) -----------------------------


def go_type(got: str, struct: str, path: str, typ: str) -> tuple[int, str]:
    """UnmarshalTypeError's text: Struct is the innermost struct, Field the path of JSON keys."""
    return 400, f"json: cannot unmarshal {got} into Go struct field {struct}.{path} of type {typ}"


def test_job_of_the_wrong_type(api, job):
    for path in ("/v1/jobs", f"/v1/job/{JOB}", f"/v1/job/{JOB}/plan"):
        struct = "JobPlanRequest" if path.endswith("/plan") else "JobRegisterRequest"
        assert answer(api.post(path, json={"Job": "web"})) == go_type("string", struct, "Job", "api.Job")
        assert answer(api.post(path, json={"Job": [job]})) == go_type("array", struct, "Job", "api.Job")


def test_fields_of_the_wrong_type(api, job):
    r = api.post("/v1/jobs", json={"Job": with_job(job, Priority="50")})
    assert answer(r) == go_type("string", "Job", "Job.Priority", "int")
    groups = [dict(job["TaskGroups"][0], Count="3")]
    r = api.post("/v1/jobs", json={"Job": with_job(job, TaskGroups=groups)})
    assert answer(r) == go_type("string", "TaskGroup", "Job.TaskGroups.Count", "int")
    r = api.post("/v1/jobs", json={"Job": with_job(job, TaskGroups="web")})
    assert answer(r) == go_type("string", "Job", "Job.TaskGroups", "[]*api.TaskGroup")
    r = api.post("/v1/jobs", json={"Job": job, "EnforceIndex": True, "JobModifyIndex": "12"})
    assert answer(r) == go_type("string", "JobRegisterRequest", "JobModifyIndex", "uint64")
    r = api.post("/v1/jobs", json={"Job": job, "Namespace": 7})
    assert answer(r) == go_type("number", "JobRegisterRequest", "WriteRequest.Namespace", "string")
    r = api.post("/v1/jobs", json={"Job": with_job(job, Update={"Stagger": "30s"})})
    assert answer(r) == go_type("string", "UpdateStrategy", "Job.Update.Stagger", "time.Duration")


def test_numbers_out_of_range_or_fractional(api, job):
    r = api.post("/v1/jobs", json={"Job": with_job(job, Priority=1.5)})
    assert answer(r) == go_type("number 1.5", "Job", "Job.Priority", "int")
    r = api.post("/v1/jobs", content=json.dumps({"Job": job}).replace('"Priority": null', '"Priority": 1e2'))
    assert answer(r) == go_type("number 1e2", "Job", "Job.Priority", "int")
    r = api.post("/v1/jobs", json={"Job": with_job(job, Priority=2**63)})
    assert answer(r) == go_type(f"number {2**63}", "Job", "Job.Priority", "int")
    r = api.post(f"/v1/job/{JOB}/revert", json={"JobID": JOB, "JobVersion": -1})
    assert answer(r) == go_type("number -1", "JobRevertRequest", "JobVersion", "uint64")
    r = api.post("/v1/jobs", json={"Job": with_job(job, Affinities=[{"Weight": 200}])})
    assert answer(r) == go_type("number 200", "Affinity", "Job.Affinities.Weight", "int8")


def test_field_names_match_case_insensitively_and_null_is_nil(api, job):
    body = {"job": with_job(job, priority=None, taskgroups=None, Priority="x")}
    del body["job"]["Priority"]
    del body["job"]["TaskGroups"]
    r = api.post(f"/v1/job/{JOB}/plan", json=body)
    assert answer(r) == (500, "1 error occurred:\n\t* Missing job task groups\n\n")
    r = api.post(f"/v1/job/{JOB}/plan", json={"JOB": with_job(job, pRiOrItY="high")})
    assert answer(r) == go_type("string", "Job", "Job.Priority", "int")
    # KELVIN SIGN folds to K as bytes.EqualFold has it (encoding/json fold.go).
    r = api.post("/v1/jobs/parse", json={"JOBHCL": "", "\u212aey": 1})
    assert answer(r) == (400, "Job spec is empty")


def test_syntax_errors(api):
    cases = {
        b"": "Request body is empty",
        b"  \n": "EOF",
        b'{"Job": ': "unexpected EOF",
        b"{x}": "invalid character 'x' looking for beginning of object key string",
        b"[1.]": "invalid character ']' after decimal point in numeric literal",
        b'{"Job" 1}': "invalid character '1' after object key",
        b'{"Job": tru}': "invalid character '}' in literal true (expecting 'e')",
        b'{"a": "\\q"}': "invalid character 'q' in string escape code",
        b"\xef\xbb\xbf{}": "invalid character '\u00ef' looking for beginning of value",
        b"[" * 10001: "invalid character '[' exceeded max depth",
    }
    for body, text in cases.items():
        assert answer(api.post("/v1/jobs", content=body)) == (400, text)


def test_only_the_first_value_is_read(api):
    assert answer(api.post("/v1/jobs", content=b"null trailing garbage")) == (400, "Job must be specified")
    assert answer(api.post("/v1/jobs", content=b'"web"')) == (
        400,
        "json: cannot unmarshal string into Go value of type api.JobRegisterRequest",
    )


def test_parse_refuses_a_job_hcl_that_is_not_a_string(api):
    r = api.post("/v1/jobs/parse", json={"JobHCL": 5})
    assert answer(r) == go_type("number", "JobsParseRequest", "JobHCL", "string")
    r = api.post("/v1/jobs/parse", json={"JobHCL": ["job"]})
    assert answer(r) == go_type("array", "JobsParseRequest", "JobHCL", "string")


def test_deployment_actions_decode_their_bodies(api, server):
    dep = api.get(f"/v1/job/{JOB}/deployment").json()["ID"]
    assert answer(api.post(f"/v1/deployment/promote/{dep}", content=b"{nope")) == (
        400,
        "invalid character 'n' looking for beginning of object key string",
    )
    r = api.post(f"/v1/deployment/pause/{dep}", json={"DeploymentID": dep, "Pause": "yes"})
    assert answer(r) == go_type("string", "DeploymentPauseRequest", "Pause", "bool")
    r = api.post(f"/v1/deployment/promote/{dep}", json={"DeploymentID": dep, "Groups": "web"})
    assert answer(r) == go_type("string", "DeploymentPromoteRequest", "Groups", "[]string")
    r = api.post(f"/v1/deployment/allocation-health/{dep}", json={"DeploymentID": dep, "Forwarded": 1})
    assert answer(r) == go_type(
        "number", "DeploymentAllocHealthRequest", "WriteRequest.InternalRpcInfo.Forwarded", "bool"
    )


def test_payloads_are_base64(api, job):
    r = api.post("/v1/jobs", json={"Job": with_job(job, Payload="!!")})
    assert answer(r) == (400, "illegal base64 data at input byte 0")
    r = api.post("/v1/jobs", json={"Job": with_job(job, Payload="aGk=")})
    assert answer(r) == (500, "1 error occurred:\n\t* job can't be submitted with a payload, only dispatched\n\n")


def test_what_nomads_agent_would_panic_on_is_refused(api, job):
    # A null element of a []*T, or a null parse request: Go's net/http drops the connection.
    r = api.post("/v1/jobs", json={"Job": with_job(job, TaskGroups=[None])})
    assert answer(r) == (400, "null Job.TaskGroups[0] makes Nomad's HTTP agent panic; the demo refuses it")
    assert answer(api.post("/v1/jobs/parse", content=b"null")) == (
        400,
        "a null body makes Nomad's HTTP agent panic; the demo refuses it",
    )


def test_config_nested_deeper_than_the_demo_holds_is_refused(api, job):
    deep: dict = {"image": "x"}
    for _ in range(200):
        deep = {"nested": deep}
    groups = json.loads(json.dumps(job["TaskGroups"]))
    groups[0]["Tasks"][0]["Config"] = deep
    r = api.post("/v1/jobs", json={"Job": with_job(job, TaskGroups=groups)})
    assert answer(r) == (400, "Job.TaskGroups.Tasks.Config nests deeper than the demo agent supports (100 levels)")


# --- query parameters: Nomad's handlers' texts ------------------------------------------------------


@pytest.mark.parametrize(
    "path, params, expected",
    [
        ("/v1/jobs", {"index": "abc"}, (400, "Invalid index")),
        ("/v1/jobs", {"index": "-1"}, (400, "Invalid index")),
        ("/v1/jobs", {"index": "18446744073709551616"}, (400, "Invalid index")),
        ("/v1/jobs", {"wait": "5 s"}, (400, "Invalid wait time")),
        ("/v1/jobs", {"stale": "maybe"}, (400, "Expect `true` or `false` for `stale` query string parameter")),
        ("/v1/jobs", {"per_page": "ten"}, (400, "Expect a number for `per_page` query string parameter")),
        (
            "/v1/jobs",
            {"meta": "yes"},
            (500, 'Failed to parse value of "meta" (yes) as a bool: strconv.ParseBool: parsing "yes": invalid syntax'),
        ),
        (
            f"/v1/job/{JOB}/versions",
            {"diff_version": "abc"},
            (
                500,
                'Failed to parse value of "diff_version" (abc) as a uint64: '
                'strconv.ParseUint: parsing "abc": invalid syntax',
            ),
        ),
        (f"/v1/job/{JOB}/versions", {"diffs": "true", "diff_version": "99"}, (500, "version 99 not found")),
        (f"/v1/job/{JOB}/submission", {}, (400, "Unable to parse job submission version parameter")),
        (
            "/v1/event/stream",
            {"index": "abc"},
            (400, 'Unable to parse index: strconv.Atoi: parsing "abc": invalid syntax'),
        ),
        (
            "/v1/event/stream",
            {"index": "99999999999999999999"},
            (400, 'Unable to parse index: strconv.Atoi: parsing "99999999999999999999": value out of range'),
        ),
        (
            "/v1/event/stream",
            {"topic": "Job:a:b"},
            (400, "Invalid topic query: error parsing topics: Invalid key value pair for topic, topic: Job:a:b"),
        ),
        (
            "/v1/nodes",
            {"os": "1.0"},
            (
                400,
                'Failed to parse node list fields: Failed to parse value of "os" (1.0) as a '
                'bool: strconv.ParseBool: parsing "1.0": invalid syntax',
            ),
        ),
        ("/v1/status/leader", {"index": "x"}, (400, "Invalid index")),
    ],
)
def test_bad_query_parameters(api, path, params, expected):
    assert answer(api.get(path, params=params)) == expected


def test_bad_deregister_parameters(api):
    r = api.delete(f"/v1/job/{JOB}", params={"eval_priority": "high"})
    assert answer(r) == (
        500,
        'Failed to parse value of "eval_priority" (high) as a int: strconv.Atoi: parsing "high": invalid syntax',
    )
    r = api.delete(f"/v1/job/{JOB}", params={"eval_priority": "101"})
    assert answer(r) == (400, "Eval priority must be between 1 and 100 inclusively")


# --- status, regions, namespaces -----------------------------------------------------------------


def test_status_and_regions(api):
    assert answer(api.get("/v1/status/leader")) == (200, '"127.0.0.1:4647"')
    assert api.get("/v1/status/peers").json() == ["127.0.0.1:4647"]
    assert api.get("/v1/regions").json() == ["global"]


def test_namespaces(api):
    listed = api.get("/v1/namespaces").json()
    assert [(ns["Name"], ns["Description"]) for ns in listed] == [
        ("default", "Default shared namespace"),
        ("staging", "Staging environment"),
    ]
    default = api.get("/v1/namespace/default").json()
    # structs.Namespace, hashed as Namespace.SetHash does (blake2b-256 of its fields).
    assert default == listed[0] and default["Hash"] == "C7UbjDwBK0dK8wQq7Izg7SJIzaV+lIo2X7wRtzY3pSw="
    assert default["CreateIndex"] == default["ModifyIndex"] == 1
    assert answer(api.get("/v1/namespace/prod")) == (404, "Namespace not found")
    assert answer(api.get("/v1/namespace/")) == (400, "Missing Namespace Name")


def test_jobs_go_only_into_namespaces_that_exist(api, job):
    nonexistent = '* job "httpsbackend-sni-1" is in nonexistent namespace "prod"'
    r = api.post("/v1/jobs", json={"Job": with_job(job, Namespace="prod")})
    assert answer(r) == (500, f"1 error occurred:\n\t{nonexistent}\n\n")
    # Combined with the other validation errors, in Nomad's validator order.
    r = api.post(f"/v1/job/{JOB}/plan", params={"namespace": "prod"}, json={"Job": with_job(job, Priority=500)})
    assert answer(r) == (500, f"2 errors occurred:\n\t{nonexistent}\n\t* job priority must be between [1, 100]\n\n")
    # The query parameter wins over the job's own namespace (namespaceForJob).
    r = api.post("/v1/jobs", params={"namespace": "staging"}, json={"Job": with_job(job, Namespace="prod")})
    assert r.status_code == 200
    assert api.get(f"/v1/job/{JOB}", params={"namespace": "staging"}).json()["Namespace"] == "staging"
    r = api.post(f"/v1/job/{JOB}/plan", params={"namespace": "default"}, json={"Job": with_job(job, Namespace="prod")})
    assert r.status_code == 200


# --- the parse runs beside the event loop --------------------------------------------------------


def test_a_request_is_answered_while_a_big_parse_runs(server, api, monkeypatch):
    meta = "".join(f'    key{i} = "value {i}"\n' for i in range(3000))
    big = HCL.replace(f'job "{JOB}" {{', f'job "{JOB}" {{\n  meta {{\n{meta}  }}\n', 1)
    started, release = threading.Event(), threading.Event()
    parse = server.cluster.parse

    def held_parse(*args):
        started.set()
        release.wait(30)
        return parse(*args)

    monkeypatch.setattr(server.cluster, "parse", held_parse)
    order: list[str] = []
    parsed: dict = {}

    def run_parse():
        parsed["response"] = api.post("/v1/jobs/parse", json={"JobHCL": big})
        order.append("parse")

    worker = threading.Thread(target=run_parse)
    worker.start()
    try:
        assert started.wait(30)
        r = http.get(f"{server.nomad_url}/v1/jobs", timeout=10)
        order.append("jobs")
        assert r.status_code == 200
    finally:
        release.set()
        worker.join(30)
    assert order == ["jobs", "parse"]
    assert parsed["response"].json()["Meta"]["key2999"] == "value 2999"


# --- property: whatever arrives, the answer is Nomad's ---------------------------------------------

ROUTES = NomadAPI(Cluster(ManualClock(), seed=1, bootstrap=False), changes=None).routes


def route_id(route) -> str:
    return f"{'/'.join(sorted(route.methods))} {route.pattern.pattern.strip('^$')}"


@pytest.fixture(scope="module")
def known(server, api, job) -> dict:
    """Real IDs and valid bodies to start mutations from."""
    deployment = api.get(f"/v1/job/{JOB}/deployment").json()
    alloc = api.get(f"/v1/job/{JOB}/allocations").json()[0]
    return {
        "job_id": [JOB],
        "dep_id": [deployment["ID"]],
        "alloc_id": [alloc["ID"]],
        "eval_id": [alloc["EvalID"]],
        "node_id": [alloc["NodeID"]],
        "name": ["default", "staging"],
        "bodies": {
            "register": {"Job": job, "EnforceIndex": False},
            "plan": {"Job": job, "Diff": True},
            "parse": {"JobHCL": HCL, "Canonicalize": True},
            "revert": {"JobID": JOB, "JobVersion": 0, "EnforcePriorVersion": 0},
            "stable": {"JobID": JOB, "JobVersion": 0, "Stable": True},
            "evaluate": {"JobID": JOB, "EvalOptions": {"ForceReschedule": False}},
            "deployment_action": {
                "DeploymentID": deployment["ID"],
                "All": True,
                "Groups": [JOB],
                "Pause": False,
                "HealthyAllocationIDs": [alloc["ID"]],
                "UnhealthyAllocationIDs": [],
            },
        },
    }


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([2**63, 2**64, -(2**63) - 1, 10**40, 1.5, -1, 0, 127, 128, 255, 256, "5s", "aGk=", ""]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
deep_values = st.integers(1, 300).map(lambda depth: json.loads("[" * depth + "]" * depth))


def paths(value, prefix=()):
    """Every place in a JSON value that a mutation can replace."""
    yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        yield from paths(inner, prefix + (key,))


@st.composite
def mutated(draw, body):
    body = json.loads(json.dumps(body))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(list(paths(body))))
        if not where:
            return draw(json_values)
        *parents, last = where
        holder = body
        for key in parents:
            holder = holder[key]
        action = draw(st.sampled_from(["replace", "replace", "deep", "null", "delete", "case"]))
        if action == "delete":
            del holder[last]
        elif action == "case" and isinstance(last, str):
            holder[last.swapcase()] = holder.pop(last)
        else:
            holder[last] = {"replace": draw(json_values), "deep": draw(deep_values), "null": None}.get(action)
    return body


def typed(typ, depth=0):
    """Values Go accepts for `typ`, extremes included: they reach the code behind the decoder."""
    if isinstance(typ, gojson.Ptr):
        return st.one_of(st.none(), typed(typ.elem, depth))
    if isinstance(typ, gojson.Struct):
        fields = list(typ.resolved.items())[:12] if depth < 3 else []
        return st.fixed_dictionaries({}, optional={name: typed(t, depth + 1) for name, (_, t) in fields})
    if isinstance(typ, gojson.Slice):
        return st.lists(typed(typ.elem, depth + 1), max_size=3 if depth < 3 else 0)
    if isinstance(typ, gojson.Map):
        return st.dictionaries(st.text(max_size=8), typed(typ.elem, depth + 1), max_size=3)
    if typ.kind in ("int", "uint"):
        low, high = (0, 2**typ.bits - 1) if typ.kind == "uint" else (-(2 ** (typ.bits - 1)), 2 ** (typ.bits - 1) - 1)
        return st.one_of(st.integers(low, high), st.sampled_from([low, high, 0, 1, 3]), st.integers(max(low, -5), 5))
    return {
        "string": st.text(max_size=12),
        "bool": st.booleans(),
        "any": json_values,
        "bytes": st.sampled_from(["", "aGk="]),
    }[typ.kind]


def places(value, typ, path=()):
    """(path, type) of every field set in a decoded-shape `value`, and of the structs in it."""
    typ = typ.elem if isinstance(typ, gojson.Ptr) else typ
    if isinstance(typ, gojson.Struct) and isinstance(value, dict):
        yield path, typ
        for name, (_, inner) in typ.resolved.items():
            if name in value:
                yield path + (name,), inner
                yield from places(value[name], inner, path + (name,))
    elif isinstance(typ, (gojson.Slice, gojson.Map)) and isinstance(value, (list, dict)):
        for key, item in value.items() if isinstance(value, dict) else enumerate(value):
            yield from places(item, typ.elem, path + (key,))


@st.composite
def well_typed(draw, body, typ):
    """`body` with one field, present or not, set to a value of its Go type."""
    body = json.loads(json.dumps(body))
    where, inner = draw(st.sampled_from(list(places(body, typ))))
    holder = body
    for key in where[:-1] if not isinstance(inner, gojson.Struct) else where:
        holder = holder[key]
    if isinstance(inner, gojson.Struct):
        name = draw(st.sampled_from(list(inner.resolved)))
        holder[name] = draw(typed(inner.resolved[name][1]))
    elif where:
        holder[where[-1]] = draw(typed(inner))
    return body


REQUEST_TYPES = {
    "register": api_types.JOB_REGISTER_REQUEST,
    "plan": api_types.JOB_PLAN_REQUEST,
    "parse": api_types.JOBS_PARSE_REQUEST,
    "revert": api_types.JOB_REVERT_REQUEST,
    "stable": api_types.JOB_STABILITY_REQUEST,
    "evaluate": api_types.JOB_EVALUATE_REQUEST,
    "deployment_action": api_types.DEPLOYMENT_REQUESTS["promote"],
}


def body_strategy(route, bodies):
    name = route.handler.__name__
    valid = bodies.get(name)
    variants = (
        [mutated(valid), mutated(valid), well_typed(valid, REQUEST_TYPES[name]), well_typed(valid, REQUEST_TYPES[name])]
        if valid
        else []
    )
    encoded = st.one_of(json_values, *variants).map(lambda v: json.dumps(v).encode())
    return st.one_of(encoded, st.binary(max_size=40), st.integers(1, 12000).map(lambda d: b"[" * d))


QUERY_KEYS = [
    "index",
    "wait",
    "diff_version",
    "diffs",
    "diff_tag",
    "namespace",
    "topic",
    "prefix",
    "stale",
    "per_page",
    "meta",
    "all",
    "purge",
    "global",
    "eval_priority",
    "no_shutdown_delay",
    "version",
    "os",
    "resources",
    "task_states",
    "reverse",
    "region",
    "pretty",
]
query_values = st.one_of(
    st.text(max_size=15),
    st.sampled_from(
        [
            "",
            "abc",
            "-1",
            "0",
            "1",
            "2",
            "99",
            "1e3",
            "18446744073709551616",
            "5s",
            "-5s",
            "1.5h",
            "true",
            "false",
            "T",
            "*",
            "default",
            "staging",
            "prod",
            "Job",
            "Job:*",
            "a:b:c",
            "global",
            "eu",
            "1ms",
        ]
    ),
)


def safe_params(params: dict[str, str]) -> dict[str, str]:
    """A valid positive index would block for `wait` (300s by default): keep it short."""
    index = params.get("index", "")
    try:
        jobspec.parse_duration(params.get("wait") or "1ms")
    except ValueError:
        return params  # refused as "Invalid wait time" before any blocking
    blocking = index.isascii() and index.isdigit() and int(index) > 0
    return {**params, "wait": "1ms"} if blocking else params


@st.composite
def requests(draw, route, known):
    values = {}
    for group in route.pattern.groupindex:
        alternatives = re.search(rf"\(\?P<{group}>([\w|-]+)\)", route.pattern.pattern)
        choices = alternatives.group(1).split("|") if alternatives else known.get(group, []) + ["nope"]
        values[group] = draw(st.one_of(st.sampled_from(choices), st.text(min_size=1, max_size=10)))
    path = re.sub(
        r"\(\?P<(\w+)>[^)]*\)", lambda m: quote(values[m.group(1)], safe=""), route.pattern.pattern.strip("^$")
    )
    method = draw(st.sampled_from(sorted(route.methods)))
    params = safe_params(draw(st.dictionaries(st.sampled_from(QUERY_KEYS), query_values, max_size=4)))
    body = draw(body_strategy(route, known["bodies"])) if method in ("PUT", "POST") else None
    return method, path, params, body


class Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.mark.parametrize("route", ROUTES, ids=route_id)
def test_every_route_answers_as_nomad_does(server, api, known, route):
    errors = Errors()
    logging.getLogger("uvicorn.error").addHandler(errors)

    @settings(max_examples=30, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(requests(route, known))
    def check(request):
        method, path, params, body = request
        with api.stream(method, path, params=params, content=body) as r:
            endless = r.status_code == 200 and route.handler.__name__ == "event_stream"
            text = "" if endless else r.read().decode()
        assert r.status_code in (200, 400, 404, 405, 500), (r.status_code, text)
        assert text != "Internal Server Error", request
        assert not errors.records, request

    try:
        check()
    finally:
        logging.getLogger("uvicorn.error").removeHandler(errors)
    assert api.get("/v1/status/leader").status_code == 200
    server.advance(0)  # what the writes queued runs here, where an exception would surface
    assert not any(task.done() for task in server._tasks), "the demo's driver or a listener died"
