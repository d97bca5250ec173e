"""`clientapi.projections.Projections` against the embedded node, in both faces."""
from __future__ import annotations

import asyncio
import dataclasses
from typing import Iterator

import pytest

from clientapi import Client, WriteEvent
from clientapi.errors import AccessDenied, ServerError
from clientapi.projections import (ProjectionAlreadyExists, ProjectionConfig, ProjectionNotFound,
                                   ProjectionNotRunning, ProjectionQuery, Projections, ProjectionStatus)
from clientapi.server import Node

from .api import unique

COUNTER = """fromCategory('{category}').foreachStream().when({{
  $init: function () {{ return {{ n: 0 }}; }},
  $any: function (s, e) {{ s.n++; }}
}}).transformBy(function (s) {{ return {{ doubled: s.n * 2 }}; }})"""


@pytest.fixture
def client(projections_node: Node) -> Iterator[Client]:
    with Client("127.0.0.1", projections_node.port, username="admin", password="changeit") as connected:
        yield connected


@pytest.fixture
def projections(client: Client) -> Projections:
    return Projections(client)


def write(client: Client, stream: str, count: int = 1) -> None:
    client.append_to_stream(stream, [WriteEvent({"i": i}, event_type="E", is_json=True) for i in range(count)])


def test_continuous_projection_lifecycle(client: Client, projections: Projections) -> None:
    category, name = unique("cl"), unique()
    write(client, f"{category}-1", 2)
    assert projections.create_continuous(name, COUNTER.format(category=category)) == name
    status = projections.wait_until_caught_up(name)
    assert isinstance(status, ProjectionStatus) and status.running and status.mode == "Continuous"
    assert projections.state(name, partition=f"{category}-1") == {"n": 2}
    assert projections.result(name, partition=f"{category}-1") == {"doubled": 4}
    assert projections.state(name, partition="missing") is None
    write(client, f"{category}-1")
    projections.wait_until_caught_up(name)
    assert projections.state(name, f"{category}-1") == {"n": 3}

    assert name in [p.name for p in projections.list("continuous")]
    assert name not in [p.name for p in projections.list("onetime")]
    assert projections.statistics(name).name == name
    assert projections.get_query(name) == COUNTER.format(category=category)
    query = projections.get_query_config(name)
    assert isinstance(query, ProjectionQuery) and query.mode == "Continuous" and query.checkpoints_enabled

    projections.disable(name)
    assert projections.status(name).stopped
    with pytest.raises(ProjectionNotRunning):
        projections.wait_until_caught_up(name, timeout=2)
    projections.enable(name)
    projections.wait_until_caught_up(name)
    projections.reset(name)
    projections.wait_until_caught_up(name)
    assert projections.state(name, f"{category}-1") == {"n": 3}
    projections.abort(name)
    projections.delete(name, delete_checkpoint_stream=True)
    with pytest.raises(ProjectionNotFound):
        projections.status(name)


def test_one_time_and_transient(client: Client, projections: Projections) -> None:
    stream = unique("ot") + "-1"
    write(client, stream, 3)
    query = f"fromStream('{stream}').when({{ $init: function () {{ return {{ n: 0 }}; }}, E: function (s) {{ s.n++; }} }})"
    name = projections.create_one_time(query)
    assert projections.wait_until_caught_up(name).completed
    assert projections.state(name) == {"n": 3}
    transient = projections.create_transient(query, unique())
    projections.wait_until_caught_up(transient)
    assert projections.state(transient) == {"n": 3}
    assert transient in [p.name for p in projections.list("transient")]


def test_errors_are_typed(projections: Projections, projections_node: Node) -> None:
    name = unique()
    projections.create_continuous(name, "fromAll().when({})")
    with pytest.raises(ProjectionAlreadyExists):
        projections.create_continuous(name, "fromAll().when({})")
    with pytest.raises(ProjectionNotFound):
        projections.state(unique())
    with pytest.raises(ServerError) as refused:
        projections.delete(name)
    assert "stopped or faulted" in refused.value.message
    with Client("127.0.0.1", projections_node.port) as anonymous:
        with pytest.raises(AccessDenied):
            Projections(anonymous).create_continuous(unique(), "fromAll()")
    with pytest.raises(ValueError):
        projections.list("sometimes")
    with pytest.raises(TypeError):
        projections.state(42)  # type: ignore[arg-type]


