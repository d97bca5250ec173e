"""`/streams/...`: appends, stream feeds, single events, metadata and deletes (digest §4, §5, §8, §9).

Every storage rule (expected versions, idempotency, deletes, ACLs) is the core's; these
handlers validate the request in the real server's order, call the core once, and
render what comes back.
"""
from __future__ import annotations

import asyncio
import uuid
from typing import Any, Optional

from ..atom import (Embed, StreamPage, data_xml, description_document, entry_xml, escape_stream,
                    event_data_document, event_record_json, event_xml, json_text,
                    single_event_json, stream_feed)
from ..atom.text import signed_ascii_int
from ..core import errors
from ..core.model import ANY, METADATA_EVENT_TYPE, ResolvedEvent, StreamMetadata, StreamSlice
from . import media
from .all import ALL_PATTERN, AllPageHandler, serve_all_page
from .appends import (AppendRejected, EventTooLarge, events_from_body, is_single_event_type,
                      parse_event_id)
from .base import HttpProblem, TrailingSlashHandler, bad_request, header_value
from .filtered import ROUTES as FILTERED_ROUTES
from .reading import (ReadHandler, empty_json_document, etag_hash, html_page, parse_count,
                      parse_event_number)

HEAD_PAGE_COUNT = 20
PARSE_OFF_LOOP_BYTES = 1024 * 1024
STREAM = r"([^/]+)"
METASTREAM_PREFIX = "$$"


def metastream_of(stream_id: str) -> str:
    return METASTREAM_PREFIX + stream_id


