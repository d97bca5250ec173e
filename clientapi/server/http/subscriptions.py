"""Persistent subscriptions over HTTP (digest §11): admin, messages, ack/nack, parked messages.

The rules live in `clientapi.server.persistent` (reached as `self.node.subscriptions`); this
module parses requests and renders answers. Routes are listed most specific first.

Beyond the real server: `ES-LongPoll: <seconds>` on a message read waits for the first
message when none is available (the real server ignores the header and answers at once
with an empty feed, which is also what happens here without the header).
"""
from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any, Optional
from xml.sax.saxutils import escape, quoteattr

from ..atom import Embed, entry_document, iso_timestamp, json_text
from ..atom.text import INT32_MAX, ascii_int
from ..atom.entries import AUTHOR
from ..atom.xml import ATOM_NS, XML_DECLARATION, _entry_xml, json_to_xml
from ..persistent import (NACK_PARK, NACK_RETRY, NACK_SKIP, NACK_STOP, GroupExists, GroupNotFound,
                          UnknownStrategy, parse_settings)
from ..persistent import documents
from ..persistent.documents import (MSG_TYPE_CREATE, MSG_TYPE_DELETE, MSG_TYPE_REPLAY,
                                    MSG_TYPE_UPDATE)
from ..persistent.store import parked_stream
from . import media
from .base import NodeHandler, bad_request
from .reading import ReadHandler, parse_count, parse_event_number
from .streams import StreamRequests

MESSAGE_CODECS = (media.COMPETING_ATOM_XML, media.COMPETING_ATOM_JSON, media.KURRENT_COMPETING_ATOM_JSON)
ADMIN_CODECS = media.ADMIN_JSON_CODECS
LONG_POLL_CAP_SECONDS = 60.0
NACK_ACTIONS = frozenset({NACK_PARK, NACK_RETRY, NACK_SKIP, NACK_STOP})
_BAD_MESSAGE_ID = "messageid should be a properly formed guid"


class _SubscriptionHandler(NodeHandler):
    @property
    def subscriptions(self) -> Any:
        return self.node.subscriptions

    def reply_document(self, document: Any, status: int = 200, root: str = "result",
                       headers: Optional[dict] = None) -> None:
        """JSON or XML as negotiated (the admin routes offer application/json and text/xml)."""
        for name, value in (headers or {}).items():
            self.set_header(name, value)
        if self.media_type == media.TEXT_XML:
            if isinstance(document, list):
                body = "".join(json_to_xml(root, item) for item in document)
                text = f"{XML_DECLARATION}<ArrayOf{root}>{body}</ArrayOf{root}>"
            else:
                text = XML_DECLARATION + json_to_xml(root, document)
            self.reply(status, text.encode("utf-8"), media.TEXT_XML)
        else:  # json_text even for a bare string: reply_json would take it for ready JSON
            self.reply_json(json_text(document), status, self.media_type or media.APPLICATION_JSON)

    def reply_accepted(self) -> None:
        self.set_status(202, "Accepted")
        self.finish()

    async def summaries(self, groups: list) -> list:
        return [documents.summary(self.base_url, group, group.stats(),
                                  await self.core.last_event_number(group.stream))
                for group in groups]


class SubscriptionsHandler(_SubscriptionHandler):
    """`GET /subscriptions` (v25: `?offset=&count=` for a page)."""

    RESPONSE_CODECS = {"GET": ADMIN_CODECS}

    async def get(self) -> None:
        groups = await self.subscriptions.list_groups(None, self.principal)
        offset_text = self.get_query_argument("offset", None)
        count_text = self.get_query_argument("count", None)
        if offset_text is None and count_text is None:
            self.reply_document(await self.summaries(groups), root="SubscriptionSummary")
            return
        offset = _non_negative(offset_text if offset_text is not None else "0")
        if offset is None:
            raise bad_request(f'Offset "{offset_text}" must be a non-negative integer')
        count = _non_negative(count_text or "")
        if not count:
            raise bad_request(f'Count "{count_text}" must be a positive integer')
        self.reply_document(self._page(await self.summaries(groups[offset:offset + count]),
                                       offset, count, len(groups)))

    def _page(self, items: list, offset: int, count: int, total: int) -> dict:
        url = f"{self.base_url}/subscriptions"
        links = [{"href": f"{url}?offset={offset}&count={count}", "rel": "self"},
                 {"href": f"{url}?offset=0&count={count}", "rel": "first"}]
        if offset > 0:
            links.append({"href": f"{url}?offset={max(0, offset - count)}&count={count}", "rel": "previous"})
        if offset + count < total:
            links.append({"href": f"{url}?offset={offset + count}&count={count}", "rel": "next"})
        return {"links": links, "offset": offset, "count": count, "total": total, "subscriptions": items}


