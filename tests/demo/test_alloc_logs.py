"""Task logs in the demo cluster and `GET /v1/client/fs/logs/:alloc_id` as a Nomad agent serves
it (command/agent/fs_endpoint.go, client/fs_endpoint.go, client/lib/streamframer): start-up and
access lines, stderr on a crash, framed and plain answers, offsets and origins, rotated files,
follow with heartbeats, and the error answers."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import httpx
import pytest

from nomadtui.demo.cluster import JOBS_DIR
from nomadtui.demo.logstream import StreamFramer, find_closest
from nomadtui.demo.server import DemoServer
from nomadtui.demo.tasklogs import RotatedLog
from tests.helpers import http

JOB = "httpsbackend-sni-1"
TASK = JOB
START = "2026/01/01 00:00:00 httpsbackendservice v1.0.0 listening on :7777\n"


def allocs(demo: DemoServer) -> list[dict]:
    return http.get(f"{demo.nomad_url}/v1/job/{JOB}/allocations").json()


def logs(demo: DemoServer, alloc_id: str, **params) -> httpx.Response:
    params = {"task": TASK, "type": "stdout", **params}
    return http.get(f"{demo.nomad_url}/v1/client/fs/logs/{alloc_id}", params=params, timeout=10)


def frames(text: str) -> list[dict]:
    """StreamFrames as the agent writes them: JSON objects one after the other."""
    decoder, out, i = json.JSONDecoder(), [], 0
    while i < len(text):
        frame, i = decoder.raw_decode(text, i)
        out.append(frame)
    return out


def data(frame: dict) -> bytes:
    return base64.b64decode(frame.get("Data", ""))


def request(demo: DemoServer, path: str = "/") -> str:
    return http.get(f"{demo.lb_url}{path}", headers={"Host": "mysite-sni-1.com"}).text


def plain(demo: DemoServer, alloc_id: str, log_type: str = "stdout") -> str:
    return logs(demo, alloc_id, type=log_type, plain="true").text


def test_a_running_allocation_has_its_start_up_line(demo):
    alloc = allocs(demo)[0]
    framed = logs(demo, alloc["ID"])
    assert framed.status_code == 200 and framed.headers["Content-Type"] == "application/json"
    # One frame: its Offset is where the read ended (framer.go stamps the offset after the read).
    assert frames(framed.text) == [
        {
            "Offset": len(START),
            "Data": base64.b64encode(START.encode()).decode(),
            "File": f"alloc/logs/{TASK}.stdout.0",
        }
    ]
    raw = logs(demo, alloc["ID"], plain="true")
    assert raw.headers["Content-Type"] == "text/plain" and raw.text == START
    # Nothing on stderr yet: an empty answer, no frame at all.
    assert logs(demo, alloc["ID"], type="stderr").text == ""


def test_requests_through_fabio_leave_access_lines(demo):
    for i in range(6):
        assert request(demo, f"/p{i}") == "this is httpsbackendservice, version: v1.0.0\n"
    lines = [line for a in allocs(demo) for line in plain(demo, a["ID"]).splitlines()]
    access = sorted(line for line in lines if " access " in line)
    assert len(access) == 6
    assert access[0] == (
        "2026/01/01 01:00:00 access client=127.0.0.1 method=GET host=mysite-sni-1.com path=/p0 status=200"
        " version=v1.0.0"
    )
    assert sum(line == START.strip() for line in lines) == 3  # each allocation started once


def test_offsets_and_origins(demo):
    alloc_id = allocs(demo)[0]["ID"]
    demo.call(lambda: demo.cluster.logs.logs[(alloc_id, TASK)].stdout.write(b"0123456789\n"))
    whole = START + "0123456789\n"
    assert plain(demo, alloc_id) == whole
    assert logs(demo, alloc_id, plain="true", origin="end", offset="5").text == "6789\n"
    assert logs(demo, alloc_id, plain="true", offset="10").text == whole[10:]
    end = frames(logs(demo, alloc_id, origin="end", offset="5").text)
    assert [(f["Offset"], data(f)) for f in end] == [(len(whole), b"6789\n")]
    # findClosest's rules: an offset past the end stops at it; from the end, 0 is the whole
    # newest file; a negative offset from the start counts back from the end.
    assert logs(demo, alloc_id, offset="999999").text == ""
    assert logs(demo, alloc_id, plain="true", origin="end", offset="0").text == whole
    assert logs(demo, alloc_id, plain="true", offset="-3").text == "89\n"
    assert logs(demo, alloc_id, plain="true", origin="end", offset="999999").text == whole


def test_rotated_files_keep_their_offsets_and_the_oldest_go(demo):
    alloc_id = allocs(demo)[0]["ID"]
    line = b"x" * 1023 + b"\n"

    def flood() -> list[tuple[int, int]]:
        log = demo.cluster.logs.logs[(alloc_id, TASK)].stdout
        for _ in range(1200):  # 1.2 MiB: four files of 256 KiB are kept, the fifth is started
            log.write(line)
        return log.entries()

    entries = demo.call(flood)
    assert [index for index, _ in entries] == [1, 2, 3, 4]  # file 0 was deleted
    got = frames(logs(demo, alloc_id).text)
    names = [f["File"].rpartition(".")[2] for f in got]
    assert names == sorted(names) and set(names) == {"1", "2", "3", "4"}
    assert b"".join(data(f) for f in got) == line * (sum(size for _, size in entries) // len(line))
    # In a file, frames of 64 KiB, each stamped with the offset after the read that started it;
    # a file of whole frames leaves the framer a frame without data, flushed when the next file
    # starts (framer.go's arithmetic).
    first = [f for f in got if f["File"].endswith(".1")]
    assert [f["Offset"] for f in first] == [65536, 131072, 196608, 262144, 327680]
    assert [len(data(f)) for f in first] == [65536, 65536, 65536, 65536, 0]
    # From the end, an offset reaches back into the file before the newest.
    tail = frames(logs(demo, alloc_id, origin="end", offset=str(entries[-1][1] + 1024)).text)
    assert tail[0]["File"] == f"alloc/logs/{TASK}.stdout.3" and len(data(tail[0])) == 1024
    assert {f["File"] for f in tail[1:]} == {f"alloc/logs/{TASK}.stdout.4"}
    assert sum(len(data(f)) for f in tail[1:]) == entries[-1][1]


class FrameReader:
    """Frames from a streaming answer, as they arrive."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.buffer = ""

    def __iter__(self) -> Iterator[dict]:
        decoder = json.JSONDecoder()
        for chunk in self.chunks:
            self.buffer += chunk.decode()
            while self.buffer:
                try:
                    frame, end = decoder.raw_decode(self.buffer)
                except json.JSONDecodeError:
                    break
                self.buffer = self.buffer[end:]
                yield frame


