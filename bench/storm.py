"""A storm of bad answers from something in front of Nomad: what the client says, and what it costs.

    python bench/storm.py [--seconds 12] [--mb 50]

The demo cluster runs in a child process behind a proxy that, on command, answers every request
with JSON of the wrong shape, then with an `--mb` megabyte HTML page, then with an `--mb` megabyte
jobs list (80,000 job stubs at 50 MB). The client (every watch of a
LiveCluster focused on the article's job) runs here. Prints: whether the state said live at any
moment of the storm after its first failure, whether every watch survived, how long a job
registered after the storm takes to appear, and this process's resident memory before, at the
peak of and after the storm of large answers.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import itertools
import multiprocessing
import sys
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
        self.html = False
        self.delays: dict[str, float] = {}  # path -> seconds to hold a request before forwarding
        self.cuts = 0  # bumped by cut(): streamed answers under way end at their next chunk
        self._shapes = itertools.cycle(self.SHAPES)
        self._large_body = b""

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        body = await _body(receive)
        if scope["path"] == "/__storm":
            query = dict(part.split("=", 1) for part in scope["query_string"].decode().split("&") if "=" in part)
            self.storming, self.large = query.get("mode") != "off", int(query.get("bytes", "0"))
            self.html = query.get("mode") == "html"
            await Response(b"ok")(scope, receive, send)
            return
        if self.storming:
            self.answers += 1
            await Response(self._storm_body(), 200, headers={"X-Nomad-Index": "999999"}, media_type="application/json")(
                scope, receive, send
            )
            return
        await asyncio.sleep(self.delays.get(scope["path"], 0))
        query = scope["query_string"].decode()
        url = self.upstream + scope["raw_path"].decode() + (f"?{query}" if query else "")
        async with httpx.AsyncClient(timeout=None) as client, client.stream(scope["method"], url, content=body) as resp:
            # Streamed through, so the event stream works behind the proxy too.
            headers = [
                (k.encode(), v.encode())
                for k, v in resp.headers.items()
                if k.lower() in ("x-nomad-index", "content-type")
            ]
            await send({"type": "http.response.start", "status": resp.status_code, "headers": headers})
            cut_at = self.cuts  # a stream open when `cut()` is called ends there
            async for chunk in resp.aiter_bytes():
                if self.cuts != cut_at:
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})

    def cut(self) -> None:
        """End every streamed answer under way (the event stream) at its next chunk, as a
        proxy that drops long connections does."""
        self.cuts += 1

    def _storm_body(self) -> bytes:
        if not self.large:
            return next(self._shapes)
        if len(self._large_body) != self.large:
            if self.html:  # a proxy's error page, as large as asked
                self._large_body = b"<html><body>" + b"<p>Bad gateway</p>" * (self.large // 18) + b"</body></html>"
            else:  # a jobs list of this size, as a cache in front of a big cluster might send
                stub = (
                    '{"ID":"service-%06d","Name":"service-%06d","Namespace":"default","Type":"service",'
                    '"Priority":50,"Status":"running","Datacenters":["dc1"],"JobSummary":{"JobID":'
                    '"service-%06d","Namespace":"default","Summary":{"web":{"Queued":0,"Starting":0,'
                    '"Running":2,"Failed":0,"Complete":0,"Lost":0,"Unknown":0}},"CreateIndex":7,'
                    '"ModifyIndex":9},"CreateIndex":7,"ModifyIndex":9,"JobModifyIndex":7,'
                    '"SubmitTime":1790000000000000000}'
                )
                count = self.large // (len(stub) + 1)
                self._large_body = ("[" + ",".join(stub % (i, i, i) for i in range(count)) + "]").encode()
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
    control = httpx.AsyncClient(base_url=proxy_url, timeout=None)
    cluster = LiveCluster(Settings(address=proxy_url), wait=2)
    cluster.start()
    cluster.focus("default", JOB)
    while not (cluster.state.live and cluster.state.job is not None):
        await asyncio.sleep(0.05)
    await asyncio.sleep(2)
    gc.collect()
    before, blocks_before = rss_mb(), sys.getallocatedblocks()
    sources = set(cluster._global) | set(cluster._job)

    async def settle() -> None:
        """Until every watch has a good answer again."""
        while not cluster.state.live:
            await asyncio.sleep(0.05)

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
    html_live, html_peak = await storm("html", megabytes * 2**20)
    await settle()
    gc.collect()
    after_html = rss_mb()
    large_live, peak = await storm("large", megabytes * 2**20)
    # A resync restarts a watch in a new task: what counts is that every source still runs.
    running = dict(cluster._global, **cluster._job)
    survived = set(running) == sources and all(not t.done() for t in running.values())
    job = httpx.post(
        f"{nomad_url}/v1/jobs/parse",
        json={"JobHCL": (Path(__file__).parents[1] / "nomadtui/demo/jobs/httpsbackend-tcp-sni-1.nomad").read_text()},
    ).json()
    job["ID"] = job["Name"] = "after-the-storm"
    registered = time.monotonic()
    httpx.post(f"{nomad_url}/v1/jobs", json={"Job": job}).raise_for_status()
    while "after-the-storm" not in {j.id for j in cluster.state.jobs}:
        await asyncio.sleep(0.05)
    appeared = time.monotonic() - registered
    while not cluster.state.live:
        await asyncio.sleep(0.05)
    live_again = time.monotonic() - registered
    # Answers the proxy sent during the storm are still being read, one large body at a time, and
    # a list that held 80,000 stubs is replaced at its next answer: memory is measured once every
    # list shows the cluster again.
    while (
        max(
            len(getattr(cluster.state, f.name))
            for f in dataclasses.fields(cluster.state)
            if isinstance(getattr(cluster.state, f.name), tuple)
        )
        > 10
    ):
        await asyncio.sleep(0.05)
    recovered = time.monotonic() - registered
    await asyncio.sleep(5)
    gc.collect()
    after, blocks_after = rss_mb(), sys.getallocatedblocks()
    await cluster.close()
    server.kill()

    print(f"wrong-shape storm, {seconds:g}s: said live after the first failure: {'yes' if shape_live else 'never'}")
    for message in errors[:6]:
        print(f"  {message}")
    print(
        f"{megabytes} MB HTML pages, {seconds:g}s: said live after the first failure: "
        f"{'yes' if html_live else 'never'}; RSS peak {html_peak:.0f} MB, {after_html:.0f} MB once live again"
    )
    said = "yes" if large_live else "never"
    print(f"{megabytes} MB JSON lists, {seconds:g}s: said live after the first failure: {said}")
    print(f"every watch and stream survived: {'yes' if survived else 'NO'}")
    print(
        f"job registered after the storm: on the list after {appeared:.1f}s, all live after {live_again:.1f}s, "
        f"every list back to the cluster's after {recovered:.1f}s"
    )
    print(f"RSS: {before:.0f} MB before, {peak:.0f} MB at the peak, {after:.0f} MB 5s after every list was back")
    # What the allocator keeps is not what is alive: Python's small-object arenas are returned only
    # when wholly empty, and a few survivors scattered over them hold them.
    print(f"live Python memory blocks: {blocks_before:,} before, {blocks_after:,} after")


if __name__ == "__main__":
    args = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    args.add_argument("--seconds", type=float, default=12)
    args.add_argument("--mb", type=int, default=50)
    options = args.parse_args()
    asyncio.run(main(options.seconds, options.mb))
