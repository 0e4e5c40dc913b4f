"""Pages of the demo's list endpoints as Nomad serves them: `per_page` and `next_token`, the
`X-Nomad-NextToken` header, Nomad's order and tokens (nomad/state/paginator/), its errors.

The expected pages come from `reference_page`, a plain transcription of paginator.go that walks
the whole list; the demo finds a page's start by bisection, and must agree with it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from nomadtui.demo.clock import ManualClock
from nomadtui.demo.cluster import JOBS_DIR, Cluster
from nomadtui.demo.server import DemoServer
from tests.helpers import http

EXTRA = 25


@pytest.fixture(scope="module")
def server() -> Iterator[DemoServer]:
    """The article's job and 25 extra jobs in `default`, two jobs in `staging`."""
    demo = DemoServer(Cluster(ManualClock(), seed=11, extra_jobs=EXTRA), seed=11).start()
    hcl = (JOBS_DIR / "httpsbackend-tcp-sni-1.nomad").read_text()
    job = http.post(f"{demo.nomad_url}/v1/jobs/parse", json={"JobHCL": hcl}).json()
    for job_id in ("aaa-staging", "service-00003"):  # one sorts first, one shares an id with default
        body = {"Job": dict(job, ID=job_id, Name=job_id)}
        http.post(f"{demo.nomad_url}/v1/jobs", params={"namespace": "staging"}, json=body).raise_for_status()
    demo.advance(60)
    try:
        yield demo
    finally:
        demo.stop()


@pytest.fixture
def api(server: DemoServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.nomad_url, timeout=10) as client:
        yield client


def reference_page(
    items: list[dict], token_of: Callable[[dict], str], compare: Callable[[dict, str], int], params: dict
) -> tuple[list[str], str]:
    """Paginator.Page over the whole list, as paginator.go writes it."""
    per_page, target, reverse = int(params.get("per_page", 0)), params.get("next_token", ""), params.get("reverse")
    found, out = target == "", []
    for item in reversed(items) if reverse == "true" else items:
        compared = compare(item, target)
        if not found and compared == (1 if reverse == "true" else -1):
            continue
        found = True
        if per_page != 0 and len(out) + 1 > per_page:
            return out, token_of(item)
        out.append(item["ID"])
    return out, ""


def cmp(a, b) -> int:
    return (a > b) - (a < b)


def job_token(job: dict) -> str:
    return f"{job['Namespace']}.{job['ID']}"


def create_token(obj: dict) -> str:
    return f"{obj['CreateIndex']}.{obj['ID']}"


def create_compare(obj: dict, target: str) -> int:
    """CreateIndexAndIDTokenizer's comparison."""
    index, dot, rest = target.partition(".")
    try:
        wanted = int(index) % 2**64 if dot else None
    except ValueError:
        wanted = None
    if wanted is None:
        return cmp(create_token(obj), target)
    return cmp(obj["CreateIndex"], wanted) or cmp(obj["ID"], rest)


def walk(api: httpx.Client, path: str, params: dict) -> list[list[str]]:
    """Every page, following X-Nomad-NextToken."""
    pages, token = [], ""
    while True:
        r = api.get(path, params=dict(params, next_token=token) if token else params)
        assert r.status_code == 200, r.text
        pages.append([o["ID"] for o in r.json()])
        token = r.headers.get("X-Nomad-NextToken", "")
        if not token:
            return pages
        assert len(pages) < 100


def test_job_pages_cover_every_job_once_in_nomads_order(api):
    everything = api.get("/v1/jobs", params={"namespace": "*"}).json()
    keys = [(j["Namespace"], j["ID"]) for j in everything]
    assert keys == sorted(keys) and len(keys) == 1 + EXTRA + 2  # memdb's id index: namespace, then ID
    assert keys[:2] == [("default", "httpsbackend-sni-1"), ("default", "service-00001")]
    for per_page in (1, 4, 7, 28, 100):
        pages = walk(api, "/v1/jobs", {"namespace": "*", "per_page": per_page})
        assert [job_id for page in pages for job_id in page] == [j["ID"] for j in everything]
        assert all(len(page) == per_page for page in pages[:-1]) and 0 < len(pages[-1]) <= per_page
    backwards = walk(api, "/v1/jobs", {"namespace": "*", "per_page": 6, "reverse": "true"})
    assert [job_id for page in backwards for job_id in page] == [j["ID"] for j in reversed(everything)]


