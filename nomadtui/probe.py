"""Where traffic really goes: a steady stream of requests through the load balancer, each
answer's version counted, compared with the share Fabio's route table promises.

Fabio's table says a canary gets 25 %; the probe asks the listener a few times a second and
reads the version from each answer (`this is httpsbackendservice, version: v1.0.2`). Shares come
with a 95 % Wilson score interval, so "12 % observed, 25 % configured" is only called a mismatch
once the samples say so. Everything here is UI-free: the UI renders `ProbeSnapshot`s and
`Finding`s.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import ssl
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from .model import TaskGroupSpec
from .nomad.http import verify_for

if TYPE_CHECKING:
    from .model import Allocation, Route
    from .state import ClusterState

MAX_RATE = 50.0  # requests per second; a probe must never become a load test
UPDATE_EVERY = 0.5  # seconds between on_update calls
HISTORY_BUCKETS = 12
ERROR_RATIO = 0.05
UNKNOWN = "?"  # ClusterState.version_label() of a target not tied to an allocation
_Z95 = 1.959963984540054

OK, ERROR, TIMEOUT = "ok", "error", "timeout"


# --- configuration -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProbeConfig:
    url: str
    host: str | None = None  # Host header to send (Fabio routes HTTP by it)
    sni: str | None = None  # TLS server name for https URLs (tcp+sni routes by it)
    version_regex: str = r"version:\s*(\S+)"
    version_header: str | None = None  # read the version from this header, not the body
    rate: float = 5.0  # requests per second, 0 < rate <= MAX_RATE
    timeout: float = 2.0  # seconds per request
    window: float = 60.0  # seconds of sliding window
    verify: bool | ssl.SSLContext = True
    max_in_flight: int | None = None  # None: ceil(rate * timeout) + 1

    def __post_init__(self) -> None:
        try:
            url = httpx.URL(self.url)
        except httpx.InvalidURL as e:
            raise ValueError(f"url {self.url!r} is not a URL: {e}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"url must be an http:// or https:// URL with a host, not {self.url!r}")
        if not (0 < self.rate <= MAX_RATE):  # also rejects NaN
            raise ValueError(f"rate must be above 0 and at most {MAX_RATE:g} requests per second, not {self.rate}")
        if not (0 < self.timeout < math.inf):
            raise ValueError(f"timeout must be a positive number of seconds, not {self.timeout}")
        if not (0 < self.window < math.inf):
            raise ValueError(f"window must be a positive number of seconds, not {self.window}")
        if self.max_in_flight is not None and self.max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, not {self.max_in_flight}")
        try:
            re.compile(self.version_regex)
        except re.error as e:
            raise ValueError(f"version_regex is not a regular expression: {e}") from None

    @property
    def in_flight_cap(self) -> int:
        """Enough for every request of one timeout period, plus one: beyond that the URL is
        slower than the timeout allows and more requests would only pile up."""
        return self.max_in_flight or math.ceil(self.rate * self.timeout) + 1


# --- results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    at: float  # when the answer (or its failure) arrived, on the probe's clock
    version: str | None
    latency: float  # seconds
    outcome: str  # "ok" | "error" | "timeout"


@dataclass(frozen=True)
class VersionStats:
    version: str
    count: int
    share: float  # of the answers with a version
    low: float  # 95 % Wilson score interval of the share
    high: float
    p50: float  # latency in ms, nearest rank
    p95: float
    p99: float
    last_seen: float


@dataclass(frozen=True)
class ProbeSnapshot:
    answered: int  # answers with a version, in the window
    errors: int
    timeouts: int
    sent: int
    skipped: int  # ticks not sent: the in-flight cap was reached or the loop was late
    in_flight: int
    versions: tuple[VersionStats, ...]
    # version -> share per bucket of window/12, oldest first; None: no answers in that bucket
    history: Mapping[str, tuple[float | None, ...]]
    started_at: float | None
    as_of: float
    rate: float
    window: float
    last_error: str = ""

    def stats(self, version: str) -> VersionStats | None:
        return next((v for v in self.versions if v.version == version), None)


# --- statistics --------------------------------------------------------------------------------


def wilson(count: int, total: int, z: float = _Z95) -> tuple[float, float]:
    """The Wilson score interval of count/total; (0, 1) when nothing was observed."""
    if total <= 0:
        return 0.0, 1.0
    p = count / total
    denominator = 1 + z * z / total
    center = (p + z * z / (2 * total)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    low, high = max(0.0, center - half), min(1.0, center + half)
    # Exact ends: all or none observed must include 1 or 0, not stop at 0.9999999999.
    return (0.0 if count <= 0 else low), (1.0 if count >= total else high)


def nearest_rank(sorted_values: list[float], percent: float) -> float:
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(percent / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def version_key(version: str) -> tuple:
    """`v1.0.9` before `v1.0.10`."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.findall(r"\d+|\D+", version))


