"""How live the screen is, and what it costs Nomad: the TUI in a real pseudo-terminal, against the
demo cluster behind a counting proxy.

    python bench/live.py [--changes 30] [--idle-seconds 60] [--outage-seconds 20] [--extra-jobs N]

Prints:
- change -> screen: a job registered while changes are already flowing (one every 0.3-0.7 s, as
  in a rollout), from the register's answer to its name in the bytes written to the terminal;
  and the bytes Nomad sent for each change (every answer's body, the event stream's included);
- Nomad requests a minute while idle, counted at the proxy (every request: lists, targeted
  reads, stream subscriptions, probes), by path;
- an outage of the Nomad address: after it returns, how long until the screen says live again.
"""

from __future__ import annotations

import argparse
import collections
import random
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.storm import StormProxy
from bench.tui import Terminal, percentile
from nomadtui.demo.cluster import JOBS_DIR
from nomadtui.demo.server import DemoServer
from tests.conftest import ScriptedServer

LIVE = "● live".encode()


class CountingProxy(StormProxy):
    """Passes every request through to Nomad, counting them, and the bytes of their answers'
    bodies, by path."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.counts: collections.Counter[str] = collections.Counter()
        self.bytes: collections.Counter[str] = collections.Counter()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        self.counts[path] += 1

        async def counted(message) -> None:
            if message["type"] == "http.response.body":
                self.bytes[path] += len(message.get("body", b""))
            await send(message)

        await super().__call__(scope, receive, counted)


def small_job(job_id: str) -> dict:
    return {
        "ID": job_id,
        "Name": job_id,
        "Type": "service",
        "Datacenters": ["dc1"],
        "TaskGroups": [
            {
                "Name": "app",
                "Count": 0,
                "Tasks": [{"Name": "app", "Driver": "docker", "Config": {"image": "example/app:1.0"}}],
            }
        ],
    }


def main(changes: int, idle_seconds: float, outage_seconds: float, extra_jobs: int) -> None:
    demo = DemoServer(speed=10, seed=1, extra_jobs=extra_jobs).start()
    counting = CountingProxy(demo.nomad_url)
    proxy = ScriptedServer(counting).__enter__()
    port = int(proxy.url.rsplit(":", 1)[1])
    term = Terminal(
        [sys.executable, "-m", "nomadtui", "--addr", proxy.url, "--fabio-addr", demo.fabio_url]
        + ["--jobs-dir", str(JOBS_DIR)]
    )
    term.wait_for(b"mysite-sni-1.com/")
    term.quiet(1.5)
    api = httpx.Client(base_url=demo.nomad_url)

    # 1. change -> screen while changes flow 0.3-0.7 s apart.
    rng = random.Random(1)
    counting.bytes.clear()
    answered: dict[str, float] = {}
    for i in range(changes):
        time.sleep(rng.uniform(0.3, 0.7))
        name = f"a-bench-{i:03d}"
        api.post("/v1/jobs", json={"Job": small_job(name)}).raise_for_status()
        answered[name] = time.monotonic()
    latencies = []
    for name, at in answered.items():
        shown = term.wait_for(name.encode(), timeout=10)
        latencies.append((shown - at) * 1000)
    term.quiet(1.0)
    received = sum(counting.bytes.values())
    biggest = ", ".join(f"{path} {n / 1024:.0f} KB" for path, n in counting.bytes.most_common(3))
    print(
        f"change -> screen ({changes} jobs registered 0.3-0.7 s apart, {extra_jobs} extra jobs, 120x40): "
        f"median {statistics.median(latencies):.0f} ms, p95 {percentile(latencies, 0.95):.0f} ms, "
        f"max {max(latencies):.0f} ms; bytes from Nomad per change {received / changes / 1024:.1f} KB ({biggest})"
    )

    # 2. Idle: what the watches ask of Nomad.
    term.quiet(2.0)
    time.sleep(3)
    counting.counts.clear()
    time.sleep(idle_seconds)
    total = sum(counting.counts.values())
    by_path = ", ".join(f"{path} {n}" for path, n in counting.counts.most_common())
    print(
        f"idle for {idle_seconds:g}s: {total * 60 / idle_seconds:.1f} Nomad requests/min ({by_path or 'none'}); "
        "the event stream stays open meanwhile"
    )

    # 3. An outage of the Nomad address, then the server back.
    proxy.__exit__(None, None, None)
    time.sleep(outage_seconds)
    back = time.monotonic()
    proxy = ScriptedServer(counting, port=port).__enter__()
    live_again = term.wait_for_after(LIVE, back, timeout=60)
    print(f"outage of {outage_seconds:g}s: live again {(live_again - back) * 1000:.0f} ms after the server returned")

    term.send("q")
    term.proc.wait(10)
    proxy.__exit__(None, None, None)
    demo.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=30)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--outage-seconds", type=float, default=20.0)
    parser.add_argument("--extra-jobs", type=int, default=0, help="small service jobs besides the article's")
    args = parser.parse_args()
    main(args.changes, args.idle_seconds, args.outage_seconds, args.extra_jobs)
