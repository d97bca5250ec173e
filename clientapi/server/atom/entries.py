"""Atom entries and single-event documents, rendered from core model objects.

Every function here is pure: a `ResolvedEvent` (or `EventRecord`) plus the absolute base
URL in, JSON text or a plain value out. Entries are produced directly as text in the
real server's layout (2-space indent, field order as recorded from a real node) because
feeds of 4096 entries are on the hot path; `entry_document` gives the same as a dict.
"""
from __future__ import annotations

import json
from enum import IntEnum
from functools import lru_cache
from typing import Any, Iterable, Optional

from ..core.model import LINK_EVENT_TYPE, EventRecord, ResolvedEvent
from .text import (decode_text, encode_basestring, escape_stream, iso_timestamp, json_text,
                   nested_json, parse_json_document, pretty_json)

_q = encode_basestring  # a JSON string literal (C-accelerated)

AUTHOR = "EventStore"
LINK_SUMMARY = "$>"


class Embed(IntEnum):
    """`?embed=` levels, ordered as the real server compares them."""

    NONE = 0
    CONTENT = 1
    RICH = 2
    BODY = 3
    PRETTY = 4
    TRYHARDER = 5


_EMBED_NAMES = {"content": Embed.CONTENT, "rich": Embed.RICH, "body": Embed.BODY,
                "pretty": Embed.PRETTY, "tryharder": Embed.TRYHARDER}


def parse_embed(value: Optional[str]) -> Embed:
    """Unknown values (including `PrettyBody`) mean no embedding, as on the real server."""
    return _EMBED_NAMES.get((value or "").lower(), Embed.NONE)


def event_url(base: str, stream_id: str, event_number: int) -> str:
    return f"{base}/streams/{escape_stream(stream_id)}/{event_number}"


# --- the flat event record (`content`, application/vnd.eventstore.event+json) -----------

def _payload_value(raw: bytes, is_json: bool) -> Any:
    text = decode_text(raw)
    if is_json:
        parsed = parse_json_document(text)
        if parsed is not None:
            return parsed
    return text


def event_record(event: EventRecord) -> dict:
    """`{"eventStreamId", "eventNumber", "eventType", "eventId", "data", "metadata"}`."""
    return {
        "eventStreamId": event.stream_id,
        "eventNumber": event.event_number,
        "eventType": event.event_type,
        "eventId": str(event.event_id),
        "data": _payload_value(event.data, event.is_json),
        "metadata": _payload_value(event.metadata, event.is_json),
    }


def event_data_document(event: EventRecord) -> Any:
    """`application/json` for a single event: the data itself (a JSON string when not JSON)."""
    return _payload_value(event.data, event.is_json)


# --- entries ------------------------------------------------------------------------

class _Streams(dict):
    """Per-render memo: stream id -> (its JSON literal, its URL prefix as an open JSON literal)."""

    def __init__(self, base: str):
        super().__init__()
        self.base = base

    def __missing__(self, stream_id: str) -> tuple[str, str]:
        url_prefix = _q(f"{self.base}/streams/{escape_stream(stream_id)}/")[:-1]
        value = self[stream_id] = (_q(stream_id), url_prefix)
        return value


def _rich_fields(resolved: ResolvedEvent, target: EventRecord, embed: Embed, sep: str,
                 streams: _Streams) -> str:
    """The fields an entry carries before `title` at rich levels and above, `sep`-joined."""
    record = resolved.original
    is_json = target.is_json
    text = (f'"eventId": "{target.event_id}"{sep}"eventType": {_q(target.event_type)}{sep}'
            f'"eventNumber": {target.event_number}{sep}')
    is_metadata = is_link_metadata = "false"
    if embed >= Embed.BODY:
        data = None
        if is_json:
            data = decode_text(target.data)
            if embed >= Embed.PRETTY:
                data = pretty_json(data) or data
        elif embed >= Embed.TRYHARDER:
            data = decode_text(target.data)
            pretty = pretty_json(data)
            if pretty is not None:
                data, is_json = pretty, True
        if data is not None:
            text += f'"data": {_q(data)}{sep}'
        if target.metadata:
            metadata = decode_text(target.metadata)
            if embed >= Embed.PRETTY:
                metadata = pretty_json(metadata) or metadata
            text += f'"metaData": {_q(metadata)}{sep}'
            is_metadata = "true"
        if resolved.link is not None and resolved.event is not None:
            link_metadata = decode_text(resolved.link.metadata)
            if embed >= Embed.PRETTY:
                link_metadata = pretty_json(link_metadata) or link_metadata
            text += f'"linkMetaData": {_q(link_metadata)}{sep}'
            if link_metadata:
                is_link_metadata = "true"
    return (f'{text}"streamId": {streams[target.stream_id][0]}{sep}'
            f'"isJson": {"true" if is_json else "false"}{sep}'
            f'"isMetaData": {is_metadata}{sep}"isLinkMetaData": {is_link_metadata}{sep}'
            f'"isRedacted": false{sep}"positionEventNumber": {record.event_number}{sep}'
            f'"positionStreamId": {streams[record.stream_id][0]}{sep}')


