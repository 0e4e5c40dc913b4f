"""Nomad's event broker for the demo: the fixed-size buffer of published writes, subscriptions
reading it at their own pace, and the topic filter (nomad/stream/event_buffer.go,
subscription.go, event_broker.go).

The buffer is a linked list of items, one per write that produced events. A subscription holds
the item it read last and follows its `next`. Nothing is queued per subscriber: a reader that
falls so far behind that the buffer drops the item it holds is told so (`EventDropped`, Nomad's
"event dropped from buffer") the next time it reads, and its stream ends. A dropped item lets go
of its `next`, so a reader that stopped reading holds one item, never the writes after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The agent's event_buffer_size default (command/agent/config.go) and EventBroker's fallback for 0.
EVENT_BUFFER_SIZE = 100


@dataclass
class Event:
    """structs.Event, before its Index and Type are stamped. `payload` is built when the write
    commits, from the object as the write left it (see Txn in store.py)."""

    topic: str
    key: str
    namespace: str
    filter_keys: list[str] | None
    payload: dict[str, Any]


@dataclass(eq=False)
class BufferItem:
    """bufferItem: the events of one write. `events` is None for the sentinel items."""

    index: int
    type: str
    events: list[Event] | None
    next: BufferItem | None = None
    dropped: bool = False


class EventDropped(Exception):
    """bufferItem.Next's error for a reader whose item left the buffer."""

    def __init__(self) -> None:
        super().__init__("event dropped from buffer")


class EventBuffer:
    """eventBuffer (nomad/stream/event_buffer.go), single writer.

    It starts with an empty sentinel item as its head that `size` does not count, and
    advanceHead decrements `size` even when it drops that sentinel: once full for the first
    time the buffer holds `max_size + 1` writes, as Nomad's does."""

    def __init__(self, max_size: int = EVENT_BUFFER_SIZE) -> None:
        self.max_size = max_size
        sentinel = BufferItem(0, "", None)
        self.head = self.tail = sentinel
        self.size = 0

    def append(self, item: BufferItem) -> None:
        """appendItem."""
        self.tail.next = item
        self.tail = item
        self.size += 1
        while self.size > self.max_size:
            self._advance_head()

    def _advance_head(self) -> None:
        """advanceHead: drop the head; its readers learn it when they next read."""
        old = self.head
        nxt = old.next
        if nxt is None:  # only with max_size 0: a fresh sentinel takes its place
            nxt = BufferItem(0, "", None)
            old.next = nxt
        old.dropped = True
        self.head = nxt
        if old is self.tail:
            self.tail = nxt
        old.next = None  # the demo's own: a reader stuck on `old` keeps nothing after it alive
        if self.size > 0:
            self.size -= 1

    def items(self) -> list[BufferItem]:
        """The items the buffer holds, oldest first (sentinels included)."""
        out: list[BufferItem] = []
        item: BufferItem | None = self.head
        while item is not None:
            out.append(item)
            item = item.next
        return out

    def start_at_closest(self, index: int) -> BufferItem:
        """StartAtClosest: the item at `index`, else the first one after it, else the newest one
        (a reader asking for an index newer than everything gets the newest write again)."""
        item = self.head
        if index <= item.index:
            return item
        while True:
            prev, nxt = item, item.next
            if nxt is None:
                return prev
            if index <= nxt.index:
                return nxt
            item = nxt


@dataclass
class SubscribeRequest:
    """SubscribeRequest: topics as parseEventTopics builds them (a topic's keys in the order
    given) and the namespaces the events may come from (validateACL resolves `*`)."""

    topics: dict[str, list[str]]
    namespaces: list[str]
    index: int = 0


@dataclass(eq=False)
class Subscription:
    """Subscription (nomad/stream/subscription.go) without the blocking: `next_no_block` reads
    what is there, the caller waits for writes."""

    req: SubscribeRequest
    current: BufferItem

    def next_no_block(self) -> tuple[BufferItem, list[Event]] | None:
        """The next write with events for this subscriber, or None. Raises EventDropped when the
        reader's item left the buffer (bufferItem.Next checks droppedCh once a next item exists;
        a dropped item always had one)."""
        while True:
            if self.current.dropped:
                raise EventDropped()
            nxt = self.current.next
            if nxt is None:
                return None
            self.current = nxt
            events = filter_events(self.req, nxt.events)
            if events:
                return nxt, events


def subscribe(buffer: EventBuffer, req: SubscribeRequest) -> Subscription:
    """EventBroker.Subscribe: start at the buffer's head (index 0) or at the item closest to the
    requested index, through a start item of its own that is never dropped, so the first read
    delivers that item even if the buffer dropped it meanwhile."""
    head = buffer.start_at_closest(req.index) if req.index != 0 else buffer.head
    start = BufferItem(req.index, "", None, next=head)
    return Subscription(req, start)


def filter_events(req: SubscribeRequest, events: list[Event] | None) -> list[Event]:
    """filter (nomad/stream/subscription.go), quirks included: `*` is a wildcard key only when it
    is the only key for the event's topic (counting `*:` keys), and an event matching several
    keys is sent once per key."""
    if not events:
        return []
    all_topic_keys = req.topics.get("*", [])
    result = []
    for event in events:
        if event.namespace and event.namespace not in req.namespaces:
            continue
        if all_topic_keys == ["*"]:
            result.append(event)
            continue
        keys = all_topic_keys + req.topics.get(event.topic, [])
        if keys == ["*"]:
            result.append(event)
            continue
        for key in keys:
            if event.key == key or key in (event.filter_keys or ()):
                result.append(event)
    return result


def event_json(event: Event, index: int, type_: str) -> dict:
    """An event as the stream encodes it (structs.Event)."""
    return {
        "Topic": event.topic,
        "Type": type_,
        "Key": event.key,
        "Namespace": event.namespace,
        "FilterKeys": event.filter_keys,
        "Index": index,
        "Payload": event.payload,
    }
