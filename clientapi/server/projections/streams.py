"""Names of the streams projections own, and the stream-id rules they apply."""
from __future__ import annotations

import json
from typing import Optional

from ..core.model import STREAM_DELETED_TB

REGISTRY_STREAM = "$projections-$all"
STREAM_DELETED_EVENT_TYPE = "$streamDeleted"
METADATA_EVENT_TYPE = "$metadata"


def definition_stream(name: str) -> str:
    return f"$projections-{name}"


def checkpoint_stream(name: str) -> str:
    return f"$projections-{name}-checkpoint"


def partition_checkpoint_stream(name: str, partition: str) -> str:
    return f"$projections-{name}-{partition}-checkpoint"


def default_result_stream(name: str) -> str:
    return f"$projections-{name}-result"


def partition_result_stream(name: str, partition: str, pattern: Optional[str]) -> str:
    if pattern:
        return pattern.replace("{0}", partition)
    return f"$projections-{name}-{partition}-result"


def partitions_stream(name: str) -> str:
    return f"$projections-{name}-partitions"


def emitted_streams_stream(name: str) -> str:
    return f"$projections-{name}-emittedstreams"


def is_system_stream(stream_id: str) -> bool:
    return stream_id.startswith("$")


def is_metastream(stream_id: str) -> bool:
    return stream_id.startswith("$$")


def seen_by_from_all(stream_id: str) -> bool:
    """`fromAll` skips `$` streams, except the metastreams of ordinary streams."""
    if is_metastream(stream_id):
        return not is_system_stream(stream_id[2:])
    return not is_system_stream(stream_id)


class CategoryRule:
    """Category of a stream id, as `$by_category` and `$stream_by_category` configure it.

    The source text is `first` or `last`, a newline and a one-character separator; a single
    character alone means `last` with that separator. System streams have no category, nor
    do streams whose separator is missing or at index 0.
    """

    def __init__(self, source: str = "first\n-"):
        lines = [line.strip() for line in (source or "").strip().splitlines() if line.strip()]
        if not lines:
            self.use_first, self.separator = True, "-"
        elif len(lines) == 1 and len(lines[0]) == 1:
            self.use_first, self.separator = False, lines[0]
        elif len(lines) == 2 and lines[0] in ("first", "last") and len(lines[1]) == 1:
            self.use_first, self.separator = lines[0] == "first", lines[1]
        else:
            raise ValueError("Invalid category projection source: expected 'first' or 'last', "
                             "a new line and a single separator character")

    def category_of(self, stream_id: str) -> Optional[str]:
        if is_system_stream(stream_id):
            return None
        index = stream_id.find(self.separator) if self.use_first else stream_id.rfind(self.separator)
        return stream_id[:index] if index > 0 else None


def deleted_stream_of(stream_id: str, event_type: str, data: str) -> Optional[tuple[str, bool]]:
    """(deleted stream, soft?) when a record announces a stream deletion, else None.

    A soft delete is metadata whose `$tb` is the deleted marker; a hard delete is the
    `$streamDeleted` tombstone written into the stream itself.
    """
    if is_metastream(stream_id):
        if event_type != METADATA_EVENT_TYPE:
            return None
        try:
            metadata = json.loads(data)
        except ValueError:
            return None
        if isinstance(metadata, dict) and metadata.get("$tb") == STREAM_DELETED_TB:
            return stream_id[2:], True
        return None
    if event_type == STREAM_DELETED_EVENT_TYPE:
        return stream_id, False
    return None
