"""What every projection handler (JavaScript or built-in) consumes and produces.

A runner reads the log, turns the records its source selects into `SourceEvent`s and hands
them to a handler in batches; the handler answers with a `BatchOutcome`: the events to
emit, the results that changed and the partition states it touched. Handlers never write
to the log themselves, so the runner alone decides how outputs become durable.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Optional, Protocol


@dataclass(frozen=True)
class SourceSpec:
    """Which records a projection reads and what it does with them (the parsed definition)."""

    all_streams: bool = False
    streams: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    events: Optional[frozenset[str]] = None  # None: every event type
    by_streams: bool = False
    by_custom_partitions: bool = False
    include_links: bool = False
    handles_deleted: bool = False
    produces_results: bool = False
    defines_state_transform: bool = False
    defines_fold: bool = True
    is_bi_state: bool = False
    reorder_events: bool = False
    processing_lag: int = 0
    result_stream_name: Optional[str] = None
    partition_result_stream_name_pattern: Optional[str] = None

    @property
    def source_streams(self) -> tuple[str, ...]:
        """The streams read when the source is not the whole log (categories as `$ce-`)."""
        return self.streams + tuple("$ce-" + c for c in self.categories)


@dataclass(frozen=True)
class SourceEvent:
    """One record as a projection sees it.

    `stream_id`/`event_number` are the event's own coordinates (the target of a resolved
    link); `position_stream_id`/`position_event_number` where it was read; `position` is the
    log position of the record read, which orders everything and is what checkpoints hold.
    `deleted_partition` is set on stream-deletion notifications instead of an event.
    """

    position: int
    stream_id: str
    event_number: int
    event_type: str
    event_id: str
    is_json: bool
    data: str
    metadata: str
    position_stream_id: str
    position_event_number: int
    link_metadata: Optional[str] = None
    category: Optional[str] = None
    created: Optional[_dt.datetime] = None  # when the event was written
    deleted_partition: Optional[str] = None
    soft_deleted: bool = False

    @property
    def timestamp(self) -> str:
        """`created` in ISO 8601 with microseconds (formatted only when asked: it is costly)."""
        return self.created.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if self.created is not None else ""


@dataclass(frozen=True)
class Emission:
    """An event a handler wants written, caused by batch item `cause`."""

    cause: int
    stream: str
    event_type: str
    data: str
    is_json: bool
    metadata: Optional[dict] = None  # extra keys merged after the checkpoint tag
    user_emitted: bool = True  # counts for `trackemittedstreams` and needs emit enabled


@dataclass
class BatchOutcome:
    handled: int = 0
    emits: list[Emission] = field(default_factory=list)
    results: list[tuple[int, str, Optional[str]]] = field(default_factory=list)  # (cause, partition, json|None)
    created: list[tuple[int, str]] = field(default_factory=list)  # (cause, partition)
    states: dict[str, Optional[str]] = field(default_factory=dict)  # partition -> JSON text
    shared: Optional[str] = None
    fault: Optional[str] = None
    logs: list[str] = field(default_factory=list)


class ProjectionFault(Exception):
    """The projection cannot go on; the message becomes its `stateReason`."""


class ProjectionHandler(Protocol):
    source: SourceSpec

    async def load(self, states: dict[str, str], results: dict[str, Optional[str]],
                   shared: Optional[str]) -> dict[str, Optional[str]]:
        """Restore persisted state; returns the states of the partitions it initialised."""

    async def handle(self, events: list[SourceEvent]) -> BatchOutcome:
        """Process events in order; stops at the first fault (reported in the outcome)."""

    async def result_of(self, partition: str) -> Optional[str]:
        """The current result of a partition (the state when there is no transform)."""

    def close(self) -> None:
        ...
