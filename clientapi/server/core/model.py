"""Value types shared by the node's storage, its domain core and its HTTP layer.

Nothing here knows about HTTP or SQLite: records go in and out of the log as these
types, and the HTTP layer renders them.
"""
from __future__ import annotations

import datetime as _dt
import uuid
from dataclasses import dataclass, field
from typing import NamedTuple, Optional

LINK_EVENT_TYPE = "$>"
METADATA_EVENT_TYPE = "$metadata"
STREAM_DELETED_TB = 9223372036854775807  # int64.MaxValue, the soft-delete marker in $tb

# Expected versions, as on the wire.
ANY = -2
NO_STREAM = -1
STREAM_EXISTS = -4


class NewEvent(NamedTuple):
    """An event as proposed by a writer, before it has a number or a position.
    (A named tuple: appends make one per event, several times cheaper than a frozen
    dataclass and just as immutable.)"""

    event_id: uuid.UUID
    event_type: str
    data: bytes = b""
    metadata: bytes = b""
    is_json: bool = False


@dataclass(frozen=True)
class EventRecord:
    """An event as committed to the log.

    `position` is the log position (commit == prepare for every write here); it grows
    strictly with commit order and is what `$all` pages on.
    """

    stream_id: str
    event_number: int
    event_id: uuid.UUID
    event_type: str
    data: bytes
    metadata: bytes
    is_json: bool
    created: _dt.datetime  # timezone-aware UTC
    position: int

    @property
    def is_link(self) -> bool:
        return self.event_type == LINK_EVENT_TYPE


@dataclass(frozen=True)
class ResolvedEvent:
    """What a read yields: the record read (`link` when it was a `$>` record) and its target.

    For an ordinary record `event` is the record and `link` is None. For a resolved link
    `event` is the target and `link` the `$>` record. For a link whose target is gone
    `event` is None and `link` is set. With resolution off a link record is returned as
    `event` with `link` None.
    """

    event: Optional[EventRecord]
    link: Optional[EventRecord] = None

    @property
    def original(self) -> EventRecord:
        """The record in the stream that was read (the link for a link)."""
        return self.link if self.link is not None else self.event  # type: ignore[return-value]


@dataclass(frozen=True)
class Acl:
    """Roles per operation; None means "not set here, fall back"."""

    read: Optional[tuple[str, ...]] = None
    write: Optional[tuple[str, ...]] = None
    delete: Optional[tuple[str, ...]] = None
    meta_read: Optional[tuple[str, ...]] = None
    meta_write: Optional[tuple[str, ...]] = None


@dataclass(frozen=True)
class StreamMetadata:
    """Parsed metadata of a stream (the last event of `$$stream`).

    `raw` is the JSON object as stored (user keys included), or None when the stream
    has no metadata. A wrongly typed reserved key makes every reserved field None
    (the real server treats the whole document as empty) while `raw` stays as written.
    """

    raw: Optional[dict] = None
    max_count: Optional[int] = None
    max_age: Optional[int] = None  # seconds
    truncate_before: Optional[int] = None
    cache_control: Optional[int] = None  # seconds
    acl: Optional[Acl] = None
    metastream_version: int = -1  # last event number of `$$stream`, -1 when none

    @property
    def is_soft_deleted(self) -> bool:
        return self.truncate_before == STREAM_DELETED_TB


@dataclass(frozen=True)
class Principal:
    """Who is asking. Anonymous is login None with no groups."""

    login: Optional[str]
    groups: tuple[str, ...] = ()

    @property
    def is_anonymous(self) -> bool:
        return self.login is None

    @property
    def roles(self) -> tuple[str, ...]:
        return self.groups + ((self.login,) if self.login else ())

    @property
    def is_admin(self) -> bool:
        return "$admins" in self.groups

    @property
    def is_ops(self) -> bool:
        return self.is_admin or "$ops" in self.groups


ANONYMOUS = Principal(None)
SYSTEM = Principal("$system", ("$admins",))  # the node itself (projections, deletes of metadata)


@dataclass(frozen=True)
class AppendResult:
    first_event_number: int
    last_event_number: int
    position: int  # log position of the first event written (or of the original, on an idempotent replay)


@dataclass(frozen=True)
class StreamSlice:
    """A page of a stream read.

    `events` are in the order read (forward: ascending; backward: descending).
    `last_event_number` is the stream's last event number (-1 when empty).
    `floor` is the lowest readable event number ($tb, $maxCount applied).
    `is_end_of_stream` follows the digest §5.4 rules for the direction read.
    """

    stream_id: str
    direction: str  # "forward" | "backward"
    from_event_number: int
    count: int
    events: list[ResolvedEvent]
    last_event_number: int
    floor: int
    is_end_of_stream: bool
    metadata: StreamMetadata = field(default_factory=StreamMetadata)
    # Where the next page in the direction read starts (the real server's NextEventNumber;
    # -1 after a backward page that reached the floor). Added by the core; optional to use.
    next_event_number: int = -1


@dataclass(frozen=True)
class AllSlice:
    """A page of `$all`. Positions are log positions.

    forward from P: records with position >= P; `next_position` = just after the last one read.
    backward from P: records with position < P; `next_position` = position of the oldest one read.
    `head_position` = position just after the newest record in the log.
    """

    direction: str
    from_position: int
    count: int
    events: list[ResolvedEvent]
    next_position: int
    head_position: int
    is_end_of_stream: bool


class UserRecord:
    """A user as the node keeps it; the password only as a salted hash."""

    def __init__(self, login: str, full_name: str, groups: list[str], disabled: bool,
                 password_hash: str, salt: str):
        self.login = login
        self.full_name = full_name
        self.groups = list(groups)
        self.disabled = disabled
        self.password_hash = password_hash
        self.salt = salt

    def __repr__(self) -> str:  # never show the hash
        return f"UserRecord({self.login!r}, groups={self.groups!r}, disabled={self.disabled})"
