"""The demo's event stream as Nomad's (nomad/stream/, command/agent/event_endpoint.go): the
buffer of 100 writes, where a subscription starts, a reader that falls behind, malformed topics,
and Nomad's event types."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from nomadtui.demo.clock import ManualClock
from nomadtui.demo.cluster import JOBS_DIR, Cluster
from nomadtui.demo.server import DemoServer
from nomadtui.demo.store import EVENT_TYPES
from nomadtui.demo.stream import (
    BufferItem,
    Event,
    EventBuffer,
    EventDropped,
    SubscribeRequest,
    filter_events,
    subscribe,
)
from tests.helpers import http

JOB = "httpsbackend-sni-1"


@pytest.fixture
def demo() -> Iterator[DemoServer]:
    server = DemoServer(Cluster(ManualClock(), seed=5, extra_jobs=20), seed=5).start()
    try:
        yield server
    finally:
        server.stop()


def first_batch(url: str, **params) -> dict:
    """The first line with events of a stream from `params`."""
    with http.stream("GET", f"{url}/v1/event/stream", params=params, timeout=10) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            frame = json.loads(line)
            if frame:
                return frame
    raise AssertionError("the stream ended")


def evaluate(demo: DemoServer, times: int) -> int:
    """`times` evaluations of the job, created and processed in one go on the server's loop (no
    stream runs in between); returns the cluster's index after them."""
    cluster = demo.cluster
    assert cluster is not None
    job = cluster.store.job("default", JOB)

    def run() -> int:
        for _ in range(times):
            cluster.new_eval(job, "job-register")
        cluster.run_due()
        return cluster.store.index

    return demo.call(run)


def test_a_reader_that_falls_behind_the_buffer_is_closed(demo):
    lines: list[dict] = []
    seen: dict = {}

    def read() -> None:
        with http.stream(
            "GET",
            f"{demo.nomad_url}/v1/event/stream",
            params={"topic": "Evaluation"},
            headers={"Accept-Encoding": "gzip"},
            timeout=10,
        ) as r:
            seen.update(r.headers)
            for line in r.iter_lines():
                lines.append(json.loads(line))
        seen["ended"] = True

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + 5
    while len(lines) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    last = evaluate(demo, 2)  # a reader keeping up gets them
    while max(f.get("Index", 0) for f in lines) < last:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    before = len(lines)
    evaluate(demo, 150)  # the buffer moves past the write this reader read last
    reader.join(5)
    assert not reader.is_alive() and seen["ended"]  # Nomad ends the body: no error line, no 500
    assert all(f == {} or f["Index"] <= last for f in lines[before:])
    assert (seen["connection"], seen.get("content-encoding")) == ("close", None)
    # A new subscription starts again, from the buffer's oldest write.
    cluster = demo.cluster
    assert first_batch(demo.nomad_url, topic="Evaluation")["Index"] == cluster.store.events.head.index


def test_a_stream_resumes_from_an_index(demo):
    store = demo.cluster.store
    indexes = [item.index for item in store.events.items() if item.events]
    assert len(indexes) == 101  # full once: the 100 of event_buffer_size and the one it drops next
    middle = indexes[50]
    assert first_batch(demo.nomad_url, index=middle)["Index"] == middle  # that write again, then on
    assert first_batch(demo.nomad_url, index=0)["Index"] == indexes[0]  # the whole buffer
    assert first_batch(demo.nomad_url, index=1)["Index"] == indexes[0]  # gone: the oldest there is
    assert first_batch(demo.nomad_url, index=indexes[-1] + 50)["Index"] == indexes[-1]  # the newest
    # Resuming with a topic key: the first matching write at or after the index.
    evaluate(demo, 1)
    demo.advance(0)
    frame = first_batch(demo.nomad_url, index=middle, topic=f"Evaluation:{JOB}")
    evals = http.get(f"{demo.nomad_url}/v1/job/{JOB}/evaluations").json()  # by ID, as Nomad lists them
    newest = max(evals, key=lambda e: e["CreateIndex"])
    assert frame["Index"] > middle and {e["Key"] for e in frame["Events"]} == {newest["ID"]}


@pytest.mark.parametrize("topic", ["a:b:c", "Job::", "Deployment:web:extra", ":::"])
def test_malformed_topics_get_nomads_400(demo, topic):
    """command/agent/event_endpoint.go parseEventTopics and parseTopic: more than one colon is
    "Invalid key value pair for topic", wrapped by EventStream as a 400 "Invalid topic query"."""
    r = http.get(f"{demo.nomad_url}/v1/event/stream", params={"topic": ["Job", topic]})
    assert r.status_code == 400
    assert r.text == f"Invalid topic query: error parsing topics: Invalid key value pair for topic, topic: {topic}"
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_a_topic_with_an_empty_key_is_a_topic():
    frame_params = {"topic": "Job:", "index": 1}
    demo = DemoServer(Cluster(ManualClock(), seed=1), seed=1).start()
    try:
        with http.stream("GET", f"{demo.nomad_url}/v1/event/stream", params=frame_params, timeout=5) as r:
            assert r.status_code == 200 and next(r.iter_lines()) == "{}"
    finally:
        demo.stop()


