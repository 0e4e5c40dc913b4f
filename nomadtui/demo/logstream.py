"""`GET /v1/client/fs/logs/:alloc_id`: a task's stdout or stderr, as a Nomad agent streams it.

The request is checked as the agent's Logs handler checks it (command/agent/fs_endpoint.go), the
allocation as the server's FileSystem.logs finds it (nomad/client_fs_endpoint.go), the task as
the client's FileSystem.logs does (client/fs_endpoint.go); then logsImpl walks the rotated files
(findClosest picks where to start) and the stream framer (client/lib/streamframer/framer.go)
batches what it reads into StreamFrames: JSON objects written one after the other, `{}` as the
heartbeat every second while the stream is open, or the bytes alone with `plain=true`.

With `follow` the stream stays open until the client goes away, whatever the task does (Nomad
ends it only when the allocation's directory is garbage collected, which the demo never does);
without it, it ends at the end of the newest file. Waiting costs the server's loop nothing: a
follower sleeps until a log is written or one of its framer's tickers is due.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import json
from collections.abc import AsyncIterator, Generator, Iterator
from dataclasses import dataclass

from starlette.datastructures import QueryParams
from starlette.responses import Response, StreamingResponse

from ..aio import wait_future
from . import gostrconv, query
from .cluster import Cluster
from .gostrconv import quote
from .store import NomadError
from .structs import lookup_task_group
from .tasklogs import LOG_DIR, RotatedLog

STREAM_FRAME_SIZE = 64 * 1024  # streamFrameSize (client/fs_endpoint.go)
HEARTBEAT_SECONDS = 1.0  # streamHeartbeatRate
BATCH_WINDOW_SECONDS = 0.2  # streamBatchWindow
DELETE_EVENT = "file deleted"  # deleteEvent
MAX_INT64 = 2**63 - 1


@dataclass
class LogsRequest:
    """cstructs.FsLogsRequest."""

    alloc_id: str
    task: str
    log_type: str
    offset: int
    origin: str
    plain: bool
    follow: bool


def parse_request(alloc_id: str, q: QueryParams) -> LogsRequest:
    """The agent's Logs (command/agent/fs_endpoint.go): its checks, in its order, and its texts."""
    if not alloc_id:
        raise NomadError(400, "must provide a valid alloc id")
    task = query.get(q, "task")
    if not task:
        raise NomadError(400, "must provide task name")
    flags = {}
    for name in ("follow", "plain"):
        text = query.get(q, name)
        try:
            flags[name] = gostrconv.parse_bool(text) if text else False
        except gostrconv.NumError as e:
            raise NomadError(400, f"failed to parse {name} field to boolean: {e}") from None
    log_type = query.get(q, "type")
    if log_type not in ("stdout", "stderr"):
        raise NomadError(400, "must provide log type (stdout/stderr)")
    offset = 0
    if text := query.get(q, "offset"):
        try:
            offset = gostrconv.parse_int(text)
        except gostrconv.NumError as e:
            raise NomadError(400, f"error parsing offset: {e}") from None
    origin = query.get(q, "origin") or "start"
    if origin not in ("start", "end"):
        raise NomadError(400, "origin must be start or end")
    return LogsRequest(alloc_id, task, log_type, offset, origin, flags["plain"], flags["follow"])


def open_log(cluster: Cluster, req: LogsRequest) -> RotatedLog:
    """The log the request names, or Nomad's error: the server's FileSystem.logs looks the
    allocation up (getAlloc, nomad/client_fs_endpoint.go), the client's checks the task
    (FileSystem.logs, client/fs_endpoint.go), logsImpl's findClosest finds no file when logmon
    never ran (logs disabled)."""
    alloc = cluster.store.allocs.get(req.alloc_id)
    if alloc is None:
        raise NomadError(404, f"Unknown allocation {quote(req.alloc_id)}")
    tasks = {t["Name"] for t in lookup_task_group(alloc["_job"], alloc["TaskGroup"])["Tasks"]}
    states = alloc.get("TaskStates") or {}
    if req.task not in tasks and req.task not in states:
        raise NomadError(400, f"unknown task name {quote(req.task)}")
    if not (states.get(req.task) or {}).get("StartedAt"):
        raise NomadError(404, f"task {quote(req.task)} not started yet. No logs available")
    log = cluster.logs.open(alloc, req.task)
    if log is None:
        raise NomadError(404, f"log entry for task {quote(req.task)} and log type {quote(req.log_type)} not found")
    return log.of(req.log_type)


