"""The "iostream" engine: the client's own keep-alive HTTP/1.1 connections on tornado's
IOStream. Pure Python like tornado's simple client, but connections are kept and reused
like curl's, and a request costs a fraction of either (it does only what an EventStore
exchange needs: no redirects, proxies, compression or 100-continue; the transport does
redirects). The framing lives in wire/http1.py; this module only moves bytes.

Failures are tornado's own exception types, so the transport reads them as it reads the
other engines': HTTPTimeoutError, HTTPStreamClosedError (cut after the connection was
made), HTTPInputError (not HTTP), OSError and ssl.SSLError (no connection).
"""
from __future__ import annotations

import collections
import ssl
import time
from typing import Any, Deque, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from tornado.httputil import HTTPInputError
from tornado.ioloop import IOLoop
from tornado.iostream import IOStream, StreamClosedError, UnsatisfiableReadError
from tornado.simple_httpclient import HTTPStreamClosedError, HTTPTimeoutError
from tornado.tcpclient import TCPClient

from .wire import http1

__all__ = ["ConnectionPool", "ssl_context"]

# Origin: (scheme, host, port).
Origin = Tuple[str, str, int]
# tornado's IOStream reads 64 KiB per call by default; feed pages run to megabytes.
READ_CHUNK_SIZE = 256 * 1024
# No limit of our own on what the server sends (curl has none either); the request
# timeout bounds it.
MAX_BUFFER_SIZE = 1 << 40


def ssl_context(ca_file: Optional[str], validate_cert: bool, client_cert: Optional[str],
                client_key: Optional[str]) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file)
    if not validate_cert:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if client_cert is not None:
        context.load_cert_chain(client_cert, client_key)
    return context


class _Connection:
    __slots__ = ("origin", "stream", "used")

    def __init__(self, origin: Origin, stream: IOStream) -> None:
        self.origin = origin
        self.stream = stream
        self.used = False  # has carried an exchange before


class _Deadline:
    """The request timeout: closes the stream the exchange is waiting on, or fails the
    wait for a free connection."""

    __slots__ = ("expired", "stream", "waiter", "handle")

    def __init__(self, loop: IOLoop, seconds: float) -> None:
        self.expired = False
        self.stream: Optional[IOStream] = None
        self.waiter: Optional[Any] = None
        self.handle = loop.call_later(seconds, self._expire)

    def _expire(self) -> None:
        self.expired = True
        if self.stream is not None:
            self.stream.close()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(HTTPTimeoutError("Timeout in request queue"))


