"""`/streams/$all/...`: pages of the whole log with 32-hex positions (digest §6, §7)."""
from __future__ import annotations

import asyncio
from typing import Any, Optional

from ..atom import AllPage, Embed, Feed, all_feed, parse_position
from ..atom.text import INT32_MAX, ascii_int
from ..core import errors
from ..core.model import AllSlice, StreamMetadata
from . import media
from .base import bad_request
from .reading import ReadHandler

ALL_PATTERN = r"(?:\$all|%24all)"
ALL_STREAM = "$all"


def parse_all_start(text: str, direction: str) -> Optional[int]:
    if text == "head" and direction == "backward":
        return None
    position = parse_position(text)
    if position is None:
        raise bad_request(f"Invalid position argument: {text}")
    return position


def parse_all_count(text: str) -> int:
    count = ascii_int(text, INT32_MAX)
    if count:
        return count
    raise bad_request(f"Invalid count argument: {text}")


async def _read_forward(handler: ReadHandler, start: int, count: int, resolve: bool,
                        long_poll: Optional[float]) -> AllSlice:
    """A forward page; with a long poll, parked while it is empty at the end of the log."""
    core = handler.core
    loop = asyncio.get_running_loop()
    deadline = None if long_poll is None else loop.time() + long_poll
    while True:
        head_before = core.head_position()
        slice_ = await core.read_all(start, count, "forward", resolve, handler.principal)
        remaining = 0.0 if deadline is None else deadline - loop.time()
        if slice_.events or remaining <= 0:
            return slice_
        if core.head_position() == head_before:
            await handler.wait(core.wait_for_append(None, remaining))
            if handler.client_gone or (handler._poll is not None and handler._poll.cancelled()):
                return slice_


async def serve_all_page(handler: ReadHandler, start_text: str, count_text: str,
                         direction: str) -> None:
    """Answer a `$all` page request on `handler` (also used by `/streams/$all`)."""
    count = parse_all_count(count_text)
    start = parse_all_start(start_text, direction)
    embed = handler.embed()
    resolve = handler.resolve_links(False)
    handler.require_leader_header()
    long_poll = handler.long_poll_seconds() if direction == "forward" else None
    core = handler.core
    if direction == "forward":
        slice_ = await _read_forward(handler, start or 0, count, resolve, long_poll)
    else:
        slice_ = await core.read_all(start, count, "backward", resolve, handler.principal)
    feed = all_feed(AllPage(start, count, direction), slice_, handler.base_url)
    await reply_all_page(handler, feed, slice_, start, count, direction, embed)


async def reply_all_page(handler: ReadHandler, feed: Feed, slice_: AllSlice,
                         start: Optional[int], count: int, direction: str, embed: Embed) -> None:
    """Caching headers (or 304) and the feed of a `$all` page."""
    head = slice_.head_position
    if direction == "backward":
        immutable = start is not None and start <= head
    else:
        immutable = len(slice_.events) >= count
    if handler.not_modified(head):
        handler.reply_not_modified()
        return
    try:
        metadata: StreamMetadata = await handler.core.get_metadata(ALL_STREAM)
        visibility = handler.visibility(ALL_STREAM, metadata)
    except errors.CoreError:
        visibility = "private"
    handler.set_caching(immutable, visibility, handler.etag_for(head))
    handler.reply_feed(feed, embed)


class AllPageHandler(ReadHandler):
    """`/streams/$all/{position}/{count}` and `/streams/$all/{position}/{direction}/{count}`."""

    RESPONSE_CODECS = {"GET": media.FEED_CODECS}

    async def get(self, position: str, *rest: Any) -> None:
        direction, count_text = ("backward", rest[0]) if len(rest) == 1 else rest
        await serve_all_page(self, position, count_text, direction)
