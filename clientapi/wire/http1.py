"""HTTP/1.1 framing for the client's own connections (clientapi.connections). No I/O here:
the request head is built; a response is taken apart from bytes fed in as they arrive
(ResponseReader), by the framing rules of RFC 9112 section 6.3: how the body is delimited
and whether the connection can carry another request."""
from __future__ import annotations

import re
from typing import Dict, Iterator, List, Mapping, NamedTuple, Optional, Tuple

from tornado.httputil import HTTPInputError

__all__ = ["ResponseHeaders", "ResponseHead", "Response", "ResponseReader", "request_head", "parse_response_head", "body_length",
           "keeps_alive", "chunk_size", "MAX_HEAD_SIZE", "CHUNKED", "UNTIL_CLOSE"]

# A head larger than this is refused (an EventStore answer's head is under 1 KiB).
MAX_HEAD_SIZE = 64 * 1024
# body_length() answers for bodies that are not delimited by Content-Length.
CHUNKED = -1
UNTIL_CLOSE = -2
_BODILESS_STATUSES = frozenset({204, 304})
_METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
# Name characters outside RFC 9110's token, and controls in values: refused in requests
# (they would split or corrupt the head).
_FORBIDDEN_IN_NAME = frozenset(' \t\r\n:()<>@,;\\"/[]?={}')
# In a response head: control characters other than tab (line ends are split off first).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# The usual head, checked and taken apart by two regex scans instead of a loop over lines:
# every line a "name: value" field, then the blank line. Anything else (folded lines,
# errors) goes the slow way, line by line.
_FIELD = r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([^\x00-\x08\x0a-\x1f\x7f]*)\r?\n"
_PLAIN_FIELDS = re.compile(r"(?:{})*\r?\n".format(_FIELD.replace("(", "(?:")))
_FIELDS = re.compile(_FIELD)


class ResponseHeaders(Mapping[str, str]):
    """Response header fields, looked up whatever the case of the name; a repeated field
    reads as its values joined by commas, as with tornado's HTTPHeaders (which parses
    several times slower: this is on the path of every request)."""

    __slots__ = ("_fields",)

    def __init__(self) -> None:
        # lower-case name: (the name as first received, its values)
        self._fields: Dict[str, Tuple[str, List[str]]] = {}

    def add(self, name: str, value: str) -> None:
        field = self._fields.get(name.lower())
        if field is None:
            self._fields[name.lower()] = (name, [value])
        else:
            field[1].append(value)

    def get_list(self, name: str) -> List[str]:
        field = self._fields.get(name.lower())
        return list(field[1]) if field is not None else []

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:  # type: ignore[override]
        field = self._fields.get(name.lower())
        return ",".join(field[1]) if field is not None else default

    def __getitem__(self, name: str) -> str:
        return ",".join(self._fields[name.lower()][1])

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._fields

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._fields.values())

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        return "ResponseHeaders({!r})".format(dict(self.items()))


class ResponseHead(NamedTuple):
    version: str
    status: int
    reason: str
    headers: ResponseHeaders


def request_head(method: str, target: str, host: str, headers: Dict[str, str],
                 body: Optional[bytes]) -> bytes:
    """The request line and header lines, ending with the blank line. `host` is the Host
    header's value; Content-Length is set from the body (or 0 for a bodiless POST/PUT)."""
    lines = ["{} {} HTTP/1.1\r\nHost: {}\r\n".format(method, target, host)]
    for name, value in headers.items():
        if "\n" in value or "\r" in value or _FORBIDDEN_IN_NAME.intersection(name) or not name:
            raise ValueError("invalid HTTP header {!r}".format(name))
        lines.append("{}: {}\r\n".format(name, value))
    if body is not None or method in _METHODS_WITH_BODY:
        lines.append("Content-Length: {}\r\n".format(len(body or b"")))
    lines.append("\r\n")
    return "".join(lines).encode("latin-1")


def parse_response_head(data: bytes) -> ResponseHead:
    """`data`: the bytes up to and including the blank line. Raises HTTPInputError."""
    text = data.decode("latin-1")
    status_line, _, _ = text.partition("\n")
    version, _, status_and_reason = status_line.rstrip("\r").partition(" ")
    status, _, reason = status_and_reason.partition(" ")
    if (not version.startswith("HTTP/1.") or len(status) != 3 or not status.isascii()
            or not status.isdigit()):
        raise HTTPInputError("malformed HTTP status line: {!r}".format(status_line[:100]))
    headers = ResponseHeaders()
    fields_start = len(status_line) + 1
    if _PLAIN_FIELDS.fullmatch(text, fields_start):
        for name, value in _FIELDS.findall(text, fields_start):
            headers.add(name, value.rstrip(" \t"))
    else:
        _parse_fields_line_by_line(text[fields_start:], headers)
    return ResponseHead(version, int(status), reason.strip(), headers)


def _parse_fields_line_by_line(text: str, headers: ResponseHeaders) -> None:
    name = ""
    for line in text.split("\n"):
        if line[-1:] == "\r":
            line = line[:-1]
        if not line:
            continue
        if _CONTROL.search(line):
            raise HTTPInputError("control character in HTTP header line {!r}".format(line[:100]))
        if line[0] in " \t" and name:  # an obsolete continuation line
            values = headers._fields[name.lower()][1]
            values[-1] = (values[-1] + " " + line.strip(" \t")).strip(" ")
            continue
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            raise HTTPInputError("malformed HTTP header line {!r}".format(line[:100]))
        headers.add(name, value.strip(" \t"))


