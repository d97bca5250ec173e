"""The native engine's own connections (clientapi.connections), against scripted HTTP
servers on real sockets: kept and reused, replaced when the server dropped them, limited
in number, and every framing of a response body read right."""
from __future__ import annotations

import json
import socket
import threading
import time
import uuid

import pytest

from clientapi import Client, WriteEvent, errors
from tests.faults.misbehaving import read_request

FEED_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.eventstore.atom+json\r\n"
ENTRY = {"eventId": "fbf4a1a1-b4a3-4dfe-a01f-ec52c34e16e4", "eventType": "t", "eventNumber": 0,
         "streamId": "s", "isJson": True, "data": "{\"a\": 1}"}
FEED_BODY = json.dumps({"entries": [ENTRY], "links": []}).encode()
FEED = FEED_HEAD + b"Content-Length: %d\r\n\r\n" % len(FEED_BODY) + FEED_BODY


def chunked(body: bytes, size: int = 7) -> bytes:
    pieces = [b"%x;ext=1\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
              for i in range(0, len(body), size)]
    return b"".join(pieces) + b"0\r\nTrailer-Field: x\r\n\r\n"


class ScriptedServer:
    """Answers each request on a connection with `answer(request_number)`: bytes to send,
    followed by a close when `close_after(request_number)` says so. Counts connections,
    and the most open at once."""

    def __init__(self, answer, close_after=lambda number: False, delay: float = 0.0,
                 close_delay: float = 0.0):
        self.answer, self.close_after, self.delay = answer, close_after, delay
        self.close_delay = close_delay
        self.requests, self.connections, self.open, self.most_open = [], 0, 0, 0
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.open += 1
                self.most_open = max(self.most_open, self.open)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection):
        with connection:
            while True:
                request = read_request(connection)
                if request is None:
                    break
                with self.lock:
                    self.requests.append(request)
                    number = len(self.requests)
                time.sleep(self.delay)
                connection.sendall(self.answer(number))
                if self.close_after(number):
                    time.sleep(self.close_delay)
                    break
        with self.lock:
            self.open -= 1

    def close(self):
        self.listener.close()


@pytest.fixture
def scripted():
    servers = []

    def start(*args, **kwargs):
        servers.append(ScriptedServer(*args, **kwargs))
        return servers[-1]
    yield start
    for server in servers:
        server.close()


def read_one(client):
    return [e.data for e in client.read_stream_events_forward("s", 0, 1)]


def test_one_connection_carries_every_request(scripted):
    server = scripted(lambda number: FEED)
    with Client("127.0.0.1", server.port, http_client="native") as client:
        for _ in range(5):
            assert read_one(client) == [{"a": 1}]
    assert (server.connections, len(server.requests)) == (1, 5)


@pytest.mark.parametrize("method", ["read", "append"])
def test_a_connection_the_server_dropped_is_replaced_without_an_error(scripted, method):
    """The server closes a kept connection after its answer, as one does at its idle
    timeout: the next request goes out once, on a new connection."""
    appended = b"HTTP/1.1 201 Created\r\nLocation: http://x/streams/s/0\r\nContent-Length: 0\r\n\r\n"
    server = scripted(lambda number: FEED if method == "read" else appended,
                      close_after=lambda number: True)
    with Client("127.0.0.1", server.port, http_client="native") as client:
        for _ in range(3):
            if method == "read":
                assert read_one(client) == [{"a": 1}]
            else:
                client.append_to_stream("s", WriteEvent({"a": 1}, is_json=True))
            time.sleep(0.05)  # the close has arrived before the next request leaves
    assert (server.connections, len(server.requests)) == (3, 3)


def test_connection_close_is_honoured(scripted):
    server = scripted(lambda number: FEED.replace(b"200 OK\r\n", b"200 OK\r\nConnection: close\r\n"),
                      close_after=lambda number: False)
    with Client("127.0.0.1", server.port, http_client="native", request_timeout=3) as client:
        assert read_one(client) == [{"a": 1}]
        assert read_one(client) == [{"a": 1}]
    assert server.connections == 2


@pytest.mark.parametrize("answer", [
    FEED_HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(FEED_BODY),
    b"HTTP/1.0 200 OK\r\nContent-Type: application/vnd.eventstore.atom+json\r\n\r\n" + FEED_BODY,
    b"HTTP/1.1 100 Continue\r\n\r\n" + FEED,
    FEED.replace(b"Content-Type", b"X-Folded: a\r\n  b\r\ncontent-TYPE"),
], ids=["chunked", "until-close", "interim-100", "folded-header"])
def test_every_body_framing_is_read(scripted, answer):
    server = scripted(lambda number: answer, close_after=lambda number: b"HTTP/1.0" in answer)
    with Client("127.0.0.1", server.port, http_client="native", request_timeout=3) as client:
        assert read_one(client) == [{"a": 1}]
        assert read_one(client) == [{"a": 1}]


@pytest.mark.parametrize("answer", [
    FEED_HEAD + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n" + chunked(FEED_BODY),
    FEED_HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
    FEED_HEAD + b"Content-Length: 12, 13\r\n\r\n" + FEED_BODY,
    FEED_HEAD + b"X-Big: " + b"x" * 70_000 + b"\r\n\r\n",
    FEED_HEAD + b"Bad Name: 1\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n",
], ids=["length-and-chunked", "bad-chunk-size", "two-lengths", "huge-head", "bad-name",
        "bad-status"])
def test_malformed_framing_is_a_protocol_error(scripted, answer):
    server = scripted(lambda number: answer, close_after=lambda number: True)
    with Client("127.0.0.1", server.port, http_client="native", request_timeout=3) as client:
        with pytest.raises(errors.ProtocolError):
            read_one(client)


