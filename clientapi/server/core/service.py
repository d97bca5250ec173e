"""The node's domain core: streams, `$all`, deletes, metadata, ACLs, users.

INTERFACE CONTRACT (shared by the storage/core author and the HTTP author; keep it stable):
every method here is a coroutine that runs on the node's IOLoop; blocking disk work
happens off the loop (a writer thread), so a long poll or a slow disk never stalls
other requests. Refusals are raised as `clientapi.server.core.errors` exceptions; the
HTTP layer maps them to statuses and never re-implements a rule that lives here.

Authorization lives here too (the HTTP layer only authenticates): every operation
takes the caller's `Principal` and raises `AccessDenied` per the effective ACL
(digest §9.3), unless the node runs with `insecure=True`.
"""
from __future__ import annotations

import asyncio
import time
from typing import Optional, Sequence

from ..security import Authorizer, is_metastream, original_stream
from ..storage import EventLog, RecentEventIds, StreamIndex
from ..storage.log import TOMBSTONE_NUMBER
from ..storage.records import Row
from .context import SETTINGS_STREAM, CoreContext
from .metadata import METASTREAM_METADATA, SystemSettings, metadata_from_record
from .model import (AllSlice, AppendResult, NewEvent, Principal, ResolvedEvent,
                    StreamMetadata, StreamSlice, UserRecord)
from .reads import ReadPath
from .users import UserDirectory
from .waiters import AppendWaiters
from .writes import WritePath

RECENT_IDS = 200_000  # event ids remembered for idempotent retries


