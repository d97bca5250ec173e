"""Writes what a projection emits, exactly once across crashes and restarts.

The log has no multi-stream transaction, so emitted events and the checkpoint that covers
them are separate appends: a crash in between makes the projection handle those source
events again when it resumes. We make that harmless, the way the real server does, by
stamping every emitted event with the tag of the event that caused it (`$v` = projection id
and epoch, `$p` = its log position). Each batch's events for one stream go in a single
atomic append, so while re-handling events that were already handled before the restart
(those before the log head at start), the writer looks up, once per stream, the newest
event this projection (same id and epoch) wrote there and drops what is not newer. Event ids
are derived from (projection, epoch, cause position, stream, index) as well, so even a
retried append is recognised by the core's idempotency check.
"""
from __future__ import annotations

import json
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Optional

from ..core.errors import AccessDenied, StreamDeleted, StreamNotFound
from ..core.model import ANY, LINK_EVENT_TYPE, SYSTEM, NewEvent, Principal
from .handlers import Emission, ProjectionFault, SourceEvent
from .readers import read_whole_stream
from .streams import emitted_streams_stream
from .tags import EventTag, parse_version_tag, version_tag

_ID_NAMESPACE = uuid.UUID("9a4e5f0c-3d0e-4a4b-8d57-7c0e0f3b9a11")
STREAM_TRACKED_EVENT_TYPE = "$StreamTracked"
_LOOK_BACK_EVENTS = 200  # how far back to look for this projection's last event in a stream


@dataclass(frozen=True)
class LinkToEmitted:
    """A `$>` in `stream` to whatever number emission `target` (an index into the batch's
    emissions) gets once written: partition results are linked from the root result stream."""

    cause: int
    stream: str
    target: int


