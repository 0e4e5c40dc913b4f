"""Query parameters as Nomad's HTTP agent parses them, with its texts for bad values."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

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
    per_page: int = 0  # PerPage: 0 is no limit
    next_token: str = ""  # NextToken
    reverse: bool = False  # Reverse


def query_options(q: QueryParams) -> QueryOptions:
    """HTTPServer.parse (command/agent/http.go): parseConsistency, parsePagination (per_page, a
    32-bit int, sign and all; next_token, any text), parseReverse (only `true`), then parseWait's
    wait and index."""
    if (stale := q.getlist("stale")) and stale[0]:
        try:
            gostrconv.parse_bool(stale[0])
        except gostrconv.NumError:
            raise NomadError(400, "Expect `true` or `false` for `stale` query string parameter") from None
    per_page = 0
    try:
        if text := get(q, "per_page"):
            per_page = gostrconv.parse_int(text, 32)
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
    return QueryOptions(
        index, wait if 0 < wait <= MAX_WAIT else MAX_WAIT, per_page, get(q, "next_token"), get(q, "reverse") == "true"
    )


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


def event_topics(q: QueryParams) -> dict[str, list[str]]:
    """parseEventTopics and parseTopic (command/agent/event_endpoint.go): `Topic` (every key) or
    `Topic:Key`, a topic's keys in the order given; no topic at all is `*:*`. Anything with more
    colons is refused before the stream starts (EventStream wraps the error: `Invalid topic
    query: ...`, 400)."""
    topics: dict[str, list[str]] = {}
    for value in q.getlist("topic") if "topic" in q else ["*:*"]:
        parts = value.split(":")
        if len(parts) > 2:
            raise NomadError(
                400, f"Invalid topic query: error parsing topics: Invalid key value pair for topic, topic: {value}"
            )
        topics.setdefault(parts[0], []).append(parts[1] if len(parts) == 2 else "*")
    return topics


def event_index(q: QueryParams) -> int:
    """EventStream's `index`: strconv.Atoi, then uint64() as the subscription takes it. (A
    negative one gets no further: HTTPServer.parse then refuses it as `Invalid index`.)"""
    try:
        return gostrconv.atoi(get(q, "index") or "0") % 2**64
    except gostrconv.NumError as e:
        raise NomadError(400, f"Unable to parse index: {e}") from None


# --- pages (nomad/state/paginator/) --------------------------------------------------------------


def _compare(a, b) -> int:
    """cmp.Compare."""
    return (a > b) - (a < b)


class Tokenizer:
    """A paginator.Tokenizer: an object's token, and how it compares with the target (the
    request's next_token). `seek` is what a list in iteration order can be bisected on to find
    the first object the paginator keeps, when the comparison follows that order (None when it
    does not, and the paginator must walk from the start)."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __call__(self, obj: dict) -> tuple[str, int]:
        raise NotImplementedError

    seek: tuple | str | None = None


class NamespaceIDTokenizer(Tokenizer):
    """NamespaceIDTokenizer (tokenizer.go): `<namespace>.<id>`, compared as a string with the
    target, whatever namespace the request asked for."""

    def __call__(self, obj: dict) -> tuple[str, int]:
        token = f"{obj['Namespace']}.{obj['ID']}"
        return token, _compare(token, self.target)


class IDTokenizer(Tokenizer):
    """IDTokenizer: the id alone (the lists searched by prefix)."""

    def __call__(self, obj: dict) -> tuple[str, int]:
        return obj["ID"], _compare(obj["ID"], self.target)


class CreateIndexAndIDTokenizer(Tokenizer):
    """CreateIndexAndIDTokenizer: `<create index>.<id>`, compared as (index, id) when the target
    has both parts and its first is an integer (strconv.Atoi, then uint64(): a negative one wraps),
    else as a string."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        index, dot, rest = target.partition(".")
        try:
            self.seek = (gostrconv.atoi(index) % 2**64, rest) if dot else None
        except gostrconv.NumError:
            self.seek = None

    def __call__(self, obj: dict) -> tuple[str, int]:
        token = f"{obj['CreateIndex']}.{obj['ID']}"
        if self.seek is None:
            return token, _compare(token, self.target)
        index_cmp = _compare(obj["CreateIndex"], self.seek[0])
        return token, index_cmp or _compare(obj["ID"], self.seek[1])


def page(
    items: Iterable[dict], opts: QueryOptions, tokenizer: Tokenizer, stub: Callable[[dict], dict]
) -> tuple[list[dict], str]:
    """Paginator.Page (paginator.go): skip what comes before the target token (after it, with
    `reverse`) until one object is kept, then keep per_page objects; the next token is the token
    of the object after them. A negative per_page ends the page before its first object."""
    out: list[dict] = []
    found = opts.next_token == ""
    count = 0
    for obj in items:
        token, compared = tokenizer(obj)
        if not found and compared == (1 if opts.reverse else -1):
            continue
        found = True
        count += 1
        if opts.per_page != 0 and count > opts.per_page:
            return out, token
        out.append(stub(obj))
    return out, ""


def seek_sorted(keys: list, start: Any, reverse: bool, key: Callable[[Any], Any] | None = None) -> Iterator:
    """Walk sorted `keys` from the first one not before `start` (not after it, with `reverse`):
    what the paginator keeps of a list whose tokens compare in its own order."""
    if reverse:
        i = bisect.bisect_right(keys, start, key=key) - 1
        return (keys[j] for j in range(i, -1, -1))
    i = bisect.bisect_left(keys, start, key=key)
    return (keys[j] for j in range(i, len(keys)))
