"""Argument checks shared by every operation: TypeError for a wrong type, ValueError for a
wrong value, always raised before any request exists."""
from __future__ import annotations

from typing import Any, Callable, List, Optional, Tuple

from ..events import WriteEvent

MAX_INT64 = 2 ** 63 - 1
ALL_STREAM = "$all"


def check_int(name: str, value: Any) -> int:
    # bool is an int subclass; True as an event number is always a mistake.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("{} must be an int, not {}".format(name, type(value).__name__))
    if value > MAX_INT64:
        raise ValueError("{} must fit in a signed 64-bit integer".format(name))
    return value


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("{} must be a bool, not {}".format(name, type(value).__name__))
    return value


def check_stream_id(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("stream_id must be a str, not {}".format(type(value).__name__))
    if not value:
        raise ValueError("stream_id must not be empty")
    if value == ALL_STREAM:
        raise ValueError("'$all' is not a stream you can address here; use the "
                         "read_all_events_* methods")
    return value


def check_expected_version(value: Any) -> int:
    value = check_int("expected_version", value)
    # -3 is the server's internal "invalid" marker; below -4 the server answers 400.
    if value < -4 or value == -3:
        raise ValueError("expected_version must be -2 (any), -1 (no stream), -4 (stream exists) "
                         "or an event number >= 0, not {}".format(value))
    return value


def check_event_number(value: Any) -> int:
    value = check_int("event_number", value)
    if value < -1:
        raise ValueError("event_number must be >= 0, or -1 for the last event")
    return value


def check_start_position(value: Any) -> int:
    value = check_int("start_position", value)
    if value < -1:
        raise ValueError("start_position must be >= 0, or -1 for the end of the stream")
    return value


def check_count(value: Any) -> int:
    value = check_int("count", value)
    if value < 1:
        raise ValueError("count must be a positive int, not {}".format(value))
    return value


def check_all_position(prepare_position: Any, commit_position: Any) -> Optional[Tuple[int, int]]:
    """None means the end of the log (-1, -1)."""
    prepare = check_int("prepare_position", prepare_position)
    commit = check_int("commit_position", commit_position)
    if (prepare, commit) == (-1, -1):
        return None
    if prepare < 0 or commit < 0:
        raise ValueError("positions must both be >= 0, or both -1 for the end of the log")
    return commit, prepare


def check_events(events: Any) -> List[WriteEvent]:
    if isinstance(events, WriteEvent):
        return [events]
    if not isinstance(events, (list, tuple)):
        raise TypeError("events must be a WriteEvent or a list of WriteEvent, not {}".format(
            type(events).__name__))
    if not events:
        raise ValueError("events must not be empty (the server rejects an empty batch)")
    for index, event in enumerate(events):
        if not isinstance(event, WriteEvent):
            raise TypeError("events[{}] must be a WriteEvent, not {}".format(
                index, type(event).__name__))
    return list(events)


def check_metadata_document(value: Any) -> dict:
    if not isinstance(value, dict):
        raise TypeError("stream metadata must be a dict (a JSON object), not {}".format(
            type(value).__name__))
    return value


def check_create_metadata(value: Any) -> Any:
    if value is None or isinstance(value, (str, bytes, dict, list)):
        return value
    raise TypeError("metadata must be str, bytes, dict, list or None, not {}".format(
        type(value).__name__))


def check_callback(name: str, value: Any) -> Optional[Callable[[Any], Any]]:
    if value is not None and not callable(value):
        raise TypeError("{} must be callable or None, not {}".format(name, type(value).__name__))
    return value