def test_faulted_projection_is_reported(client: Client, projections: Projections) -> None:
    stream, name = unique("f") + "-1", unique()
    write(client, stream)
    projections.create_continuous(name, f"fromStream('{stream}').when({{ E: function () {{ throw new Error('no'); }} }})")
    with pytest.raises(ProjectionNotRunning) as faulted:
        projections.wait_until_caught_up(name)
    assert faulted.value.projection.faulted and "no" in faulted.value.projection.state_reason


def test_config_round_trip(projections: Projections) -> None:
    name = unique()
    projections.create_continuous(name, "fromAll().when({})", enabled=False)
    config = projections.get_config(name)
    assert isinstance(config, ProjectionConfig)
    assert config.checkpoint_handled_threshold == 4000 and config.emit_enabled is False
    changed = dataclasses.replace(config, emit_enabled=True, projection_execution_timeout=300)
    projections.update_config(name, changed)
    assert projections.get_config(name) == changed
    with pytest.raises(TypeError):
        projections.update_config(name, {"emitEnabled": True})  # type: ignore[arg-type]


def test_update_query_and_emit(client: Client, projections: Projections) -> None:
    stream, target, name = unique("u") + "-1", unique("emitted") + "-1", unique()
    write(client, stream)
    projections.create_continuous(name, f"fromStream('{stream}').when({{ E: function () {{ return {{ v: 1 }}; }} }})")
    projections.wait_until_caught_up(name)
    assert projections.state(name) == {"v": 1}
    projections.update_query(name, f"fromStream('{stream}').when({{ E: function (s, e) {{ emit('{target}', 'Copied', e.body); }} }})",
                             emit=True)
    projections.reset(name)
    projections.wait_until_caught_up(name)
    copied = client.read_stream_events_forward(target, 0, 10)
    assert [e.event_type for e in copied] == ["Copied"]


def test_original_names(client: Client, projections: Projections) -> None:
    stream = unique("orig") + "-1"
    write(client, stream, 2)
    query = f"fromStream('{stream}').when({{ $init: function () {{ return {{ n: 0 }}; }}, E: function (s) {{ s.n++; }} }})"
    name = projections.post_continuous(query, unique(), "js", True, False)
    once = projections.post_one_time(query)
    projections.wait_until_caught_up(name)
    projections.wait_until_caught_up(once)
    assert projections.state_get(name) == {"n": 2}
    assert projections.status_get(name).running
    assert projections.statistics_get(name).name == name
    assert name in [p.name for p in projections.get_projections()]
    assert name in [p.name for p in projections.get_any()]
    assert name in [p.name for p in projections.get_continuous()]
    assert once in [p.name for p in projections.get_one_time()]
    assert projections.query_get(name).query == query
    assert projections.query_get(name, False) == query
    projections.query_put(name, query.replace("s.n++", "s.n += 5"))
    projections.disable(name)
    projections.delete(name, deleteCheckpointStream=True)
    assert name not in [p.name for p in projections.get_any()]


def test_async_face_inside_a_running_loop(client: Client, projections: Projections) -> None:
    stream, name = unique("as") + "-1", unique()
    write(client, stream, 2)
    query = f"fromStream('{stream}').when({{ $init: function () {{ return {{ n: 0 }}; }}, E: function (s) {{ s.n++; }} }})"

    async def scenario() -> object:
        await projections.create_continuous_async(name, query)
        await projections.wait_until_caught_up_async(name)
        return await projections.state_async(name)
    assert asyncio.run(scenario()) == {"n": 2}


def test_async_face_with_callbacks_and_wait(client: Client, projections: Projections) -> None:
    stream, name = unique("cb") + "-1", unique()
    write(client, stream)
    query = f"fromStream('{stream}').when({{ E: function () {{ return {{ seen: true }}; }} }})"
    outcomes: list = []

    def created(result: str) -> None:
        outcomes.append(result)
        projections.status_async(unique(), on_success=outcomes.append, on_failed=failed)

    def failed(error: Exception) -> None:
        outcomes.append(error)
        client.resume()
    projections.create_continuous_async(name, query, on_success=created, on_failed=failed)
    client.wait(timeout=10)
    assert outcomes[0] == name
    assert isinstance(outcomes[1], ProjectionNotFound)
