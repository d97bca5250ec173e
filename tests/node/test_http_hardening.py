"""Inputs the real server reads strictly (.NET TryParse, Kestrel framing) and that Python would
otherwise take or crash on: odd digits, deep nesting, unsafe header values, stalled requests."""
from __future__ import annotations

import json
import socket
import sys
import time
import uuid

import pytest

from clientapi.server.atom.text import json_text
from clientapi.server.http import connection
from node_http import Http

EVENTS_JSON = "application/vnd.eventstore.events+json"


def one_event() -> bytes:
    return json.dumps([{"eventId": str(uuid.uuid4()), "eventType": "t", "data": {"a": 1}}]).encode()


@pytest.mark.parametrize("value", ["1_0", "\u00b2", "9223372036854775808", "--1", "+"])
def test_expected_versions_python_would_take_are_400(client: Http, stream: str, value: str):
    answer = client.request("POST", f"/streams/{stream}", one_event(),
                            {"Content-Type": EVENTS_JSON, "ES-ExpectedVersion": value.encode("latin-1")})
    assert (answer.status, answer.body) == (400, b"ES-ExpectedVersion header in wrong format.")


def test_a_signed_expected_version_is_read_like_dotnet_does(client: Http, stream: str):
    answer = client.request("POST", f"/streams/{stream}", one_event(),
                            {"Content-Type": EVENTS_JSON, "ES-ExpectedVersion": "+1"})
    assert answer.status == 400 and answer.header("ES-CurrentVersion") == "-1"  # wrong version, not format


@pytest.mark.parametrize("position", ["+" + "0" * 31, "0x" + "0" * 30, "0_" + "0" * 30])
def test_all_positions_are_plain_hex(client: Http, position: str):
    answer = client.get(f"/streams/%24all/{position}/forward/5", accept="application/json")
    assert (answer.status, answer.body.decode()) == (400, f"Invalid position argument: {position}")


@pytest.mark.parametrize("path", ["/streams/s/0/forward/2147483648", "/streams/%24all/head/backward/%D9%A1"])
def test_counts_beyond_int32_or_in_other_scripts_are_400(client: Http, path: str):
    assert client.get(path, accept="application/json").status == 400


def test_a_name_with_control_characters_gets_a_percent_encoded_location(client: Http):
    group = "g\x01\u20ac" + uuid.uuid4().hex[:6]
    path = "/subscriptions/odd%00stream/" + group.replace("\x01", "%01").replace("\u20ac", "%E2%82%AC")
    created = client.request("PUT", path, b"{}", {"Content-Type": "application/json"})
    assert created.status == 201
    assert created.header("Location").endswith("/subscriptions/odd%00stream/g%01%E2%82%AC" + group[3:])
    assert client.request("PUT", path, b"{}", {"Content-Type": "application/json"}).status == 409


def test_an_event_nested_beyond_the_recursion_limit_reads_as_text(client: Http, stream: str):
    deep = b"[" * 3000 + b"]" * 3000
    written = client.request("POST", f"/streams/{stream}", deep,
                             {"Content-Type": "application/json", "ES-EventType": "deep",
                              "ES-EventId": str(uuid.uuid4())})
    assert written.status == 201
    event = client.get(f"/streams/{stream}/0", accept="application/vnd.eventstore.event+json")
    assert event.status == 200 and event.json()["data"] == deep.decode()


@pytest.mark.parametrize("leaf,depth", [(None, 400), ({"x": [1, "\u00e9", True, {}]}, 901), ([], 1200)])
def test_deep_documents_render_in_the_usual_layout(leaf, depth):
    deep = leaf
    for level in range(depth):
        deep = [deep, 2] if level % 2 else {"k": deep, "n": None}
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)  # so that json.dumps can say what the text must be
    try:
        expected = json.dumps(deep, indent=2, ensure_ascii=False)
    finally:
        sys.setrecursionlimit(limit)
    assert json_text(deep) == expected


def test_a_request_head_that_never_ends_is_dropped(node, monkeypatch):
    monkeypatch.setattr(connection, "HEAD_SECONDS", 0.3)
    with socket.create_connection((node.host, node.port), timeout=5) as hog:
        hog.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Never-Ends: ")
        began = time.monotonic()
        assert hog.recv(100) == b""  # closed, without an answer
        assert time.monotonic() - began < 3


def test_a_half_closed_request_still_gets_its_answer(node):
    with socket.create_connection((node.host, node.port), timeout=5) as half:
        half.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        half.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := half.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 200 ")
