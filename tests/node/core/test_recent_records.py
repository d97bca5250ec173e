"""The in-memory cache of recent records must answer exactly what SQLite answers, or not at all."""
import asyncio
import uuid

import pytest

from clientapi.server.core.model import ANY, NewEvent
from clientapi.server.storage.log import EventLog
from clientapi.server.storage.recent import RecentRecords

from .helpers import ADMIN, events, link_event, with_core


def _rows(first_position: int, stream: str, first_number: int, count: int) -> list[tuple]:
    return [(first_position + i, stream, first_number + i, uuid.uuid4().bytes, "Thing",
             b'{"n": %d}' % i, b"", 1, 1_700_000_000_000_000 + i) for i in range(count)]


async def _cached_and_stored(log: EventLog, call: str, *args):
    """The same read answered by the cache and by SQLite (cache switched off)."""
    cached = await getattr(log, call)(*args)
    recent, log.recent = log.recent, RecentRecords(capacity=0)
    try:
        stored = await getattr(log, call)(*args)
    finally:
        log.recent = recent
    return cached, stored


@pytest.mark.parametrize("durable", [False, True])
def test_cached_reads_equal_sqlite_reads(tmp_path, durable):
    async def main():
        log = await EventLog.open(str(tmp_path) if durable else None)
        try:
            await log.commit(_rows(0, "a", 0, 5) + _rows(5, "b", 0, 3))
            await log.commit(_rows(8, "a", 5, 4))
            assert len(log.recent) == 12
            cases = [("read_stream", "a", 0, 8, False, 4096), ("read_stream", "a", 2, 8, True, 3),
                     ("read_stream", "b", 0, 2, False, 2), ("read_stream", "a", 5, 4, False, 10),
                     ("read_all", 0, 12, False, 4096), ("read_all", 3, 12, True, 5),
                     ("read_all", 0, 12, False, 0)]
            for call, *args in cases:
                cached, stored = await _cached_and_stored(log, call, *args)
                assert cached == stored, (call, args)
            cached, stored = await _cached_and_stored(log, "read_events", [("a", 7), ("b", 9), ("b", 1)])
            assert cached == stored and set(cached) == {("a", 7), ("b", 1)}
        finally:
            await log.close()
    asyncio.run(main())


def test_lookups_outside_the_cache_are_left_to_sqlite():
    recent = RecentRecords(capacity=8)
    recent.add(_rows(0, "a", 0, 6))
    recent.add(_rows(6, "a", 6, 6))  # over capacity: the oldest go
    assert len(recent) <= 8
    assert recent.read_stream("a", 0, 11, False, 4096) is None  # its start was evicted
    assert [r.event_number for r in recent.read_stream("a", 9, 11, False, 4096)] == [9, 10, 11]
    assert recent.read_stream("a", 9, 12, False, 4096) is None  # beyond what exists
    assert recent.read_all(0, 12, False, 4096) is None
    assert [r.position for r in recent.read_all(8, 12, True, 2)] == [11, 10]
    assert recent.get("a", 1) is None and recent.get("a", 11).position == 11


def test_a_gap_in_positions_restarts_the_cache():
    recent = RecentRecords()
    recent.add(_rows(0, "a", 0, 3))
    recent.add(_rows(10, "b", 0, 2))
    assert recent.read_stream("a", 0, 2, False, 10) is None
    assert recent.read_all(0, 12, False, 10) is None
    assert [r.position for r in recent.read_all(10, 12, False, 10)] == [10, 11]


def test_payload_bound_evicts_big_records():
    recent = RecentRecords(capacity=1000, payload_bytes=100)
    rows = [(i, "big", i, uuid.uuid4().bytes, "T", b"x" * 40, b"", 0, 0) for i in range(5)]
    recent.add(rows)
    assert 1 <= len(recent) <= 2


def test_core_reads_are_identical_with_and_without_the_cache(tmp_path):
    async def body(core):
        await core.append("s", events(30), ANY, ADMIN)
        await core.append("links", [link_event(3, "s"), link_event(29, "s")], ANY, ADMIN)
        await core.append("s", [NewEvent(uuid.uuid4(), "raw", bytearray(b"\x00\x01"), b"m", False)],
                          ANY, ADMIN)

        async def reads():
            return [await core.read_stream("s", 0, 4096, "forward", False, ADMIN),
                    await core.read_stream("s", None, 7, "backward", False, ADMIN),
                    await core.read_stream("links", 0, 10, "forward", True, ADMIN),
                    await core.read_all(None, 4096, "backward", True, ADMIN),
                    await core.read_event("s", 30, False, ADMIN)]

        cached = await reads()
        core._context.log.recent = RecentRecords(capacity=0)
        stored = await reads()
        assert cached == stored
        assert stored[4].event.data == b"\x00\x01" and type(cached[4].event.data) is bytes
    with_core(body, path=str(tmp_path))
