"""Raw HTTP over real sockets for the node tests (stdlib http.client only)."""
from __future__ import annotations

import base64
import http.client
import json
import socket
import uuid
from dataclasses import dataclass
from email.message import Message
from typing import Any, Optional

from clientapi.server import Node

EVENTS_JSON = "application/vnd.eventstore.events+json"
ATOM_JSON = "application/vnd.eventstore.atom+json"
ADMIN = ("admin", "changeit")


def basic(login: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()


@dataclass
class Response:
    status: int
    reason: str
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def media_type(self) -> Optional[str]:
        value = self.headers.get("Content-Type")
        return value.split(";")[0].strip() if value else None

    def header(self, name: str) -> Optional[str]:
        return self.headers.get(name)


class Http:
    """One keep-alive connection; requests carry admin credentials unless `auth=None`."""

    def __init__(self, node: Node):
        self.node = node
        self.connection = http.client.HTTPConnection("127.0.0.1", node.port, timeout=30)

    def request(self, method: str, path: str, body: Any = None,
                headers: Optional[dict] = None, auth: Optional[tuple[str, str]] = ADMIN) -> Response:
        sent = dict(headers or {})
        if auth is not None:
            sent.setdefault("Authorization", basic(*auth))
        if isinstance(body, (list, dict)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.connection.request(method, path, body=body, headers=sent)
        response = self.connection.getresponse()
        return Response(response.status, response.reason, response.msg, response.read())

    def get(self, path: str, accept: Optional[str] = ATOM_JSON, **kwargs: Any) -> Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if accept is not None:
            headers.setdefault("Accept", accept)
        return self.request("GET", path, headers=headers, **kwargs)

    def append(self, stream: str, *events: dict, headers: Optional[dict] = None,
               **kwargs: Any) -> Response:
        """Append events given as {"eventType", "data", ...}; ids are generated when missing."""
        batch = [dict({"eventId": str(uuid.uuid4())}, **event) for event in events]
        sent = {"Content-Type": EVENTS_JSON}
        sent.update(headers or {})
        return self.request("POST", f"/streams/{stream}", batch, sent, **kwargs)

    def fill(self, stream: str, count: int, event_type: str = "n") -> None:
        for start in range(0, count, 500):
            response = self.append(stream, *({"eventType": event_type, "data": {"n": n}}
                                             for n in range(start, min(count, start + 500))))
            assert response.status == 201, response

    def close(self) -> None:
        self.connection.close()


def raw_exchange(port: int, data: bytes) -> bytes:
    """Send bytes as they are and return everything the node answers until it closes or idles."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        sock.settimeout(1.0)
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except socket.timeout:
            pass
    return b"".join(chunks)