class StreamSubscriptionsHandler(_SubscriptionHandler):
    """`GET /subscriptions/{stream}`."""

    RESPONSE_CODECS = {"GET": ADMIN_CODECS}

    async def get(self, stream: str) -> None:
        groups = await self.subscriptions.list_groups(stream, self.principal)
        if not groups:
            self.reply_document([], 404, root="SubscriptionSummary")
            return
        self.reply_document(await self.summaries(groups), root="SubscriptionSummary")


class RestartHandler(StreamSubscriptionsHandler):
    """`POST /subscriptions/restart` (v20+); a GET there lists the groups of a stream so named."""

    RESPONSE_CODECS = {"GET": ADMIN_CODECS, "POST": ADMIN_CODECS}

    async def get(self) -> None:  # type: ignore[override]
        await super().get("restart")

    async def post(self) -> None:
        await self.subscriptions.restart(self.principal)
        self.reply_document("Restarting")


class _MessageReadHandler(_SubscriptionHandler, ReadHandler):
    """Reads messages; knows when its client went away (so nothing is handed to nobody)."""

    client_gone = False

    def on_connection_close(self) -> None:
        self.client_gone = True
        super().on_connection_close()

    async def read_messages(self, stream: str, group: str, count: int) -> None:
        subscriptions = self.subscriptions
        wait_seconds = _long_poll_seconds(self)
        reading = subscriptions.read(stream, group, count, self.principal, _reader_id(self), wait_seconds)
        try:
            if wait_seconds:
                task = asyncio.ensure_future(reading)
                await self.wait(task)  # cancelled (messages handed back) if the client goes away
                if task.cancelled():
                    return
                messages = task.result()
            else:
                messages = await reading
        except GroupNotFound:
            self.reply(404, b"", self.media_type)
            return
        if self.client_gone:
            subscriptions.hand_back(stream, group, messages)
            return
        embed, base = self.embed(), self.base_url
        if self.media_type == media.COMPETING_ATOM_XML:
            body = _messages_xml(base, stream, group, count, messages, embed)
        else:
            body = json_text(documents.messages_feed(
                base, stream, group, count, messages,
                lambda message: entry_document(message.event, base, embed), {"name": AUTHOR},
                iso_timestamp))
        self.reply(200, body.encode("utf-8"), self.media_type)


class GroupHandler(_MessageReadHandler):
    """`/subscriptions/{stream}/{group}`: PUT create, POST update, DELETE, GET one message."""

    ALLOW_METHODS = ("PUT", "POST", "DELETE", "GET")

    RESPONSE_CODECS = {"PUT": ADMIN_CODECS, "POST": ADMIN_CODECS, "DELETE": ADMIN_CODECS,
                       "GET": MESSAGE_CODECS}
    REQUEST_CODECS = {"PUT": ADMIN_CODECS, "POST": ADMIN_CODECS}

    async def put(self, stream: str, group: str) -> None:
        self.subscriptions.require_ops(self.principal)  # before looking at the body, as v20+ does
        location = {"location": documents.location(self.base_url, stream, group)}
        if stream == ALL_STREAM:  # groups here read one stream; one on $all would never deliver
            self._reply_result(400, "Fail", ALL_REFUSED, MSG_TYPE_CREATE, location)
            return
        try:
            settings = parse_settings(self._settings_body())
            await self.subscriptions.create(stream, group, settings, self.principal)
        except GroupExists as refused:
            self._reply_result(409, "AlreadyExists", str(refused), MSG_TYPE_CREATE, location)
        except UnknownStrategy as refused:
            self._reply_result(400, "Fail", str(refused), MSG_TYPE_CREATE, location)
        else:
            self._reply_result(201, "Success", "", MSG_TYPE_CREATE, location)

    async def post(self, stream: str, group: str) -> None:
        self.subscriptions.require_ops(self.principal)
        location = {"location": documents.location(self.base_url, stream, group)}
        try:
            settings = parse_settings(self._settings_body())
            await self.subscriptions.update(stream, group, settings, self.principal)
        except GroupNotFound as refused:
            self._reply_result(404, "DoesNotExist", str(refused), MSG_TYPE_UPDATE, location)
        except UnknownStrategy as refused:
            self._reply_result(400, "Fail", str(refused), MSG_TYPE_UPDATE, location)
        else:
            self._reply_result(200, "Success", "", MSG_TYPE_UPDATE, location)

    async def delete(self, stream: str, group: str) -> None:
        try:
            await self.subscriptions.delete(stream, group, self.principal)
        except GroupNotFound as refused:
            self._reply_result(404, "DoesNotExist", str(refused), MSG_TYPE_DELETE)
            return
        self._reply_result(200, "Success", "", MSG_TYPE_DELETE)

    async def get(self, stream: str, group: str) -> None:
        await self.read_messages(stream, group, documents.DEFAULT_MESSAGE_COUNT)

    def _settings_body(self) -> Any:
        """The parsed JSON body; like the real server, a body that does not parse counts as
        none (all defaults)."""
        if self.request_media_type == media.TEXT_XML:
            raise bad_request("XML subscription settings are not supported by this node; send JSON")
        try:
            return json.loads(self.request.body or b"null")
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None

    def _reply_result(self, status: int, result: str, reason: str, msg_type_id: int,
                      headers: Optional[dict] = None) -> None:
        self.reply_document(documents.operation_result(result, reason, msg_type_id), status,
                            root="result", headers=headers)