def summarize(
    answers: Iterable[Answer], *, as_of: float, window: float, buckets: int = HISTORY_BUCKETS
) -> tuple[tuple[VersionStats, ...], dict[str, tuple[float | None, ...]]]:
    """Per-version statistics and history of the answers in (as_of - window, as_of]."""
    ok = [a for a in answers if a.outcome == OK and a.version is not None and as_of - window < a.at <= as_of]
    by_version: dict[str, list[Answer]] = {}
    for a in ok:
        by_version.setdefault(a.version, []).append(a)  # type: ignore[arg-type]
    names = sorted(by_version, key=version_key)
    stats = tuple(_version_stats(name, by_version[name], len(ok)) for name in names)

    width = window / buckets
    per_bucket: list[Counter[str]] = [Counter() for _ in range(buckets)]
    for a in ok:
        index = min(buckets - 1, int((a.at - (as_of - window)) / width))
        per_bucket[index][a.version] += 1  # type: ignore[index]
    totals = [sum(c.values()) for c in per_bucket]
    history = {name: tuple(c[name] / n if n else None for c, n in zip(per_bucket, totals)) for name in names}
    return stats, history


def _version_stats(version: str, answers: list[Answer], answered: int) -> VersionStats:
    latencies = sorted(a.latency * 1000 for a in answers)
    low, high = wilson(len(answers), answered)
    return VersionStats(
        version,
        len(answers),
        len(answers) / answered,
        low,
        high,
        nearest_rank(latencies, 50),
        nearest_rank(latencies, 95),
        nearest_rank(latencies, 99),
        max(a.at for a in answers),
    )


# --- the probe ---------------------------------------------------------------------------------


