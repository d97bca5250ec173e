"""Runs one projection: restore from its checkpoint, read the log, feed the handler, write
what it produced, checkpoint, wait for more.

All work happens on the node's IOLoop as a task; reading pages and awaiting V8 (which runs on
its own thread) yields to the loop between batches, so the node keeps serving requests while
a projection catches up.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Optional

from ..core.model import SYSTEM, Principal, ResolvedEvent
from .definition import TRANSIENT, ProjectionDefinition
from .checkpoints import CheckpointStore, Snapshot
from .handlers import BatchOutcome, Emission, ProjectionFault, ProjectionHandler, SourceEvent, SourceSpec
from .readers import AllReader, LogTail, StreamsReader
from .streams import (default_result_stream, deleted_stream_of, partition_result_stream, partitions_stream,
                      seen_by_from_all)
from .tags import CheckpointTag
from .writer import LinkToEmitted, OutputWriter

log = logging.getLogger("clientapi.server.projections")

IDLE_WAIT_SECONDS = 30.0
CHECKPOINT_IDLE_SECONDS = 0.5
PARTITION_EVENT_TYPE = "$partition"
RESULT_EVENT_TYPE = "Result"
RESULT_REMOVED_EVENT_TYPE = "ResultRemoved"

# What a stop request asks for.
STOP_DISABLE = "disable"   # checkpoint, then stop
STOP_ABORT = "abort"       # stop without a checkpoint


@dataclass
class RunState:
    """What the outside (statistics, state and result endpoints) sees of a projection."""

    status: str = "Stopped"
    reason: str = ""
    source: Optional[SourceSpec] = None
    position: Optional[CheckpointTag] = None
    last_checkpoint: Optional[CheckpointTag] = None
    states: dict[str, str] = field(default_factory=dict)
    results: dict[str, Optional[str]] = field(default_factory=dict)
    events_processed: int = 0
    core_processing_ms: float = 0.0
    started: bool = False
    caught_up: bool = False  # idle, waiting for its source to grow

    def progress(self, head_position: int) -> float:
        if self.status == "Completed" or (self.status == "Running" and self.caught_up):
            return 100.0
        if not self.started or self.position is None:
            return -1.0
        if head_position <= 0:
            return 100.0
        return round(min(100.0, 100.0 * (self.position.position + 1) / head_position), 1)


class ProjectionRunner:
    """One run of a projection, from start to stop, completion or fault."""

    def __init__(self, core, definition: ProjectionDefinition, handler_factory, state: RunState,
                 log_tail: LogTail):
        self._core = core
        self._log_tail = log_tail
        self._definition = definition
        self._make_handler = handler_factory
        self.state = state
        self._handler: Optional[ProjectionHandler] = None
        self._writer: Optional[OutputWriter] = None
        self._stop_request: Optional[str] = None
        self._waiting: Optional[asyncio.Future] = None
        self._task: Optional[asyncio.Task] = None
        self._tag = CheckpointTag()
        self._dirty: set[str] = set()
        self._handled_since_checkpoint = 0
        self._last_checkpoint_at = time.monotonic()
        self._shared: Optional[str] = None  # bi-state projections' shared state (JSON)
        self._checkpoints = CheckpointStore(core, definition)

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self, how: str = STOP_DISABLE) -> None:
        self._stop_request = how
        if self._waiting is not None and not self._waiting.done():
            self._waiting.cancel()
        if self._task is not None:
            try:
                await asyncio.shield(self._task)
            except asyncio.CancelledError:
                if self._task.cancelled():
                    return
                raise

    @property
    def finished(self) -> bool:
        return self._task is not None and self._task.done()

    async def _run(self) -> None:
        state = self.state
        try:
            self._handler = await self._make_handler(self._definition)
            state.source = self._handler.source
            await self._restore()
            state.status = "Running"
            state.started = True
            await self._process_until_stopped()
        except ProjectionFault as fault:
            self._fault(str(fault))
        except asyncio.CancelledError:
            state.status = "Stopped"
            raise
        except Exception as error:  # never let a projection take the node down
            log.exception("projection %s failed", self._definition.name)
            self._fault(f"{type(error).__name__}: {error}")
        finally:
            if self._handler is not None:
                self._handler.close()
                self._handler = None

    def _fault(self, reason: str) -> None:
        log.info("projection %s faulted: %s", self._definition.name, reason)
        self.state.status = "Faulted"
        self.state.reason = reason

    # --- the loop ----------------------------------------------------------------------
    def _reader(self, stop_at: Optional[int]):
        source = self._handler.source
        if source.all_streams:
            return AllReader(self._log_tail, self._core, self._tag.position, stop_at, self._run_as)
        numbers = {stream: (self._tag.streams or {}).get(stream, -1) for stream in source.source_streams}
        return StreamsReader(self._core, numbers, stop_at, self._run_as)

    @property
    def _run_as(self) -> Principal:
        """Whose rights the projection reads and emits with: its creator's; the standard
        projections (which no user can create) run as the node."""
        return SYSTEM if self._definition.is_system else self._definition.run_as

    async def _process_until_stopped(self) -> None:
        one_time = self._definition.mode != "Continuous"
        reader = self._reader(self._core.head_position() if one_time else None)
        while self._stop_request is None:
            records, at_end = await reader.next_batch()
            if records:
                await self._handle_records(records)
            if one_time and at_end:
                await self._checkpoint()
                self.state.status = "Completed"
                return
            if self._handled_since_checkpoint >= self._definition.config.checkpoint_handled_threshold:
                await self._checkpoint()
            if at_end:
                await self._idle(reader)
        if self._stop_request == STOP_DISABLE:
            await self._checkpoint()
        self.state.status = "Stopped"

    async def _idle(self, reader) -> None:
        """Wait until the source has more; checkpoint what was handled once things are quiet
        for a moment (at most once per CHECKPOINT_IDLE_SECONDS, so projections that wake each
        other with their writes do not checkpoint on every event)."""
        while self._stop_request is None:
            if self._handled_since_checkpoint and time.monotonic() >= self._checkpoint_due:
                await self._checkpoint()
            # has_more() and registering the wait happen in one step of this task: no
            # append can slip in between unnoticed.
            if await reader.has_more():
                self.state.caught_up = False
                return
            self.state.caught_up = True
            wait = IDLE_WAIT_SECONDS
            if self._handled_since_checkpoint:
                wait = max(0.0, min(wait, self._checkpoint_due - time.monotonic()))
            self._waiting = asyncio.ensure_future(self._core.wait_for_append(None, wait))
            try:
                await self._waiting
            except asyncio.CancelledError:
                if self._stop_request is None:
                    raise
            finally:
                self._waiting = None

    async def _handle_records(self, records: list[ResolvedEvent]) -> None:
        events: list[SourceEvent] = []
        last = records[-1].original
        for resolved in records:
            event = self._select(resolved)
            if event is not None:
                events.append(event)
        if events:
            started = time.perf_counter()
            outcome = await self._handler.handle(events)
            self.state.core_processing_ms += (time.perf_counter() - started) * 1000
            if outcome.fault:
                raise ProjectionFault(outcome.fault)
            for line in outcome.logs:
                log.debug("projection %s: %s", self._definition.name, line)
            await self._write_outputs(events, outcome)
            self._absorb(events, outcome)
        self._tag = self._tag.advanced(last.position, {r.original.stream_id: r.original.event_number
                                                       for r in records})
        self.state.position = self._tag

    # --- choosing and shaping what the handler sees ---------------------------------------
    def _select(self, resolved: ResolvedEvent) -> Optional[SourceEvent]:
        source = self._handler.source
        record = resolved.original
        if source.all_streams:
            if not seen_by_from_all(record.stream_id):
                return None
            if record.is_link and not source.include_links:
                return None
            delivered, link = record, None
        else:
            if record.stream_id not in source.source_streams:
                return None
            if record.is_link:
                if resolved.event is None:
                    return None
                delivered, link = resolved.event, record
            else:
                delivered, link = record, None
        data = delivered.data.decode("utf-8", errors="replace")
        if source.by_streams and source.handles_deleted:
            deleted = deleted_stream_of(delivered.stream_id, delivered.event_type, data)
            if deleted is not None:
                return self._source_event(record, delivered, link, data, deleted)
        if source.events is not None and delivered.event_type not in source.events:
            return None
        return self._source_event(record, delivered, link, data, None)

    def _source_event(self, record, delivered, link, data: str, deleted) -> SourceEvent:
        category = None
        if record.stream_id.startswith("$ce-") and self._handler.source.categories:
            category = record.stream_id[4:]
        return SourceEvent(
            position=record.position, stream_id=delivered.stream_id, event_number=delivered.event_number,
            event_type=delivered.event_type, event_id=str(delivered.event_id), is_json=delivered.is_json,
            data=data, metadata=delivered.metadata.decode("utf-8", errors="replace"),
            position_stream_id=record.stream_id, position_event_number=record.event_number,
            link_metadata=link.metadata.decode("utf-8", errors="replace") if link is not None else None,
            category=category, created=delivered.created,
            deleted_partition=deleted[0] if deleted else None, soft_deleted=bool(deleted and deleted[1]))

    # --- outputs -----------------------------------------------------------------------
    async def _write_outputs(self, events: list[SourceEvent], outcome: BatchOutcome) -> None:
        emissions = list(outcome.emits)
        links: list[LinkToEmitted] = []
        if self._definition.mode != TRANSIENT:
            self._result_emissions(outcome, emissions, links)
            if self._checkpoints_enabled:
                for cause, partition in outcome.created:
                    emissions.append(Emission(cause, partitions_stream(self._definition.name), PARTITION_EVENT_TYPE,
                                              partition, False, None, user_emitted=False))
        if emissions:
            await self._writer.write(events, emissions, tuple(links))

    def _result_emissions(self, outcome: BatchOutcome, emissions: list[Emission],
                          links: list[LinkToEmitted]) -> None:
        source = self._handler.source
        if not source.produces_results:
            return
        root_stream = self._result_stream
        for cause, partition, text in outcome.results:
            event_type = RESULT_EVENT_TYPE if text is not None else RESULT_REMOVED_EVENT_TYPE
            if partition == "":
                emissions.append(Emission(cause, root_stream, event_type, text or "", text is not None,
                                          None, user_emitted=False))
                continue
            stream = partition_result_stream(self._definition.name, partition,
                                             source.partition_result_stream_name_pattern)
            emissions.append(Emission(cause, stream, event_type, text or "", text is not None, None,
                                      user_emitted=False))
            links.append(LinkToEmitted(cause, root_stream, len(emissions) - 1))

    @property
    def _result_stream(self) -> str:
        return self._handler.source.result_stream_name or default_result_stream(self._definition.name)

    @property
    def _checkpoints_enabled(self) -> bool:
        return self._definition.checkpoints_enabled and self._definition.mode != TRANSIENT

    def _absorb(self, events: list[SourceEvent], outcome: BatchOutcome) -> None:
        state = self.state
        for partition, text in outcome.states.items():
            if text is None:
                state.states.pop(partition, None)
            else:
                state.states[partition] = text
            self._dirty.add(partition)
        for _cause, partition, text in outcome.results:
            state.results[partition] = text
        if outcome.shared is not None:
            self._shared = outcome.shared
            self._dirty.add("")
        state.events_processed += outcome.handled
        self._handled_since_checkpoint += outcome.handled

    # --- checkpoints ---------------------------------------------------------------------
    @property
    def _checkpoint_due(self) -> float:
        return self._last_checkpoint_at + CHECKPOINT_IDLE_SECONDS

    async def _checkpoint(self) -> None:
        self._handled_since_checkpoint = 0
        self._last_checkpoint_at = time.monotonic()
        if not self._checkpoints_enabled or self._writer is None:
            self._dirty.clear()
            return
        snapshot = Snapshot(self._tag, self.state.states, self.state.results, self._shared)
        await self._checkpoints.write(snapshot, self._writer.version, self._dirty)
        self._dirty.clear()
        self.state.last_checkpoint = self._tag

    async def _restore(self) -> None:
        """Load the last checkpoint (of this epoch) and the partition states it covers."""
        definition = self._definition
        source = self._handler.source
        start = CheckpointTag.start(not source.all_streams, source.source_streams)
        snapshot = Snapshot(start)
        if self._checkpoints_enabled:
            snapshot = await self._checkpoints.restore(start, source.by_streams or source.by_custom_partitions)
            if snapshot.tag is not start:  # found one
                self.state.last_checkpoint = snapshot.tag
        self._tag = snapshot.tag
        self._shared = snapshot.shared
        self.state.states = dict(snapshot.states)
        self.state.results = dict(snapshot.results)
        self.state.position = self._tag
        self._writer = OutputWriter(
            self._core, definition.name, definition.projection_id, definition.epoch, definition.version,
            stream_based=not source.all_streams, recovery_until=self._core.head_position(),
            track_emitted=definition.config.track_emitted_streams and definition.config.emit_enabled,
            run_as=self._run_as)
        loaded = await self._handler.load(snapshot.states, snapshot.results, snapshot.shared,
                                          emit_enabled=self._emit_allowed)
        self.state.states.update({p: s for p, s in loaded.items() if s is not None})

    @property
    def _emit_allowed(self) -> bool:
        return self._definition.config.emit_enabled and self._definition.mode != TRANSIENT
