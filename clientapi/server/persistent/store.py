"""Where subscription groups keep what must survive a restart: streams, as the real server does.

- `$persistentSubscriptionConfig`: every change appends the whole set of group definitions;
  the last event is the current configuration.
- `$persistentsubscription-{stream}::{group}-checkpoint`: the last event number fully processed.
- `$persistentsubscription-{stream}::{group}-parked`: links to the parked events, with
  `$tb` moved past them once they have been replayed.
"""
from __future__ import annotations

import datetime as _dt
import json
import uuid
from typing import Any, Optional

from ..core.errors import StreamDeleted, StreamNotFound
from ..core.model import (ANY, LINK_EVENT_TYPE, METADATA_EVENT_TYPE, SYSTEM, NewEvent,
                          ResolvedEvent)
from .settings import GroupSettings

CONFIG_STREAM = "$persistentSubscriptionConfig"
CONFIG_EVENT_TYPE = "$PersistentConfig"
CHECKPOINT_EVENT_TYPE = "$SubscriptionCheckpoint"
CONFIG_VERSION = "2"


def group_key(stream: str, group: str) -> str:
    return f"{stream}::{group}"


def parked_stream(stream: str, group: str) -> str:
    return f"$persistentsubscription-{group_key(stream, group)}-parked"


def checkpoint_stream(stream: str, group: str) -> str:
    return f"$persistentsubscription-{group_key(stream, group)}-checkpoint"


def _json_event(event_type: str, body: object, metadata: Optional[dict] = None) -> NewEvent:
    return NewEvent(event_id=uuid.uuid4(), event_type=event_type,
                    data=json.dumps(body).encode("utf-8"),
                    metadata=json.dumps(metadata).encode("utf-8") if metadata is not None else b"",
                    is_json=True)


async def _last_event(core: Any, stream: str) -> Optional[ResolvedEvent]:
    try:
        page = await core.read_stream(stream, None, 1, "backward", False, SYSTEM)
    except (StreamNotFound, StreamDeleted):
        return None
    return page.events[0] if page.events else None


class GroupStore:
    """Reads and writes the subscription streams through the core, as the node itself."""

    def __init__(self, core: Any):
        self._core = core

    # --- definitions ----------------------------------------------------------------
    async def load_definitions(self) -> list[tuple[str, str, GroupSettings]]:
        last = await _last_event(self._core, CONFIG_STREAM)
        if last is None or last.event is None:
            return []
        document = json.loads(last.event.data.decode("utf-8"))
        return [(entry["stream"], entry["group"], GroupSettings.from_storage(entry["settings"]))
                for entry in document.get("entries", [])]

    async def save_definitions(self, definitions: list[tuple[str, str, GroupSettings]],
                               updated_by: Optional[str]) -> None:
        document = {
            "version": CONFIG_VERSION,
            "updated": _dt.datetime.now(_dt.timezone.utc).isoformat(),
            "updatedBy": updated_by or "$system",
            "entries": [{"stream": s, "group": g, "settings": settings.to_storage()}
                        for s, g, settings in definitions],
        }
        await self._core.append(CONFIG_STREAM, [_json_event(CONFIG_EVENT_TYPE, document)], ANY, SYSTEM)

    # --- checkpoints ----------------------------------------------------------------
    async def load_checkpoint(self, stream: str, group: str) -> Optional[int]:
        last = await _last_event(self._core, checkpoint_stream(stream, group))
        if last is None or last.event is None:
            return None
        return int(json.loads(last.event.data.decode("utf-8")))

    async def save_checkpoint(self, stream: str, group: str, event_number: int, first: bool) -> None:
        name = checkpoint_stream(stream, group)
        if first:  # only the newest checkpoint matters; let the log drop the others
            await self._core.append("$$" + name, [_json_event(METADATA_EVENT_TYPE, {"$maxCount": 1})],
                                    ANY, SYSTEM)
        await self._core.append(name, [_json_event(CHECKPOINT_EVENT_TYPE, event_number)], ANY, SYSTEM)

    # --- parked messages ------------------------------------------------------------
    async def park(self, stream: str, group: str, message: ResolvedEvent, reason: str) -> None:
        if message.event is not None:
            link_data = f"{message.event.event_number}@{message.event.stream_id}".encode("utf-8")
        else:  # a link whose target is gone: park the same link
            link_data = message.original.data
        metadata = {
            "added": _dt.datetime.now(_dt.timezone.utc).isoformat(),
            "reason": reason,
            "subscriptionEventNumber": message.original.event_number,
        }
        event = NewEvent(event_id=uuid.uuid4(), event_type=LINK_EVENT_TYPE, data=link_data,
                         metadata=json.dumps(metadata).encode("utf-8"), is_json=False)
        await self._core.append(parked_stream(stream, group), [event], ANY, SYSTEM)

    async def parked_range(self, stream: str, group: str) -> tuple[int, int]:
        """(first unreplayed parked event number, last parked event number)."""
        name = parked_stream(stream, group)
        last = await self._core.last_event_number(name)
        metadata = await self._core.get_metadata(name)
        floor = metadata.truncate_before or 0
        return floor, last

    async def read_parked(self, stream: str, group: str, from_number: int,
                          count: int) -> list[ResolvedEvent]:
        try:
            page = await self._core.read_stream(parked_stream(stream, group), from_number, count,
                                                "forward", True, SYSTEM)
        except (StreamNotFound, StreamDeleted):
            return []
        return list(page.events)

    async def mark_parked_replayed(self, stream: str, group: str, up_to_including: int) -> None:
        name = parked_stream(stream, group)
        await self._core.append("$$" + name, [_json_event(METADATA_EVENT_TYPE,
                                                          {"$tb": up_to_including + 1})], ANY, SYSTEM)

    async def delete_group_streams(self, stream: str, group: str) -> None:
        for name in (checkpoint_stream(stream, group), parked_stream(stream, group)):
            if not await self._core.stream_exists(name):
                continue
            try:
                await self._core.delete_stream(name, ANY, False, SYSTEM)
            except (StreamNotFound, StreamDeleted):
                pass
