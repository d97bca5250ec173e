"""Builders for every request the client sends. Pure: arguments in, `Request` out."""
from __future__ import annotations

import uuid
from typing import Dict, List, Optional, Tuple
from urllib.parse import quote

from ..events import WriteEvent
from . import media
from .http import Request
from .encoding import DEFAULT_MAX_APPEND_SIZE, dumps, encode_events

__all__ = ["stream_path", "encode_position", "append_request", "delete_request",
           "stream_page_request", "event_request", "metadata_read_request",
           "metadata_write_request", "all_page_request", "EMBED", "TEXT_EMBED"]

# `body` gives JSON payloads as text in one request per page; non-JSON payloads are only
# embedded at `tryharder`, which the reader asks for when a page holds such events.
EMBED = "body"
TEXT_EMBED = "tryharder"
ALL_PATH = "/streams/%24all"

Position = Tuple[int, int]  # (commit, prepare)


def stream_path(stream_id: str, *parts: str) -> str:
    # RFC 3986 data escaping, as the server does in its own links ($ -> %24, / -> %2F).
    # "." and ".." stay unescaped by quote(), and URL normalisation (curl's included)
    # would remove them as dot segments: escape their dots too.
    escaped = stream_id.replace(".", "%2E") if stream_id in (".", "..") else quote(stream_id, safe="")
    return "/streams/" + escaped + "".join("/" + part for part in parts)


def encode_position(position: Position) -> str:
    """32 hex digits: commit position then prepare position, 16 digits each."""
    commit, prepare = position
    return "{:016X}{:016X}".format(commit, prepare)


def _headers(require_leader: bool, **extra: str) -> Dict[str, str]:
    headers = dict(extra)
    if require_leader:
        for name in media.REQUIRE_LEADER_HEADERS:
            headers[name] = "True"
    return headers


def append_request(stream_id: str, events: List[WriteEvent], expected_version: int, *,
                   require_leader: bool = False,
                   max_append_size: int = DEFAULT_MAX_APPEND_SIZE) -> Request:
    body = encode_events(events, max_append_size)
    headers = _headers(require_leader, **{"Content-Type": media.EVENTS_JSON,
                                          media.EXPECTED_VERSION: str(expected_version)})
    # Event ids travel in the body, so a replay is recognised by the server.
    return Request("POST", stream_path(stream_id), headers=headers, body=body, retryable=True)


def delete_request(stream_id: str, expected_version: int, hard_delete: bool, *,
                   require_leader: bool = False) -> Request:
    headers = _headers(require_leader, **{media.EXPECTED_VERSION: str(expected_version)})
    if hard_delete:
        headers[media.HARD_DELETE] = "True"
    return Request("DELETE", stream_path(stream_id), headers=headers, retryable=False)


def _read_headers(require_leader: bool, accept: str, resolve_links: Optional[bool]) -> Dict[str, str]:
    headers = _headers(require_leader, Accept=accept)
    if resolve_links is not None:
        headers[media.RESOLVE_LINK_TOS] = "True" if resolve_links else "False"
    return headers


def stream_page_request(stream_id: str, start: Optional[int], count: int, forward: bool, *,
                        embed: str = EMBED, resolve_links: bool = True,
                        require_leader: bool = False) -> Request:
    """`start` None = the head (backward only)."""
    if forward:
        parts = (str(start if start is not None else 0), "forward", str(count))
    else:
        parts = ("head" if start is None else str(start), "backward", str(count))
    return Request("GET", stream_path(stream_id, *parts), query="embed=" + embed,
                   headers=_read_headers(require_leader, media.ATOM_JSON, resolve_links))


def event_request(stream_id: str, event_number: int, *, embed: str = EMBED,
                  resolve_links: bool = True, require_leader: bool = False) -> Request:
    number = "head" if event_number == -1 else str(event_number)
    return Request("GET", stream_path(stream_id, number), query="embed=" + embed,
                   headers=_read_headers(require_leader, media.ATOM_JSON, resolve_links))


def metadata_read_request(stream_id: str, *, require_leader: bool = False) -> Request:
    return Request("GET", stream_path(stream_id, "metadata"),
                   headers=_read_headers(require_leader, media.JSON, None))


def metadata_write_request(stream_id: str, metadata: dict, expected_version: int, *,
                           event_id: Optional[uuid.UUID] = None,
                           require_leader: bool = False) -> Request:
    event_id = event_id or uuid.uuid4()
    body = dumps([{"eventId": str(event_id), "eventType": "$metadata", "data": metadata}])
    headers = _headers(require_leader, **{"Content-Type": media.EVENTS_JSON,
                                          media.EXPECTED_VERSION: str(expected_version)})
    return Request("POST", stream_path(stream_id, "metadata"), headers=headers,
                   body=body.encode("utf-8"), retryable=True)


def all_page_request(position: Optional[Position], count: int, forward: bool, *,
                     embed: str = EMBED, resolve_links: bool = False,
                     require_leader: bool = False) -> Request:
    """`position` None = the end of the log (backward only)."""
    where = "head" if position is None else encode_position(position)
    path = "{}/{}/{}/{}".format(ALL_PATH, where, "forward" if forward else "backward", count)
    # The server's default for $all is not to resolve links; only say so when asked to.
    return Request("GET", path, query="embed=" + embed,
                   headers=_read_headers(require_leader, media.ATOM_JSON,
                                         True if resolve_links else None))



