"""Map an HTTP status to the client's error hierarchy."""
from __future__ import annotations

import http.client
from typing import Collection, Optional, Type

from ..errors import (AccessDenied, BadRequest, EventStoreError, HttpError, ServerError,
                      StreamDeleted, StreamNotFound, Timeout, WrongExpectedVersion)
from . import media
from .http import Response

MAX_MESSAGE_LENGTH = 1000


def server_message(response: Response) -> str:
    """3.x-5.x put the explanation in the reason phrase, 20+ in a text/plain body."""
    media_type = response.media_type
    if response.body and (media_type.startswith("text/") or not media_type):
        text = response.body.decode("utf-8", "replace").strip()
        # 3.x sends "{}" as the text body of some 404s/307s: not a message.
        if text and text not in ("{}", "[]"):
            return text[:MAX_MESSAGE_LENGTH]
    return response.reason or http.client.responses.get(response.status, "HTTP error")


def _int_or_none(value: Optional[str]) -> Optional[int]:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def error_for(response: Response, not_found: Type[StreamNotFound] = StreamNotFound) -> EventStoreError:
    status = response.status
    message = server_message(response)
    details = dict(status=status, request=response.describe_request(), reason=response.reason)
    if status == 400:
        current = response.header(*media.CURRENT_VERSION_HEADERS)
        if current is not None or "wrong expected" in message.lower():
            return WrongExpectedVersion(message, current_version=_int_or_none(current), **details)
        return BadRequest(message, **details)
    if status == 401:
        return AccessDenied(message, **details)
    if status == 404:
        return not_found(message, **details)
    if status == 408:
        return Timeout(message, status=status, request=details["request"])
    if status == 410:
        return StreamDeleted(message, **details)
    if status >= 500:
        return ServerError(message, **details)
    return HttpError(message, **details)


def raise_for_status(response: Response, expected: Collection[int],
                     not_found: Type[StreamNotFound] = StreamNotFound) -> None:
    if response.status not in expected:
        raise error_for(response, not_found)
