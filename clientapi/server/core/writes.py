"""Appends and deletes: expected versions, idempotency, soft/hard deletes, recreation.

Decisions are taken on the IOLoop against the reserved state (`StreamState.last`), so
appends queued for the same group commit build on each other; the rows then go to the
log and the caller is answered after the commit.
"""
from __future__ import annotations

import uuid
from typing import Awaitable, Callable, Optional, Sequence

from ..security import is_metastream, original_stream
from ..storage.log import TOMBSTONE_NUMBER
from ..storage.records import Row, now_micros, record_from_row
from .context import ALL_STREAM, SETTINGS_STREAM, CoreContext, check_stream_name
from .errors import AccessDenied, BadRequest, StreamDeleted, WrongExpectedVersion
from .metadata import (SystemSettings, decode_json, encode_json, metadata_from_record,
                       soft_delete_document, with_truncate_before)
from .model import (ANY, METADATA_EVENT_TYPE, NO_STREAM, STREAM_DELETED_TB, STREAM_EXISTS,
                    AppendResult, NewEvent, Principal)

TOMBSTONE_EVENT_TYPE = "$streamDeleted"


def check_expected_version(expected_version: int) -> None:
    if expected_version < STREAM_EXISTS or expected_version == -3:
        raise BadRequest("Invalid expected version")


