"""Request bodies of appends -> `NewEvent`s (digest §4.2), with the real server's refusals.

Pure: bytes, the request media type and the ES-EventId/ES-EventType values in; a list of
events out, or `AppendRejected` (400 with the real text) / `EventTooLarge` (413).
Storage rules (expected version, idempotency) are the core's; nothing of that here.
"""
from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ElementTree
from typing import Any, Optional

from ..atom.text import json_text, parse_json_document
from ..core.model import NewEvent
from . import media

MAX_EVENT_BYTES = 4 * 1024 * 1024

BODY_INVALID = "Write request body invalid."
EMPTY_EVENT_ID = "Empty eventId provided."
EMPTY_EVENT_TYPE = "Empty eventType provided."
MISSING_EVENT_TYPE = ("Must include an event type with the request either in body or as "
                      "ES-EventType header.")
TOO_LARGE = "Too large events received. Limit is 4mb"

_JSON_BATCH_TYPES = frozenset({media.EVENTS_JSON, media.KURRENT_EVENTS_JSON, media.EVENT_JSON,
                               media.KURRENT_EVENT_JSON, media.ATOM_JSON, media.KURRENT_ATOM_JSON})
_XML_BATCH_TYPES = frozenset({media.EVENTS_XML, media.EVENT_XML, media.ATOM_XML})
_SINGLE_EVENT_TYPES = frozenset({media.APPLICATION_JSON, media.TEXT_XML, media.APPLICATION_XML,
                                 media.OCTET_STREAM})


class AppendRejected(ValueError):
    """400 with the real server's text."""


class EventTooLarge(ValueError):
    """413: one event's data plus metadata is over 4 MiB."""


def is_single_event_type(media_type: str) -> bool:
    """Bodies that are one event's data and carry neither its id nor its type."""
    return media_type in _SINGLE_EVENT_TYPES


def parse_event_id(value: str) -> Optional[uuid.UUID]:
    """A non-empty GUID, or None."""
    try:
        parsed = uuid.UUID(value.strip())
    except ValueError:
        return None
    return parsed if parsed.int else None


def events_from_body(body: bytes, media_type: str, event_id: Optional[uuid.UUID] = None,
                     event_type: Optional[str] = None) -> list[NewEvent]:
    """The events a request body stands for; see the module docstring for refusals."""
    try:
        events = _events(body, media_type, event_id, event_type)
    except RecursionError:  # nested deeper than the parsers can follow
        raise AppendRejected(BODY_INVALID) from None
    for event in events:
        if len(event.data) + len(event.metadata) > MAX_EVENT_BYTES:
            raise EventTooLarge(TOO_LARGE)
    return events


def _events(body: bytes, media_type: str, event_id: Optional[uuid.UUID],
            event_type: Optional[str]) -> list[NewEvent]:
    if media_type in _JSON_BATCH_TYPES:
        events = _json_batch(body)
    elif media_type in _XML_BATCH_TYPES:
        events = _xml_batch(body)
    elif media_type in _SINGLE_EVENT_TYPES:
        if event_id is None:
            raise AppendRejected(EMPTY_EVENT_ID)
        if not event_type:
            raise AppendRejected(EMPTY_EVENT_TYPE)
        events = [NewEvent(event_id, event_type, bytes(body), b"",
                           is_json=media_type == media.APPLICATION_JSON)]
    else:
        raise AppendRejected(BODY_INVALID)
    return events


def _payload(value: Any) -> tuple[bytes, bool]:
    """(stored bytes, is JSON) of a `data`/`metadata` value of a JSON batch element."""
    if value is None:
        return b"", False
    if isinstance(value, (dict, list)):
        return json_text(value).encode("utf-8"), True
    if isinstance(value, str):
        parsed = parse_json_document(value)
        if parsed is not None:
            return json_text(parsed).encode("utf-8"), True
        return value.encode("utf-8"), False
    return b"", False


_CANONICAL_KEYS = frozenset({"eventId", "eventType", "data", "metadata"})


def _element_values(element: dict) -> tuple:
    """(eventId, eventType, data, metadata) of a batch element, names matched case-insensitively."""
    if element.keys() <= _CANONICAL_KEYS:  # the usual spelling
        get = element.get
        return get("eventId"), get("eventType"), get("data"), get("metadata")
    lowered = {str(key).lower(): value for key, value in element.items()}
    return (lowered.get("eventid"), lowered.get("eventtype"), lowered.get("data"),
            lowered.get("metadata"))


def _new_event(raw_id: Any, event_type: Any, data_value: Any, metadata_value: Any) -> NewEvent:
    """One batch element, validated in the real server's order."""
    if raw_id is None or raw_id == "":
        raise AppendRejected(EMPTY_EVENT_ID)
    if not isinstance(raw_id, str):
        raise AppendRejected(BODY_INVALID)
    try:
        event_id = uuid.UUID(raw_id.strip())
    except ValueError:
        raise AppendRejected(BODY_INVALID) from None
    if not event_id.int:
        raise AppendRejected(EMPTY_EVENT_ID)
    if not event_type or not isinstance(event_type, str):
        raise AppendRejected(EMPTY_EVENT_TYPE)
    data, data_is_json = _payload(data_value)
    metadata, metadata_is_json = _payload(metadata_value)
    return NewEvent(event_id, event_type, data, metadata, data_is_json or metadata_is_json)


def _json_batch(body: bytes) -> list[NewEvent]:
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise AppendRejected(BODY_INVALID) from None
    if not isinstance(parsed, list) or not parsed:
        raise AppendRejected(BODY_INVALID)
    events = []
    append = events.append
    for element in parsed:
        if not isinstance(element, dict):
            raise AppendRejected(BODY_INVALID)
        append(_new_event(*_element_values(element)))
    return events


def _xml_value(element: ElementTree.Element) -> Any:
    """XML -> JSON the way a JSON bridge would: children become keys, repeats become lists."""
    children = list(element)
    if not children:
        return element.text or ""
    value: dict = {}
    for child in children:
        item = _xml_value(child)
        if child.tag in value:
            existing = value[child.tag]
            value[child.tag] = existing + [item] if isinstance(existing, list) else [existing, item]
        else:
            value[child.tag] = item
    return value


def _xml_batch(body: bytes) -> list[NewEvent]:
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise AppendRejected(BODY_INVALID) from None
    events = []
    for element in root:
        fields = {}
        for child in element:
            tag = child.tag.rsplit("}", 1)[-1].lower()
            fields[tag] = _xml_value(child) if list(child) else (child.text or "")
        events.append(_new_event(fields.get("eventid"), fields.get("eventtype"),
                                 fields.get("data"), fields.get("metadata")))
    if not events:
        raise AppendRejected(BODY_INVALID)
    return events
