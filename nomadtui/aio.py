"""Waiting with a timeout without `asyncio.wait_for`, which on Python 3.11 can swallow a
cancellation when the awaited thing finishes in the same loop pass (then quitting hangs)."""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, timeout: float | None) -> bool:
    """True if `event` was set within `timeout` seconds."""
    waiter = asyncio.ensure_future(event.wait())
    try:
        done, _ = await asyncio.wait({waiter}, timeout=timeout)
        return waiter in done
    finally:
        waiter.cancel()


async def wait_future(future: asyncio.Future, timeout: float | None) -> bool:
    """True if `future` finished within `timeout` seconds (it is never cancelled here)."""
    done, _ = await asyncio.wait({future}, timeout=timeout)
    return future in done
