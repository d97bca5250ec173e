"""Checkpoint tags: where a projection is in its source, as stored in checkpoint and emitted
event metadata (`$v`, `$c`/`$p` or `$s`) and shown in its statistics (`C:<c>/P:<p>`).

Every projection here reads the log in `$all` order, so the log position of the last record
processed is what resumes it. Stream-based sources also carry `$s` (stream -> event number),
as the real server's tags do, with `$c`/`$p` kept as extra keys.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

SUBSYSTEM_VERSION = 3


def version_tag(projection_id: int, epoch: int, version: int) -> str:
    return f"{projection_id}:{epoch}:{version}:{SUBSYSTEM_VERSION}"


def parse_version_tag(value: object) -> Optional[tuple[int, int]]:
    """(projection id, epoch) from a `$v` value, or None."""
    if not isinstance(value, str):
        return None
    parts = value.split(":")
    if len(parts) < 2:
        return None
    try:
        return int(parts[0]), int(parts[1])
    except ValueError:
        return None


@dataclass
class CheckpointTag:
    position: int = -1  # log position of the last record processed; -1 before the first
    streams: Optional[dict[str, int]] = None  # for stream-based sources

    @classmethod
    def start(cls, stream_based: bool, streams: tuple[str, ...] = ()) -> "CheckpointTag":
        return cls(-1, {s: -1 for s in streams} if stream_based else None)

    def advanced(self, position: int, stream_numbers: dict[str, int]) -> "CheckpointTag":
        """Past `position`, with the given streams' last event numbers (stream sources)."""
        streams = None
        if self.streams is not None:
            streams = {**self.streams, **stream_numbers}
        return CheckpointTag(position, streams)

    def as_metadata(self, version: str) -> dict:
        document: dict = {"$v": version}
        if self.streams is not None:
            document["$s"] = dict(self.streams)
        document["$c"] = max(self.position, 0)
        document["$p"] = self.position
        return document

    @classmethod
    def from_metadata(cls, document: dict) -> Optional["CheckpointTag"]:
        position = document.get("$p")
        if not isinstance(position, int):
            return None
        streams = document.get("$s")
        return cls(position, dict(streams) if isinstance(streams, dict) else None)

    def describe(self) -> str:
        if self.streams is not None:
            return "; ".join(f"{stream}: {number}" for stream, number in self.streams.items())
        return f"C:{max(self.position, 0)}/P:{self.position}"


@dataclass
class EventTag:
    """The tag of the event that caused an emitted event (what its metadata records)."""

    position: int
    stream: str
    event_number: int
    stream_based: bool = False

    def as_metadata(self, version: str) -> dict:
        document: dict = {"$v": version}
        if self.stream_based:
            document["$s"] = {self.stream: self.event_number}
        document["$c"] = self.position
        document["$p"] = self.position
        return document
