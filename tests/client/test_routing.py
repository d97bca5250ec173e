"""https with a CA file, leader redirects, and the public pytest fixtures.

The node itself speaks plain HTTP, so TLS is provided by a small terminating proxy in
front of it (tornado HTTPServer with the test certificate in tests/client/tls, issued for
127.0.0.1 by a test CA), and a follower by a server that answers 307 to the leader, as a
real follower does for ES-RequireLeader."""
import os
import ssl
import threading

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

from clientapi import Client, WriteEvent, errors

TLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tls")
CA_FILE = os.path.join(TLS, "ca.pem")


class Forward(RequestHandler):
    """Relays each request to the node unchanged (the TLS proxy)."""
    SUPPORTED_METHODS = ("GET", "POST", "DELETE")

    async def relay(self):
        node_url = self.settings["node_url"]
        answer = await AsyncHTTPClient().fetch(HTTPRequest(
            node_url + self.request.uri, method=self.request.method, headers=self.request.headers,
            body=self.request.body if self.request.method == "POST" else None,
            follow_redirects=False, decompress_response=False), raise_error=False)
        self.set_status(answer.code, answer.reason)
        for name in ("Content-Type", "Location", "ES-CurrentVersion"):
            if name in answer.headers:
                self.set_header(name, answer.headers[name])
        if answer.body:
            self.write(answer.body)

    get = post = delete = relay


class Follower(RequestHandler):
    """Answers like a follower asked for the leader: 307 to the same path on the leader."""
    SUPPORTED_METHODS = ("GET", "POST", "DELETE")

    def redirect_to_leader(self):
        self.settings["seen"].append(dict(self.request.headers))
        if self.request.headers.get("ES-RequireLeader") == "True":
            self.set_status(307)
            self.set_header("Location", self.settings["node_url"] + self.request.uri)
        else:
            self.set_status(500, "Expected ES-RequireLeader")

    get = post = delete = redirect_to_leader


class ServerThread:
    def __init__(self, handler, ssl_options=None, **settings):
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(handler, ssl_options, settings),
                                       daemon=True)
        self.thread.start()
        self.ready.wait(10)

    def _run(self, handler, ssl_options, settings):
        self.io_loop = IOLoop(make_current=False)

        async def start():
            sockets = bind_sockets(0, "127.0.0.1")
            self.port = sockets[0].getsockname()[1]
            self.server = HTTPServer(Application([(r".*", handler)], **settings), ssl_options=ssl_options)
            self.server.add_sockets(sockets)
            self.ready.set()
        self.io_loop.run_sync(start)
        self.io_loop.start()
        self.io_loop.close(all_fds=True)

    def stop(self):
        async def shutdown():
            self.server.stop()
            await self.server.close_all_connections()
            self.io_loop.stop()
        self.io_loop.add_callback(shutdown)
        self.thread.join(10)


def server_context(require_client_certificate=False):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(os.path.join(TLS, "server.pem"), os.path.join(TLS, "server.key"))
    if require_client_certificate:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(CA_FILE)
    return context


@pytest.fixture
def tls_proxy(shared_node):
    server = ServerThread(Forward, ssl_options=server_context(), node_url=shared_node.url)
    yield server
    server.stop()


@pytest.fixture
def mutual_tls_proxy(shared_node):
    server = ServerThread(Forward, ssl_options=server_context(True), node_url=shared_node.url)
    yield server
    server.stop()


def test_https_with_a_ca_file(tls_proxy, stream, engine):
    with Client("127.0.0.1", tls_proxy.port, "admin", "changeit", https=True, ca_file=CA_FILE,
                http_client=engine) as client:
        assert client.base_url.startswith("https://")
        assert client.append_to_stream(stream, WriteEvent({"tls": True}, is_json=True)) == [0]
        assert client.read_event(stream, 0).data == {"tls": True}


def test_https_refuses_an_unknown_certificate_unless_told_not_to_check(tls_proxy, stream, engine):
    with Client("127.0.0.1", tls_proxy.port, https=True, http_client=engine) as client:
        with pytest.raises(errors.ConnectionFailure):
            client.read_stream_events_forward(stream, 0, 1)
    with Client("127.0.0.1", tls_proxy.port, "admin", "changeit", https=True, validate_cert=False,
                http_client=engine) as client:
        with pytest.raises(errors.StreamNotFound):
            client.read_stream_events_forward(stream, 0, 1)


def test_client_certificates(mutual_tls_proxy, stream, engine):
    with Client("127.0.0.1", mutual_tls_proxy.port, "admin", "changeit", https=True, ca_file=CA_FILE,
                http_client=engine) as client:
        with pytest.raises((errors.ConnectionFailure, errors.ProtocolError)):
            client.read_stream_events_forward(stream, 0, 1)
    with Client("127.0.0.1", mutual_tls_proxy.port, "admin", "changeit", https=True, ca_file=CA_FILE,
                client_cert=os.path.join(TLS, "client.pem"), client_key=os.path.join(TLS, "client.key"),
                http_client=engine) as client:
        assert client.append_to_stream(stream, WriteEvent("x")) == [0]


@pytest.fixture
def follower(shared_node):
    seen = []
    server = ServerThread(Follower, node_url=shared_node.url, seen=seen)
    server.seen = seen
    yield server
    server.stop()


def test_require_leader_follows_the_redirect_with_body_and_credentials(follower, stream, engine):
    with Client("127.0.0.1", follower.port, "admin", "changeit", require_leader=True,
                http_client=engine) as client:
        events = [WriteEvent({"n": n}, is_json=True) for n in range(2)]
        assert client.append_to_stream(stream, events) == [0, 1]
        # $all needs admin: the credentials went to the leader too
        assert client.read_all_events_backward(-1, -1, 2).events[0].stream_id == stream
    assert all(h.get("Es-Requireleader") == "True" and h.get("Es-Requiremaster") == "True"
               for h in follower.seen)
    assert len(follower.seen) == 2


def test_the_public_fixtures(eventstore_node, eventstore_client, stream):
    assert eventstore_client.base_url == eventstore_node.url
    eventstore_client.create_stream(stream)
    # a fresh node: only our stream's event plus what the node writes at start
    assert eventstore_client.read_event(stream, 0).event_type == "$stream-created"
