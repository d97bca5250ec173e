"""Limits: event and body sizes, page sizes, many idle or slow connections, long polls."""
from __future__ import annotations

import json
import socket
import threading
import time
import uuid

import pytest

from clientapi import Client, WriteEvent, errors
from clientapi.server.http import reading
from clientapi.server.http import subscriptions as subscription_routes

from .rawhttp import ADMIN_AUTH, EVENTS_JSON, RawHttp, append_json

FOUR_MIB = 4 * 1024 * 1024
READ = {"Authorization": ADMIN_AUTH, "Accept": "application/vnd.eventstore.atom+json"}


@pytest.fixture
def http(node):
    client = RawHttp(node.host, node.port)
    yield client
    client.close()


def test_single_event_over_4_mib_is_413_and_not_written(node, http, stream_name):
    before = node.core.head_position()
    answer = http.request("POST", f"/streams/{stream_name}", b"x" * (FOUR_MIB + 1), {
        "Authorization": ADMIN_AUTH, "Content-Type": "application/octet-stream",
        "ES-EventType": "big", "ES-EventId": str(uuid.uuid4())})
    assert (answer.status, answer.text) == (413, "Too large events received. Limit is 4mb")
    assert node.core.head_position() == before


def test_event_of_exactly_4_mib_is_accepted(http, stream_name):
    answer = http.request("POST", f"/streams/{stream_name}", b"x" * FOUR_MIB, {
        "Authorization": ADMIN_AUTH, "Content-Type": "application/octet-stream",
        "ES-EventType": "big", "ES-EventId": str(uuid.uuid4())})
    assert answer.status == 201


