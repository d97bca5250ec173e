"""The "native" engine: the client's own keep-alive HTTP/1.1 connections, as asyncio
protocols on the IOLoop's event loop (tornado 6 runs on asyncio). Pure Python like
tornado's simple client; connections are kept and reused like curl's; and a request
costs a fraction of either, because it does only what an EventStore exchange needs: no
proxies, compression or 100-continue, and redirects are the transport's. The framing
(wire/http1.py) is pure; this module only moves bytes and keeps the connections.

Failures are tornado's exception types, so the transport reads them as it reads the other
engines': HTTPTimeoutError, HTTPStreamClosedError (cut once connected), HTTPInputError
(not HTTP), OSError and ssl.SSLError (no connection).
"""
from __future__ import annotations

import asyncio
import collections
import socket
import ssl
import time
from typing import Callable, Deque, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from tornado.httputil import HTTPInputError
from tornado.simple_httpclient import HTTPStreamClosedError, HTTPTimeoutError

from .wire import http1

__all__ = ["ConnectionPool", "ssl_context"]

# (scheme, host, port)
Origin = Tuple[str, str, int]
# A connection idle longer than this is checked for a close by the server before reuse.
LONG_IDLE_SECONDS = 1.0
# The answer of one exchange: status, reason, headers, body.
Answer = Tuple[int, str, http1.ResponseHeaders, bytes]


def ssl_context(ca_file: Optional[str], validate_cert: bool, client_cert: Optional[str],
                client_key: Optional[str]) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file)
    if not validate_cert:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if client_cert is not None:
        context.load_cert_chain(client_cert, client_key)
    return context


