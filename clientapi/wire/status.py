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
    request = response.describe_request()
    kind: Type[HttpError] = HttpError
    if status == 400:
        current = response.header(*media.CURRENT_VERSION_HEADERS)
        if current is not None or "wrong expected" in message.lower():
            return WrongExpectedVersion(message, status=status, request=request, reason=response.reason,
                                        current_version=_int_or_none(current))
        kind = BadRequest
    elif status == 401:
        kind = AccessDenied
    elif status == 404:
        kind = not_found
    elif status == 408:
        return Timeout(message, status=status, request=request)
    elif status == 410:
        kind = StreamDeleted
    elif status >= 500:
        kind = ServerError
    return kind(message, status=status, request=request, reason=response.reason)


def raise_for_status(response: Response, expected: Collection[int],
                     not_found: Type[StreamNotFound] = StreamNotFound) -> None:
    if response.status not in expected:
        raise error_for(response, not_found)
