"""ES-LongPoll on forward pages and `$all`: woken by appends, bounded, never blocking others."""
from __future__ import annotations

import threading
import time

import pytest

from node_http import Http


def poll_in_background(node, path, seconds=5, headers=None):
    result = {}

    def run():
        connection = Http(node)
        started = time.perf_counter()
        sent = {"ES-LongPoll": str(seconds)}
        sent.update(headers or {})
        result["response"] = connection.get(path, headers=sent)
        result["elapsed"] = time.perf_counter() - started
        connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def test_poll_past_the_end_is_woken_by_an_append(node, client, stream):
    client.fill(stream, 2)
    thread, result = poll_in_background(node, f"/streams/{stream}/2/forward/20?embed=body")
    time.sleep(0.3)
    started = time.perf_counter()
    client.append(stream, {"eventType": "woke", "data": {}})
    thread.join(10)
    assert time.perf_counter() - started < 1.0
    feed = result["response"].json()
    assert [entry["eventType"] for entry in feed["entries"]] == ["woke"]
    assert any(link["relation"] == "previous" for link in feed["links"])


def test_poll_times_out_with_the_empty_page(client, stream):
    client.fill(stream, 1)
    started = time.perf_counter()
    response = client.get(f"/streams/{stream}/1/forward/20", headers={"ES-LongPoll": "1"})
    assert 0.9 < time.perf_counter() - started < 3
    feed = response.json()
    assert response.status == 200 and feed["entries"] == []
    assert "previous" not in {link["relation"] for link in feed["links"]}


def test_a_parked_poll_does_not_block_other_requests(node, client, stream):
    client.fill(stream, 1)
    thread, result = poll_in_background(node, f"/streams/{stream}/1/forward/20", seconds=3)
    time.sleep(0.2)
    started = time.perf_counter()
    assert client.get(f"/streams/{stream}").status == 200
    assert client.append(stream + "-other", {"eventType": "x", "data": {}}).status == 201
    assert time.perf_counter() - started < 1.0
    client.append(stream, {"eventType": "end", "data": {}})
    thread.join(10)
    assert result["response"].status == 200


def test_poll_on_a_missing_stream_waits_for_it(node, client, stream):
    thread, result = poll_in_background(node, f"/streams/{stream}/0/forward/20")
    time.sleep(0.3)
    client.append(stream, {"eventType": "born", "data": {}})
    thread.join(10)
    assert result["response"].status == 200 and result["elapsed"] < 3
    missing = client.get(f"/streams/{stream}-never/0/forward/20", headers={"ES-LongPoll": "1"})
    assert missing.status == 404


def test_poll_on_all_is_woken_by_any_append(node, client, stream):
    client.fill(stream, 1)
    head = client.get("/streams/%24all/head/backward/1").json()
    previous = next(l["uri"] for l in head["links"] if l["relation"] == "previous")
    thread, result = poll_in_background(node, previous[len(node.url):])
    time.sleep(0.3)
    client.append(stream + "-elsewhere", {"eventType": "any", "data": {}})
    thread.join(10)
    assert result["elapsed"] < 3
    assert [e["title"] for e in result["response"].json()["entries"]] == [f"0@{stream}-elsewhere"]


def test_poll_header_is_ignored_on_head_reads(client, stream):
    client.fill(stream, 1)
    started = time.perf_counter()
    assert client.get(f"/streams/{stream}", headers={"ES-LongPoll": "abc"}).status == 200
    assert client.get(f"/streams/{stream}", headers={"ES-LongPoll": "5"}).status == 200
    assert time.perf_counter() - started < 2


@pytest.mark.parametrize("value", ["0", "-1", "abc"])
def test_bad_long_poll_values_on_forward_reads_are_400(client, stream, value):
    client.fill(stream, 1)
    response = client.get(f"/streams/{stream}/1/forward/20", headers={"ES-LongPoll": value})
    assert response.status == 400 and response.body == b"ES-LongPoll header in wrong format."


def test_if_none_match_still_parks_beyond_the_end(node, client, stream):
    client.fill(stream, 1)
    etag = client.get(f"/streams/{stream}/1/forward/20").header("ETag")
    thread, result = poll_in_background(node, f"/streams/{stream}/1/forward/20",
                                        headers={"If-None-Match": etag})
    time.sleep(0.3)
    client.append(stream, {"eventType": "x", "data": {}})
    thread.join(10)
    assert result["response"].status == 200 and result["response"].json()["entries"]


def test_a_client_leaving_ends_its_poll(node, client, stream):
    import socket

    from node_http import basic
    client.fill(stream, 1)
    sock = socket.create_connection(("127.0.0.1", node.port))
    sock.sendall(f"GET /streams/{stream}/1/forward/20 HTTP/1.1\r\nHost: x\r\n"
                 f"Accept: application/vnd.eventstore.atom+json\r\nES-LongPoll: 30\r\n"
                 f"Authorization: {basic('admin', 'changeit')}\r\n\r\n".encode())
    deadline = time.monotonic() + 5
    while not node.long_polls and time.monotonic() < deadline:
        time.sleep(0.02)
    assert node.long_polls, "the poll never parked"
    sock.close()
    deadline = time.monotonic() + 5
    while node.long_polls and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not node.long_polls
