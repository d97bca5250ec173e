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

from typing import Optional, Sequence

from .model import (AllSlice, AppendResult, NewEvent, Principal, ResolvedEvent,
                    StreamMetadata, StreamSlice, UserRecord)


class EventStoreCore:
    """Construct with `EventStoreCore.open(path_or_None, insecure=False)`; `None` = in memory."""

    @classmethod
    async def open(cls, path: Optional[str], *, insecure: bool = False) -> "EventStoreCore":
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    # --- writes -------------------------------------------------------------------
    async def append(self, stream_id: str, events: Sequence[NewEvent], expected_version: int,
                     principal: Principal) -> AppendResult:
        """Atomic append, durable before it returns. Expected version and idempotency per
        digest §4.4/§4.6; recreating a soft-deleted stream per §8. Writing to `$$X` is a
        metadata write (meta-write ACL of X). Raises WrongExpectedVersion, StreamDeleted
        (hard-deleted, or -4 on a soft-deleted stream), AccessDenied, BadRequest."""
        raise NotImplementedError

    async def delete_stream(self, stream_id: str, expected_version: int, hard: bool,
                            principal: Principal) -> None:
        """Soft delete writes `{"$tb": int64.MaxValue}` as the metadata; hard writes a tombstone.
        Raises WrongExpectedVersion (with current version), StreamDeleted, AccessDenied."""
        raise NotImplementedError

    # --- reads --------------------------------------------------------------------
    async def read_stream(self, stream_id: str, from_event_number: Optional[int], count: int,
                          direction: str, resolve_links: bool, principal: Principal) -> StreamSlice:
        """`from_event_number` None = head (backward only). `$$X` reads use X's meta-read ACL.
        Applies $tb/$maxCount/$maxAge. Raises StreamNotFound (never existed or soft-deleted),
        StreamDeleted (hard), AccessDenied, ReadTooBig (count > 4096)."""
        raise NotImplementedError

    async def read_event(self, stream_id: str, event_number: int, resolve_links: bool,
                         principal: Principal) -> ResolvedEvent:
        """`event_number` -1 = the last event. Raises StreamNotFound, EventNotFound,
        StreamDeleted, AccessDenied. A link whose target is gone raises EventNotFound."""
        raise NotImplementedError

    async def read_all(self, from_position: Optional[int], count: int, direction: str,
                       resolve_links: bool, principal: Principal) -> AllSlice:
        """`from_position` None = head. Read ACL of `$all` (admins by default)."""
        raise NotImplementedError

    async def last_event_number(self, stream_id: str) -> int:
        """-1 when the stream has no events (for ETags and long polls; no ACL check)."""
        raise NotImplementedError

    def head_position(self) -> int:
        """Position just after the newest committed record."""
        raise NotImplementedError

    async def wait_for_append(self, stream_id: Optional[str], timeout: float) -> bool:
        """Resolve as soon as anything is committed to `stream_id` (None = to any stream),
        or after `timeout` seconds (returns False then). Costs no thread."""
        raise NotImplementedError

    # --- metadata -----------------------------------------------------------------
    async def get_metadata(self, stream_id: str) -> StreamMetadata:
        """Parsed metadata, no ACL check (the HTTP layer reads `$$X` through read_event)."""
        raise NotImplementedError

    async def stream_exists(self, stream_id: str) -> bool:
        raise NotImplementedError

    def check_access(self, stream_id: str, operation: str, principal: Principal,
                     metadata: StreamMetadata) -> bool:
        """`operation` one of "read", "write", "delete", "meta_read", "meta_write"."""
        raise NotImplementedError

    # --- users (digest §15) ---------------------------------------------------------
    async def authenticate(self, login: str, password: str) -> Optional[Principal]:
        """None for unknown users, wrong passwords and disabled users."""
        raise NotImplementedError

    async def list_users(self) -> list[UserRecord]:
        raise NotImplementedError

    async def get_user(self, login: str) -> UserRecord:
        """Raises NotFound."""
        raise NotImplementedError

    async def create_user(self, login: str, full_name: str, groups: list[str], password: str) -> None:
        """Raises Conflict, BadRequest."""
        raise NotImplementedError

    async def update_user(self, login: str, full_name: str, groups: list[str]) -> None:
        raise NotImplementedError

    async def delete_user(self, login: str) -> None:
        raise NotImplementedError

    async def set_user_disabled(self, login: str, disabled: bool) -> None:
        raise NotImplementedError

    async def reset_password(self, login: str, new_password: str) -> None:
        raise NotImplementedError

    async def change_password(self, login: str, current_password: str, new_password: str) -> None:
        """Raises AccessDenied when the current password is wrong."""
        raise NotImplementedError

    # --- figures for /stats ---------------------------------------------------------
    def stats(self) -> dict:
        raise NotImplementedError