def _unresolved_link_target(link: EventRecord) -> tuple[str, int]:
    """`N@stream` from a link's data, for a link whose target is gone."""
    number, _, stream = decode_text(link.data).partition("@")
    try:
        return stream, int(number)
    except ValueError:
        return link.stream_id, link.event_number


@lru_cache(maxsize=16)
def _layout(prefix: str) -> tuple[str, str, str, str, str]:
    """(field separator, author block, link texts around the two URLs) for an entry at `prefix`."""
    inner = prefix + "  "
    sep = ",\n" + inner
    author = f'"author": {{\n{inner}  "name": "{AUTHOR}"\n{inner}}}'
    link = inner + "  "
    links_open = f'"links": [\n{link}{{\n{link}  "uri": '
    links_middle = f',\n{link}  "relation": "edit"\n{link}}},\n{link}{{\n{link}  "uri": '
    links_close = f',\n{link}  "relation": "alternate"\n{link}}}\n{inner}]\n{prefix}}}'
    return sep, author, links_open, links_middle, links_close


def entries_text(events: Iterable[ResolvedEvent], base: str, embed: Embed,
                 prefix: str = "") -> list[str]:
    """Entries of one feed (sharing the per-stream work), each opening at `prefix`."""
    streams = _Streams(base)
    return [entry_text(event, base, embed, prefix, streams=streams) for event in events]


def entry_text(resolved: ResolvedEvent, base: str, embed: Embed, prefix: str = "",
               single: bool = False, streams: Optional[_Streams] = None) -> str:
    """One entry as JSON text whose opening brace sits at indentation `prefix`.

    `single` marks a single-event read, which carries `content` like embed=content does.
    """
    if streams is None:
        streams = _Streams(base)
    sep, author, links_open, middle, close = _layout(prefix)
    target = resolved.event
    record = resolved.original
    rich = ""
    if target is None:  # link to an event that is gone: a plain entry from the link's data
        stream_id, number = _unresolved_link_target(record)
        summary = LINK_SUMMARY
    else:
        stream_id, number = target.stream_id, target.event_number
        summary = LINK_SUMMARY if record.event_type == LINK_EVENT_TYPE else target.event_type
        if embed >= Embed.RICH:
            rich = _rich_fields(resolved, target, embed, sep, streams)
    quoted_stream, url_prefix = streams[stream_id]
    url = f'{url_prefix}{number}"'

    content = ""
    if (target is not None and (single or embed == Embed.CONTENT) and target.is_json
            and record.event_type != LINK_EVENT_TYPE):
        content = f'{sep}"content": {nested_json(event_record(target), prefix + "  ")}'
    return (f'{{{sep[1:]}{rich}"title": "{number}@{quoted_stream[1:]}{sep}"id": {url}{sep}'
            f'"updated": "{iso_timestamp(record.created)}"{sep}{author}{sep}'
            f'"summary": {_q(summary)}{content}{sep}{links_open}{url}{middle}{url}{close}')


def entry_document(resolved: ResolvedEvent, base: str, embed: Embed, single: bool = False) -> dict:
    """The entry as a dict (same content and key order as `entry_text`)."""
    return json.loads(entry_text(resolved, base, embed, single=single))


def single_event_json(resolved: ResolvedEvent, base: str, embed: Embed) -> str:
    """`GET /streams/{s}/{n}` as application/vnd.eventstore.atom+json."""
    return entry_text(resolved, base, embed, single=True)


def event_record_json(event: EventRecord) -> str:
    """`GET /streams/{s}/{n}` as application/vnd.eventstore.event+json."""
    return json_text(event_record(event))
