"""https to the node with a generated self-signed certificate: verification on by default,
a CA file to trust it, an explicit opt-out."""
import ssl

import pytest

from clientapi import Client, WriteEvent, errors
from clientapi.server import Node
from clientapi.server.tls import make_self_signed_certificate

from .processes import NodeProcess

ADMIN = ("admin", "changeit")


@pytest.fixture(scope="module")
def tls_node(certificate):
    with Node(port=0, tls_cert=certificate.cert_file, tls_key=certificate.key_file) as node:
        yield node


@pytest.mark.parametrize("engine", ["native", "curl", "simple"])
def test_round_trip_with_the_certificate_as_ca(tls_node, certificate, stream, engine):
    assert tls_node.url.startswith("https://")
    with Client(tls_node.host, tls_node.port, *ADMIN, https=True, ca_file=certificate.cert_file,
                http_client=engine) as client:
        assert client.base_url.startswith("https://")
        client.append_to_stream(stream, WriteEvent({"secret": "payload"}, is_json=True))
        event = client.read_event(stream, 0)
        assert event.data == {"secret": "payload"}
        # The node builds its links from the scheme the request came in on.
        assert client.admin.gossip().leader().port == tls_node.port


@pytest.mark.parametrize("engine", ["native", "curl", "simple"])
def test_verification_is_on_by_default(tls_node, stream, engine):
    with Client(tls_node.host, tls_node.port, *ADMIN, https=True, http_client=engine) as client:
        with pytest.raises(errors.ConnectionFailure) as caught:
            client.read_stream_events_forward(stream, 0, 1)
    assert "certificate" in str(caught.value).lower()


def test_a_certificate_for_another_name_is_refused(tls_node, tmp_path, stream):
    other = make_self_signed_certificate(str(tmp_path), names=["example.invalid"])
    with Client(tls_node.host, tls_node.port, *ADMIN, https=True, ca_file=other.cert_file) as client:
        with pytest.raises(errors.ConnectionFailure):
            client.read_stream_events_forward(stream, 0, 1)


def test_explicit_opt_out(tls_node, stream):
    with Client(tls_node.host, tls_node.port, *ADMIN, https=True, validate_cert=False) as client:
        client.append_to_stream(stream, WriteEvent("unverified but encrypted"))
        assert client.read_event(stream, 0).data == "unverified but encrypted"


def test_plain_http_to_the_tls_port_fails_cleanly(tls_node, stream):
    with Client(tls_node.host, tls_node.port, *ADMIN, request_timeout=5) as client:
        with pytest.raises((errors.ProtocolError, errors.ConnectionFailure)):
            client.read_stream_events_forward(stream, 0, 1)


def test_certificate_files(certificate):
    context = ssl.create_default_context(cafile=certificate.cert_file)
    assert context.cert_store_stats()["x509_ca"] == 1
    with open(certificate.key_file) as key:
        assert "PRIVATE KEY" in key.read()


def test_node_process_makes_its_own_certificate(stream):
    process = NodeProcess("--tls").wait_until_listening()
    try:
        line = process.first_error_line()
        assert line.startswith("self-signed test certificate: ")
        ca_file = line.split(": ", 1)[1]
        with Client("127.0.0.1", process.port, *ADMIN, https=True, ca_file=ca_file) as client:
            assert client.admin.info()["state"] == "leader"
    finally:
        process.kill()
