"""The node as a process of its own (`python -m clientapi.server`), killed and started again
at will on the same port and database directory."""
from __future__ import annotations

import os
import resource
import select
import signal
import socket
import subprocess
import sys
import time
from typing import List, Optional

REPOSITORY_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
START_TIMEOUT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class NodeProcess:
    """One database directory and one port; any number of process lifetimes.

    stderr of every lifetime is kept in `<db>.stderr` so a failing test can show why the
    node died (or what it logged at ERROR)."""

    def __init__(self, db: str, port: Optional[int] = None, extra_arguments: tuple = (),
                 max_open_files: Optional[int] = None):
        self.db = db
        self.max_open_files = max_open_files
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.extra_arguments = tuple(extra_arguments)
        self.process: Optional[subprocess.Popen] = None
        self.stderr_path = db.rstrip(os.sep) + ".stderr"
        self.kills = 0
        self.starts = 0
        self.start_seconds: List[float] = []

    @property
    def url(self) -> str:
        return "http://{}:{}".format(self.host, self.port)

    def _spawn(self, stdout: int) -> None:
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(
            part for part in (REPOSITORY_ROOT, environment.get("PYTHONPATH")) if part)
        with open(self.stderr_path, "ab") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "clientapi.server", "--port", str(self.port),
                 "--db", self.db, "--log-level", "ERROR", *self.extra_arguments],
                stdout=stdout, stderr=stderr, env=environment, preexec_fn=self._limit)

    def _limit(self) -> None:
        """Runs in the child before exec: a small file descriptor limit, when asked for."""
        if self.max_open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.max_open_files, self.max_open_files))

    def start(self) -> None:
        began = time.monotonic()
        self._spawn(subprocess.PIPE)
        line = self._first_line(began + START_TIMEOUT_SECONDS)
        if b"listening" not in line:
            self.kill()
            raise RuntimeError("the node process did not start: {!r}\n{}".format(
                line, self.stderr_text()))
        self.starts += 1
        self.start_seconds.append(time.monotonic() - began)

    def kill_while_starting(self, after: float) -> None:
        """Start a process and SIGKILL it `after` seconds later, whether or not it is
        listening yet (a crash during recovery)."""
        self._spawn(subprocess.DEVNULL)
        time.sleep(after)
        self.kill()

    def _first_line(self, deadline: float) -> bytes:
        assert self.process is not None and self.process.stdout is not None
        line = b""
        while not line.endswith(b"\n") and time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.1)
            if ready:
                chunk = os.read(self.process.stdout.fileno(), 4096)
                if not chunk:
                    break
                line += chunk
        return line

    def kill(self) -> None:
        """SIGKILL: no shutdown code of the node runs."""
        self._end(signal.SIGKILL)
        self.kills += 1

    def stop(self) -> None:
        """SIGTERM: the node's clean shutdown."""
        self._end(signal.SIGTERM)

    def _end(self, signum: int) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signum)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stderr_text(self, limit: int = 5000) -> str:
        try:
            with open(self.stderr_path, "rb") as handle:
                return handle.read().decode("utf-8", "replace")[-limit:]
        except OSError:
            return ""
