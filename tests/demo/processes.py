"""Processes that talk in lines (the node, chat participants), read without blocking the
test: a thread per process collects its output lines, and `expect` waits for one with a
deadline. Threads rather than select(), so this works on Windows too."""
from __future__ import annotations

import os
import re
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, List, Optional, Sequence

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
CHAT_SCRIPT = REPOSITORY_ROOT / "demo" / "chat.py"
EXPECT_SECONDS = 15.0
EXIT_SECONDS = 15.0


def environment() -> dict:
    """The repository importable, and UTF-8 on every pipe whatever the platform's locale."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(part for part in (str(REPOSITORY_ROOT), env.get("PYTHONPATH")) if part)
    env["PYTHONIOENCODING"] = "utf-8"
    return env


class LineProcess:
    """A child process whose stdout (with stderr) is collected line by line in `lines`."""

    def __init__(self, arguments: Sequence[str], name: str) -> None:
        self.name = name
        self.lines: List[str] = []
        self._seen = 0  # lines already looked at by expect()
        self._incoming: "queue.Queue[Optional[str]]" = queue.Queue()
        self.process = subprocess.Popen(
            [sys.executable, *arguments], cwd=str(REPOSITORY_ROOT), env=environment(),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            encoding="utf-8", errors="replace")
        self._reader = threading.Thread(target=self._collect, name="output of " + name, daemon=True)
        self._reader.start()

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._incoming.put(line.rstrip("\r\n"))
        self._incoming.put(None)

    def _take_incoming(self, timeout: float) -> bool:
        """Move what arrived (waiting up to `timeout` for something) into `lines`; False
        once the output has ended."""
        try:
            line = self._incoming.get(timeout=timeout)
        except queue.Empty:
            return True
        while True:
            if line is None:
                return False
            self.lines.append(line)
            try:
                line = self._incoming.get_nowait()
            except queue.Empty:
                return True

    def expect(self, wanted: str, timeout: float = EXPECT_SECONDS) -> None:
        """Wait for a line equal to `wanted`, after the lines matched so far."""
        self._wait_for(lambda line: line == wanted, repr(wanted), timeout)

    def expect_match(self, pattern: "re.Pattern[str]", timeout: float = EXPECT_SECONDS) -> "re.Match[str]":
        """Wait for a line in which `pattern` is found; its match."""
        found = pattern.search(self._wait_for(lambda line: pattern.search(line) is not None,
                                              pattern.pattern, timeout))
        assert found is not None
        return found

    def _wait_for(self, fits: Callable[[str], bool], description: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        ended = False
        while True:
            for index in range(self._seen, len(self.lines)):
                if fits(self.lines[index]):
                    self._seen = index + 1
                    return self.lines[index]
            self._seen = len(self.lines)
            remaining = deadline - time.monotonic()
            if ended or remaining <= 0:
                raise AssertionError("{} did not print {}; its output:\n{}".format(
                    self.name, description, "\n".join(self.lines)))
            ended = not self._take_incoming(min(remaining, 0.5))

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def close_input(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()

    def wait_exit(self, timeout: float = EXIT_SECONDS) -> int:
        """Its exit status, once it has exited and all its output is in `lines`."""
        try:
            status = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("{} did not exit; its output:\n{}".format(self.name, "\n".join(self.lines)))
        self._reader.join(EXIT_SECONDS)
        self._take_incoming(0)
        return status

    def stop(self) -> None:
        """Kill it if it still runs, and close the pipes (stdout once its reader is done)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(EXIT_SECONDS)
        if self.process.stdin is not None and not self.process.stdin.closed:
            try:
                self.process.stdin.close()
            except OSError:
                pass  # the child is gone with data unread
        self._reader.join(EXIT_SECONDS)
        if self.process.stdout is not None and not self._reader.is_alive():
            self.process.stdout.close()
