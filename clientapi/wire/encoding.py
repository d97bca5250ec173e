"""WriteEvents to the `application/vnd.eventstore.events+json` body, with the size limits.

Limits (checked before anything is sent):
- one event's data + metadata may not exceed 4 MiB: the AtomPub API's hard limit on every
  server version (413 otherwise, and 3.x-24.x still perform the write after the 413).
- the whole request body may not exceed `max_append_size`, 1 MiB by default: the real
  server's default `MaxAppendSize` for a whole append, which keeps batches portable
  across servers and protocols. Clients may raise it (up to what their server takes).
"""
from __future__ import annotations

import json
from typing import Any, List, Tuple

from ..errors import AppendTooLarge
from ..events import WriteEvent

MAX_EVENT_SIZE = 4 * 1024 * 1024
DEFAULT_MAX_APPEND_SIZE = 1024 * 1024


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _payload(value: Any, as_json: bool) -> Tuple[Any, int]:
    """The value to put in the JSON element and the size of the payload it stores."""
    if value is None:
        return "", 0
    if isinstance(value, (dict, list)):
        return value, len(dumps(value).encode("utf-8"))
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if as_json:
        parsed = json.loads(value)
        return parsed, len(value.encode("utf-8"))
    return value, len(value.encode("utf-8"))


def event_element(event: WriteEvent) -> Tuple[dict, int]:
    data, data_size = _payload(event.data, event.is_json)
    element = {"eventId": str(event.event_id), "eventType": event.event_type, "data": data}
    metadata_size = 0
    if event.metadata not in (None, "", b""):
        metadata, metadata_size = _payload(event.metadata, isinstance(event.metadata, (dict, list)))
        element["metadata"] = metadata
    return element, data_size + metadata_size


def encode_events(events: List[WriteEvent], max_append_size: int = DEFAULT_MAX_APPEND_SIZE) -> bytes:
    elements = []
    for index, event in enumerate(events):
        element, size = event_element(event)
        if size > MAX_EVENT_SIZE:
            raise AppendTooLarge(
                "event {} ({}) has {} bytes of data and metadata; the server's limit per event "
                "is {} bytes".format(index, event.event_id, size, MAX_EVENT_SIZE),
                size=size, limit=MAX_EVENT_SIZE)
        elements.append(element)
    body = dumps(elements).encode("utf-8")
    if len(body) > max_append_size:
        raise AppendTooLarge(
            "append of {} events is {} bytes; the limit is {} bytes (max_append_size): "
            "split the batch".format(len(events), len(body), max_append_size),
            size=len(body), limit=max_append_size)
    return body
