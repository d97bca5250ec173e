"""The projections subsystem: the projections a node knows, their lifecycle and commands.

Definitions are kept in the log (see registry); transient projections only in memory.
Mode "none" runs nothing (and the HTTP layer answers 404); "system" runs only the standard
projections; "all" runs everything.
"""
from __future__ import annotations

import asyncio
import uuid
from typing import Optional

from ..core.errors import Conflict, CoreError, NotFound
from ..core.model import ANONYMOUS, SYSTEM, Principal
from .definition import CONTINUOUS, JS_HANDLER, ONE_TIME, TRANSIENT, ProjectionConfig, ProjectionDefinition
from .handlers import ProjectionFault, SourceSpec
from .native import STANDARD_PROJECTIONS, NativeProjectionHandler
from .readers import LogTail, read_whole_stream
from .registry import ProjectionRegistry, delete_stream
from .runner import STOP_ABORT, STOP_DISABLE, ProjectionRunner, RunState
from .streams import checkpoint_stream, emitted_streams_stream, partition_checkpoint_stream, partitions_stream
from .writer import read_tracked_streams

MODES = ("none", "system", "all")


class OperationFailed(CoreError):
    """The real server's 500 for refused projection operations (text body = the reason)."""


class Projection:
    """A projection the node knows: its definition, what it is doing, and its runner."""

    def __init__(self, definition: ProjectionDefinition):
        self.definition = definition
        self.run = RunState()
        self.runner: Optional[ProjectionRunner] = None
        self.lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def is_running(self) -> bool:
        return self.runner is not None and not self.runner.finished

    @property
    def status(self) -> str:
        return self.run.status


async def _make_handler(definition: ProjectionDefinition):
    if definition.is_system:
        return NativeProjectionHandler(definition.name, definition.query)
    if definition.handler_type.upper() != JS_HANDLER:
        raise ProjectionFault(f"Unknown handler type: {definition.handler_type}")
    from .js_runtime import JsProjectionHandler  # V8 is loaded only when a JS projection runs
    return await JsProjectionHandler.compile(definition.query,
                                             timeout_ms=definition.config.projection_execution_timeout)


