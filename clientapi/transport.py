"""Sends `wire.Request`s with one of three HTTP engines and returns `wire.Response`s.

The only module of the client that does network I/O. One Transport belongs to one event
loop (every engine is bound to the loop it was created on), so the client
keeps one per loop it is used from.

Three engines, all on the client's IOLoop:
- "native" (the default): the client's own keep-alive HTTP/1.1 connections, asyncio
  protocols on the IOLoop (clientapi.connections). Pure Python, connections kept and
  reused, and the least CPU per request of the three (see bench/client_bench.py).
- "curl": tornado's CurlAsyncHTTPClient (needs pycurl). Keeps connections alive too.
- "simple": tornado's SimpleAsyncHTTPClient. Pure Python, but opens a new connection for
  every request.
"auto" is "native".
"""
from __future__ import annotations

import logging
import re
import ssl
from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Protocol, Tuple
from urllib.parse import urljoin

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.httputil import HTTPInputError
from tornado.simple_httpclient import HTTPStreamClosedError, HTTPTimeoutError

from . import cluster
from .errors import ConnectionFailure, EventStoreError, ProtocolError, Timeout
from .retry import Backoff, as_backoff, retrying
from .connections import ConnectionPool, ssl_context
from .engines import SimpleHTTPClient, curl_http_client
from .wire import Credentials, Request, Response, authorization_header
from .wire.status import error_for

__all__ = ["TransportSettings", "Transport", "curl_available"]

log = logging.getLogger("clientapi.transport")

REDIRECT_STATUSES = frozenset({301, 302, 307, 308})
# libcurl error numbers: operation timed out; and the failures to get a connection at all
# (proxy/host resolution, connect, TLS handshake and certificates). Any other curl error
# happened on an established connection: the server's answer was cut short or invalid.
CURL_TIMEOUT = 28
CURL_NO_CONNECTION = frozenset({5, 6, 7, 35, 45, 51, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83,
                                90, 91, 98})
USER_AGENT = "clientapi (python; tornado)"
# Answers that say "not now" rather than "no": retried like a failed connection (when
# retries are on and the request may be repeated).
TRANSIENT_STATUSES = frozenset({502, 503, 504})


