"""`nomadtui serve` over real HTTP: `nomadtui serve --demo --port 0` as a child process, its
printed address, and sessions driven through textual-serve's websocket protocol (stdin in, the
terminal's output back) as textual.js drives them.

The token rule (403 without it, with a wrong one, for an unknown or spent ticket, from another
site's page), the read-only rule (a viewer's process runs --read-only, says so when asked to act,
and the cluster does not change), the presenter's one session, the session limit, and that a
session's process ends when its tab closes or its server stops (even killed outright), having run
in a scratch folder."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from nomadtui import serve
from nomadtui.harness.browser import Served, alive, command_line, plain
from nomadtui.ui import web
from tests.helpers import http, until

pytestmark = pytest.mark.xdist_group("serve")

JOB = "httpsbackend-sni-1"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    config = tmp_path_factory.mktemp("config")
    with Served("--demo", "--port", "0", "--presenter", env={"XDG_CONFIG_HOME": str(config)}) as server:
        yield server


class Tab:
    """A browser tab as textual.js is one: the page, then its websocket, the output kept."""

    def __init__(self, websocket: aiohttp.ClientWebSocketResponse) -> None:
        self.websocket = websocket
        self.output = bytearray()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.websocket:
            if message.type == aiohttp.WSMsgType.BINARY:
                self.output += message.data

    def text(self) -> str:
        return plain(bytes(self.output))

    async def until(self, words: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while words not in self.text():
            assert time.monotonic() < deadline, f"{words!r} did not show:\n{self.text()[-1500:]}"
            assert not self.reader.done(), f"the session ended before {words!r} showed:\n{self.text()[-1500:]}"
            await asyncio.sleep(0.05)

    async def type(self, keys: str) -> None:
        await self.websocket.send_str(json.dumps(["stdin", keys]))


def ticket_url(page: str) -> str:
    found = re.search(r'data-session-websocket-url="(ws://[^"]+/ws/[\w-]+)"', page)
    assert found, page
    return found.group(1)


@contextlib.asynccontextmanager
async def tab(url: str) -> AsyncIterator[Tab]:
    async with aiohttp.ClientSession() as client:
        async with client.get(url) as answer:
            assert answer.status == 200, await answer.text()
            page = await answer.text()
        async with client.ws_connect(ticket_url(page) + "?width=120&height=40") as websocket:
            opened = Tab(websocket)
            try:
                yield opened
            finally:
                opened.reader.cancel()


def session_pid(served: Served, before: int) -> int:
    served.line("session ", after=before)
    (pid,) = served.session_pids(after=before)
    return pid


async def gone(pid: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while alive(pid):
        assert time.monotonic() < deadline, f"session process {pid} still runs: {command_line(pid)}"
        await asyncio.sleep(0.05)


def test_it_prints_its_address_and_the_demo_clusters(served):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\?token=[\w-]{32}", served.url)
    presenter = served.value("presenter")
    assert presenter.startswith(served.base + "/?token=") and presenter != served.url
    assert http.get(served.value("nomad") + f"/v1/job/{JOB}").json()["ID"] == JOB
    assert http.get(served.value("fabio") + "/health").status_code == 200


def test_without_the_token_it_answers_403(served):
    for path in ("/", "/?token=", "/?token=wrong", "/?token=%C3%A9t%C3%A9", f"/?{served.url.split('?')[1]}x"):
        answer = http.get(served.base + path)
        assert answer.status_code == 403, path
        assert "token" in answer.text and "ws/" not in answer.text
    for path in ("/ws/", "/ws/not-a-ticket", "/ws/" + served.url.split("token=")[1]):
        assert http.get(served.base + path).status_code in (403, 404), path
    # textual-serve's own script, styles and fonts need no token
    assert http.get(served.base + "/static/js/textual.js").status_code == 200
    assert http.get(served.base + "/static/").status_code in (403, 404)  # no folder listing


async def test_a_websocket_needs_a_ticket_from_its_own_page(served):
    async with aiohttp.ClientSession() as client:
        for ticket in ("not-a-ticket", served.url.split("token=")[1]):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await client.ws_connect(f"{served.base.replace('http', 'ws')}/ws/{ticket}")
            assert refused.value.status == 403
        page = await (await client.get(served.url)).text()
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect(ticket_url(page), headers={"Origin": "http://evil.example"})
        assert refused.value.status == 403


async def test_the_page_hands_its_websocket_a_ticket_that_works_once(served):
    first, second = http.get(served.url), http.get(served.url)
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "no-store" and first.headers["Referrer-Policy"] == "no-referrer"
    assert "googleapis" not in first.text  # the font is served from here
    assert ticket_url(first.text) != ticket_url(second.text)
    assert served.url.split("token=")[1] not in first.text
    before = len(served.lines)
    async with aiohttp.ClientSession() as client:
        origin = {"Origin": served.base}
        async with client.ws_connect(ticket_url(first.text) + "?width=100&height=30", headers=origin) as websocket:
            assert (await websocket.receive(timeout=20)).type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT)
            with pytest.raises(aiohttp.WSServerHandshakeError) as spent:
                await client.ws_connect(ticket_url(first.text))
            assert spent.value.status == 403
    await gone(session_pid(served, before))


async def test_a_viewer_cannot_change_the_cluster_and_its_process_ends_with_its_tab(served):
    nomad = served.value("nomad")
    job = http.get(f"{nomad}/v1/job/{JOB}").json()
    before = len(served.lines)
    async with tab(served.url) as viewer:
        await viewer.until(JOB)
        pid = session_pid(served, before)
        argv = command_line(pid)
        assert argv[1:3] == ["-m", "nomadtui"] and "--read-only" in argv and "--tour" not in argv
        assert not any(served.url.split("token=")[1] in arg for arg in argv)
        await viewer.until("READ-ONLY")  # the status line's badge
        for key, says in (("r", "Read-only: r (run"), ("R", "Read-only: R (revert"), ("F", "Read-only: F (fail")):
            await viewer.type(key)
            await viewer.until(says)
        await viewer.type("y")
        assert alive(pid)
    await gone(pid)
    after = http.get(f"{nomad}/v1/job/{JOB}").json()
    assert (after["Version"], after["JobModifyIndex"]) == (job["Version"], job["JobModifyIndex"])
    assert http.get(f"{nomad}/v1/job/{JOB}/deployments").json()[0]["Status"] == "successful"


async def test_the_presenter_has_one_session_that_can_act(served):
    presenter = served.value("presenter")
    before = len(served.lines)
    async with tab(presenter) as driving:
        await driving.until(JOB)
        pid = session_pid(served, before)
        assert "--read-only" not in command_line(pid)
        await driving.until("DEMO")  # the status line, with no READ-ONLY badge beside it
        assert "READ-ONLY" not in driving.text()
        again = http.get(presenter)
        assert again.status_code == 409 and "only one tab drives" in again.text
        assert http.get(served.url).status_code == 200  # viewers still get in
        await driving.type("r")
        await driving.until("Run a job file")
    await gone(pid)
    # The server frees the presenter's place once it has seen the session's process end.
    await until(lambda: http.get(presenter).status_code == 200)


async def test_past_the_session_limit_the_page_says_so(tmp_path):
    with Served("--demo", "--port", "0", "--max-sessions", "1", env={"XDG_CONFIG_HOME": str(tmp_path)}) as one:
        waiting = http.get(one.url)  # a page opened before the place was taken
        async with tab(one.url) as first:
            await first.until(JOB)
            full = http.get(one.url)
            assert full.status_code == 503
            assert "The one session is in use" in full.text and "ws/" not in full.text
            async with aiohttp.ClientSession() as client:
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await client.ws_connect(ticket_url(waiting.text))
                assert refused.value.status == 503
        deadline = time.monotonic() + 15
        while (answer := http.get(one.url)).status_code == 503 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert answer.status_code == 200


async def test_sessions_end_with_their_server_even_one_killed_outright(tmp_path):
    for stop in (signal.SIGTERM, signal.SIGKILL):
        with Served("--demo", "--port", "0", env={"XDG_CONFIG_HOME": str(tmp_path)}) as server:
            async with tab(server.url) as viewer:
                await viewer.until(JOB)
                pid = session_pid(server, 0)
                scratch = Path(os.readlink(f"/proc/{pid}/cwd"))  # a viewer saves nothing where serve runs
                argv = command_line(pid)
                ca = Path(json.loads(argv[argv.index("--demo-attach") + 1])["ca_path"])
                assert scratch.name.startswith("nomadtui-session-") and scratch != Path.cwd()
                server.process.send_signal(stop)
                server.process.wait(15)
                await gone(pid)
                if stop == signal.SIGTERM:
                    assert not scratch.exists()
                shutil.rmtree(scratch, ignore_errors=True)  # a server killed outright cannot
                ca.unlink(missing_ok=True)


def test_a_full_server_names_how_many_sessions():
    server = web.SessionServer({web.VIEWER: ["x"], web.PRESENTER: ["x"]}, {"viewer": "t"}, max_sessions=3)
    server.sessions = {object(): web.VIEWER for _ in range(3)}
    assert server.full(web.VIEWER) == "All 3 sessions are in use. Reload this page when someone closes theirs."
    with_presenter = web.SessionServer(
        {web.VIEWER: ["x"], web.PRESENTER: ["x"]}, {"viewer": "t", "presenter": "p"}, max_sessions=3
    )
    with_presenter.sessions = {object(): web.VIEWER for _ in range(2)}
    assert with_presenter.full(web.VIEWER).startswith("All 2 sessions are in use")  # one is the presenter's
    assert with_presenter.full(web.PRESENTER) is None


def test_tickets_are_spent_once_and_expire():
    now = [0.0]
    tickets = web.Tickets(clock=lambda: now[0])
    viewer, presenter, late = tickets.issue("viewer"), tickets.issue("presenter"), tickets.issue("viewer")
    assert tickets.take(presenter) == "presenter" and tickets.take(presenter) is None
    assert tickets.take(viewer) == "viewer" and tickets.take(viewer) is None
    assert tickets.take("") is None and tickets.take("é") is None
    now[0] = web.TICKET_SECONDS + 1
    assert tickets.take(late) is None


def parsed(*argv: str) -> argparse.Namespace:
    return serve.parser().parse_args(list(argv))


def test_sessions_get_the_connection_flags_and_the_role_decides_read_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jobs").mkdir()
    args = parsed(
        "--addr", "http://nomad:4646", "-n", "web", "--jobs-dir", "jobs", "--tls-skip-verify", "--probe-rate", "7",
        "--host", "0.0.0.0", "--port", "9000", "--max-sessions", "5", "--presenter",
    )  # fmt: skip
    viewer = serve.session_argv(args, web.VIEWER, None)
    presenter = serve.session_argv(args, web.PRESENTER, None)
    flags = ["--addr", "http://nomad:4646", "--namespace", "web", "--jobs-dir", str(tmp_path / "jobs")]
    assert viewer[1:3] == ["-m", "nomadtui"] and all(flag in viewer for flag in flags)
    assert "--tls-skip-verify" in viewer and viewer[viewer.index("--probe-rate") + 1] == "7.0"
    assert viewer[-1] == "--read-only" and "--read-only" not in presenter
    for own in ("--host", "--port", "--max-sessions", "--presenter", "9000", "0.0.0.0"):
        assert own not in viewer
    demo = parsed("--demo", "--tour", "--speed", "5", "--presenter")
    attach = json.dumps({"nomad_url": "http://127.0.0.1:1"})
    assert serve.session_argv(demo, web.VIEWER, attach)[3:] == ["--demo", "--demo-attach", attach, "--read-only"]
    assert serve.session_argv(demo, web.PRESENTER, attach)[3:] == ["--demo", "--demo-attach", attach, "--tour"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--demo", "--tour"], "--tour is played by the session that can act: add --presenter"),
        (["--demo", "--port", "70000"], "--port is 70000, not between 0 and 65535"),
        (["--demo", "--max-sessions", "0"], "--max-sessions is 0"),
        (["--demo", "--presenter", "--max-sessions", "1"], "one place is kept for the presenter"),
        (["--demo", "--read-only", "--allow-actions"], "--read-only leaves nothing"),
        (["--addr", "ftp://nomad:4646"], "--addr is 'ftp://nomad:4646', not an http:// or https:// address"),
        (["--tour"], "--tour plays on the demo cluster: add --demo"),
    ],
)
def test_what_cannot_be_served_is_refused_with_a_sentence(args, says):
    assert serve.refusal(parsed(*args)) is not None and says in (serve.refusal(parsed(*args)) or "")


def test_the_flags_are_nomadtuis_own(capsys):
    with pytest.raises(SystemExit):
        serve.parser().parse_args(["--help"])
    shown = capsys.readouterr().out
    for flag in ("--demo", "--addr", "--jobs-dir", "--probe-url", "--host", "--port", "--max-sessions", "--presenter"):
        assert flag in shown
    assert "--demo-attach" not in shown


def test_a_port_in_use_is_a_sentence(tmp_path):
    import socket
    import subprocess
    import sys

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "nomadtui", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(tmp_path), "HOME": str(tmp_path)},
            cwd=Path(__file__).resolve().parents[1],
        )
    assert result.returncode == 1
    assert f"nomadtui serve: cannot listen on 127.0.0.1 port {port}" in result.stderr