# --- the stream framer (client/lib/streamframer/framer.go) -------------------------------------


@dataclass
class StreamFrame:
    offset: int = 0
    data: bytes | None = None
    file: str = ""
    file_event: str = ""

    def is_cleared(self) -> bool:
        return self.offset == 0 and self.data is None and not self.file and not self.file_event

    def copy(self) -> StreamFrame:
        return StreamFrame(self.offset, bytes(self.data or b""), self.file, self.file_event)

    def encode(self) -> bytes:
        """As the client's codec JsonHandle writes it: every field `omitempty`, Data in base64,
        nothing between one frame and the next."""
        parts = []
        if self.offset:
            parts.append(f'"Offset":{self.offset}')
        if self.data:
            parts.append(f'"Data":"{base64.b64encode(self.data).decode()}"')
        if self.file:
            parts.append(f'"File":{json.dumps(self.file, ensure_ascii=False)}')
        if self.file_event:
            parts.append(f'"FileEvent":{json.dumps(self.file_event)}')
        return ("{" + ",".join(parts) + "}").encode()


HEARTBEAT = StreamFrame()


class StreamFramer:
    """StreamFramer without its goroutine: `send` (Send), `flush` (the batch window ticker),
    `heartbeat` (the heartbeat ticker) and `destroy` (run's last flush) put frames on `out`.
    Its arithmetic is upstream's, quirks included: a frame's Offset is where the reader stood
    after the frame's first read, not where its data starts."""

    def __init__(self, frame_size: int = STREAM_FRAME_SIZE) -> None:
        self.frame_size = frame_size
        self.frame = StreamFrame()
        self.data = bytearray()
        self.out: list[StreamFrame] = []

    def _read_data(self) -> bytes | None:
        size = min(len(self.data), self.frame_size)
        if size == 0:
            return None
        chunk = bytes(self.data[:size])
        del self.data[:size]
        return chunk

    def _send(self) -> None:
        self.frame.data = self._read_data()
        self.out.append(self.frame.copy())
        self.frame = StreamFrame()

    def send(self, file: str, file_event: str, data: bytes, offset: int) -> None:
        f = self.frame
        if not f.is_cleared() and (f.file != file or f.file_event != file_event):
            self._send()  # not mergeable: flush the old frame
            f = self.frame
        if f.is_cleared():
            f.offset, f.file, f.file_event = offset, file, file_event
        self.data += data
        force = not self.data and f.file_event != ""
        while len(self.data) >= self.frame_size or force:
            force = False
            f.data = self._read_data()
            self.out.append(f.copy())
            f.offset += len(f.data or b"")

    def flush(self) -> None:
        if not self.frame.is_cleared():
            self._send()

    def heartbeat(self) -> None:
        self.out.append(HEARTBEAT)

    def destroy(self) -> None:
        if not self.frame.is_cleared():
            self.frame.data = self._read_data()
            if self.frame.data:
                self.out.append(self.frame.copy())

    def take(self) -> list[StreamFrame]:
        out, self.out = self.out, []
        return out


# --- logsImpl, findClosest, streamFile (client/fs_endpoint.go) --------------------------------


def find_closest(entries: list[tuple[int, int]], desired_idx: int, desired_offset: int) -> tuple[int, int]:
    """findClosest: the file (the first whose index is at least `desired_idx`, else the last)
    and the offset in it, a negative `desired_offset` counting back from its end and into the
    files before it, a positive one forward into the files after it, clamped at both ends."""
    indexes = sorted(entries)
    i = min(bisect.bisect_left([idx for idx, _ in indexes], desired_idx), len(indexes) - 1)
    offset = desired_offset
    while offset != 0:
        size = indexes[i][1]
        if offset < 0:
            if size + offset >= 0 or i == 0:
                offset = max(size + offset, 0)
                break
            offset, i = size + offset, i - 1
        elif offset <= size:
            break
        elif i == len(indexes) - 1:
            offset = size
            break
        else:
            offset, i = offset - size, i + 1
    return indexes[i][0], offset


