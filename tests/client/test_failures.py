"""Failures no healthy node produces: unreachable servers, silent servers, broken answers.
Each is a real socket peer that misbehaves in one precise way."""
import json
import socket
import struct
import threading
import time

import pytest
import tornado

from clientapi import Client, WriteEvent, errors
from tests.faults.misbehaving import read_request


class MisbehavingServer:
    """Accepts connections, reads one request, then sends `answer` (bytes, or None to stay
    silent; a list gives one answer per connection, the last one repeating) and closes
    (with `reset`, abortively: the peer sees a connection reset)."""

    def __init__(self, answer, reset=False):
        self.reset = reset
        self.answers = list(answer) if isinstance(answer, list) else [answer]
        self.requests = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.listener.settimeout(0.1)
        while not self.stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(5)
                self.requests.append(read_request(connection))
                answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
                if answer is None:
                    self.stop.wait(10)
                else:
                    connection.sendall(answer)
                    if self.reset:
                        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


    def close(self):
        self.stop.set()
        self.thread.join()
        self.listener.close()


@pytest.fixture
def misbehaving():
    servers = []

    def start(answer, reset=False):
        server = MisbehavingServer(answer, reset)
        servers.append(server)
        return server
    yield start
    for server in servers:
        server.close()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_server_is_a_connection_failure(engine):
    with Client("127.0.0.1", free_port(), http_client=engine) as client:
        with pytest.raises(errors.ConnectionFailure):
            client.read_event("s", 0)
        failures = []
        client.read_event_async("s", 0, on_failed=lambda e: (failures.append(e), client.resume()))
        client.wait(timeout=10)
        assert isinstance(failures[0], errors.ConnectionFailure)


def test_silent_server_is_a_timeout(misbehaving, engine):
    server = misbehaving(None)
    with Client("127.0.0.1", server.port, request_timeout=0.3, http_client=engine) as client:
        with pytest.raises(errors.Timeout):
            client.read_stream_events_forward("s", 0, 5)


FEED_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.eventstore.atom+json\r\n"


@pytest.mark.parametrize("answer", [
    FEED_HEAD + b"Content-Length: 9\r\n\r\n{not json",
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\n<html></html>",
    FEED_HEAD + b'Content-Length: 15\r\n\r\n{"entries": 42}',
    FEED_HEAD + b"Content-Length: 500\r\n\r\n{\"entries\": [",   # cut mid-body
    b"",                                                          # closed without a word
    b"NOT HTTP AT ALL\r\n\r\n",
], ids=["bad-json", "wrong-type", "wrong-shape", "cut", "closed", "garbage"])
def test_invalid_responses_are_protocol_errors(misbehaving, engine, answer):
    server = misbehaving(answer)
    expected = errors.ProtocolError
    if answer.startswith(b"NOT HTTP") and engine == "simple" and tornado.version_info < (6, 6):
        # tornado < 6.6's simple client sits on a malformed status line until the timeout
        expected = (errors.ProtocolError, errors.Timeout)
    with Client("127.0.0.1", server.port, http_client=engine, request_timeout=3) as client:
        with pytest.raises(expected):
            client.read_stream_events_forward("s", 0, 5)


def test_a_reset_mid_body_is_a_protocol_error_at_once(misbehaving, engine):
    server = misbehaving(FEED_HEAD + b"Content-Length: 500\r\n\r\n{\"entries\": [", reset=True)
    began = time.monotonic()
    with Client("127.0.0.1", server.port, http_client=engine, request_timeout=5) as client:
        with pytest.raises(errors.ProtocolError):
            client.read_stream_events_forward("s", 0, 5)
    assert time.monotonic() - began < 2.5, "the reset was only noticed at the request timeout"


def feed_answer(document):
    body = json.dumps(document).encode()
    return FEED_HEAD + b"Content-Length: %d\r\n\r\n" % len(body) + body


def test_a_broken_page_of_a_long_read_is_a_protocol_error(misbehaving, engine):
    more = {"relation": "next", "uri": "http://x/streams/s/3/backward/5000"}
    good_entry = {"eventId": "fbf4a1a1-b4a3-4dfe-a01f-ec52c34e16e4", "eventType": "t", "eventNumber": 4,
                  "streamId": "s", "isJson": True, "data": "{}"}
    server = misbehaving([feed_answer({"entries": [{"title": 5}], "links": [more]}),
                          feed_answer({"entries": [good_entry], "links": []})])
    with Client("127.0.0.1", server.port, http_client=engine, request_timeout=3) as client:
        with pytest.raises(errors.ProtocolError):
            client.read_stream_events_backward("s", -1, 5000)
        # and the client stays usable
        assert [e.event_number for e in client.read_stream_events_backward("s", -1, 1)] == [4]