def test_tokens_name_namespace_and_job(api):
    first = api.get("/v1/jobs", params={"namespace": "*", "per_page": 25})
    assert first.headers["X-Nomad-NextToken"] == "default.service-00025"
    second = api.get("/v1/jobs", params={"namespace": "*", "per_page": 2, "next_token": "default.service-00025"})
    assert [j["ID"] for j in second.json()] == ["service-00025", "aaa-staging"]
    assert second.headers["X-Nomad-NextToken"] == "staging.service-00003"
    # The same token in one namespace; and a token naming no job starts at the next one.
    one = api.get("/v1/jobs", params={"per_page": 2, "next_token": "default.service-00025"})
    assert [j["ID"] for j in one.json()] == ["service-00025"] and "X-Nomad-NextToken" not in one.headers
    between = api.get("/v1/jobs", params={"per_page": 1, "next_token": "default.service-000105"})
    assert [j["ID"] for j in between.json()] == ["service-00011"]
    assert between.headers["X-Nomad-NextToken"] == "default.service-00012"
    # Exactly per_page left: no token (the paginator found no next object).
    last = api.get("/v1/jobs", params={"per_page": 2, "next_token": "default.service-00024"})
    assert len(last.json()) == 2 and "X-Nomad-NextToken" not in last.headers


@pytest.mark.parametrize(
    "params",
    [
        {"per_page": 3},
        {"per_page": 3, "next_token": "default.service-00007"},
        {"per_page": 3, "next_token": "default.service-00007", "reverse": "true"},
        {"per_page": 5, "next_token": "staging"},
        {"per_page": 5, "next_token": "default", "reverse": "true"},
        {"per_page": 2, "next_token": "zzz"},
        {"per_page": 2, "next_token": "zzz", "reverse": "true"},
        {"per_page": 2, "next_token": ""},
        {"per_page": -1},
        {"per_page": 0, "next_token": "default.service-00020"},
        {"per_page": 4, "prefix": "service-0001", "next_token": "default.service-00013"},
        {"per_page": 4, "prefix": "service-0001", "next_token": "default.service-00013", "reverse": "true"},
        # A prefix over all namespaces walks forwards whatever `reverse` says; the token still
        # compares the other way round (jobsByIDPrefixAllNamespaces).
        {"per_page": 3, "prefix": "service-0000", "namespace": "*", "reverse": "true"},
        {"per_page": 3, "prefix": "service", "namespace": "*", "next_token": "default.service-00008"},
        {"per_page": 3, "namespace": "*", "next_token": "default.zzz"},
        {"per_page": 3, "namespace": "*", "next_token": "staging.b", "reverse": "true"},
    ],
)
def test_job_pages_agree_with_nomads_paginator(api, params):
    namespace, prefix = params.get("namespace", "default"), params.get("prefix", "")
    everything = api.get("/v1/jobs", params={"namespace": "*"}).json()
    listed = [j for j in everything if namespace in ("*", j["Namespace"]) and j["ID"].startswith(prefix)]
    if prefix and namespace == "*" and params.get("reverse") == "true":
        listed = listed[::-1]  # so that reference_page's reversal walks it forwards
    expected = reference_page(listed, job_token, lambda j, t: cmp(job_token(j), t), params)
    r = api.get("/v1/jobs", params=params)
    assert ([j["ID"] for j in r.json()], r.headers.get("X-Nomad-NextToken", "")) == expected