class _HideCredentials(logging.Filter):
    """tornado's curl client logs every request header at DEBUG: keep credentials out."""

    AUTHORIZATION = re.compile(r"(authorization:\s*)\S.*", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "uthorization" in text:
            record.msg, record.args = self.AUTHORIZATION.sub(r"\1<hidden>", text), None
        return True


logging.getLogger("tornado.curl_httpclient").addFilter(_HideCredentials())


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
    # Retry delays (clientapi.retry); None: `retries` retries with the default delays.
    backoff: Optional[Backoff] = None
    # A cluster (clientapi.cluster): the seeds' (host, port); none = the one node above.
    seeds: Tuple[Tuple[str, int], ...] = ()
    prefer: str = "leader"

    @property
    def retry_policy(self) -> Backoff:
        return self.backoff if self.backoff is not None else as_backoff(self.retries)

    @property
    def base_url(self) -> str:
        host = "[{}]".format(self.host) if ":" in self.host else self.host
        return "{}://{}:{}".format("https" if self.https else "http", host, self.port)

    @property
    def engine(self) -> str:
        return "native" if self.http_client == "auto" else self.http_client


class _TornadoClient:
    """tornado's AsyncHTTPClient (curl or simple) behind the engine interface."""

    def __init__(self, settings: TransportSettings) -> None:
        self._settings = settings
        if settings.engine == "curl":
            self._http = curl_http_client(force_instance=True, max_clients=settings.max_connections)
        else:
            self._http = SimpleHTTPClient(force_instance=True, max_clients=settings.max_connections)

    def close(self) -> None:
        self._http.close()

    async def fetch(self, url: str, method: str, headers: Dict[str, str], body: Optional[bytes],
                    resendable: bool = True) -> Tuple[int, str, Mapping[str, str], bytes]:
        settings = self._settings
        answer = await self._http.fetch(HTTPRequest(
            url, method=method, headers=headers, body=body,
            connect_timeout=settings.connect_timeout, request_timeout=settings.request_timeout,
            follow_redirects=False, decompress_response=False, user_agent=USER_AGENT,
            validate_cert=settings.validate_cert, ca_certs=settings.ca_file,
            client_cert=settings.client_cert, client_key=settings.client_key), raise_error=False)
        if answer.code == 599 and answer.error is not None:
            raise answer.error
        return answer.code, answer.reason or "", answer.headers, answer.body or b""


class _Engine(Protocol):
    """What the transport needs of an HTTP engine."""

    async def fetch(self, url: str, method: str, headers: Dict[str, str], body: Optional[bytes],
                    resendable: bool = True) -> Tuple[int, str, Mapping[str, str], bytes]:
        """`resendable`: the request may go again on a new connection when a kept one
        turns out closed before any answer (never for deletes: see clientapi.retry)."""

    def close(self) -> None: ...


def _make_engine(settings: TransportSettings) -> _Engine:
    if settings.engine == "native":
        return ConnectionPool(
            settings.max_connections, settings.connect_timeout, settings.request_timeout,
            lambda: ssl_context(settings.ca_file, settings.validate_cert, settings.client_cert,
                                settings.client_key), USER_AGENT)
    return _TornadoClient(settings)


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
    if isinstance(error, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        # Connected, then cut: the server may have acted on the request, so this is not a
        # ConnectionFailure (which clientapi.retry may always retry, even a delete).
        return ProtocolError("connection cut: {}".format(error), request=where)
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
        self._http = _make_engine(settings)
        self._router = cluster.router_for(settings.seeds, settings.prefer, self._fetch_gossip)

    def close(self) -> None:
        self._http.close()

    async def send(self, request: Request, credentials: Optional[Credentials] = None) -> Response:
        """Sends `request`, following redirects (leader redirects, trailing slashes) with the
        same method, body and credentials; 3xx beyond `max_redirects` come back as is.
        Failures are retried as `settings.retry_policy` says (see clientapi.retry); in a
        cluster every attempt goes where the router says (see clientapi.cluster)."""
        return await retrying(lambda: self._send_routed(request, credentials),
                              self.settings.retry_policy, retryable=request.retryable,
                              what=request.describe())

    async def _send_routed(self, request: Request, credentials: Optional[Credentials]) -> Response:
        base_url, address, extra_headers = self.settings.base_url, None, None
        if self._router is not None:
            address, to_leader = await self._router.address_for(request.method, request.path)
            base_url = cluster.url_of(address, self.settings.https)
            extra_headers = cluster.leader_headers() if to_leader else None
        try:
            response = await self._send_following_redirects(base_url + request.target, request,
                                                            credentials, extra_headers)
        except (ConnectionFailure, Timeout, ProtocolError):
            if address is not None:
                self._router.node_failed(address)  # type: ignore[union-attr]
            raise
        if response.status in TRANSIENT_STATUSES and self.settings.retry_policy.enabled \
                and request.retryable:
            raise error_for(response)
        return response

    async def _send_following_redirects(self, url: str, request: Request,
                                        credentials: Optional[Credentials],
                                        extra_headers: Optional[Dict[str, str]]) -> Response:
        response = await self._send_once(url, request, credentials, extra_headers)
        for _ in range(self.settings.max_redirects):
            location = response.headers.get("Location")
            if response.status not in REDIRECT_STATUSES or not location:
                break
            url = urljoin(url, location)
            log.debug("%s redirected (%d) to %s", request.describe(), response.status, url)
            if self._router is not None:
                self._router.note_redirect(url)
            response = await self._send_once(url, request, credentials, extra_headers)
        return response

    async def _fetch_gossip(self, address: Tuple[str, int]) -> object:
        url = cluster.url_of(address, self.settings.https) + cluster.GOSSIP_REQUEST.target
        return cluster.gossip_from(await self._send_once(url, cluster.GOSSIP_REQUEST, None))

    async def _send_once(self, url: str, request: Request, credentials: Optional[Credentials],
                         extra_headers: Optional[Dict[str, str]] = None) -> Response:
        headers = dict(request.headers)
        for name, value in (extra_headers or {}).items():
            headers.setdefault(name, value)
        if credentials is not None:
            headers["Authorization"] = authorization_header(credentials)
        try:
            status, reason, response_headers, body = await self._http.fetch(
                url, request.method, headers, request.body, request.retryable)
        except Exception as error:  # every failure becomes one of ours, nothing leaks
            raise _translate(error, request.describe()) from error
        return Response(status=status, reason=reason, headers=response_headers, body=body,
                        request=request)
