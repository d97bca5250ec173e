"""The consumers of a group: over HTTP, one per client connection that reads messages.

A reader counts as connected while it waits in a long poll, holds messages in flight, or
has read within the last messageTimeoutMilliseconds (10 s when that is 0); after that it
is forgotten (and, for Pinned groups, its buckets are free for others).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional

DEFAULT_TTL_SECONDS = 10.0


@dataclass
class Reader:
    id: str  # "address:port" of the connection
    username: str
    last_seen: float
    total_items: int = 0
    since_measurement: int = 0
    measured_at: float = field(default_factory=time.monotonic)
    in_flight: int = 0
    waiting: int = 0
    wanted: int = 0  # room left in its waiting reads


class Readers:
    def __init__(self, message_timeout_ms: int):
        self._ttl = message_timeout_ms / 1000.0 if message_timeout_ms > 0 else DEFAULT_TTL_SECONDS
        self._by_id: dict[str, Reader] = {}

    def touch(self, reader_id: str, username: str) -> Reader:
        reader = self._by_id.get(reader_id)
        if reader is None:
            reader = self._by_id[reader_id] = Reader(reader_id, username, time.monotonic())
        reader.last_seen = time.monotonic()
        reader.username = username
        return reader

    def get(self, reader_id: str) -> Optional[Reader]:
        return self._by_id.get(reader_id)

    def drop(self, reader_id: str) -> None:
        self._by_id.pop(reader_id, None)

    def alive(self, reader_id: str) -> bool:
        reader = self._by_id.get(reader_id)
        if reader is None:
            return False
        if reader.waiting or reader.in_flight:
            return True
        return time.monotonic() - reader.last_seen < self._ttl

    def delivered(self, reader_id: str) -> None:
        reader = self._by_id.get(reader_id)
        if reader is not None:
            reader.in_flight += 1
            reader.total_items += 1
            reader.since_measurement += 1

    def settled(self, reader_id: str) -> None:
        reader = self._by_id.get(reader_id)
        if reader is not None:
            reader.in_flight -= 1

    def prune(self) -> None:
        for reader_id in [r for r in self._by_id if not self.alive(r)]:
            del self._by_id[reader_id]

    def connections(self, now: float) -> list[dict]:
        """The `connections` of the detail document; starts a new measurement period."""
        documents = []
        for reader in self._by_id.values():
            if not self.alive(reader.id):
                continue
            documents.append({
                "from": reader.id,
                "username": reader.username,
                "averageItemsPerSecond": per_second(reader.since_measurement, now - reader.measured_at),
                "totalItemsProcessed": reader.total_items,
                "countSinceLastMeasurement": reader.since_measurement,
                "extraStatistics": [],
                "availableSlots": max(0, reader.wanted),
                "inFlightMessages": reader.in_flight,
                "connectionName": reader.id,
            })
            reader.since_measurement, reader.measured_at = 0, now
        return documents


def per_second(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0