def test_follow_streams_new_lines_and_heartbeats(demo):
    alloc_id = allocs(demo)[0]["ID"]
    url = f"{demo.nomad_url}/v1/client/fs/logs/{alloc_id}"
    params = {"task": TASK, "type": "stdout", "follow": "true", "origin": "end", "offset": str(len(START))}
    requested = time.monotonic()
    with http.stream("GET", url, params=params, timeout=10) as r:
        assert r.status_code == 200
        reader = iter(FrameReader(r.iter_bytes()))
        assert data(next(reader)) == START.encode()  # flushed by the 200 ms batch window
        assert next(reader) == {}  # the heartbeat, once a second
        assert time.monotonic() - requested >= 0.9
        for _ in range(30):  # until Fabio's random pick lands on this allocation
            request(demo, "/followed")
            if "path=/followed" in plain(demo, alloc_id):
                break
        seen = b""
        for frame in reader:
            seen += data(frame)
            if b"path=/followed" in seen:
                break
        assert seen.startswith(b"2026/01/01 01:00:00 access ") and frame["Offset"] > len(START)
        # The task's end does not end the stream: the allocation stops, heartbeats go on.
        assert http.post(f"{demo.nomad_url}/v1/allocation/{alloc_id}/stop").status_code == 200
        demo.advance(2)
        assert http.get(f"{demo.nomad_url}/v1/allocation/{alloc_id}").json()["ClientStatus"] == "complete"
        assert next(reader) == {}


def test_a_crash_writes_stderr(demo):
    """The task's last words on stderr, then the restart tracker restarts it (restarts.go,
    RestartTracker.GetState) and the service starts again in the same log."""
    text = (JOBS_DIR / "httpsbackend-tcp-sni-1-rolling-update.nomad").read_text()
    text = text.replace(
        'type        = "service"\n', 'type        = "service"\n\n  meta {\n    nomadtui_demo_fail = "crash"\n  }\n', 1
    )
    job = http.post(f"{demo.nomad_url}/v1/jobs/parse", json={"JobHCL": text}).json()
    assert http.post(f"{demo.nomad_url}/v1/jobs", json={"Job": job}).status_code == 200
    demo.advance(1)
    new = next(a for a in allocs(demo) if a["JobVersion"] == 1)
    assert plain(demo, new["ID"]) == "2026/01/01 01:00:00 httpsbackendservice v1.0.1 listening on :7777\n"
    assert plain(demo, new["ID"], "stderr") == ""
    demo.advance(6)
    # Restarting: the task waits its restart delay, the allocation pending.
    assert http.get(f"{demo.nomad_url}/v1/allocation/{new['ID']}").json()["ClientStatus"] == "pending"
    assert plain(demo, new["ID"], "stderr") == (
        '2026/01/01 01:00:05 httpsbackendservice v1.0.1: fatal: nomadtui_demo_fail = "crash": exiting with status 1\n'
    )
    demo.advance(18)  # the restart delay: 15s and up to 25% jitter, then the start
    assert http.get(f"{demo.nomad_url}/v1/allocation/{new['ID']}").json()["ClientStatus"] == "running"
    assert plain(demo, new["ID"]).count("listening on :7777\n") == 2


