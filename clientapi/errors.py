"""Every error the client raises (or hands to `on_failed`), in one hierarchy.

    EventStoreError
    ├── UsageError (also RuntimeError)        blocking call inside a running event loop
    ├── AppendTooLarge (also ValueError)      batch refused before anything was sent
    ├── HttpError                             the server answered with an error status
    │   ├── WrongExpectedVersion              400 + ES-CurrentVersion (concurrency conflict)
    │   │   └── StreamAlreadyExists           create_stream on an existing stream
    │   ├── BadRequest                        other 400s (validation)
    │   ├── AccessDenied                      401 (not authenticated *or* not allowed)
    │   ├── StreamNotFound                    404 (never existed, or soft-deleted)
    │   │   └── EventNotFound                 404 on a single event read
    │   ├── StreamDeleted                     410 (hard-deleted)
    │   └── ServerError                       5xx
    ├── ConnectionFailure                     could not reach the server (refused, DNS, TLS)
    ├── Timeout                               no complete answer in time
    └── ProtocolError                         the answer is not what the API promises

Every error has `status` (HTTP status or None) and `message` (the server's own words:
a text body when there is one, else the reason phrase). Messages never contain
credentials: requests are described by method and path only.
"""
from __future__ import annotations

from typing import Optional

__all__ = [
    "EventStoreError", "UsageError", "AppendTooLarge", "HttpError", "WrongExpectedVersion",
    "StreamAlreadyExists", "BadRequest", "AccessDenied", "StreamNotFound", "EventNotFound",
    "StreamDeleted", "ServerError", "ConnectionFailure", "Timeout", "ProtocolError",
]


class EventStoreError(Exception):
    """Base of everything this package raises on purpose."""

    def __init__(self, message: str, *, status: Optional[int] = None,
                 request: Optional[str] = None) -> None:
        self.message = message
        self.status = status
        self.request = request  # "METHOD /path", never headers or credentials
        super().__init__(message)

    def __str__(self) -> str:
        parts = []
        if self.status is not None:
            parts.append(str(self.status))
        parts.append(self.message or type(self).__name__)
        text = " ".join(parts)
        if self.request:
            text += " ({})".format(self.request)
        return text

    def __repr__(self) -> str:
        return "{}({!r}, status={!r})".format(type(self).__name__, self.message, self.status)


class UsageError(EventStoreError, RuntimeError):
    """The client was used in a way that cannot work (e.g. a blocking call inside a running loop)."""


class AppendTooLarge(EventStoreError, ValueError):
    """The batch is larger than the server accepts; nothing was sent."""

    def __init__(self, message: str, *, size: int, limit: int) -> None:
        super().__init__(message)
        self.size = size
        self.limit = limit


class HttpError(EventStoreError):
    """The server answered with a status the operation does not expect."""

    def __init__(self, message: str, *, status: Optional[int] = None,
                 request: Optional[str] = None, reason: Optional[str] = None) -> None:
        super().__init__(message, status=status, request=request)
        self.reason = reason


class WrongExpectedVersion(HttpError):
    """Concurrency conflict. `current_version` is the stream's last event number as the
    server reported it (-1 = no stream), or None when the server did not say (3.x deletes)."""

    def __init__(self, message: str, *, status: Optional[int] = None,
                 request: Optional[str] = None, reason: Optional[str] = None,
                 current_version: Optional[int] = None) -> None:
        super().__init__(message, status=status, request=request, reason=reason)
        self.current_version = current_version

    def __str__(self) -> str:
        text = super().__str__()
        if self.current_version is not None:
            text += "; current version {}".format(self.current_version)
        return text


class StreamAlreadyExists(WrongExpectedVersion):
    """`create_stream` found the stream already there."""


class BadRequest(HttpError):
    """400 that is not a concurrency conflict: the server rejected the request's content."""


class AccessDenied(HttpError):
    """401: missing or wrong credentials, or the user may not do this (the API never sends 403)."""


class StreamNotFound(HttpError):
    """404: the stream never existed or was soft-deleted."""


class EventNotFound(StreamNotFound):
    """404 on a single-event read: no such event (or no such stream; the server does not say which)."""


class StreamDeleted(HttpError):
    """410: the stream was hard-deleted and can never be used again."""


class ServerError(HttpError):
    """5xx: the server failed (timeouts inside the server, read too big, not ready...)."""


class ConnectionFailure(EventStoreError):
    """The server could not be reached: refused, unresolvable, TLS handshake or certificate failure."""


class Timeout(EventStoreError):
    """No complete response within the configured timeout."""


class ProtocolError(EventStoreError):
    """The response is not valid for the API: bad JSON, unexpected content type or shape,
    or the connection was cut before the response was complete."""