def test_data_plus_metadata_over_4_mib_is_413(node, http, stream_name):
    half = "y" * (FOUR_MIB // 2 + 1)
    body = json.dumps([{"eventId": str(uuid.uuid4()), "eventType": "t", "data": half,
                        "metadata": half}]).encode()
    before = node.core.head_position()
    answer = http.request("POST", f"/streams/{stream_name}", body,
                          {"Authorization": ADMIN_AUTH, "Content-Type": EVENTS_JSON})
    assert answer.status == 413
    assert node.core.head_position() == before


def test_client_refuses_an_append_over_its_max_append_size_before_sending(node, stream_name):
    events = [WriteEvent("z" * 1000) for _ in range(1100)]  # ~1.1 MB > the 1 MiB default
    with Client(node.host, node.port, "admin", "changeit") as client:
        with pytest.raises(errors.AppendTooLarge) as refused:
            client.append_to_stream(stream_name, events)
        assert refused.value.limit == 1024 * 1024 and "split the batch" in str(refused.value)
        with pytest.raises(errors.StreamNotFound):
            client.read_event(stream_name, 0)
    with Client(node.host, node.port, "admin", "changeit", max_append_size=4 * 1024 * 1024) as client:
        assert client.append_to_stream(stream_name, events)[-1] == 1099


def test_body_over_the_nodes_limit_is_refused_at_once_without_reading_it(node):
    before = node.core.head_position()
    with socket.create_connection((node.host, node.port), timeout=5) as connection:
        connection.sendall(b"POST /streams/huge HTTP/1.1\r\nHost: x\r\nAuthorization: "
                           + ADMIN_AUTH.encode() + b"\r\nContent-Type: " + EVENTS_JSON.encode()
                           + b"\r\nContent-Length: 10000000000\r\n\r\n")
        answer = connection.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert node.core.head_position() == before


@pytest.mark.parametrize("path", ["/streams/limits-page/0/forward/4097",
                                  "/streams/limits-page/head/backward/4097",
                                  "/streams/%24all/00000000000000000000000000000000/forward/4097"])
def test_page_over_4096_is_the_real_500(http, path):
    append_json(http, "/streams/limits-page", [{"eventId": str(uuid.uuid4()), "eventType": "t"}])
    answer = http.request("GET", path, None, READ)
    assert answer.status == 500
    assert "Read size too big, should be less than 4096 items" in answer.reason + answer.text


def test_many_idle_and_slow_connections_do_not_starve_the_node(node, stream_name):
    idle, slow = [], []
    try:
        for _ in range(300):
            idle.append(socket.create_connection((node.host, node.port), timeout=5))
        for index in range(50):
            connection = socket.create_connection((node.host, node.port), timeout=5)
            connection.sendall(b"GET /streams/x HTTP/1.1\r\nHost: x\r\nX-Slow-" + str(index).encode())
            slow.append(connection)
        with Client(node.host, node.port, "admin", "changeit", request_timeout=5.0) as client:
            began = time.monotonic()
            for i in range(20):
                client.append_to_stream(stream_name, WriteEvent(str(i)))
            assert len(client.read_stream_events_forward(stream_name, 0, 100)) == 20
            for connection in slow:  # still trickling
                connection.sendall(b"a")
            assert time.monotonic() - began < 5.0
    finally:
        for connection in idle + slow:
            connection.close()


def test_long_polls_are_capped(node, http, stream_name, monkeypatch):
    monkeypatch.setattr(reading, "LONG_POLL_CAP_SECONDS", 1.0)
    append_json(http, f"/streams/{stream_name}", [{"eventId": str(uuid.uuid4()), "eventType": "t"}])
    for path in (f"/streams/{stream_name}/1/forward/5",
                 "/streams/%24all/" + "{:016X}".format(node.core.head_position()) * 2 + "/forward/5"):
        began = time.monotonic()
        answer = http.request("GET", path, None, {**READ, "ES-LongPoll": "3600"})
        waited = time.monotonic() - began
        assert answer.status == 200 and answer.json()["entries"] == []
        assert 0.8 <= waited < 5.0, f"{path}: waited {waited:.1f} s"


def test_persistent_subscription_long_polls_are_capped(node, http, stream_name, monkeypatch):
    monkeypatch.setattr(subscription_routes, "LONG_POLL_CAP_SECONDS", 1.0)
    created = http.request("PUT", f"/subscriptions/{stream_name}/capped", b"{}",
                           {"Authorization": ADMIN_AUTH, "Content-Type": "application/json"})
    assert created.status == 201
    began = time.monotonic()
    answer = http.request("GET", f"/subscriptions/{stream_name}/capped/5", None, {
        "Authorization": ADMIN_AUTH, "Accept": "application/vnd.eventstore.competingatom+json",
        "ES-LongPoll": "3600"})
    waited = time.monotonic() - began
    assert answer.status == 200 and answer.json()["entries"] == []
    assert 0.8 <= waited < 5.0, f"waited {waited:.1f} s"


def test_many_parked_long_polls_leave_the_node_responsive_and_end_with_their_clients(node, stream_name):
    parked = []
    try:
        for _ in range(100):
            connection = socket.create_connection((node.host, node.port), timeout=5)
            connection.sendall(f"GET /streams/{stream_name}/0/forward/5 HTTP/1.1\r\nHost: x\r\n"
                               f"Authorization: {ADMIN_AUTH}\r\nAccept: application/json\r\n"
                               f"ES-LongPoll: 30\r\n\r\n".encode())
            parked.append(connection)
        deadline = time.monotonic() + 5
        while len(node.long_polls) < 90 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(node.long_polls) >= 90
        with Client(node.host, node.port, "admin", "changeit", request_timeout=3.0) as client:
            client.append_to_stream("other-" + stream_name, WriteEvent("x"))
    finally:
        for connection in parked:
            connection.close()
    deadline = time.monotonic() + 5
    while node.long_polls and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not node.long_polls, ("long polls outlived their connections: a client that closes (FIN) "
                                 "must end its parked poll at once, not when the poll times out")


@pytest.mark.slow
def test_slow_connections_cannot_use_up_the_node_for_good(tmp_path):
    from .processes import NodeProcess
    node = NodeProcess(str(tmp_path / "db"), max_open_files=96)
    node.start()
    hogs = []
    try:
        for index in range(140):  # more than the node can hold open
            connection = socket.socket()
            connection.settimeout(2)
            try:
                connection.connect((node.host, node.port))
                connection.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Never-Ends-" + str(index).encode())
            except OSError:
                pass
            hogs.append(connection)
        with Client(node.host, node.port, "admin", "changeit", request_timeout=6.0,
                    connect_timeout=6.0) as client:
            client.append_to_stream("after-the-hogs", WriteEvent("served"))
    finally:
        for connection in hogs:
            connection.close()
        node.kill()


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason=(
    "a large append is written on the node's event loop (core/writes.py: building the rows, "
    "sqlite executemany, index and recent-cache updates; the body is parsed off the loop "
    "since): a 150k-event batch (~14 MB) still stalls other requests for about a second. "
    "Not strict while it hovers around the 1 s limit"))
def test_a_huge_append_does_not_freeze_the_node_for_others(node, stream_name):
    body = json.dumps([{"eventId": str(uuid.uuid4()), "eventType": "t", "data": {"i": i}}
                       for i in range(150_000)]).encode()
    latencies = []
    done = threading.Event()

    def ping() -> None:
        http = RawHttp(node.host, node.port)
        while not done.is_set():
            began = time.monotonic()
            http.request("GET", "/ping")
            latencies.append(time.monotonic() - began)
            time.sleep(0.01)
        http.close()
    pinger = threading.Thread(target=ping, daemon=True)
    pinger.start()
    time.sleep(0.2)
    http = RawHttp(node.host, node.port, timeout=120)
    try:
        answer = http.request("POST", f"/streams/{stream_name}", body,
                              {"Authorization": ADMIN_AUTH, "Content-Type": EVENTS_JSON})
    finally:
        done.set()
        pinger.join(10)
        http.close()
    assert answer.status == 201
    assert max(latencies) < 1.0, f"a ping waited {max(latencies):.1f} s behind the append"
