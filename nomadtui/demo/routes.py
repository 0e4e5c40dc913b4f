"""The demo's Fabio: a route table built from the service registrations of the cluster's
allocations, Fabio's weight arithmetic, manual `route` overrides, and target picking.

Rules from fabio.md and Fabio's source: Consul lists an instance once one of its service checks
passes (fabio registry/consul/passing.go, `registry.consul.checksRequired = one`); each of its
`urlprefix-<host>/<path>` tags becomes a `route add` command (registry/consul/routecmd.go), the
commands of every instance sorted in reverse (ServiceMonitor.makeConfig, service.go), the manual
overrides after them, and the table is those commands applied in order (route/table.go NewTable):
a route's targets come in the order of their commands, every one listed with its weight, even 0.
A canary registers its canary_tags instead of its tags; equal shares unless fixed weights;
`route weight` sets a group's share; weight 0 means "even share" (Fabio 1.7.3 behaviour).
"""

from __future__ import annotations

import math
import random
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..wire import parse_rfc3339
from .clientsim import service_instances
from .structs import lookup_task_group

PREFIX = "urlprefix-"


@dataclass
class Target:
    service: str
    dst: str
    tags: list[str]
    fixed: float = 0.0
    weight: float = 0.0
    alloc_id: str = ""
    image: str = ""
    task: str = ""  # the task whose service this is (its logs take the access lines)


@dataclass
class Route:
    host: str
    path: str
    opts: str
    targets: list[Target] = field(default_factory=list)

    @property
    def src(self) -> str:
        return self.host + self.path


def parse_route_tag(tag: str) -> tuple[str, str, dict[str, str]] | None:
    """`urlprefix-mysite.com/ proto=tcp+sni` -> ("mysite.com", "/", {"proto": "tcp+sni"})."""
    if not tag.startswith(PREFIX):
        return None
    src, _, rest = tag[len(PREFIX) :].partition(" ")
    opts = dict(tok.split("=", 1) for tok in rest.split() if "=" in tok)
    if src.startswith(":"):
        return src, "", opts
    host, slash, path = src.partition("/")
    return host.lower(), "/" + path if slash else "/", opts


@dataclass
class RouteCommand:
    """One `route add` command the Consul registry makes of an instance's urlprefix- tag
    (routecmd.build, fabio registry/consul/routecmd.go); `text` is the command as Fabio writes
    it, which is what the commands are sorted by."""

    text: str
    host: str
    path: str
    opts: str  # as the command writes them: `proto=tcp+sni`
    target: Target


# routecmd.build: the scheme each `proto=` gives the target's URL (http's alone ends in a slash).
_SCHEMES = {"tcp": "tcp", "https": "https", "grpc": "grpc", "grpcs": "grpcs"}


def route_commands(instances: list[dict]) -> list[RouteCommand]:
    """The commands of every instance, sorted as ServiceMonitor.makeConfig sorts them (in reverse,
    `sort.Sort(sort.Reverse(sort.StringSlice(config)))`)."""
    out = []
    for inst in instances:
        plain = [t.strip() for t in inst["Tags"] if not t.strip().startswith(PREFIX)]
        for tag in inst["Tags"]:
            parsed = parse_route_tag(tag.strip())
            if parsed is not None:
                out.append(_route_command(inst, plain, *parsed))
    out.sort(key=lambda c: c.text, reverse=True)
    return out


def _route_command(inst: dict, plain: list[str], host: str, path: str, opts: dict[str, str]) -> RouteCommand:
    weight = opts.pop("weight", "")
    scheme = _SCHEMES.get(opts.get("proto", ""), "http")
    dst = f"{scheme}://{inst['Address']}:{inst['Port']}" + ("/" if scheme == "http" else "")
    text = f"route add {inst['ServiceName']} {host}{path} {dst}"
    if weight:
        text += f" weight {weight}"
    if plain:
        text += f' tags "{",".join(plain)}"'
    opts_text = _opts_text(opts)
    if opts_text:
        text += f' opts "{opts_text}"'
    target = Target(
        inst["ServiceName"],
        dst,
        plain,
        _float(weight),
        alloc_id=inst["AllocID"],
        image=inst["Image"],
        task=inst["Task"],
    )
    return RouteCommand(text, host, path, opts_text, target)


