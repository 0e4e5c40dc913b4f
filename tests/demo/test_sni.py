"""Fabio's tcp+sni listener in the demo (fabio proxy/tcp/sni_proxy.go SNIProxy.ServeTCP), over
real sockets: the server name read from the ClientHello (proxy/tcp/tls_clienthello.go), the
target picked by the route's weights, TLS ended by the target with a certificate for the route's
host from the demo CA; plus `demo-server --empty` and `--acl`, and `--demo`'s probe on it."""

from __future__ import annotations

import asyncio
import collections
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from nomadtui.cli import parser, probe_config
from nomadtui.demo.clock import ManualClock
from nomadtui.demo.cluster import JOBS_DIR
from nomadtui.demo.server import DemoServer
from nomadtui.demo.tls_clienthello import client_hello_buffer_size, read_server_name
from nomadtui.probe import Probe
from tests.helpers import until

HOST = "mysite-sni-1.com"
FIRST_JOB = "httpsbackend-tcp-sni-1.nomad"
ANSWER = "this is httpsbackendservice, version: {}\n"


@pytest.fixture
def empty() -> Iterator[DemoServer]:
    """`DemoServer(empty=True)` on a manual clock: three client nodes, no jobs."""
    server = DemoServer(empty=True, sni_port=0, clock=ManualClock(), seed=7).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def register(demo: DemoServer, http: httpx.Client, hcl: str) -> str:
    """`nomad job run`: parse, then register, over the HTTP API; returns the job's ID."""
    job = http.post(f"{demo.nomad_url}/v1/jobs/parse", json={"JobHCL": hcl}).json()
    http.post(f"{demo.nomad_url}/v1/jobs", json={"Job": job}).raise_for_status()
    demo.advance(0)
    return job["ID"]


