"""Shared by the read handlers of streams and `$all`: paging arguments, long polls,
caching headers (Cache-Control, ETag, If-None-Match -> 304) and rendering a feed in
the negotiated media type. Digest §5.7 and §7.
"""
from __future__ import annotations

import asyncio
import zlib
from typing import Any, Awaitable, Optional
from xml.sax.saxutils import escape

from ..atom import Embed, Feed, feed_json, feed_xml, json_text, parse_embed
from ..atom.text import INT32_MAX, ascii_int, signed_ascii_int
from ..core.model import Principal, StreamMetadata
from . import media
from .base import NodeHandler, bad_request, header_value

LONG_POLL_CAP_SECONDS = 60.0  # longer ES-LongPoll values wait this long, then answer as usual
IMMUTABLE_SECONDS = 31536000
NO_CACHE = "max-age=0, no-cache, must-revalidate"
# Someone who is authenticated but in no group: allowed exactly when the ACL holds `$all`,
# which is what decides between `public` and `private` caching.
EVERYONE = Principal("\x00everyone")

# The hashes a real node puts in its ETags for the common types (any stable token would do;
# reusing these keeps ETags identical to the recorded ones).
_KNOWN_ETAG_HASHES = {media.ATOM_JSON: "-1955838367", media.APPLICATION_JSON: "-1549847642",
                      media.ATOM_XML: "371409111", media.EVENTS_JSON: "-1733724312"}


def etag_hash(media_type: str) -> str:
    known = _KNOWN_ETAG_HASHES.get(media_type)
    if known is not None:
        return known
    value = zlib.crc32(media_type.encode("ascii"))
    return str(value - (1 << 32) if value >= 1 << 31 else value)


def parse_event_number(text: str) -> int:
    number = ascii_int(text)
    if number is not None:
        return number
    raise bad_request(f"'{text}' is not valid event number")


def parse_count(text: str) -> int:
    count = ascii_int(text, INT32_MAX)
    if count:
        return count
    raise bad_request(f"'{text}' is not valid count. Should be positive integer")


class ReadHandler(NodeHandler):
    """A handler that answers reads: embed level, link resolution, caching, long polls."""

    _poll: Optional[asyncio.Future] = None
    client_gone = False

    def embed(self) -> Embed:
        if self.media_type == media.TEXT_HTML:
            return Embed.PRETTY
        return parse_embed(self.query_value("embed"))

    def resolve_links(self, default: bool) -> bool:
        return self.bool_header("ResolveLinkTos", default=default)

    def long_poll_seconds(self) -> Optional[float]:
        header, value = self.es_header("LongPoll")
        if value is None:
            return None
        seconds = ascii_int(value.strip(), INT32_MAX)
        if not seconds:
            raise bad_request(f"{header} header in wrong format.")
        return min(float(seconds), LONG_POLL_CAP_SECONDS)

    async def wait(self, waiting: Awaitable[Any]) -> None:
        """Park until `waiting` resolves; cancelled when the client goes away or the node stops."""
        self._poll = asyncio.ensure_future(waiting)
        polls = getattr(self.node, "long_polls", None)
        if polls is not None:
            polls.add(self._poll)
        try:
            await asyncio.wait({self._poll})  # a cancelled poll simply ends the wait
        finally:
            self._poll.cancel()
            if polls is not None:
                polls.discard(self._poll)

    def on_connection_close(self) -> None:
        self.client_gone = True
        if self._poll is not None and not self._poll.done():
            self._poll.cancel()

    # --- caching -------------------------------------------------------------------------
    def visibility(self, stream_id: str, metadata: StreamMetadata) -> str:
        return "public" if self.core.check_access(stream_id, "read", EVERYONE, metadata) else "private"

    def etag_for(self, version: int) -> str:
        return f"{version};{etag_hash(self.media_type or '')}"

    def not_modified(self, version: int) -> bool:
        """If-None-Match names this version for the negotiated media type."""
        header = header_value(self.request.headers, "If-None-Match")
        if not header:
            return False
        parts = header.strip().strip('"').split(";")
        if len(parts) != 2 or parts[1] != etag_hash(self.media_type or ""):
            return False
        return signed_ascii_int(parts[0]) == version

    def set_caching(self, immutable: bool, visibility: str, etag: Optional[str] = None,
                    max_age: Optional[int] = None) -> None:
        headers = self._headers
        if immutable:
            headers["Cache-Control"] = f"max-age={IMMUTABLE_SECONDS}, {visibility}"
        else:
            headers["Cache-Control"] = (f"max-age={max_age}, {visibility}" if max_age
                                        else NO_CACHE)
            if etag is not None:
                headers["ETag"] = f'"{etag}"'
        headers["Vary"] = "Accept"

    def reply_not_modified(self) -> None:
        self.set_status(304)
        self.finish()

    # --- rendering ----------------------------------------------------------------------
    def reply_feed(self, feed: Feed, embed: Embed) -> None:
        media_type = self.media_type or media.ATOM_JSON
        base = self.base_url
        if media_type in media.XML_FEED_TYPES:
            body = feed_xml(feed, base, embed)
        elif media_type == media.TEXT_HTML:
            body = html_page(feed.title, feed_json(feed, base, embed))
        else:
            body = feed_json(feed, base, embed)
        self.reply(200, body.encode("utf-8"), media_type)


def html_page(title: str, json_body: str) -> str:
    """What a browser gets instead of the web UI: the document, readable."""
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
            f"</head><body><pre>{escape(json_body)}</pre></body></html>")


def empty_json_document() -> str:
    return json_text({})
