"""Run a blocking call (python-nomad) off the event loop, in a daemon thread.

Not the default executor: its threads are joined when the interpreter exits, so one slow
request would hold up quitting. A daemon thread is simply abandoned.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

from ..aio import wait_future

T = TypeVar("T")


async def in_thread(fn: Callable[[], T], timeout: float | None = None) -> T:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(setter: Callable, value) -> None:
        if not future.done():
            setter(value)

    def target() -> None:
        try:
            result = fn()
        except BaseException as e:
            hand_over(future.set_exception, e)
        else:
            hand_over(future.set_result, result)

    def hand_over(setter: Callable, value: object) -> None:
        try:
            loop.call_soon_threadsafe(settle, setter, value)
        except RuntimeError:
            pass  # the loop is gone: nobody is waiting any more

    threading.Thread(target=target, name="nomadtui-call", daemon=True).start()
    try:
        finished = await wait_future(future, timeout)
    except asyncio.CancelledError:
        future.cancel()  # nobody waits any more: the thread's outcome is dropped, not left unread
        raise
    if not finished:
        future.cancel()
        raise TimeoutError(f"no answer within {timeout:g}s")
    return future.result()
