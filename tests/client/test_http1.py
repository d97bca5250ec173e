"""wire/http1.py: HTTP/1.1 framing as pure functions, no sockets."""
from __future__ import annotations

import pytest
from tornado.httputil import HTTPInputError

from clientapi.wire import http1


def head(text: str) -> http1.ResponseHead:
    return http1.parse_response_head(text.replace("\n", "\r\n").encode("latin-1"))


def test_the_request_head_carries_host_headers_and_length():
    built = http1.request_head("POST", "/streams/s?x=1", "127.0.0.1:2113",
                               {"Content-Type": "application/json"}, b"{}")
    assert built == (b"POST /streams/s?x=1 HTTP/1.1\r\nHost: 127.0.0.1:2113\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n")
    assert b"Content-Length: 0" in http1.request_head("POST", "/x", "h", {}, None)
    assert b"Content-Length" not in http1.request_head("GET", "/x", "h", {}, None)


@pytest.mark.parametrize("name, value", [("X", "a\r\nInjected: 1"), ("Bad Name", "1"), ("", "1")])
def test_a_header_that_would_break_the_head_is_refused(name, value):
    with pytest.raises(ValueError):
        http1.request_head("GET", "/x", "h", {name: value}, None)


def test_response_headers_are_found_whatever_the_case_and_repeats_are_joined():
    parsed = head("HTTP/1.1 201 Created\nlocation: /a\nX-Two: 1\nx-two: 2\nEmpty:\n\n")
    assert (parsed.version, parsed.status, parsed.reason) == ("HTTP/1.1", 201, "Created")
    assert parsed.headers["Location"] == "/a" and parsed.headers.get("LOCATION") == "/a"
    assert parsed.headers["X-Two"] == "1,2" and parsed.headers.get_list("x-two") == ["1", "2"]
    assert parsed.headers["empty"] == "" and "Missing" not in parsed.headers
    assert list(parsed.headers) == ["location", "X-Two", "Empty"]
    assert parsed.headers.get("missing", "d") == "d"


def test_a_reason_phrase_may_be_empty_or_hold_spaces():
    assert head("HTTP/1.1 400 Wrong expected EventNumber\n\n").reason == "Wrong expected EventNumber"
    assert head("HTTP/1.1 204\n\n").reason == ""


@pytest.mark.parametrize("text", [
    "HTTP/2 200 OK\n\n", "HTTP/1.1 20 OK\n\n", "ICY 200 OK\n\n", "HTTP/1.1 2\u00b20 OK\n\n",
    "HTTP/1.1 200 OK\nno colon\n\n", "HTTP/1.1 200 OK\nA\x01: b\n\n", "HTTP/1.1 200 OK\nA: b\x00\n\n",
    "HTTP/1.1 200 OK\nName : b\n\n", "HTTP/1.1 200 OK\n folded-first: b\n\n",
])
def test_malformed_heads_are_refused(text):
    with pytest.raises(HTTPInputError):
        head(text)


@pytest.mark.parametrize("method, text, length, alive", [
    ("GET", "HTTP/1.1 200 OK\nContent-Length: 12\n\n", 12, True),
    ("HEAD", "HTTP/1.1 200 OK\nContent-Length: 12\n\n", 0, True),
    ("GET", "HTTP/1.1 304 Not Modified\nContent-Length: 12\n\n", 0, True),
    ("GET", "HTTP/1.1 204 No Content\n\n", 0, True),
    ("GET", "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n", http1.CHUNKED, True),
    ("GET", "HTTP/1.1 200 OK\nTransfer-Encoding: gzip\n\n", http1.UNTIL_CLOSE, False),
    ("GET", "HTTP/1.1 200 OK\n\n", http1.UNTIL_CLOSE, False),
    ("GET", "HTTP/1.1 200 OK\nContent-Length: 3\nConnection: close\n\n", 3, False),
    ("GET", "HTTP/1.0 200 OK\nContent-Length: 3\n\n", 3, False),
    ("GET", "HTTP/1.0 200 OK\nContent-Length: 3\nConnection: Keep-Alive\n\n", 3, True),
    ("GET", "HTTP/1.1 200 OK\nContent-Length: 3\nContent-Length: 3\n\n", 3, True),
])
def test_body_length_and_keep_alive(method, text, length, alive):
    parsed = head(text)
    assert http1.body_length(method, parsed) == length
    assert http1.keeps_alive(parsed, length) is alive


@pytest.mark.parametrize("text", [
    "HTTP/1.1 200 OK\nContent-Length: 3\nContent-Length: 4\n\n",
    "HTTP/1.1 200 OK\nContent-Length: -1\n\n", "HTTP/1.1 200 OK\nContent-Length: 1e3\n\n",
    "HTTP/1.1 200 OK\nContent-Length: 3\nTransfer-Encoding: chunked\n\n",
])
def test_contradictory_or_invalid_lengths_are_refused(text):
    with pytest.raises(HTTPInputError):
        http1.body_length("GET", head(text))


def test_chunk_sizes():
    assert http1.chunk_size(b"1a\r\n") == 26
    assert http1.chunk_size(b"0;name=value\r\n") == 0
    for line in (b"\r\n", b"-1\r\n", b"0x10\r\n", b"1" * 17 + b"\r\n"):
        with pytest.raises(HTTPInputError):
            http1.chunk_size(line)


ANSWERS = {
    "length": (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", b"hello", True),
    "chunked": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"2;x=y\r\nhe\r\n3\r\nllo\r\n0\r\nTrailer: t\r\n\r\n", b"hello", True),
    "interim": (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", b"", True),
    "close": (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", b"ok", False),
    "extra": (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1", b"ok", False),
}


@pytest.mark.parametrize("piece", [1, 7, 10_000])
@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_a_response_is_read_whatever_pieces_it_arrives_in(name, piece):
    data, body, alive = ANSWERS[name]
    reader = http1.ResponseReader("GET")
    for start in range(0, len(data), piece):
        assert reader.response is None or name == "extra"
        reader.feed(data[start:start + piece])
    assert reader.response is not None and reader.received
    assert (reader.response.body, reader.response.keep_alive) == (body, alive)


def test_a_body_until_close_ends_with_the_connection():
    reader = http1.ResponseReader("GET")
    reader.feed(b"HTTP/1.0 200 OK\r\n\r\npart one, ")
    reader.feed(b"part two")
    assert reader.response is None
    assert reader.feed_eof() is True
    assert (reader.response.body, reader.response.keep_alive) == (b"part one, part two", False)


def test_a_connection_closed_early_leaves_the_response_incomplete():
    reader = http1.ResponseReader("GET")
    assert reader.feed_eof() is False and not reader.received
    reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc")
    assert reader.feed_eof() is False and reader.response is None


def test_an_endless_head_is_refused():
    reader = http1.ResponseReader("GET")
    reader.feed(b"HTTP/1.1 200 OK\r\n")
    with pytest.raises(HTTPInputError):
        for _ in range(100):
            reader.feed(b"X-Filler: " + b"x" * 1000 + b"\r\n")
