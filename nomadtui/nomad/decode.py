"""Turning a watch's answer into records without stalling the UI's loop.

A 10,000-job list is 6 MB of JSON: decoding it with one `json.loads` holds the GIL for 50 ms
or more, and building records from it takes as long again. Large answers are decoded in a
thread one array element at a time, so the loop gets the GIL back every few milliseconds.
"""

from __future__ import annotations

import contextlib
import gc
import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from .threads import in_thread

T = TypeVar("T")

LARGE_BODY = 256 * 1024          # bytes; smaller answers are decoded on the loop at once
_WS = re.compile(r"[ \t\n\r]*")
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
    i = _WS.match(text).end()
    if not text.startswith("[", i):
        return json.loads(text)
    items: list[Any] = []
    i = _WS.match(text, i + 1).end()
    if text.startswith("]", i):
        return _end(text, i, items)
    while True:
        item, i = _DECODER.raw_decode(text, i)
        items.append(item)
        if yield_gil and not len(items) % 128:
            time.sleep(0)
        i = _WS.match(text, i).end()
        if text.startswith("]", i):
            return _end(text, i, items)
        if not text.startswith(",", i):
            raise ValueError(f"expected ',' or ']' at char {i}")
        i = _WS.match(text, i + 1).end()


def _end(text: str, i: int, items: list[Any]) -> list[Any]:
    if _WS.match(text, i + 1).end() != len(text):
        raise ValueError(f"extra data at char {i + 1}")
    return items


def decode_parse(content: bytes, parse: Callable[[Any], T], *, yield_gil: bool = False) -> T:
    with collector_paused():
        return parse(loads(content.decode("utf-8"), yield_gil=yield_gil))


async def parse_body(content: bytes, parse: Callable[[Any], T]) -> T:
    """`parse(JSON of content)`: on the loop when small, in a thread when large."""
    if len(content) < LARGE_BODY:
        return decode_parse(content, parse)
    return await in_thread(lambda: decode_parse(content, parse, yield_gil=True))