class StreamRequests(ReadHandler):
    """What the stream handlers share: expected versions, appending, reading pages."""

    meta = False  # routes under /streams/{s}/metadata address `$${s}`

    def initialize(self, meta: bool = False) -> None:
        self.meta = meta

    def stream_id(self, stream: str) -> str:
        return metastream_of(stream) if self.meta else stream

    # --- writing -------------------------------------------------------------------------
    def expected_version(self) -> int:
        header, value = self.es_header("ExpectedVersion")
        if value is None:
            return ANY
        version = signed_ascii_int(value.strip(), minimum=-4)
        if version is None:  # not an int64 >= -4
            raise bad_request(f"{header} header in wrong format.")
        return version

    def header_event_id(self) -> Optional[uuid.UUID]:
        """ES-EventId when sent; a present but unusable value is the real 400."""
        header, value = self.es_header("EventId")
        if value is None:
            return None
        event_id = parse_event_id(value)
        if event_id is None:
            raise bad_request(f"{header} header in wrong format.")
        return event_id

    async def append(self, stream_id: str, event_id: Optional[uuid.UUID],
                     event_type: Optional[str]) -> None:
        """Steps 6-8 of the validation order, the write, and the 201."""
        expected = self.expected_version()
        self.require_leader_header()
        body, media_type = self.request.body, self.request_media_type or ""
        try:
            if len(body) > PARSE_OFF_LOOP_BYTES:  # seconds of parsing: not on the event loop
                events = await asyncio.get_running_loop().run_in_executor(
                    None, events_from_body, body, media_type, event_id, event_type)
            else:
                events = events_from_body(body, media_type, event_id, event_type)
        except AppendRejected as rejected:
            raise bad_request(str(rejected)) from None
        except EventTooLarge as too_large:
            raise HttpProblem(413, str(too_large), str(too_large),
                              content_type=media.TEXT_PLAIN) from None
        result = await self.core.append(stream_id, events, expected, self.principal)
        self.set_header("Location", f"{self.base_url}/streams/{escape_stream(stream_id)}/"
                                    f"{result.first_event_number}")
        self.reply(201, b"", media.TEXT_PLAIN, "Created")

    # --- reading -------------------------------------------------------------------------
    async def visibility_of(self, stream_id: str, metadata: Optional[StreamMetadata] = None) -> str:
        try:
            if metadata is None:
                metadata = await self.core.get_metadata(stream_id)
            return self.visibility(stream_id, metadata)
        except errors.CoreError:
            return "private"

    def reply_description(self, stream_id: str) -> None:
        groups = []
        subscriptions = getattr(self.node, "subscriptions", None)
        if subscriptions is not None and hasattr(subscriptions, "groups"):
            try:
                groups = [getattr(group, "name", group) for group in subscriptions.groups(stream_id)]
            except Exception:  # an optional nicety; never fail the description over it
                groups = []
        status = 406 if media.accepts_anything(header_value(self.request.headers, "Accept")) else 200
        self.reply_json(description_document(stream_id, groups), status, self.media_type
                        or media.STREAMDESC_JSON, "Description Document")

    async def read_forward(self, stream_id: str, start: int, count: int, resolve: bool,
                           long_poll: Optional[float]) -> StreamSlice:
        """A forward page; with a long poll, parked while it would lie beyond the end."""
        core, principal = self.core, self.principal
        deadline = None if long_poll is None else self.loop_time() + long_poll
        while True:
            version_before = await core.last_event_number(stream_id) if deadline else None
            try:
                slice_: Optional[StreamSlice] = await core.read_stream(
                    stream_id, start, count, "forward", resolve, principal)
            except errors.StreamNotFound:
                if deadline is None:
                    raise
                slice_ = None
            beyond_end = slice_ is None or (not slice_.events
                                            and start > slice_.last_event_number)
            remaining = 0.0 if deadline is None else deadline - self.loop_time()
            if not beyond_end or remaining <= 0 or self.client_gone:
                break
            if await core.last_event_number(stream_id) == version_before:
                await self.wait(core.wait_for_append(stream_id, remaining))
            if self.client_gone or (self._poll is not None and self._poll.cancelled()):
                break
        if slice_ is None:
            raise errors.StreamNotFound(stream_id)
        return slice_

    def loop_time(self) -> float:
        return asyncio.get_running_loop().time()

    async def serve_page(self, stream_id: str, start: Optional[int], count: int,
                         direction: str) -> None:
        embed = self.embed()
        resolve = self.resolve_links(True)
        self.require_leader_header()
        long_poll = self.long_poll_seconds() if direction == "forward" else None
        if direction == "backward" and self.media_type in media.STREAMDESC_TYPES:
            self.reply_description(stream_id)
            return
        if direction == "forward":
            slice_ = await self.read_forward(stream_id, start or 0, count, resolve, long_poll)
        else:
            slice_ = await self.core.read_stream(stream_id, start, count, "backward", resolve,
                                                 self.principal)
        last = slice_.last_event_number
        if direction == "backward":
            immutable = start is not None and start <= last
        else:
            immutable = last + 1 >= (start or 0) + count
        if self.not_modified(last):
            self.reply_not_modified()
            return
        self.set_caching(immutable, self.visibility(stream_id, slice_.metadata),
                         self.etag_for(last), slice_.metadata.cache_control)
        page = StreamPage(stream_id, start, count, direction)
        feed = stream_feed(page, slice_, self.base_url, etag=f"{last};{etag_hash(media.ATOM_JSON)}")
        self.reply_feed(feed, embed)

    async def serve_event(self, stream_id: str, number: int) -> None:
        embed = self.embed()
        resolve = self.resolve_links(True)
        self.require_leader_header()
        try:
            resolved = await self.core.read_event(stream_id, number, resolve, self.principal)
        except errors.EventNotFound:
            raise HttpProblem(404, "Not Found", "{}", content_type=media.TEXT_PLAIN) from None
        visibility = await self.visibility_of(stream_id)
        if number < 0:
            version = resolved.original.event_number
            if self.not_modified(version):
                self.reply_not_modified()
                return
            metadata = await self.core.get_metadata(stream_id)
            self.set_caching(False, visibility, self.etag_for(version), metadata.cache_control)
        else:
            self.set_caching(True, visibility)
        self.reply_event(resolved, embed)

    def reply_event(self, resolved: ResolvedEvent, embed: Embed) -> None:
        target = resolved.event if resolved.event is not None else resolved.original
        media_type = self.media_type or media.ATOM_XML
        base = self.base_url
        body: Any
        if media_type in media.ATOM_JSON_TYPES:
            body = single_event_json(resolved, base, embed)
        elif media_type == media.APPLICATION_JSON:
            body = json_text(event_data_document(target))
        elif media_type in media.EVENT_JSON_TYPES:
            body = event_record_json(target)
        elif media_type == media.ATOM_XML:
            body = entry_xml(resolved, base, embed)
        elif media_type in (media.TEXT_XML, media.APPLICATION_XML):
            body = data_xml(target)
        elif media_type == media.EVENT_XML:
            body = event_xml(target)
        elif media_type == media.OCTET_STREAM:
            self.reply(200, bytes(target.data), media_type)
            return
        else:
            body = html_page(f"{target.event_number}@{target.stream_id}",
                             single_event_json(resolved, base, Embed.PRETTY))
        self.reply(200, body.encode("utf-8"), media_type)


class StreamHandler(StreamRequests):
    """`/streams/{stream}`: append, head page, delete (and `$all`'s head page)."""

    ALLOW_METHODS = ("POST", "DELETE", "GET")
    RESPONSE_CODECS = {"GET": media.FEED_CODECS, "POST": media.WRITE_CODECS,
                       "DELETE": media.WRITE_CODECS}
    REQUEST_CODECS = {"POST": media.WRITE_CODECS}

    async def get(self, stream: str) -> None:
        if stream == "$all":
            await serve_all_page(self, "head", str(HEAD_PAGE_COUNT), "backward")
            return
        await self.serve_page(stream, None, HEAD_PAGE_COUNT, "backward")

    async def post(self, stream: str) -> None:
        media_type = self.request_media_type or ""
        _, event_type = self.es_header("EventType")
        single = is_single_event_type(media_type)
        if single and not event_type:
            raise bad_request("Must include an event type with the request either in body or "
                              "as ES-EventType header.")
        event_id = self.header_event_id()
        if single and event_id is None:
            self.set_header("Location", f"{self.base_url}/streams/{escape_stream(stream)}"
                                        f"/incoming/{uuid.uuid4()}")
            self.reply(307, b"Forwarding to idempotent URI", media.TEXT_PLAIN, "Temporary Redirect")
            return
        await self.append(stream, event_id, event_type)

    async def delete(self, stream: str) -> None:
        expected = self.expected_version()
        hard = self.bool_header("HardDelete")
        self.require_leader_header()
        await self.core.delete_stream(stream, expected, hard, self.principal)
        self.reply(204, b"", media.TEXT_PLAIN, "Stream deleted")