def body_length(method: str, head: ResponseHead) -> int:
    """Bytes of body to read, or CHUNKED, or UNTIL_CLOSE. Raises HTTPInputError."""
    if method == "HEAD" or head.status in _BODILESS_STATUSES or head.status < 200:
        return 0
    headers = head.headers
    if "Transfer-Encoding" in headers:
        codings = [c.strip().lower() for c in headers["Transfer-Encoding"].split(",")]
        if codings[-1] != "chunked":
            return UNTIL_CLOSE
        if "Content-Length" in headers:  # both: a smuggling attempt, not an answer
            raise HTTPInputError("response has both Transfer-Encoding and Content-Length")
        return CHUNKED
    lengths = headers.get_list("Content-Length")
    if not lengths:
        return UNTIL_CLOSE
    values = {v.strip() for value in lengths for v in value.split(",")}
    length = values.pop() if len(values) == 1 else ""
    if not length.isdigit() or not length.isascii():
        raise HTTPInputError("invalid Content-Length {!r}".format(lengths))
    return int(length)


def keeps_alive(head: ResponseHead, length: int) -> bool:
    """Whether the connection may carry another request after this response."""
    if length == UNTIL_CLOSE:
        return False
    tokens = {t.strip().lower() for t in (head.headers.get("Connection") or "").split(",")}
    if head.version == "HTTP/1.1":
        return "close" not in tokens
    return "keep-alive" in tokens


def chunk_size(line: bytes) -> int:
    """The size on a chunk-size line (extensions ignored). Raises HTTPInputError."""
    size = line.split(b";", 1)[0].strip()
    if not size or len(size) > 16 or size.strip(b"0123456789abcdefABCDEF"):
        raise HTTPInputError("invalid chunk size line {!r}".format(line[:40]))
    return int(size, 16)


class Response(NamedTuple):
    head: ResponseHead
    body: bytes
    keep_alive: bool


class ResponseReader:
    """Takes the bytes of one response as they arrive (`feed`, then `feed_eof` if the
    server closes) and says when it is complete (`response`). Raises HTTPInputError for
    framing that is not HTTP/1.1. `received` tells whether any byte came at all (a kept
    connection that closes before the first byte never saw the request)."""

    __slots__ = ("_method", "_buffer", "_head", "_length", "_body_start", "_chunks",
                 "received", "response")

    def __init__(self, method: str) -> None:
        self._method = method
        self._buffer = bytearray()
        self._head: Optional[ResponseHead] = None
        self._length = 0
        self._body_start = 0  # where in the buffer the part not yet taken apart begins
        self._chunks: List[bytes] = []
        self.received = False
        self.response: Optional[Response] = None

    def feed(self, data: bytes) -> None:
        self.received = True
        if self.response is not None:
            # More than the response: nothing a server should send; the connection
            # cannot be trusted with another request.
            self.response = self.response._replace(keep_alive=False)
            return
        buffer = self._buffer
        if not buffer and self._head is None:
            # the usual case: the whole answer in one piece, no copy into the buffer
            complete = self._complete_at_once(data)
            if complete:
                return
        buffer += data
        self._advance()

    def feed_eof(self) -> bool:
        """The server closed the connection; True when that completed the response."""
        if self.response is None and self._head is not None and self._length == UNTIL_CLOSE:
            self.response = Response(self._head, bytes(self._buffer[self._body_start:]), False)
        return self.response is not None

    def _complete_at_once(self, data: bytes) -> bool:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = parse_response_head(data[:end + 4])
        if head.status < 200:
            return False
        length = body_length(self._method, head)
        if length < 0 or len(data) != end + 4 + length:
            return False
        self.response = Response(head, data[end + 4:], keeps_alive(head, length))
        return True

    def _advance(self) -> None:
        buffer = self._buffer
        while self._head is None:
            end = buffer.find(b"\r\n\r\n", self._body_start)
            if end < 0:
                if len(buffer) - self._body_start > MAX_HEAD_SIZE:
                    raise HTTPInputError("response head larger than {} bytes".format(MAX_HEAD_SIZE))
                return
            head = parse_response_head(bytes(buffer[self._body_start:end + 4]))
            self._body_start = end + 4
            if head.status < 200:  # an interim answer (100 Continue): the real one follows
                continue
            self._head, self._length = head, body_length(self._method, head)
        if self._length >= 0:
            if len(buffer) - self._body_start >= self._length:
                with memoryview(buffer) as view:  # one copy of a body of megabytes, not two
                    body = bytes(view[self._body_start:self._body_start + self._length])
                alive = (keeps_alive(self._head, self._length)
                         and len(buffer) == self._body_start + self._length)
                self.response = Response(self._head, body, alive)
        elif self._length == CHUNKED:
            self._advance_chunks()

    def _advance_chunks(self) -> None:
        buffer = self._buffer
        while True:
            line_end = buffer.find(b"\r\n", self._body_start)
            if line_end < 0:
                if len(buffer) - self._body_start > 1024:
                    raise HTTPInputError("chunk size line too long")
                return
            size = chunk_size(bytes(buffer[self._body_start:line_end]))
            if size == 0:
                # the last chunk: then trailer fields (not used) up to a blank line
                trailer_end = buffer.find(b"\r\n\r\n", line_end)
                if trailer_end < 0:
                    return
                end = trailer_end + 4
                head = self._head
                assert head is not None
                self.response = Response(head, b"".join(self._chunks),
                                         keeps_alive(head, CHUNKED) and len(buffer) == end)
                return
            data_end = line_end + 2 + size
            if len(buffer) < data_end + 2:
                return
            if buffer[data_end:data_end + 2] != b"\r\n":
                raise HTTPInputError("chunk not followed by CRLF")
            self._chunks.append(bytes(buffer[line_end + 2:data_end]))
            self._body_start = data_end + 2
