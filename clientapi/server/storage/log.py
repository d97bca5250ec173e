"""The event log: one SQLite table, written by a single writer thread with group commit.

Why this shape:
- SQLite in WAL mode with synchronous=FULL gives durable, atomic transactions; one
  transaction per group of appends means kill -9 leaves either all or none of an append.
- A writer thread owns the write connection. Appends that queue up while a transaction
  is being committed go together into the next one (group commit); each caller is
  answered only after its commit. The thread answers with a single
  `call_soon_threadsafe` per transaction: an executor plus `wrap_future` would cost two
  more loop iterations and several callbacks per append.
- One exception: a lone writer's small transaction (see INLINE_COMMIT_ROWS): it commits
  on the IOLoop, which blocks the loop for one fsync (a fraction of a millisecond here)
  and saves the two thread hand-offs, worth about as much again to a one-connection
  client. As soon as appends overlap, they are grouped and go to the thread.
- Checkpoints (the WAL copied back into the database, every 1,000 pages or so) are taken
  by the writer thread between commits, not inside one as SQLite's automatic checkpoint
  would be: that one may be running on the loop.
- With a file database, reads run on a small pool of reader threads with their own
  connections (WAL readers never block the writer). In memory there is no disk to wait
  for: the one connection is used directly on the IOLoop (same queue, same group commit,
  same callbacks), which saves two thread hand-offs per request.
- The newest committed records are also kept in memory (`RecentRecords`): long polls,
  catch-up and `$all` followers read what was just written, and get it without a
  reader thread, a SELECT or a second row conversion.
- Visibility is decided by the caller's in-memory watermarks (committed numbers and
  head position), never by what a reader happens to see, so reads are consistent with
  what has been acknowledged.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import queue
import sqlite3
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, Sequence

from ..core.model import EventRecord
from .recent import RecentRecords
from .records import COLUMNS, Row, records_from_rows

DB_FILE_NAME = "events.db"
TOMBSTONE_NUMBER = 9223372036854775807  # int64.MaxValue, the event number of a hard-delete tombstone

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    position   INTEGER PRIMARY KEY,
    stream     TEXT    NOT NULL,
    number     INTEGER NOT NULL,
    event_id   BLOB    NOT NULL,
    event_type TEXT    NOT NULL,
    data       BLOB    NOT NULL,
    metadata   BLOB    NOT NULL,
    is_json    INTEGER NOT NULL,
    created    INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS log_by_stream ON log (stream, number);
"""
# Readers map the file and keep a larger page cache: pages of 4096 events are the common read.
_READER_PRAGMAS = ("PRAGMA mmap_size=268435456", "PRAGMA cache_size=-32000")
# The most rows a lone writer's transaction (nothing else queued this time or last time)
# may hold to be committed on the IOLoop itself rather than by the writer thread.
INLINE_COMMIT_ROWS = 128
CHECKPOINT_PAGES = 1000  # SQLite's own default interval
_INSERT = f"INSERT INTO log ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
# Rows go in a hundred per statement (900 parameters: under every SQLite's limit of 999):
# a fifth cheaper than a hundred executions of _INSERT.
_ROWS_PER_INSERT = 100
_INSERT_MANY = (f"INSERT INTO log ({COLUMNS}) VALUES "
                + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * _ROWS_PER_INSERT))


@dataclass
class Snapshot:
    """What the in-memory indexes are rebuilt from when the log is opened."""

    next_position: int = 0
    last_numbers: dict = field(default_factory=dict)  # stream -> last event number (tombstones excluded)
    tombstoned: set = field(default_factory=set)
    recent_ids: list = field(default_factory=list)  # (event_id bytes, stream, number, position), oldest first


