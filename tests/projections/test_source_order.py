"""A projection over several streams sees their events in log order, even when one stream
gets an event between the reads of the others (the case a restart makes likely)."""
from __future__ import annotations

from clientapi.server.core.model import SYSTEM
from clientapi.server.projections.readers import StreamsReader

from tests.node.core.helpers import events, with_core


def test_an_event_written_between_two_stream_reads_is_not_overtaken():
    async def body(core):
        await core.append("a", events(1), -2, SYSTEM)
        reader = StreamsReader(core, {"a": -1, "b": -1})
        await reader._fill("a")                     # a read: one event, the stream's end
        await core.append("a", events(1), -2, SYSTEM)   # a gets an event after its read ...
        await core.append("b", events(2), -2, SYSTEM)   # ... and b two after that
        handed = []
        for _ in range(5):
            batch, at_end = await reader.next_batch()
            handed += [(r.original.stream_id, r.original.position) for r in batch]
            if at_end and len(handed) == 4:
                break
        assert [position for _, position in handed] == sorted(position for _, position in handed)
        assert [stream for stream, _ in handed] == ["a", "a", "b", "b"]

    with_core(body)
