"""The original client's hello world, in Python 3.

Talks to an EventStore node on 127.0.0.1:2113; when nothing answers there it starts
the embedded node on that address for the length of the run.
"""
import socket
import sys
from contextlib import ExitStack

from clientapi import Client, WriteEvent
from clientapi.server import Node

HOST, PORT = "127.0.0.1", 2113


def something_listens(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def main() -> int:
    with ExitStack() as stack:
        if not something_listens(HOST, PORT):
            print(f"no node on {HOST}:{PORT}; starting the embedded one")
            stack.enter_context(Node(host=HOST, port=PORT))

        client = Client(HOST, PORT, username="admin", password="changeit")
        client.create_stream("some_stream")
        client.append_to_stream("some_stream", WriteEvent("hello, Event Store!"))
        for event in client.read_stream_events_backward("some_stream", -1, 100):
            print("Type: {0}, Data: {1}".format(event.event_type, event.data))
        client.delete_stream("some_stream")
    return 0


if __name__ == "__main__":
    sys.exit(main())