def test_bad_pagination_values_get_nomads_answers(api):
    for value in ("ten", "1.5", "2147483648", "-2147483649", " 3"):
        r = api.get("/v1/jobs", params={"per_page": value})
        assert (r.status_code, r.text) == (400, "Expect a number for `per_page` query string parameter")
        assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    # Within int32 and signed: a negative page ends before its first job, which is the next token.
    r = api.get("/v1/jobs", params={"per_page": "-5"})
    assert (r.json(), r.headers["X-Nomad-NextToken"]) == ([], "default.httpsbackend-sni-1")
    assert api.get("/v1/jobs", params={"per_page": "+2"}).headers["X-Nomad-NextToken"] == "default.service-00002"
    # Any text is a token; `reverse` is on only for `true`.
    r = api.get("/v1/jobs", params={"next_token": "\u00e9\x01", "per_page": 1})
    assert r.status_code == 200 and r.json() == []
    assert api.get("/v1/jobs", params={"reverse": "True", "per_page": 1}).json()[0]["ID"] == "httpsbackend-sni-1"


def test_a_blocking_query_answers_a_page(server, api):
    r = api.get("/v1/jobs", params={"per_page": 2})
    index = int(r.headers["X-Nomad-Index"])
    result: dict = {}

    def wait() -> None:
        got = api.get("/v1/jobs", params={"per_page": 2, "index": index, "wait": "20s", "next_token": "default.s"})
        result.update(index=int(got.headers["X-Nomad-Index"]), ids=[j["ID"] for j in got.json()], token=got.headers)

    t = threading.Thread(target=wait)
    t.start()
    t.join(0.3)
    assert t.is_alive()  # parked
    hcl = (JOBS_DIR / "httpsbackend-tcp-sni-1.nomad").read_text()
    job = api.post("/v1/jobs/parse", json={"JobHCL": hcl}).json()
    api.post("/v1/jobs", json={"Job": dict(job, ID="service-00000", Name="service-00000")}).raise_for_status()
    t.join(5)
    assert result["index"] > index
    assert result["ids"] == ["service-00000", "service-00001"]
    assert result["token"]["X-Nomad-NextToken"] == "default.service-00002"
    api.delete("/v1/job/service-00000", params={"purge": "true"}).raise_for_status()
    server.advance(5)


@pytest.mark.parametrize("path", ["/v1/deployments", "/v1/allocations", "/v1/evaluations"])
def test_raft_ordered_lists_page_as_nomad_does(api, path):
    """Oldest first (CreateIndex, then ID), `<index>.<id>` tokens; with a prefix, by ID."""
    for namespace in ("default", "*"):
        everything = api.get(path, params={"namespace": namespace}).json()
        keys = [(o["CreateIndex"], o["ID"]) for o in everything]
        assert keys == sorted(keys) and len(keys) > 25
        pages = walk(api, path, {"namespace": namespace, "per_page": 9})
        assert [i for page in pages for i in page] == [o["ID"] for o in everything]
        middle = everything[len(everything) // 2]
        for params in (
            {"per_page": 4, "next_token": create_token(middle)},
            {"per_page": 4, "next_token": create_token(middle), "reverse": "true"},
            {"per_page": 4, "next_token": f"{middle['CreateIndex']}.zzz"},
            {"per_page": 4, "next_token": f"{middle['CreateIndex']}"},  # no dot: compared as text
            {"per_page": 4, "next_token": "abc.def"},
            {"per_page": 4, "next_token": f"+{middle['CreateIndex']}.", "reverse": "true"},
            {"per_page": 4, "next_token": "-1.x"},  # uint64(-1): after everything
        ):
            expected = reference_page(everything, create_token, create_compare, params)
            r = api.get(path, params=dict(params, namespace=namespace))
            assert ([o["ID"] for o in r.json()], r.headers.get("X-Nomad-NextToken", "")) == expected, params
    by_id = sorted((o for o in everything if o["ID"].startswith("a")), key=lambda o: o["ID"])
    if by_id:
        r = api.get(path, params={"prefix": "a", "per_page": 1, "namespace": "*"})
        assert [o["ID"] for o in r.json()] == [by_id[0]["ID"]]
        if len(by_id) > 1:
            assert r.headers["X-Nomad-NextToken"] == by_id[1]["ID"]
