"""Races the node must win: many clients appending to one stream at once with expected
versions (exactly one winner per version), and the same batch sent concurrently by many
clients (written once, every sender told the same event numbers)."""
from __future__ import annotations

import threading
from typing import Callable, List

import pytest

from clientapi import Client, WriteEvent, errors

ADMIN = ("admin", "changeit")
THREADS = 8


def run_together(count: int, work: Callable[[int], object]) -> List[object]:
    """Start `count` threads at the same moment; each result (or exception) by thread index."""
    barrier = threading.Barrier(count)
    results: List[object] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except BaseException as error:  # collected and checked by the test
            results[index] = error
    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@pytest.fixture
def clients(node):
    made = [Client(node.host, node.port, *ADMIN) for _ in range(THREADS)]
    yield made
    for client in made:
        client.close()


def test_optimistic_concurrency_has_exactly_one_winner_per_version(clients, stream_name):
    clients[0].append_to_stream(stream_name, WriteEvent({"seed": True}, is_json=True), -1)
    for round_number in range(25):
        version = round_number  # the stream's last event number before this round

        def contend(index: int) -> object:
            return clients[index].append_to_stream(
                stream_name, WriteEvent({"round": round_number, "by": index}, is_json=True), version)
        results = run_together(THREADS, contend)
        winners = [r for r in results if isinstance(r, list)]
        losers = [r for r in results if isinstance(r, errors.WrongExpectedVersion)]
        assert len(winners) == 1 and len(losers) == THREADS - 1, results
        assert winners[0] == [version + 1]
        assert all(loser.current_version == version + 1 for loser in losers)
    events = clients[0].read_stream_events_forward(stream_name, 0, 100)
    assert [e.event_number for e in events] == list(range(26))
    assert [e.data.get("round") for e in events[1:]] == list(range(25))


@pytest.mark.parametrize("expected", [-2, -1, "current"], ids=["any", "no-stream", "exact"])
def test_the_same_batch_sent_concurrently_is_written_once(clients, stream_name, expected):
    if expected == "current":
        clients[0].append_to_stream(stream_name, WriteEvent("first"), -1)
        expected = 0
    batch = [WriteEvent({"part": i}, is_json=True) for i in range(3)]
    results = run_together(THREADS, lambda index: clients[index].append_to_stream(stream_name, batch, expected))
    assert all(isinstance(r, list) for r in results), results
    assert len({tuple(r) for r in results}) == 1, f"senders were told different numbers: {results}"
    events = clients[0].read_stream_events_forward(stream_name, 0, 100)
    ids = [e.event_id for e in events]
    assert [ids.count(e.event_id) for e in batch] == [1, 1, 1], "a batch was written more than once"


def test_concurrent_writers_on_many_streams_keep_all_in_commit_order(clients, node, stream_name):
    streams = [f"{stream_name}-{i}" for i in range(THREADS)]

    def write(index: int) -> object:
        for n in range(30):
            clients[index].append_to_stream(streams[index], WriteEvent({"n": n}, is_json=True), n - 1)
        return True
    assert run_together(THREADS, write) == [True] * THREADS
    everything = clients[0].read_all_events_forward(0, 0, 1_000_000).events
    for stream in streams:
        numbers = [e.event_number for e in everything if e.stream_id == stream]
        assert numbers == list(range(30)), f"{stream} in $all: {numbers}"


def test_deletes_racing_appends_leave_a_consistent_stream(clients, stream_name):
    clients[0].append_to_stream(stream_name, WriteEvent("x"), -1)

    def race(index: int) -> object:
        if index == 0:
            return clients[0].delete_stream(stream_name, hard_delete=True)
        return clients[index].append_to_stream(stream_name, WriteEvent({"by": index}, is_json=True))
    results = run_together(THREADS, race)
    assert results[0] is None, results[0]
    for result in results[1:]:
        assert isinstance(result, (list, errors.StreamDeleted)), result
    with pytest.raises(errors.StreamDeleted):
        clients[0].read_stream_events_forward(stream_name, 0, 10)
    with pytest.raises(errors.StreamDeleted):
        clients[0].append_to_stream(stream_name, WriteEvent("after"))
