"""A projection's persisted state, in the real server's streams.

Root: `$ProjectionCheckpoint` events in `$projections-<name>-checkpoint`, data `[state]` or
`[state, result]` (a bi-state projection adds its shared state as a third element),
metadata = the checkpoint tag. Other partitions: `$Checkpoint` events in
`$projections-<name>-<partition>-checkpoint`, written before the root one, and the catalog of
partitions in `$projections-<name>-partitions` (written with the emitted events). Only
events carrying this projection's id and epoch in `$v` count, so a reset starts afresh.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Optional

from ..core.errors import EventNotFound, StreamDeleted, StreamNotFound
from ..core.model import ANY, SYSTEM, NewEvent
from .definition import ProjectionDefinition
from .streams import checkpoint_stream, partition_checkpoint_stream, partitions_stream
from .tags import CheckpointTag, parse_version_tag
from .readers import read_whole_stream

PROJECTION_CHECKPOINT_EVENT_TYPE = "$ProjectionCheckpoint"
PARTITION_CHECKPOINT_EVENT_TYPE = "$Checkpoint"
_LOOK_BACK_EVENTS = 100


@dataclass
class Snapshot:
    """Where a projection is and the JSON texts of its states, results and shared state."""

    tag: CheckpointTag
    states: dict[str, str] = field(default_factory=dict)
    results: dict[str, Optional[str]] = field(default_factory=dict)
    shared: Optional[str] = None


class CheckpointStore:
    def __init__(self, core, definition: ProjectionDefinition):
        self._core = core
        self._name = definition.name
        self._identity = (definition.projection_id, definition.epoch)

    async def write(self, snapshot: Snapshot, version: str, partitions: set[str]) -> None:
        """Checkpoint `partitions` (those changed since the last time), then the root."""
        metadata = json.dumps(snapshot.tag.as_metadata(version), separators=(",", ":")).encode("utf-8")
        for partition in sorted(p for p in partitions if p != "" and p in snapshot.states):
            await self._append(partition_checkpoint_stream(self._name, partition), PARTITION_CHECKPOINT_EVENT_TYPE,
                               _data(snapshot, partition), metadata)
        await self._append(checkpoint_stream(self._name), PROJECTION_CHECKPOINT_EVENT_TYPE, _data(snapshot, ""),
                           metadata)

    async def _append(self, stream: str, event_type: str, data: bytes, metadata: bytes) -> None:
        await self._core.append(stream, [NewEvent(uuid.uuid4(), event_type, data, metadata, True)], ANY, SYSTEM)

    async def restore(self, start: CheckpointTag, partitioned: bool) -> Snapshot:
        """The newest root checkpoint and the partition states it covers (`start` when none)."""
        found = await self._last_checkpoint(checkpoint_stream(self._name), None)
        if found is None:
            return Snapshot(start)
        tag, values = found
        snapshot = Snapshot(tag)
        _unpack(values, "", snapshot)
        if len(values) > 2:
            snapshot.shared = json.dumps(values[2])
        if partitioned:
            await self._restore_partitions(snapshot)
        return snapshot

    async def _restore_partitions(self, snapshot: Snapshot) -> None:
        covered = snapshot.tag.position
        for record in await read_whole_stream(self._core, partitions_stream(self._name)):
            tag = self._tag_of(record)
            if tag is None or tag.position > covered:
                continue  # created after the checkpoint: handled again from scratch
            partition = record.data.decode("utf-8", errors="replace")
            found = await self._last_checkpoint(partition_checkpoint_stream(self._name, partition), covered)
            if found is not None:
                _unpack(found[1], partition, snapshot)

    def _tag_of(self, record) -> Optional[CheckpointTag]:
        try:
            metadata = json.loads(record.metadata.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(metadata, dict) or parse_version_tag(metadata.get("$v")) != self._identity:
            return None
        return CheckpointTag.from_metadata(metadata)

    async def _last_checkpoint(self, stream: str, not_after: Optional[int]) -> Optional[tuple[CheckpointTag, list]]:
        """The newest checkpoint in `stream` of this projection and epoch (at or before
        position `not_after` when given), with its decoded data."""
        try:
            page = await self._core.read_stream(stream, None, _LOOK_BACK_EVENTS, "backward", False, SYSTEM)
        except (StreamNotFound, StreamDeleted, EventNotFound):
            return None
        for resolved in page.events:
            record = resolved.original
            tag = self._tag_of(record)
            if tag is None or (not_after is not None and tag.position > not_after):
                continue
            try:
                values = json.loads(record.data.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                continue
            return tag, values if isinstance(values, list) else [values]
        return None


def _data(snapshot: Snapshot, partition: str) -> bytes:
    state = snapshot.states.get(partition)
    parts = [_as_json(state) if state is not None else "null"]
    result = snapshot.results.get(partition)
    shared = snapshot.shared if partition == "" else None
    if result is not None or shared is not None:
        parts.append(result if result is not None else "null")
    if shared is not None:
        parts.append(shared)
    return ("[" + ",".join(parts) + "]").encode("utf-8")


def _as_json(text: str) -> str:
    """State texts are JSON, except a string state, which is kept verbatim."""
    try:
        json.loads(text)
        return text
    except ValueError:
        return json.dumps(text)


def _unpack(values: list, partition: str, snapshot: Snapshot) -> None:
    if values and values[0] is not None:
        state = values[0]
        snapshot.states[partition] = state if isinstance(state, str) else json.dumps(state, separators=(",", ":"))
    if len(values) > 1 and values[1] is not None:
        snapshot.results[partition] = json.dumps(values[1], separators=(",", ":"))
