"""What goes into the store (WriteEvent) and what comes back (ReadEvent, AllEventsSlice)."""
from __future__ import annotations

import datetime
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, List, Optional, Union

__all__ = ["WriteEvent", "ReadEvent", "AllEventsSlice", "EventData"]

EventData = Union[str, bytes, dict, list, None]


def _check_json_text(value: Union[str, bytes], what: str) -> Union[dict, list]:
    """JSON given as text must be an object or array: the server stores any other JSON
    value (a bare string, number, ...) as a non-JSON payload or drops it."""
    try:
        parsed = json.loads(value)
    except ValueError:
        raise ValueError("{} is marked as JSON but is not valid JSON".format(what)) from None
    except RecursionError:
        raise ValueError("{} is JSON nested too deeply to be sent".format(what)) from None
    if not isinstance(parsed, (dict, list)):
        raise ValueError("{} must be a JSON object or array to be stored as JSON".format(what))
    return parsed


def _check_text(value: bytes, what: str) -> str:
    # The HTTP events format carries payloads inside JSON, so they have to be text.
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("{} bytes must be UTF-8 text (the HTTP API carries payloads "
                         "inside JSON)".format(what)) from None


def _normalize_event_id(event_id: Any) -> uuid.UUID:
    if event_id is None:
        return uuid.uuid4()
    if isinstance(event_id, uuid.UUID):
        value = event_id
    elif isinstance(event_id, str):
        try:
            value = uuid.UUID(event_id)
        except ValueError:
            raise ValueError("event_id must be a UUID, got {!r}".format(event_id)) from None
    else:
        raise TypeError("event_id must be a uuid.UUID or a UUID string, not {}".format(
            type(event_id).__name__))
    if value.int == 0:
        raise ValueError("event_id must not be the all-zero UUID (the server rejects it)")
    return value


class WriteEvent:
    """An event to append.

    - `data`: with `is_json=True` a dict or list (or str/bytes holding a JSON object or
      array); otherwise str, UTF-8 bytes, or None (empty). A dict or list without
      `is_json=True` is a TypeError, so JSON-ness is always explicit.
    - `metadata`: "" or None (none), str, UTF-8 bytes, or a dict/list (sent as JSON).
    - `event_id`: a UUID (or UUID string); a random one by default. It is fixed when the
      WriteEvent is created, so appending the same WriteEvent again is idempotent.
    - `event_type`: defaults to the Python type name of `data` ("str", "dict", "list",
      "bytes", "NoneType"), as the original client used the type of the data.
    """

    __slots__ = ("data", "metadata", "event_id", "event_type", "is_json")

    def __init__(self, data: EventData, metadata: EventData = "", event_id: Any = None,
                 event_type: Optional[str] = None, is_json: bool = False) -> None:
        if not isinstance(is_json, bool):
            raise TypeError("is_json must be a bool, not {}".format(type(is_json).__name__))
        if is_json:
            if isinstance(data, (str, bytes)):
                _check_json_text(data, "data")
            elif not isinstance(data, (dict, list)):
                raise TypeError("JSON data must be a dict, a list, or JSON text, not {}".format(
                    type(data).__name__))
        else:
            if isinstance(data, (dict, list)):
                raise TypeError("data of type {} needs is_json=True".format(type(data).__name__))
            if isinstance(data, bytes):
                _check_text(data, "data")
            elif data is not None and not isinstance(data, str):
                raise TypeError("data must be str, bytes, dict or list, not {}".format(
                    type(data).__name__))
        if isinstance(metadata, bytes):
            _check_text(metadata, "metadata")
        elif metadata is not None and not isinstance(metadata, (str, dict, list)):
            raise TypeError("metadata must be str, bytes, dict or list, not {}".format(
                type(metadata).__name__))
        if event_type is None:
            event_type = type(data).__name__
        elif not isinstance(event_type, str):
            raise TypeError("event_type must be a str, not {}".format(type(event_type).__name__))
        elif not event_type:
            raise ValueError("event_type must not be empty")
        self.data = data
        self.metadata = metadata
        self.event_id = _normalize_event_id(event_id)
        self.event_type = event_type
        self.is_json = is_json

    def __repr__(self) -> str:
        return "WriteEvent(event_type={!r}, event_id={}, is_json={})".format(
            self.event_type, self.event_id, self.is_json)


_TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$")


def parse_timestamp(value: Any) -> Optional[datetime.datetime]:
    """ISO-8601 as the server writes it (up to 7 fractional digits, `Z`); None if unreadable."""
    if not isinstance(value, str):
        return None
    match = _TIMESTAMP.match(value)
    if not match:
        return None
    whole, fraction, zone = match.groups()
    # fromisoformat (fast, C) before Python 3.11 takes exactly 6 digits and no `Z`.
    text = "{}.{}{}".format(whole, (fraction or "0")[:6].ljust(6, "0"),
                            "+00:00" if zone in (None, "Z") else zone)
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        return None


_UNSET = object()


class ReadEvent:
    """An event as read from the server (treat it as read-only).

    `data` is a Python object (dict/list/...) for JSON events and a str otherwise;
    `metadata` likewise (parsed when it is a JSON object or array, "" when absent).
    `event_id` is a UUID and `created` a timezone-aware datetime (None when unknown).
    For an event reached through a resolved link (e.g. in `$ce-` or `$et-` streams)
    `original_stream_id` / `original_event_number` give the link's own coordinates
    (the stream that was read) and `link_metadata` its metadata; they are None otherwise.
    """

    # event_id and created are kept as the server's text and converted on first use:
    # reading a large stream should not pay for conversions nobody looks at.
    __slots__ = ("stream_id", "event_number", "event_type", "data", "metadata", "is_json",
                 "original_stream_id", "original_event_number", "link_metadata",
                 "_event_id", "_created")

    def __init__(self, stream_id: str, event_number: int, event_type: str, data: Any,
                 metadata: Any = "", event_id: Union[uuid.UUID, str, None] = None,
                 is_json: bool = False, created: Union[datetime.datetime, str, None] = None,
                 original_stream_id: Optional[str] = None,
                 original_event_number: Optional[int] = None, link_metadata: Any = None) -> None:
        self.stream_id = stream_id
        self.event_number = event_number
        self.event_type = event_type
        self.data = data
        self.metadata = metadata
        self.is_json = is_json
        self.original_stream_id = original_stream_id
        self.original_event_number = original_event_number
        self.link_metadata = link_metadata
        self._event_id = event_id
        self._created = created

    @property
    def event_id(self) -> Optional[uuid.UUID]:
        if isinstance(self._event_id, str):
            try:
                self._event_id = uuid.UUID(self._event_id)
            except ValueError:
                self._event_id = None
        return self._event_id

    @property
    def created(self) -> Optional[datetime.datetime]:
        if isinstance(self._created, str):
            self._created = parse_timestamp(self._created)
        return self._created

    @property
    def is_resolved_link(self) -> bool:
        return self.original_stream_id is not None

    def _fields(self) -> tuple:
        return (self.stream_id, self.event_number, self.event_type, self.data, self.metadata,
                self.event_id, self.is_json, self.created, self.original_stream_id,
                self.original_event_number, self.link_metadata)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ReadEvent):
            return NotImplemented
        return self._fields() == other._fields()

    # Not hashable: data may be a dict.
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        link = ""
        if self.original_stream_id is not None:
            link = ", via {}@{}".format(self.original_event_number, self.original_stream_id)
        return "ReadEvent({}@{}, event_type={!r}, data={!r}{})".format(
            self.event_number, self.stream_id, self.event_type, self.data, link)


@dataclass(frozen=True)
class AllEventsSlice:
    """A page of `$all`: the events in the order read, and the position to continue from
    (pass it to the next read in the same direction)."""

    events: List[ReadEvent] = field(default_factory=list)
    prepare_position: int = 0
    commit_position: int = 0

    def __iter__(self):
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)
