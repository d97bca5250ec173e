"""The standard (system) projections, in Python: `$streams`, `$stream_by_category`,
`$by_category`, `$by_event_type` and `$by_correlation_id`.

They read the whole log like `fromAll()` and only emit: links into `$ce-`, `$et-`, `$bc-`
and `$streams`, and `$@` stream references into `$category-`. They keep no state.
"""
from __future__ import annotations

import json
from typing import Callable, Optional

from ..core.model import LINK_EVENT_TYPE
from .handlers import BatchOutcome, Emission, ProjectionFault, SourceEvent, SourceSpec
from .streams import CategoryRule, deleted_stream_of

STREAM_REFERENCE_EVENT_TYPE = "$@"
DEFAULT_CATEGORY_SOURCE = "first\n-"
DEFAULT_CORRELATION_SOURCE = '{"correlationIdProperty":"$correlationId"}'

Rule = Callable[[SourceEvent], Optional[Emission]]


def _link_target(event: SourceEvent) -> str:
    return f"{event.event_number}@{event.stream_id}"


def _by_category(source: str) -> Rule:
    rule = CategoryRule(source or DEFAULT_CATEGORY_SOURCE)

    def emit(event: SourceEvent) -> Optional[Emission]:
        deleted = deleted_stream_of(event.stream_id, event.event_type, event.data)
        original = deleted[0] if deleted else event.stream_id
        category = rule.category_of(original)
        if category is None:
            return None
        target = event.data if event.event_type == LINK_EVENT_TYPE else _link_target(event)
        extra: dict = {"$o": original}
        if deleted:
            extra["$deleted"] = -1
        return Emission(0, "$ce-" + category, LINK_EVENT_TYPE, target, False, extra, user_emitted=False)

    return emit


def _by_event_type(source: str) -> Rule:
    def emit(event: SourceEvent) -> Optional[Emission]:
        if event.event_type == LINK_EVENT_TYPE:
            return None
        deleted = deleted_stream_of(event.stream_id, event.event_type, event.data)
        if deleted:
            return Emission(0, "$et-$deleted", LINK_EVENT_TYPE, f"{event.event_number}@{deleted[0]}", False,
                            {"$deleted": -1}, user_emitted=False)
        return Emission(0, "$et-" + event.event_type, LINK_EVENT_TYPE, _link_target(event), False,
                        None, user_emitted=False)

    return emit


def _streams(source: str) -> Rule:
    def emit(event: SourceEvent) -> Optional[Emission]:
        if event.event_number != 0:
            return None
        return Emission(0, "$streams", LINK_EVENT_TYPE, _link_target(event), False, None, user_emitted=False)

    return emit


def _stream_by_category(source: str) -> Rule:
    rule = CategoryRule(source or DEFAULT_CATEGORY_SOURCE)

    def emit(event: SourceEvent) -> Optional[Emission]:
        if event.event_number != 0:
            return None
        category = rule.category_of(event.stream_id)
        if category is None:
            return None
        return Emission(0, "$category-" + category, STREAM_REFERENCE_EVENT_TYPE, event.stream_id, False,
                        None, user_emitted=False)

    return emit


def _correlation_property(source: str) -> str:
    if not (source or "").strip():
        return "$correlationId"
    try:
        value = json.loads(source)["correlationIdProperty"]
    except (ValueError, KeyError, TypeError):
        value = None
    if not isinstance(value, str):
        raise ValueError("Could not parse projection source. Please make sure the source is a valid JSON "
                         "string with a property: 'correlationIdProperty' having a string value")
    return value


def _by_correlation_id(source: str) -> Rule:
    property_name = _correlation_property(source)

    def emit(event: SourceEvent) -> Optional[Emission]:
        if event.event_type == LINK_EVENT_TYPE:
            return None
        try:
            metadata = json.loads(event.metadata) if event.metadata else None
        except ValueError:
            return None
        correlation_id = metadata.get(property_name) if isinstance(metadata, dict) else None
        if not isinstance(correlation_id, str):
            return None
        return Emission(0, "$bc-" + correlation_id, LINK_EVENT_TYPE, _link_target(event), False,
                        {"$eventTimestamp": event.timestamp}, user_emitted=False)

    return emit


# name -> (rule factory, default source text, reads link records too)
STANDARD_PROJECTIONS: dict[str, tuple[Callable[[str], Rule], str, bool]] = {
    "$streams": (_streams, "", True),
    "$stream_by_category": (_stream_by_category, DEFAULT_CATEGORY_SOURCE, True),
    "$by_category": (_by_category, DEFAULT_CATEGORY_SOURCE, True),
    "$by_event_type": (_by_event_type, "", False),
    "$by_correlation_id": (_by_correlation_id, DEFAULT_CORRELATION_SOURCE, True),
}


class NativeProjectionHandler:
    """A standard projection behind the same interface as a JavaScript one."""

    def __init__(self, name: str, source_text: str):
        factory, _default, include_links = STANDARD_PROJECTIONS[name]
        try:
            self._rule = factory(source_text)
        except ValueError as error:
            raise ProjectionFault(str(error)) from None
        self.source = SourceSpec(all_streams=True, include_links=include_links, defines_fold=False)

    async def load(self, states: dict, results: dict, shared: Optional[str], **_ignored) -> dict:
        return {}

    async def handle(self, events: list[SourceEvent]) -> BatchOutcome:
        outcome = BatchOutcome(handled=len(events))
        for index, event in enumerate(events):
            emission = self._rule(event)
            if emission is not None:
                outcome.emits.append(Emission(index, emission.stream, emission.event_type, emission.data,
                                              emission.is_json, emission.metadata, user_emitted=False))
        return outcome

    async def result_of(self, partition: str) -> Optional[str]:
        return None

    def close(self) -> None:
        pass
