"""Fixtures for persistent-subscription tests: an embedded node and a small raw HTTP helper.

The helper speaks plain HTTP/1.1 over one keep-alive connection per `Api` object, so each
`Api` is one consumer as far as the node is concerned (a consumer is a client connection).
"""
from __future__ import annotations

import base64
import http.client
import json
import uuid
from dataclasses import dataclass
from typing import Any, Iterator, Optional
from urllib.parse import quote

import pytest

from clientapi.server import Node

ADMIN = ("admin", "changeit")
OPS = ("ops", "changeit")
COMPETING_JSON = "application/vnd.eventstore.competingatom+json"


@dataclass
class Reply:
    status: int
    reason: str
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


def group_path(stream: str, group: str) -> str:
    return f"/subscriptions/{quote(stream, safe='')}/{quote(group, safe='')}"


class Api:
    """Raw requests against one node over one connection."""

    def __init__(self, node: Node, auth: Optional[tuple[str, str]] = ADMIN):
        self.node = node
        self.auth = auth
        self._connection = http.client.HTTPConnection(node.host, node.port, timeout=30)

    def close(self) -> None:
        self._connection.close()

    def request(self, method: str, path: str, body: Any = None, headers: Optional[dict] = None,
                auth: Any = "default") -> Reply:
        sent = dict(headers or {})
        credentials = self.auth if auth == "default" else auth
        if credentials is not None:
            token = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
            sent["Authorization"] = f"Basic {token}"
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode("utf-8")
            sent.setdefault("Content-Type", "application/json")
        if body is None and method in ("POST", "PUT"):
            body = b""
        self._connection.request(method, path, body=body, headers=sent)
        response = self._connection.getresponse()
        return Reply(response.status, response.reason, response.headers, response.read())

    # --- conveniences ----------------------------------------------------------------
    def append(self, stream: str, count: int, event_type: str = "test-event",
               metadata: Optional[dict] = None) -> list[str]:
        ids = [str(uuid.uuid4()) for _ in range(count)]
        events = [{"eventId": event_id, "eventType": event_type, "data": {"n": index},
                   **({"metadata": metadata} if metadata is not None else {})}
                  for index, event_id in enumerate(ids)]
        reply = self.request("POST", f"/streams/{stream}", json.dumps(events).encode(),
                             {"Content-Type": "application/vnd.eventstore.events+json"})
        assert reply.status == 201, reply
        return ids

    def create(self, stream: str, group: str, **settings: Any) -> Reply:
        reply = self.request("PUT", group_path(stream, group), settings)
        assert reply.status == 201, reply
        return reply

    def read(self, stream: str, group: str, count: int = 1, long_poll: Optional[int] = None,
             embed: Optional[str] = None) -> dict:
        headers = {"Accept": COMPETING_JSON}
        if long_poll:
            headers["ES-LongPoll"] = str(long_poll)
        query = f"?embed={embed}" if embed else ""
        reply = self.request("GET", f"{group_path(stream, group)}/{count}{query}", headers=headers)
        assert reply.status == 200, reply
        return reply.json()

    def ack(self, stream: str, group: str, ids: list[str]) -> None:
        reply = self.request("POST", f"{group_path(stream, group)}/ack?ids={','.join(ids)}")
        assert reply.status == 202, reply

    def nack(self, stream: str, group: str, ids: list[str], action: str) -> None:
        reply = self.request("POST", f"{group_path(stream, group)}/nack?ids={','.join(ids)}"
                                     f"&action={action}")
        assert reply.status == 202, reply

    def info(self, stream: str, group: str) -> dict:
        reply = self.request("GET", f"{group_path(stream, group)}/info",
                             headers={"Accept": "application/json"})
        assert reply.status == 200, reply
        return reply.json()


def entry_ids(feed: dict) -> list[str]:
    """Message ids of a feed, oldest first (entries come newest first)."""
    return [link["uri"].rsplit("/", 1)[1] for entry in reversed(feed["entries"])
            for link in entry["links"] if link["relation"] == "ack"]


def entry_numbers(feed: dict) -> list[int]:
    return [int(entry["title"].split("@", 1)[0]) for entry in reversed(feed["entries"])]


@pytest.fixture
def node() -> Iterator[Node]:
    with Node(port=0) as started:
        yield started


@pytest.fixture
def api(node: Node) -> Iterator[Api]:
    client = Api(node)
    yield client
    client.close()


@pytest.fixture
def make_api(node: Node) -> Iterator:
    made: list[Api] = []

    def make(auth: Optional[tuple[str, str]] = ADMIN) -> Api:
        client = Api(node, auth)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
