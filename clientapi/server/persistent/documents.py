"""The JSON documents of the subscription endpoints (digest §11.3-§11.5), as plain dicts.

`base` is the absolute root URL the caller used (no trailing slash); names in URLs are escaped
the way the real server escapes them (RFC 3986 data escaping), titles keep them raw.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Callable, Optional, Sequence
from urllib.parse import quote

from .group import GroupStats, Message, SubscriptionGroup

EMPTY_FEED_UPDATED = "0001-01-01T00:00:00Z"
DEFAULT_MESSAGE_COUNT = 1

# The real server's message type ids in these bodies (recorded from 3.9.4); clients ignore them.
MSG_TYPE_CREATE, MSG_TYPE_UPDATE, MSG_TYPE_DELETE, MSG_TYPE_REPLAY = 142, 144, 148, 158


def escape(name: str) -> str:
    return quote(name, safe="")


def group_url(base: str, stream: str, group: str) -> str:
    return f"{base}/subscriptions/{escape(stream)}/{escape(group)}"


def location(base: str, stream: str, group: str) -> str:
    """The `location` header of create/update: names not escaped, as the real server sends it."""
    return f"{base}/subscriptions/{stream}/{group}"


def operation_result(result: str, reason: str, msg_type_id: int) -> dict:
    """Body of create/update/delete/replay answers: the server's completion message."""
    return {"correlationId": str(uuid.uuid4()), "reason": reason, "result": result,
            "msgTypeId": msg_type_id}


def _rel(href: str, rel: str) -> dict:
    return {"href": href, "rel": rel}


def _parked_uri(base: str, stream: str, group: str) -> str:
    return f"{base}/streams/%24persistentsubscription-{escape(stream)}::{escape(group)}-parked"


def _positions(stats: GroupStats, last_known: int) -> dict:
    return {
        "lastProcessedEventNumber": stats.last_processed,
        **({"lastCheckpointedEventPosition": str(stats.last_checkpoint)}
           if stats.last_checkpoint is not None else {}),
        "lastKnownEventNumber": last_known,
        "lastKnownEventPosition": str(last_known),
    }


def summary(base: str, group: SubscriptionGroup, stats: GroupStats, last_known: int) -> dict:
    """An item of `GET /subscriptions` and `GET /subscriptions/{stream}`."""
    url = group_url(base, group.stream, group.name)
    return {
        "links": [_rel(f"{url}/info", "detail")],
        "eventStreamId": group.stream,
        "groupName": group.name,
        "parkedMessageUri": _parked_uri(base, group.stream, group.name),
        "getMessagesUri": f"{url}/{DEFAULT_MESSAGE_COUNT}",
        "status": stats.status,
        "averageItemsPerSecond": stats.average_per_second,
        "totalItemsProcessed": stats.total_items,
        **_positions(stats, last_known),
        "connectionCount": len(stats.readers),
        "totalInFlightMessages": stats.in_flight,
    }


def detail(base: str, group: SubscriptionGroup, stats: GroupStats, last_known: int,
           parked_count: int) -> dict:
    """`GET /subscriptions/{stream}/{group}/info`."""
    url = group_url(base, group.stream, group.name)
    return {
        "links": [_rel(f"{url}/info", "detail"), _rel(f"{url}/replayParked", "replayParked")],
        "config": group.settings.to_config_json(),
        "eventStreamId": group.stream,
        "groupName": group.name,
        "status": stats.status,
        "averageItemsPerSecond": stats.average_per_second,
        "parkedMessageUri": _parked_uri(base, group.stream, group.name),
        "getMessagesUri": f"{url}/{DEFAULT_MESSAGE_COUNT}",
        "totalItemsProcessed": stats.total_items,
        "countSinceLastMeasurement": stats.since_measurement,
        **_positions(stats, last_known),
        "readBufferCount": stats.read_buffer,
        "liveBufferCount": 0,
        "retryBufferCount": stats.retry_buffer,
        "totalInFlightMessages": stats.in_flight,
        "outstandingMessagesCount": stats.in_flight,
        "connections": stats.readers,
        "parkedMessageCount": parked_count,
    }


def _link(uri: str, relation: str) -> dict:
    return {"uri": uri, "relation": relation}


def messages_feed(base: str, stream: str, group: str, count: int, messages: Sequence[Message],
                  render_entry: Callable[[Message], dict], author: dict,
                  format_time: Callable[[Optional[datetime]], str]) -> dict:
    """The competingatom+json feed of `GET /subscriptions/{stream}/{group}[/{count}]`.

    `render_entry` renders a message as a stream feed entry (§5.3, with the request's embed
    level); the ack/nack links and retryCount are added here. Entries newest first.
    """
    url = group_url(base, stream, group)
    links = []
    if messages:
        ids = ",".join(str(m.id) for m in messages)
        links += [_link(f"{url}/ack?ids={ids}", "ackAll"), _link(f"{url}/nack?ids={ids}", "nackAll")]
    links += [_link(f"{url}/{count}", "previous"), _link(url, "self")]
    newest: Optional[Message] = messages[-1] if messages else None
    updated_from = newest.event.event if newest is not None else None
    entries = []
    for message in reversed(messages):
        entry = render_entry(message)
        entry["links"] = list(entry.get("links", [])) + [
            _link(f"{url}/ack/{message.id}", "ack"), _link(f"{url}/nack/{message.id}", "nack")]
        entry["retryCount"] = message.retry_count
        entries.append(entry)
    return {
        "title": f"Messages for '{stream}/{group}'",
        "id": url,
        "updated": format_time(updated_from.created) if updated_from is not None else EMPTY_FEED_UPDATED,
        "author": author,
        "headOfStream": False,
        "links": links,
        "entries": entries,
    }
