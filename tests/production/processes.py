"""Node processes (`python -m clientapi.server`) for the cluster and TLS tests, and a TCP
proxy that cuts connections on purpose."""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import IO, List, Optional

REPOSITORY_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
START_TIMEOUT_SECONDS = 30.0


class NodeProcess:
    """An in-memory node in a process of its own, on a free port it reports itself."""

    def __init__(self, *arguments: str) -> None:
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(
            part for part in (REPOSITORY_ROOT, environment.get("PYTHONPATH")) if part)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "clientapi.server", "--port", "0", "--mem",
             "--log-level", "ERROR", *arguments],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment)
        self.url = ""

    def wait_until_listening(self) -> "NodeProcess":
        line = _first_line(self.process, time.monotonic() + START_TIMEOUT_SECONDS)
        words = line.decode("utf-8", "replace").split()
        urls = [word for word in words if word.startswith(("http://", "https://"))]
        if not urls:
            self.kill()
            raise RuntimeError("the node did not start: {!r} {}".format(
                line, self.process.stderr.read().decode("utf-8", "replace")))
        self.url = urls[0]
        return self

    def first_error_line(self) -> str:
        """The first line the node wrote on stderr (waits for it a little)."""
        line = _first_line(self.process, time.monotonic() + 5, self.process.stderr)
        return line.decode("utf-8", "replace").strip()

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def address(self) -> str:
        return "127.0.0.1:{}".format(self.port)

    def kill(self) -> None:
        """SIGKILL, as a crashed node (no goodbye)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


def _first_line(process: subprocess.Popen, deadline: float, pipe: Optional[IO[bytes]] = None) -> bytes:
    pipe = pipe or process.stdout
    assert pipe is not None
    line = b""
    while not line.endswith(b"\n") and time.monotonic() < deadline:
        ready, _, _ = select.select([pipe], [], [], 0.1)
        if ready:
            chunk = os.read(pipe.fileno(), 4096)
            if not chunk:
                break
            line += chunk
    return line


def start_nodes(count: int, *arguments: str) -> List[NodeProcess]:
    """Start `count` nodes at once (they boot in parallel), return them once all listen."""
    nodes = [NodeProcess(*arguments) for _ in range(count)]
    try:
        return [node.wait_until_listening() for node in nodes]
    except BaseException:
        for node in nodes:
            node.kill()
        raise


def write_view(path: str, members: list) -> None:
    """Replace the cluster view file at once (the nodes may read it at any moment)."""
    temporary = path + ".new"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump({"members": members}, handle)
    os.replace(temporary, path)


class CuttingProxy:
    """Relays TCP connections to `target_port`. While `cut_next` is set, the next
    connection is closed as soon as the server starts to answer: the request reached the
    server in full (so it acted on it) but the client never sees the response."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.cut_next = 0
        self.cuts = 0
        self.connections = 0
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            cut = self.cut_next > 0
            if cut:
                self.cut_next -= 1
            threading.Thread(target=self._relay, args=(client, cut), daemon=True).start()

    def _relay(self, client: socket.socket, cut: bool) -> None:
        server = socket.create_connection(("127.0.0.1", self.target_port))
        sockets = [client, server]
        try:
            while True:
                ready, _, _ = select.select(sockets, [], [], 10)
                if not ready:
                    return
                for source in ready:
                    data = source.recv(65536)
                    if not data:
                        return
                    if source is server and cut:
                        self.cuts += 1
                        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                          b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
                        return
                    (server if source is client else client).sendall(data)
        except OSError:
            return
        finally:
            for end in sockets:
                end.close()

    def close(self) -> None:
        self._closed = True
        self._listener.close()
