"""`$all` paging (digest §6.2) and link resolution (§5.5)."""
import pytest

from clientapi.server.core.errors import EventNotFound
from clientapi.server.core.model import ANY

from .helpers import ADMIN, ALICE, BOB, events, link_event, metadata_event, with_core


def test_all_pages_forward_inclusive_and_backward_exclusive():
    async def body(core):
        await core.append("a", events(3), ANY, BOB)
        await core.append("b", events(2), ANY, BOB)
        head = core.head_position()
        everything = await core.read_all(0, 4096, "forward", False, ADMIN)
        positions = [e.event.position for e in everything.events]
        assert positions == sorted(positions) and len(set(positions)) == len(positions)
        assert everything.head_position == head and everything.next_position == head
        assert everything.is_end_of_stream
        assert [(e.event.stream_id, e.event.event_number) for e in everything.events][-5:] == [
            ("a", 0), ("a", 1), ("a", 2), ("b", 0), ("b", 1)]
        # Walk forward two at a time from the start and backward two at a time from the head.
        walked, position = [], 0
        while True:
            page = await core.read_all(position, 2, "forward", False, ADMIN)
            walked += [e.event.position for e in page.events]
            if not page.events:
                break
            position = page.next_position
        assert walked == positions
        walked, position = [], None
        while True:
            page = await core.read_all(position, 2, "backward", False, ADMIN)
            walked += [e.event.position for e in page.events]
            if page.is_end_of_stream:
                break
            position = page.next_position
        assert walked == positions[::-1]
        middle = positions[3]
        assert (await core.read_all(middle, 1, "forward", False, ADMIN)).events[0].event.position == middle
        assert (await core.read_all(middle, 1, "backward", False, ADMIN)).events[0].event.position == positions[2]
    with_core(body)


def test_all_resolves_links_only_when_asked():
    async def body(core):
        await core.append("target", events(1), ANY, BOB)
        await core.append("links", [link_event(0, "target")], ANY, BOB)
        plain = await core.read_all(None, 1, "backward", False, ADMIN)
        assert plain.events[0].event.is_link and plain.events[0].link is None
        resolved = await core.read_all(None, 1, "backward", True, ADMIN)
        assert resolved.events[0].event.stream_id == "target"
        assert resolved.events[0].link.stream_id == "links"
    with_core(body)


def test_stream_reads_resolve_links():
    async def body(core):
        await core.append("target", events(2), ANY, BOB)
        await core.append("links", [link_event(1, "target"), link_event(0, "target")], ANY, BOB)
        page = await core.read_stream("links", 0, 10, "forward", True, BOB)
        assert [(e.event.stream_id, e.event.event_number) for e in page.events] == [("target", 1), ("target", 0)]
        assert [e.original.event_number for e in page.events] == [0, 1]
        raw = await core.read_stream("links", 0, 10, "forward", False, BOB)
        assert raw.events[0].event.data == b"1@target" and raw.events[0].link is None
        single = await core.read_event("links", 0, True, BOB)
        assert single.event.stream_id == "target" and single.link.event_number == 0
    with_core(body)


def test_links_to_gone_or_forbidden_targets_keep_only_the_link():
    async def body(core):
        await core.append("soft", events(1), ANY, BOB)
        await core.append("hard", events(1), ANY, BOB)
        await core.append("secret", events(1), ANY, ADMIN)
        await core.append("$$secret", [metadata_event({"$acl": {"$r": "alice"}})], ANY, ADMIN)
        await core.append("links", [link_event(0, "soft"), link_event(0, "hard"), link_event(0, "secret"),
                                    link_event(5, "soft"), link_event(0, "never")], ANY, BOB)
        await core.delete_stream("soft", ANY, False, BOB)
        await core.delete_stream("hard", ANY, True, BOB)
        page = await core.read_stream("links", 0, 10, "forward", True, BOB)
        assert [e.event for e in page.events] == [None] * 5
        assert [e.link.event_number for e in page.events] == [0, 1, 2, 3, 4]
        as_alice = await core.read_stream("links", 0, 10, "forward", True, ALICE)
        assert as_alice.events[2].event.stream_id == "secret"
        with pytest.raises(EventNotFound):
            await core.read_event("links", 0, True, BOB)
    with_core(body)
