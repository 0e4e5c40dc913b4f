"""How live and how light the client layer is, against the demo cluster over real HTTP.

    python bench/watch.py [--changes 50] [--idle-seconds 60]

Prints the latency from a change in the cluster to the watcher's subscriber seeing it, and the
number of requests the watches send per minute while nothing changes.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx

from nomadtui.demo.server import DemoServer
from nomadtui.nomad.live import LiveCluster
from nomadtui.settings import Settings

JOB = "httpsbackend-sni-1"


async def main(changes: int, idle_seconds: float) -> None:
    server = DemoServer(speed=10, seed=1).start()
    cluster = LiveCluster(Settings(address=server.nomad_url, fabio_address=server.fabio_url), wait=30)
    seen: dict[str, float] = {}

    def note(state, what) -> None:
        seen.setdefault(what, time.perf_counter())

    cluster.subscribe(note)
    cluster.start()
    cluster.focus("default", JOB)
    while cluster.state.job is None or not cluster.state.versions:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.5)

    latencies = []
    async with httpx.AsyncClient(base_url=server.nomad_url) as http:
        for i in range(changes):
            seen.clear()
            started = time.perf_counter()
            # A write the job's watch must see: flip the stability flag of version 0.
            await http.put(f"/v1/job/{JOB}/stable", json={"JobID": JOB, "JobVersion": 0, "Stable": i % 2 == 1})
            while "job" not in seen:
                await asyncio.sleep(0.0005)
            latencies.append((seen["job"] - started) * 1000)
            await asyncio.sleep(0.05)
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    print(
        f"change -> subscriber ({changes} writes, wait=30s): median {statistics.median(latencies):.1f} ms, "
        f"p95 {p95:.1f} ms, max {latencies[-1]:.1f} ms"
    )

    await asyncio.sleep(1)
    before = {name: w.requests for name, w in cluster.watches.items()}
    await asyncio.sleep(idle_seconds)
    sent = {name: w.requests - before[name] for name, w in cluster.watches.items()}
    per_minute = {name: n * 60 / idle_seconds for name, n in sent.items()}
    nomad = sum(v for k, v in per_minute.items() if k != "fabio")
    print(
        f"idle for {idle_seconds:g}s: {nomad:.1f} Nomad requests/min over {len(per_minute) - 1} watches "
        f"(wait=30s), Fabio {per_minute.get('fabio', 0):.1f}/min"
    )
    print("  per watch:", ", ".join(f"{k} {v:.1f}" for k, v in sorted(per_minute.items())))
    await cluster.close()
    server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    args = parser.parse_args()
    asyncio.run(main(args.changes, args.idle_seconds))
