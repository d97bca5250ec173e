"""Metadata parsing (digest §9.2) and its effect on reads: $tb, $maxCount, $maxAge (§5.4)."""
import datetime as dt

import pytest

from clientapi.server.core import reads
from clientapi.server.core.errors import EventNotFound, ReadTooBig
from clientapi.server.core.model import ANY

from .helpers import ADMIN, BOB, events, metadata_event, with_core


async def _set_metadata(core, stream, document, is_json=True):
    await core.append("$$" + stream, [metadata_event(document, is_json)], ANY, ADMIN)
    return await core.get_metadata(stream)


def test_reserved_keys_are_parsed():
    async def body(core):
        metadata = await _set_metadata(core, "s", {
            "$maxCount": 5, "$maxAge": 60, "$tb": 2, "$cacheControl": 30, "$tmp": True,
            "$acl": {"$r": "readers", "$w": ["a", "b"]}, "custom": {"x": 1}})
        assert (metadata.max_count, metadata.max_age, metadata.truncate_before,
                metadata.cache_control) == (5, 60, 2, 30)
        assert metadata.acl.read == ("readers",) and metadata.acl.write == ("a", "b")
        assert metadata.acl.delete is None
        assert metadata.raw["custom"] == {"x": 1}
        assert metadata.metastream_version == 0
    with_core(body)


@pytest.mark.parametrize("document", [
    {"$maxCount": "10", "$tb": 3},
    {"$maxCount": True, "$tb": 3},
    {"$maxAge": 1.5, "$tb": 3},
    {"$tb": 3, "$acl": {"$r": 5}},
    {"$tb": 3, "$acl": ["admin"]},
    {"$tb": 3, "$tmp": "yes"},
])
def test_a_wrongly_typed_reserved_key_voids_every_reserved_key(document):
    async def body(core):
        metadata = await _set_metadata(core, "s", document)
        assert metadata.truncate_before is None and metadata.max_count is None
        assert metadata.acl is None
        assert metadata.raw == document
    with_core(body)


def test_non_positive_limits_are_ignored_and_non_json_metadata_is_empty():
    async def body(core):
        metadata = await _set_metadata(core, "s", {"$maxCount": 0, "$maxAge": -5, "$tb": 1})
        assert (metadata.max_count, metadata.max_age, metadata.truncate_before) == (None, None, 1)
        metadata = await _set_metadata(core, "s", b'{"$tb": 4}', is_json=False)
        assert metadata.truncate_before is None and metadata.raw is None
        metadata = await _set_metadata(core, "s", b'{not json', is_json=True)
        assert metadata.truncate_before is None
    with_core(body)


def test_max_count_sets_the_floor_of_reads():
    async def body(core):
        await core.append("s", events(10), ANY, BOB)
        await _set_metadata(core, "s", {"$maxCount": 3})
        head = await core.read_stream("s", None, 20, "backward", False, BOB)
        assert [e.event.event_number for e in head.events] == [9, 8, 7]
        assert head.floor == 7 and head.is_end_of_stream
        below = await core.read_stream("s", 0, 5, "forward", False, BOB)
        assert below.events == [] and not below.is_end_of_stream and below.next_event_number == 7
        across = await core.read_stream("s", 5, 5, "forward", False, BOB)
        assert [e.event.event_number for e in across.events] == [7, 8, 9]
        assert across.is_end_of_stream
        with pytest.raises(EventNotFound):
            await core.read_event("s", 6, False, BOB)
        assert (await core.read_event("s", 7, False, BOB)).event.event_number == 7
    with_core(body)


def test_truncate_before_hides_older_events():
    async def body(core):
        await core.append("s", events(6), ANY, BOB)
        await _set_metadata(core, "s", {"$tb": 4})
        page = await core.read_stream("s", 0, 20, "forward", False, BOB)
        assert [e.event.event_number for e in page.events] == [4, 5]
        backward = await core.read_stream("s", 3, 2, "backward", False, BOB)
        assert backward.events == [] and backward.is_end_of_stream
    with_core(body)


def test_max_age_hides_old_events(monkeypatch):
    async def body(core):
        await core.append("s", events(3), ANY, BOB)
        await _set_metadata(core, "s", {"$maxAge": 60})
        assert len((await core.read_stream("s", 0, 20, "forward", False, BOB)).events) == 3
        later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=61)
        monkeypatch.setattr(reads, "_now", lambda: later)
        assert (await core.read_stream("s", 0, 20, "forward", False, BOB)).events == []
        with pytest.raises(EventNotFound):
            await core.read_event("s", 0, False, BOB)
    with_core(body)


def test_metastream_shows_only_its_last_event():
    async def body(core):
        await _set_metadata(core, "s", {"v": 1})
        await _set_metadata(core, "s", {"v": 2})
        page = await core.read_stream("$$s", 0, 20, "forward", False, ADMIN)
        assert [e.event.event_number for e in page.events] == [1]
        with pytest.raises(EventNotFound):
            await core.read_event("$$s", 0, False, ADMIN)
    with_core(body)


def test_backward_paging_and_end_of_stream():
    async def body(core):
        await core.append("s", events(45), ANY, BOB)
        head = await core.read_stream("s", None, 20, "backward", False, BOB)
        assert head.events[0].event.event_number == 44 and head.events[-1].event.event_number == 25
        assert not head.is_end_of_stream and head.next_event_number == 24
        last_page = await core.read_stream("s", 4, 20, "backward", False, BOB)
        assert [e.event.event_number for e in last_page.events] == [4, 3, 2, 1, 0]
        assert last_page.is_end_of_stream
        forward = await core.read_stream("s", 40, 20, "forward", False, BOB)
        assert [e.event.event_number for e in forward.events] == [40, 41, 42, 43, 44]
        assert forward.is_end_of_stream and forward.next_event_number == 45
        past = await core.read_stream("s", 45, 20, "forward", False, BOB)
        assert past.events == [] and past.is_end_of_stream and past.last_event_number == 44
        with pytest.raises(ReadTooBig):
            await core.read_stream("s", 0, 4097, "forward", False, BOB)
    with_core(body)
