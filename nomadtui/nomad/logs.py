"""A task's logs, followed as `nomad alloc logs -f` follows them.

Nomad's `/v1/client/fs/logs/:alloc_id` answers a stream of JSON frames written one after the
other with no separator (`{"Offset":..,"Data":"<base64>","File":..}`, and `{}` heartbeats while
nothing is written). The frames are decoded as they arrive; a dropped stream is resumed from the
last offset, with backoff: no line is lost (after a dropped stream a line may show twice, when
Nomad's framer had merged reads).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import codecs
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx

from ..settings import Settings
from .errors import BAD_RESPONSE, ClusterError, from_status, from_transport
from .http import query, read_error_text, request_extensions

TAIL_BYTES = 64 * 1024  # how much of the log to show when it opens (`nomad alloc logs -tail`)
MAX_BUFFER = 4 * 2**20  # bytes of one frame: Nomad's are 64 KiB; anything larger is not Nomad
RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0)


@dataclass(frozen=True)
class LogChunk:
    text: str  # decoded as UTF-8 (invalid bytes replaced); lines may be cut between chunks
    offset: int  # the file offset after this chunk


class FrameDecoder:
    """Nomad's stream of concatenated JSON frames, fed in arbitrary pieces."""

    def __init__(self) -> None:
        self._buffer = ""
        self._json = json.JSONDecoder()

    def feed(self, data: str) -> list[dict]:
        self._buffer += data
        frames, at = [], 0
        while True:
            while at < len(self._buffer) and self._buffer[at] in " \t\r\n":
                at += 1
            if at >= len(self._buffer):
                break
            try:
                frame, at = self._json.raw_decode(self._buffer, at)
            except json.JSONDecodeError:
                if len(self._buffer) - at > MAX_BUFFER:
                    raise ClusterError(BAD_RESPONSE, "Nomad's log stream is not a stream of frames.") from None
                break  # the rest of this frame is still on its way
            if not isinstance(frame, dict):
                raise ClusterError(BAD_RESPONSE, "Nomad's log stream holds something that is not a frame.")
            frames.append(frame)
        self._buffer = self._buffer[at:]
        return frames


async def follow(
    http: httpx.AsyncClient,
    settings: Settings,
    alloc_id: str,
    task: str,
    kind: str,
    *,
    namespace: str,
    on_error: Callable[[ClusterError | None], None] = lambda error: None,
    tail: int = TAIL_BYTES,
) -> AsyncIterator[LogChunk]:
    """The task's `kind` log ("stdout" or "stderr"): its last `tail` bytes, then what it writes,
    until the caller stops. Failures are reported to `on_error` (None once it flows again) and
    retried; a refusal that retrying cannot mend (no such task, a denied token) ends it."""
    offset: int | None = None  # None: not read yet (start `tail` bytes before the end)
    failures = 0
    while True:
        try:
            async for chunk in _stream(http, settings, alloc_id, task, kind, namespace, offset, tail):
                if failures:
                    failures = 0
                    on_error(None)
                offset = chunk.offset
                if chunk.text:
                    yield chunk
        except ClusterError as error:
            on_error(error)
            if error.status is not None and 400 <= error.status < 500 and error.status != 429:
                return  # retrying cannot mend it
        await asyncio.sleep(RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)])
        failures += 1


async def _stream(
    http: httpx.AsyncClient,
    settings: Settings,
    alloc_id: str,
    task: str,
    kind: str,
    namespace: str,
    offset: int | None,
    tail: int,
) -> AsyncIterator[LogChunk]:
    path = f"/v1/client/fs/logs/{alloc_id}"
    params = query(settings, namespace, task=task, type=kind, follow="true", plain="false")
    if offset is None:
        params.update(origin="end", offset=str(tail))
    else:
        params.update(origin="start", offset=str(offset))
    decoder, text = FrameDecoder(), codecs.getincrementaldecoder("utf-8")("replace")
    try:
        # No read timeout: a followed log is quiet for as long as the task is (heartbeats aside).
        timeout = httpx.Timeout(10.0, read=None)
        async with http.stream(
            "GET", path, params=params, timeout=timeout, extensions=request_extensions(settings)
        ) as resp:
            if resp.status_code >= 400:
                raise from_status(
                    resp.status_code,
                    await read_error_text(resp),
                    action=f"read the {kind} of task '{task}'",
                    capability="read-logs",
                    namespace=namespace,
                    subject=f"allocation {alloc_id[:8]}",
                    content_type=resp.headers.get("Content-Type", ""),
                    address=str(http.base_url),
                )
            async for piece in resp.aiter_text():
                for frame in decoder.feed(piece):
                    chunk = _chunk(frame, text, offset)
                    if chunk is not None:
                        offset = chunk.offset
                        yield chunk
    except httpx.HTTPError as e:
        raise from_transport(e, str(http.base_url)) from None


def _chunk(frame: dict, text: codecs.IncrementalDecoder, offset: int | None) -> LogChunk | None:
    data = frame.get("Data")
    if not data:
        return None  # a heartbeat, or a file event
    try:
        raw = base64.b64decode(data, validate=True) if isinstance(data, str) else b""
    except (binascii.Error, ValueError):
        raise ClusterError(BAD_RESPONSE, "Nomad's log stream holds a frame whose data is not base64.") from None
    # A frame's Offset is where Nomad's reader stood after the frame's first read (the framer
    # merges the reads of 200 ms into one frame): where the data ends is at least that, and at
    # least what came before plus this data.
    reported = frame.get("Offset")
    reported = reported if isinstance(reported, int) and not isinstance(reported, bool) else 0
    end = max(reported, offset + len(raw)) if offset is not None else reported or len(raw)
    return LogChunk(text.decode(raw), end)