class MessagesHandler(_MessageReadHandler):
    """`GET /subscriptions/{stream}/{group}/{count}`."""

    RESPONSE_CODECS = {"GET": MESSAGE_CODECS}

    async def get(self, stream: str, group: str, count_text: str) -> None:
        count = ascii_int(count_text, INT32_MAX) or 0
        if not 1 <= count <= 100:
            raise bad_request(f"Message count must be an integer between 1 and 100 'count' ='{count}'")
        await self.read_messages(stream, group, count)


def _messages_xml(base: str, stream: str, group: str, count: int, messages: list, embed: Embed) -> str:
    """competingatom+xml: the Atom XML feed, entries with their ack/nack links."""
    feed = documents.messages_feed(base, stream, group, count, messages, lambda m: {}, {"name": AUTHOR},
                                   iso_timestamp)
    parts = [f'{XML_DECLARATION}<feed xmlns="{ATOM_NS}">',
             f"<title>{escape(feed['title'])}</title><id>{escape(feed['id'])}</id>",
             f"<updated>{feed['updated']}</updated><author><name>{AUTHOR}</name></author>"]
    parts += [f'<link href={quoteattr(link["uri"])} rel="{link["relation"]}" />' for link in feed["links"]]
    for message, entry in zip(reversed(messages), feed["entries"]):
        links = "".join(f'<link href={quoteattr(link["uri"])} rel="{link["relation"]}" />'
                        for link in entry["links"])
        parts.append(f"<entry>{_entry_xml(message.event, base, embed, False, '')}{links}</entry>")
    parts.append("</feed>")
    return "".join(parts)


def _long_poll_seconds(handler: Any) -> float:
    # The real server does not look at this header here; we honour valid values and,
    # like it, ignore anything else rather than refusing the read.
    _, value = handler.es_header("LongPoll")
    value = (value or "").strip()
    seconds = ascii_int(value, INT32_MAX)
    return min(float(seconds), LONG_POLL_CAP_SECONDS) if seconds else 0.0


def _reader_id(handler: Any) -> str:
    """The consumer behind a request: its connection. Named by the peer's address and port
    when the connection knows them, else by address and the connection's own identity (the
    context object lives as long as the connection)."""
    context = getattr(handler.request.connection, "context", None)
    address = getattr(context, "address", None)
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return f"{handler.request.remote_ip or 'unknown'}#{id(context):x}"


class InfoHandler(_SubscriptionHandler):
    """`GET /subscriptions/{stream}/{group}/info`."""

    RESPONSE_CODECS = {"GET": ADMIN_CODECS}

    async def get(self, stream: str, group: str) -> None:
        try:
            found = await self.subscriptions.info(stream, group, self.principal)
        except GroupNotFound:  # the real server serializes "no such group" as an empty body
            self.reply(404, b"", self.media_type)
            return
        document = documents.detail(self.base_url, found, found.stats(),
                                    await self.core.last_event_number(stream), await found.parked_count())
        self.reply_document(document, root="SubscriptionInfo")


