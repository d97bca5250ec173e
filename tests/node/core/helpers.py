"""Shared helpers for the node core's unit tests (they call the core directly: no wire involved)."""
from __future__ import annotations

import asyncio
import json
import uuid
from typing import Awaitable, Callable, Optional

from clientapi.server.core.model import NewEvent, Principal
from clientapi.server.core.service import EventStoreCore

ADMIN = Principal("admin", ("$admins",))
OPS = Principal("ops", ("$ops",))
BOB = Principal("bob", ("staff",))
ALICE = Principal("alice", ())
ANON = Principal(None)


def event(event_type: str = "Thing", data: Optional[dict] = None, event_id: Optional[uuid.UUID] = None,
          metadata: bytes = b"") -> NewEvent:
    body = json.dumps(data if data is not None else {"n": 1}).encode()
    return NewEvent(event_id or uuid.uuid4(), event_type, body, metadata, True)


def events(count: int, event_type: str = "Thing") -> list[NewEvent]:
    return [event(event_type, {"n": i}) for i in range(count)]


def metadata_event(document: object, is_json: bool = True) -> NewEvent:
    data = document if isinstance(document, bytes) else json.dumps(document).encode()
    return NewEvent(uuid.uuid4(), "$metadata", data, b"", is_json)


def link_event(number: int, stream: str) -> NewEvent:
    return NewEvent(uuid.uuid4(), "$>", f"{number}@{stream}".encode(), b"", False)


def with_core(body: Callable[[EventStoreCore], Awaitable], path: Optional[str] = None,
              insecure: bool = False):
    """Open a core (in memory unless `path`), run `body(core)` on a fresh loop, close it."""
    async def main():
        core = await EventStoreCore.open(path, insecure=insecure)
        try:
            return await body(core)
        finally:
            await core.close()
    return asyncio.run(main())


async def numbers(core: EventStoreCore, stream: str, principal: Principal = ADMIN,
                  count: int = 4096) -> list[int]:
    page = await core.read_stream(stream, 0, count, "forward", False, principal)
    return [resolved.original.event_number for resolved in page.events]
