"""Query parameters as Nomad's HTTP agent parses them, with its texts for bad values."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import QueryParams

from . import gostrconv
from .jobspec import parse_duration
from .store import NomadError

MAX_WAIT = 300.0  # structs.MaxBlockingRPCQueryTime and DefaultBlockingRPCQueryTime


def get(q: QueryParams, name: str) -> str:
    """url.Values.Get: the first value, "" when absent."""
    values = q.getlist(name)
    return values[0] if values else ""


@dataclass(frozen=True)
class QueryOptions:
    index: int  # MinQueryIndex
    wait: float  # seconds a blocking query waits (QueryOptions.TimeToBlock)


def query_options(q: QueryParams) -> QueryOptions:
    """HTTPServer.parse (command/agent/http.go): parseConsistency, parsePagination, then
    parseWait's wait and index."""
    if (stale := q.getlist("stale")) and stale[0]:
        try:
            gostrconv.parse_bool(stale[0])
        except gostrconv.NumError:
            raise NomadError(400, "Expect `true` or `false` for `stale` query string parameter") from None
    try:
        if per_page := get(q, "per_page"):
            gostrconv.parse_int(per_page, 32)
    except gostrconv.NumError:
        raise NomadError(400, "Expect a number for `per_page` query string parameter") from None
    wait = 0.0
    if text := get(q, "wait"):
        try:
            wait = parse_duration(text) / 1e9
        except ValueError:
            raise NomadError(400, "Invalid wait time") from None
    index = 0
    if text := get(q, "index"):
        try:
            index = gostrconv.parse_uint(text)
        except gostrconv.NumError:
            raise NomadError(400, "Invalid index") from None
    return QueryOptions(index, wait if 0 < wait <= MAX_WAIT else MAX_WAIT)


def failed(name: str, value: str, kind: str, e: gostrconv.NumError) -> str:
    return f"Failed to parse value of {gostrconv.quote(name)} ({value}) as a {kind}: {e}"


def parse_bool(q: QueryParams, name: str, status: int = 500) -> bool | None:
    """parseBool (command/agent/http.go): None when absent. Its error is a plain error, a 500,
    unless the endpoint wraps it."""
    if not (text := get(q, name)):
        return None
    try:
        return gostrconv.parse_bool(text)
    except gostrconv.NumError as e:
        raise NomadError(status, failed(name, text, "bool", e)) from None


def lenient_bool(q: QueryParams, name: str) -> bool:
    """`x, _ := strconv.ParseBool(query.Get(name))`: anything unparsable is false."""
    try:
        return gostrconv.parse_bool(get(q, name))
    except gostrconv.NumError:
        return False


def event_topics(q: QueryParams) -> dict[str, set[str]]:
    """parseEventTopics (command/agent/event_endpoint.go): `Topic` or `Topic:Key`."""
    topics: dict[str, set[str]] = {}
    for value in q.getlist("topic") if "topic" in q else ["*:*"]:
        parts = value.split(":")
        if len(parts) > 2:
            raise NomadError(
                400, f"Invalid topic query: error parsing topics: Invalid key value pair for topic, topic: {value}"
            )
        topics.setdefault(parts[0], set()).add(parts[1] if len(parts) == 2 else "*")
    return topics


def event_index(q: QueryParams) -> int:
    try:
        return gostrconv.atoi(get(q, "index") or "0")
    except gostrconv.NumError as e:
        raise NomadError(400, f"Unable to parse index: {e}") from None