class EventStoreCore:
    """Construct with `EventStoreCore.open(path_or_None, insecure=False)`; `None` = in memory."""

    def __init__(self, log: EventLog, *, insecure: bool = False):
        """Use `open`; this only wires the parts together."""
        self.insecure = insecure
        self._context = CoreContext(log, StreamIndex(), RecentEventIds(RECENT_IDS), Authorizer(insecure))
        self._waiters = AppendWaiters()
        self._writes = WritePath(self._context, self._recover)
        self._reads = ReadPath(self._context)
        self._users = UserDirectory(self._context, self._writes)
        self._recovery: Optional[asyncio.Future] = None
        self._closed = False
        log.on_commit = self._committed

    @classmethod
    async def open(cls, path: Optional[str], *, insecure: bool = False) -> "EventStoreCore":
        log = await EventLog.open(path)
        core = cls(log, insecure=insecure)
        try:
            await core._rebuild()
            await core._users.load()
        except BaseException:
            await log.close()
            raise
        return core

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._waiters.wake_all()
        await self._context.log.close()

    # --- writes -------------------------------------------------------------------
    async def append(self, stream_id: str, events: Sequence[NewEvent], expected_version: int,
                     principal: Principal) -> AppendResult:
        """Atomic append, durable before it returns. Expected version and idempotency per
        digest §4.4/§4.6; recreating a soft-deleted stream per §8. Writing to `$$X` is a
        metadata write (meta-write ACL of X). Raises WrongExpectedVersion, StreamDeleted
        (hard-deleted, or -4 on a soft-deleted stream), AccessDenied, BadRequest."""
        return await self._writes.append(stream_id, events, expected_version, principal)

    async def delete_stream(self, stream_id: str, expected_version: int, hard: bool,
                            principal: Principal) -> None:
        """Soft delete writes `{"$tb": int64.MaxValue}` as the metadata; hard writes a tombstone.
        Raises WrongExpectedVersion (with current version), StreamDeleted, AccessDenied."""
        await self._writes.delete(stream_id, expected_version, hard, principal)

    # --- reads --------------------------------------------------------------------
    async def read_stream(self, stream_id: str, from_event_number: Optional[int], count: int,
                          direction: str, resolve_links: bool, principal: Principal) -> StreamSlice:
        """`from_event_number` None = head (backward only). `$$X` reads use X's meta-read ACL.
        Applies $tb/$maxCount/$maxAge. Raises StreamNotFound (never existed or soft-deleted),
        StreamDeleted (hard), AccessDenied, ReadTooBig (count > 4096)."""
        return await self._reads.read_stream(stream_id, from_event_number, count, direction,
                                             resolve_links, principal)

    async def read_event(self, stream_id: str, event_number: int, resolve_links: bool,
                         principal: Principal) -> ResolvedEvent:
        """`event_number` -1 = the last event. Raises StreamNotFound, EventNotFound,
        StreamDeleted, AccessDenied. A link whose target is gone raises EventNotFound."""
        return await self._reads.read_event(stream_id, event_number, resolve_links, principal)

    async def read_all(self, from_position: Optional[int], count: int, direction: str,
                       resolve_links: bool, principal: Principal) -> AllSlice:
        """`from_position` None = head. Read ACL of `$all` (admins by default)."""
        return await self._reads.read_all(from_position, count, direction, resolve_links, principal)

    async def last_event_number(self, stream_id: str) -> int:
        """-1 when the stream has no events (for ETags and long polls; no ACL check).
        Only committed events count. A soft-deleted stream keeps its old last number and a
        hard-deleted one its last number before the tombstone."""
        return self._context.index.last_committed(stream_id)

    def head_position(self) -> int:
        """Position just after the newest committed record. Positions are a dense sequence
        from 0 (one per record, commit == prepare); 0 on an empty log."""
        return self._context.index.head_position

    def wait_for_append(self, stream_id: Optional[str], timeout: float) -> "asyncio.Future[bool]":
        """Resolve as soon as anything is committed to `stream_id` (None = to any stream),
        or after `timeout` seconds (returns False then). Costs no thread. Registered at
        the call, so nothing committed after it is missed (await it, or ensure_future)."""
        return self._waiters.wait(stream_id, timeout)

    # --- metadata -----------------------------------------------------------------
    async def get_metadata(self, stream_id: str) -> StreamMetadata:
        """Parsed metadata, no ACL check (the HTTP layer reads `$$X` through read_event).
        For a `$$X` id: the implicit metadata of metastreams (`$maxCount` 1)."""
        if is_metastream(stream_id):
            return METASTREAM_METADATA
        return self._context.index.metadata(stream_id)

    async def stream_exists(self, stream_id: str) -> bool:
        """True when the stream has events or metadata (so a soft-deleted stream exists) and
        is not hard-deleted. For `$$X`: whether `$$X` has events."""
        index = self._context.index
        state = index.get(original_stream(stream_id))
        if state is not None and state.tombstoned:
            return False
        if is_metastream(stream_id):
            return index.last_committed(stream_id) >= 0
        return index.last_committed(stream_id) >= 0 or index.last_committed("$$" + stream_id) >= 0

    def check_access(self, stream_id: str, operation: str, principal: Principal,
                     metadata: StreamMetadata) -> bool:
        """`operation` one of "read", "write", "delete", "meta_read", "meta_write".
        `metadata` is that of the stream whose ACL applies (X for `$$X`); on a `$$X` id,
        "read"/"write" are checked as X's meta_read/meta_write. Always True when insecure;
        never True for an anonymous principal otherwise (v20+ default)."""
        if is_metastream(stream_id) and operation in ("read", "write"):
            operation = "meta_" + operation
        return self._context.authorizer.allowed(original_stream(stream_id), operation, principal,
                                                metadata)

    # --- users (digest §15) ---------------------------------------------------------
    async def authenticate(self, login: str, password: str) -> Optional[Principal]:
        """None for unknown users, wrong passwords and disabled users."""
        return await self._users.authenticate(login, password)

    async def list_users(self) -> list[UserRecord]:
        return self._users.list_users()

    async def get_user(self, login: str) -> UserRecord:
        """Raises NotFound."""
        return self._users.get_user(login)

    async def create_user(self, login: str, full_name: str, groups: list[str], password: str) -> None:
        """Raises Conflict, BadRequest."""
        await self._users.create_user(login, full_name, groups, password)

    async def update_user(self, login: str, full_name: str, groups: list[str]) -> None:
        await self._users.update_user(login, full_name, groups)

    async def delete_user(self, login: str) -> None:
        await self._users.delete_user(login)

    async def set_user_disabled(self, login: str, disabled: bool) -> None:
        await self._users.set_user_disabled(login, disabled)

    async def reset_password(self, login: str, new_password: str) -> None:
        await self._users.reset_password(login, new_password)

    async def change_password(self, login: str, current_password: str, new_password: str) -> None:
        """Raises AccessDenied when the current password is wrong."""
        await self._users.change_password(login, current_password, new_password)

    # --- figures for /stats ---------------------------------------------------------
    def stats(self) -> dict:
        """Flat camelCase figures (uptime, events written, reads, db size...)."""
        context = self._context
        counters = context.counters
        return {
            "uptimeSeconds": round(time.time() - counters.started, 3),
            "eventsWritten": counters.events_written,
            "appends": counters.appends,
            "transactions": context.log.transactions,
            "reads": counters.reads,
            "eventsRead": counters.events_read,
            "streams": len(context.index),
            "headPosition": context.index.head_position,
            "dbSizeBytes": context.log.size_bytes(),
            "inMemory": context.log.path is None,
            "longPollsWaiting": len(self._waiters),
            "users": len(self._users),
        }

    # --- additions beyond the original contract ----------------------------------------
    @property
    def authorizer(self) -> Authorizer:
        """ACL evaluation (`roles_for`, `is_public`, `allowed_ops`, `allowed_admin`)."""
        return self._context.authorizer

    # --- internals --------------------------------------------------------------------
    def _committed(self, rows: list[Row]) -> None:
        """Called by the log right after a transaction committed, before any writer resumes."""
        index = self._context.index
        last_numbers = {row[1]: row[2] for row in rows if row[2] != TOMBSTONE_NUMBER}
        for stream, number in last_numbers.items():
            index.state(stream).committed = number
        index.head_position = rows[-1][0] + 1
        self._context.counters.events_written += len(rows)
        self._waiters.notify({row[1] for row in rows})

    async def _rebuild(self) -> None:
        """(Re)build every in-memory index from what the log holds."""
        log = self._context.log
        snapshot = await log.snapshot(RECENT_IDS)
        index = StreamIndex()
        index.next_position = index.head_position = snapshot.next_position
        for stream, last in snapshot.last_numbers.items():
            index.state(stream).last = index.state(stream).committed = last
        for stream in snapshot.tombstoned:
            index.state(stream).tombstoned = True
        metastreams = [s for s in snapshot.last_numbers if is_metastream(s)]
        for stream, record in (await log.last_records(metastreams)).items():
            index.state(original_stream(stream)).metadata = metadata_from_record(record)
        settings = await log.last_records([SETTINGS_STREAM])
        ids = RecentEventIds(RECENT_IDS)
        for event_id, stream, number, position in snapshot.recent_ids:
            ids.add_raw(event_id, stream, number, position)
        self._context.index = index
        self._context.ids = ids
        self._context.authorizer.settings = SystemSettings.from_record(settings.get(SETTINGS_STREAM))

    async def _recover(self) -> None:
        """After a failed commit the reserved state is wrong: reload it from the log."""
        if self._recovery is None or self._recovery.done():
            self._recovery = asyncio.ensure_future(self._rebuild_all())
        await asyncio.shield(self._recovery)

    async def _rebuild_all(self) -> None:
        await self._rebuild()
        await self._users.load()
