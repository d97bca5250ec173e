"""The database directory: one node at a time, a damaged database is refused (and left as it
is), an unusable path is a clear error, and a clean stop (SIGTERM) under load is quick and
loses nothing."""
from __future__ import annotations

import socket
import time
import uuid

import pytest

from clientapi import Client, WriteEvent

from .processes import NodeProcess
from .rawhttp import ADMIN_AUTH

pytestmark = pytest.mark.slow


def test_a_second_node_on_the_same_database_is_refused(tmp_path):
    first = NodeProcess(str(tmp_path / "db"))
    second = NodeProcess(str(tmp_path / "db"))
    first.start()
    try:
        with pytest.raises(RuntimeError, match="did not start"):
            second.start()
    finally:
        second.kill()
        first.kill()


def test_a_damaged_database_is_refused_and_left_as_it_is(tmp_path):
    database = tmp_path / "db"
    database.mkdir()
    damaged = b"not a database " * 1000
    (database / "events.db").write_bytes(damaged)
    node = NodeProcess(str(database))
    with pytest.raises(RuntimeError, match="did not start"):
        node.start()
    node.kill()
    assert (database / "events.db").read_bytes() == damaged


def test_a_database_path_that_is_a_file_is_a_clear_error(tmp_path):
    path = tmp_path / "a-file"
    path.write_text("x")
    node = NodeProcess(str(path))
    with pytest.raises(RuntimeError) as refused:
        node.start()
    node.kill()
    assert "cannot start the node" in str(refused.value)


def test_sigterm_under_load_stops_quickly_and_keeps_every_acknowledged_event(tmp_path):
    node = NodeProcess(str(tmp_path / "db"))
    node.start()
    stream = "sigterm-" + uuid.uuid4().hex[:8]
    parked = []
    with Client("127.0.0.1", node.port, "admin", "changeit") as client:
        numbers = [client.append_to_stream(stream, [WriteEvent({"i": i}, is_json=True)])[0]
                   for i in range(50)]
    for _ in range(20):  # long polls that would wait 30 s
        connection = socket.create_connection(("127.0.0.1", node.port), timeout=5)
        connection.sendall(f"GET /streams/{stream}/50/forward/5 HTTP/1.1\r\nHost: x\r\n"
                           f"Authorization: {ADMIN_AUTH}\r\nAccept: application/json\r\n"
                           f"ES-LongPoll: 30\r\n\r\n".encode())
        parked.append(connection)
    process = node.process
    began = time.monotonic()
    node.stop()
    took = time.monotonic() - began
    for connection in parked:
        connection.close()
    assert process.returncode == 0, node.stderr_text()
    assert took < 10.0, f"SIGTERM took {took:.1f} s"
    node.start()
    try:
        with Client("127.0.0.1", node.port, "admin", "changeit") as client:
            assert [e.event_number for e in client.read_stream_events_forward(stream, 0, 100)] == numbers
    finally:
        node.kill()