class IncomingHandler(StreamRequests):
    """`/streams/{stream}/incoming/{guid}`: the idempotent single-event append."""

    ALLOW_METHODS = ("GET", "POST")
    RESPONSE_CODECS = {"POST": media.WRITE_CODECS}
    REQUEST_CODECS = {"POST": media.INCOMING_CODECS}

    async def post(self, stream: str, guid: str) -> None:
        event_id = parse_event_id(guid)
        if event_id is None:
            raise bad_request("Invalid request. Unable to parse guid")
        _, event_type = self.es_header("EventType")
        if is_single_event_type(self.request_media_type or "") and not event_type:
            raise bad_request("Empty eventType provided.")
        await self.append(stream, event_id, event_type)


class MetadataHandler(StreamRequests):
    """`/streams/{stream}/metadata`: the last event of `$${stream}`, and writing a new one."""

    ALLOW_METHODS = ("GET", "POST")
    RESPONSE_CODECS = {"GET": media.SINGLE_EVENT_CODECS, "POST": media.WRITE_CODECS}
    REQUEST_CODECS = {"POST": media.WRITE_CODECS}

    async def get(self, stream: str) -> None:
        metastream = metastream_of(stream)
        try:
            await self.serve_event(metastream, -1)
        except errors.StreamNotFound:
            if not await self.core.stream_exists(stream):
                raise
            # the stream exists but has no metadata yet: an empty document
            self.set_caching(False, await self.visibility_of(stream))
            if self.media_type in media.XML_FEED_TYPES:
                self.reply(200, b'<?xml version="1.0" encoding="utf-8"?><data />', self.media_type)
            else:
                self.reply(200, empty_json_document().encode("utf-8"), self.media_type)

    async def post(self, stream: str) -> None:
        if stream.startswith(METASTREAM_PREFIX):
            raise bad_request("Metadata streams cannot have metadata.")
        header, event_type = self.es_header("EventType")
        if event_type is not None and event_type != METADATA_EVENT_TYPE:
            raise bad_request(f"{header} should be {METADATA_EVENT_TYPE}.")
        event_id = self.header_event_id()
        if is_single_event_type(self.request_media_type or "") and event_id is None:
            raise bad_request("Empty eventId provided.")
        await self.append(metastream_of(stream), event_id, METADATA_EVENT_TYPE)


class EventHandler(StreamRequests):
    """`/streams/{stream}/{event}` (number or `head`), also under `/metadata`."""

    RESPONSE_CODECS = {"GET": media.SINGLE_EVENT_CODECS}

    async def get(self, stream: str, event: str) -> None:
        number = -1 if event == "head" else parse_event_number(event)
        await self.serve_event(self.stream_id(stream), number)


class PageHandler(StreamRequests):
    """`/streams/{stream}/{event}[/backward|/forward]/{count}`, also under `/metadata`."""

    RESPONSE_CODECS = {"GET": media.FEED_CODECS}

    async def get(self, stream: str, event: str, *rest: str) -> None:
        direction, count_text = ("backward", rest[0]) if len(rest) == 1 else rest
        count = parse_count(count_text)
        if event == "head" and direction == "backward":
            start = None
        else:
            start = parse_event_number(event)
        await self.serve_page(self.stream_id(stream), start, count, direction)


_META = {"meta": True}
ROUTES: list[tuple] = [
    *FILTERED_ROUTES,
    (rf"/streams/{ALL_PATTERN}/([^/]+)/(backward|forward)/([^/]+)", AllPageHandler),
    (rf"/streams/{ALL_PATTERN}/([^/]+)/([^/]+)", AllPageHandler),
    (rf"/streams/{STREAM}/", TrailingSlashHandler),
    (rf"/streams/{STREAM}/metadata/", TrailingSlashHandler),
    (rf"/streams/{STREAM}/metadata", MetadataHandler),
    (rf"/streams/{STREAM}/metadata/([^/]+)/(backward|forward)/([^/]+)", PageHandler, _META),
    (rf"/streams/{STREAM}/metadata/([^/]+)/([^/]+)", PageHandler, _META),
    (rf"/streams/{STREAM}/metadata/([^/]+)", EventHandler, _META),
    (rf"/streams/{STREAM}/incoming/([^/]+)", IncomingHandler),
    (rf"/streams/{STREAM}", StreamHandler),
    (rf"/streams/{STREAM}/([^/]+)/(backward|forward)/([^/]+)", PageHandler),
    (rf"/streams/{STREAM}/([^/]+)/([^/]+)", PageHandler),
    (rf"/streams/{STREAM}/([^/]+)", EventHandler),
]

__all__ = ["ROUTES", "StreamHandler"]
