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
    "HTTP/2 200 OK\n\n", "HTTP/1.1 20 OK\n\n", "ICY 200 OK\n\n",
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
