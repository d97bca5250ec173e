"""Text primitives shared by the renderers: JSON in the real server's layout, timestamps, URL escaping.

The real server writes JSON with 2-space indentation, `": "` between keys and values,
non-ASCII characters as they are, and null properties left out. `json.dumps(indent=2)`
gives exactly that layout; the hot paths splice pre-escaped strings into it instead of
walking dictionaries, so everything here is about producing identical text cheaply.
"""
from __future__ import annotations

import datetime as _dt
import json
from functools import lru_cache
from json.encoder import encode_basestring  # C-accelerated: escapes like the real server
from typing import Any, Optional
from urllib.parse import quote

EMPTY_UPDATED = "0001-01-01T00:00:00Z"  # what an empty page says it was updated at


def json_text(value: Any) -> str:
    """The real server's JSON layout for any document.

    Same text as `json.dumps(value, indent=2, ensure_ascii=False)`, several times faster:
    the standard library drops its C encoder as soon as `indent` is set, and every
    appended event's data goes through here.
    """
    return nested_json(value, "")


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return encode_basestring(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (_INFINITY, -_INFINITY):
            return "Infinity" if value > 0 else "-Infinity"
        return float.__repr__(value)
    return json.dumps(value, ensure_ascii=False)  # anything exotic: let json decide (or refuse)


_INFINITY = float("inf")


def _indented(value: Any, newline: str) -> str:
    """`value` as indented JSON; `newline` is "\n" plus the indentation of its own line."""
    kind = type(value)
    if kind is dict or (kind is not list and isinstance(value, dict)):
        if not value:
            return "{}"
        inner = newline + "  "
        parts: list[str] = []
        append = parts.append
        for key, item in value.items():
            if type(key) is not str:
                key = _scalar(key)  # json turns 1, 1.5, True, None keys into their literals
            item_kind = type(item)
            if item_kind is str:
                append(f"{encode_basestring(key)}: {encode_basestring(item)}")
            elif item_kind is int:
                append(f"{encode_basestring(key)}: {int.__repr__(item)}")
            elif item_kind is dict or item_kind is list or isinstance(item, (dict, list, tuple)):
                append(f"{encode_basestring(key)}: {_indented(item, inner)}")
            else:
                append(f"{encode_basestring(key)}: {_scalar(item)}")
        return "{" + inner + ("," + inner).join(parts) + newline + "}"
    if kind is list or isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        inner = newline + "  "
        return "[" + inner + ("," + inner).join([
            encode_basestring(item) if type(item) is str
            else _indented(item, inner) if isinstance(item, (dict, list, tuple))
            else _scalar(item) for item in value]) + newline + "]"
    return _scalar(value)


def nested_json(value: Any, prefix: str) -> str:
    """`json_text` for a value that sits inside a document at indentation `prefix`."""
    try:
        return _indented(value, "\n" + prefix)
    except RecursionError:
        return _indented_without_recursion(value, "\n" + prefix)


_END = object()


def _indented_without_recursion(value: Any, newline: str) -> str:
    """The same text as `_indented`, with an explicit stack instead of Python's."""
    parts: list[str] = []
    # one frame per open container: [items iterator, its newline, closing bracket, is object, first]
    stack: list[list] = []

    def open_or_write(item: Any, item_newline: str) -> None:
        if isinstance(item, dict):
            if not item:
                parts.append("{}")
            else:
                parts.append("{")
                stack.append([iter(item.items()), item_newline, "}", True, True])
        elif isinstance(item, (list, tuple)):
            if not item:
                parts.append("[]")
            else:
                parts.append("[")
                stack.append([iter(item), item_newline, "]", False, True])
        else:
            parts.append(encode_basestring(item) if type(item) is str else _scalar(item))

    open_or_write(value, newline)
    while stack:
        frame = stack[-1]
        item = next(frame[0], _END)
        if item is _END:
            stack.pop()
            parts.append(frame[1] + frame[2])
            continue
        inner = frame[1] + "  "
        parts.append(inner if frame[4] else "," + inner)
        frame[4] = False
        if frame[3]:
            key, item = item
            if type(key) is not str:
                key = _scalar(key)
            parts.append(encode_basestring(key) + ": ")
        open_or_write(item, inner)
    return "".join(parts)


def quote_string(text: str) -> str:
    """A JSON string literal."""
    return encode_basestring(text)


def iso_timestamp(moment: Optional[_dt.datetime]) -> str:
    """UTC, up to 7 fractional digits with trailing zeros dropped, `Z` suffix."""
    if moment is None:
        return EMPTY_UPDATED
    offset = moment.utcoffset()
    if offset:
        moment = moment.astimezone(_dt.timezone.utc)
    text = moment.isoformat()  # C-fast; "...T12:34:42.289500+00:00" or "...T12:34:42"
    if offset is not None:
        text = text[:-6]
    if moment.microsecond:
        text = text.rstrip("0")
    return text + "Z"


@lru_cache(maxsize=4096)
def escape_stream(stream_id: str) -> str:
    """RFC 3986 data escaping of a stream id in links (`$` -> `%24`, `:` -> `%3A`, ...)."""
    return quote(stream_id, safe="")


def decode_text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


INT32_MAX = (1 << 31) - 1
INT64_MAX = (1 << 63) - 1


def ascii_int(text: str, maximum: int = INT64_MAX) -> Optional[int]:
    """`text` as a non-negative integer of at most `maximum`, or None.

    Only ASCII digits, as the real server's parsers take them: `str.isdigit()` alone also
    says yes to other scripts' digits and superscripts, and `int()` to `_` and signs.
    """
    if not text.isascii() or not text.isdigit():
        return None
    if len(text) > 19 and len(text.lstrip("0")) > 19:  # beyond int64 whatever the digits
        return None
    value = int(text)
    return value if value <= maximum else None


def signed_ascii_int(text: str, minimum: int = -INT64_MAX - 1,
                     maximum: int = INT64_MAX) -> Optional[int]:
    """`ascii_int` with an optional leading sign, within [minimum, maximum]."""
    negative = text[:1] == "-"
    magnitude = ascii_int(text[1:] if text[:1] in "+-" and text else text, INT64_MAX + 1)
    if magnitude is None:
        return None
    value = -magnitude if negative else magnitude
    return value if minimum <= value <= maximum else None


def parse_json_document(text: str) -> Optional[Any]:
    """The parsed value when `text` is a JSON object or array, else None."""
    if not text:
        return None
    first = text.lstrip()[:1]
    if first not in ("{", "["):
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def pretty_json(text: str) -> Optional[str]:
    """`text` re-indented the way the real server formats JSON, or None when it is not JSON."""
    parsed = parse_json_document(text)
    return None if parsed is None else json_text(parsed)
