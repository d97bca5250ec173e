"""Plain data for one HTTP exchange, plus credentials. No I/O here."""
from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Tuple, Union

from tornado.httputil import HTTPHeaders

__all__ = ["Request", "Response", "Credentials", "CredentialsLike", "as_credentials",
           "authorization_header"]


@dataclass(frozen=True)
class Request:
    """What to send: a path relative to the server root (already escaped) and a query."""

    method: str
    path: str
    query: str = ""
    headers: Dict[str, str] = field(default_factory=dict)
    body: Optional[bytes] = None
    # Safe to send again after a connection failure or timeout (reads; appends whose
    # event ids make a replay idempotent).
    retryable: bool = True

    @property
    def target(self) -> str:
        return self.path + ("?" + self.query if self.query else "")

    def describe(self) -> str:
        """For error messages: method and path only, never headers (they hold credentials)."""
        return "{} {}".format(self.method, self.target)


@dataclass(frozen=True)
class Response:
    status: int
    reason: str = ""
    # tornado's HTTPHeaders or wire.http1.ResponseHeaders: names in any case
    headers: Mapping[str, str] = field(default_factory=HTTPHeaders)
    body: bytes = b""
    request: Optional[Request] = None

    def header(self, *names: str) -> Optional[str]:
        """The first of `names` present (e.g. the Kurrent- name, then the ES- name)."""
        for name in names:
            value = self.headers.get(name)
            if value is not None:
                return value
        return None

    @property
    def media_type(self) -> str:
        value = self.headers.get("Content-Type") or ""
        return value.split(";", 1)[0].strip().lower()

    def describe_request(self) -> Optional[str]:
        return self.request.describe() if self.request is not None else None


class Credentials:
    """A login and password. The password never appears in repr() or str()."""

    __slots__ = ("username", "password")

    def __init__(self, username: str, password: str) -> None:
        if not isinstance(username, str) or not isinstance(password, str):
            raise TypeError("username and password must both be str")
        if not username:
            raise ValueError("username must not be empty")
        if ":" in username:
            raise ValueError("username must not contain ':' (HTTP Basic cannot carry it)")
        self.username = username
        self.password = password

    def __repr__(self) -> str:
        return "Credentials(username={!r}, password=<hidden>)".format(self.username)

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Credentials) and other.username == self.username
                and other.password == self.password)

    def __hash__(self) -> int:
        return hash(self.username)


CredentialsLike = Union[Credentials, Tuple[str, str], None]


def as_credentials(value: CredentialsLike) -> Optional[Credentials]:
    """Accept a Credentials, a (username, password) pair, or None."""
    if value is None or isinstance(value, Credentials):
        return value
    if isinstance(value, tuple) and len(value) == 2:
        return Credentials(value[0], value[1])
    raise TypeError("credentials must be Credentials, a (username, password) tuple or None, "
                    "not {}".format(type(value).__name__))


def authorization_header(credentials: Credentials) -> str:
    token = "{}:{}".format(credentials.username, credentials.password).encode("utf-8")
    return "Basic " + base64.b64encode(token).decode("ascii")
