"""Replays the exchanges recorded from a real EventStore node against a fresh node, in the
order they were recorded, and compares status codes, media types, key headers and the
shape of JSON bodies (keys, nesting, link relations; not timestamps, ids or hosts).

Recordings that cannot apply are skipped with the reason: other subsystems' endpoints,
concurrent long polls (covered by test_http_long_poll), and places where EventStoreDB 20+
(which the node follows) answers differently from 3.9.4.
"""
from __future__ import annotations

import re
from typing import Any, Iterator

import pytest

from clientapi.server import Node
from node_http import ADMIN, Http
from transcripts import Exchange, all_names, load

# Projections and persistent subscriptions are other subsystems with tests of their own.
OTHER_SUBSYSTEMS = ("projection", "persub", "allmode", "read-category-stream", "read-et-stream",
                    "read-single-link-event")
NOT_REPLAYED = {
    "01-info-get.txt": "/info has the v20+ shape",
    "103-allmode-info.txt": "/info has the v20+ shape",
    "27-read-metastream-event0-atom-admin.txt": "3.9.4 answers {} for an event its metastream "
                                                "$maxCount already hides",
    "41-delete-nonexistent-stream.txt": "v21+ refuses soft-deleting a stream that never existed",
    "43-longpoll-timeout-no-new-events.txt": "long polls: test_http_long_poll",
    "44-longpoll-woken-by-write.txt": "long polls: test_http_long_poll",
    "118-all-longpoll-previous-link-woken-by-write.txt": "long polls: test_http_long_poll",
    "68-users-list-noauth-200-anonymous-allowed.txt": "v20+ lists users to admins only",
    "69b-users-list-no-trailing-slash.txt": "v20+ answers /users as /users/",
    "71-user-create-duplicate-201-no-conflict.txt": "v20+ answers 409 Conflict",
    "94-gossip.txt": "the recording timed out (408)",
    "95-stats.txt": "figures of a different process",
}
# Writes the recordings rely on but that were not recorded themselves.
PRECONDITIONS = {
    "34-delete-stream-soft-204.txt": [("softdel", "t")],
    "43b-longpoll-bad-value-ignored-200.txt": [("order-1", "OrderPlaced"), ("order-2", "OrderPlaced")],
    "45-longpoll-on-head-backward.txt": [("foo", "polled")],  # what 44's long poll saw written
    "114-paging-head-page-of-25-events.txt": [("long", "n")] * 25,
    "20-read-all-admin.txt": [("filler", "n")] * 20,  # a real log is never nearly empty
}
AUTH_TESTS = {"19-read-all-noauth-401.txt", "110-write-system-stream-noauth.txt",
              "102-options-cors.txt"}
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def order_key(name: str) -> tuple[int, str]:
    match = re.match(r"(\d+)([a-z]?)", name)
    return (int(match.group(1)), match.group(2)) if match else (10**6, name)


def replayable() -> list[str]:
    names = []
    for name in sorted(all_names(), key=order_key):
        if name in NOT_REPLAYED or any(word in name for word in OTHER_SUBSYSTEMS):
            continue
        names.append(name)
    return names


@pytest.fixture(scope="module")
def fresh() -> Iterator[Http]:
    with Node(port=0) as node:
        connection = Http(node)
        yield connection
        connection.close()


def shape(value: Any) -> Any:
    """What is compared of a JSON document: keys in order, nesting, list sizes, relations, flags."""
    if isinstance(value, dict):
        return [(key, shape(item) if key != "relation" else item)
                for key, item in value.items() if key != "isRedacted"]
    if isinstance(value, list):
        return [shape(item) for item in value]
    if isinstance(value, bool):
        return value
    return type(value).__name__


def path_of(url: str) -> str:
    return GUID.sub("<guid>", re.sub(r"^https?://[^/]+", "", url))


def send(client: Http, exchange: Exchange):
    auth = exchange.auth if (exchange.auth or exchange.name in AUTH_TESTS) else ADMIN
    return client.request(exchange.method, exchange.path, exchange.request_body,
                          exchange.request_headers, auth=auth)


@pytest.mark.parametrize("name", replayable())
def test_recorded_exchange(fresh, name):
    for stream, event_type in PRECONDITIONS.get(name, []):
        assert fresh.append(stream, {"eventType": event_type, "data": {"o": 1}}).status == 201
    recorded = load(name)
    response = send(fresh, recorded)
    assert response.status == recorded.status, (response.status, response.body[:300])
    if recorded.media_type and recorded.status not in (204, 304):
        assert response.media_type == recorded.media_type
    if "location" in recorded.headers:
        assert path_of(response.header("Location")) == path_of(recorded.headers["location"])
    for header in ("es-currentversion", "cache-control", "vary"):
        if header in recorded.headers:
            assert response.header(header) == recorded.headers[header], header
    assert (response.header("ETag") is None) == ("etag" not in recorded.headers)
    if "www-authenticate" in recorded.headers:
        assert response.header("WWW-Authenticate")
    if recorded.headers.get("access-control-allow-methods"):
        recorded_methods = set(recorded.headers["access-control-allow-methods"].split(", "))
        assert set(response.header("Access-Control-Allow-Methods").split(", ")) == recorded_methods
    if recorded.media_type and "json" in recorded.media_type and recorded.body.strip():
        ours, theirs = response.json(), recorded.json()
        if "%24all" in recorded.path or "$all" in recorded.path:
            # other records fill the log of a real node; compare the feed around the entries
            ours, theirs = dict(ours, entries=[]), dict(theirs, entries=[])
        assert shape(ours) == shape(theirs)
    elif recorded.media_type and "xml" in recorded.media_type:
        assert response.body.decode().split(">", 2)[:2] == recorded.body.split(">", 2)[:2]