def run_first_job(demo: DemoServer, http: httpx.Client) -> None:
    """The article's first job brought in, and cluster time until its deployment is through."""
    job_id = register(demo, http, (JOBS_DIR / FIRST_JOB).read_text())
    for _ in range(30):
        deployment = http.get(f"{demo.nomad_url}/v1/job/{job_id}/deployment").json()
        if deployment is not None and deployment["Status"] == "successful":
            return
        demo.advance(10)
    raise AssertionError(f"{FIRST_JOB}: no successful deployment")


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def https_get(demo: DemoServer, server_name: str, path: str = "/") -> tuple[str, dict]:
    """`curl --cacert CA --resolve NAME:PORT:127.0.0.1 https://NAME:PORT/PATH`: the body and the
    server's certificate."""
    assert demo.ca is not None
    context = ssl.create_default_context(cafile=demo.ca.path)
    with (
        socket.create_connection(("127.0.0.1", port_of(demo.sni_url)), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {server_name}\r\nUser-Agent: test\r\n\r\n".encode())
        received = b""
        while chunk := tls.recv(4096):
            received += chunk
        certificate = tls.getpeercert()
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head
    return body.decode(), certificate


def refused(demo: DemoServer, hello: bytes) -> bytes:
    """What the listener sends back to `hello` before it closes the connection."""
    with socket.create_connection(("127.0.0.1", port_of(demo.sni_url)), timeout=10) as raw:
        raw.sendall(hello)
        received = b""
        while chunk := raw.recv(4096):
            received += chunk
        return received


def client_hello(server_name: str | None) -> bytes:
    """The first bytes a TLS client sends, made without a network."""
    context = ssl.create_default_context()
    if server_name is None:
        context.check_hostname = False
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=server_name)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def access_lines(demo: DemoServer, http: httpx.Client) -> list[str]:
    """The access lines in the stdout logs of the article's job's allocations."""
    params = {"task": "httpsbackend-sni-1", "type": "stdout", "plain": "true"}
    allocs = http.get(f"{demo.nomad_url}/v1/job/httpsbackend-sni-1/allocations").json()
    logs = [http.get(f"{demo.nomad_url}/v1/client/fs/logs/{a['ID']}", params=params).text for a in allocs]
    return [line for log in logs for line in log.splitlines() if " access " in line]


# --- the ClientHello ---------------------------------------------------------------------------


def test_server_name_is_read_from_a_client_hello():
    """tls_clienthello.go clientHelloBufferSize and readServerName on real ClientHellos."""
    hello = client_hello(HOST)
    assert client_hello_buffer_size(hello[:9]) == len(hello)
    assert read_server_name(hello[5:]) == HOST
    assert read_server_name(client_hello(None)[5:]) == ""  # no server_name extension
    assert read_server_name(hello[5:60]) is None  # cut short: does not parse
    with pytest.raises(ValueError, match="not a TLS handshake"):
        client_hello_buffer_size(b"GET / HTTP/1.1\r\n"[:9])


# --- demo-server --empty and the listener ------------------------------------------------------


def test_empty_cluster_has_three_nodes_and_no_jobs(empty, http):
    assert http.get(f"{empty.nomad_url}/v1/jobs").json() == []
    nodes = http.get(f"{empty.nomad_url}/v1/nodes").json()
    assert len(nodes) == 3 and {n["Status"] for n in nodes} == {"ready"}
    assert http.get(f"{empty.fabio_url}/api/routes").text == "null"


def test_sni_request_is_answered_by_the_target_with_its_own_certificate(empty, http):
    """SNIProxy.ServeTCP: the article's first job brought in over the HTTP API, then a TLS
    request with SNI mysite-sni-1.com, verified against the demo CA, reaches a v1.0.0 instance,
    which writes its access line as behind Fabio's HTTP listener (tasklogs.py)."""
    run_first_job(empty, http)
    body, certificate = https_get(empty, HOST, "/via-sni")
    assert body == ANSWER.format("v1.0.0")
    assert certificate["subjectAltName"] == (("DNS", HOST),)
    lines = access_lines(empty, http)
    assert len(lines) == 1
    assert lines[0].endswith(
        "access client=127.0.0.1 method=GET host=mysite-sni-1.com path=/via-sni status=200 version=v1.0.0"
    )


def test_unknown_or_missing_server_name_gets_the_connection_closed(empty, http):
    """SNIProxy.ServeTCP returns (closing the connection, nothing written) when LookupHost finds
    no route, when the ClientHello has no server_name, and when it is no ClientHello."""
    run_first_job(empty, http)
    assert refused(empty, client_hello("unknown.example")) == b""
    assert refused(empty, client_hello(None)) == b""
    assert refused(empty, b"GET / HTTP/1.1\r\nHost: mysite-sni-1.com\r\n\r\n") == b""
    with pytest.raises(ssl.SSLError):  # what curl or a browser sees: the handshake ends early
        https_get(empty, "unknown.example")
    assert https_get(empty, HOST.upper())[0] == ANSWER.format("v1.0.0")  # LookupHost lower-cases
    assert access_lines(empty, http)[0].endswith("path=/ status=200 version=v1.0.0")


def test_only_tcp_sni_routes_are_served(empty, http):
    """A route without proto=tcp+sni is Fabio's HTTP listener's (its targets speak plain HTTP):
    the tcp+sni listener closes the connection for it."""
    hcl = (JOBS_DIR / FIRST_JOB).read_text()
    hcl = hcl.replace('job "httpsbackend-sni-1"', 'job "plain-web"')
    hcl = hcl.replace("urlprefix-mysite-sni-1.com/ proto=tcp+sni", "urlprefix-plain.example/")
    register(empty, http, hcl)
    empty.advance(30)
    assert http.get(empty.lb_url, headers={"Host": "plain.example"}).text == ANSWER.format("v1.0.0")
    assert refused(empty, client_hello("plain.example")) == b""


def test_connections_follow_the_route_weights(empty, http):
    """Fabio picks a target per connection (route/picker.go rndPicker): with a canary at 0.25
    beside three v1.0.0 instances, about a quarter of the connections reach v1.0.2."""
    run_first_job(empty, http)
    register(empty, http, (JOBS_DIR / "httpsbackend-tcp-sni-1-canary-1.nomad").read_text())
    empty.advance(31)
    assert [row["weight"] for row in http.get(f"{empty.fabio_url}/api/routes").json()] == [0.25] * 4
    seen = collections.Counter(https_get(empty, HOST)[0] for _ in range(120))
    assert set(seen) == {ANSWER.format("v1.0.0"), ANSWER.format("v1.0.2")}
    assert 15 <= seen[ANSWER.format("v1.0.2")] <= 45  # 30 expected


def test_ca_file_is_removed_at_stop():
    server = DemoServer(empty=True, clock=ManualClock()).start()
    assert server.ca is not None
    path = Path(server.ca.path)
    assert path.read_text().startswith("-----BEGIN CERTIFICATE-----")
    server.stop()
    assert not path.exists()


# --- nomadtui --demo: the probe on this listener -----------------------------------------------


async def test_demo_probe_uses_sni_and_the_demo_ca(demo):
    """`nomadtui --demo` probes the tcp+sni listener as --probe-sni would, verifying the demo
    CA, and still reads the version served."""
    config = probe_config(parser().parse_args(["--demo", "--probe-rate", "50"]), demo)
    assert config is not None
    assert (config.url, config.sni, config.host) == (f"{demo.sni_url}/", HOST, HOST)
    assert isinstance(config.verify, ssl.SSLContext) and config.verify.verify_mode == ssl.CERT_REQUIRED
    async with Probe(config) as probe:
        task = asyncio.create_task(probe.run())
        try:
            await until(lambda: probe.snapshot().answered >= 5, timeout=10)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    snapshot = probe.snapshot()
    assert [v.version for v in snapshot.versions] == ["v1.0.0"] and snapshot.errors == 0


# --- demo-server's start-up lines and --acl ----------------------------------------------------


@pytest.fixture(scope="module")
def printed() -> Iterator[dict[str, str]]:
    """`nomadtui demo-server --empty --acl` on free ports: what it printed, by first word. Its CA
    file is gone once it stopped (SIGTERM)."""
    args = ["--empty", "--acl", "--sni-port", "0", "--port", "0", "--fabio-port", "0", "--lb-port", "0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "nomadtui", "demo-server", *args],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(7)]
        seen = dict(line.split(" ", 1) for line in lines if " " in line)
        yield seen
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    assert not Path(seen["ca"]).exists()


def test_demo_server_prints_its_addresses_the_ca_and_tokens(printed, http):
    assert list(printed) == ["nomad", "fabio", "lb", "sni", "ca", "token-read", "token-write"]
    assert printed["sni"].startswith("https://127.0.0.1:") and port_of(printed["sni"]) > 0
    assert Path(printed["ca"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert http.get(f"{printed['fabio']}/api/routes").text == "null"


def test_acl_read_token_reads_and_cannot_write(printed, http):
    """Nomad's answers with ACLs on (command/agent/http.go wrap: 403 and the plain text
    structs.ErrPermissionDenied / ErrTokenNotFound)."""
    nomad = printed["nomad"]
    read, write = {"X-Nomad-Token": printed["token-read"]}, {"X-Nomad-Token": printed["token-write"]}
    assert http.get(f"{nomad}/v1/jobs", headers=read).json() == []
    assert len(http.get(f"{nomad}/v1/nodes", headers=read).json()) == 3
    hcl = (JOBS_DIR / FIRST_JOB).read_text()
    job = http.post(f"{nomad}/v1/jobs/parse", json={"JobHCL": hcl}, headers=read).json()
    for headers, status, body in (
        (read, 403, "Permission denied"),
        ({}, 403, "Permission denied"),
        ({"X-Nomad-Token": "00000000-0000-0000-0000-000000000000"}, 403, "ACL token not found"),
    ):
        answer = http.post(f"{nomad}/v1/jobs", json={"Job": job}, headers=headers)
        assert (answer.status_code, answer.text) == (status, body)
    no_token = http.get(f"{nomad}/v1/jobs")
    assert (no_token.status_code, no_token.text) == (403, "Permission denied")
    assert http.post(f"{nomad}/v1/jobs", json={"Job": job}, headers=write).status_code == 200


def test_empty_refuses_extra_jobs():
    result = subprocess.run(
        [sys.executable, "-m", "nomadtui", "demo-server", "--empty", "--extra-jobs", "5"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert result.returncode == 2 and "--empty starts without jobs" in result.stderr
