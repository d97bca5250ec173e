"""A lean HTTP/1.1 server for the node's Application (framework.py).

A generic server spends most of a small request's time in connection machinery
(timeouts, regex header scanning, per-request coroutines, Nagle toggling). This one
speaks just what the node needs (keep-alive, pipelining, Content-Length and chunked
request bodies, `Expect: 100-continue`) on asyncio protocols and hands each parsed
request to the Application. A response is written with a single transport write.
"""
from __future__ import annotations

import asyncio
import logging
import re
import socket
import ssl
from typing import Any, Optional

from .framework import Application, Headers, Request

log = logging.getLogger("clientapi.server.http")

MAX_HEAD_BYTES = 64 * 1024
RECEIVE_AREA_BYTES = 256 * 1024  # as much as asyncio reads at once by default
# A connection that has begun a request must finish its head within HEAD_SECONDS and must
# not stall its body for longer than BODY_IDLE_SECONDS; one with nothing to do is closed
# after IDLE_SECONDS (Kestrel's keep-alive timeout). Without these, clients that never
# finish a request would keep their sockets, and the node's file descriptors, for good.
HEAD_SECONDS = 3.0
BODY_IDLE_SECONDS = 30.0
IDLE_SECONDS = 130.0
_JOIN_LIMIT = 64 * 1024  # below this the head and body go out in one write
_NO_BODY_STATUSES = frozenset({204, 304})
_BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_TOO_LARGE = (b"HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 0\r\n"
              b"Connection: close\r\n\r\n")
_CONTINUE = b"HTTP/1.1 100 (Continue)\r\n\r\n"
_DECIMAL = re.compile(r"[0-9]+")
_HEX = re.compile(rb"[0-9A-Fa-f]+")
# RFC 3986 host (a bracketed IP literal or a registered name), then an optional port
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+;=%]*)(:[0-9]*)?")


class BadRequest(Exception):
    """The bytes received are not an HTTP/1.x request we can serve."""


class _Context:
    """What a request knows of its connection."""

    def __init__(self, remote_ip: str, protocol: str = "http", address: Any = None):
        self.remote_ip = remote_ip
        self.protocol = protocol
        self.address = address  # (host, port) of the peer, when it has one


class HttpServer:
    """Listens on bound sockets and serves `application` (see the module docstring)."""

    def __init__(self, application: Application, max_body_size: int,
                 ssl_context: Optional[ssl.SSLContext] = None):
        self.application = application
        self.max_body_size = max_body_size
        self.ssl_context = ssl_context
        self.protocol = "https" if ssl_context is not None else "http"
        self._servers: list[asyncio.AbstractServer] = []
        self._connections: set["_Connection"] = set()
        # Every connection receives into this one area and copies out at once (the loop
        # runs one read at a time): no buffer is allocated, and released, per read.
        self.receive_area = memoryview(bytearray(RECEIVE_AREA_BYTES))

    async def add_sockets(self, sockets: list[socket.socket]) -> None:
        loop = asyncio.get_running_loop()
        for sock in sockets:
            self._servers.append(await loop.create_server(lambda: _Connection(self), sock=sock,
                                                          ssl=self.ssl_context))

    def stop(self) -> None:
        """Stop accepting connections (open ones go on until closed)."""
        for server in self._servers:
            server.close()

    async def close_all_connections(self) -> None:
        for connection in list(self._connections):
            connection.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()


