"""Soft and hard deletes, recreation (digest §8)."""
import json

import pytest

from clientapi.server.core.errors import (StreamDeleted, StreamNotFound, WrongExpectedVersion,
                                          EventNotFound)
from clientapi.server.core.model import ANY, NO_STREAM, STREAM_DELETED_TB, STREAM_EXISTS

from .helpers import ADMIN, BOB, events, metadata_event, numbers, with_core


async def _metadata_document(core, stream):
    resolved = await core.read_event("$$" + stream, -1, False, ADMIN)
    return json.loads(resolved.event.data)


def test_soft_delete_hides_the_stream_but_keeps_its_metadata_readable():
    async def body(core):
        await core.append("s", events(3), ANY, BOB)
        await core.append("$$s", [metadata_event({"$maxCount": 10, "owner": "bob"})], ANY, BOB)
        await core.delete_stream("s", ANY, False, BOB)
        with pytest.raises(StreamNotFound):
            await core.read_stream("s", None, 20, "backward", True, BOB)
        with pytest.raises(StreamNotFound):
            await core.read_event("s", 0, True, BOB)
        assert await _metadata_document(core, "s") == {"$tb": STREAM_DELETED_TB}  # replaced, not merged
        assert (await core.get_metadata("s")).is_soft_deleted
    with_core(body)


@pytest.mark.parametrize("expected", [ANY, NO_STREAM, 2])
def test_recreate_continues_numbering_and_rewrites_tb(expected):
    async def body(core):
        await core.append("s", events(3), ANY, BOB)
        await core.delete_stream("s", ANY, False, BOB)
        result = await core.append("s", events(2), expected, BOB)
        assert (result.first_event_number, result.last_event_number) == (3, 4)
        assert await numbers(core, "s") == [3, 4]
        assert await _metadata_document(core, "s") == {"$tb": 3}
        page = await core.read_stream("s", None, 20, "backward", False, BOB)
        assert [e.event.event_number for e in page.events] == [4, 3] and page.is_end_of_stream
        with pytest.raises(EventNotFound):
            await core.read_event("s", 1, False, BOB)
    with_core(body)


def test_stream_exists_on_soft_deleted_stream_is_stream_deleted():
    async def body(core):
        await core.append("s", events(1), ANY, BOB)
        await core.delete_stream("s", ANY, False, BOB)
        with pytest.raises(StreamDeleted):
            await core.append("s", events(1), STREAM_EXISTS, BOB)
    with_core(body)


def test_new_metadata_undeletes_a_soft_deleted_stream():
    async def body(core):
        await core.append("s", events(2), ANY, BOB)
        await core.delete_stream("s", ANY, False, BOB)
        await core.append("$$s", [metadata_event({"owner": "bob"})], ANY, BOB)
        assert await _metadata_document(core, "s") == {"owner": "bob", "$tb": 2}
        await core.append("s", events(1), ANY, BOB)
        assert await numbers(core, "s") == [2]
    with_core(body)


def test_soft_delete_of_a_never_existing_stream_is_refused():
    async def body(core):
        with pytest.raises(WrongExpectedVersion) as refused:
            await core.delete_stream("ghost", ANY, False, BOB)
        assert refused.value.current_version == -1
        assert not await core.stream_exists("ghost")
    with_core(body)


def test_delete_with_wrong_expected_version_reports_current():
    async def body(core):
        await core.append("s", events(3), ANY, BOB)
        for expected in (0, NO_STREAM):
            with pytest.raises(WrongExpectedVersion) as refused:
                await core.delete_stream("s", expected, False, BOB)
            assert refused.value.current_version == 2
        await core.delete_stream("s", 2, False, BOB)
    with_core(body)


def test_hard_delete_is_final_everywhere():
    async def body(core):
        await core.append("s", events(2), ANY, BOB)
        await core.delete_stream("s", 1, True, BOB)
        attempts = [
            core.read_stream("s", None, 20, "backward", True, BOB),
            core.read_stream("s", 0, 20, "forward", True, BOB),
            core.read_event("s", 0, True, BOB),
            core.read_event("$$s", -1, True, BOB),
            core.append("s", events(1), ANY, BOB),
            core.append("$$s", [metadata_event({"a": 1})], ANY, BOB),
            core.delete_stream("s", ANY, True, BOB),
            core.delete_stream("s", ANY, False, BOB),
        ]
        for attempt in attempts:
            with pytest.raises(StreamDeleted):
                await attempt
        assert not await core.stream_exists("s")
    with_core(body)


def test_hard_delete_of_a_never_existing_stream_writes_a_tombstone():
    async def body(core):
        await core.delete_stream("ghost", ANY, True, BOB)
        with pytest.raises(StreamDeleted):
            await core.append("ghost", events(1), ANY, BOB)
        page = await core.read_all(None, 1, "backward", False, ADMIN)
        tombstone = page.events[0].event
        assert tombstone.stream_id == "ghost" and tombstone.event_type == "$streamDeleted"
    with_core(body)


def test_hard_delete_after_soft_delete():
    async def body(core):
        await core.append("s", events(1), ANY, BOB)
        await core.delete_stream("s", ANY, False, BOB)
        await core.delete_stream("s", ANY, True, BOB)
        with pytest.raises(StreamDeleted):
            await core.read_stream("s", None, 20, "backward", True, BOB)
    with_core(body)
