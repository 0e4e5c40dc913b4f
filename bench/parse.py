"""How long the demo cluster takes to parse a big jobspec, and how it answers meanwhile.

    python bench/parse.py

Prints the time of jobspec.parse_hcl for a job with 1,000, 8,000 and 32,000 keys in one meta
block, in this process: the best and the median of 3 parses (and their CPU times: other
processes on the machine inflate the first, less the second); then, over real HTTP against a
demo server, the time of a
POST /v1/jobs/parse of an 8,000-key and a 64,000-key job, and the latency of the
GET /v1/status/leader requests that another thread sends every 20 ms while each parse runs
(a request that takes longer than 20 ms delays the next one).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter

import httpx

from nomadtui.demo import jobspec
from nomadtui.demo.cluster import SEED_JOB_FILE
from nomadtui.demo.server import DemoServer

JOB_HEADER = 'job "httpsbackend-sni-1" {'


def job_with_meta(keys: int) -> str:
    meta = "\n".join(f'    k{i} = "v{i}"' for i in range(keys))
    return SEED_JOB_FILE.read_text().replace(JOB_HEADER, f"{JOB_HEADER}\n  meta {{\n{meta}\n  }}\n", 1)


def in_process(keys: int, runs: int = 3) -> None:
    text = job_with_meta(keys)
    elapsed, cpu = [], []
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        job = jobspec.parse_hcl(text)
        elapsed.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
        assert len(job["Meta"]) == keys
    best, median = min(elapsed), statistics.median(elapsed)
    print(
        f"parse_hcl, {keys:>6,} meta keys: {best:6.2f} s best, {median:.2f} s median of {runs}, "
        f"{best / keys * 1e6:.0f} us a key (CPU {min(cpu):.2f} s best, {statistics.median(cpu):.2f} s median)"
    )


class LeaderPoller(threading.Thread):
    """GET /v1/status/leader every 20 ms until stopped, timing each answer."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.latencies: list[float] = []
        self.statuses: Counter[int | str] = Counter()
        self.stopping = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=600) as http:
            tick = time.perf_counter()
            while not self.stopping.is_set():
                started = time.perf_counter()
                try:
                    self.statuses[http.get("/v1/status/leader").status_code] += 1
                except httpx.HTTPError as e:
                    self.statuses[type(e).__name__] += 1
                self.latencies.append((time.perf_counter() - started) * 1000)
                tick = max(tick + 0.02, time.perf_counter())
                self.stopping.wait(tick - time.perf_counter())


def over_http(server: DemoServer, keys: int) -> None:
    body = {"JobHCL": job_with_meta(keys), "Canonicalize": False}
    poller = LeaderPoller(server.nomad_url)
    with httpx.Client(base_url=server.nomad_url, timeout=600) as http:
        poller.start()
        started = time.perf_counter()
        response = http.post("/v1/jobs/parse", json=body)
        elapsed = time.perf_counter() - started
    poller.stopping.set()
    poller.join()
    print(f"POST /v1/jobs/parse, {keys:>6,} meta keys: {elapsed:6.2f} s, HTTP {response.status_code}")
    latencies = poller.latencies
    statuses = ", ".join(f"{status}: {n}" for status, n in sorted(poller.statuses.items(), key=str))
    print(
        f"  GET /v1/status/leader meanwhile: {len(latencies)} requests ({statuses}), "
        f"median {statistics.median(latencies):.1f} ms, max {max(latencies):.1f} ms"
    )


def main() -> None:
    jobspec.parse_hcl(SEED_JOB_FILE.read_text())  # builds the parser once, as the demo does on start
    for keys in (1_000, 8_000, 32_000):
        in_process(keys)
    server = DemoServer(speed=10, seed=1).start()
    try:
        for keys in (8_000, 64_000):
            over_http(server, keys)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
