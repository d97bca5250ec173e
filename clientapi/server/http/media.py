"""Media types and content negotiation (digest §1.3, §1.4, §3).

Pure functions; results are cached per header value because clients send the same
Accept/Content-Type on every request and negotiation sits on the hot path.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Optional

STREAMDESC_JSON = "application/vnd.eventstore.streamdesc+json"
KURRENT_STREAMDESC_JSON = "application/vnd.kurrent.streamdesc+json"
ATOM_XML = "application/atom+xml"
ATOM_JSON = "application/vnd.eventstore.atom+json"
KURRENT_ATOM_JSON = "application/vnd.kurrent.atom+json"
TEXT_XML = "text/xml"
APPLICATION_XML = "application/xml"
APPLICATION_JSON = "application/json"
EVENT_XML = "application/vnd.eventstore.event+xml"
EVENT_JSON = "application/vnd.eventstore.event+json"
KURRENT_EVENT_JSON = "application/vnd.kurrent.event+json"
EVENTS_XML = "application/vnd.eventstore.events+xml"
EVENTS_JSON = "application/vnd.eventstore.events+json"
KURRENT_EVENTS_JSON = "application/vnd.kurrent.events+json"
OCTET_STREAM = "application/octet-stream"
TEXT_HTML = "text/html"
TEXT_PLAIN = "text/plain"
COMPETING_ATOM_XML = "application/vnd.eventstore.competingatom+xml"
COMPETING_ATOM_JSON = "application/vnd.eventstore.competingatom+json"
KURRENT_COMPETING_ATOM_JSON = "application/vnd.kurrent.competingatom+json"

# Response codecs per route family, in the real server's order (the first one answers a
# request without Accept or with */*). Kurrent twins follow their eventstore names.
FEED_CODECS = (STREAMDESC_JSON, KURRENT_STREAMDESC_JSON, ATOM_XML, ATOM_JSON, KURRENT_ATOM_JSON,
               TEXT_XML, APPLICATION_XML, APPLICATION_JSON, EVENT_XML, EVENT_JSON,
               KURRENT_EVENT_JSON, EVENTS_XML, EVENTS_JSON, KURRENT_EVENTS_JSON, TEXT_HTML)
SINGLE_EVENT_CODECS = (ATOM_XML, ATOM_JSON, KURRENT_ATOM_JSON, TEXT_XML, APPLICATION_XML,
                       APPLICATION_JSON, EVENT_XML, EVENT_JSON, KURRENT_EVENT_JSON, OCTET_STREAM,
                       TEXT_HTML)
WRITE_CODECS = (STREAMDESC_JSON, KURRENT_STREAMDESC_JSON, ATOM_XML, ATOM_JSON, KURRENT_ATOM_JSON,
                TEXT_XML, APPLICATION_XML, APPLICATION_JSON, EVENT_XML, EVENT_JSON,
                KURRENT_EVENT_JSON, EVENTS_XML, EVENTS_JSON, KURRENT_EVENTS_JSON, OCTET_STREAM)
INCOMING_CODECS = (ATOM_XML, ATOM_JSON, KURRENT_ATOM_JSON, TEXT_XML, APPLICATION_XML,
                   APPLICATION_JSON)
ADMIN_JSON_CODECS = (APPLICATION_JSON, TEXT_XML)  # users, subscription admin
JSON_ONLY = (APPLICATION_JSON,)

# How each media type renders, grouped.
JSON_FEED_TYPES = frozenset({ATOM_JSON, KURRENT_ATOM_JSON, APPLICATION_JSON, EVENT_JSON,
                             KURRENT_EVENT_JSON, EVENTS_JSON, KURRENT_EVENTS_JSON,
                             STREAMDESC_JSON, KURRENT_STREAMDESC_JSON})
XML_FEED_TYPES = frozenset({ATOM_XML, TEXT_XML, APPLICATION_XML, EVENT_XML, EVENTS_XML})
STREAMDESC_TYPES = frozenset({STREAMDESC_JSON, KURRENT_STREAMDESC_JSON})
ATOM_JSON_TYPES = frozenset({ATOM_JSON, KURRENT_ATOM_JSON})
EVENT_JSON_TYPES = frozenset({EVENT_JSON, KURRENT_EVENT_JSON})

_FORMAT_QUERY = {"json": APPLICATION_JSON, "xml": TEXT_XML, "atom": ATOM_XML, "atomxj": ATOM_JSON,
                 "text": TEXT_PLAIN, "atomsvc": "application/atomsvc+xml",
                 "atomsvcxj": "application/vnd.eventstore.atomsvc+json"}


class UnknownFormat(ValueError):
    """`?format=` with a value the real server does not know (it answers 500)."""


def content_type_header(media_type: str) -> str:
    return media_type if media_type == OCTET_STREAM else f"{media_type}; charset=utf-8"


def _accept_ranges(accept: str) -> list[str]:
    ranges: list[tuple[float, int, str]] = []
    for index, item in enumerate(accept.split(",")):
        media, *params = item.split(";")
        media = media.strip().lower()
        if not media:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranges.append((-quality, index, media))
    return [media for _, _, media in sorted(ranges)]


def _matches(media_range: str, media_type: str) -> bool:
    if media_range in ("*/*", "*"):
        return True
    if media_range.endswith("/*"):
        return media_type.startswith(media_range[:-1])
    return media_range == media_type


@lru_cache(maxsize=1024)
def negotiate(accept: Optional[str], format_query: Optional[str],
              codecs: tuple[str, ...]) -> Optional[str]:
    """The response media type, or None for 406. Raises UnknownFormat for a bad `?format=`."""
    if format_query is not None:
        wanted = _FORMAT_QUERY.get(format_query.lower())
        if wanted is None:
            raise UnknownFormat(format_query)
        return wanted if wanted in codecs else None
    if not accept:
        return codecs[0]
    for media_range in _accept_ranges(accept):
        for codec in codecs:
            if _matches(media_range, codec):
                return codec
    return None


def accepts_anything(accept: Optional[str]) -> bool:
    """No Accept header, or one listing `*/*` (the description-document 406 case)."""
    if not accept:
        return True
    return any(media in ("*/*", "*") for media in _accept_ranges(accept))


@lru_cache(maxsize=256)
def request_codec(content_type: Optional[str], codecs: tuple[str, ...]) -> Optional[str]:
    """The request media type as sent (exact, case-sensitive), or None for 415.

    A `charset` parameter, when present, must be utf-8.
    """
    if not content_type:
        return None
    media, *params = content_type.split(";")
    media = media.strip()
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
                "utf-8", "utf8"):
            return None
    return media if media in codecs else None
