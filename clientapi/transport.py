"""Sends `wire.Request`s with tornado's HTTP clients and returns `wire.Response`s.

The only module of the client that does network I/O. One Transport belongs to one event
loop (tornado's HTTP clients are bound to the loop they were created on), so the client
keeps one per loop it is used from.

Two engines:
- "curl": tornado's CurlAsyncHTTPClient (needs pycurl). Keeps connections alive and
  reuses them, which matters a lot for many small requests (see bench/client_bench.py).
- "simple": tornado's SimpleAsyncHTTPClient. Pure Python, but opens a new connection for
  every request.
"auto" (the default) picks curl when pycurl is importable, else simple.
"""
from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urljoin

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.httputil import HTTPInputError
from tornado.simple_httpclient import HTTPStreamClosedError, HTTPTimeoutError

from .errors import ConnectionFailure, EventStoreError, ProtocolError, Timeout
from .engines import SimpleHTTPClient, curl_http_client
from .wire import Credentials, Request, Response, authorization_header

__all__ = ["TransportSettings", "Transport", "curl_available"]

REDIRECT_STATUSES = frozenset({301, 302, 307, 308})
# libcurl error numbers: operation timed out; and the failures to get a connection at all
# (proxy/host resolution, connect, TLS handshake and certificates). Any other curl error
# happened on an established connection: the server's answer was cut short or invalid.
CURL_TIMEOUT = 28
CURL_NO_CONNECTION = frozenset({5, 6, 7, 35, 45, 51, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83,
                                90, 91, 98})
USER_AGENT = "clientapi (python; tornado)"


def curl_available() -> bool:
    try:
        import pycurl  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class TransportSettings:
    host: str = "127.0.0.1"
    port: int = 2113
    https: bool = False
    ca_file: Optional[str] = None
    validate_cert: bool = True
    client_cert: Optional[str] = None
    client_key: Optional[str] = None
    connect_timeout: float = 10.0
    request_timeout: float = 30.0
    http_client: str = "auto"
    max_connections: int = 32
    retries: int = 0
    max_redirects: int = 3

    @property
    def base_url(self) -> str:
        host = "[{}]".format(self.host) if ":" in self.host else self.host
        return "{}://{}:{}".format("https" if self.https else "http", host, self.port)

    @property
    def engine(self) -> str:
        if self.http_client == "auto":
            return "curl" if curl_available() else "simple"
        return self.http_client


def _make_http_client(settings: TransportSettings) -> AsyncHTTPClient:
    if settings.engine == "curl":
        return curl_http_client(force_instance=True, max_clients=settings.max_connections)
    return SimpleHTTPClient(force_instance=True, max_clients=settings.max_connections)


def _translate(error: BaseException, where: str) -> EventStoreError:
    """tornado/pycurl/socket failures to the client's errors."""
    if isinstance(error, HTTPTimeoutError):
        return Timeout("no response in time", request=where)
    if isinstance(error, HTTPStreamClosedError):
        return ProtocolError("connection closed before the response was complete", request=where)
    if isinstance(error, HTTPInputError):
        return ProtocolError("malformed HTTP response: {}".format(error), request=where)
    errno = getattr(error, "errno", None)
    if isinstance(error, HTTPClientError) and type(error).__name__ == "CurlError":
        if errno == CURL_TIMEOUT:
            return Timeout("no response in time", request=where)
        if errno in CURL_NO_CONNECTION:
            return ConnectionFailure("cannot reach the server: {}".format(error.message), request=where)
        return ProtocolError("invalid or incomplete response: {}".format(error.message), request=where)
    if isinstance(error, ssl.SSLError):
        return ConnectionFailure("TLS failure: {}".format(error), request=where)
    if isinstance(error, (OSError, HTTPClientError)):
        return ConnectionFailure("cannot reach the server: {}".format(error), request=where)
    return ProtocolError("unexpected failure while talking to the server: {!r}".format(error),
                         request=where)


class Transport:
    """Create it on the loop that will use it."""

    def __init__(self, settings: TransportSettings) -> None:
        self.settings = settings
        self._http = _make_http_client(settings)

    def close(self) -> None:
        self._http.close()

    async def send(self, request: Request, credentials: Optional[Credentials] = None) -> Response:
        """Sends `request`, following redirects (leader redirects, trailing slashes) with the
        same method, body and credentials; 3xx beyond `max_redirects` come back as is."""
        url = self.settings.base_url + request.target
        response = await self._send_with_retries(url, request, credentials)
        for _ in range(self.settings.max_redirects):
            location = response.headers.get("Location")
            if response.status not in REDIRECT_STATUSES or not location:
                break
            url = urljoin(url, location)
            response = await self._send_with_retries(url, request, credentials)
        return response

    async def _send_with_retries(self, url: str, request: Request,
                                 credentials: Optional[Credentials]) -> Response:
        attempts = 1 + (self.settings.retries if request.retryable else 0)
        for attempt in range(attempts):
            try:
                return await self._send_once(url, request, credentials)
            except (ConnectionFailure, Timeout, ProtocolError):
                if attempt + 1 == attempts:
                    raise
        raise AssertionError("unreachable")

    async def _send_once(self, url: str, request: Request,
                         credentials: Optional[Credentials]) -> Response:
        headers = dict(request.headers)
        if credentials is not None:
            headers["Authorization"] = authorization_header(credentials)
        settings = self.settings
        http_request = HTTPRequest(
            url, method=request.method, headers=headers, body=request.body,
            connect_timeout=settings.connect_timeout, request_timeout=settings.request_timeout,
            follow_redirects=False, decompress_response=False, user_agent=USER_AGENT,
            validate_cert=settings.validate_cert, ca_certs=settings.ca_file,
            client_cert=settings.client_cert, client_key=settings.client_key)
        try:
            answer = await self._http.fetch(http_request, raise_error=False)
        except Exception as error:  # every failure becomes one of ours, nothing leaks
            raise _translate(error, request.describe()) from error
        if answer.code == 599 and answer.error is not None:
            raise _translate(answer.error, request.describe())
        return Response(status=answer.code, reason=answer.reason or "", headers=answer.headers,
                        body=answer.body or b"", request=request)