class _Connection(asyncio.BufferedProtocol):
    """One client connection: requests are parsed from the buffer and served one at a time."""

    def __init__(self, server: HttpServer):
        self.server = server
        self.transport: Optional[asyncio.Transport] = None
        self.context = _Context("")
        self._buffer = bytearray()
        self._current: Optional["_Exchange"] = None
        self._continue_sent = False
        self._paused_reading = False
        self._write_waiters: list[asyncio.Future] = []
        self._writing_paused = False
        self._closed = False
        self._eof = False
        self._timer: Optional[asyncio.TimerHandle] = None
        self._timer_at = 0.0
        self._deadline: Optional[float] = None
        self._loop = asyncio.get_running_loop()
        self._written: asyncio.Future = self._loop.create_future()  # shared, always done
        self._written.set_result(None)
        self._waiting_for_head = False
        self._head_parsed = False

    # --- asyncio.Protocol --------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # every response goes out in one write, so Nagle would only add delay
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = transport.get_extra_info("peername")
        self.context = _Context(peer[0] if isinstance(peer, tuple) else "", self.server.protocol,
                                peer if isinstance(peer, tuple) else None)
        self.server._connections.add(self)
        self._expect_within(IDLE_SECONDS)

    def eof_received(self) -> bool:
        """The client has sent all it will (a half-close): answer what it asked, then close."""
        self._eof = True
        if self._current is not None:
            # most often the client is gone for good: long polls end now, as on a close; an
            # answer still goes out to a client that only shut its sending side
            self._current.connection_lost()
        else:
            self._serve_next()
            if self._current is None:
                self.close()
        # asyncio ignores (and warns about) keeping a TLS transport half-open
        return self.server.ssl_context is None

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.server.receive_area

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self.server.receive_area[:nbytes])

    def data_received(self, data: "bytes | memoryview") -> None:
        self._buffer += data
        if self._current is None:
            self._serve_next()
        elif (len(self._buffer) > MAX_HEAD_BYTES and not self._paused_reading
              and self.transport is not None):
            self.transport.pause_reading()  # pipelined requests wait for this one
            self._paused_reading = True

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self._closed = True
        self._cancel_timer()
        self.server._connections.discard(self)
        for waiter in self._write_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._write_waiters.clear()
        exchange, self._current = self._current, None
        if exchange is not None:
            exchange.connection_lost()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        waiters, self._write_waiters = self._write_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # --- timeouts --------------------------------------------------------------------
    # One timer per connection, moved lazily: most requests only push the idle deadline
    # further out, which then costs no timer of its own.
    def _expect_within(self, seconds: float) -> None:
        deadline = self._loop.time() + seconds
        self._deadline = deadline
        if self._timer is None or self._timer_at > deadline:
            if self._timer is not None:
                self._timer.cancel()
            self._arm(deadline)

    def _arm(self, when: float) -> None:
        self._timer_at = when
        self._timer = self._loop.call_at(when, self._timer_fired)

    def _stop_timer(self) -> None:
        self._deadline = None
        self._waiting_for_head = False

    def _cancel_timer(self) -> None:
        self._stop_timer()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timer_fired(self) -> None:
        self._timer = None
        if self._deadline is None:
            return
        if self._loop.time() < self._deadline:  # the deadline moved on meanwhile
            self._arm(self._deadline)
            return
        self._deadline = None
        if self._current is None:  # a request being answered is never cut off here
            self.close()

    def _awaiting_more(self) -> None:
        """The buffer holds an unfinished request: arm the head or body deadline."""
        if self._head_parsed:
            self._expect_within(BODY_IDLE_SECONDS)  # re-armed as the body makes progress
        elif not self._waiting_for_head:
            self._expect_within(HEAD_SECONDS)  # not re-armed: trickling bytes buys no time
            self._waiting_for_head = True

    # --- serving ---------------------------------------------------------------------
    def close(self) -> None:
        if self.transport is not None and not self._closed:
            self.transport.close()

    def write(self, data: bytes) -> "asyncio.Future[None]":
        """Sends `data`; the future resolves once the transport takes more (at once unless
        the client reads slower than we write)."""
        if self._closed or self.transport is None or self.transport.is_closing():
            return self._written
        self.transport.write(data)
        if not self._writing_paused:
            return self._written
        future: asyncio.Future = self._loop.create_future()
        self._write_waiters.append(future)
        return future

    def _refuse(self, answer: bytes) -> None:
        self._buffer.clear()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(answer)
            self.transport.close()

    def _serve_next(self) -> None:
        if self._closed or self._current is not None or not self._buffer:
            return
        try:
            parsed = self._parse()
        except BadRequest:
            self._refuse(_BAD_REQUEST)
            return
        except _TooLarge:
            self._refuse(_TOO_LARGE)
            return
        if parsed is None:
            if self._eof:
                self.close()  # nothing more will come to finish it
            else:
                self._awaiting_more()
            return
        self._stop_timer()
        method, target, version, headers, body, consumed = parsed
        del self._buffer[:consumed]
        self._continue_sent = False
        host = _host(headers, version)
        if host is None:  # HTTP/1.1 without a (single, well-formed) Host
            log.debug("refused %s %s: bad Host", method, target)
            self._refuse(_BAD_REQUEST)
            return
        exchange = self._current = _Exchange(self, method, version, headers)
        try:
            exchange.task = self.server.application.serve(
                Request(method, target, version, headers, body, host, exchange), exchange)
        except Exception:
            log.exception("could not dispatch %s %s", method, target)
            self._current = None
            self._refuse(_BAD_REQUEST)

    def exchange_finished(self, exchange: "_Exchange") -> None:
        if self._current is not exchange:
            return
        self._current = None
        if not exchange.keep_alive or (self._eof and not self._buffer):
            self.close()
            return
        if self._paused_reading and self.transport is not None:
            self._paused_reading = False
            self.transport.resume_reading()
        if self._buffer:
            self._loop.call_soon(self._serve_next)
        else:
            self._expect_within(IDLE_SECONDS)

    def _parse(self) -> Optional[tuple]:
        """(method, target, version, headers, body, bytes consumed) once a whole request is
        buffered."""
        buffer = self._buffer
        while buffer[:2] == b"\r\n":  # stray line breaks between requests are allowed
            del buffer[:2]
        head_end = buffer.find(b"\r\n\r\n")
        self._head_parsed = head_end >= 0
        if head_end < 0:
            if len(buffer) > MAX_HEAD_BYTES:
                raise BadRequest("request head too long")
            return None
        lines = bytes(buffer[:head_end]).decode("latin1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or parts[2] not in ("HTTP/1.1", "HTTP/1.0") or not parts[1]:
            raise BadRequest("bad request line")
        method, target, version = parts
        headers = Headers()
        for line in lines[1:]:
            name, separator, value = line.partition(":")
            if not separator or not name or name != name.strip() or line[0] in " \t":
                raise BadRequest("bad header line")
            headers.add(name, value.strip())
        body_start = head_end + 4
        body, consumed = self._body(headers, version, body_start)
        if body is None:
            return None
        return method, target, version, headers, body, consumed

    def _body(self, headers: Headers, version: str,
              start: int) -> tuple[Optional[bytes], int]:
        buffer = self._buffer
        encoding = headers.get("Transfer-Encoding")
        if encoding is not None:
            if encoding.strip().lower() != "chunked" or "Content-Length" in headers:
                raise BadRequest("unsupported transfer encoding")
            return self._chunked_body(headers, version, start)
        length_text = headers.get("Content-Length")
        if length_text is None:
            return b"", start
        length_text = length_text.strip()
        if not _DECIMAL.fullmatch(length_text):
            raise BadRequest("bad content length")
        if len(length_text) > 19:  # not even an int64: unreadable, not just too large
            raise BadRequest("bad content length")
        length = int(length_text)
        if length > self.server.max_body_size:
            raise _TooLarge()
        if len(buffer) - start < length:
            self._maybe_continue(headers, version)
            return None, 0
        return bytes(buffer[start:start + length]), start + length

    def _chunked_body(self, headers: Headers, version: str,
                      start: int) -> tuple[Optional[bytes], int]:
        buffer, position, total = self._buffer, start, 0
        chunks: list[bytes] = []
        while True:
            line_end = buffer.find(b"\r\n", position)
            if line_end < 0:
                self._maybe_continue(headers, version)
                return None, 0
            size_text = bytes(buffer[position:line_end]).split(b";", 1)[0].strip()
            if not _HEX.fullmatch(size_text):  # int(x, 16) alone would take signs, 0x and _
                raise BadRequest("bad chunk size")
            if len(size_text) > 16:
                raise BadRequest("chunk size beyond 64 bits")
            size = int(size_text, 16)
            total += size
            if total > self.server.max_body_size:
                raise _TooLarge()
            data_start = line_end + 2
            if size == 0:
                trailer_end = buffer.find(b"\r\n\r\n", line_end)
                if buffer[data_start:data_start + 2] == b"\r\n":
                    return b"".join(chunks), data_start + 2
                if trailer_end < 0:
                    return None, 0
                return b"".join(chunks), trailer_end + 4
            if len(buffer) < data_start + size + 2:
                self._maybe_continue(headers, version)
                return None, 0
            if buffer[data_start + size:data_start + size + 2] != b"\r\n":
                raise BadRequest("bad chunk")
            chunks.append(bytes(buffer[data_start:data_start + size]))
            position = data_start + size + 2

    def _maybe_continue(self, headers: Headers, version: str) -> None:
        if (not self._continue_sent and version == "HTTP/1.1" and self.transport is not None
                and (headers.get("Expect") or "").lower() == "100-continue"):
            self._continue_sent = True
            self.transport.write(_CONTINUE)


class _TooLarge(Exception):
    pass


def _host(headers: Headers, version: str) -> Optional[str]:
    """The Host header, or 127.0.0.1 for HTTP/1.0 without one; None when it is unusable."""
    host = headers.get("Host")
    if host is None:
        return "127.0.0.1" if version == "HTTP/1.0" else None
    if "," in host or not _HOST.fullmatch(host):
        return None
    return host


class _Exchange:
    """The response side of one request, as the handler drives it."""

    def __init__(self, connection: _Connection, method: str, version: str, headers: Headers):
        self.connection = connection
        self.context = connection.context
        self.method = method
        self.version = version
        connection_header = (headers.get("Connection") or "").lower()
        if self.version == "HTTP/1.1":
            self.keep_alive = "close" not in connection_header
        else:
            self.keep_alive = "keep-alive" in connection_header
        self.handler: Any = None
        self.task: Optional[asyncio.Task] = None  # held here: the loop keeps tasks weakly
        self._chunked = False
        self._body_allowed = True
        self._finished = False
        self._client_gone = False

    def connection_lost(self) -> None:
        if self._client_gone or self._finished:
            return
        self._client_gone = True
        try:
            if self.handler is not None:
                self.handler.on_connection_close()
        except Exception:
            log.exception("close callback failed")

    def write_headers(self, status: int, reason: str, headers: Headers,
                      chunk: Optional[bytes] = None) -> "asyncio.Future[None]":
        self._body_allowed = status not in _NO_BODY_STATUSES and status >= 200 \
            and self.method != "HEAD"
        if self._body_allowed and "Content-Length" not in headers:
            if self.version == "HTTP/1.1":
                headers["Transfer-Encoding"] = "chunked"
                self._chunked = True
            else:
                self.keep_alive = False
        if not self.keep_alive:
            headers["Connection"] = "close"
        elif self.version == "HTTP/1.0":
            headers["Connection"] = "Keep-Alive"
        lines = [f"HTTP/1.1 {status} {reason}"]
        lines.extend(f"{name}: {value}" for name, value in headers.get_all())
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin1")
        if chunk:
            body = self._framed(chunk)
            if len(body) > _JOIN_LIMIT:  # a big body is not worth copying just to join it
                self.connection.write(data)
                return self.connection.write(body)
            data += body
        return self.connection.write(data)

    def _framed(self, chunk: bytes) -> bytes:
        if not self._body_allowed:
            return b""
        if self._chunked:
            return b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunk else b""
        return chunk

    def write(self, chunk: bytes) -> "asyncio.Future[None]":
        return self.connection.write(self._framed(chunk))

    def finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        self.handler = None  # no cycle left for the garbage collector to find
        if self._chunked:
            self.connection.write(b"0\r\n\r\n")
        self.connection.exchange_finished(self)
