"""/info, /ping, /gossip, /stats, CORS and OPTIONS, routing answers, malformed requests, keep-alive."""
from __future__ import annotations

import socket

import pytest

from node_http import raw_exchange


def test_info_in_the_v20_shape(client):
    response = client.get("/info", accept=None, auth=None)
    assert response.status == 200 and response.media_type == "application/json"
    info = response.json()
    assert list(info) == ["esVersion", "state", "features", "authentication"]
    assert info["state"] == "leader"
    assert set(info["features"]) == {"projections", "userManagement", "atomPub"}
    assert info["authentication"]["type"] == "internal"


def test_ping(client):
    response = client.get("/ping", accept="application/json", auth=None)
    assert response.json()["text"] == "Ping request successfully handled"


def test_gossip_is_one_leader(client):
    gossip = client.get("/gossip", accept="application/json", auth=None).json()
    assert gossip["serverPort"] == client.node.port
    (member,) = gossip["members"]
    assert member["state"] == "Leader" and member["isAlive"] is True
    assert member["httpEndPointPort"] == client.node.port
    for key in ("instanceId", "timeStamp", "httpEndPointIp", "lastCommitPosition",
                "writerCheckpoint", "chaserCheckpoint", "epochNumber", "epochId", "nodePriority",
                "isReadOnlyReplica", "esVersion"):
        assert key in member


def test_stats_need_authentication_and_are_nested(client):
    assert client.get("/stats", accept="application/json", auth=None).status == 401
    stats = client.get("/stats", accept="application/json")
    assert stats.status == 200 and "proc" in stats.json() and "id" in stats.json()["proc"]
    assert client.get("/stats/proc", accept="application/json").json()["id"] == stats.json()["proc"]["id"]
    assert client.get("/stats/nothing-here", accept="application/json").status == 404


def test_info_options_need_ops(client):
    assert client.get("/info/options", accept="application/json", auth=None).status == 401
    options = client.get("/info/options", accept="application/json", auth=("ops", "changeit"))
    assert options.status == 200 and {"name", "value"} <= set(options.json()[0])


def test_cors_headers_on_every_response(client, stream):
    for response in (client.get("/info"), client.get(f"/streams/{stream}"),
                     client.get("/no/such/route"), client.get("/users/", auth=None)):
        assert response.header("Access-Control-Allow-Origin") == "*"
        assert "ES-LongPoll" in response.header("Access-Control-Allow-Headers")
        assert "ES-RequireLeader" in response.header("Access-Control-Allow-Headers")
        assert "Kurrent-ExpectedVersion" in response.header("Access-Control-Allow-Headers")
        assert response.header("Access-Control-Expose-Headers").startswith(
            "Location, ES-Position, ES-CurrentVersion")


def test_options_answers_any_matched_path(client, stream):
    response = client.request("OPTIONS", f"/streams/{stream}", auth=None)
    assert response.status == 200 and response.body == b""
    assert response.header("Access-Control-Allow-Methods") == "POST, DELETE, GET, OPTIONS"
    single = client.request("OPTIONS", f"/streams/{stream}/0", auth=None)
    assert single.header("Access-Control-Allow-Methods") == "GET, OPTIONS"


def test_unknown_routes_are_404_and_wrong_methods_405(client, stream):
    missing = client.get("/nothing/here")
    assert (missing.status, missing.body) == (404, b"")
    assert missing.header("Access-Control-Allow-Methods") == ""
    wrong = client.request("PUT", f"/streams/{stream}", b"x", {"Content-Type": "application/json"})
    assert wrong.status == 405
    assert wrong.header("Access-Control-Allow-Methods") == "POST, DELETE, GET, OPTIONS"
    patch = client.request("PATCH", "/info")
    assert patch.status == 405


@pytest.mark.parametrize("path, target", [("/streams/abc/", "/streams/abc"),
                                          ("/streams/abc/metadata/", "/streams/abc/metadata"),
                                          ("/streams/%24all/", "/streams/%24all")])
def test_trailing_slash_redirects(client, path, target):
    response = client.get(path + "?embed=body")
    assert response.status == 307 and response.body == b"Moved Permanently"
    assert response.header("Location") == f"{client.node.url}{target}?embed=body"
    assert response.header("Cache-Control") == "max-age=31536000, public"
    post = client.request("POST", path, b"[]", {"Content-Type": "application/json"})
    assert post.status == 307


def test_bad_format_query_is_500_without_a_traceback(client, stream):
    response = client.get(f"/streams/{stream}?format=nonsense")
    assert response.status == 500 and b"Traceback" not in response.body


