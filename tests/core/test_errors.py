"""Every way a request can fail has its own words: refused, reset, closed without an answer, a
timeout, and an error page from a proxy in front of Nomad. And a watch that breaks for any other
reason is restarted and said to be failing, never lost."""

from __future__ import annotations

import asyncio
import socket
import struct

import httpx
import pytest
from starlette.responses import PlainTextResponse, Response

from nomadtui.nomad import errors
from nomadtui.nomad.errors import from_status, from_transport
from nomadtui.nomad.live import LiveCluster
from nomadtui.nomad.watch import Expect, Watch
from nomadtui.settings import Settings
from tests.helpers import until


async def _serve(handler) -> tuple[asyncio.AbstractServer, str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def _error_of(url: str, timeout: float = 5.0) -> errors.ClusterError:
    async with httpx.AsyncClient(timeout=timeout) as client:
        with pytest.raises(httpx.HTTPError) as e:
            await client.get(f"{url}/v1/jobs")
    return from_transport(e.value, url, timeout)


async def test_a_refused_connection():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"  # bound, not listening: refused
        error = await _error_of(url)
    assert error.kind == errors.UNREACHABLE and error.message == f"Cannot reach Nomad at {url}: connection refused."


async def test_a_reset_connection():
    async def reset(reader, writer):
        await reader.readline()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with RST
        writer.close()

    server, url = await _serve(reset)
    async with server:
        error = await _error_of(url)
    assert error.message in (
        f"Cannot reach Nomad at {url}: the connection was reset.",
        f"Cannot reach Nomad at {url}: the connection was closed before an answer came.",
    )
    assert "ReadError" not in error.message


async def test_a_connection_closed_without_an_answer():
    async def hang_up(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    server, url = await _serve(hang_up)
    async with server:
        error = await _error_of(url)
    assert error.message == f"Cannot reach Nomad at {url}: the connection was closed before an answer came."


async def test_a_timeout():
    async def silent(reader, writer):
        await asyncio.sleep(5)

    server, url = await _serve(silent)
    async with server:
        error = await _error_of(url, timeout=0.3)
    assert error.kind == errors.TIMEOUT and error.message == f"Nomad at {url} did not answer within 0.3s."


@pytest.mark.parametrize(
    "status, body, content_type, words",
    [
        (
            502,
            "<html><body><h1>502 Bad Gateway</h1>nginx</body></html>",
            "text/html",
            "502 Bad Gateway from the HTTP layer in front of Nomad at http://nomad:4646 (a proxy or load balancer), "
            "not from Nomad itself: cannot watch /v1/jobs.",
        ),
        (504, "upstream timed out", "text/plain", "504 Gateway Timeout from the HTTP layer in front of Nomad"),
        (500, "<!DOCTYPE html><title>oops</title>", "", "500 Internal Server Error from the HTTP layer in front"),
        (500, "No cluster leader", "text/plain; charset=utf-8", "Nomad refused to watch /v1/jobs: No cluster leader"),
    ],
)
def test_errors_from_a_proxy_say_so(status, body, content_type, words):
    error = from_status(
        status,
        body,
        action="watch /v1/jobs",
        capability="list-jobs",
        namespace="default",
        content_type=content_type,
        address="http://nomad:4646",
    )
    assert words in error.message
    assert (error.kind == errors.PROXY) == (status != 500 or "html" in body.lower())


async def test_the_retry_countdown_waits_for_the_request_to_end(scripted):
    async def broken(scope, receive, send):
        await PlainTextResponse("No cluster leader", 500)(scope, receive, send)

    statuses = []
    with scripted(broken) as server:
        async with httpx.AsyncClient(base_url=server.url) as http:
            watch = Watch(
                http,
                "jobs",
                "/v1/jobs",
                list,
                expect=Expect("a list of jobs"),
                publish=lambda *a: None,
                on_status=statuses.append,
            )
            task = asyncio.get_running_loop().create_task(watch.run())
            await until(lambda: len(statuses) >= 4, timeout=10)
            task.cancel()
    waiting, retrying = statuses[0], statuses[1]
    assert waiting.retry_at is not None and not waiting.retrying
    assert retrying.retry_at is None and retrying.retrying and retrying.error is not None


async def test_a_watch_that_breaks_is_restarted_and_reported(demo):
    cluster = LiveCluster(Settings(address=demo.nomad_url), wait=1)
    broken = {"once": True}

    def subscriber(state, what):
        if what == "jobs" and broken.pop("once", False):
            raise RuntimeError("a bug in a subscriber")

    cluster.subscribe(subscriber)
    cluster.start()
    await until(
        lambda: (
            (s := cluster.state.status.get("jobs")) is not None
            and s.error is not None
            and s.error.kind == errors.STOPPED
        )
    )
    error = cluster.state.status["jobs"].error
    assert "The jobs watch stopped (RuntimeError: a bug in a subscriber) and is being restarted." == error.message
    assert not cluster.state.live
    await until(lambda: cluster.state.live and cluster.state.jobs, timeout=10)
    await cluster.close()


async def test_a_binary_answer_is_a_sentence(scripted):
    async def binary(scope, receive, send):
        await Response(b"\x89PNG\r\n\x1a\n\x00\xff", 200, headers={"X-Nomad-Index": "3"})(scope, receive, send)

    with scripted(binary) as server:
        cluster = LiveCluster(Settings(address=server.url), wait=1)
        cluster.start()
        await until(lambda: "jobs" in cluster.state.status and cluster.state.status["jobs"].error)
        message = cluster.state.status["jobs"].error.message
        assert (
            message == "Nomad's answer to /v1/jobs is not JSON (it starts with '\ufffdPNG\\r\\n\\x1a\\n\\x00\ufffd')."
        )
        await cluster.close()
