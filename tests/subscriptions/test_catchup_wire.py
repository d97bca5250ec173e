"""From a feed response to what the catch-up state machine takes, on the shapes a real
3.9.4 node sent: forward stream pages (`previous` = newer), the empty head page a long
poll answers with when it times out, the head page's link used to start at the end,
and `$all` forward pages whose `previous` links carry prepare position 0."""
import json

import pytest
from tornado.httputil import HTTPHeaders

from clientapi.errors import ProtocolError
from clientapi.wire import Response, decoding
from clientapi.wire.catchup import (
    START_OF_ALL, AllCheckpoint, AllCursor, AllPosition, CatchUp, Read, StreamCursor,
    fetched_page, head_start,
)
from clientapi.wire.requests import encode_position

BASE = "http://127.0.0.1:2113"


def feed(links, entries=(), head_of_stream=False, title="Event stream 'long'"):
    document = {"title": title, "id": BASE + "/streams/long", "updated": "0001-01-01T00:00:00Z",
                "author": {"name": "EventStore"}, "headOfStream": head_of_stream,
                "links": [{"uri": BASE + uri, "relation": rel} for uri, rel in links],
                "entries": list(entries)}
    headers = HTTPHeaders({"Content-Type": "application/vnd.eventstore.atom+json; charset=utf-8"})
    return decoding.parse_feed(Response(200, "OK", headers, json.dumps(document).encode()))


def entry(stream, number, position=None):
    position_stream, position_number = position or (stream, number)
    return {"eventId": "0f9fad5b-d9cb-469f-a165-70867728950f", "eventType": "n",
            "eventNumber": number, "data": "{\n  \"n\": %d\n}" % number, "streamId": stream,
            "isJson": True, "isMetaData": False, "isLinkMetaData": False,
            "positionEventNumber": position_number, "positionStreamId": position_stream,
            "title": "%d@%s" % (number, stream), "id": "%s/streams/%s/%d" % (BASE, stream, number),
            "updated": "2026-11-26T12:39:52.821483Z", "author": {"name": "EventStore"},
            "summary": "$>" if position else "n", "links": []}


def events_of(page):
    return [decoding.read_event_from_entry(e) for e in page.entries]


def page_for(page, of_all=False, count=20):
    return fetched_page(page, events_of(page), of_all, count)


def test_a_forward_page_is_handed_over_oldest_first_and_its_previous_link_followed():
    # GET /streams/long/20/forward/20 on a stream of 25 events (recorded: 117)
    page = feed([("/streams/long", "self"), ("/streams/long/head/backward/20", "first"),
                 ("/streams/long/0/forward/20", "last"), ("/streams/long/19/backward/20", "next"),
                 ("/streams/long/25/forward/20", "previous"), ("/streams/long/metadata", "metadata")],
                [entry("long", n) for n in range(24, 19, -1)], head_of_stream=True)
    fetched = page_for(page)
    assert [e.event_number for e in fetched.events] == [20, 21, 22, 23, 24]
    assert fetched.newer == 25 and fetched.head_of_stream

    catch_up = CatchUp(StreamCursor(19, lambda e: e.event_number))
    assert catch_up.next_read().start == 20
    assert [e.event_number for e in catch_up.on_page(fetched, 0.01)] == [20, 21, 22, 23, 24]
    assert catch_up.next_read().start == 25 and catch_up.is_live


