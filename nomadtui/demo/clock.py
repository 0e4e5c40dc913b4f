"""Time for the demo cluster: wall-clock timestamps, rollout durations divided by a speed factor.

Timestamps the API reports (CreateTime, RequireProgressBy, ...) are real, so the UI's ages read
true; only the waits a rollout is made of (min_healthy_time, deadlines, task start-up) shrink,
so `--speed 10` plays a 30 s min_healthy_time in 3 s. A manual clock moves only when told to,
which makes tests deterministic.
"""

from __future__ import annotations

import time


class Clock:
    """Real time; `speed` times faster for every duration the cluster waits."""

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._manual_now: float | None = None

    @property
    def manual(self) -> bool:
        return self._manual_now is not None

    def now(self) -> float:
        """Seconds since the epoch."""
        return time.time() if self._manual_now is None else self._manual_now

    def scaled(self, seconds: float) -> float:
        """How long a rollout duration of `seconds` really takes on this clock."""
        return seconds / self.speed

    # Manual mode: used by tests, and to replay the demo's history at start-up.

    def freeze(self, at: float | None = None) -> None:
        self._manual_now = self.now() if at is None else at

    def set(self, at: float) -> None:
        if self._manual_now is None:
            raise RuntimeError("the clock is not frozen")
        self._manual_now = max(self._manual_now, at)

    def unfreeze(self) -> None:
        self._manual_now = None


class ManualClock(Clock):
    """A clock that starts frozen: time passes only through the cluster's `advance()`."""

    def __init__(self, start: float = 1_767_225_600.0, speed: float = 1.0) -> None:
        super().__init__(speed)
        self.freeze(start)
