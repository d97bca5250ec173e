"""The newest committed records, kept in memory so the hot reads skip SQLite.

Long polls, catch-up subscribers and `$all` followers read what was just written;
answering those from here saves a reader-thread hand-off, the SELECT and most of the
row-to-record conversion (each record is converted once, on its first read).

Only committed rows are added (right after their transaction committed), always in
position order, so what is cached is a contiguous suffix of the log. Within it a
stream's numbers are contiguous too; a lookup still checks every number it returns
and answers None (read SQLite instead) as soon as anything is missing.
"""
from __future__ import annotations

from typing import Optional, Sequence

from ..core.model import EventRecord
from .records import Row, record_from_row

DEFAULT_CAPACITY = 65_536  # records
DEFAULT_PAYLOAD_BYTES = 64 * 1024 * 1024  # data + metadata of the cached records


class RecentRecords:
    def __init__(self, capacity: int = DEFAULT_CAPACITY,
                 payload_bytes: int = DEFAULT_PAYLOAD_BYTES):
        self.capacity = capacity
        self.payload_bytes = payload_bytes
        self._entries: list = []  # Row, or the EventRecord made from it once read
        self._base = 0  # position of _entries[0]
        self._positions: dict[tuple[str, int], int] = {}  # (stream, number) -> position
        self._payload = 0

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, rows: Sequence[Row]) -> None:
        """Rows of one committed transaction, in position order."""
        if not rows:
            return
        if self._entries and rows[0][0] != self._base + len(self._entries):
            self.clear()  # not a continuation (cannot happen, but never serve a gap)
        entries, positions = self._entries, self._positions
        if not entries:
            self._base = rows[0][0]
        payload = 0
        for row in rows:
            positions[(row[1], row[2])] = row[0]
            payload += len(row[5]) + len(row[6])
        entries.extend(rows)
        self._payload += payload
        if len(entries) > self.capacity or self._payload > self.payload_bytes:
            self._evict()

    def clear(self) -> None:
        self._entries = []
        self._positions = {}
        self._payload = 0

    def _evict(self) -> None:
        """Drop the oldest eighth at least, so that eviction is paid rarely and in bulk."""
        entries, positions = self._entries, self._positions
        drop = max(len(entries) - self.capacity, len(entries) // 8, 1)
        freed = 0
        for entry in entries[:drop]:
            if isinstance(entry, EventRecord):
                key = (entry.stream_id, entry.event_number)
                freed += len(entry.data) + len(entry.metadata)
            else:
                key = (entry[1], entry[2])
                freed += len(entry[5]) + len(entry[6])
            positions.pop(key, None)
        del entries[:drop]
        self._base += drop
        self._payload -= freed
        if entries and self._payload > self.payload_bytes:
            self._evict()  # the bytes bound: each round drops at least an eighth

    # --- lookups (None: not all of it is here, ask SQLite) -------------------------------
    def read_stream(self, stream: str, low: int, high: int, backward: bool,
                    limit: int) -> Optional[list[EventRecord]]:
        """Same answer as the log's `read_stream` for records numbered low..high."""
        count = min(limit, high - low + 1)
        if count <= 0:
            return []
        numbers = range(high, high - count, -1) if backward else range(low, low + count)
        positions = self._positions
        found = []
        for number in numbers:
            position = positions.get((stream, number))
            if position is None:
                return None
            found.append(position)
        return self._records(found)

    def read_all(self, low: int, high: int, backward: bool,
                 limit: int) -> Optional[list[EventRecord]]:
        """Same answer as the log's `read_all` for low <= position < high."""
        count = min(limit, high - low)
        if count <= 0:
            return []
        if low < self._base or high > self._base + len(self._entries):
            return None
        if backward:
            return self._records(range(high - 1, high - 1 - count, -1))
        return self._records(range(low, low + count))

    def get(self, stream: str, number: int) -> Optional[EventRecord]:
        position = self._positions.get((stream, number))
        return None if position is None else self._records((position,))[0]

    def _records(self, positions) -> list[EventRecord]:
        entries, base = self._entries, self._base
        created_cache: dict = {}  # events of one append share their timestamp
        records = []
        for position in positions:
            entry = entries[position - base]
            if not isinstance(entry, EventRecord):
                entry = entries[position - base] = record_from_row(_as_stored(entry), created_cache)
            records.append(entry)
        return records


def _as_stored(row: Row) -> Row:
    """The row as SQLite would hand it back: payloads given as bytearray/memoryview
    come back as bytes."""
    if type(row[5]) is bytes and type(row[6]) is bytes:
        return row
    data, metadata = (bytes(value) if isinstance(value, (bytearray, memoryview)) else value
                      for value in (row[5], row[6]))
    return row[:5] + (data, metadata) + row[7:]