def test_the_empty_page_past_the_end_has_no_previous_link_and_is_polled_again():
    # GET /streams/foo/5/forward/20 with ES-LongPoll: 3, timed out (recorded: 43)
    page = feed([("/streams/foo", "self"), ("/streams/foo/head/backward/20", "first"),
                 ("/streams/foo/0/forward/20", "last"), ("/streams/foo/4/backward/20", "next"),
                 ("/streams/foo/metadata", "metadata")], head_of_stream=True)
    fetched = page_for(page)
    assert fetched.events == [] and fetched.newer is None

    catch_up = CatchUp(StreamCursor(4, lambda e: e.event_number))
    assert catch_up.next_read() == Read(start=5)  # catching up: no long poll yet
    catch_up.on_page(fetched, elapsed=0.01)
    assert catch_up.is_live
    assert catch_up.next_read() == Read(start=5, long_poll=True)
    catch_up.on_page(fetched, elapsed=3.3)  # the long poll timed out
    assert catch_up.next_read() == Read(start=5, long_poll=True)


def test_start_at_the_end_from_the_head_pages_previous_link():
    # GET /streams/long/head/backward/1 (the head page links `previous` to last + 1)
    page = feed([("/streams/long", "self"), ("/streams/long/head/backward/1", "first"),
                 ("/streams/long/0/forward/1", "last"), ("/streams/long/23/backward/1", "next"),
                 ("/streams/long/25/forward/1", "previous"), ("/streams/long/metadata", "metadata")],
                [entry("long", 24)], head_of_stream=True)
    assert head_start(page, of_all=False) == 25


def test_resolved_links_are_ordered_by_their_number_in_the_category_stream():
    page = feed([("/streams/%24ce-order/3/forward/20", "previous")],
                [entry("order-2", 0, ("$ce-order", 2)), entry("order-1", 1, ("$ce-order", 1)),
                 entry("order-1", 0, ("$ce-order", 0))])
    fetched = page_for(page)
    catch_up = CatchUp(StreamCursor(0, lambda e: e.original_event_number))
    catch_up.next_read()
    assert [(e.stream_id, e.event_number) for e in catch_up.on_page(fetched)] == [
        ("order-1", 1), ("order-2", 0)]


def test_all_pages_follow_previous_links_with_prepare_position_zero():
    # GET /streams/%24all/000000000000D7A0000000000000D7A0/forward/20, woken by a write (118)
    page = feed([("/streams/%24all", "self"), ("/streams/%24all/head/backward/20", "first"),
                 ("/streams/%24all/00000000000000000000000000000000/forward/20", "last"),
                 ("/streams/%24all/000000000000D7A0000000000000D7A0/backward/20", "next"),
                 ("/streams/%24all/000000000000D8030000000000000000/forward/20", "previous"),
                 ("/streams/%24all/metadata", "metadata")],
                [entry("lp-all", 0)], title="All events")
    fetched = page_for(page, of_all=True)
    assert fetched.newer == AllPosition(0xD803, 0)
    assert fetched.head_of_stream  # `$all` says so only by a short page
    assert encode_position(fetched.newer) == "000000000000D8030000000000000000"

    here = AllPosition(0xD7A0, 0xD7A0)
    catch_up = CatchUp(AllCursor(AllCheckpoint(here)))
    assert catch_up.next_read().start == here
    for event in catch_up.on_page(fetched, 1.0):
        catch_up.delivered(event)
    assert catch_up.checkpoint == AllCheckpoint(here, 1)
    assert catch_up.next_read().start == AllPosition(0xD803, 0)


def test_all_head_page_gives_the_position_new_events_start_at():
    # GET /streams/%24all/head/backward/1: `previous` always there on backward pages
    page = feed([("/streams/%24all/00000000000084C400000000000084C4/forward/1", "previous")],
                title="All events")
    assert head_start(page, of_all=True) == AllPosition(0x84C4, 0x84C4)
    assert AllPosition.from_hex("00000000000084c400000000000084C4") == AllPosition(0x84C4, 0x84C4)
    assert START_OF_ALL == (0, 0)


def test_a_previous_link_that_cannot_be_followed_is_a_protocol_error():
    page = feed([("/streams/long/somewhere-else", "previous")])
    with pytest.raises(ProtocolError):
        page_for(page)
    with pytest.raises(ProtocolError):
        head_start(feed([]), of_all=True)
