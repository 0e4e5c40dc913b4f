"""The demo cluster at scale: how long `--extra-jobs N` takes, what it holds in memory, and what
requests cost with 10 and with 50,000 extra jobs.

    python bench/demo_scale.py [--make 10000,50000] [--compare 10,50000] [--samples 200]

Part one makes Cluster(extra_jobs=N) (registered, evaluated, deployed, allocations running) in a
child process per N: the time it takes and the process's resident memory after.

Part two runs `nomadtui demo-server --extra-jobs N` as a child process for each N of --compare
(the time until it answers, its resident memory) and times requests against it from here: a job
read, /v1/status/leader, a page of /v1/jobs from the middle (a next_token, per_page 5 and 100), a
blocking query on a job answered by a change to it, the event stream's first line and an event's
arrival, a job registered over HTTP until its evaluation completes, and the whole /v1/jobs list
(linear in the number of jobs by nature). Each: median and 95th percentile.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from nomadtui.demo.cluster import EXTRA_JOB_HCL  # the extra jobs' own file: one small job

ROOT = Path(__file__).resolve().parents[1]
JOB = "service-00005"


def rss_mb(pid: str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def make(n: int) -> None:
    """Child process: make the cluster, print what it cost as JSON."""
    sys.path.insert(0, str(ROOT))
    from nomadtui.demo.clock import Clock
    from nomadtui.demo.cluster import Cluster

    before = rss_mb()
    started = time.perf_counter()
    cluster = Cluster(Clock(10), seed=1, extra_jobs=n)
    seconds = time.perf_counter() - started
    allocs = cluster.store.allocs.values()
    running = sum(1 for a in allocs if a["ClientStatus"] == "running" and a["JobID"].startswith("service-"))
    print(json.dumps({"seconds": seconds, "rss": rss_mb(), "rss_before": before, "running": running}))


def stats(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"{statistics.median(ms):7.2f} / {p95:7.2f}"


class Server:
    def __init__(self, n: int) -> None:
        self.n = n
        started = time.perf_counter()
        args = ["--port", "0", "--fabio-port", "0", "--lb-port", "0", "--seed", "1", "--extra-jobs", str(n)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nomadtui", "demo-server", *args], stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        assert self.proc.stdout is not None
        self.urls = dict(self.proc.stdout.readline().split() for _ in range(3))
        self.ready = time.perf_counter() - started
        self.rss = rss_mb(str(self.proc.pid))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


async def timed(samples: int, fn) -> list[float]:
    out = []
    for _ in range(samples):
        started = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - started)
    return out


async def measure(server: Server, samples: int) -> dict[str, list[float]]:
    url = server.urls["nomad"]
    mid = f"default.service-{max(1, server.n // 2):05d}"
    results: dict[str, list[float]] = {}
    async with httpx.AsyncClient(base_url=url, timeout=60) as api:
        for _ in range(50):  # warm up: the connection, the server's caches, the pages of a new process
            await api.get(f"/v1/job/{JOB}")
            await api.get("/v1/jobs", params={"per_page": 100, "next_token": mid})
        results["GET /v1/job/:id"] = await timed(samples, lambda: api.get(f"/v1/job/{JOB}"))
        results["GET /v1/status/leader"] = await timed(samples, lambda: api.get("/v1/status/leader"))
        page: dict[str, str | int] = {"per_page": 5, "next_token": mid}
        results["GET /v1/jobs page (per_page=5)"] = await timed(samples, lambda: api.get("/v1/jobs", params=page))
        page100: dict[str, str | int] = {"per_page": 100, "next_token": mid}
        results["GET /v1/jobs page (per_page=100)"] = await timed(samples, lambda: api.get("/v1/jobs", params=page100))
        results["blocking query on a job, to its change"] = await blocking(api, samples // 4)
        first, delivered = await event_stream(api, url, samples // 4)
        results["event stream: first line"] = first
        results["event stream: write -> its event"] = delivered
        results["register a job -> evaluated"] = await register(api, samples // 4)
        results["GET /v1/jobs, all of them"] = await timed(5, lambda: api.get("/v1/jobs"))
    return results


async def blocking(api: httpx.AsyncClient, samples: int) -> list[float]:
    out = []
    for k in range(samples):
        index = int((await api.get(f"/v1/job/{JOB}")).headers["X-Nomad-Index"])
        parked = asyncio.create_task(api.get(f"/v1/job/{JOB}", params={"index": index, "wait": "30s"}))
        await asyncio.sleep(0.02)
        started = time.perf_counter()
        body = {"JobID": JOB, "JobVersion": 0, "Stable": k % 2 == 1}
        await api.post(f"/v1/job/{JOB}/stable", json=body)
        answer = await parked
        out.append(time.perf_counter() - started)
        assert int(answer.headers["X-Nomad-Index"]) > index
    return out


async def event_stream(api: httpx.AsyncClient, url: str, samples: int) -> tuple[list[float], list[float]]:
    first: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for _ in range(samples):
            started = time.perf_counter()
            async with client.stream("GET", "/v1/event/stream", params={"topic": f"Job:{JOB}"}) as r:
                async for _ in r.aiter_lines():
                    first.append(time.perf_counter() - started)
                    break
    delivered: list[float] = []
    params: dict[str, str | int] = {"topic": f"Evaluation:{JOB}", "index": 10**12}  # from the newest write on
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        async with client.stream("GET", "/v1/event/stream", params=params) as r:
            lines = r.aiter_lines()
            await anext(lines)  # {}
            pending = 0
            for _ in range(samples + 1):
                started = time.perf_counter()
                eval_id = (await api.post(f"/v1/job/{JOB}/evaluate")).json()["EvalID"]
                while True:
                    frame = json.loads(await anext(lines))
                    if any(e["Key"] == eval_id for e in frame.get("Events", [])):
                        break
                if pending:  # the first one may be the newest write replayed
                    delivered.append(time.perf_counter() - started)
                pending += 1
    return first, delivered


async def register(api: httpx.AsyncClient, samples: int) -> list[float]:
    out = []
    for k in range(samples):
        job = (await api.post("/v1/jobs/parse", json={"JobHCL": EXTRA_JOB_HCL % f"bench-{k:04d}"})).json()
        started = time.perf_counter()
        answer = (await api.post("/v1/jobs", json={"Job": job})).json()
        index = answer["EvalCreateIndex"]
        while True:
            r = await api.get(f"/v1/evaluation/{answer['EvalID']}", params={"index": index, "wait": "10s"})
            if r.json()["Status"] == "complete":
                break
            index = int(r.headers["X-Nomad-Index"])
        out.append(time.perf_counter() - started)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--make", default="10000,50000", help="extra jobs to make, comma-separated")
    p.add_argument("--compare", default="10,50000", help="extra jobs of the servers whose requests are timed")
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--child-make", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child_make is not None:
        make(args.child_make)
        return 0
    print("making the extra jobs (Cluster(extra_jobs=N), a fresh process each):")
    for n in (int(x) for x in args.make.split(",") if x):
        out = subprocess.run(
            [sys.executable, __file__, "--child-make", str(n)], capture_output=True, text=True, check=True
        )
        r = json.loads(out.stdout)
        print(
            f"  {n:>6} extra jobs: {r['seconds']:5.1f} s to make ({r['running']} allocations running); "
            f"resident memory {r['rss']:.0f} MB ({r['rss'] - r['rss_before']:.0f} MB of it the cluster)"
        )
    sizes = [int(x) for x in args.compare.split(",") if x]
    results = {}
    for n in sizes:
        server = Server(n)
        try:
            print(f"demo-server --extra-jobs {n}: answers after {server.ready:.1f} s, RSS {server.rss:.0f} MB")
            results[n] = asyncio.run(measure(server, args.samples))
        finally:
            server.stop()
    print()
    print(f"{'request (ms, median / p95)':42}" + "".join(f"{f'{n:,} extra jobs':>22}" for n in sizes))
    for name in results[sizes[0]]:
        print(f"{name:42}" + "".join(f"{stats(results[n][name]):>22}" for n in sizes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