def test_malformed_http_is_answered_not_crashed(node):
    answer = raw_exchange(node.port, b"GARBAGE\r\n\r\n")
    assert answer == b"" or answer.startswith(b"HTTP/1.1 4")
    answer = raw_exchange(node.port, b"GET /info HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
    assert b"500" not in answer.split(b"\r\n", 1)[0]
    bad_auth = raw_exchange(node.port, b"GET /streams/x HTTP/1.1\r\nHost: x\r\n"
                            b"Authorization: Basic !!!\r\n\r\n")
    assert bad_auth.startswith(b"HTTP/1.1 401")


def test_keep_alive_serves_many_requests_on_one_connection(node):
    with socket.create_connection(("127.0.0.1", node.port), timeout=5) as sock:
        for _ in range(3):
            sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n")
            data = b""
            while b"handled" not in data:
                chunk = sock.recv(65536)
                assert chunk, "the node closed a keep-alive connection"
                data += chunk
            assert data.startswith(b"HTTP/1.1 200")


def _append_request(stream: str, body: bytes, extra: bytes = b"") -> bytes:
    from node_http import basic
    return (f"POST /streams/{stream} HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: {basic('admin', 'changeit')}\r\n"
            f"Content-Type: application/vnd.eventstore.events+json\r\n").encode() + extra


def test_chunked_request_bodies_are_read(node, client, stream):
    body = b'[{"eventId":"6f0e5f1c-3a5e-4c34-8d7c-2b1f7a8e9d01","eventType":"c","data":{}}]'
    request = _append_request(stream, body, b"Transfer-Encoding: chunked\r\n\r\n")
    request += b"%x\r\n%s\r\n" % (10, body[:10]) + b"%x\r\n%s\r\n" % (len(body) - 10, body[10:])
    request += b"0\r\n\r\n"
    answer = raw_exchange(node.port, request)
    assert answer.startswith(b"HTTP/1.1 201 Created"), answer[:200]
    assert client.get(f"/streams/{stream}/0", accept="application/json").status == 200


def test_expect_100_continue_is_honoured(node, stream):
    body = b'[{"eventId":"7f0e5f1c-3a5e-4c34-8d7c-2b1f7a8e9d02","eventType":"c","data":{}}]'
    head = _append_request(stream, body, f"Content-Length: {len(body)}\r\n"
                                         "Expect: 100-continue\r\n\r\n".encode())
    with socket.create_connection(("127.0.0.1", node.port), timeout=5) as sock:
        sock.sendall(head)
        assert sock.recv(100).startswith(b"HTTP/1.1 100")
        sock.sendall(body)
        assert sock.recv(1000).startswith(b"HTTP/1.1 201")


def test_pipelined_requests_are_answered_in_order(node):
    request = b"GET /ping HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n"
    info = b"GET /info HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    answer = raw_exchange(node.port, request + request + info)
    assert answer.count(b"HTTP/1.1 200 OK") == 3
    assert answer.index(b"Ping request") < answer.rindex(b"esVersion")


def test_http_1_0_and_connection_close(node):
    closed = raw_exchange(node.port, b"GET /ping HTTP/1.0\r\n\r\n")
    assert closed.startswith(b"HTTP/1.1 200") and b"Connection: close" in closed
    kept = raw_exchange(node.port, b"GET /ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                                   b"GET /ping HTTP/1.0\r\n\r\n")
    assert kept.count(b"HTTP/1.1 200") == 2


@pytest.mark.parametrize("request_bytes", [
    b"NONSENSE\r\n\r\n", b"GET /ping HTTP/2.0\r\n\r\n", b"GET /ping HTTP/1.1\r\n bad: fold\r\n\r\n",
    b"POST /streams/x HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
    b"POST /streams/x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
    b"POST /streams/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
])
def test_malformed_requests_get_400_and_a_closed_connection(node, request_bytes):
    answer = raw_exchange(node.port, request_bytes)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request") and b"Connection: close" in answer


def test_a_body_over_the_limit_is_413(node):
    answer = raw_exchange(node.port, b"POST /streams/x HTTP/1.1\r\nHost: x\r\n"
                                     b"Content-Length: 999999999999\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413")


def test_compression_only_for_exactly_gzip_or_deflate(client, stream):
    import gzip
    import zlib
    client.append(stream, {"eventType": "z", "data": {"text": "x" * 200}})
    zipped = client.get(f"/streams/{stream}", headers={"Accept-Encoding": "gzip"})
    assert zipped.header("Content-Encoding") == "gzip"
    assert b'"streamId"' in gzip.decompress(zipped.body)
    deflated = client.get(f"/streams/{stream}", headers={"Accept-Encoding": "deflate"})
    assert b'"streamId"' in zlib.decompress(deflated.body, -zlib.MAX_WBITS)
    combined = client.get(f"/streams/{stream}", headers={"Accept-Encoding": "gzip, deflate"})
    assert combined.header("Content-Encoding") is None and combined.json()["streamId"] == stream


def test_http_1_1_without_host_is_400(node):
    answer = raw_exchange(node.port, b"GET /ping HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 Bad Request")