def logs_impl(log: RotatedLog, req: LogsRequest, framer: StreamFramer) -> Iterator[None]:
    """logsImpl: stream file after file into the framer; yields whenever it waits for the log to
    change (only with follow), returns at the end of the newest file without it."""
    next_idx, offset = (0, req.offset) if req.origin == "start" else (MAX_INT64, -req.offset)
    while True:
        entries = log.entries()
        max_index = MAX_INT64 if req.follow else find_closest(entries, MAX_INT64, 0)[0]
        idx, open_offset = find_closest(entries, next_idx, offset)
        if idx > max_index:
            return  # exceeded what was there initially
        last = idx == max_index
        if not (yield from stream_file(log, idx, open_offset, framer, cancel_after_first_eof=last)):
            continue  # rotated out from under us: list again
        if last:
            return
        offset, next_idx = 0, idx + 1


def stream_file(
    log: RotatedLog, idx: int, offset: int, framer: StreamFramer, *, cancel_after_first_eof: bool
) -> Generator[None, None, bool]:
    """streamFile: read the file in frame-sized reads from `offset`; at its end wait for it to
    grow, to be deleted (a "file deleted" frame) or for a later file to exist (then read once
    more and stop: blockUntilNextLog). False if the file no longer exists."""
    content = log.files.get(idx)
    if content is None:
        return False
    path = f"{LOG_DIR}/{log.name(idx)}"
    cancel_received = cancel_after_first_eof
    while True:
        chunk = bytes(content[offset : offset + STREAM_FRAME_SIZE])
        offset += len(chunk)
        if chunk:
            framer.send(path, "", chunk, offset)
            continue
        if cancel_received:
            return True
        while len(content) <= offset:
            if idx not in log.files:
                framer.send(path, DELETE_EVENT, b"", offset)
                return True
            if any(i > idx for i in log.files):
                cancel_received = True
                break
            yield


# --- the HTTP side -------------------------------------------------------------------------------


class LogWaker:
    """Wakes the followers when any task's log is written."""

    def __init__(self) -> None:
        self._future: asyncio.Future | None = None

    def notify(self) -> None:
        future, self._future = self._future, None
        if future is not None and not future.done():
            future.set_result(None)

    async def wait(self, timeout: float) -> None:
        if self._future is None:
            self._future = asyncio.get_running_loop().create_future()
        await wait_future(self._future, max(0.0, timeout))


class _Ticker:
    """time.Ticker: due every `period` from its start; a tick not taken in time is dropped."""

    def __init__(self, start: float, period: float) -> None:
        self.period = period
        self.due = start + period

    def take(self, now: float) -> bool:
        if now < self.due:
            return False
        while self.due <= now:
            self.due += self.period
        return True


def _encode(frames: list[StreamFrame], plain: bool) -> bytes:
    """What the agent copies to the response for each frame (client FileSystem.logs, then
    fsStreamImpl): its data alone with `plain`, the JSON frame otherwise."""
    if plain:
        return b"".join(f.data or b"" for f in frames)
    return b"".join(f.encode() for f in frames)


async def _body(log: RotatedLog, req: LogsRequest, waker: LogWaker) -> AsyncIterator[bytes]:
    framer = StreamFramer()
    steps = logs_impl(log, req, framer)
    loop = asyncio.get_running_loop()
    start = loop.time()
    flusher, heartbeat = _Ticker(start, BATCH_WINDOW_SECONDS), _Ticker(start, HEARTBEAT_SECONDS)
    while True:
        finished = next(steps, StopIteration) is StopIteration
        if finished:
            framer.destroy()
        if chunk := _encode(framer.take(), req.plain):
            yield chunk
            await asyncio.sleep(0)  # a big first read is sent frame batch by frame batch
        if finished:
            return
        await waker.wait(min(flusher.due, heartbeat.due) - loop.time())
        now = loop.time()
        if flusher.take(now):
            framer.flush()
        if heartbeat.take(now):
            framer.heartbeat()


def logs_response(cluster: Cluster, alloc_id: str, q: QueryParams, waker: LogWaker) -> Response:
    """The whole endpoint: the checks (errors are plain text with Nomad's codes), then the stream.
    Nomad parses the query options after its own checks and before the RPC; a bad one there
    (`Invalid index`, ...) comes out garbled in front of the stream, which the demo answers as a
    plain 400, as it does for the event stream."""
    req = parse_request(alloc_id, q)
    query.query_options(q)
    log = open_log(cluster, req)
    content_type = "text/plain" if req.plain else "application/json"
    return StreamingResponse(_body(log, req, waker), headers={"content-type": content_type})