class _Connection(asyncio.Protocol):
    """One connection; at most one exchange at a time. Reading is never paused, so a
    server closing an idle connection is noticed at once (`closed`)."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.used = False  # has carried an exchange before
        self.idle_since = 0.0  # time.monotonic() when last put back
        self.closed = False
        self._transport: Optional[asyncio.Transport] = None
        self._reader: Optional[http1.ResponseReader] = None
        self._answer: Optional[asyncio.Future] = None

    def exchange(self, method: str, data: bytes) -> "asyncio.Future[http1.Response]":
        assert self._transport is not None and self._answer is None
        self._reader = http1.ResponseReader(method)
        self._answer = answer = asyncio.get_running_loop().create_future()
        self._transport.write(data)
        return answer

    def close(self) -> None:
        # abort(), not close(): a TLS close() waits for the server's close_notify (up to
        # half a minute), and nothing is ever left to send when a connection is dropped.
        self.closed = True
        if self._transport is not None:
            self._transport.abort()

    # --- asyncio.Protocol -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # not TCP (a test's socket pair)
                pass

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        if reader is None:  # bytes nobody asked for: this connection cannot be trusted
            self.close()
            return
        try:
            reader.feed(data)
        except HTTPInputError as error:
            self._settle(error=error)
            self.close()
            return
        if reader.response is not None:
            self._settle(reader.response)

    def eof_received(self) -> bool:
        self.closed = True
        reader = self._reader
        if reader is not None and reader.feed_eof():
            self._settle(reader.response)
        return False  # close the transport

    def connection_lost(self, error: Optional[Exception]) -> None:
        self.closed = True
        reader = self._reader
        if self._answer is not None and not self._answer.done():
            if reader is not None and not reader.received and self.used:
                self._settle(error=_StaleConnection())
            else:
                self._settle(error=HTTPStreamClosedError(
                    "Connection closed: {}".format(error or "by the server")))

    def _settle(self, response: Optional[http1.Response] = None,
                error: Optional[Exception] = None) -> None:
        answer, self._answer, self._reader = self._answer, None, None
        if answer is None or answer.done():
            return
        if error is not None:
            answer.set_exception(error)
        else:
            answer.set_result(response)


class _StaleConnection(Exception):
    """A kept connection that the server had closed before answering anything."""


class ConnectionPool:
    """At most `max_connections` open connections, idle ones kept per origin. Belongs to
    the event loop it is first used on."""

    def __init__(self, max_connections: int, connect_timeout: float, request_timeout: float,
                 tls: Optional[Callable[[], ssl.SSLContext]] = None,
                 user_agent: Optional[str] = None) -> None:
        self._max = max_connections
        self._connect_timeout = connect_timeout
        self._request_timeout = request_timeout
        # Made on the first https connection, where a failure (an unreadable certificate)
        # is that connection's failure.
        self._tls = tls
        self._ssl: Optional[ssl.SSLContext] = None
        self._user_agent = user_agent
        self._idle: Dict[Origin, List[_Connection]] = {}
        self._open = 0
        self._waiters: Deque[asyncio.Future] = collections.deque()
        self._origins: Dict[str, Tuple[Origin, str]] = {}
        self._closed = False

    def close(self) -> None:
        self._closed = True
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    async def fetch(self, url: str, method: str, headers: Dict[str, str], body: Optional[bytes],
                    resendable: bool = True) -> Answer:
        origin, host_header, target = self._split(url)
        if self._user_agent is not None and "User-Agent" not in headers:
            headers = dict(headers, **{"User-Agent": self._user_agent})
        data = http1.request_head(method, target, host_header, headers, body)
        if body:
            data += body
        # The request timeout covers everything below (waiting for a connection,
        # connecting, the exchange): when it fires, the task is cancelled wherever it waits.
        task = asyncio.current_task()
        assert task is not None
        expired = []

        def expire() -> None:
            expired.append(True)
            task.cancel()  # type: ignore[union-attr]
        deadline = asyncio.get_running_loop().call_later(self._request_timeout, expire)
        try:
            while True:
                connection = await self._checkout(origin)
                try:
                    response = await connection.exchange(method, data)
                except _StaleConnection:
                    # The server closed the kept connection (its idle timeout) as the
                    # request left, most likely before it read it: send it again on
                    # another, as libcurl does, when a second copy would do no harm.
                    self._release(connection, False)
                    if not resendable:
                        raise HTTPStreamClosedError("Connection closed before any answer") from None
                    continue
                except BaseException:
                    self._release(connection, False)
                    raise
                self._release(connection, response.keep_alive)
                head = response.head
                return head.status, head.reason, head.headers, response.body
        except asyncio.CancelledError:
            if expired:
                if hasattr(task, "uncancel"):  # Python 3.11+: the cancel was ours, undo it
                    task.uncancel()
                raise HTTPTimeoutError("Timeout during request") from None
            raise
        finally:
            deadline.cancel()

    def _split(self, url: str) -> Tuple[Origin, str, str]:
        """(origin, Host header, request target); the origins of earlier URLs remembered."""
        for prefix, (origin, host_header) in self._origins.items():
            if url.startswith(prefix) and url[len(prefix):len(prefix) + 1] in ("/", ""):
                return origin, host_header, url[len(prefix):] or "/"
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("not an http(s) URL: {!r}".format(url))
        origin = (parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        prefix = "{}://{}".format(parts.scheme, parts.netloc)
        if len(self._origins) < 64:
            self._origins[prefix] = (origin, parts.netloc)
        return origin, parts.netloc, url[len(prefix):] or "/"

    # --- connections ----------------------------------------------------------------
    async def _checkout(self, origin: Origin) -> _Connection:
        while True:
            idle = self._idle.get(origin)
            while idle:
                connection = idle.pop()
                if time.monotonic() - connection.idle_since > LONG_IDLE_SECONDS:
                    # A blocking client's loop stands still between calls, so a server's
                    # close of an idle connection may not have been read yet: two turns
                    # of the loop read it (the socket event, then its callback).
                    await asyncio.sleep(0)
                    await asyncio.sleep(0)
                if not connection.closed:
                    return connection
                self._open -= 1
            if self._open >= self._max:
                self._close_an_idle_connection()
            if self._open < self._max:
                self._open += 1
                try:
                    return await self._connect(origin)
                except BaseException:
                    self._open -= 1
                    self._wake_a_waiter()
                    raise
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake_a_waiter()  # woken, then cancelled: pass the turn on
                raise

    async def _connect(self, origin: Origin) -> _Connection:
        scheme, host, port = origin
        tls = None
        if scheme == "https":
            if self._ssl is None:
                if self._tls is None:
                    raise ValueError("https needs TLS settings")
                self._ssl = self._tls()
            tls = self._ssl
        try:
            _, connection = await asyncio.wait_for(asyncio.get_running_loop().create_connection(
                lambda: _Connection(origin), host, port, ssl=tls,
                server_hostname=host if tls is not None else None), self._connect_timeout)
        except asyncio.TimeoutError:
            raise HTTPTimeoutError("Timeout while connecting") from None
        return connection

    def _release(self, connection: _Connection, reusable: bool) -> None:
        if reusable and not self._closed and not connection.closed:
            connection.used = True
            connection.idle_since = time.monotonic()
            self._idle.setdefault(connection.origin, []).append(connection)
        else:
            connection.close()
            self._open -= 1
        self._wake_a_waiter()

    def _close_an_idle_connection(self) -> None:
        for connections in self._idle.values():
            if connections:
                connections.pop(0).close()
                self._open -= 1
                return

    def _wake_a_waiter(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
