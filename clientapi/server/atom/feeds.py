"""Atom feeds of streams and of `$all` (JSON), with the real server's paging links.

Pure functions: a `StreamSlice`/`AllSlice` and the request's paging parameters in, the
feed's JSON text out. Link presence and targets follow the digest §5.4 (streams) and
§6.3 (`$all`); entries are newest first on every page.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Sequence

from ..core.model import AllSlice, ResolvedEvent, StreamSlice
from .entries import AUTHOR, Embed, entries_text
from .text import EMPTY_UPDATED, escape_stream, iso_timestamp, json_text

ALL_STREAM_PATH = "/streams/%24all"
ZERO_POSITION = "0" * 32


@dataclass(frozen=True)
class Link:
    uri: str
    relation: str


def format_position(commit: int, prepare: Optional[int] = None) -> str:
    """32 upper-case hex digits: commit position then prepare position."""
    return f"{commit:016X}{commit if prepare is None else prepare:016X}"


_HEX_32 = re.compile(r"[0-9A-Fa-f]{32}")


def parse_position(text: str) -> Optional[int]:
    """The commit part of a 32-hex `$all` position, or None when malformed or negative."""
    if len(text) != 32 or not _HEX_32.fullmatch(text):
        return None
    commit, prepare = int(text[:16], 16), int(text[16:], 16)
    if commit >= 1 << 63 or prepare >= 1 << 63:
        return None
    return commit


def _newest_first(events: Sequence[ResolvedEvent], direction: str) -> Sequence[ResolvedEvent]:
    return events[::-1] if direction == "forward" else events


def _entries_text(events: Sequence[ResolvedEvent], base: str, embed: Embed) -> str:
    if not events:
        return "[]"
    body = ",\n".join("    " + text for text in entries_text(events, base, embed, "    "))
    return f"[\n{body}\n  ]"


@dataclass(frozen=True)
class Feed:
    """A feed ready to render: `head` holds the feed-level fields in emitted order."""

    head: dict
    links: list[Link]
    entries: Sequence[ResolvedEvent]  # newest first

    @property
    def title(self) -> str:
        return self.head["title"]


def feed_json(feed: Feed, base: str, embed: Embed) -> str:
    """The feed as JSON text in the real server's layout."""
    head = dict(feed.head)
    head["links"] = [{"uri": link.uri, "relation": link.relation} for link in feed.links]
    text = json_text(head)
    return f'{text[:-2]},\n  "entries": {_entries_text(feed.entries, base, embed)}\n}}'


def _updated(event: Optional[ResolvedEvent]) -> str:
    """A feed is dated by an event's own time (an entry by its link's, when it is one)."""
    if event is None:
        return EMPTY_UPDATED
    return iso_timestamp((event.event or event.original).created)


# --- streams --------------------------------------------------------------------------

@dataclass(frozen=True)
class StreamPage:
    """What was asked for: `start` None means the head request."""

    stream_id: str
    start: Optional[int]
    count: int
    direction: str


def stream_links(page: StreamPage, slice_: StreamSlice, base: str) -> list[Link]:
    stream_url = f"{base}/streams/{escape_stream(page.stream_id)}"
    count, last = page.count, slice_.last_event_number
    links = [Link(stream_url, "self"), Link(f"{stream_url}/head/backward/{count}", "first")]
    if page.direction == "backward":
        start = last if page.start is None else page.start
        if not slice_.is_end_of_stream:
            links.append(Link(f"{stream_url}/0/forward/{count}", "last"))
            links.append(Link(f"{stream_url}/{start - count}/backward/{count}", "next"))
        links.append(Link(f"{stream_url}/{min(start, last) + 1}/forward/{count}", "previous"))
    else:
        start = page.start or 0
        if start > 0:
            links.append(Link(f"{stream_url}/0/forward/{count}", "last"))
            links.append(Link(f"{stream_url}/{start - 1}/backward/{count}", "next"))
        if not slice_.is_end_of_stream or slice_.events:
            newest = min(start + count - 1, last)
            links.append(Link(f"{stream_url}/{newest + 1}/forward/{count}", "previous"))
    links.append(Link(f"{stream_url}/metadata", "metadata"))
    return links


def stream_head_of_stream(page: StreamPage, slice_: StreamSlice) -> bool:
    if page.direction == "backward":
        return page.start is None
    return (page.start or 0) + page.count - 1 >= slice_.last_event_number


def stream_feed(page: StreamPage, slice_: StreamSlice, base: str,
                etag: Optional[str] = None) -> Feed:
    """The feed document; `etag` (`"<n>;<hash>"`, unquoted) goes in the body of head pages."""
    entries = _newest_first(slice_.events, page.direction)
    stream_url = f"{base}/streams/{escape_stream(page.stream_id)}"
    if page.direction == "forward":  # a forward page is dated by the first event read
        updated = _updated(slice_.events[0] if slice_.events else None)
    else:
        updated = _updated(entries[0] if entries else None)
    head: dict = {"title": f"Event stream '{page.stream_id}'", "id": stream_url,
                  "updated": updated, "streamId": page.stream_id, "author": {"name": AUTHOR},
                  "headOfStream": stream_head_of_stream(page, slice_)}
    if page.direction == "backward":
        head["selfUrl"] = stream_url
        if page.start is None and etag is not None:
            head["eTag"] = etag
    return Feed(head, stream_links(page, slice_, base), entries)


# --- $all -------------------------------------------------------------------------------

@dataclass(frozen=True)
class AllPage:
    """`start` None means the head (backward only)."""

    start: Optional[int]
    count: int
    direction: str


def all_links(page: AllPage, slice_: AllSlice, base: str,
              path: str = ALL_STREAM_PATH) -> list[Link]:
    """`path` is `/streams/%24all`, or its `/filtered` form (links carry no filter query)."""
    all_url = base + path
    count = page.count
    full = len(slice_.events) >= count
    links = [Link(all_url, "self"), Link(f"{all_url}/head/backward/{count}", "first")]
    if page.direction == "backward":
        if full:
            links.append(Link(f"{all_url}/{ZERO_POSITION}/forward/{count}", "last"))
            links.append(Link(f"{all_url}/{format_position(slice_.next_position)}/backward/{count}",
                              "next"))
        if slice_.events:
            newer = slice_.events[0].original.position + 1
        else:
            newer = slice_.head_position if page.start is None else page.start
        links.append(Link(f"{all_url}/{format_position(newer)}/forward/{count}", "previous"))
    else:
        start = page.start or 0
        if start != 0:
            links.append(Link(f"{all_url}/{ZERO_POSITION}/forward/{count}", "last"))
            links.append(Link(f"{all_url}/{format_position(start)}/backward/{count}", "next"))
        if slice_.events:
            # the real server hands out the continuation of a forward page with prepare 0
            links.append(Link(f"{all_url}/{format_position(slice_.next_position, 0)}/forward/{count}",
                              "previous"))
    links.append(Link(f"{base}{ALL_STREAM_PATH}/metadata", "metadata"))
    return links


def all_feed(page: AllPage, slice_: AllSlice, base: str, path: str = ALL_STREAM_PATH) -> Feed:
    entries = _newest_first(slice_.events, page.direction)
    head: dict = {"title": "All events", "id": base + ALL_STREAM_PATH,
                  "updated": _updated(entries[0] if entries else None),
                  "author": {"name": AUTHOR}, "headOfStream": False}
    return Feed(head, all_links(page, slice_, base, path), entries)
