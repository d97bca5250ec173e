"""Raw HTTP against an embedded node for the projections tests (stdlib http.client only)."""
from __future__ import annotations

import base64
import http.client
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Optional
from urllib.parse import quote

from clientapi.server import Node

ADMIN = ("admin", "changeit")
EVENTS_JSON = "application/vnd.eventstore.events+json"
ATOM_JSON = "application/vnd.eventstore.atom+json"


@dataclass
class Reply:
    status: int
    reason: str
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def escaped(name: str) -> str:
    return quote(name, safe="")


class Api:
    """One keep-alive connection to a node; admin credentials unless told otherwise."""

    def __init__(self, node: Node, auth: Optional[tuple[str, str]] = ADMIN):
        self.node = node
        self.auth = auth
        self._connection = http.client.HTTPConnection("127.0.0.1", node.port, timeout=30)

    def close(self) -> None:
        self._connection.close()

    def request(self, method: str, path: str, body: Any = None, headers: Optional[dict] = None,
                auth: Any = "default") -> Reply:
        sent = {"Accept": "application/json"}
        sent.update(headers or {})
        credentials = self.auth if auth == "default" else auth
        if credentials is not None:
            token = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
            sent["Authorization"] = f"Basic {token}"
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode("utf-8")
        elif isinstance(body, str):
            body = body.encode("utf-8")
        self._connection.request(method, path, body=body, headers=sent)
        response = self._connection.getresponse()
        return Reply(response.status, response.reason, response.msg, response.read())

    # --- streams -----------------------------------------------------------------------
    def append(self, stream: str, *events: dict) -> None:
        batch = [dict({"eventId": str(uuid.uuid4()), "data": {}}, **event) for event in events]
        reply = self.request("POST", f"/streams/{escaped(stream)}", batch, {"Content-Type": EVENTS_JSON})
        assert reply.status == 201, (reply.status, reply.text)

    def events(self, stream: str, resolve: bool = True) -> list[dict]:
        """Every entry of a stream, oldest first, with embed=body (empty when it does not exist)."""
        headers = {"Accept": ATOM_JSON, "ES-ResolveLinkTos": "true" if resolve else "false"}
        reply = self.request("GET", f"/streams/{escaped(stream)}/0/forward/4096?embed=body", headers=headers)
        if reply.status == 404:
            return []
        assert reply.status == 200, (reply.status, reply.text)
        return list(reversed(reply.json()["entries"]))

    # --- projections ---------------------------------------------------------------------
    def create(self, name: str, query: str, mode: str = "continuous", auth: Any = "default", **params: Any) -> Reply:
        args = "&".join(f"{k}={v}" for k, v in dict({"name": name, "type": "js"}, **params).items())
        return self.request("POST", f"/projections/{mode}?{args}", query, {"Content-Type": "application/javascript"},
                            auth=auth)

    def status(self, name: str) -> dict:
        reply = self.request("GET", f"/projection/{escaped(name)}")
        assert reply.status == 200, (reply.status, reply.text)
        return reply.json()

    def state(self, name: str, partition: Optional[str] = None, what: str = "state") -> Optional[Any]:
        query = f"?partition={escaped(partition)}" if partition is not None else ""
        reply = self.request("GET", f"/projection/{escaped(name)}/{what}{query}")
        assert reply.status == 200, (reply.status, reply.text)
        return reply.json() if reply.body else None

    def command(self, name: str, command: str) -> Reply:
        return self.request("POST", f"/projection/{escaped(name)}/command/{command}", b"")


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll until `condition()` is truthy; its value is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def wait_status(api: Api, name: str, prefix: str, timeout: float = 10.0) -> dict:
    return wait_for(lambda: (lambda s: s if s["status"].startswith(prefix) else None)(api.status(name)),
                    timeout, f"{name} to be {prefix}")


def wait_state(api: Api, name: str, expected: Any, partition: Optional[str] = None,
               what: str = "state", timeout: float = 10.0) -> Any:
    def matches() -> bool:
        return api.state(name, partition, what) == expected
    wait_for(matches, timeout, f"{what} of {name} to be {expected!r}")
    return expected


def unique(prefix: str = "p") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"
