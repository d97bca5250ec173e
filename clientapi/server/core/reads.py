"""Stream, event and `$all` reads: visibility floors, `$maxAge`, link resolution."""
from __future__ import annotations

import datetime as _dt
from typing import Optional

from ..security import is_metastream, original_stream
from .context import ALL_STREAM, CoreContext, check_stream_name
from .errors import BadRequest, EventNotFound, ReadTooBig, StreamNotFound
from .metadata import METASTREAM_METADATA
from .model import (AllSlice, EventRecord, Principal, ResolvedEvent, StreamMetadata,
                    StreamSlice)

MAX_READ_COUNT = 4096
FORWARD, BACKWARD = "forward", "backward"


def check_count(count: int) -> None:
    if count > MAX_READ_COUNT:
        raise ReadTooBig()
    if count < 0:
        raise BadRequest(f"Invalid count argument: {count}")


def check_direction(direction: str) -> None:
    if direction not in (FORWARD, BACKWARD):
        raise BadRequest(f"Invalid direction: {direction}")


def _floor(last: int, metadata: StreamMetadata) -> int:
    floor = 0
    if metadata.truncate_before is not None:
        floor = max(floor, metadata.truncate_before)
    if metadata.max_count is not None:
        floor = max(floor, last - metadata.max_count + 1)
    return floor


def _too_old(record: EventRecord, metadata: StreamMetadata, now: _dt.datetime) -> bool:
    return metadata.max_age is not None and \
        record.created < now - _dt.timedelta(seconds=metadata.max_age)


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def parse_link(data: bytes) -> Optional[tuple[str, int]]:
    """`N@stream` -> (stream, N); None when malformed."""
    try:
        number, _, stream = data.decode("utf-8").partition("@")
        return (stream, int(number)) if stream else None
    except (UnicodeDecodeError, ValueError):
        return None


class ReadPath:
    def __init__(self, context: CoreContext):
        self._context = context

    def reading_metadata(self, stream_id: str) -> StreamMetadata:
        """The metadata that governs reading `stream_id` itself (floors, `$maxAge`)."""
        return METASTREAM_METADATA if is_metastream(stream_id) else self._context.index.metadata(stream_id)

    def _open_stream(self, stream_id: str, principal: Principal) -> tuple[int, StreamMetadata]:
        """(last visible number, governing metadata), or the refusal a read gets."""
        context = self._context
        check_stream_name(stream_id)
        if stream_id == ALL_STREAM:
            raise BadRequest("Use read_all for $all")
        context.authorize(stream_id, "read", principal)
        context.ensure_not_tombstoned(stream_id)
        last = context.index.last_committed(stream_id)
        if last < 0 or context.is_soft_deleted(stream_id):
            raise StreamNotFound("Stream not found")
        context.counters.reads += 1
        return last, self.reading_metadata(stream_id)

    async def read_stream(self, stream_id: str, from_event_number: Optional[int], count: int,
                          direction: str, resolve_links: bool, principal: Principal) -> StreamSlice:
        check_count(count)
        check_direction(direction)
        last, metadata = self._open_stream(stream_id, principal)
        floor = _floor(last, metadata)
        if direction == BACKWARD:
            start = last if from_event_number is None or from_event_number < 0 else from_event_number
            low = max(0, start - count + 1)
            if start < floor:
                records, is_end, next_number = [], True, -1
            else:
                is_end = low <= floor
                low = max(low, floor)
                records = await self._context.log.read_stream(stream_id, low, min(start, last),
                                                              True, count) if count else []
                next_number = -1 if is_end else min(low - 1, last)
        else:
            start = from_event_number or 0
            high = start + count - 1
            if high < floor:
                records, is_end, next_number = [], False, floor
            else:
                low = max(start, floor)
                records = await self._context.log.read_stream(stream_id, low, min(high, last),
                                                              False, count) if count else []
                next_number = min(high + 1, last + 1)
                if records:
                    next_number = records[-1].event_number + 1
                is_end = high >= last
        if metadata.max_age is not None:
            now = _now()
            records = [record for record in records if not _too_old(record, metadata, now)]
        self._context.counters.events_read += len(records)
        events = await self.resolve(records, resolve_links, principal)
        return StreamSlice(stream_id, direction, start, count, events, last, floor, is_end,
                           metadata, next_number)

    async def read_event(self, stream_id: str, event_number: int, resolve_links: bool,
                         principal: Principal) -> ResolvedEvent:
        last, metadata = self._open_stream(stream_id, principal)
        number = last if event_number < 0 else event_number
        if number > last or number < _floor(last, metadata):
            raise EventNotFound("Event not found")
        records = await self._context.log.read_stream(stream_id, number, number, False, 1)
        if not records or _too_old(records[0], metadata, _now()):
            raise EventNotFound("Event not found")
        (resolved,) = await self.resolve(records, resolve_links, principal)
        if resolved.event is None:
            raise EventNotFound("Event not found")
        return resolved

    async def read_all(self, from_position: Optional[int], count: int, direction: str,
                       resolve_links: bool, principal: Principal) -> AllSlice:
        check_count(count)
        check_direction(direction)
        context = self._context
        context.authorize(ALL_STREAM, "read", principal)
        context.counters.reads += 1
        head = context.index.head_position
        if direction == BACKWARD:
            start = head if from_position is None else min(max(from_position, 0), head)
            records = await context.log.read_all(0, start, True, count) if count else []
            next_position = records[-1].position if records else start
        else:
            start = head if from_position is None else max(from_position, 0)
            records = await context.log.read_all(start, head, False, count) if count and start < head else []
            next_position = records[-1].position + 1 if records else start
        context.counters.events_read += len(records)
        events = await self.resolve(records, resolve_links, principal)
        return AllSlice(direction, start, count, events, next_position, head, len(records) < count)

    # --- links --------------------------------------------------------------------------
    async def resolve(self, records: list[EventRecord], resolve_links: bool,
                      principal: Principal) -> list[ResolvedEvent]:
        if not resolve_links or not any(record.is_link for record in records):
            return [ResolvedEvent(record) for record in records]
        targets = {record.position: self._readable_target(record, principal)
                   for record in records if record.is_link}
        found = await self._context.log.read_events([t for t in targets.values() if t is not None])
        now = _now()
        resolved = []
        for record in records:
            if not record.is_link:
                resolved.append(ResolvedEvent(record))
                continue
            target = targets[record.position]
            event = found.get(target) if target is not None else None
            if event is not None and _too_old(event, self.reading_metadata(event.stream_id), now):
                event = None
            resolved.append(ResolvedEvent(event, record))
        return resolved

    def _readable_target(self, link: EventRecord, principal: Principal) -> Optional[tuple[str, int]]:
        """The link's target if it can still be seen by `principal`, else None."""
        target = parse_link(link.data)
        if target is None:
            return None
        stream_id, number = target
        context = self._context
        state = context.index.get(original_stream(stream_id))
        if state is not None and state.tombstoned:
            return None
        last = context.index.last_committed(stream_id)
        if number > last or context.is_soft_deleted(stream_id):
            return None
        if number < _floor(last, self.reading_metadata(stream_id)):
            return None
        return target if context.may(stream_id, "read", principal) else None
