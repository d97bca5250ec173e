"""`/streams/$all/filtered[/{position}/{direction}/{count}]` (v20+, digest §6.5).

The core reads `$all`; this module only narrows what it returns by stream id or event
type (prefixes or a regular expression) and pages through the log until a page is full
or the log ends. Links point at the filtered routes without the query string, as the
real server's do (clients re-append their filter).
"""
from __future__ import annotations

import re
from typing import Callable, Optional

from ..atom import AllPage, all_feed
from ..core.model import AllSlice, EventRecord, ResolvedEvent
from . import media
from .all import ALL_PATTERN, parse_all_count, parse_all_start, reply_all_page
from .base import bad_request
from .reading import ReadHandler

FILTERED_PATH = "/streams/%24all/filtered"
SCAN_BATCH = 1000  # records read from the core per step while looking for matches
_CONTEXTS = ("streamid", "eventtype")
_TYPES = ("prefix", "regex")


def parse_filter(context: Optional[str], kind: Optional[str], data: Optional[str],
                 exclude_system_events: Optional[str]) -> Callable[[EventRecord], bool]:
    """The predicate a request's query describes, or the real server's 400."""
    if exclude_system_events is not None:
        if exclude_system_events != "true":
            raise bad_request("Invalid exclude-system-events value please provide 'true'.")
        return lambda record: not record.event_type.startswith("$")
    if context not in _CONTEXTS:
        raise bad_request("Invalid context please provide one of the following: "
                          + ", ".join(_CONTEXTS) + ".")
    if kind not in _TYPES:
        raise bad_request("Invalid type please provide one of the following: "
                          + ", ".join(_TYPES) + ".")
    if not data:
        raise bad_request("Please provide a comma delimited list of data with at least one item.")
    field = (lambda record: record.stream_id) if context == "streamid" else (
        lambda record: record.event_type)
    if kind == "prefix":
        prefixes = tuple(part for part in data.split(",") if part)
        return lambda record: field(record).startswith(prefixes)
    try:
        pattern = re.compile(data)
    except re.error:
        raise bad_request("Invalid regular expression.") from None
    return lambda record: pattern.search(field(record)) is not None


async def read_filtered(handler: ReadHandler, start: Optional[int], count: int, direction: str,
                        resolve: bool, matches: Callable[[EventRecord], bool]) -> AllSlice:
    """Up to `count` matching records from `start`, scanning the log in batches."""
    core = handler.core
    found: list[ResolvedEvent] = []
    position, next_position = start, start
    while True:
        slice_ = await core.read_all(position, SCAN_BATCH, direction, resolve, handler.principal)
        for event in slice_.events:
            if matches(event.original):
                found.append(event)
                if len(found) == count:
                    record_position = event.original.position
                    next_position = record_position + 1 if direction == "forward" else record_position
                    return AllSlice(direction, start or 0, count, found, next_position,
                                    slice_.head_position, False)
        next_position = slice_.next_position
        if slice_.is_end_of_stream or not slice_.events:
            return AllSlice(direction, start or 0, count, found, next_position,
                            slice_.head_position, True)
        position = next_position


class FilteredAllHandler(ReadHandler):
    RESPONSE_CODECS = {"GET": media.FEED_CODECS}

    async def get(self, position: str = "head", direction: str = "backward",
                  count_text: str = "20") -> None:
        matches = parse_filter(self.query_value("context"), self.query_value("type"),
                               self.query_value("data"), self.query_value("exclude-system-events"))
        count = parse_all_count(count_text)
        start = parse_all_start(position, direction)
        embed = self.embed()
        resolve = self.resolve_links(False)
        self.require_leader_header()
        slice_ = await read_filtered(self, start, count, direction, resolve, matches)
        feed = all_feed(AllPage(start, count, direction), slice_, self.base_url, FILTERED_PATH)
        await reply_all_page(self, feed, slice_, start, count, direction, embed)


ROUTES: list[tuple] = [
    (rf"/streams/{ALL_PATTERN}/filtered", FilteredAllHandler),
    (rf"/streams/{ALL_PATTERN}/filtered/([^/]+)/(backward|forward)/([^/]+)", FilteredAllHandler),
]