def _float(text: str) -> float:
    try:
        weight = float(text or 0)
    except ValueError:
        return 0.0
    # Route.addTarget: a negative weight is 0; so is `inf` or `nan` here (shares would be NaN).
    return weight if math.isfinite(weight) and weight > 0 else 0.0


def build_table(instances: list[dict], manual: str = "") -> list[Route]:
    """NewTable (fabio route/table.go): the registry's commands, then the manual ones, applied in
    order; each route's targets keep the order they were added in, weight 0 or not."""
    routes: dict[tuple[str, str], Route] = {}
    for cmd in route_commands(instances):
        route = routes.setdefault((cmd.host, cmd.path), Route(cmd.host, cmd.path, cmd.opts))
        _add_target(route, cmd.target)
    _apply_manual(routes, manual)
    for route in routes.values():
        _weigh(route)
    ordered = sorted(routes.values(), key=lambda r: r.path, reverse=True)
    ordered.sort(key=lambda r: r.host)
    return [r for r in ordered if r.targets]


def _opts_text(opts: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in opts.items())


def _add_target(route: Route, target: Target) -> None:
    """Route.addTarget (fabio route/route.go): a target equal to one there (service, URL, fixed
    weight and tags) is not added again."""
    for t in route.targets:
        if (t.service, t.dst, t.fixed, t.tags) == (target.service, target.dst, target.fixed, target.tags):
            return
    route.targets.append(target)


def _apply_manual(routes: dict[tuple[str, str], Route], manual: str) -> None:
    for line in manual.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "//")):
            continue
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        if words[:2] == ["route", "weight"]:
            _manual_weight(routes, words[2:])
        elif words[:2] == ["route", "del"] and len(words) >= 3:
            for route in routes.values():
                if len(words) >= 4 and route.src != words[3]:
                    continue
                route.targets = [
                    t for t in route.targets if not (t.service == words[2] and (len(words) < 5 or t.dst == words[4]))
                ]


def _manual_weight(routes: dict[tuple[str, str], Route], args: list[str]) -> None:
    # route weight <svc> <src> weight <w> [tags "<t1,t2>"] | route weight <src> weight <w> tags "<t>"
    if "weight" not in args:
        return
    i = args.index("weight")
    head, rest = args[:i], args[i + 1 :]
    if not rest:
        return
    service, src = (head + [""])[:2] if len(head) == 2 else ("", head[0] if head else "")
    weight = float(rest[0])
    tags = rest[2].split(",") if len(rest) >= 3 and rest[1] == "tags" else []
    host, _, path = src.partition("/")
    route = routes.get((host, "/" + path))
    if route is None:
        return  # Fabio >= 1.7.3 ignores a weight line that matches nothing
    matched = [t for t in route.targets if (not service or t.service == service) and all(tag in t.tags for tag in tags)]
    for t in matched:
        t.fixed = weight / len(matched)


def _weigh(route: Route) -> None:
    targets = route.targets
    fixed = [t for t in targets if t.fixed > 0]
    if not fixed:
        for t in targets:
            t.weight = 1 / len(targets)
        return
    total = sum(t.fixed for t in fixed)
    dynamic = [t for t in targets if t.fixed <= 0]
    share = max(0.0, (1 - total) / len(dynamic)) if dynamic else 0.0
    scale = 1 / total if total > 1 or (not dynamic and total < 1) else 1.0
    for t in targets:
        t.weight = t.fixed * scale if t.fixed > 0 else share


def api_rows(table: list[Route]) -> list[dict] | None:
    rows = []
    for route in table:
        for t in route.targets:
            row: dict[str, Any] = {
                "service": t.service,
                "host": route.host,
                "path": route.path,
                "src": route.src,
                "dst": t.dst,
                "opts": route.opts,
                "cmd": "route add",
            }
            if t.tags:
                row["tags"] = t.tags
            row.update(weight=t.weight, rate1=0, pct99=0)
            rows.append(row)
    return rows or None  # Fabio answers `null` for an empty table


