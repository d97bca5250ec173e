"""One node per database directory: an exclusive lock on a file inside it.

Two nodes on one directory would each keep their own idea of where the log ends and
overwrite each other's writes, so the second one must refuse to start. The lock is an
OS advisory lock: it goes away with the process, so a crashed node never leaves a stale one.
"""
from __future__ import annotations

import os
from typing import IO, Optional

try:
    import fcntl
except ImportError:  # Windows: no advisory locks here; a second node is not detected
    fcntl = None  # type: ignore[assignment]

LOCK_FILE_NAME = "node.lock"


class DatabaseInUse(OSError):
    """Another node (in this process or another) holds the database directory."""


class DatabaseLock:
    """Held from `acquire()` to `release()`; creates the directory when it does not exist."""

    def __init__(self, directory: str):
        self.directory = directory
        self._file: Optional[IO[bytes]] = None

    def acquire(self) -> None:
        os.makedirs(self.directory, exist_ok=True)
        handle = open(os.path.join(self.directory, LOCK_FILE_NAME), "ab")
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                raise DatabaseInUse(f"the database {self.directory} is in use by another node") from None
        self._file = handle

    def release(self) -> None:
        handle, self._file = self._file, None
        if handle is not None:
            handle.close()  # closing drops the lock
