"""Competing consumers: several readers (client connections) share one group."""
from __future__ import annotations

import threading
import time
from typing import Callable

from .conftest import Api, entry_ids, entry_numbers


def _wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def _waiting_readers(api: Api, stream: str, group: str) -> int:
    return sum(1 for c in api.info(stream, group)["connections"] if c["availableSlots"] > 0)


def test_two_consumers_handle_every_message_exactly_once(api, make_api):
    total = 300
    expected = set(api.append("work", 100))
    api.create("work", "g", readBatchSize=10, bufferSize=50)
    handled: dict[str, list[str]] = {"a": [], "b": []}
    done = threading.Event()

    def consume(name: str) -> None:
        consumer = make_api()
        while not done.is_set():
            ids = entry_ids(consumer.read("work", "g", 7, long_poll=1))
            if ids:
                handled[name].extend(ids)
                consumer.ack("work", "g", ids)
            if len(handled["a"]) + len(handled["b"]) >= total:
                done.set()

    threads = [threading.Thread(target=consume, args=(name,)) for name in handled]
    for thread in threads:
        thread.start()
    for _ in range(4):  # more work arrives while they are busy
        expected |= set(api.append("work", 50))
    done.wait(30)
    done.set()
    for thread in threads:
        thread.join(10)
    everything = handled["a"] + handled["b"]
    assert len(everything) == len(set(everything)) == total  # none twice
    assert set(everything) == expected  # none lost
    assert handled["a"] and handled["b"]  # both took part
    assert api.read("work", "g", 10)["entries"] == []


def _two_waiting_readers(api: Api, make_api: Callable[[], Api], stream: str, counts=(10, 10)):
    results: dict[str, dict] = {}
    threads = []
    for name, count in zip(("first", "second"), counts):
        reader = make_api()
        thread = threading.Thread(target=lambda r=reader, n=name, c=count: results.__setitem__(
            n, r.read(stream, "g", c, long_poll=3)))
        thread.start()
        threads.append(thread)
        _wait_until(lambda expected=len(threads): _waiting_readers(api, stream, "g") == expected)
    return results, threads


def test_round_robin_deals_messages_to_waiting_readers_in_turn(api, make_api):
    api.create("rr", "g", namedConsumerStrategy="RoundRobin")
    results, threads = _two_waiting_readers(api, make_api, "rr")
    api.append("rr", 6)
    for thread in threads:
        thread.join(10)
    assert entry_numbers(results["first"]) == [0, 2, 4]
    assert entry_numbers(results["second"]) == [1, 3, 5]


def test_dispatch_to_single_fills_the_longest_waiting_reader_first(api, make_api):
    api.create("single", "g", namedConsumerStrategy="DispatchToSingle")
    results, threads = _two_waiting_readers(api, make_api, "single", counts=(4, 10))
    api.append("single", 6)
    for thread in threads:
        thread.join(10)
    assert entry_numbers(results["first"]) == [0, 1, 2, 3]
    assert entry_numbers(results["second"]) == [4, 5]


def _link(api: Api, stream: str, target: str, number: int) -> None:
    reply = api.request("POST", f"/streams/{stream}",
                        [{"eventId": _uuid(), "eventType": "$>", "data": f"{number}@{target}"}],
                        {"Content-Type": "application/vnd.eventstore.events+json"})
    assert reply.status == 201


def _uuid() -> str:
    import uuid
    return str(uuid.uuid4())


def test_pinned_keeps_each_source_stream_with_one_reader(api, make_api):
    for source in ("order-1", "order-2"):
        api.append(source, 3)
    for number in range(3):  # interleaved, like a category stream
        _link(api, "orders", "order-1", number)
        _link(api, "orders", "order-2", number)
    api.create("orders", "g", namedConsumerStrategy="Pinned", resolveLinktos=True)
    first, second = make_api(), make_api()

    def sources(feed: dict) -> list[str]:
        return [entry["streamId"] for entry in reversed(feed["entries"])]

    got_first = first.read("orders", "g", 1, embed="rich")
    assert sources(got_first) == ["order-1"]
    got_second = second.read("orders", "g", 10, embed="rich")
    assert set(sources(got_second)) == {"order-2"} and len(got_second["entries"]) == 3
    got_first_again = first.read("orders", "g", 10, embed="rich")
    assert sources(got_first_again) == ["order-1", "order-1"]