def test_the_buffer_holds_what_nomads_does():
    buffer = EventBuffer(3)
    for index in range(1, 4):
        buffer.append(BufferItem(index, "PlanResult", [Event("Job", "a", "default", None, {})]))
    assert [i.index for i in buffer.items()] == [0, 1, 2, 3]  # the sentinel is still there
    buffer.append(BufferItem(4, "PlanResult", []))
    assert [i.index for i in buffer.items()] == [1, 2, 3, 4]  # one more than its size, from now on
    buffer.append(BufferItem(5, "PlanResult", []))
    assert [i.index for i in buffer.items()] == [2, 3, 4, 5]
    assert buffer.start_at_closest(0).index == 2 and buffer.start_at_closest(4).index == 4
    assert buffer.start_at_closest(99).index == 5


def test_a_subscription_is_dropped_with_the_item_it_holds():
    buffer = EventBuffer(2)
    event = Event("Job", "a", "default", None, {})
    sub = subscribe(buffer, SubscribeRequest({"*": ["*"]}, ["default"]))
    buffer.append(BufferItem(1, "JobRegistered", [event]))
    first = sub.next_no_block()
    assert first is not None and first[0].index == 1 and sub.next_no_block() is None
    for index in (2, 3):
        buffer.append(BufferItem(index, "JobRegistered", [event]))
    assert [i.index for i in buffer.items()] == [1, 2, 3]  # still holds the reader's item
    buffer.append(BufferItem(4, "JobRegistered", [event]))
    with pytest.raises(EventDropped, match="event dropped from buffer"):
        sub.next_no_block()
    assert buffer.items()[0].index == 2 and sub.current.next is None  # the reader pins nothing


def test_topic_filtering_quirks_are_nomads():
    alloc = Event("Allocation", "a1", "default", ["web", "d1"], {})
    node = Event("Node", "n1", "", None, {})
    elsewhere = Event("Job", "web", "staging", None, {})

    def keys(topics: dict, *events: Event) -> list[str]:
        return [e.key for e in filter_events(SubscribeRequest(topics, ["default"]), list(events))]

    assert keys({"Allocation": ["web", "d1"]}, alloc) == ["a1", "a1"]  # once per matching key
    assert keys({"Allocation": ["*", "other"]}, alloc) == []  # `*` is no wildcard beside a key
    assert keys({"*": ["web"], "Allocation": ["zzz"]}, alloc) == ["a1"]
    assert keys({"*": ["*"]}, alloc, node, elsewhere) == ["a1", "n1"]  # no namespace: every one
    assert keys({"Job": ["*"]}, elsewhere) == []


def test_writes_publish_nomads_event_types():
    demo = DemoServer(Cluster(ManualClock(), seed=8), seed=8).start()
    try:
        api = httpx.Client(base_url=demo.nomad_url, timeout=10)
        store = demo.cluster.store
        hcl = (JOBS_DIR / "httpsbackend-tcp-sni-1-canary-fail.nomad").read_text()
        job = api.post("/v1/jobs/parse", json={"JobHCL": hcl}).json()
        api.post("/v1/jobs", json={"Job": job}).raise_for_status()
        for _ in range(40):
            demo.advance(10)
        published = [item for item in store.events.items() if item.events]
        assert {item.type for item in published} <= EVENT_TYPES
        for item in published:  # memdb's changes: one event per object and write
            objects = [(e.topic, e.key) for e in item.events or ()]
            assert len(objects) == len(set(objects)), item.index
        # The watcher's batched evaluation rides an AllocUpdateDesiredTransition write.
        watcher_evals = [
            item
            for item in published
            for e in item.events or ()
            if e.topic == "Evaluation"
            and e.payload["Evaluation"]["TriggeredBy"] == "deployment-watcher"
            and e.payload["Evaluation"]["CreateIndex"] == item.index
        ]
        assert watcher_evals and {"AllocationUpdateDesiredStatus", "DeploymentStatusUpdate"} >= {
            item.type for item in watcher_evals
        }
        # A stability update publishes nothing (JobStabilityRequestType has no event type).
        index, tail = store.index, store.events.tail.index  # a GC's reap may be the last write
        body = {"JobID": JOB, "JobVersion": 0, "Stable": False}
        assert api.post(f"/v1/job/{JOB}/stable", json=body).json()["Index"] == index + 1
        assert store.events.tail.index == tail
        # A purge's Job event carries the job as it was, Deleted.
        purged_at = api.delete(f"/v1/job/{JOB}", params={"purge": "true"}).json()["Index"]
        (purge,) = [item for item in store.events.items() if item.index == purged_at]
        (deleted,) = [e for e in purge.events or () if e.topic == "Job"]
        assert purge.type == "JobDeregistered" and deleted.payload["Deleted"] is True
        assert deleted.payload["Job"]["ID"] == JOB and deleted.payload["Job"]["Stop"] is False
    finally:
        demo.stop()