class ProjectionsSubsystem:
    def __init__(self, core, mode: str = "none", start_standard: bool = False):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.core = core
        self.mode = mode
        self.start_standard = start_standard
        self._projections: dict[str, Projection] = {}
        self._registry = ProjectionRegistry(core)
        self._registry_lock = asyncio.Lock()
        self._log_tail = LogTail(core)
        self._started = False

    @property
    def enabled(self) -> bool:
        """False in mode "none": the node then has no projections endpoints."""
        return self.mode != "none"

    # --- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        if not self.enabled:
            return
        for definition in await self._registry.load():
            self._projections[definition.name] = Projection(definition)
        await self._create_standard_projections()
        self._started = True
        for projection in self._projections.values():
            if projection.definition.enabled:
                self._launch(projection)

    async def stop(self) -> None:
        self._started = False
        await asyncio.gather(*(self._stop_runner(p, STOP_DISABLE) for p in self._projections.values()),
                             return_exceptions=True)

    async def restart(self) -> None:
        """Stop every runner (with a checkpoint) and start the enabled projections again."""
        await self.stop()
        self._started = True
        for projection in self._projections.values():
            projection.run = RunState()
            if projection.definition.enabled:
                self._launch(projection)

    def _may_run(self, definition: ProjectionDefinition) -> bool:
        return self._started and (self.mode == "all" or (self.mode == "system" and definition.is_system))

    def _launch(self, projection: Projection) -> None:
        if not self._may_run(projection.definition) or projection.is_running:
            return
        projection.run.status = "Starting"  # until the runner has compiled and loaded its checkpoint
        projection.run.reason = ""
        projection.runner = ProjectionRunner(self.core, projection.definition, _make_handler, projection.run,
                                             self._log_tail)
        projection.runner.start()

    async def _stop_runner(self, projection: Projection, how: str) -> None:
        runner = projection.runner
        if runner is None:
            return
        await runner.stop(how)
        projection.runner = None
        if projection.run.status == "Running":
            projection.run.status = "Stopped"

    # --- registry --------------------------------------------------------------------
    async def _create_standard_projections(self) -> None:
        for name, (_factory, source_text, _links) in STANDARD_PROJECTIONS.items():
            if name in self._projections:
                continue
            definition = ProjectionDefinition(
                name=name, mode=CONTINUOUS, query=source_text, handler_type=f"native:{name}",
                enabled=self.start_standard, checkpoints_enabled=True,
                projection_id=self._registry.next_id(), run_as=SYSTEM,
                config=ProjectionConfig(emit_enabled=True))
            await self._register(definition)

    async def _register(self, definition: ProjectionDefinition) -> Projection:
        await self._registry.register(definition)
        projection = self._projections[definition.name] = Projection(definition)
        return projection

    # --- queries ---------------------------------------------------------------------------
    def list(self, kind: str = "any") -> list[Projection]:
        """kind: any, all-non-transient, onetime, continuous, transient."""
        wanted = {"onetime": (ONE_TIME,), "continuous": (CONTINUOUS,), "transient": (TRANSIENT,),
                  "all-non-transient": (ONE_TIME, CONTINUOUS)}.get(kind)
        return [p for p in self._projections.values() if wanted is None or p.definition.mode in wanted]

    def get(self, name: str) -> Projection:
        projection = self._projections.get(name)
        if projection is None:
            raise NotFound(f"Projection {name} not found")
        return projection

    def state_of(self, name: str, partition: str = "") -> tuple[Optional[str], Optional[dict]]:
        """(state JSON text or None, checkpoint tag document for ES-Position, None when the
        projection is not running)."""
        projection = self.get(name)
        run = projection.run
        if run.status not in ("Running", "Completed") or run.position is None:
            return None, None
        return run.states.get(partition), self._position_document(projection)

    def result_of(self, name: str, partition: str = "") -> tuple[Optional[str], Optional[dict]]:
        projection = self.get(name)
        run = projection.run
        if run.status not in ("Running", "Completed") or run.position is None:
            return None, None
        if run.source is not None and run.source.produces_results:
            return run.results.get(partition), self._position_document(projection)
        return run.states.get(partition), self._position_document(projection)

    async def source_of(self, name: str) -> Optional[SourceSpec]:
        """What the query reads and produces (compiled now when it has not run yet); None
        when the query does not compile."""
        projection = self.get(name)
        if projection.run.source is not None:
            return projection.run.source
        try:
            handler = await _make_handler(projection.definition)
        except ProjectionFault:
            return None
        handler.close()
        return handler.source

    @staticmethod
    def _position_document(projection: Projection) -> dict:
        from .tags import version_tag
        definition = projection.definition
        return projection.run.position.as_metadata(
            version_tag(definition.projection_id, definition.epoch, definition.version))

    # --- commands --------------------------------------------------------------------------
    async def create(self, name: Optional[str], mode: str, query: str, *, enabled: bool = True,
                     emit: bool = False, checkpoints: Optional[bool] = None,
                     track_emitted_streams: bool = False, handler_type: str = JS_HANDLER,
                     run_as: Principal = ANONYMOUS) -> Projection:
        if mode not in (CONTINUOUS, ONE_TIME, TRANSIENT):
            raise ValueError(f"unknown projection mode {mode!r}")
        if not name:
            if mode == CONTINUOUS:
                raise OperationFailed("Projection name is required")
            name = str(uuid.uuid4())
        if handler_type.lower().startswith("native:"):
            raise OperationFailed("Native projections cannot be created")
        if checkpoints is None:
            checkpoints = mode == CONTINUOUS
        async with self._registry_lock:
            if name in self._projections:
                raise Conflict("Conflict")
            definition = ProjectionDefinition(
                name=name, mode=mode, query=query, handler_type=handler_type, enabled=enabled,
                checkpoints_enabled=(mode == CONTINUOUS) or (mode == ONE_TIME and checkpoints),
                projection_id=self._registry.next_id(), run_as=run_as,
                config=ProjectionConfig(emit_enabled=emit, track_emitted_streams=emit and track_emitted_streams))
            projection = await self._register(definition)
        if enabled:
            self._launch(projection)
        return projection

    async def update_query(self, name: str, query: str, emit: Optional[bool] = None) -> None:
        projection = self.get(name)
        async with projection.lock:
            was_running = projection.is_running
            await self._stop_runner(projection, STOP_DISABLE)
            definition = projection.definition
            definition.query = query
            if emit is not None:
                definition.config.emit_enabled = emit
                if not emit:
                    definition.config.track_emitted_streams = False
            definition.version += 1
            await self._registry.save(definition)
            if was_running or definition.enabled:
                self._launch(projection)

    async def enable(self, name: str) -> None:
        projection = self.get(name)
        async with projection.lock:
            definition = projection.definition
            if not definition.enabled:
                definition.enabled = True
                definition.version += 1
                await self._registry.save(definition)
            if not projection.is_running:
                await self._stop_runner(projection, STOP_ABORT)  # a finished run's leftovers
                projection.run = RunState()
                self._launch(projection)

    async def disable(self, name: str) -> None:
        await self._stop(name, STOP_DISABLE)

    async def abort(self, name: str) -> None:
        await self._stop(name, STOP_ABORT)

    async def _stop(self, name: str, how: str) -> None:
        projection = self.get(name)
        async with projection.lock:
            definition = projection.definition
            if definition.enabled:
                definition.enabled = False
                definition.version += 1
                await self._registry.save(definition)
            await self._stop_runner(projection, how)
            if projection.run.status == "Completed":
                projection.run.status = "Stopped"

    async def reset(self, name: str) -> None:
        """Start again from the beginning of the log in a new epoch (old checkpoints no longer count)."""
        projection = self.get(name)
        async with projection.lock:
            await self._stop_runner(projection, STOP_ABORT)
            definition = projection.definition
            definition.version += 1
            definition.epoch = definition.version
            await self._registry.save(definition)
            projection.run = RunState()
            if definition.enabled:
                self._launch(projection)

    def config_of(self, name: str) -> ProjectionConfig:
        return self.get(name).definition.config

    async def update_config(self, name: str, config: ProjectionConfig) -> None:
        projection = self.get(name)
        async with projection.lock:
            definition = projection.definition
            definition.config = config
            definition.version += 1
            await self._registry.save(definition)

    async def delete(self, name: str, *, delete_checkpoint_stream: bool = False,
                     delete_state_stream: bool = False, delete_emitted_streams: bool = False) -> None:
        projection = self.get(name)
        async with projection.lock:
            definition = projection.definition
            if definition.is_system:
                raise OperationFailed("Cannot delete a system projection")
            if projection.is_running:
                raise OperationFailed("Cannot delete a projection that hasn't been stopped or faulted.")
            await self._stop_runner(projection, STOP_ABORT)
            if definition.is_persisted:
                if delete_checkpoint_stream and definition.checkpoints_enabled:
                    for stream in await self._checkpoint_streams(definition.name):
                        await delete_stream(self.core, stream)
                if delete_emitted_streams and definition.config.track_emitted_streams:
                    tracking = emitted_streams_stream(definition.name)
                    for stream in await read_tracked_streams(self.core, tracking):
                        await delete_stream(self.core, stream)
                    await delete_stream(self.core, tracking)
            await self._registry.unregister(definition)
            del self._projections[name]

    async def _checkpoint_streams(self, name: str) -> list[str]:
        streams = [checkpoint_stream(name)]
        for record in await read_whole_stream(self.core, partitions_stream(name)):
            partition = record.data.decode("utf-8", errors="replace")
            streams.append(partition_checkpoint_stream(name, partition))
        streams.append(partitions_stream(name))
        return streams
