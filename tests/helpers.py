"""Helpers the test modules share: waiting for a condition, registering a demo job file over
HTTP, and a fingerprint of everything a client could observe of the demo cluster."""

from __future__ import annotations

import asyncio
import time

import httpx
from starlette.responses import PlainTextResponse

from bench.storm import StormProxy
from nomadtui.demo.cluster import JOBS_DIR
from nomadtui.demo.server import DemoServer

# The tests' own requests share one client: httpx.get() builds a client, and with it an SSL
# context that loads the CA bundle, on every call, which was a fifth of the suite's CPU time.
# No keep-alive: each test has its own servers, on ports a later test may get again.
http = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))


async def until(predicate, timeout: float = 5.0) -> float:
    """Wait for predicate(); return how long it took."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)
    return time.monotonic() - started


def register(demo: DemoServer, filename: str) -> str:
    """`nomad job run` of a demo job file, then let the scheduler run; returns the job's ID."""
    hcl = (JOBS_DIR / filename).read_text()
    job = http.post(f"{demo.nomad_url}/v1/jobs/parse", json={"JobHCL": hcl}).json()
    http.post(f"{demo.nomad_url}/v1/jobs", json={"Job": job}).raise_for_status()
    demo.advance(0)
    return job["ID"]


def roll_out(demo: DemoServer, *filenames: str, limit: float = 900) -> None:
    """Run each job file and see its deployment through, promoting canaries once they are
    healthy (`nomad deployment promote`): a quick way to the state a test starts from."""
    for filename in filenames:
        job_id = register(demo, filename)
        waited = 0.0
        while True:
            d = http.get(f"{demo.nomad_url}/v1/job/{job_id}/deployment").json()
            if d["Status"] == "successful":
                break
            groups = d["TaskGroups"].values()
            if any(g["DesiredCanaries"] and not g["Promoted"] for g in groups) and all(
                g["HealthyAllocs"] >= g["DesiredCanaries"] for g in groups
            ):
                http.post(
                    f"{demo.nomad_url}/v1/deployment/promote/{d['ID']}", json={"DeploymentID": d["ID"], "All": True}
                ).raise_for_status()
            assert waited < limit, f"{filename}: no successful deployment after {limit}s: {d['StatusDescription']}"
            demo.advance(10)
            waited += 10


def fingerprint(demo: DemoServer) -> tuple:
    """Everything a client could observe of the cluster's state: a refused request keeps it."""
    store = demo.cluster.store
    return (
        store.index,
        len(store.allocs),
        len(store.evals),
        len(store.deployments),
        {k: v["Version"] for k, v in store.jobs.items()},
    )


class NoStreamProxy(StormProxy):
    """A proxy in front of the demo that refuses the event stream as a token without the
    capability would (403), and passes everything else through."""

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] == "/v1/event/stream":
            await PlainTextResponse("Permission denied", 403)(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