def test_append_without_location_is_a_protocol_error(misbehaving):
    server = misbehaving(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
    with Client("127.0.0.1", server.port) as client:
        with pytest.raises(errors.ProtocolError):
            client.append_to_stream("s", WriteEvent("x"))


def test_server_message_comes_from_the_reason_phrase_or_text_body(misbehaving):
    server = misbehaving(b"HTTP/1.1 400 ES-ExpectedVersion header in wrong format.\r\n"
                         b"Content-Length: 0\r\n\r\n")
    with Client("127.0.0.1", server.port) as client:
        with pytest.raises(errors.BadRequest) as caught:
            client.append_to_stream("s", WriteEvent("x"))
    assert caught.value.message == "ES-ExpectedVersion header in wrong format."
    body = b"Empty eventId provided."
    server = misbehaving(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
    with Client("127.0.0.1", server.port) as client:
        with pytest.raises(errors.BadRequest) as caught:
            client.append_to_stream("s", WriteEvent("x"))
    assert caught.value.message == "Empty eventId provided."


def test_kurrent_current_version_header(misbehaving):
    server = misbehaving(b"HTTP/1.1 400 Wrong expected EventNumber\r\nKurrent-CurrentVersion: 7\r\n"
                         b"ES-CurrentVersion: 7\r\nContent-Length: 0\r\n\r\n")
    with Client("127.0.0.1", server.port) as client:
        with pytest.raises(errors.WrongExpectedVersion) as caught:
            client.append_to_stream("s", WriteEvent("x"), 3)
    assert caught.value.current_version == 7


def test_retries_resend_an_append_with_the_same_event_ids(misbehaving, engine):
    server = misbehaving([b"", b"HTTP/1.1 201 Created\r\nLocation: http://x/streams/s/4\r\n"
                               b"Content-Length: 0\r\n\r\n"])
    events = [WriteEvent("a"), WriteEvent("b")]
    with Client("127.0.0.1", server.port, retries=1, http_client=engine) as client:
        assert client.append_to_stream("s", events) == [4, 5]
    assert len(server.requests) == 2 and server.requests[0] == server.requests[1]
    assert str(events[0].event_id).encode() in server.requests[0]


def test_deletes_are_not_retried(misbehaving):
    server = misbehaving([b"", b"HTTP/1.1 204 Stream deleted\r\nContent-Length: 0\r\n\r\n"])
    with Client("127.0.0.1", server.port, retries=3) as client:
        with pytest.raises(errors.ProtocolError):
            client.delete_stream("s")
    assert len(server.requests) == 1


def test_header_lines_are_read_whatever_their_spacing_and_order(misbehaving, engine):
    """The curl engine reads plain header lines its own quick way: values keep their meaning
    with odd spacing, headers starting with H are not taken for a status line, and the
    current version still comes through."""
    answer = (b"HTTP/1.1 400 Wrong expected EventNumber\r\n"
              b"Hx-Note: first\r\n"
              b"ES-CurrentVersion:    7   \r\n"
              b"Access-Control-Allow-Methods: POST\r\n"
              b"Access-Control-Allow-Methods: GET\r\n"
              b"Content-Type: text/plain; charset=utf-8\r\n"
              b"Content-Length: 0\r\n\r\n")
    server = misbehaving(answer)
    with Client("127.0.0.1", server.port, http_client=engine, request_timeout=3) as client:
        with pytest.raises(errors.WrongExpectedVersion) as raised:
            client.append_to_stream("s", WriteEvent("x"), expected_version=3)
    assert raised.value.current_version == 7
    assert raised.value.status == 400


def test_an_unreadable_ca_file_is_a_connection_failure(misbehaving, engine, tmp_path):
    not_a_certificate = tmp_path / "ca.pem"
    not_a_certificate.write_text("this is not a certificate\n")
    server = misbehaving(None)
    with Client("127.0.0.1", server.port, https=True, ca_file=str(not_a_certificate),
                http_client=engine, request_timeout=3) as client:
        with pytest.raises(errors.ConnectionFailure):
            client.read_event("s", 0)
