"""Projections do their work off the node's critical path: while one catches up on a backlog,
the node keeps answering other requests promptly."""
from __future__ import annotations

import time

from .api import Api, unique, wait_state

BACKLOG = 3000


def test_node_answers_while_a_projection_catches_up(api: Api) -> None:
    stream, name = unique("backlog") + "-1", unique()
    for start in range(0, BACKLOG, 500):
        api.append(stream, *({"eventType": "E", "data": {"n": n}} for n in range(start, start + 500)))
    query = f"""fromStream('{stream}').when({{
      $init: function () {{ return {{ n: 0, sum: 0 }}; }},
      E: function (s, e) {{ s.n++; s.sum += e.body.n; for (var i = 0; i < 2000; i++) {{ s.sum += 0; }} }}
    }})"""
    assert api.create(name, query).status == 201
    slowest = 0.0
    caught_up = False
    deadline = time.monotonic() + 30
    while not caught_up and time.monotonic() < deadline:
        started = time.monotonic()
        assert api.request("GET", "/ping").status == 200
        slowest = max(slowest, time.monotonic() - started)
        caught_up = api.state(name) == {"n": BACKLOG, "sum": BACKLOG * (BACKLOG - 1) // 2}
    assert caught_up
    assert slowest < 1.0, f"a request waited {slowest:.2f} s behind the projection"
    wait_state(api, name, {"n": BACKLOG, "sum": BACKLOG * (BACKLOG - 1) // 2})
