"""Watch answers are decoded exactly as `json.loads` would, large ones off the loop."""

from __future__ import annotations

import json

import pytest

from nomadtui.nomad.decode import LARGE_BODY, loads, parse_body


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        " [ ] ",
        '[{"ID": "a", "Tags": ["x", "y"]}]',
        '[1, "two", null, true, {"n": [1, [2]]}]\n',
        '{"Index": 7}',
        '"text"',
        "null",
        '[\n  {"a": 1},\n  {"b": "]"}\n]',
    ],
)
def test_same_as_json_loads(text):
    assert loads(text) == json.loads(text)


@pytest.mark.parametrize("text", ["[1 2]", "[1,]", "[1] x", "[", '[{"a": }]', ""])
def test_malformed_is_refused(text):
    with pytest.raises(ValueError):
        loads(text)


async def test_large_answer_is_parsed_in_a_thread():
    import threading

    jobs = [{"ID": f"service-{i:05d}", "Status": "running"} for i in range(20_000)]
    body = json.dumps(jobs).encode()
    assert len(body) > LARGE_BODY
    threads = []

    def parse(items):
        threads.append(threading.current_thread())
        return tuple(j["ID"] for j in items)

    assert await parse_body(body, parse) == tuple(j["ID"] for j in jobs)
    assert await parse_body(b'[{"ID": "one"}]', parse) == ("one",)
    assert threads[0] is not threading.main_thread() and threads[1] is threading.main_thread()
