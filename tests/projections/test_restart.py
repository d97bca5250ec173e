"""Continuous projections survive restarts: they resume from their checkpoint, and events
they emitted before a crash are not emitted again when the events that caused them are
handled a second time."""
from __future__ import annotations

import json
from pathlib import Path

from clientapi.server import Node

from .api import Api, escaped, unique, wait_for, wait_state

EMIT_EACH = """fromCategory('{category}').foreachStream().when({{
  $init: function () {{ return {{ n: 0 }}; }},
  E: function (s, e) {{ s.n++; emit('{target}', 'Seen', {{ from: e.streamId, n: e.sequenceNumber }}); }}
}})"""


def running_node(db: Path) -> Node:
    return Node(port=0, db=str(db), run_projections="all", start_standard_projections=True)


def seen(api: Api, target: str) -> list:
    return [(e["from"], e["n"]) for e in (json.loads(x["data"]) for x in api.events(target))]


def test_continuous_projection_resumes_after_a_node_restart(tmp_path: Path) -> None:
    category, target, name = unique("rs"), unique("seen") + "-1", unique()
    with running_node(tmp_path) as node:
        api = Api(node)
        api.append(f"{category}-1", {"eventType": "E"}, {"eventType": "E"})
        assert api.create(name, EMIT_EACH.format(category=category, target=target), emit="yes").status == 201
        wait_state(api, name, {"n": 2}, partition=f"{category}-1")
        wait_for(lambda: len(api.events(target)) == 2, what="two emitted events")
        api.close()
    with running_node(tmp_path) as node:
        api = Api(node)
        api.append(f"{category}-1", {"eventType": "E"})
        api.append(f"{category}-2", {"eventType": "E"})
        wait_state(api, name, {"n": 3}, partition=f"{category}-1")
        wait_state(api, name, {"n": 1}, partition=f"{category}-2")
        wait_for(lambda: len(api.events(target)) >= 4, what="four emitted events")
        assert seen(api, target) == [(f"{category}-1", 0), (f"{category}-1", 1), (f"{category}-1", 2),
                                     (f"{category}-2", 0)]
        assert api.status(name)["eventsProcessedAfterRestart"] == 2
        api.close()


def hide_checkpoints(api: Api, stream: str) -> None:
    """What a crash right before the checkpoint write leaves behind: no checkpoint covering
    what was emitted (here: every checkpoint is truncated away)."""
    metadata = {"$tb": 1_000_000}
    reply = api.request("POST", f"/streams/{escaped('$$' + stream)}",
                        [{"eventId": "6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b", "eventType": "$metadata",
                          "data": metadata}], {"Content-Type": "application/vnd.eventstore.events+json"})
    assert reply.status == 201, reply.text


def test_events_emitted_before_a_lost_checkpoint_are_not_emitted_twice(tmp_path: Path) -> None:
    category, target, name = unique("cr"), unique("seen") + "-1", unique()
    with running_node(tmp_path) as node:
        api = Api(node)
        api.append(f"{category}-1", {"eventType": "E"}, {"eventType": "E"}, {"eventType": "E"})
        assert api.create(name, EMIT_EACH.format(category=category, target=target), emit="yes").status == 201
        wait_for(lambda: len(api.events(target)) == 3, what="three emitted events")
        wait_for(lambda: len(api.events(f"$ce-{category}")) == 3, what="three category links")
        api.close()
    with running_node(tmp_path) as node:
        api = Api(node)
        for projection in (name, "$by_category"):
            assert api.command(projection, "disable").status == 200
            hide_checkpoints(api, f"$projections-{projection}-checkpoint")
        api.close()
    with running_node(tmp_path) as node:  # both start from scratch: no checkpoint is visible
        api = Api(node)
        for projection in (name, "$by_category"):
            assert api.command(projection, "enable").status == 200
        api.append(f"{category}-1", {"eventType": "E"})
        wait_state(api, name, {"n": 4}, partition=f"{category}-1")
        wait_for(lambda: len(api.events(target)) >= 4, what="the new emitted event")
        assert seen(api, target) == [(f"{category}-1", n) for n in range(4)]
        assert api.status(name)["eventsProcessedAfterRestart"] == 4  # it really handled them all again
        links = wait_for(lambda: (lambda e: e if len(e) >= 4 else None)(api.events(f"$ce-{category}")),
                         what="four category links")
        assert [e["eventNumber"] for e in links] == [0, 1, 2, 3]
        api.close()


def test_standard_projection_links_continue_after_restart(tmp_path: Path) -> None:
    category = unique("links")
    with running_node(tmp_path) as node:
        api = Api(node)
        api.append(f"{category}-1", {"eventType": "E"})
        wait_for(lambda: api.events(f"$ce-{category}"), what="the first link")
        api.close()
    with running_node(tmp_path) as node:
        api = Api(node)
        api.append(f"{category}-1", {"eventType": "E"})
        links = wait_for(lambda: (lambda e: e if len(e) >= 2 else None)(api.events(f"$ce-{category}")),
                         what="the second link")
        assert [(e["streamId"], e["eventNumber"]) for e in links] == [(f"{category}-1", 0), (f"{category}-1", 1)]
        api.close()