@pytest.mark.parametrize(
    ("params", "status", "text"),
    [
        ({"task": ""}, 400, "must provide task name"),
        ({"type": ""}, 400, "must provide log type (stdout/stderr)"),
        ({"type": "both"}, 400, "must provide log type (stdout/stderr)"),
        ({"origin": "middle"}, 400, "origin must be start or end"),
        (
            {"follow": "yes"},
            400,
            'failed to parse follow field to boolean: strconv.ParseBool: parsing "yes": invalid syntax',
        ),
        ({"plain": "2"}, 400, 'failed to parse plain field to boolean: strconv.ParseBool: parsing "2": invalid syntax'),
        ({"offset": "1k"}, 400, 'error parsing offset: strconv.ParseInt: parsing "1k": invalid syntax'),
        ({"task": "web"}, 400, 'unknown task name "web"'),
    ],
)
def test_error_answers(demo, params, status, text):
    r = logs(demo, allocs(demo)[0]["ID"], **params)
    assert (r.status_code, r.text, r.headers["Content-Type"]) == (status, text, "text/plain; charset=utf-8")


def test_unknown_allocations_and_tasks_not_started(demo):
    r = logs(demo, "5e1c0000-0000-4000-8000-000000000000")
    assert (r.status_code, r.text) == (404, 'Unknown allocation "5e1c0000-0000-4000-8000-000000000000"')
    r = http.get(f"{demo.nomad_url}/v1/client/fs/logs/", params={"task": TASK, "type": "stdout"})
    assert (r.status_code, r.text) == (400, "must provide a valid alloc id")
    # The agent checks its parameters before it looks for the allocation.
    assert logs(demo, "nope", type="").text == "must provide log type (stdout/stderr)"
    text = (JOBS_DIR / "httpsbackend-tcp-sni-1-rolling-update.nomad").read_text()
    job = http.post(f"{demo.nomad_url}/v1/jobs/parse", json={"JobHCL": text}).json()
    http.post(f"{demo.nomad_url}/v1/jobs", json={"Job": job})
    demo.advance(0)  # placed, not started
    pending = next(a for a in allocs(demo) if a["ClientStatus"] == "pending")
    r = logs(demo, pending["ID"])
    assert (r.status_code, r.text) == (404, f'task "{TASK}" not started yet. No logs available')


def test_the_framer_and_find_closest_as_upstream():
    framer = StreamFramer(frame_size=4)
    framer.send("f.0", "", b"abc", 3)
    framer.send("f.0", "", b"de", 5)  # merged: the frame keeps its first offset
    framer.send("f.1", "", b"z", 1)  # another file flushes what is pending
    framer.flush()
    framer.heartbeat()
    framer.send("f.1", "file deleted", b"", 1)
    out = [f.encode() for f in framer.take()]
    assert out == [
        b'{"Offset":3,"Data":"YWJjZA==","File":"f.0"}',
        b'{"Offset":7,"Data":"ZQ==","File":"f.0"}',
        b'{"Offset":1,"Data":"eg==","File":"f.1"}',
        b"{}",
        b'{"Offset":1,"File":"f.1","FileEvent":"file deleted"}',
    ]
    entries = [(2, 10), (3, 5), (4, 0)]
    assert find_closest(entries, 0, 0) == (2, 0)
    assert find_closest(entries, 2**63 - 1, -3) == (3, 2)  # back through the empty newest file
    assert find_closest(entries, 0, 12) == (3, 2)
    assert find_closest(entries, 0, 99) == (4, 0)
    assert find_closest(entries, 2**63 - 1, -99) == (2, 0)


def test_the_rotator_writes_whole_lines():
    log = RotatedLog("t.stdout", max_files=2, file_size=64 * 1024)
    line = b"y" * 99 + b"\n"
    for _ in range(1400):
        log.write(line)
    sizes = dict(log.entries())  # 655 lines fit in a file: the third file has 90, the first is gone
    assert sizes == {1: 655 * len(line), 2: 90 * len(line)}
    assert all(len(content) % len(line) == 0 for content in log.files.values())
