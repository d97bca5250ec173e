"""One subscription group: reads its stream ahead, hands messages to readers, tracks them in flight.

Everything here runs on the node's IOLoop; the only awaits are the core's reads and writes,
so the state is never touched concurrently and needs no locks.

Message bookkeeping:
- `_buffer`: read from the stream, not yet handed out (at most bufferSize).
- `_retry`: to hand out again before anything new (nacked, timed out, replayed from parked).
- `_in_flight`: handed out, waiting for ack/nack or for messageTimeoutMilliseconds to pass.
  All messages of a group share one timeout, so insertion order is deadline order.
- `_checkpoints` (checkpoints.py): what has been processed; `_readers` (readers.py): consumers.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional

from ..core.errors import StreamDeleted, StreamNotFound
from ..core.model import SYSTEM, ResolvedEvent
from .checkpoints import Checkpoints
from .readers import Readers, per_second
from .settings import GroupSettings
from .store import GroupStore
from .strategies import strategy_for

log = logging.getLogger(__name__)

LIVE_WAIT_SECONDS = 2.0      # upper bound of one wait for appends; a missed wake-up costs at most this
CATCH_UP_WAIT_SECONDS = 1.0  # a plain read waits at most this for events written but not yet read
READ_ERROR_BACKOFF = 1.0     # after an unexpected storage error, before reading again
PARK_REASON_RETRIES = "Max retry count reached"
PARK_REASON_NACK = "Nacked from HTTP"

NACK_PARK, NACK_RETRY, NACK_SKIP, NACK_STOP = "park", "retry", "skip", "stop"


@dataclass
class Message:
    event: ResolvedEvent
    sequence: Optional[int]  # number in the subscribed stream; None for a replayed parked message
    retry_count: int = 0

    @property
    def id(self) -> uuid.UUID:
        return self.event.original.event_id


@dataclass
class _InFlight:
    message: Message
    reader: str
    deadline: Optional[float]


@dataclass
class _Waiter:
    reader: str
    count: int
    future: asyncio.Future
    got: list = field(default_factory=list)

    @property
    def open(self) -> bool:
        return len(self.got) < self.count and not self.future.done()


@dataclass
class GroupStats:
    status: str
    total_items: int
    since_measurement: int
    average_per_second: float
    last_processed: int
    last_checkpoint: Optional[int]
    read_buffer: int
    retry_buffer: int
    in_flight: int
    readers: list


class SubscriptionGroup:
    def __init__(self, core: Any, store: GroupStore, stream: str, name: str, settings: GroupSettings):
        self.core = core
        self.store = store
        self.stream = stream
        self.name = name
        self.settings = settings
        self._strategy = strategy_for(settings.named_consumer_strategy)
        self._buffer: deque[Message] = deque()
        self._retry: deque[Message] = deque()
        self._in_flight: "OrderedDict[uuid.UUID, _InFlight]" = OrderedDict()
        self._waiters: list[_Waiter] = []
        self._readers = Readers(settings.message_timeout_ms)
        self._next_read = 0
        self._checkpoints = Checkpoints(store, stream, name, settings, lambda: self._next_read)
        self._space = asyncio.Event()
        self._progress: asyncio.Future = asyncio.get_running_loop().create_future()  # per batch read
        self._read_task: Optional[asyncio.Task] = None
        self._unreadable = False  # the stream was missing or deleted at the last read
        self._started = False
        self._stopped = False
        self.live = False
        self.replaying = False
        self._total_items = 0
        self._since_measurement = 0
        self._measured_at = time.monotonic()

    # --- life cycle -----------------------------------------------------------------
    async def start(self, checkpoint: Optional[int]) -> None:
        self._checkpoints.last = checkpoint
        if checkpoint is not None:
            self._next_read = checkpoint + 1
        elif self.settings.start_from == -1:
            # Pin "the end" now, as a checkpoint, so a restart does not move it.
            end = await self.core.last_event_number(self.stream)
            self._next_read = end + 1
            await self._checkpoints.save(end)
        else:
            self._next_read = self.settings.start_from
        self._started = True
        self._read_task = asyncio.ensure_future(self._read_loop())

    async def stop(self, write_checkpoint: bool = True) -> None:
        self._stopped = True
        if self._read_task is not None:
            self._read_task.cancel()
            try:
                await self._read_task
            except asyncio.CancelledError:
                pass
            except Exception:  # already logged by the loop
                pass
        _resolve(self._progress)  # reads catching up stop waiting for a read-ahead that is over
        for waiter in self._waiters:
            _resolve(waiter.future)
        self._waiters.clear()
        await self._checkpoints.settle()
        if write_checkpoint:
            await self._checkpoints.write()

    # --- reading ahead --------------------------------------------------------------
    async def _read_loop(self) -> None:
        while not self._stopped:
            try:
                caught_up = await self._read_batch()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("persistent subscription %s::%s: read failed", self.stream, self.name)
                await asyncio.sleep(READ_ERROR_BACKOFF)
                continue
            self.live = caught_up
            progress, self._progress = self._progress, asyncio.get_running_loop().create_future()
            progress.set_result(None)
            if len(self._buffer) >= self.settings.buffer_size:
                self._space.clear()
                await self._space.wait()
            elif caught_up:
                await self._wait_for_appends()

    async def _read_batch(self) -> bool:
        """Reads the next batch into the buffer; True when the stream's end has been reached."""
        room = min(self.settings.read_batch_size, self.settings.buffer_size - len(self._buffer))
        if room <= 0:
            return False
        try:
            page = await self.core.read_stream(self.stream, self._next_read, room, "forward",
                                               self.settings.resolve_linktos, SYSTEM)
        except (StreamNotFound, StreamDeleted):
            # Nothing to read until the stream is (re)written: its old last number must not
            # make anyone think there is.
            self._unreadable = True
            return True
        self._unreadable = False
        added = 0
        for event in page.events:
            number = event.original.event_number
            if number < self._next_read:
                continue
            self._buffer.append(Message(event, number))
            self._checkpoints.read(number)
            self._next_read = number + 1
            added += 1
        if not added and self._next_read <= page.last_event_number:
            # Nothing readable here (truncated or aged out): move on.
            self._next_read = page.floor if self._next_read < page.floor else self._next_read + room
        if added:
            self._dispatch()
        return self._next_read > page.last_event_number

    async def _wait_for_appends(self) -> None:
        waiting = asyncio.ensure_future(self.core.wait_for_append(self.stream, LIVE_WAIT_SECONDS))
        try:
            await asyncio.sleep(0)  # let the wait register before looking, so no append slips between
            if not self._unreadable and await self.core.last_event_number(self.stream) >= self._next_read:
                return
            await waiting
        finally:
            if not waiting.done():
                waiting.cancel()

    # --- handing out ----------------------------------------------------------------
    def _drain(self, choose: Callable[[Message], bool], satisfied: Callable[[], bool]) -> None:
        """Offers queued messages (retry first, then new) to `choose` until `satisfied`;
        those it takes leave the queues, the others keep their places."""
        for queue in (self._retry, self._buffer):
            kept: list[Message] = []
            while queue and not satisfied():
                message = queue.popleft()
                if not choose(message):
                    kept.append(message)
            queue.extendleft(reversed(kept))
        if len(self._buffer) < self.settings.buffer_size:
            self._space.set()

    def _deliver(self, message: Message, reader_id: str) -> None:
        timeout = self.settings.message_timeout_ms
        deadline = time.monotonic() + timeout / 1000.0 if timeout > 0 else None
        self._in_flight[message.id] = _InFlight(message, reader_id, deadline)
        self._strategy.delivered(message.event, reader_id)
        self._readers.delivered(reader_id)
        self._total_items += 1
        self._since_measurement += 1

    async def read(self, reader_id: str, username: str, count: int,
                   wait_seconds: float = 0) -> list[Message]:
        """Up to `count` messages for this reader, now; with `wait_seconds` > 0 and none available,
        waits for the first ones. The messages are in flight once returned."""
        self._readers.touch(reader_id, username)
        got: list[Message] = []

        def take(message: Message) -> bool:
            if not self._strategy.eligible(message.event, reader_id, self._readers.alive):
                return False
            got.append(message)
            self._deliver(message, reader_id)
            return True

        await self._catch_up()
        self._drain(take, lambda: len(got) >= count)
        if got or wait_seconds <= 0 or self._stopped:
            return got
        return await self._wait_for_messages(reader_id, username, count, wait_seconds)

    async def _catch_up(self) -> None:
        """Events already written count as available: let the read-ahead reach them first
        (briefly), so a read right after an append sees that append."""
        if self._unreadable:
            return
        target = await self.core.last_event_number(self.stream)
        deadline = time.monotonic() + CATCH_UP_WAIT_SECONDS
        while (self._next_read <= target and len(self._buffer) < self.settings.buffer_size
               and not self._stopped):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                await asyncio.wait_for(asyncio.shield(self._progress), remaining)
            except asyncio.TimeoutError:
                return

    async def _wait_for_messages(self, reader_id: str, username: str, count: int,
                                 wait_seconds: float) -> list[Message]:
        loop = asyncio.get_running_loop()
        waiter = _Waiter(reader_id, count, loop.create_future())
        self._waiters.append(waiter)
        reader = self._readers.touch(reader_id, username)
        reader.waiting += 1
        reader.wanted += count
        timer = loop.call_later(wait_seconds, _resolve, waiter.future)
        try:
            await waiter.future
        except asyncio.CancelledError:
            # The client went away: what it was about to get goes back, first in line, uncounted.
            self.hand_back(waiter.got)
            raise
        finally:
            timer.cancel()
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            reader.waiting -= 1
            reader.wanted -= count
            reader.last_seen = time.monotonic()
        return waiter.got

    def hand_back(self, messages: list[Message]) -> None:
        """Messages a reader never received: first in line again, no retry counted."""
        for message in messages:
            entry = self._in_flight.pop(message.id, None)
            if entry is not None:
                self._readers.settled(entry.reader)
        self._retry.extendleft(reversed(messages))
        self._dispatch()

    def _dispatch(self) -> None:
        """Serves readers parked in a long poll, per the consumer strategy."""
        if not self._waiters:
            return

        def give(message: Message) -> bool:
            open_waiters = [w for w in self._waiters if w.open]
            if not open_waiters:
                return False
            chosen = self._strategy.choose(message.event, [w.reader for w in open_waiters],
                                           self._readers.alive)
            if chosen is None:
                return False
            waiter = next(w for w in open_waiters if w.reader == chosen)
            waiter.got.append(message)
            self._deliver(message, chosen)
            return True

        self._drain(give, lambda: not any(w.open for w in self._waiters))
        for waiter in list(self._waiters):
            if waiter.got and not waiter.future.done():
                waiter.future.set_result(None)
                self._waiters.remove(waiter)

    # --- outcomes -------------------------------------------------------------------
    def _take_outstanding(self, message_id: uuid.UUID,
                          include_retry: bool) -> tuple[Optional[Message], Optional[str]]:
        """The message (and the reader holding it) out of flight, or out of the retry queue."""
        entry = self._in_flight.pop(message_id, None)
        if entry is not None:
            self._readers.settled(entry.reader)
            return entry.message, entry.reader
        if include_retry:
            for message in self._retry:
                if message.id == message_id:
                    self._retry.remove(message)
                    return message, None
        return None, None

    def ack(self, message_ids: Iterable[uuid.UUID]) -> None:
        # A late ack (after a timeout queued the message again) still counts: one less duplicate.
        for message_id in message_ids:
            message, _ = self._take_outstanding(message_id, include_retry=True)
            if message is not None:
                self._complete(message)

    def nack(self, message_ids: Iterable[uuid.UUID], action: str) -> None:
        for message_id in message_ids:
            message, reader = self._take_outstanding(message_id,
                                                     include_retry=action in (NACK_PARK, NACK_SKIP))
            if message is None:
                continue
            if action == NACK_PARK:
                self._park(message, PARK_REASON_NACK)
            elif action == NACK_SKIP:
                self._complete(message)
            elif action == NACK_STOP:
                # Over HTTP there is no connection to drop: the reader stops being a consumer
                # (its pinned buckets go) and the message is offered again without counting a retry.
                if reader is not None:
                    self._readers.drop(reader)
                self._retry.appendleft(message)
            else:
                self._retry_or_park(message)
        self._dispatch()

    def _retry_or_park(self, message: Message) -> None:
        if message.retry_count >= self.settings.max_retry_count:
            self._park(message, PARK_REASON_RETRIES)
        else:
            message.retry_count += 1
            self._retry.append(message)

    def _park(self, message: Message, reason: str) -> None:
        async def park() -> None:
            try:
                await self.store.park(self.stream, self.name, message.event, reason)
            except Exception:
                log.exception("persistent subscription %s::%s: parking failed", self.stream, self.name)
                if not self._stopped:
                    self._retry.append(message)
                    self._dispatch()
                return
            self._complete(message)

        asyncio.ensure_future(park())

    def _complete(self, message: Message) -> None:
        if message.sequence is not None:  # replayed parked messages are behind the checkpoint
            self._checkpoints.processed(message.sequence)

    # --- timers (driven by the subsystem's tick) -------------------------------------
    def tick(self, now: float) -> None:
        expired = []
        for message_id, entry in self._in_flight.items():
            if entry.deadline is None or entry.deadline > now:
                break
            expired.append(message_id)
        for message_id in expired:
            entry = self._in_flight.pop(message_id)
            self._readers.settled(entry.reader)
            self._retry_or_park(entry.message)
        if expired:
            self._dispatch()
        self._checkpoints.tick(now)
        self._readers.prune()

    # --- parked messages ------------------------------------------------------------
    async def replay_parked(self, stop_at: Optional[int]) -> None:
        floor, last = await self.store.parked_range(self.stream, self.name)
        end = last if stop_at is None else min(last, floor + stop_at - 1)
        if end < floor:
            return
        self.replaying = True
        try:
            number = floor
            while number <= end:
                page = await self.store.read_parked(self.stream, self.name, number, min(100, end - number + 1))
                if not page:
                    break
                for parked in page:
                    if parked.event is not None:
                        self._retry.append(Message(ResolvedEvent(parked.event), None))
                number = page[-1].original.event_number + 1
            await self.store.mark_parked_replayed(self.stream, self.name, end)
        finally:
            self.replaying = False
        self._dispatch()

    async def parked_count(self) -> int:
        floor, last = await self.store.parked_range(self.stream, self.name)
        return max(0, last - floor + 1)

    # --- statistics -----------------------------------------------------------------
    def status(self) -> str:
        if not self._started:
            return "NotReady"
        flags = ["Live" if self.live else "Behind"]
        if self.replaying:
            flags.insert(0, "ReplayingParkedMessages")
        return ", ".join(flags)

    def stats(self) -> GroupStats:
        """A snapshot; like the real server, asking starts a new measurement period."""
        now = time.monotonic()
        average = per_second(self._since_measurement, now - self._measured_at)
        since = self._since_measurement
        self._since_measurement, self._measured_at = 0, now
        readers = self._readers.connections(now)
        checkpoint = self._checkpoints.last
        return GroupStats(
            status=self.status(), total_items=self._total_items, since_measurement=since,
            average_per_second=average,
            last_processed=checkpoint if checkpoint is not None else -1,
            last_checkpoint=checkpoint, read_buffer=len(self._buffer),
            retry_buffer=len(self._retry), in_flight=len(self._in_flight), readers=readers)


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)