class EventLog:
    """Append rows durably, read them back. Use `await EventLog.open(directory_or_None)`."""

    def __init__(self, directory: Optional[str]):
        self.directory = directory
        self.path = os.path.join(directory, DB_FILE_NAME) if directory else None
        self._writer: Optional[_WriterThread] = None
        self._readers: Optional[concurrent.futures.ThreadPoolExecutor] = None
        if self.path:
            self._writer = _WriterThread()
            self._readers = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="eventlog-reader")
        self._local = threading.local()
        self._reader_connections: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()
        self._write_connection: Optional[sqlite3.Connection] = None
        self._pages_since_checkpoint = 0
        self._checkpoint_due = False
        self._queue: list[tuple[list[Row], asyncio.Future]] = []
        self._flushing = False
        self._last_batch_size = 0
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self.on_commit: Callable[[list[Row]], None] = lambda rows: None
        self.recent = RecentRecords()
        self.transactions = 0

    @classmethod
    async def open(cls, directory: Optional[str]) -> "EventLog":
        if directory:
            os.makedirs(directory, exist_ok=True)
        log = cls(directory)
        log._loop = asyncio.get_running_loop()
        if log._writer is not None:
            log._writer.start(log._loop)
        try:
            await log._call(log._writer, log._open_writer)
        except BaseException:
            if log._writer is not None:
                log._writer.stop()
            raise
        return log

    async def close(self) -> None:
        if self._queue or self._flushing:
            await self.barrier()
        if self._readers is not None:
            self._readers.shutdown(wait=True)
            with self._reader_lock:
                for connection in self._reader_connections:
                    connection.close()
        await self._call(self._writer, self._close_writer)
        if self._writer is not None:
            self._writer.stop()

    def _call(self, executor, function: Callable, *args) -> asyncio.Future:
        """Run `function` on `executor` (the writer thread or the reader pool), or right
        here when there is none (memory mode)."""
        loop = self._loop
        assert loop is not None
        if isinstance(executor, _WriterThread):
            future = loop.create_future()
            executor.submit(function, args, lambda result, error: _settle(future, result, error))
            return future
        if executor is not None:
            return loop.run_in_executor(executor, function, *args)
        future = loop.create_future()
        try:
            future.set_result(function(*args))
        except Exception as error:  # handed to whoever awaits, as an executor would
            future.set_exception(error)
        return future

    # --- connections ------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path or ":memory:", isolation_level=None, check_same_thread=False)

    def _open_writer(self) -> None:
        connection = self._connect()
        if self.path:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("PRAGMA journal_size_limit=67108864")
            # the B-tree pages appends touch stay cached: a 100-event append costs half as much
            connection.execute("PRAGMA cache_size=-32000")
            # Checkpoints are taken by the writer thread between commits (see
            # _count_pages), never inside a commit: a commit may be running on the loop.
            connection.execute("PRAGMA wal_autocheckpoint=0")
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            connection.close()
            raise RuntimeError(f"database schema {version} is newer than this node's ({SCHEMA_VERSION})")
        connection.executescript(_SCHEMA)
        connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self._write_connection = connection
        if self.directory:
            _sync_directory(self.directory)  # the new -wal file's name must survive a crash too

    def _close_writer(self) -> None:
        if self._write_connection is not None:
            self._write_connection.close()
            self._write_connection = None

    def _count_pages(self, rows: int) -> None:
        """Every CHECKPOINT_PAGES pages or so, the WAL is copied back into the database
        (what SQLite's automatic checkpoint would do inside a commit)."""
        self._pages_since_checkpoint += 2 + rows // 16  # a rough count: table and index pages
        if self._pages_since_checkpoint >= CHECKPOINT_PAGES and self._writer is not None:
            self._pages_since_checkpoint = 0
            self._checkpoint_due = True

    def _checkpoint(self) -> None:
        assert self._write_connection is not None
        self._write_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _read_connection(self) -> sqlite3.Connection:
        if self._readers is None:
            assert self._write_connection is not None
            return self._write_connection
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._connect()
            connection.execute("PRAGMA query_only=1")
            for pragma in _READER_PRAGMAS:
                connection.execute(pragma)
            self._local.connection = connection
            with self._reader_lock:
                self._reader_connections.append(connection)
        return connection

    # --- writing ------------------------------------------------------------------------
    async def commit(self, rows: list[Row]) -> None:
        """Write `rows` in a transaction (possibly shared with other queued callers);
        returns once it is durably committed. Raises if the transaction failed."""
        assert self._loop is not None
        future = self._loop.create_future()
        self._queue.append((rows, future))
        if not self._flushing:
            self._start_flush()
        await future

    async def barrier(self) -> None:
        """Returns once everything queued before this call has been committed."""
        await self.commit([])

    def _start_flush(self) -> None:
        assert self._loop is not None
        batch, self._queue = self._queue, []
        rows = [row for queued_rows, _ in batch for row in queued_rows]
        self._flushing = True
        lone_writer = len(batch) == 1 and self._last_batch_size <= 1
        self._last_batch_size = len(batch)
        if self._writer is not None and not (lone_writer and len(rows) <= INLINE_COMMIT_ROWS):
            self._writer.submit(self._write_transaction, (rows,),
                                lambda _, error: self._flushed(batch, rows, error))
            return
        error: Optional[BaseException] = None
        try:
            self._write_transaction(rows)
        except Exception as failure:
            error = failure
        # Its callers are answered now. Appends made in the rest of this loop iteration
        # still queue behind it and go together when the iteration ends (group commit, as
        # on the thread), or fail with it: they were planned on top of it.
        self._settle(batch, rows, error)
        self._loop.call_soon(self._after_inline, error)

    def _write_transaction(self, rows: list[Row]) -> None:
        if not rows:
            return
        connection = self._write_connection
        assert connection is not None
        if len(rows) == 1:
            # one statement in autocommit mode is its own transaction: just as atomic and,
            # under synchronous=FULL, just as durable, without the BEGIN and COMMIT steps
            connection.execute(_INSERT, rows[0])
            return
        connection.execute("BEGIN IMMEDIATE")
        try:
            whole = len(rows) - len(rows) % _ROWS_PER_INSERT
            for start in range(0, whole, _ROWS_PER_INSERT):
                connection.execute(_INSERT_MANY, [value for row in rows[start:start + _ROWS_PER_INSERT]
                                                  for value in row])
            if whole < len(rows):
                connection.executemany(_INSERT, rows[whole:])
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    def _after_inline(self, error: Optional[BaseException]) -> None:
        if error is not None:
            self._settle([], [], error)
        self._continue()

    def _flushed(self, batch: list, rows: list[Row], error: Optional[BaseException]) -> None:
        """The writer thread's answer."""
        self._settle(batch, rows, error)
        self._continue()

    def _settle(self, batch: list, rows: list[Row], error: Optional[BaseException]) -> None:
        if error is None:
            self.transactions += 1
            self._count_pages(len(rows))
            if rows:
                self.recent.add(rows)
                self.on_commit(rows)
            for _, future in batch:
                if not future.done():
                    future.set_result(None)
        else:
            # Everything queued behind a failed transaction was planned on top of it.
            batch, self._queue = batch + self._queue, []
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)

    def _continue(self) -> None:
        if self._checkpoint_due and self._writer is not None:
            # On the thread, and with nothing committing meanwhile (appends queue), so that
            # it catches up with the whole WAL and the next commit starts the file over.
            self._checkpoint_due = False
            self._writer.submit(self._checkpoint, (), self._checkpointed)
        elif self._queue:
            self._start_flush()
        else:
            self._flushing = False

    def _checkpointed(self, _: object, error: Optional[BaseException]) -> None:
        if error is not None:  # the next one will try again; the WAL only grows meanwhile
            logging.getLogger("clientapi.server.storage").warning("WAL checkpoint failed: %s", error)
        self._continue()

    # --- reading ------------------------------------------------------------------------
    async def _read(self, function: Callable, *args):
        return await self._call(self._readers, function, *args)

    async def read_stream(self, stream: str, low: int, high: int, backward: bool,
                          limit: int) -> list[EventRecord]:
        """Records of `stream` numbered low..high (inclusive), at most `limit`."""
        cached = self.recent.read_stream(stream, low, high, backward, limit)
        if cached is not None:
            return cached
        return await self._read(self._read_stream, stream, low, high, backward, limit)

    def _read_stream(self, stream: str, low: int, high: int, backward: bool,
                     limit: int) -> list[EventRecord]:
        order = "DESC" if backward else "ASC"
        rows = self._read_connection().execute(
            f"SELECT {COLUMNS} FROM log WHERE stream = ? AND number BETWEEN ? AND ? "
            f"ORDER BY number {order} LIMIT ?", (stream, low, high, limit)).fetchall()
        return records_from_rows(rows)

    async def read_events(self, coordinates: Sequence[tuple[str, int]]) -> dict:
        """{(stream, number): EventRecord} for the coordinates that exist."""
        found = {}
        missing = []
        for stream, number in coordinates:
            record = self.recent.get(stream, number)
            if record is None:
                missing.append((stream, number))
            else:
                found[(stream, number)] = record
        if missing:
            found.update(await self._read(self._read_events, missing))
        return found

    def _read_events(self, coordinates: list[tuple[str, int]]) -> dict:
        connection = self._read_connection()
        query = f"SELECT {COLUMNS} FROM log WHERE stream = ? AND number = ?"
        found = {}
        for stream, number in set(coordinates):
            row = connection.execute(query, (stream, number)).fetchone()
            if row is not None:
                found[(stream, number)] = records_from_rows([row])[0]
        return found

    async def read_all(self, low: int, high: int, backward: bool, limit: int) -> list[EventRecord]:
        """Records with low <= position < high, at most `limit`, from the near end."""
        cached = self.recent.read_all(low, high, backward, limit)
        if cached is not None:
            return cached
        return await self._read(self._read_all, low, high, backward, limit)

    def _read_all(self, low: int, high: int, backward: bool, limit: int) -> list[EventRecord]:
        order = "DESC" if backward else "ASC"
        rows = self._read_connection().execute(
            f"SELECT {COLUMNS} FROM log WHERE position >= ? AND position < ? "
            f"ORDER BY position {order} LIMIT ?", (low, high, limit)).fetchall()
        return records_from_rows(rows)

    async def last_records(self, streams: Iterable[str]) -> dict:
        """{stream: its last (non-tombstone) record} for each of `streams` that has one."""
        return await self._read(self._last_records, list(streams))

    def _last_records(self, streams: list[str]) -> dict:
        connection = self._read_connection()
        query = (f"SELECT {COLUMNS} FROM log WHERE stream = ? AND number < ? "
                 f"ORDER BY number DESC LIMIT 1")
        found = {}
        for stream in streams:
            row = connection.execute(query, (stream, TOMBSTONE_NUMBER)).fetchone()
            if row is not None:
                found[stream] = records_from_rows([row])[0]
        return found

    async def snapshot(self, recent_ids: int) -> Snapshot:
        return await self._read(self._snapshot, recent_ids)

    def _snapshot(self, recent_ids: int) -> Snapshot:
        connection = self._read_connection()
        snapshot = Snapshot()
        (max_position,) = connection.execute("SELECT MAX(position) FROM log").fetchone()
        snapshot.next_position = 0 if max_position is None else max_position + 1
        for stream, number in connection.execute(
                "SELECT stream, MAX(number) FROM log WHERE number < ? GROUP BY stream",
                (TOMBSTONE_NUMBER,)):
            snapshot.last_numbers[stream] = number
        snapshot.tombstoned = {stream for (stream,) in connection.execute(
            "SELECT stream FROM log WHERE number = ?", (TOMBSTONE_NUMBER,))}
        rows = connection.execute(
            "SELECT event_id, stream, number, position FROM log ORDER BY position DESC LIMIT ?",
            (recent_ids,)).fetchall()
        rows.reverse()
        snapshot.recent_ids = rows
        return snapshot

    def size_bytes(self) -> int:
        if not self.path:
            return 0
        total = 0
        for suffix in ("", "-wal", "-shm"):
            try:
                total += os.path.getsize(self.path + suffix)
            except OSError:
                pass
        return total


def _settle(future: asyncio.Future, result, error: Optional[BaseException]) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


class _WriterThread:
    """A thread running submitted functions in order; each answer goes back to the loop
    as one `call_soon_threadsafe(on_done, result, error)`."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: Optional[threading.Thread] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread = threading.Thread(target=self._run, name="eventlog-writer", daemon=True)
        self._thread.start()

    def submit(self, function: Callable, args: tuple,
               on_done: Callable[[object, Optional[BaseException]], None]) -> None:
        self._jobs.put((function, args, on_done))

    def stop(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        loop = self._loop
        assert loop is not None
        while True:
            job = self._jobs.get()
            if job is None:
                return
            function, args, on_done = job
            try:
                result, error = function(*args), None
            except BaseException as failure:  # handed back to the loop, like an executor would
                result, error = None, failure
            try:
                loop.call_soon_threadsafe(on_done, result, error)
            except RuntimeError:
                return  # the loop is closed: nobody is left to answer


def _sync_directory(directory: str) -> None:
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # not possible on every platform; SQLite still syncs the files themselves
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