class ReplayParkedHandler(_SubscriptionHandler):
    """`POST /subscriptions/{stream}/{group}/replayParked[?stopAt=N]`."""

    RESPONSE_CODECS = {"POST": ADMIN_CODECS}

    async def post(self, stream: str, group: str) -> None:
        stop_text = self.get_query_argument("stopAt", None)
        stop_at = None
        if stop_text is not None:
            stop_at = _non_negative(stop_text)
            if stop_at is None:
                raise bad_request("stopAt should be a properly formed positive long")
        try:
            await self.subscriptions.replay_parked(stream, group, stop_at, self.principal)
        except GroupNotFound as refused:
            self.reply_document(documents.operation_result("DoesNotExist", str(refused), MSG_TYPE_REPLAY), 404)
            return
        self.reply_document(documents.operation_result("Success", "", MSG_TYPE_REPLAY))


def _message_ids(text: Optional[str]) -> list[uuid.UUID]:
    try:
        return [uuid.UUID(part) for part in (text or "").split(",")]
    except ValueError:
        raise bad_request(_BAD_MESSAGE_ID) from None


class AckHandler(_SubscriptionHandler):
    """`POST .../ack/{id}` and `POST .../ack?ids=a,b`: 202 whatever became of them."""

    async def post(self, stream: str, group: str, message_id: Optional[str] = None) -> None:
        ids = _message_ids(message_id if message_id is not None else self.get_query_argument("ids", None))
        await self.subscriptions.ack(stream, group, ids, self.principal)
        self.reply_accepted()


class BulkAckHandler(MessagesHandler):
    """`POST .../ack?ids=a,b`. The path also matches a message read (`.../{count}`), so a GET
    here is one, with the count `ack` (a 400), as on the real server."""

    async def get(self, stream: str, group: str) -> None:  # type: ignore[override]
        await super().get(stream, group, "ack")

    post = AckHandler.post


class NackHandler(_SubscriptionHandler):
    """`POST .../nack/{id}?action=` and `POST .../nack?ids=a,b&action=` (park/retry/skip/stop)."""

    async def post(self, stream: str, group: str, message_id: Optional[str] = None) -> None:
        ids = _message_ids(message_id if message_id is not None else self.get_query_argument("ids", None))
        action = (self.get_query_argument("action", "") or "").lower()
        if action not in NACK_ACTIONS:  # missing or unknown: retry, as on the real server
            action = NACK_RETRY
        await self.subscriptions.nack(stream, group, ids, action, self.principal)
        self.reply_accepted()


class ViewParkedHandler(StreamRequests):
    """`GET /subscriptions/viewparkedmessages/{stream}/{group}/{event}/{backward|forward}/{count}`
    (v20+): a page of the parked-messages stream, as any stream page."""

    RESPONSE_CODECS = {"GET": MESSAGE_CODECS}

    async def get(self, stream: str, group: str, event: str, direction: str, count_text: str) -> None:
        self.require_authenticated()
        start = None if event == "head" and direction == "backward" else parse_event_number(event)
        await self.serve_page(parked_stream(stream, group), start, parse_count(count_text), direction)


def _non_negative(text: str) -> Optional[int]:
    return ascii_int(text.strip())


ALL_STREAM = "$all"
ALL_REFUSED = "Persistent subscriptions to $all are not supported over HTTP."

_SEGMENT = r"([^/]+)"
_GROUP = rf"/subscriptions/{_SEGMENT}/{_SEGMENT}"

ROUTES = [
    (rf"/subscriptions/viewparkedmessages/{_SEGMENT}/{_SEGMENT}/{_SEGMENT}/(backward|forward)/{_SEGMENT}",
     ViewParkedHandler),
    (rf"{_GROUP}/ack/{_SEGMENT}", AckHandler),
    (rf"{_GROUP}/ack", BulkAckHandler),
    (rf"{_GROUP}/nack/{_SEGMENT}", NackHandler),
    (rf"{_GROUP}/nack", NackHandler),
    (rf"{_GROUP}/info", InfoHandler),
    (rf"{_GROUP}/replayParked", ReplayParkedHandler),
    (rf"{_GROUP}/{_SEGMENT}", MessagesHandler),
    (_GROUP, GroupHandler),
    (r"/subscriptions/restart", RestartHandler),
    (rf"/subscriptions/{_SEGMENT}", StreamSubscriptionsHandler),
    (r"/subscriptions", SubscriptionsHandler),
]
