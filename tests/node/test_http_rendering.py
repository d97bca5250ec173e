"""Pure rendering (clientapi.server.atom) against documents recorded from a real node.

Only `isRedacted` (a v23+ field the 3.9.4 node does not have) is taken out before comparing
the text byte for byte.
"""
from __future__ import annotations

import functools
import json
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clientapi.server.atom import (AllPage, Embed, StreamPage, all_feed, entry_xml, feed_json,
                                   feed_xml, json_text, parse_embed, single_event_json,
                                   stream_feed)
from clientapi.server.atom.text import iso_timestamp
from clientapi.server.core.model import AllSlice, EventRecord, ResolvedEvent, StreamSlice
from transcripts import load, timestamp

BASE = "http://127.0.0.1:2113"


def without_redacted(text: str) -> str:
    return "\n".join(line for line in text.split("\n") if '"isRedacted": false' not in line)


def records_from_body_feed(feed: dict) -> list[ResolvedEvent]:
    """Events (oldest first) rebuilt from an embed=body feed of plain (unlinked) events."""
    events = []
    for entry in reversed(feed["entries"]):
        events.append(ResolvedEvent(EventRecord(
            entry["streamId"], entry["eventNumber"], uuid.UUID(entry["eventId"]),
            entry["eventType"], entry.get("data", "").encode(), entry.get("metaData", "").encode(),
            entry["isJson"], timestamp(entry["updated"]), entry["eventNumber"])))
    return events


@functools.lru_cache(maxsize=None)
def foo_events() -> list[ResolvedEvent]:
    """Events 0..2 of the recorded stream `foo` (skips the test when recordings are absent)."""
    return records_from_body_feed(load("06-read-stream-embed-body.txt").json())


def foo_slice(direction="backward", events=None, start=2, count=20, end=True) -> StreamSlice:
    chosen = foo_events() if events is None else events
    ordered = list(reversed(chosen)) if direction == "backward" else list(chosen)
    return StreamSlice("foo", direction, start, count, ordered, 2, 0, end)


@pytest.mark.parametrize("name, embed", [
    ("05-read-stream-atom-json.txt", "none"), ("06-read-stream-embed-body.txt", "body"),
    ("07-read-stream-embed-rich.txt", "rich"), ("08-read-stream-embed-pretty.txt", "pretty"),
    ("08b-read-stream-embed-content.txt", "content"),
    ("09-read-stream-embed-tryharder.txt", "TryHarder")])
def test_head_feed_at_every_embed_level(name, embed):
    feed = stream_feed(StreamPage("foo", None, 20, "backward"), foo_slice(), BASE,
                       etag="2;-1955838367")
    assert without_redacted(feed_json(feed, BASE, parse_embed(embed))) == load(name).body


def test_forward_page_and_empty_page_past_the_end():
    page = stream_feed(StreamPage("foo", 0, 2, "forward"),
                       foo_slice("forward", foo_events()[:2], 0, 2, end=False), BASE)
    assert feed_json(page, BASE, Embed.NONE) == load("14-read-forward-page.txt").body
    empty = stream_feed(StreamPage("foo", 3, 20, "forward"), foo_slice("forward", [], 3), BASE)
    assert feed_json(empty, BASE, Embed.NONE) == load("18-read-past-end-forward.txt").body


def test_backward_page_of_one_from_the_head():
    page = stream_feed(StreamPage("foo", None, 1, "backward"),
                       foo_slice("backward", foo_events()[2:], None, 1, end=False), BASE,
                       etag="2;-1955838367")
    assert without_redacted(feed_json(page, BASE, Embed.BODY)) == load(
        "15-read-backward-page.txt").body


def test_single_event_documents():
    assert single_event_json(foo_events()[1], BASE, Embed.NONE) == load("11-read-single-event-atom-json.txt").body
    assert single_event_json(foo_events()[0], BASE, Embed.NONE) == load(
        "28-read-event-without-metadata-atom.txt").body
    assert entry_xml(foo_events()[0], BASE, Embed.NONE) == load("13-read-single-event-no-accept.txt").body


def test_non_json_event():
    recorded = load("89-read-nonjson-event-embed-body.txt").json()
    events = records_from_body_feed(recorded)
    slice_ = StreamSlice("strdata", "backward", 0, 20, events, 0, 0, True)
    feed = stream_feed(StreamPage("strdata", None, 20, "backward"), slice_, BASE, etag="0;-1955838367")
    assert without_redacted(feed_json(feed, BASE, Embed.BODY)) == load(
        "89-read-nonjson-event-embed-body.txt").body
    assert single_event_json(events[0], BASE, Embed.NONE) == load(
        "90-read-nonjson-event-single-atom.txt").body


def test_unresolved_link_entries():
    recorded = load("67b-read-et-stream-ES-ResolveLinkTos-false.txt")
    events = records_from_body_feed(recorded.json())
    slice_ = StreamSlice("$et-OrderPlaced", "backward", 0, 20, list(reversed(events)), 0, 0, True)
    feed = stream_feed(StreamPage("$et-OrderPlaced", None, 20, "backward"), slice_, BASE,
                       etag="0;-1955838367")
    assert without_redacted(feed_json(feed, BASE, Embed.BODY)) == recorded.body
    assert single_event_json(events[0], BASE, Embed.NONE) == load(
        "67c-read-single-link-event-ES-ResolveLinkTos-false.txt").body


