"""Where projection definitions live in the log, as the real server keeps them:
`$projections-$all` lists created and deleted names (`$ProjectionCreated`/`$ProjectionDeleted`,
data = the name), `$projections-<name>` holds each definition (`$ProjectionUpdated`).

Projection ids (the first part of `$v` in every tag) are never reused, even after a delete,
so checkpoints and emitted events of a deleted projection never count for a new one with
the same name: each `$ProjectionCreated` carries its id in its metadata.
"""
from __future__ import annotations

import json
import logging
import uuid
from typing import Optional

from ..core.errors import CoreError, StreamDeleted, StreamNotFound, WrongExpectedVersion
from ..core.model import ANY, SYSTEM, NewEvent
from .definition import ProjectionDefinition
from .streams import REGISTRY_STREAM, definition_stream
from .readers import read_whole_stream

log = logging.getLogger("clientapi.server.projections")

PROJECTIONS_INITIALIZED = "$ProjectionsInitialized"
PROJECTION_CREATED = "$ProjectionCreated"
PROJECTION_DELETED = "$ProjectionDeleted"
PROJECTION_UPDATED = "$ProjectionUpdated"


class ProjectionRegistry:
    def __init__(self, core):
        self._core = core
        self._last_id = 0

    def next_id(self) -> int:
        self._last_id += 1
        return self._last_id

    async def load(self) -> list[ProjectionDefinition]:
        """Every registered projection's latest definition, in creation order."""
        names: list[str] = []
        for record in await read_whole_stream(self._core, REGISTRY_STREAM):
            name = record.data.decode("utf-8", errors="replace")
            if record.event_type == PROJECTION_CREATED:
                self._last_id = max(self._last_id, _created_id(record.metadata))
                if name not in names:
                    names.append(name)
            elif record.event_type == PROJECTION_DELETED and name in names:
                names.remove(name)
        if not await self._core.stream_exists(REGISTRY_STREAM):
            await self._append(REGISTRY_STREAM, PROJECTIONS_INITIALIZED, b"")
        definitions = []
        for name in names:
            definition = await self._read_definition(name)
            if definition is not None:
                self._last_id = max(self._last_id, definition.projection_id)
                definitions.append(definition)
        return definitions

    async def _read_definition(self, name: str) -> Optional[ProjectionDefinition]:
        try:
            resolved = await self._core.read_event(definition_stream(name), -1, False, SYSTEM)
        except CoreError:
            log.warning("projection %s is registered but has no definition", name)
            return None
        try:
            return ProjectionDefinition.from_json(name, resolved.original.data)
        except (ValueError, KeyError) as error:
            log.warning("projection %s has an unreadable definition: %s", name, error)
            return None

    async def register(self, definition: ProjectionDefinition) -> None:
        if definition.is_persisted:
            await self.save(definition)
            metadata = json.dumps({"projectionId": definition.projection_id}).encode("utf-8")
            await self._append(REGISTRY_STREAM, PROJECTION_CREATED, definition.name.encode("utf-8"), metadata)

    async def save(self, definition: ProjectionDefinition) -> None:
        if definition.is_persisted:
            await self._append(definition_stream(definition.name), PROJECTION_UPDATED, definition.to_json(),
                               is_json=True)

    async def unregister(self, definition: ProjectionDefinition) -> None:
        if definition.is_persisted:
            await self._append(REGISTRY_STREAM, PROJECTION_DELETED, definition.name.encode("utf-8"))
            await delete_stream(self._core, definition_stream(definition.name))

    async def _append(self, stream: str, event_type: str, data: bytes, metadata: bytes = b"",
                      is_json: bool = False) -> None:
        await self._core.append(stream, [NewEvent(uuid.uuid4(), event_type, data, metadata, is_json)], ANY, SYSTEM)


async def delete_stream(core, stream: str) -> None:
    """Soft-delete a stream the projections own; one that is gone already is fine."""
    try:
        await core.delete_stream(stream, ANY, False, SYSTEM)
    except (StreamNotFound, StreamDeleted, WrongExpectedVersion):
        pass


def _created_id(metadata: bytes) -> int:
    try:
        value = json.loads(metadata.decode("utf-8")).get("projectionId") if metadata else 0
    except (ValueError, UnicodeDecodeError, AttributeError):
        return 0
    return value if isinstance(value, int) else 0
