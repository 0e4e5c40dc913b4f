"""The demo cluster's timers: everything that happens later (an evaluation, a task starting, a
health check passing, a progress deadline) is a function due at a time on the cluster's clock.

Timers due at the same time fire in the order they were set. `run_due()` fires those that are
due; with a manual clock, time moves only through `advance_to()`.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

from .clock import Clock


class Timers:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self.on_timer: Callable[[], None] = lambda: None  # the server's driver wakes up
        self.on_fire: Callable[[], None] | None = None  # told before each timer runs

    def after(self, seconds: float, fn: Callable[[], None]) -> None:
        """Run `fn` once a rollout duration of `seconds` has elapsed (scaled by the clock)."""
        self.at(self.clock.now() + self.clock.scaled(seconds), fn)

    def at(self, when: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (when, next(self._seq), fn))
        self.on_timer()

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def run_due(self) -> None:
        while self._heap and self._heap[0][0] <= self.clock.now():
            _, _, fn = heapq.heappop(self._heap)
            if self.on_fire is not None:
                self.on_fire()
            fn()

    def advance_to(self, target: float) -> None:
        """Manual clock only: move to `target`, firing timers in order."""
        if not self.clock.manual:
            raise RuntimeError("advance() needs a manual clock")
        self.run_due()
        while self._heap and self._heap[0][0] <= target:
            self.clock.set(self._heap[0][0])
            self.run_due()
        self.clock.set(target)
        self.run_due()