class WritePath:
    def __init__(self, context: CoreContext, on_failure: Callable[[], Awaitable[None]]):
        self._context = context
        self._on_failure = on_failure

    # --- appends ------------------------------------------------------------------------
    async def append(self, stream_id: str, events: Sequence[NewEvent], expected_version: int,
                     principal: Principal) -> AppendResult:
        context = self._context
        check_stream_name(stream_id)
        if stream_id == ALL_STREAM:
            raise AccessDenied("Access denied")
        check_expected_version(expected_version)
        context.authorize(stream_id, "write", principal)
        context.ensure_not_tombstoned(stream_id)
        events = list(events)
        current = self._last(stream_id)
        replay_from = self._replay_start(stream_id, events, expected_version, current)
        if not events:
            return AppendResult(current + 1, current, context.index.head_position)
        if replay_from is not None:
            return await self._replay(stream_id, events, replay_from, current)
        rows = self._reserve(stream_id, events)
        await self._commit(rows)
        return AppendResult(rows[0][2], rows[len(events) - 1][2], rows[0][0])

    async def append_internal(self, stream_id: str, events: Sequence[NewEvent]) -> AppendResult:
        """A write by the node itself (users, projections): no ACL, expected version any."""
        context = self._context
        context.ensure_not_tombstoned(stream_id)
        rows = self._reserve(stream_id, list(events))
        await self._commit(rows)
        return AppendResult(rows[0][2], rows[len(events) - 1][2], rows[0][0])

    def _last(self, stream_id: str) -> int:
        state = self._context.index.get(stream_id)
        return -1 if state is None else state.last

    def _replay_start(self, stream_id: str, events: list[NewEvent], expected_version: int,
                      current: int) -> Optional[int]:
        """None: write the events. A number: the events may already be there from that number
        on (an idempotent retry) and must be compared. Raises when the expectation fails."""
        context = self._context
        soft_deleted = context.is_soft_deleted(stream_id)
        if expected_version in (ANY, STREAM_EXISTS):
            if expected_version == STREAM_EXISTS:
                if soft_deleted:
                    raise StreamDeleted("Stream deleted")
                if current < 0 and not context.has_metadata(stream_id):
                    raise WrongExpectedVersion(current)
            seen = context.ids.get(events[0].event_id) if events else None
            return seen[1] if seen is not None and seen[0] == stream_id else None
        if expected_version == NO_STREAM:
            return None if current < 0 or soft_deleted else 0
        if expected_version == current:
            return None
        if expected_version < current:
            return expected_version + 1
        raise WrongExpectedVersion(current)

    async def _replay(self, stream_id: str, events: list[NewEvent], start: int,
                      current: int) -> AppendResult:
        """Success with the original numbers if `events` are exactly the ones from `start` on."""
        end = start + len(events) - 1
        if end > current:
            raise WrongExpectedVersion(current)
        positions = self._cached_positions(stream_id, events, start)
        if positions is None:
            stored = await self._context.log.read_stream(stream_id, start, end, False, len(events))
            if [record.event_id for record in stored] != [event.event_id for event in events]:
                raise WrongExpectedVersion(current)
            positions = [record.position for record in stored]
        if positions[0] >= self._context.index.head_position:
            await self._context.log.barrier()  # the original is still being committed
        return AppendResult(start, end, positions[0])

    def _cached_positions(self, stream_id: str, events: list[NewEvent],
                          start: int) -> Optional[list[int]]:
        positions = []
        for offset, event in enumerate(events):
            seen = self._context.ids.get(event.event_id)
            if seen is None or seen[0] != stream_id or seen[1] != start + offset:
                return None
            positions.append(seen[2])
        return positions

    # --- deletes ------------------------------------------------------------------------
    async def delete(self, stream_id: str, expected_version: int, hard: bool,
                     principal: Principal) -> None:
        context = self._context
        check_stream_name(stream_id)
        if stream_id == ALL_STREAM:
            raise AccessDenied("Access denied")
        if is_metastream(stream_id):
            raise BadRequest("Cannot delete a metastream")
        check_expected_version(expected_version)
        context.authorize(stream_id, "delete", principal)
        context.ensure_not_tombstoned(stream_id)
        current = self._last(stream_id)
        soft_deleted = context.is_soft_deleted(stream_id)
        exists = current >= 0 or context.has_metadata(stream_id)
        if expected_version == NO_STREAM and current >= 0 and not soft_deleted:
            raise WrongExpectedVersion(current)
        if expected_version == STREAM_EXISTS:
            if soft_deleted:
                raise StreamDeleted("Stream deleted")
            if not exists:
                raise WrongExpectedVersion(current)
        if expected_version >= 0 and expected_version != current:
            raise WrongExpectedVersion(current)
        if hard:
            rows = [self._tombstone_row(stream_id)]
        elif not exists:
            raise WrongExpectedVersion(current)  # v21+: nothing to soft-delete
        else:
            rows = self._reserve("$$" + stream_id, [NewEvent(
                uuid.uuid4(), METADATA_EVENT_TYPE, soft_delete_document(), b"", True)])
        await self._commit(rows)

    def _tombstone_row(self, stream_id: str) -> Row:
        index = self._context.index
        index.state(stream_id).tombstoned = True
        position = index.reserve_positions(1)
        return (position, stream_id, TOMBSTONE_NUMBER, uuid.uuid4().bytes, TOMBSTONE_EVENT_TYPE,
                b"", b"", 0, now_micros())

    # --- reservation and commit -----------------------------------------------------------
    def _reserve(self, stream_id: str, events: list[NewEvent]) -> list[Row]:
        """Numbers and positions for `events`, applied to the in-memory state now."""
        context = self._context
        original = original_stream(stream_id)
        recreating = not is_metastream(stream_id) and context.is_soft_deleted(stream_id)
        if is_metastream(stream_id) and context.is_soft_deleted(original):
            events = _undeleting(events, context.index.state(original).last + 1)
        rows = self._rows(stream_id, events)
        if recreating:
            metadata = context.index.metadata(stream_id)
            rows += self._rows("$$" + stream_id, [NewEvent(
                uuid.uuid4(), METADATA_EVENT_TYPE, with_truncate_before(metadata.raw, rows[0][2]),
                b"", True)])
        self._apply_side_effects(rows)
        return rows

    def _rows(self, stream_id: str, events: list[NewEvent]) -> list[Row]:
        context = self._context
        state = context.index.state(stream_id)
        first_number = state.last + 1
        first_position = context.index.reserve_positions(len(events))
        created = now_micros()
        rows = [(first_position + offset, stream_id, first_number + offset, event.event_id.bytes,
                 event.event_type, event.data, event.metadata,
                 1 if event.is_json else 0, created)
                for offset, event in enumerate(events)]
        context.ids.add_rows(rows)
        state.last = first_number + len(events) - 1
        return rows

    def _apply_side_effects(self, rows: list[Row]) -> None:
        """Metadata and settings take effect as soon as they are accepted."""
        if rows[0][1] == rows[-1][1]:  # rows are grouped by stream: one stream only
            last_row_of: dict[str, Row] = {rows[-1][1]: rows[-1]}
        else:
            last_row_of = {row[1]: row for row in rows}
        for stream_id, row in last_row_of.items():
            if is_metastream(stream_id):
                state = self._context.index.state(original_stream(stream_id))
                state.metadata = metadata_from_record(record_from_row(row))
            elif stream_id == SETTINGS_STREAM:
                self._context.authorizer.settings = SystemSettings.from_record(record_from_row(row))

    async def _commit(self, rows: list[Row]) -> None:
        try:
            await self._context.log.commit(rows)
        except Exception:
            await self._on_failure()
            raise
        counters = self._context.counters
        counters.appends += 1


def _undeleting(events: list[NewEvent], truncate_before: int) -> list[NewEvent]:
    """New metadata for a soft-deleted stream brings it back: its `$tb` hides the old events."""
    if not events:
        return events
    last = events[-1]
    document = decode_json(last.data) if last.is_json else None
    if not isinstance(document, dict) or document.get("$tb") == STREAM_DELETED_TB:
        return events
    document["$tb"] = truncate_before
    return events[:-1] + [NewEvent(last.event_id, last.event_type, encode_json(document),
                                   last.metadata, last.is_json)]
