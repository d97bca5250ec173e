"""Small TCP servers on real sockets that answer HTTP requests wrongly on purpose."""
from __future__ import annotations

import json
import socket
import threading
import time
from typing import Callable, List, Optional, Union

Behaviour = Union[bytes, Callable[[socket.socket], None], None]


def http_answer(status: str = "200 OK", body: bytes = b"", content_type: Optional[str] = None,
                headers: Optional[dict] = None, length: Optional[int] = None) -> bytes:
    lines = [f"HTTP/1.1 {status}"]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {len(body) if length is None else length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def feed(document: object, content_type: str = "application/vnd.eventstore.atom+json") -> bytes:
    return http_answer(body=json.dumps(document).encode(), content_type=content_type)


def trickle(data: bytes, pause: float) -> Callable[[socket.socket], None]:
    """Sends `data` one byte at a time."""
    def send(connection: socket.socket) -> None:
        for index in range(len(data)):
            connection.sendall(data[index:index + 1])
            time.sleep(pause)
    return send


def then_cut(data: bytes) -> Callable[[socket.socket], None]:
    """Sends `data`, then resets the connection (RST, not a clean close)."""
    def send(connection: socket.socket) -> None:
        connection.sendall(data)
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    return send


def read_request(connection: socket.socket) -> Optional[bytes]:
    """One whole request (head and Content-Length body), None if the peer closed first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class MisbehavingServer:
    """Reads each request, then does `behaviour` (the same for every request): send bytes,
    call a function with the connection, or (None) stay silent until closed."""

    def __init__(self, behaviour: Behaviour):
        self.behaviour = behaviour
        self.requests: List[bytes] = []
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.closing = threading.Event()
        self.threads: List[threading.Thread] = []
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self) -> None:
        self.listener.settimeout(0.005)
        while not self.closing.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                continue
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(5)
            try:
                while not self.closing.is_set():
                    request = read_request(connection)
                    if request is None:
                        return
                    self.requests.append(request)
                    if self.behaviour is None:
                        self.closing.wait(30)
                        return
                    if callable(self.behaviour):
                        self.behaviour(connection)
                        return
                    connection.sendall(self.behaviour)
            except OSError:
                return


    def close(self) -> None:
        self.closing.set()
        self.acceptor.join()
        self.listener.close()
        for thread in self.threads:
            thread.join(5)