def test_no_more_connections_than_allowed(scripted):
    server = scripted(lambda number: FEED, delay=0.1)
    results = []
    with Client("127.0.0.1", server.port, http_client="native", max_connections=2) as client:
        def done(events):
            results.append(events)
            if len(results) == 8:
                client.resume()
        for _ in range(8):
            client.read_stream_events_forward_async("s", 0, 1, on_success=done,
                                                    on_failed=lambda e: (results.append(e), client.resume()))
        client.wait(timeout=10)
    assert [[e.data for e in r] for r in results] == [[{"a": 1}]] * 8
    assert server.most_open == 2 and server.connections == 2


def test_waiting_for_a_free_connection_counts_against_the_request_timeout(scripted):
    server = scripted(lambda number: FEED, delay=1.0)
    outcomes = []
    with Client("127.0.0.1", server.port, http_client="native", max_connections=1,
                request_timeout=0.5) as client:
        for _ in range(2):
            client.read_stream_events_forward_async(
                "s", 0, 1, on_success=outcomes.append,
                on_failed=lambda e: (outcomes.append(e), client.resume()))
        began = time.monotonic()
        client.wait(timeout=10)
        assert time.monotonic() - began < 0.9
    assert isinstance(outcomes[0], errors.Timeout)


def test_the_default_engine_is_the_native_one(scripted):
    server = scripted(lambda number: FEED)
    for chosen in ("auto", "native"):
        with Client("127.0.0.1", server.port, http_client=chosen) as client:
            assert client.http_engine == "native"
            assert read_one(client) == [{"a": 1}]
    assert b"User-Agent: clientapi" in server.requests[0]
    assert server.requests[0].startswith(b"GET /streams/s/0/forward/1?embed=body HTTP/1.1\r\n"
                                         b"Host: 127.0.0.1:%d\r\n" % server.port)


def backward_page(numbers, next_start):
    entries = [dict(ENTRY, eventNumber=n, eventId=str(uuid.UUID(int=n + 1))) for n in numbers]
    links = [] if next_start is None else [
        {"relation": "next", "uri": f"http://x/streams/s/{next_start}/backward/2"}]
    body = json.dumps({"entries": entries, "links": links, "headOfStream": False}).encode()
    return FEED_HEAD + b"Content-Length: %d\r\n\r\n" % len(body) + body


@pytest.mark.parametrize("count, pages", [(4, 2), (5, 3), (100, 3)])
def test_a_long_read_asks_for_no_page_it_does_not_need(scripted, count, pages):
    """The next page is asked for while one is decoded, but never beyond `count` or the
    stream's floor."""
    answers = [backward_page([5, 4], 3), backward_page([3, 2], 1), backward_page([1, 0], None)]
    server = scripted(lambda number: answers[min(number, 3) - 1])
    with Client("127.0.0.1", server.port, http_client="native") as client:
        events = client.read_stream_events_backward("s", -1, count)
        assert [e.event_number for e in events] == [5, 4, 3, 2, 1, 0][:count]
    assert len(server.requests) == pages


def all_backward_page(numbers, next_position):
    entries = [dict(ENTRY, eventNumber=n, eventId=str(uuid.UUID(int=n + 1))) for n in numbers]
    links = [] if next_position is None else [
        {"relation": "next", "uri": "http://x/streams/%24all/{:032X}/backward/2".format(next_position)}]
    body = json.dumps({"entries": entries, "links": links}).encode()
    return FEED_HEAD + b"Content-Length: %d\r\n\r\n" % len(body) + body


@pytest.mark.parametrize("count, pages", [(4, 2), (5, 3), (100, 3)])
def test_a_long_read_of_all_asks_for_no_page_it_does_not_need(scripted, count, pages):
    answers = [all_backward_page([5, 4], 300), all_backward_page([3, 2], 100),
               all_backward_page([1, 0], None)]
    server = scripted(lambda number: answers[min(number, 3) - 1])
    with Client("127.0.0.1", server.port, "admin", "changeit", http_client="native") as client:
        read = client.read_all_events_backward(-1, -1, count)
    # the scripted pages hold two events whatever size is asked for
    assert [e.event_number for e in read.events] == [5, 4, 3, 2, 1, 0][:2 * pages]
    assert len(server.requests) == pages


def test_a_delete_is_never_sent_twice_but_a_long_idle_connection_is_checked_first(scripted):
    """A delete is not resent (see clientapi.retry). So a kept connection that has stood idle
    is checked for the server's close before it carries a request; a close the client has
    not read yet on a connection idle only briefly is reported instead of resent."""
    deleted = b"HTTP/1.1 204 No Content\r\n\r\n"
    # the server closes each connection 0.3 s after its answer: the blocking client's loop
    # stands still by then, so the close is only read when the next call runs
    server = scripted(lambda number: FEED if number % 2 else deleted,
                      close_after=lambda number: True, close_delay=0.3)
    with Client("127.0.0.1", server.port, "admin", "changeit", http_client="native") as client:
        assert read_one(client) == [{"a": 1}]
        time.sleep(1.2)  # longer than LONG_IDLE_SECONDS: checked, the close is seen
        client.delete_stream("s")
        assert [r.split(b" ")[0] for r in server.requests] == [b"GET", b"DELETE"]
        assert read_one(client) == [{"a": 1}]
        time.sleep(0.5)  # closed by now, but not idle long enough to be checked
        with pytest.raises(errors.ProtocolError):
            client.delete_stream("s")
    assert [r.split(b" ")[0] for r in server.requests] == [b"GET", b"DELETE", b"GET"]
