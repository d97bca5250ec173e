"""In-memory indexes over the log: per-stream state and the recent event-id cache.

They live on the IOLoop thread only (no locks). Each stream has two numbers:
`last` counts reservations (appends accepted and queued for commit, which later
appends must build on) and `committed` what readers may see.
"""
from __future__ import annotations

import uuid
from typing import Iterator, Optional

from ..core.model import StreamMetadata

_NO_METADATA = StreamMetadata()


class StreamState:
    __slots__ = ("last", "committed", "metadata", "tombstoned")

    def __init__(self, last: int = -1):
        self.last = last
        self.committed = last
        self.metadata: StreamMetadata = _NO_METADATA
        self.tombstoned = False


class StreamIndex:
    """stream id -> StreamState, plus the log's reserved and committed head positions."""

    def __init__(self) -> None:
        self._streams: dict[str, StreamState] = {}
        self.next_position = 0  # next position to hand out
        self.head_position = 0  # just after the newest committed record

    def get(self, stream: str) -> Optional[StreamState]:
        return self._streams.get(stream)

    def state(self, stream: str) -> StreamState:
        state = self._streams.get(stream)
        if state is None:
            state = self._streams[stream] = StreamState()
        return state

    def last_committed(self, stream: str) -> int:
        state = self._streams.get(stream)
        return -1 if state is None else state.committed

    def metadata(self, stream: str) -> StreamMetadata:
        state = self._streams.get(stream)
        return _NO_METADATA if state is None else state.metadata

    def reserve_positions(self, count: int) -> int:
        first = self.next_position
        self.next_position += count
        return first

    def streams(self) -> Iterator[str]:
        return iter(self._streams)

    def __len__(self) -> int:
        return len(self._streams)


class RecentEventIds:
    """Bounded map event id -> (stream, number, position) of recent writes, for idempotency.

    Best-effort, like the real server's cache: the oldest entries are dropped first.
    Keyed by the id's 16 bytes, the form rows carry, so recording a write converts nothing.
    """

    def __init__(self, capacity: int = 200_000):
        self.capacity = capacity
        self._ids: dict[bytes, tuple[str, int, int]] = {}

    def add(self, event_id: uuid.UUID, stream: str, number: int, position: int) -> None:
        self.add_raw(event_id.bytes, stream, number, position)

    def add_raw(self, event_id: bytes, stream: str, number: int, position: int) -> None:
        """Same as `add` for an id as stored (16 bytes, big-endian like `UUID.bytes`)."""
        self._ids[event_id] = (stream, number, position)
        if len(self._ids) > self.capacity + self.capacity // 10:
            self._trim()

    def add_rows(self, rows) -> None:
        """Remember the events of log rows (position, stream, number, event id bytes, ...)."""
        ids = self._ids
        for row in rows:
            ids[row[3]] = (row[1], row[2], row[0])
        if len(ids) > self.capacity + self.capacity // 10:
            self._trim()

    def get(self, event_id: uuid.UUID) -> Optional[tuple[str, int, int]]:
        return self._ids.get(event_id.bytes)

    def _trim(self) -> None:
        excess = len(self._ids) - self.capacity
        oldest = [key for key, _ in zip(self._ids, range(excess))]
        for key in oldest:
            del self._ids[key]

    def __len__(self) -> int:
        return len(self._ids)
