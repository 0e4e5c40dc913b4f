"""The demo's Fabio: a route table built from the service registrations of the cluster's
allocations, Fabio's weight arithmetic, manual `route` overrides, and target picking.

Rules from fabio.md: one route per `urlprefix-<host>/<path>` tag of a passing instance; a
canary registers its canary_tags instead of its tags; equal shares unless fixed weights;
`route weight` sets a group's share; weight 0 means "even share" (Fabio 1.7.3 behaviour).
"""

from __future__ import annotations

import random
import shlex
from dataclasses import dataclass, field
from typing import Any

from .clientsim import service_instances

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


def build_table(instances: list[dict], manual: str = "") -> list[Route]:
    routes: dict[tuple[str, str], Route] = {}
    for inst in instances:
        plain = [t for t in inst["Tags"] if not t.startswith(PREFIX)]
        for tag in inst["Tags"]:
            parsed = parse_route_tag(tag)
            if parsed is None:
                continue
            host, path, opts = parsed
            fixed = float(opts.pop("weight", 0) or 0)
            scheme = {"tcp": "tcp", "https": "https", "grpc": "grpc", "grpcs": "grpcs"}.get(
                opts.get("proto", ""), "http"
            )
            dst = f"{scheme}://{inst['Address']}:{inst['Port']}" + ("" if scheme == "tcp" else "/")
            route = routes.setdefault((host, path), Route(host, path, " ".join(f"{k}={v}" for k, v in opts.items())))
            target = Target(
                inst["ServiceName"], dst, plain, fixed, alloc_id=inst["AllocID"], image=inst["Image"], task=inst["Task"]
            )
            if not any(t.dst == dst and t.service == target.service for t in route.targets):
                route.targets.append(target)
    _apply_manual(routes, manual)
    for route in routes.values():
        _weigh(route)
        route.targets = [t for t in route.targets if t.weight > 0]
    ordered = sorted(routes.values(), key=lambda r: r.path, reverse=True)
    ordered.sort(key=lambda r: r.host)
    return [r for r in ordered if r.targets]


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
    lines = []
    named = sorted((r for r in table if r.host), key=lambda r: r.host, reverse=True)
    for route in named + [r for r in table if not r.host]:
        for t in route.targets:
            line = f"route add {t.service} {route.src} {t.dst}"
            if t.fixed > 0:
                line += f" weight {t.weight:.4f}"
            if t.tags:
                line += f' tags "{",".join(t.tags)}"'
            if route.opts:
                line += f' opts "{" ".join(sorted(route.opts.split()))}"'
            lines.append(line)
    return "\n".join(lines) + ("\n" if lines else "")


def lookup(table: list[Route], host: str, path: str) -> Route | None:
    """Fabio's prefix matcher: the request's host (port stripped), the longest matching path."""
    host = host.split(":")[0].lower()
    for candidate_host in (host, ""):
        for route in table:  # paths are sorted most specific first within a host
            if route.host == candidate_host and path.startswith(route.path):
                return route
    return None


def pick(route: Route, rng: random.Random) -> Target:
    return rng.choices(route.targets, weights=[t.weight for t in route.targets])[0]


def cluster_instances(cluster) -> list[dict]:
    allocs = sorted(cluster.store.serving.values(), key=lambda a: a["CreateIndex"])  # running, with services
    return [inst for a in allocs for inst in service_instances(a)]