class ConnectionPool:
    """At most `max_connections` open connections, idle ones kept per origin. Belongs to
    the loop it was created on."""

    def __init__(self, max_connections: int, connect_timeout: float, request_timeout: float,
                 ssl_options: Optional[ssl.SSLContext] = None,
                 user_agent: Optional[str] = None) -> None:
        self._loop = IOLoop.current()
        self._max = max_connections
        self._connect_timeout = connect_timeout
        self._request_timeout = request_timeout
        self._ssl = ssl_options
        self._user_agent = user_agent
        self._tcp = TCPClient()
        self._idle: Dict[Origin, List[_Connection]] = {}
        self._open = 0
        self._waiters: Deque[Any] = collections.deque()
        self._origins: Dict[str, Tuple[Origin, str]] = {}
        self._closed = False

    def close(self) -> None:
        self._closed = True
        for connections in self._idle.values():
            for connection in connections:
                connection.stream.close()
        self._idle.clear()
        self._tcp.close()

    async def fetch(self, url: str, method: str, headers: Dict[str, str],
                    body: Optional[bytes]) -> Tuple[int, str, http1.ResponseHeaders, bytes]:
        """One exchange: (status, reason, headers, body)."""
        origin, host_header, target = self._split(url)
        if self._user_agent is not None and "User-Agent" not in headers:
            headers = dict(headers, **{"User-Agent": self._user_agent})
        head = http1.request_head(method, target, host_header, headers, body)
        deadline = _Deadline(self._loop, self._request_timeout)
        try:
            while True:
                connection = await self._checkout(origin, deadline)
                deadline.stream = connection.stream
                try:
                    return await self._exchange(connection, method, head, body)
                except _StaleConnection:
                    # A kept connection that the server had closed (its idle timeout)
                    # before answering anything: send the request again on another one.
                    if deadline.expired:
                        raise StreamClosedError() from None
                finally:
                    deadline.stream = None
        except StreamClosedError as error:
            if deadline.expired:
                raise HTTPTimeoutError("Timeout during request") from None
            raise HTTPStreamClosedError(
                "Connection closed: {}".format(error.real_error or "by the server")) from error
        finally:
            self._loop.remove_timeout(deadline.handle)

    def _split(self, url: str) -> Tuple[Origin, str, str]:
        for prefix, (origin, host_header) in self._origins.items():
            if url.startswith(prefix) and url[len(prefix):len(prefix) + 1] in ("/", ""):
                return origin, host_header, url[len(prefix):] or "/"
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("not an http(s) URL: {!r}".format(url))
        port = parts.port or (443 if parts.scheme == "https" else 80)
        origin = (parts.scheme, parts.hostname, port)
        prefix = "{}://{}".format(parts.scheme, parts.netloc)
        if len(self._origins) < 64:
            self._origins[prefix] = (origin, parts.netloc)
        target = url[len(prefix):] or "/"
        return origin, parts.netloc, target

    # --- connections ----------------------------------------------------------------
    async def _checkout(self, origin: Origin, deadline: _Deadline) -> _Connection:
        while True:
            idle = self._idle.get(origin)
            while idle:
                connection = idle.pop()
                if not connection.stream.closed():
                    return connection
                self._forget(connection)
            if self._open >= self._max:
                self._close_an_idle_connection()
            if self._open < self._max:
                self._open += 1
                try:
                    return _Connection(origin, await self._connect(origin))
                except BaseException:
                    self._open -= 1
                    self._wake_a_waiter()
                    raise
            waiter = self._loop.asyncio_loop.create_future()  # type: ignore[attr-defined]
            self._waiters.append(waiter)
            deadline.waiter = waiter
            try:
                await waiter
            finally:
                deadline.waiter = None

    async def _connect(self, origin: Origin) -> IOStream:
        scheme, host, port = origin
        started = time.monotonic()
        try:
            stream = await self._tcp.connect(
                host, port, ssl_options=self._ssl if scheme == "https" else None,
                max_buffer_size=MAX_BUFFER_SIZE, timeout=self._connect_timeout)
        except TimeoutError:
            raise HTTPTimeoutError("Timeout while connecting") from None
        except StreamClosedError as error:
            # A refused or failed TLS handshake closes the stream; report its cause.
            if isinstance(error.real_error, (OSError, ssl.SSLError)):
                raise error.real_error from None
            raise OSError("connection to {}:{} failed after {:.1f} s".format(
                host, port, time.monotonic() - started)) from error
        stream.read_chunk_size = READ_CHUNK_SIZE
        stream.set_nodelay(True)
        return stream

    def _release(self, connection: _Connection, reusable: bool) -> None:
        if reusable and not self._closed and not connection.stream.closed():
            connection.used = True
            self._idle.setdefault(connection.origin, []).append(connection)
        else:
            connection.stream.close()
            self._open -= 1
        self._wake_a_waiter()

    def _forget(self, connection: _Connection) -> None:
        connection.stream.close()
        self._open -= 1

    def _close_an_idle_connection(self) -> None:
        for connections in self._idle.values():
            if connections:
                self._forget(connections.pop(0))
                return

    def _wake_a_waiter(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    # --- one exchange ---------------------------------------------------------------
    async def _exchange(self, connection: _Connection, method: str, head: bytes,
                        body: Optional[bytes]) -> Tuple[int, str, http1.ResponseHeaders, bytes]:
        stream = connection.stream
        reusable = False
        try:
            try:
                stream.write(head + body if body else head)
                first = await stream.read_bytes(1)
            except StreamClosedError:
                if connection.used:
                    raise _StaleConnection() from None
                raise
            data = first + await self._read_head(stream)
            response = http1.parse_response_head(data)
            while 100 <= response.status < 200:  # interim answers (100 Continue)
                response = http1.parse_response_head(await self._read_head(stream))
            length = http1.body_length(method, response)
            if length > 0:
                content = await stream.read_bytes(length)
            elif length == http1.CHUNKED:
                content = await self._read_chunked(stream)
            elif length == http1.UNTIL_CLOSE:
                content = await stream.read_until_close()
            else:
                content = b""
            reusable = http1.keeps_alive(response, length)
            return response.status, response.reason, response.headers, content
        finally:
            self._release(connection, reusable)

    @staticmethod
    async def _read_head(stream: IOStream) -> bytes:
        try:
            return await stream.read_until(b"\r\n\r\n", max_bytes=http1.MAX_HEAD_SIZE)
        except UnsatisfiableReadError:
            raise HTTPInputError("response head larger than {} bytes".format(
                http1.MAX_HEAD_SIZE)) from None

    @staticmethod
    async def _read_chunked(stream: IOStream) -> bytes:
        pieces = []
        while True:
            line = await stream.read_until(b"\r\n", max_bytes=1024)
            size = http1.chunk_size(line)
            if size == 0:
                break
            chunk = await stream.read_bytes(size + 2)
            if chunk[-2:] != b"\r\n":
                raise HTTPInputError("chunk not followed by CRLF")
            pieces.append(chunk[:-2])
        while (await stream.read_until(b"\r\n", max_bytes=http1.MAX_HEAD_SIZE)) != b"\r\n":
            pass  # trailer fields: not used
        return b"".join(pieces)


class _StaleConnection(Exception):
    pass