def test_resolved_link_entries_carry_link_metadata():
    recorded = load("66-read-category-stream-ce-order-embed-body.txt")
    resolved = []
    document = recorded.json()
    newest = document["entries"][0]
    for entry in reversed(document["entries"]):
        # entries are dated by their links, the feed by the newest target event
        created = document["updated"] if entry is newest else entry["updated"]
        target = EventRecord(entry["streamId"], entry["eventNumber"], uuid.UUID(entry["eventId"]),
                             entry["eventType"], entry["data"].encode(), b"", True,
                             timestamp(created), 0)
        link = EventRecord(entry["positionStreamId"], entry["positionEventNumber"], uuid.uuid4(),
                           "$>", f"{entry['eventNumber']}@{entry['streamId']}".encode(),
                           entry["linkMetaData"].encode(), False, timestamp(entry["updated"]), 0)
        resolved.append(ResolvedEvent(target, link))
    slice_ = StreamSlice("$ce-order", "backward", 1, 20, list(reversed(resolved)), 1, 0, True)
    feed = stream_feed(StreamPage("$ce-order", None, 20, "backward"), slice_, BASE,
                       etag="1;-1955838367")
    assert without_redacted(feed_json(feed, BASE, Embed.BODY)) == recorded.body


def test_metadata_entry():
    recorded = load("26-read-metadata-atom-json.txt")
    content = recorded.json()["content"]
    event = EventRecord("$$foo", 1, uuid.UUID(content["eventId"]), "$metadata",
                        json.dumps(content["data"]).encode(), b"", True,
                        timestamp(recorded.json()["updated"]), 0)
    assert single_event_json(ResolvedEvent(event), BASE, Embed.NONE) == recorded.body


def _all_entries(recorded: dict, newest_position: int) -> list[ResolvedEvent]:
    """Plain `$all` entries (oldest first) with made-up positions ending at `newest_position`."""
    events = []
    entries = list(reversed(recorded["entries"]))
    for offset, entry in enumerate(entries):
        number, _, stream_id = entry["title"].partition("@")
        position = newest_position - (len(entries) - 1 - offset)
        events.append(ResolvedEvent(EventRecord(stream_id, int(number), uuid.uuid4(),
                                                entry["summary"], b"", b"", False,
                                                timestamp(entry["updated"]), position)))
    return events


def test_all_pages():
    head = load("20b-read-all-admin-percent-encoded.txt")
    events = _all_entries(head.json(), 0x84C4 - 1)
    events = [ResolvedEvent(events[0].event.__class__(**{**events[0].event.__dict__,
                                                         "position": 0x4B72})), *events[1:]]
    slice_ = AllSlice("backward", None, 3, list(reversed(events)), 0x4B72, 0x84C4, False)
    assert feed_json(all_feed(AllPage(None, 3, "backward"), slice_, BASE), BASE,
                     Embed.NONE) == head.body
    forward = load("109-read-all-forward-from-start.txt")
    events = _all_entries(forward.json(), 0x4B0)
    slice_ = AllSlice("forward", 0, 5, events, 0x4B2, 0x10000, False)
    assert feed_json(all_feed(AllPage(0, 5, "forward"), slice_, BASE), BASE,
                     Embed.NONE) == forward.body
    polled = load("118-all-longpoll-previous-link-woken-by-write.txt")
    events = _all_entries(polled.json(), 0xD7A0)
    slice_ = AllSlice("forward", 0xD7A0, 20, events, 0xD803, 0xD803, True)
    assert feed_json(all_feed(AllPage(0xD7A0, 20, "forward"), slice_, BASE), BASE,
                     Embed.NONE) == polled.body


def test_atom_xml_feed():
    recorded = load("87-read-stream-feed-accept-atom-xml.txt")
    titles = [line for line in recorded.body.split("<entry>")[1:]]
    events = []
    for chunk in reversed(titles):
        title = chunk.split("<title>")[1].split("</title>")[0]
        updated = chunk.split("<updated>")[1].split("</updated>")[0]
        summary = chunk.split("<summary>")[1].split("</summary>")[0]
        number = int(title.split("@")[0])
        events.append(ResolvedEvent(EventRecord("foo", number, uuid.uuid4(), summary, b"{}", b"",
                                                True, timestamp(updated), number)))
    slice_ = StreamSlice("foo", "backward", 5, 20, list(reversed(events)), 5, 0, True)
    feed = stream_feed(StreamPage("foo", None, 20, "backward"), slice_, BASE)
    assert feed_xml(feed, BASE, Embed.NONE) == recorded.body


def test_timestamps_drop_trailing_zeros():
    assert iso_timestamp(timestamp("2026-11-26T12:39:52.82146Z")) == "2026-11-26T12:39:52.82146Z"
    assert iso_timestamp(timestamp("2026-11-26T12:39:52Z")) == "2026-11-26T12:39:52Z"
    assert iso_timestamp(None) == "0001-01-01T00:00:00Z"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_json_text_is_the_standard_indented_layout(value):
    assert json_text(value) == json.dumps(value, indent=2, ensure_ascii=False)
