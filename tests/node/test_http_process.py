"""`python -m clientapi.server` as a process, and the in-process Node API."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from clientapi.server import Node
from node_http import Http

ROOT = Path(__file__).resolve().parents[2]


def start_process(*arguments: str) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    process = subprocess.Popen([sys.executable, "-m", "clientapi.server", "--port", "0", *arguments],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env, cwd=ROOT)
    line = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+", line)
    if match is None:
        process.kill()
        raise AssertionError(f"no URL line: {line!r} {process.stderr.read()}")
    return process, match.group(0)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_process_prints_its_url_and_stops_cleanly(signum):
    process, url = start_process("--mem")
    try:
        node = Node(port=int(url.rsplit(":", 1)[1]))  # only to borrow the port for Http
        assert Http(node).get("/ping", accept="application/json").status == 200
    finally:
        process.send_signal(signum)
        assert process.wait(20) == 0
    assert "Traceback" not in process.stderr.read()


def test_durable_database_survives_a_restart(tmp_path):
    process, url = start_process("--db", str(tmp_path))
    try:
        http = Http(Node(port=int(url.rsplit(":", 1)[1])))
        assert http.append("kept", {"eventType": "a", "data": {"n": 1}}).status == 201
    finally:
        process.terminate()
        assert process.wait(20) == 0
    process, url = start_process("--db", str(tmp_path))
    try:
        http = Http(Node(port=int(url.rsplit(":", 1)[1])))
        assert http.get("/streams/kept/0", accept="application/json").json() == {"n": 1}
    finally:
        process.terminate()
        process.wait(20)


def test_bad_arguments_are_refused():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-m", "clientapi.server", "--run-projections", "some"],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=30)
    assert result.returncode == 2 and "run-projections" in result.stderr


def test_in_process_node_on_a_free_port_starts_and_stops():
    node = Node(port=0)
    node.start()
    try:
        assert node.port > 0 and node.url == f"http://127.0.0.1:{node.port}"
        assert Http(node).get("/info", accept="application/json").status == 200
    finally:
        node.stop()
    with pytest.raises(OSError):
        Http(node).get("/info")


def test_port_in_use_fails_start(node):
    with pytest.raises(OSError):
        Node(port=node.port).start()


def test_admin_shutdown_ends_the_process():
    process, url = start_process("--mem")
    try:
        http = Http(Node(port=int(url.rsplit(":", 1)[1])))
        assert http.request("POST", "/admin/shutdown").status == 200
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_tls_node_serves_https_with_links_in_https(tmp_path):
    import http.client
    import json
    import ssl

    from clientapi.server.tls import make_self_signed_certificate, openssl_available
    from node_http import basic
    if not openssl_available():
        pytest.skip("no openssl command here")
    pair = make_self_signed_certificate(str(tmp_path))
    with Node(port=0, tls_cert=pair.cert_file, tls_key=pair.key_file) as node:
        assert node.url.startswith("https://")
        context = ssl.create_default_context(cafile=pair.cert_file)
        connection = http.client.HTTPSConnection("127.0.0.1", node.port, context=context, timeout=10)
        body = json.dumps([{"eventId": "3f0e5f1c-3a5e-4c34-8d7c-2b1f7a8e9d05", "eventType": "t",
                            "data": {}}])
        connection.request("POST", "/streams/secure", body, {
            "Content-Type": "application/vnd.eventstore.events+json",
            "Authorization": basic("admin", "changeit")})
        response = connection.getresponse()
        response.read()
        assert response.status == 201
        assert response.getheader("Location") == f"https://127.0.0.1:{node.port}/streams/secure/0"
        connection.close()
