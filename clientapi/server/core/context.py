"""What the write path, the read path and the user directory share."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..security import Authorizer, is_metastream, original_stream
from ..storage import EventLog, RecentEventIds, StreamIndex
from .errors import AccessDenied, BadRequest, StreamDeleted
from .model import Principal, StreamMetadata

ALL_STREAM = "$all"
SETTINGS_STREAM = "$settings"


@dataclass
class Counters:
    started: float = field(default_factory=time.time)
    events_written: int = 0
    appends: int = 0
    reads: int = 0
    events_read: int = 0


@dataclass
class CoreContext:
    log: EventLog
    index: StreamIndex
    ids: RecentEventIds
    authorizer: Authorizer
    counters: Counters = field(default_factory=Counters)

    def metadata_of(self, stream_id: str) -> StreamMetadata:
        """Metadata of the stream whose ACL applies to `stream_id` (X for `$$X`)."""
        return self.index.metadata(original_stream(stream_id))

    def may(self, stream_id: str, operation: str, principal: Principal) -> bool:
        """`operation` as for a plain stream; on `$$X` read/write become X's meta_read/meta_write."""
        original = original_stream(stream_id)
        if is_metastream(stream_id) and operation in ("read", "write"):
            operation = "meta_" + operation
        return self.authorizer.allowed(original, operation, principal, self.index.metadata(original))

    def authorize(self, stream_id: str, operation: str, principal: Principal) -> None:
        if not self.may(stream_id, operation, principal):
            raise AccessDenied("Access denied")

    def ensure_not_tombstoned(self, stream_id: str) -> None:
        """A hard delete takes `$$X` with it."""
        state = self.index.get(original_stream(stream_id))
        if state is not None and state.tombstoned:
            raise StreamDeleted("Stream deleted")

    def has_metadata(self, stream_id: str) -> bool:
        """Whether `$$stream_id` has events (reserved ones count: writers build on them)."""
        if is_metastream(stream_id):
            return False
        state = self.index.get("$$" + stream_id)
        return state is not None and state.last >= 0

    def is_soft_deleted(self, stream_id: str) -> bool:
        return not is_metastream(stream_id) and self.index.metadata(stream_id).is_soft_deleted


def check_stream_name(stream_id: str) -> None:
    if not stream_id:
        raise BadRequest("Empty stream name")
