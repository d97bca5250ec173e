"""The documents the management endpoints return (digest §12.2, §12.4), built from a
projection's definition and run state. Field order follows the real server's."""
from __future__ import annotations

from typing import Optional
from urllib.parse import quote

from .definition import ProjectionDefinition
from .handlers import SourceSpec
from .streams import default_result_stream
from .subsystem import Projection


def _escape_stream(stream: str) -> str:
    return quote(stream, safe="-_.~")


def statistics_document(projection: Projection, base_url: str, head_position: int) -> dict:
    definition = projection.definition
    run = projection.run
    url = f"{base_url}/projection/{definition.name}"
    never_ran = not run.started
    position = run.position.describe() if run.position is not None else ""
    if never_ran and definition.is_system:
        position = "C:0/P:-1"
    document: dict = {
        "coreProcessingTime": int(run.core_processing_ms),
        "version": definition.version,
        "epoch": definition.epoch,
        "effectiveName": definition.name,
        "writesInProgress": 0,
        "readsInProgress": 0,
        "partitionsCached": max(len(run.states), 1) if run.started or definition.is_system else 0,
        "status": run.status,
        "stateReason": run.reason,
        "name": definition.name,
        "mode": definition.mode,
        "position": position,
        "progress": run.progress(head_position),
    }
    last_checkpoint = _last_checkpoint_text(projection, position)
    if last_checkpoint is not None:
        document["lastCheckpoint"] = last_checkpoint
    document.update({
        "eventsProcessedAfterRestart": run.events_processed,
        "statusUrl": url,
        "stateUrl": f"{url}/state",
        "resultUrl": f"{url}/result",
        "queryUrl": f"{url}/query%3Fconfig=yes",
    })
    if run.source is not None and run.source.produces_results:
        result_stream = run.source.result_stream_name or default_result_stream(definition.name)
        document["resultStreamUrl"] = f"{base_url}/streams/{_escape_stream(result_stream)}"
    document.update({
        "enableCommandUrl": f"{url}/command/enable",
        "disableCommandUrl": f"{url}/command/disable",
        "checkpointStatus": "",
        "bufferedEvents": 0,
        "writePendingEventsBeforeCheckpoint": 0,
        "writePendingEventsAfterCheckpoint": 0,
    })
    return document


def _last_checkpoint_text(projection: Projection, position: str) -> Optional[str]:
    run = projection.run
    if run.last_checkpoint is not None:
        return run.last_checkpoint.describe()
    if projection.definition.is_system:
        return position
    return None


def query_config_document(definition: ProjectionDefinition, source: Optional[SourceSpec]) -> dict:
    """`GET /projection/{name}/query?config=yes`: false, 0 and null values left out."""
    document: dict = {
        "msgTypeId": 300,
        "name": definition.name,
        "query": definition.query,
        "emitEnabled": definition.config.emit_enabled,
        "trackEmittedStreams": definition.config.track_emitted_streams,
        "checkpointsEnabled": definition.checkpoints_enabled,
        "type": definition.mode,
    }
    if source is not None:
        document["definition"] = _definition_document(source)
        document["outputConfig"] = {"resultStreamName": source.result_stream_name
                                    or default_result_stream(definition.name)}
    return _without_empty(document)


def _definition_document(source: SourceSpec) -> dict:
    return _without_empty({
        "allEvents": source.events is None,
        "allStreams": source.all_streams,
        "byStreams": source.by_streams,
        "byCustomPartitions": source.by_custom_partitions,
        "categories": list(source.categories),
        "events": sorted(source.events) if source.events is not None else [],
        "streams": list(source.streams),
        "options": _without_empty({
            "resultStreamName": source.result_stream_name,
            "partitionResultStreamNamePattern": source.partition_result_stream_name_pattern,
            "reorderEvents": source.reorder_events,
            "processingLag": source.processing_lag,
            "isBiState": source.is_bi_state,
            "definesStateTransform": source.defines_state_transform,
            "producesResults": source.produces_results,
            "definesFold": source.defines_fold,
            "handlesDeletedNotifications": source.handles_deleted,
            "includeLinks": source.include_links,
        }),
    })


def _without_empty(document: dict) -> dict:
    return {k: v for k, v in document.items() if v not in (False, 0, None, "", [], {})}
