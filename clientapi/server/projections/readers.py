"""Reading a projection's source in log order.

`fromAll` projections page through `$all` (links left unresolved: the ones they see are
delivered as they are). Stream sources (`fromStream`, `fromStreams`, `fromCategory` = the
`$ce-` stream) read only their streams, with links resolved, and merge them by log position,
so they cost nothing when other streams are written. Both stop at `stop_at` (the log head
when a one-time projection started) and tell whether anything new arrived since, without a
read, so an idle projection wakes on every append but only reads when it has to.
"""
from __future__ import annotations

from typing import Optional

from ..core.errors import AccessDenied, StreamDeleted, StreamNotFound
from ..core.model import SYSTEM, Principal, ResolvedEvent
from .handlers import ProjectionFault

PAGE_SIZE = 500
ALL_STREAM = "$all"
# The real server's fault reason when the run-as principal may not read the source.
NOT_AUTHORIZED = "Projection cannot read its source. Not authorized."


class LogTail:
    """The newest `$all` records, shared by every `fromAll` runner of a node.

    The standard projections and user `fromAll` projections all follow the head of the log,
    so without sharing each would read and decode every record again. Log positions are a
    dense sequence (one per record), so a record is found by position and a run of cached
    positions after a runner's checkpoint is exactly what the log holds there.
    """

    def __init__(self, core, capacity: int = 20_000):
        self._core = core
        self._capacity = capacity
        self._records: dict[int, ResolvedEvent] = {}
        self._oldest = -1

    async def after(self, position: int, limit: int) -> tuple[list[ResolvedEvent], bool]:
        """Up to `limit` records after `position`, and whether they reach the head."""
        records = self._cached_after(position, limit)
        if not records:
            page = await self._core.read_all(position + 1, limit, "forward", False, SYSTEM)
            self._remember(page.events)
            records = [r for r in page.events if r.original.position > position]
        last = records[-1].original.position if records else position
        return records, self._core.head_position() <= last + 1

    def _cached_after(self, position: int, limit: int) -> list[ResolvedEvent]:
        records = []
        following = self._records.get(position + 1)
        while following is not None and len(records) < limit:
            records.append(following)
            following = self._records.get(following.original.position + 1)
        return records

    def _remember(self, records: list[ResolvedEvent]) -> None:
        for record in records:
            self._records[record.original.position] = record
        while len(self._records) > self._capacity:
            oldest = min(self._records) if self._oldest not in self._records else self._oldest
            del self._records[oldest]
            self._oldest = oldest + 1


class AllReader:
    """Reads through the shared tail (which reads as the node), so the run-as principal's
    right to read `$all` is checked before every batch: an ACL change stops it too."""

    def __init__(self, tail: LogTail, core, after_position: int, stop_at: Optional[int] = None,
                 principal: Principal = SYSTEM):
        self._tail = tail
        self._core = core
        self._principal = principal
        self._after = after_position  # last log position already handled
        self._stop_at = stop_at

    async def next_batch(self) -> tuple[list[ResolvedEvent], bool]:
        """(records after the last batch, whether the reader is now at the end)."""
        metadata = await self._core.get_metadata(ALL_STREAM)
        if not self._core.check_access(ALL_STREAM, "read", self._principal, metadata):
            raise ProjectionFault(NOT_AUTHORIZED)
        records, at_end = await self._tail.after(self._after, PAGE_SIZE)
        if self._stop_at is not None:
            kept = [r for r in records if r.original.position < self._stop_at]
            at_end = at_end or len(kept) < len(records)
            records = kept
        if records:
            self._after = records[-1].original.position
        if self._stop_at is not None and self._after + 1 >= self._stop_at:
            at_end = True
        return records, at_end

    async def has_more(self) -> bool:
        return self._core.head_position() > self._after + 1


class StreamsReader:
    def __init__(self, core, streams: dict[str, int], stop_at: Optional[int] = None,
                 principal: Principal = SYSTEM):
        self._core = core
        self._principal = principal
        self._next = {stream: number + 1 for stream, number in streams.items()}  # next event number to read
        self._buffers: dict[str, list[ResolvedEvent]] = {stream: [] for stream in streams}
        self._ended: dict[str, bool] = {stream: False for stream in streams}
        # Log head seen just before each stream's last read: whatever that stream gets later
        # commits at or after it, so the other streams' events from there on must wait.
        self._read_at_head: dict[str, int] = {stream: 0 for stream in streams}
        self._stop_at = stop_at

    async def next_batch(self) -> tuple[list[ResolvedEvent], bool]:
        for stream in self._buffers:
            if not self._buffers[stream]:
                await self._fill(stream)
        # Handing events over in log order needs every stream's next event known: a stream
        # with nothing buffered bounds the batch by the head seen before it was read.
        limit = min((self._read_at_head[s] for s, buffer in self._buffers.items() if not buffer),
                    default=None)
        batch: list[ResolvedEvent] = []
        while len(batch) < PAGE_SIZE:
            heads = [(buffer[0].original.position, stream) for stream, buffer in self._buffers.items() if buffer]
            if not heads:
                break
            position, stream = min(heads)
            if limit is not None and position >= limit:
                break
            batch.append(self._buffers[stream].pop(0))
            if not self._buffers[stream]:
                break  # read it again before going on: it may have got earlier positions
        at_end = all(self._ended[s] and not self._buffers[s] for s in self._buffers)
        return batch, at_end

    async def _fill(self, stream: str) -> None:
        self._read_at_head[stream] = self._core.head_position()
        try:
            page = await self._core.read_stream(stream, self._next[stream], PAGE_SIZE, "forward", True,
                                                self._principal)
        except (StreamNotFound, StreamDeleted):
            self._ended[stream] = True
            return
        except AccessDenied:
            raise ProjectionFault(NOT_AUTHORIZED) from None
        records = [r for r in page.events
                   if self._stop_at is None or r.original.position < self._stop_at]
        if page.events:
            self._next[stream] = page.events[-1].original.event_number + 1
        self._buffers[stream] = records
        self._ended[stream] = page.is_end_of_stream or not page.events or len(records) < len(page.events)

    async def has_more(self) -> bool:
        for stream, next_number in self._next.items():
            if await self._core.last_event_number(stream) >= next_number:
                return True
        return False


async def read_whole_stream(core, stream: str) -> list:
    """Every record of a stream, oldest first ([] when it does not exist)."""
    records: list = []
    next_number = 0
    while True:
        try:
            page = await core.read_stream(stream, next_number, 500, "forward", False, SYSTEM)
        except (StreamNotFound, StreamDeleted):
            return records
        records.extend(r.original for r in page.events)
        if page.is_end_of_stream or not page.events:
            return records
        next_number = page.events[-1].original.event_number + 1
