"""A plain HTTP/1.1 connection to the node for requests the client would never send."""
from __future__ import annotations

import base64
import http.client
import json
from dataclasses import dataclass
from typing import Any, Dict, Optional, Union

from tornado.httputil import HTTPHeaders


def basic(login: str, password: str) -> str:
    return "Basic " + base64.b64encode("{}:{}".format(login, password).encode("utf-8")).decode()


ADMIN_AUTH = basic("admin", "changeit")
EVENTS_JSON = "application/vnd.eventstore.events+json"


@dataclass
class Answer:
    status: int
    reason: str
    headers: HTTPHeaders
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


class RawHttp:
    """Keeps one connection open, opening a new one whenever the node closed it."""

    def __init__(self, host: str, port: int, timeout: float = 30.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.connection: Optional[http.client.HTTPConnection] = None
        self.sent = 0

    def request(self, method: str, path: str, body: Optional[bytes] = None,
                headers: Optional[Dict[str, Union[str, bytes]]] = None) -> Answer:
        for attempt in range(2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port,
                                                             timeout=self.timeout)
            try:
                self.connection.request(method, path, body=body, headers=dict(headers or {}))
                response = self.connection.getresponse()
                answer = Answer(response.status, response.reason,
                                HTTPHeaders(response.getheaders()), response.read())
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()  # a kept-alive connection the node had closed: once more
                if attempt:
                    raise
                continue
            except BaseException:
                self.close()
                raise
            self.sent += 1
            if answer.headers.get("Connection", "").lower() == "close":
                self.close()
            return answer
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def append_json(http_: RawHttp, path: str, events: list, auth: Optional[str] = ADMIN_AUTH,
                expected: Optional[int] = None) -> Answer:
    headers: Dict[str, Union[str, bytes]] = {"Content-Type": EVENTS_JSON}
    if auth:
        headers["Authorization"] = auth
    if expected is not None:
        headers["ES-ExpectedVersion"] = str(expected)
    return http_.request("POST", path, json.dumps(events).encode(), headers)