class OutputWriter:
    def __init__(self, core, name: str, projection_id: int, epoch: int, version: int, *,
                 stream_based: bool, recovery_until: int, track_emitted: bool, run_as: Principal = SYSTEM):
        self._core = core
        self._run_as = run_as
        self._name = name
        self._projection = (projection_id, epoch)
        self._version = version_tag(projection_id, epoch, version)
        self._stream_based = stream_based
        self._recovery_until = recovery_until
        self._track_emitted = track_emitted
        self._last_cause: dict[str, int] = {}  # stream -> newest cause position written there
        self._tracked: Optional[set[str]] = None

    @property
    def version(self) -> str:
        return self._version

    def tag_of(self, event: SourceEvent) -> EventTag:
        return EventTag(event.position, event.position_stream_id, event.position_event_number,
                        self._stream_based)

    async def write(self, events: list[SourceEvent], emissions: list[Emission],
                    links: tuple[LinkToEmitted, ...] = ()) -> None:
        numbers = await self._write_grouped(events, list(enumerate(emissions)))
        if links:
            resolved = []
            for link in links:
                number = numbers.get(link.target)
                if number is not None:  # None: already written before a restart, with its link
                    target = emissions[link.target]
                    resolved.append((-1 - len(resolved),
                                     Emission(link.cause, link.stream, LINK_EVENT_TYPE,
                                              f"{number}@{target.stream}", False, None, user_emitted=False)))
            await self._write_grouped(events, resolved)

    async def _write_grouped(self, events: list[SourceEvent],
                             emissions: list[tuple[int, Emission]]) -> dict[int, int]:
        """Appends per stream, in first-seen order; returns emission key -> event number."""
        by_stream: "OrderedDict[str, list[tuple[int, Emission]]]" = OrderedDict()
        for key, emission in emissions:
            by_stream.setdefault(emission.stream, []).append((key, emission))
        numbers: dict[int, int] = {}
        for stream, group in by_stream.items():
            numbers.update(await self._write_stream(stream, events, group))
        return numbers

    async def _write_stream(self, stream: str, events: list[SourceEvent],
                            group: list[tuple[int, Emission]]) -> dict[int, int]:
        floor = await self._already_written_up_to(stream, events[group[0][1].cause].position)
        fresh = [(key, e) for key, e in group if events[e.cause].position > floor]
        if not fresh:
            return {}
        if self._track_emitted and any(e.user_emitted for _, e in fresh):
            await self._track(stream)
        ordinal: dict[int, int] = {}
        new_events = []
        for _key, emission in fresh:
            cause = events[emission.cause]
            index = ordinal[emission.cause] = ordinal.get(emission.cause, -1) + 1
            new_events.append(NewEvent(
                event_id=self._event_id(cause.position, stream, index),
                event_type=emission.event_type,
                data=emission.data.encode("utf-8"),
                metadata=self._metadata(cause, emission.metadata),
                is_json=emission.is_json))
        # What the query emits (emit, linkTo, ...) is written with its creator's rights; the
        # projection's own bookkeeping (results, partitions) is the node's.
        writer = self._run_as if any(e.user_emitted for _, e in fresh) else SYSTEM
        try:
            result = await self._core.append(stream, new_events, ANY, writer)
        except StreamDeleted:
            raise ProjectionFault(f"Cannot write to stream {stream}: the stream has been deleted") from None
        except AccessDenied:
            raise ProjectionFault(f"Cannot write to stream {stream}: access denied") from None
        self._last_cause[stream] = max(events[e.cause].position for _, e in fresh)
        return {key: result.first_event_number + i for i, (key, _e) in enumerate(fresh)}

    def _event_id(self, cause_position: int, stream: str, index: int) -> uuid.UUID:
        projection_id, epoch = self._projection
        return uuid.uuid5(_ID_NAMESPACE, f"{self._name}/{projection_id}/{epoch}/{cause_position}/{stream}/{index}")

    def _metadata(self, cause: SourceEvent, extra: Optional[dict]) -> bytes:
        document = self.tag_of(cause).as_metadata(self._version)
        if extra:
            document.update(extra)
        document["$causedBy"] = cause.event_id
        correlation = _correlation_id(cause.metadata)
        if correlation is not None:
            document["$correlationId"] = correlation
        return json.dumps(document, separators=(",", ":")).encode("utf-8")

    async def _already_written_up_to(self, stream: str, first_cause: int) -> int:
        """Newest cause position this projection already wrote to `stream` (-1: none)."""
        if stream in self._last_cause or first_cause >= self._recovery_until:
            return self._last_cause.get(stream, -1)
        self._last_cause[stream] = await self._newest_cause_in(stream)
        return self._last_cause[stream]

    async def _newest_cause_in(self, stream: str) -> int:
        try:
            page = await self._core.read_stream(stream, None, _LOOK_BACK_EVENTS, "backward", False, SYSTEM)
        except (StreamNotFound, StreamDeleted):
            return -1
        for resolved in page.events:
            record = resolved.original
            try:
                metadata = json.loads(record.metadata.decode("utf-8")) if record.metadata else None
            except (ValueError, UnicodeDecodeError):
                continue
            if isinstance(metadata, dict) and parse_version_tag(metadata.get("$v")) == self._projection:
                position = metadata.get("$p")
                if isinstance(position, int):
                    return position
        return -1

    async def _track(self, stream: str) -> None:
        tracking_stream = emitted_streams_stream(self._name)
        if self._tracked is None:
            self._tracked = set(await read_tracked_streams(self._core, tracking_stream))
        if stream in self._tracked:
            return
        event_id = uuid.uuid5(_ID_NAMESPACE, f"{self._name}/tracked/{stream}")
        await self._core.append(tracking_stream, [NewEvent(event_id, STREAM_TRACKED_EVENT_TYPE,
                                                           stream.encode("utf-8"))], ANY, SYSTEM)
        self._tracked.add(stream)


async def read_tracked_streams(core, tracking_stream: str) -> list[str]:
    streams = []
    for record in await read_whole_stream(core, tracking_stream):
        name = record.data.decode("utf-8", errors="replace")
        if name not in streams:
            streams.append(name)
    return streams


def _correlation_id(metadata_text: str) -> Optional[object]:
    if not metadata_text or "$correlationId" not in metadata_text:
        return None
    try:
        metadata = json.loads(metadata_text)
    except ValueError:
        return None
    return metadata.get("$correlationId") if isinstance(metadata, dict) else None
