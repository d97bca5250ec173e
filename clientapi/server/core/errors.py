"""Domain errors of the node's core. The HTTP layer maps each to the real server's status."""
from __future__ import annotations

from typing import Optional


class CoreError(Exception):
    """Base of every refusal the core makes."""


class WrongExpectedVersion(CoreError):
    """400 `Wrong expected EventNumber`, with ES-CurrentVersion."""

    def __init__(self, current_version: int, message: str = "Wrong expected EventNumber"):
        super().__init__(message)
        self.current_version = current_version


class StreamNotFound(CoreError):
    """404: never existed, or soft-deleted."""


class EventNotFound(CoreError):
    """404: the stream exists but not that event."""


class StreamDeleted(CoreError):
    """410: hard-deleted (tombstoned)."""


class AccessDenied(CoreError):
    """401: not authenticated or not allowed."""


class BadRequest(CoreError):
    """400 with the real server's text."""


class NotFound(CoreError):
    """404 for things that are not streams (users, subscriptions, projections)."""


class Conflict(CoreError):
    """409: already exists."""


class ReadTooBig(CoreError):
    """500 `Read size too big, should be less than 4096 items`."""

    def __init__(self, message: str = "Read size too big, should be less than 4096 items"):
        super().__init__(message)


def message_of(error: Exception, default: Optional[str] = None) -> str:
    return str(error) or (default or type(error).__name__)
