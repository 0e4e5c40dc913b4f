"""A storm of bad answers from something in front of Nomad: what the client says, and what it costs.

    python bench/storm.py [--seconds 12] [--mb 50]

The demo cluster runs in a child process behind a proxy that, on command, answers every request
with JSON of the wrong shape, then with `--mb` megabytes of JSON. The client (every watch of a
LiveCluster focused on the article's job) runs here. Prints: whether the state said live at any
moment of the storm after its first failure, whether every watch survived, how long a job
registered after the storm takes to appear, and this process's resident memory before, at the
peak of and after the storm of large answers.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import multiprocessing
import threading
import time
from pathlib import Path

import httpx
from starlette.responses import Response

from nomadtui.nomad.live import LiveCluster
from nomadtui.settings import Settings

JOB = "httpsbackend-sni-1"


class StormProxy:
    """An ASGI proxy in front of a Nomad API that, while `storming`, answers every request with
    JSON of the wrong shape (or, with `large`, a list of that many bytes), as a broken proxy or a
    hostile middlebox would. `POST /__storm?mode=shape|large&bytes=N|off` switches it."""

    SHAPES = (b'[1,"two",null]', b'"a string"', b"[" * 200_000 + b"]" * 200_000, b"{}", b"null", b"[{}, 7]")

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.storming = False
        self.large = 0
        self.answers = 0
        self.delays: dict[str, float] = {}       # path -> seconds to hold a request before forwarding
        self._shapes = itertools.cycle(self.SHAPES)
        self._large_body = b""

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        body = await _body(receive)
        if scope["path"] == "/__storm":
            query = dict(part.split("=", 1) for part in scope["query_string"].decode().split("&") if "=" in part)
            self.storming, self.large = query.get("mode") != "off", int(query.get("bytes", "0"))
            await Response(b"ok")(scope, receive, send)
            return
        if self.storming:
            self.answers += 1
            await Response(self._storm_body(), 200, headers={"X-Nomad-Index": "999999"},
                           media_type="application/json")(scope, receive, send)
            return
        await asyncio.sleep(self.delays.get(scope["path"], 0))
        query = scope["query_string"].decode()
        url = self.upstream + scope["raw_path"].decode() + (f"?{query}" if query else "")
        async with httpx.AsyncClient(timeout=None) as client:
            resp = await client.request(scope["method"], url, content=body)
        headers = {k: v for k, v in resp.headers.items() if k.lower() in ("x-nomad-index", "content-type")}
        await Response(resp.content, resp.status_code, headers=headers)(scope, receive, send)

    def _storm_body(self) -> bytes:
        if not self.large:
            return next(self._shapes)
        if len(self._large_body) != self.large:
            item = b'{"ID":"x","Name":"x","Status":"running"},'
            self._large_body = b"[" + item * (self.large // len(item)) + b"{}]"
        return self._large_body


async def _body(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def serve(ready) -> None:
    """The child process: the demo cluster and the proxy in front of its Nomad API."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from nomadtui.demo.server import DemoServer
    from tests.conftest import ScriptedServer

    demo = DemoServer(speed=10, seed=1).start()
    proxy = ScriptedServer(StormProxy(demo.nomad_url)).__enter__()
    ready.send((demo.nomad_url, proxy.url))
    threading.Event().wait()


async def main(seconds: float, megabytes: int) -> None:
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, args=(child,), daemon=True)
    server.start()
    nomad_url, proxy_url = parent.recv()
    control = httpx.AsyncClient(base_url=proxy_url)
    cluster = LiveCluster(Settings(address=proxy_url), wait=2)
    cluster.start()
    cluster.focus("default", JOB)
    while not (cluster.state.live and cluster.state.job is not None):
        await asyncio.sleep(0.05)
    await asyncio.sleep(2)
    gc.collect()
    before = rss_mb()
    tasks = dict(cluster._global, **cluster._job)

    async def storm(mode: str, size: int = 0) -> tuple[bool, float]:
        """Storm for `seconds`; (said live after its first failure, peak RSS)."""
        await control.post("/__storm", params={"mode": mode, "bytes": size})
        failing_seen = live_after = False
        peak = rss_mb()
        ends = time.monotonic() + seconds
        while time.monotonic() < ends:
            failing_seen = failing_seen or bool(cluster.state.failing())
            live_after = live_after or (failing_seen and cluster.state.live)
            peak = max(peak, rss_mb())
            await asyncio.sleep(0.02)
        await control.post("/__storm", params={"mode": "off"})
        return live_after, peak

    shape_live, _ = await storm("shape")
    errors = sorted({s.error.message for s in cluster.state.failing() if s.error})
    large_live, peak = await storm("large", megabytes * 2**20)
    survived = all(not t.done() for t in tasks.values())
    job = httpx.post(f"{nomad_url}/v1/jobs/parse",
                     json={"JobHCL": (Path(__file__).parents[1] / "nomadtui/demo/jobs/httpsbackend-tcp-sni-1.nomad")
                           .read_text()}).json()
    job["ID"] = job["Name"] = "after-the-storm"
    registered = time.monotonic()
    httpx.post(f"{nomad_url}/v1/jobs", json={"Job": job}).raise_for_status()
    while "after-the-storm" not in {j.id for j in cluster.state.jobs}:
        await asyncio.sleep(0.05)
    appeared = time.monotonic() - registered
    while not cluster.state.live:
        await asyncio.sleep(0.05)
    live_again = time.monotonic() - registered
    await asyncio.sleep(5)
    gc.collect()
    after = rss_mb()
    await cluster.close()
    server.kill()

    print(f"wrong-shape storm, {seconds:g}s: said live after the first failure: {'yes' if shape_live else 'never'}")
    for message in errors[:6]:
        print(f"  {message}")
    print(f"{megabytes} MB answers, {seconds:g}s: said live after the first failure: {'yes' if large_live else 'never'}")
    print(f"every watch and stream survived: {'yes' if survived else 'NO'}")
    print(f"job registered after the storm: on the list after {appeared:.1f}s, all live after {live_again:.1f}s")
    print(f"RSS: {before:.0f} MB before, {peak:.0f} MB at the peak, {after:.0f} MB 5s after")


if __name__ == "__main__":
    args = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    args.add_argument("--seconds", type=float, default=12)
    args.add_argument("--mb", type=int, default=50)
    options = args.parse_args()
    asyncio.run(main(options.seconds, options.mb))
