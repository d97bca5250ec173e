"""Parsing of stream metadata (`$$X`) and system settings (`$settings`), strict like the real server."""
from __future__ import annotations

import json
from typing import Optional

from .model import STREAM_DELETED_TB, Acl, EventRecord, StreamMetadata

_ACL_KEYS = {"$r": "read", "$w": "write", "$d": "delete", "$mr": "meta_read", "$mw": "meta_write"}
_INT_KEYS = {"$maxCount": "max_count", "$maxAge": "max_age", "$tb": "truncate_before",
             "$cacheControl": "cache_control"}
_POSITIVE_ONLY = {"max_count", "max_age"}  # <= 0 means "not set"

# `$$X` streams keep only their last event visible (the real server's metastream $maxCount of 1).
METASTREAM_METADATA = StreamMetadata(max_count=1)


class _Malformed(ValueError):
    """A reserved key has the wrong JSON type."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _roles(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(role, str) for role in value):
        return tuple(value)
    raise _Malformed("role must be a string or an array of strings")


def parse_acl(value: object) -> Acl:
    """An `$acl` object; raises ValueError when it is not an object of role lists."""
    if not isinstance(value, dict):
        raise _Malformed("$acl must be an object")
    fields = {name: _roles(value[key]) for key, name in _ACL_KEYS.items() if key in value}
    return Acl(**fields)


def parse_metadata_object(raw: object, metastream_version: int) -> StreamMetadata:
    """Interpret a decoded JSON document; a wrongly typed reserved key voids every reserved field."""
    if not isinstance(raw, dict):
        return StreamMetadata(metastream_version=metastream_version)
    try:
        fields: dict = {}
        for key, name in _INT_KEYS.items():
            if key in raw:
                if not _is_int(raw[key]):
                    raise _Malformed(key)
                if name not in _POSITIVE_ONLY or raw[key] > 0:
                    fields[name] = raw[key]
        if "$tmp" in raw and not isinstance(raw["$tmp"], bool):
            raise _Malformed("$tmp")
        if "$acl" in raw:
            fields["acl"] = parse_acl(raw["$acl"])
    except _Malformed:
        return StreamMetadata(raw=raw, metastream_version=metastream_version)
    return StreamMetadata(raw=raw, metastream_version=metastream_version, **fields)


def decode_json(data: bytes) -> Optional[object]:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None


def metadata_from_record(record: Optional[EventRecord]) -> StreamMetadata:
    """Metadata of X from the last record of `$$X` (only JSON-flagged records count)."""
    if record is None:
        return StreamMetadata()
    if not record.is_json:
        return StreamMetadata(metastream_version=record.event_number)
    return parse_metadata_object(decode_json(record.data), record.event_number)


def encode_json(document: dict) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def soft_delete_document() -> bytes:
    return encode_json({"$tb": STREAM_DELETED_TB})


def with_truncate_before(raw: Optional[dict], truncate_before: int) -> bytes:
    """The metadata document `raw` with `$tb` replaced (used when a soft-deleted stream comes back)."""
    document = dict(raw) if isinstance(raw, dict) else {}
    document["$tb"] = truncate_before
    return encode_json(document)


class SystemSettings:
    """Default ACLs from the last event of `$settings`."""

    def __init__(self, user_acl: Optional[Acl] = None, system_acl: Optional[Acl] = None):
        self.user_acl = user_acl or Acl()
        self.system_acl = system_acl or Acl()

    @classmethod
    def from_record(cls, record: Optional[EventRecord]) -> "SystemSettings":
        if record is None:
            return cls()
        document = decode_json(record.data)
        if not isinstance(document, dict):
            return cls()
        return cls(_optional_acl(document.get("$userStreamAcl")),
                   _optional_acl(document.get("$systemStreamAcl")))


def _optional_acl(value: object) -> Optional[Acl]:
    try:
        return parse_acl(value) if value is not None else None
    except ValueError:
        return None