def raw_text(table: list[Route]) -> str:
    """`/api/routes?raw`: Table.String (fabio route/table.go: hosts in reverse order, the empty
    host last; Route.config leaves out the targets of weight 0, TargetConfig writes a fixed
    weight), printed with fmt.Fprintln."""
    lines = []
    named = sorted((r for r in table if r.host), key=lambda r: r.host, reverse=True)
    for route in named + [r for r in table if not r.host]:
        for t in route.targets:
            if t.weight <= 0:
                continue
            line = f"route add {t.service} {route.src} {t.dst}"
            if t.fixed > 0:
                line += f" weight {t.fixed:.4f}"
            if t.tags:
                line += f' tags "{",".join(t.tags)}"'
            if route.opts:
                line += f' opts "{" ".join(sorted(route.opts.split()))}"'
            lines.append(line)
    return "\n".join(lines) + "\n"


def lookup(table: list[Route], host: str, path: str) -> Route | None:
    """Fabio's prefix matcher: the request's host (port stripped), the longest matching path."""
    host = host.split(":")[0].lower()
    for candidate_host in (host, ""):
        for route in table:  # paths are sorted most specific first within a host
            if route.host == candidate_host and path.startswith(route.path):
                return route
    return None


def pick(route: Route, rng: random.Random) -> Target:
    """The `rnd` strategy over the route's weighted targets (Route.weighTargets gives a target of
    weight 0 no slot: it is never picked)."""
    weights = [t.weight for t in route.targets]
    if not any(w > 0 for w in weights):
        weights = [1.0] * len(weights)
    return rng.choices(route.targets, weights=weights)[0]


def cluster_instances(cluster) -> list[dict]:
    """The instances Consul reports passing now: of the running allocations with services, those
    whose task has run for a check interval (see `passing_since`)."""
    now, scaled = cluster.clock.now(), cluster.clock.scaled
    return [
        inst
        for alloc in cluster.store.serving.values()
        for inst in service_instances(alloc)
        if (since := passing_since(alloc, inst, scaled)) is not None and since <= now
    ]


def passing_since(alloc: dict, inst: dict, scaled: Callable[[float], float]) -> float | None:
    """When the instance's checks first pass, or None while its task does not run or if it has no
    check (fabio registry/consul/passing.go lists only instances with a passing service check; a
    service without checks never gets a route). Nomad registers the service in Consul when the
    task starts, its checks critical (the default initial status); Consul runs a check once per
    `interval`, so it passes at most an interval later: the demo takes the whole interval of its
    quickest check (one passing check is enough, `registry.consul.checksRequired = one`), a
    rollout duration, scaled by the clock. A restarted task registers again and waits again. A
    `provider = "nomad"` service is not in Consul at all."""
    service = _service(alloc, inst)
    intervals = [c["Interval"] for c in service.get("Checks") or [] if c.get("Interval")]
    state = (alloc.get("TaskStates") or {}).get(inst["Task"]) or {}
    if service.get("Provider") == "nomad" or not intervals or state.get("State") != "running":
        return None
    started = _last_started(state)
    return None if started is None else started + scaled(min(intervals) / 1e9)


def _service(alloc: dict, inst: dict) -> dict:
    """The job's service block this instance was registered from (as service_instances lists them)."""
    group = lookup_task_group(alloc["_job"], alloc["TaskGroup"])
    first = group["Tasks"][0]["Name"] if group["Tasks"] else ""
    services = [(s, first) for s in group.get("Services") or []] + [
        (s, t["Name"]) for t in group["Tasks"] for s in t.get("Services") or []
    ]
    return next((s for s, task in services if s["Name"] == inst["ServiceName"] and task == inst["Task"]), {})


def _last_started(state: dict) -> float | None:
    """The task's latest start: its last `Started` event, else StartedAt."""
    for event in reversed(state.get("Events") or []):
        if event.get("Type") == "Started" and event.get("Time"):
            return event["Time"] / 1e9
    return parse_rfc3339(state.get("StartedAt"))
