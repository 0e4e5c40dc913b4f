"""Turning a watch's answer into records without stalling the UI's loop.

A 10,000-job list is 6 MB of JSON: decoding it with one `json.loads` holds the GIL for 50 ms
or more, and building records from it takes as long again. Large answers are decoded in a
thread one array element at a time, so the loop gets the GIL back every few milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from .threads import in_thread

T = TypeVar("T")

LARGE_BODY = 256 * 1024  # bytes; smaller answers are decoded on the loop at once
_DECODER = json.JSONDecoder()


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Decoding a 10,000-job list makes half a million objects that live only until the records
    are built. With the cyclic collector running they survive into its oldest generation and
    set off full collections of the whole heap (150 ms each at 10,000 jobs); reference
    counting frees them just as well without it."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def loads(text: str, *, yield_gil: bool = False) -> Any:
    """`json.loads`, taking a top-level array one element at a time. With `yield_gil` (in a
    thread) the GIL is offered to the loop every few hundred elements, instead of the loop
    waiting out the interpreter's 5 ms switch interval each time it wants it back."""
    if not _is_array(text):
        return json.loads(text)
    return list(elements(text, yield_gil=yield_gil))


def elements(text: str, *, yield_gil: bool = False) -> Iterator[Any]:
    """The elements of a top-level JSON array, decoded one at a time as they are taken: a consumer
    that turns each into a record never holds the whole throw-away tree (a 50 MB list of small
    objects is half a gigabyte of it)."""
    i = _skip(text, 0)
    if not text.startswith("[", i):
        raise ValueError(f"expected '[' at char {i}")
    i = _skip(text, i + 1)
    count = 0
    if text.startswith("]", i):
        _end(text, i)
        return
    while True:
        item, i = _DECODER.raw_decode(text, i)
        yield item
        count += 1
        if yield_gil and not count % 128:
            time.sleep(0)
        i = _skip(text, i)
        if text.startswith("]", i):
            _end(text, i)
            return
        if not text.startswith(",", i):
            raise ValueError(f"expected ',' or ']' at char {i}")
        i = _skip(text, i + 1)


_WS = re.compile(r"[ \t\n\r]*")


def _skip(text: str, i: int) -> int:
    """The position of the first non-whitespace character at or after `i`."""
    match = _WS.match(text, i)
    return match.end() if match else i


def _is_array(text: str) -> bool:
    return text.startswith("[", _skip(text, 0))


def _end(text: str, i: int) -> None:
    if _skip(text, i + 1) != len(text):
        raise ValueError(f"extra data at char {i + 1}")


def decode_parse(content: bytes, parse: Callable[[Any], T], *, yield_gil: bool = False, stream: bool = False) -> T:
    """`parse` of the JSON in `content`; with `stream`, a top-level array reaches `parse` as an
    iterator of its elements (see `elements`)."""
    text = content.decode("utf-8")
    with collector_paused():
        if stream and _is_array(text):
            return parse(elements(text, yield_gil=yield_gil))
        return parse(loads(text, yield_gil=yield_gil))


async def parse_body(content: bytes, parse: Callable[[Any], T], *, stream: bool = False) -> T:
    """`parse(JSON of content)`: on the loop when small, in a thread when large."""
    if len(content) < LARGE_BODY:
        return decode_parse(content, parse, stream=stream)
    return await in_thread(lambda: _decode_large(content, parse, stream))


# One large answer is decoded at a time: its throw-away JSON can be ten times its size, and a
# proxy that sends 50 MB to every watch at once must not multiply that by the number of watches.
_LARGE = threading.Lock()


def _decode_large(content: bytes, parse: Callable[[Any], T], stream: bool) -> T:
    with _LARGE:
        try:
            return decode_parse(content, parse, yield_gil=True, stream=stream)
        finally:
            release_memory()


def release_memory() -> None:
    """Give the heap that the last large answer's throw-away JSON freed back to the system. The
    allocator keeps freed memory for reuse; after a burst of large answers that would leave the
    process at its peak size for good. (glibc only; elsewhere a no-op.)"""
    if _malloc_trim is not None:
        _malloc_trim(0)


_release_pending = False


def release_memory_soon() -> None:
    """`release_memory()` in a thread a second from now (once, however often it is asked for):
    for the records of a large answer, which are freed only when the state that holds them is
    replaced, after the answer that replaces them has been decoded."""
    global _release_pending
    if _release_pending or _malloc_trim is None:
        return
    _release_pending = True

    def release() -> None:
        global _release_pending
        _release_pending = False
        threading.Thread(target=release_memory, name="nomadtui-trim", daemon=True).start()

    asyncio.get_running_loop().call_later(1.0, release)


def _find_malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


_malloc_trim = _find_malloc_trim()
