"""What one browser session of `nomadtui serve --demo` costs: the time from a tab opening the
page to the article's job on its screen, and the session process's resident memory.

    python -m bench.serve [--sessions N]

Each session is opened as textual.js opens one (the page, then its websocket with a ticket) with
aiohttp, so no browser's own start-up is counted; the sessions are opened one after the other
and kept open, as a room's tabs would be.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import time
from pathlib import Path
from typing import Any

import aiohttp

from nomadtui.harness.browser import Served, plain

JOB = "httpsbackend-sni-1"


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(found.group(1)) / 1024 if found else float("nan")


async def open_session(client: aiohttp.ClientSession, url: str) -> tuple[float, Any]:
    """Seconds from asking for the page to the job's name in what the session sent."""
    started = time.monotonic()
    async with client.get(url) as answer:
        page = await answer.text()
    ticket = re.search(r'data-session-websocket-url="(ws://[^"]+)"', page)
    assert ticket, page
    websocket = await client.ws_connect(ticket.group(1) + "?width=120&height=40")
    output = bytearray()
    while JOB not in plain(bytes(output)):
        message = await asyncio.wait_for(websocket.receive(), 60)
        if message.type == aiohttp.WSMsgType.BINARY:
            output += message.data
        elif message.type != aiohttp.WSMsgType.TEXT:
            raise RuntimeError(f"the session ended: {message}")
    return time.monotonic() - started, websocket


async def measure(served: Served, sessions: int) -> None:
    times: list[float] = []
    sockets: list[Any] = []
    async with aiohttp.ClientSession() as client:
        for _ in range(sessions):
            seconds, websocket = await open_session(client, served.url)
            times.append(seconds)
            sockets.append(websocket)
        await asyncio.sleep(3)  # the sessions settle (first answers, probe started)
        pids = served.session_pids()
        memory = [rss_mb(pid) for pid in pids]
        print(f"sessions: {sessions}")
        print(f"page to '{JOB}' on screen: median {statistics.median(times):.2f} s, max {max(times):.2f} s")
        print(f"session RSS: median {statistics.median(memory):.0f} MB, max {max(memory):.0f} MB")
        print(f"serve process (with the demo cluster) RSS: {rss_mb(served.process.pid):.0f} MB")
        for websocket in sockets:
            await websocket.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=5)
    args = parser.parse_args()
    with Served("--demo", "--port", "0", "--max-sessions", str(args.sessions + 1)) as served:
        asyncio.run(measure(served, args.sessions))


if __name__ == "__main__":
    main()