class Probe:
    """Sends one request per 1/rate seconds, each in its own task, and keeps a sliding window
    of what came back."""

    def __init__(
        self,
        config: ProbeConfig,
        *,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_update: Callable[[ProbeSnapshot], None] | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.on_update = on_update
        self._owns_http = http is None
        # No keep-alive: Fabio picks a target per connection for tcp+sni routes, so a reused
        # connection would see one backend forever.
        self.http = http or httpx.AsyncClient(
            verify=verify_for(config.url, config.verify),
            timeout=config.timeout,
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        self._regex = re.compile(config.version_regex)
        self._answers: deque[Answer] = deque()
        self._sent: deque[float] = deque()
        self._skipped: deque[float] = deque()
        self._tasks: set[asyncio.Task] = set()
        self._started_at: float | None = None
        self._running = False
        self._window_ticks = 0
        self.last_error = ""

    async def __aenter__(self) -> Probe:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    # --- the schedule --------------------------------------------------------------------------

    async def run(self) -> None:
        """Probe until cancelled; cancelling also cancels the requests in flight."""
        if self._running:
            raise RuntimeError("this probe is already running")
        self._running = True
        interval = 1 / self.config.rate
        self._window_ticks = math.ceil(self.config.rate * self.config.window)  # more would be pruned anyway
        now = self._started_at = self.clock()
        next_tick, next_update = now, now + UPDATE_EVERY
        try:
            while True:
                now = self.clock()
                if now >= next_tick:
                    # Ticks the loop was too late for are skipped, never sent in a burst.
                    late = int((now - next_tick) / interval)
                    for _ in range(min(late, self._window_ticks)):
                        self._skipped.append(now)
                    self._tick(now)
                    next_tick += (late + 1) * interval
                if now >= next_update:
                    next_update = now + UPDATE_EVERY
                    if self.on_update is not None:
                        self.on_update(self.snapshot())
                await asyncio.sleep(max(0.0, min(next_tick, next_update) - self.clock()))
        finally:
            self._running = False
            await self._cancel_in_flight()

    def _tick(self, now: float) -> None:
        if len(self._tasks) >= self.config.in_flight_cap:
            self._skipped.append(now)
            return
        self._sent.append(now)
        task = asyncio.get_running_loop().create_task(self._request(now))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _cancel_in_flight(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)

    # --- one request ---------------------------------------------------------------------------

    async def _request(self, sent_at: float) -> None:
        cfg = self.config
        headers = {"Connection": "close"}
        if cfg.host:
            headers["Host"] = cfg.host
        extensions = {"sni_hostname": cfg.sni} if cfg.sni else {}
        try:
            # wait_for bounds the whole exchange; httpx's timeout applies per phase.
            response = await asyncio.wait_for(
                self.http.get(cfg.url, headers=headers, extensions=extensions, timeout=cfg.timeout), cfg.timeout
            )
        except (asyncio.TimeoutError, httpx.TimeoutException):
            self._record(sent_at, None, TIMEOUT, f"no answer within {cfg.timeout:g} s")
            return
        except httpx.HTTPError as e:
            self._record(sent_at, None, ERROR, _describe(e))
            return
        if not response.is_success:
            self._record(sent_at, None, ERROR, f"HTTP {response.status_code}")
            return
        version = self._version_of(response)
        if version is None:
            where = f"header {cfg.version_header}" if cfg.version_header else "body"
            self._record(sent_at, None, ERROR, f"no version in the answer's {where}")
        else:
            self._record(sent_at, version, OK)

    def _version_of(self, response: httpx.Response) -> str | None:
        if self.config.version_header:
            value = response.headers.get(self.config.version_header, "").strip()
            return value or None
        match = self._regex.search(response.text)
        if match is None:
            return None
        return (match.group(1) if match.re.groups else match.group(0)) or None

    def _record(self, sent_at: float, version: str | None, outcome: str, error: str = "") -> None:
        now = self.clock()
        self._answers.append(Answer(now, version, now - sent_at, outcome))
        if error:
            self.last_error = error
        self._prune(now)

    # --- the window ----------------------------------------------------------------------------

    def _prune(self, now: float) -> None:
        horizon = now - self.config.window
        for times in (self._sent, self._skipped):
            while times and times[0] <= horizon:
                times.popleft()
        while self._answers and self._answers[0].at <= horizon:
            self._answers.popleft()

    def restart_window(self) -> None:
        """Forget what was seen: the route's weights changed, and mixing answers from before and
        after would report a mismatch that is only history."""
        self._answers.clear()
        self._sent.clear()
        self._skipped.clear()
        self._started_at = self.clock()

    def snapshot(self) -> ProbeSnapshot:
        now = self.clock()
        self._prune(now)
        outcomes = Counter(a.outcome for a in self._answers)
        versions, history = summarize(self._answers, as_of=now, window=self.config.window)
        return ProbeSnapshot(
            answered=outcomes[OK],
            errors=outcomes[ERROR],
            timeouts=outcomes[TIMEOUT],
            sent=len(self._sent),
            skipped=len(self._skipped),
            in_flight=len(self._tasks),
            versions=versions,
            history=history,
            started_at=self._started_at,
            as_of=now,
            rate=self.config.rate,
            window=self.config.window,
            last_error=self.last_error,
        )


def _describe(error: httpx.HTTPError) -> str:
    cause: BaseException = error
    for _ in range(5):  # down to the OS's words, if any
        inner = cause.__cause__ or cause.__context__
        if inner is None:
            break
        cause = inner
    text = str(cause) or type(cause).__name__
    if isinstance(error, httpx.ConnectError):
        return f"cannot connect: {text}"
    return text


# --- what Fabio promises -----------------------------------------------------------------------


@dataclass(frozen=True)
class Expectation:
    configured: Mapping[str, float]  # version label -> share of the route's weight
    healthy: Mapping[str, int]  # version label -> healthy running allocations
    canaries: frozenset[str]  # labels of unpromoted canary versions
    route: str  # the route's src, "" when none matches
    # Labels with weight and no healthy allocation that are no outage (yet): running
    # allocations Nomad has not judged, still inside min_healthy_time plus a check interval
    # since they started, or kept by an in-place update (Nomad judges them again).
    settling: frozenset[str] = frozenset()


def expectation_from(
    state: ClusterState,
    host: str,
    path: str = "/",
    *,
    now: float | None = None,
    settle: Mapping[int, float] | None = None,
) -> Expectation | None:
    """What the focused job's routes promise for requests to host + path; None without a job.

    `settle`: per job version, how long after its allocations start Nomad can first call them
    healthy (`settle_time` of the version's spec). A version without one has no bound: its
    allocations settle until Nomad decides their health (healthy at min_healthy_time, unhealthy
    at healthy_deadline). `now` is on the cluster's clock (default: its latest answer)."""
    if state.job is None:
        return None
    route = match_route(state.job_routes(), host, path)
    configured: dict[str, float] = {}
    if route is not None:
        total = sum(t.weight for t in route.targets) or 1.0
        for t in route.targets:
            label = state.version_label(t.job_version) if t.job_version is not None else UNKNOWN
            configured[label] = configured.get(label, 0.0) + t.weight / total
    healthy: dict[str, int] = {}
    for a in state.allocations:
        if a.running and a.healthy is True:
            label = state.version_label(a.job_version)
            healthy[label] = healthy.get(label, 0) + 1
    canaries = frozenset(state.version_label(a.job_version) for a in state.allocations if a.canary and not a.terminal)
    at = _latest_answer(state) if now is None else now
    settling = _settling(state, configured, healthy, at, settle)
    return Expectation(configured, healthy, canaries, route.src if route else "", settling)


def settle_time(job: Mapping) -> float:
    """From a job version's spec (Nomad's wire shape): the longest, over its task groups, of the
    update block's `min_healthy_time` plus the longest check interval of the group's services:
    how long after an allocation starts Nomad can first call it healthy, in seconds."""
    fallback = job.get("Update")  # a group without its own update block takes the job's
    return max(
        (
            TaskGroupSpec.from_api({**g, "Update": g.get("Update") or fallback}).settle
            for g in _mappings(job, "TaskGroups")
        ),
        default=0.0,
    )


def _mappings(d: Mapping, key: str) -> list[Mapping]:
    value = d.get(key)
    return [x for x in value if isinstance(x, Mapping)] if isinstance(value, list) else []


def _latest_answer(state: ClusterState) -> float:
    """The cluster's clock as of its latest answer (the wall clock when there is none)."""
    times = [s.as_of for s in state.status.values() if s.as_of is not None]
    if state.events.as_of is not None:
        times.append(state.events.as_of)
    return max(times, default=time.time())


def _settling(
    state: ClusterState,
    configured: Mapping[str, float],
    healthy: Mapping[str, int],
    now: float,
    settle: Mapping[int, float] | None,
) -> frozenset[str]:
    """The labels with weight and no healthy allocation whose running allocations Nomad is
    still judging within their bound, or judging again after an in-place update."""
    written = {v.version: v.job_modify_index for v in state.versions}
    out = set()
    for a in state.allocations:
        label = state.version_label(a.job_version)
        if not a.running or a.healthy is not None or configured.get(label, 0) <= 0 or healthy.get(label):
            continue
        # Created before its version was written: the allocation was kept, updated in place.
        kept = a.job_version in written and a.create_index < written[a.job_version]
        bound = settle.get(a.job_version) if settle is not None else None
        since = _serving_since(a)
        if kept or bound is None or since is None or now - since < bound:
            out.add(label)
    return frozenset(out)


def _serving_since(a: Allocation) -> float | None:
    """When the allocation's tasks were all running, the earliest it could take traffic (its
    creation when the tasks do not say; None when nothing does)."""
    started = [t.started_at for t in a.tasks]
    if started and all(t is not None for t in started):
        return max(t for t in started if t is not None)
    return a.create_time


def match_route(routes: Iterable[Route], host: str, path: str = "/") -> Route | None:
    """Fabio's matcher: the request's host (port stripped, any case), the longest path prefix;
    routes without a host catch what no host route does."""
    host = host.rsplit(":", 1)[0].lower() if not host.endswith("]") else host.lower()
    candidates = list(routes)
    for wanted in (host, ""):
        matching = [r for r in candidates if r.host.lower() == wanted and path.startswith(r.path)]
        if matching:
            return max(matching, key=lambda r: len(r.path))
    return None


# --- findings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    kind: str  # "no-healthy" | "canary-no-traffic" | "mismatch" | "errors"
    version: str | None
    message: str


def findings(snapshot: ProbeSnapshot, expectation: Expectation, *, min_samples: int = 30) -> list[Finding]:
    """What the operator should look at, most serious first."""
    return [
        *_no_healthy(expectation),
        *_canary_no_traffic(snapshot, expectation, min_samples),
        *_mismatches(snapshot, expectation, min_samples),
        *_errors(snapshot),
    ]


def _pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def _no_healthy(e: Expectation) -> list[Finding]:
    return [
        Finding("no-healthy", label, f"{label}: {_pct(share)} configured on {e.route} but no healthy allocation.")
        for label, share in sorted(e.configured.items(), key=lambda kv: version_key(kv[0]))
        if share > 0 and label != UNKNOWN and not e.healthy.get(label) and label not in e.settling
    ]


def _silent_canaries(s: ProbeSnapshot, e: Expectation, min_samples: int) -> list[str]:
    if s.answered < min_samples:
        return []
    return sorted(
        (label for label in e.canaries if e.configured.get(label, 0) > 0 and s.stats(label) is None), key=version_key
    )


def _canary_no_traffic(s: ProbeSnapshot, e: Expectation, min_samples: int) -> list[Finding]:
    return [
        Finding(
            "canary-no-traffic",
            label,
            f"{label}: canary with {_pct(e.configured[label])} configured on {e.route}, "
            f"but none of {s.answered} answers came from it.",
        )
        for label in _silent_canaries(s, e, min_samples)
    ]


def _mismatches(s: ProbeSnapshot, e: Expectation, min_samples: int) -> list[Finding]:
    # Targets not yet tied to an allocation could be any version: nothing to compare then.
    if s.answered < min_samples or not e.configured or e.configured.get(UNKNOWN, 0) > 0:
        return []
    silent = set(_silent_canaries(s, e, min_samples))  # already reported, more plainly
    out = []
    for label in sorted(set(e.configured) | {v.version for v in s.versions}, key=version_key):
        stats = s.stats(label)
        count = stats.count if stats else 0
        low, high = wilson(count, s.answered)
        configured = e.configured.get(label, 0.0)
        if label not in silent and not low - 1e-9 <= configured <= high + 1e-9:  # weights are floats
            out.append(
                Finding(
                    "mismatch",
                    label,
                    f"{label}: {_pct(count / s.answered)} observed "
                    f"({low * 100:.1f}–{high * 100:.1f}%), {_pct(configured)} configured",
                )
            )
    return out


def _errors(s: ProbeSnapshot) -> list[Finding]:
    # Of the requests that finished: the ones still in flight have not failed (yet).
    finished = s.answered + s.errors + s.timeouts
    failed = s.errors + s.timeouts
    if not finished or failed / finished <= ERROR_RATIO:
        return []
    detail = f": last {s.last_error}" if s.last_error else ""
    return [
        Finding(
            "errors",
            None,
            f"{failed} of {finished} requests failed ({s.errors} errors, {s.timeouts} timeouts, "
            f"{_pct(failed / finished)}){detail}.",
        )
    ]
