"""Responses to results: feeds, entries, append locations, metadata documents."""
from __future__ import annotations

import contextlib
import gc
import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ..errors import ProtocolError
from ..events import ReadEvent, parse_timestamp
from . import media
from .http import Response

__all__ = ["FeedPage", "parse_json_body", "parse_feed", "parse_entry", "parse_metadata_document",
           "needs_text", "entry_key", "read_event_from_entry", "read_events_from_entries", "gc_paused", "appended_event_numbers",
           "stream_link_start", "all_link_position", "decode_position", "parse_timestamp"]

Position = Tuple[int, int]  # (commit, prepare)

# Event numbers are int64: at most 19 ASCII digits (`\d` would also take other scripts'
# digits, and int() of thousands of digits raises).
_NUMBER = "([0-9]{1,19})"
_STREAM_LINK = re.compile(r"/" + _NUMBER + r"/(?:forward|backward)/[0-9]+/?(?:\?|$)")
_ALL_LINK = re.compile(r"/([0-9A-Fa-f]{32})/(?:forward|backward)/[0-9]+/?(?:\?|$)")
_TITLE = re.compile(_NUMBER + r"@(.+)", re.S)
_LOCATION_NUMBER = re.compile(_NUMBER)


def _protocol_error(response: Response, message: str) -> ProtocolError:
    return ProtocolError(message, status=response.status, request=response.describe_request())


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around a burst of allocations that creates no
    reference cycles (a feed page of 4096 entries becomes tens of thousands of dicts,
    and each gen-0 threshold crossing would otherwise rescan everything the caller holds).
    Nothing runs concurrently inside, and a collector the caller disabled stays disabled."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_json_body(response: Response, media_types=media.JSON_MEDIA_TYPES) -> Any:
    if response.media_type not in media_types:
        raise _protocol_error(response, "expected a JSON response, got content type {!r}".format(
            response.headers.get("Content-Type", "")))
    try:
        with gc_paused():
            return json.loads(response.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise _protocol_error(response, "invalid JSON in response: {}".format(error)) from None


@dataclass
class FeedPage:
    entries: List[dict] = field(default_factory=list)  # as sent: newest first
    links: Dict[str, str] = field(default_factory=dict)
    head_of_stream: bool = False

    def link(self, relation: str) -> Optional[str]:
        return self.links.get(relation)


def parse_feed(response: Response) -> FeedPage:
    document = parse_json_body(response, media.FEED_MEDIA_TYPES)
    if not isinstance(document, dict):
        raise _protocol_error(response, "feed is not a JSON object")
    entries = document.get("entries", [])
    links = document.get("links", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise _protocol_error(response, "feed 'entries' is not a list of objects")
    if not isinstance(links, list):
        raise _protocol_error(response, "feed 'links' is not a list")
    relations: Dict[str, str] = {}
    for item in links:
        if (not isinstance(item, dict) or not isinstance(item.get("uri"), str)
                or not isinstance(item.get("relation"), str)):
            raise _protocol_error(response, "feed link is not a {uri, relation} object")
        relations.setdefault(item["relation"], item["uri"])
    return FeedPage(entries, relations, document.get("headOfStream") is True)


def parse_entry(response: Response) -> dict:
    document = parse_json_body(response, media.FEED_MEDIA_TYPES)
    if not isinstance(document, dict):
        raise _protocol_error(response, "entry is not a JSON object")
    return document


def parse_metadata_document(response: Response) -> dict:
    document = parse_json_body(response)
    if not isinstance(document, dict):
        raise _protocol_error(response, "stream metadata is not a JSON object")
    return document


def needs_text(entry: dict) -> bool:
    """`embed=body` leaves out the payload of non-JSON events; such entries need a second look."""
    return "eventId" in entry and entry.get("isJson") is not True and "data" not in entry


def entry_key(entry: dict) -> Tuple[Any, Any]:
    """Where the record sits in the stream that was read (unique within one page)."""
    return (entry.get("positionStreamId", entry.get("streamId")),
            entry.get("positionEventNumber", entry.get("eventNumber", entry.get("title"))))


_decoder = json.JSONDecoder()


def _parse_json(text: str) -> Any:
    """json.loads minus its per-call overhead: straight to the scanner, which sees the usual
    payload (no surrounding whitespace) whole; anything else goes the long way."""
    try:
        value, end = _decoder.raw_decode(text)
    except ValueError:
        return _decoder.decode(text)  # leading whitespace, or the error to raise
    return value if end == len(text) else _decoder.decode(text)


def _json_or_text(text: str, as_json: bool) -> Any:
    if as_json:
        try:
            return _parse_json(text)
        except (ValueError, RecursionError):
            pass  # the JSON flag may come from the metadata alone; or nested too deep for Python
    return text


def _metadata(text: Any) -> Any:
    """Metadata has no JSON flag of its own: objects and arrays come back parsed."""
    if not text or not isinstance(text, str):
        return ""
    if text.lstrip()[:1] in ("{", "["):
        return _json_or_text(text, True)
    return text


def _text_or_none(value: Any) -> Optional[str]:
    # ReadEvent converts ids and timestamps on first use; only text is passed on.
    return value if isinstance(value, str) else None


def _is_int(value: Any) -> bool:
    return value.__class__ is int  # not bool, which is an int too


def _from_content(entry: dict, content: dict) -> ReadEvent:
    """Entries without rich fields (older or minimal servers) still carry `content` for
    JSON events on single reads."""
    stream_id, number, event_type = (content.get(name)
                                     for name in ("eventStreamId", "eventNumber", "eventType"))
    if not isinstance(stream_id, str) or not _is_int(number) or not isinstance(event_type, str):
        raise ProtocolError("feed entry content lacks eventStreamId, eventNumber or eventType")
    return ReadEvent(stream_id=stream_id, event_number=number, event_type=event_type,
                     data=content.get("data"), metadata=content.get("metadata") or "",
                     event_id=_text_or_none(content.get("eventId")), is_json=True,
                     created=_text_or_none(entry.get("updated")))


def _from_title(entry: dict) -> ReadEvent:
    """A plain entry (e.g. a link whose target is gone): only `N@stream` and the summary."""
    title = entry.get("title")
    match = _TITLE.fullmatch(title) if isinstance(title, str) else None
    if not match:
        raise ProtocolError("feed entry has neither event fields nor an 'N@stream' title")
    return ReadEvent(stream_id=match.group(2), event_number=int(match.group(1)),
                     event_type=_text_or_none(entry.get("summary")) or "", data=None,
                     created=_text_or_none(entry.get("updated")))


def read_event_from_entry(entry: dict, text: Optional[str] = None) -> ReadEvent:
    """`text` is the payload found by a `tryharder` read when `needs_text(entry)`."""
    if "eventId" not in entry:
        content = entry.get("content")
        if isinstance(content, dict) and "eventNumber" in content:
            return _from_content(entry, content)
        return _from_title(entry)
    # This runs once per event of every page read: kept to few calls.
    get = entry.get
    stream_id = get("streamId")
    number = get("eventNumber")
    event_type = get("eventType")
    if not isinstance(stream_id, str) or number.__class__ is not int or not isinstance(event_type, str):
        raise ProtocolError("feed entry lacks streamId, eventNumber or eventType")
    is_json = get("isJson") is True
    data = get("data", text)
    if data.__class__ is str:
        data = _json_or_text(data, is_json)
    elif data is None:
        data = None if needs_text(entry) else ""
    else:
        raise ProtocolError("feed entry 'data' is not text")
    metadata = get("metaData")
    metadata = _metadata(metadata) if metadata else ""
    position_stream = get("positionStreamId", stream_id)
    position_number = get("positionEventNumber", number)
    event_id = entry["eventId"]
    created = get("updated")
    if position_stream == stream_id and position_number == number:
        return ReadEvent(stream_id, number, event_type, data, metadata,
                         event_id if event_id.__class__ is str else None, is_json,
                         created if created.__class__ is str else None)
    return ReadEvent(
        stream_id, number, event_type, data, metadata, _text_or_none(event_id), is_json,
        _text_or_none(created),
        original_stream_id=position_stream, original_event_number=position_number,
        link_metadata=_metadata(entry.get("linkMetaData")))


def read_events_from_entries(entries: List[dict]) -> List[ReadEvent]:
    """A page's entries as ReadEvents (those that `needs_text` get data None)."""
    with gc_paused():
        return [read_event_from_entry(entry) for entry in entries]


def appended_event_numbers(response: Response, count: int) -> List[int]:
    """201 `Location: .../streams/<stream>/<first number written>`."""
    location = response.headers.get("Location") or ""
    match = _LOCATION_NUMBER.fullmatch(location.rstrip("/").rsplit("/", 1)[-1])
    if not match:
        raise _protocol_error(response, "append answered without an event number in Location")
    first = int(match.group(1))
    return list(range(first, first + count))


def stream_link_start(uri: Optional[str]) -> Optional[int]:
    match = _STREAM_LINK.search(uri or "")
    return int(match.group(1)) if match else None


def decode_position(text: str) -> Position:
    if len(text) != 32:
        raise ValueError("a $all position has 32 hex digits")
    return int(text[:16], 16), int(text[16:], 16)


def all_link_position(uri: Optional[str]) -> Optional[Position]:
    match = _ALL_LINK.search(uri or "")
    return decode_position(match.group(1)) if match else None
