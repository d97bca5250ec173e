"""Writers that keep appending through the client while the node is killed under them,
and the checks of what the node holds afterwards.

Every operation is retried (same event ids, same expected version) until the node
acknowledges it, so at the end each operation was acknowledged exactly once and the
node must hold exactly the acknowledged writes: nothing lost, nothing twice, nothing
half-written.
"""
from __future__ import annotations

import bisect
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from clientapi import Client, WriteEvent, errors

ADMIN = ("admin", "changeit")
# The node being down looks like one of these to the client; anything else is an answer.
NODE_DOWN = (errors.ConnectionFailure, errors.Timeout, errors.ProtocolError, errors.ServerError)
GIVE_UP_AFTER_SECONDS = 45.0


@dataclass
class Ack:
    """One acknowledged write: which events, where, and when (monotonic seconds)."""

    stream: str
    event_ids: List[uuid.UUID]
    first_number: int
    first_sent: float
    acknowledged: float


@dataclass
class WriterLog:
    acks: List[Ack] = field(default_factory=list)
    metadata: Dict[str, dict] = field(default_factory=dict)    # stream -> last acked document
    deleted: Dict[str, bool] = field(default_factory=dict)     # stream -> hard?
    versions: Dict[str, int] = field(default_factory=dict)     # stream -> last acked number
    retries: int = 0
    failure: Optional[BaseException] = None


def until_acknowledged(operation: Callable[[], object], log: WriterLog) -> object:
    """Run `operation` again (unchanged) while the node is unreachable."""
    give_up = time.monotonic() + GIVE_UP_AFTER_SECONDS
    while True:
        try:
            return operation()
        except NODE_DOWN:
            if time.monotonic() > give_up:
                raise
            log.retries += 1
            time.sleep(0.03)


class Writer(threading.Thread):
    """Appends single events and batches with exact expected versions to its own stream,
    batches with expected version "any" to another, rewrites the first stream's metadata,
    and now and then creates, fills and deletes (soft or hard) a short-lived stream."""

    def __init__(self, prefix: str, index: int, port: int, seed: int, stop: threading.Event):
        super().__init__(name=f"writer-{index}", daemon=True)
        self.prefix, self.index, self.port = prefix, index, port
        self.random = random.Random(seed)
        self.stop = stop
        self.log = WriterLog()
        self.exact_stream = f"{prefix}-w{index}-exact"
        self.any_stream = f"{prefix}-w{index}-any"
        self.temporary = 0

    def run(self) -> None:
        client = Client("127.0.0.1", self.port, *ADMIN, connect_timeout=1.0, request_timeout=5.0)
        try:
            while not self.stop.is_set():
                roll = self.random.random()
                if roll < 0.55:
                    self._append(client, self.exact_stream, exact=True)
                elif roll < 0.8:
                    self._append(client, self.any_stream, exact=False)
                elif roll < 0.92:
                    self._write_metadata(client)
                else:
                    self._short_lived_stream(client)
        except BaseException as failure:  # reported by the test, with the writer's name
            self.log.failure = failure
        finally:
            client.close()

    def _events(self, count: int, event_type: str = "crash-test") -> List[WriteEvent]:
        # `index`/`size` let a concurrent reader tell a whole batch from part of one
        return [WriteEvent({"writer": self.index, "index": i, "size": count}, is_json=True,
                           event_type=event_type) for i in range(count)]

    def _append(self, client: Client, stream: str, exact: bool,
                events: Optional[List[WriteEvent]] = None) -> List[int]:
        events = events or self._events(self.random.choice((1, 1, 1, 2, 3, 5, 8, 20)))
        expected = self.log.versions.get(stream, -1) if exact else -2
        sent = time.monotonic()
        numbers = until_acknowledged(
            lambda: client.append_to_stream(stream, events, expected, credentials=ADMIN), self.log)
        self._acknowledged(stream, events, numbers[0], sent)
        return numbers

    def _acknowledged(self, stream: str, events: List[WriteEvent], first: int, sent: float) -> None:
        self.log.acks.append(Ack(stream, [e.event_id for e in events], first, sent, time.monotonic()))
        self.log.versions[stream] = first + len(events) - 1

    def _write_metadata(self, client: Client) -> None:
        # Appended to `$$stream` as an event with a fixed id, so a retry is idempotent.
        document = {"writer": self.index, "mark": uuid.uuid4().hex, "$maxAge": 86400 * 365}
        metastream = "$$" + self.exact_stream
        event = WriteEvent(document, is_json=True, event_type="$metadata")
        self._append(client, metastream, exact=True, events=[event])
        self.log.metadata[self.exact_stream] = document

    def _short_lived_stream(self, client: Client) -> None:
        self.temporary += 1
        stream = f"{self.prefix}-w{self.index}-tmp{self.temporary}"
        numbers = self._append(client, stream, exact=True)
        hard = self.random.random() < 0.5

        def delete() -> None:
            try:
                client.delete_stream(stream, numbers[-1], hard_delete=hard)
            except errors.StreamDeleted:
                if not hard:
                    raise
                # hard: an earlier attempt was applied before the node died
            except errors.WrongExpectedVersion:
                if hard:
                    raise
                # soft: the earlier attempt was applied (the retry then finds $tb metadata)
        until_acknowledged(delete, self.log)
        self.log.deleted[stream] = hard


class Appender(threading.Thread):
    """Appends batches of events numbered `{"i": n}` (n from `first` on) to one stream with
    exact expected versions, each retried until acknowledged: `batches` of them, or (with
    `until`) as many as fit before that event is set. `appended` is how many were."""

    def __init__(self, port: int, stream: str, first: int, batches: Optional[int], batch: int,
                 pause: float = 0.03, until: Optional[threading.Event] = None):
        super().__init__(name=f"appender-{stream}", daemon=True)
        self.port, self.stream, self.first = port, stream, first
        self.batches, self.batch, self.pause, self.until = batches, batch, pause, until
        self.appended = 0
        self.log = WriterLog()
        self.done = threading.Event()

    def _more(self, written_batches: int) -> bool:
        if self.until is not None:
            return not self.until.is_set()
        return written_batches < (self.batches or 0)

    def run(self) -> None:
        client = Client("127.0.0.1", self.port, *ADMIN, connect_timeout=1.0, request_timeout=5.0)
        try:
            number, written = self.first, 0
            while self._more(written):
                events = [WriteEvent({"i": number + i}, is_json=True, event_type="numbered")
                          for i in range(self.batch)]
                until_acknowledged(lambda: client.append_to_stream(self.stream, events, number - 1),
                                   self.log)
                number += self.batch
                written += 1
                self.appended += self.batch
                time.sleep(self.pause)
        except BaseException as failure:  # reported by the test
            self.log.failure = failure
        finally:
            client.close()
            self.done.set()


class Reader(threading.Thread):
    """Reads the head of `$all` and of the writers' streams over and over while they write
    and the node dies: the newest event of each stream it sees must end its batch (a
    half-written batch must never be visible, not even for a moment)."""

    def __init__(self, port: int, prefix: str, stop: threading.Event):
        super().__init__(name="reader", daemon=True)
        self.port, self.prefix, self.stop = port, prefix, stop
        self.reads = 0
        self.torn: List[str] = []
        self.log = WriterLog()

    def run(self) -> None:
        client = Client("127.0.0.1", self.port, *ADMIN, connect_timeout=1.0, request_timeout=5.0)
        try:
            while not self.stop.is_set():
                try:
                    page = client.read_all_events_backward(-1, -1, 200).events
                except NODE_DOWN:
                    time.sleep(0.03)
                    continue
                self.reads += 1
                newest: Dict[str, object] = {}
                for event in page:  # newest first
                    if event.stream_id.startswith(self.prefix) and event.event_type == "crash-test":
                        newest.setdefault(event.stream_id, event)
                for stream, event in newest.items():
                    data = event.data  # type: ignore[attr-defined]
                    if data["index"] != data["size"] - 1:
                        self.torn.append(f"{stream}@{event.event_number}: {data}")  # type: ignore[attr-defined]
        except BaseException as failure:  # reported by the test
            self.log.failure = failure
        finally:
            client.close()


# --- what the node must hold afterwards ------------------------------------------------------

def all_acks(writers: List[Writer]) -> List[Ack]:
    return [ack for writer in writers for ack in writer.log.acks]


def _difference(stored: list, expected: list, acks: list) -> str:
    first = next((i for i, (a, b) in enumerate(zip(stored, expected)) if a != b),
                 min(len(stored), len(expected)))
    return ("{} stored, {} acknowledged; first difference at {}: stored {} acknowledged {}; "
            "acks (first, count, sent, acknowledged): {}".format(
                len(stored), len(expected), first, stored[first:first + 3],
                expected[first:first + 3], acks))


def check_streams(client: Client, writers: List[Writer]) -> int:
    """Each data stream holds exactly its acknowledged events, in order; returns how many."""
    checked = 0
    by_stream: Dict[str, List[Ack]] = {}
    for ack in all_acks(writers):
        by_stream.setdefault(ack.stream, []).append(ack)
    deleted = {s: hard for w in writers for s, hard in w.log.deleted.items()}
    for stream, acks in by_stream.items():
        if stream.startswith("$$"):
            continue  # metastreams keep only their last event ($maxCount 1); checked in $all
        expected_ids = [event_id for ack in acks for event_id in ack.event_ids]
        numbers = [ack.first_number + i for ack in acks for i in range(len(ack.event_ids))]
        assert numbers == list(range(len(expected_ids))), f"{stream}: acknowledged numbers {numbers}"
        if stream in deleted:
            expected_kind = "hard" if deleted[stream] else "soft"
            try:
                client.read_stream_events_forward(stream, 0, 10)
                found = "not"
            except errors.StreamDeleted:
                found = "hard"
            except errors.StreamNotFound:
                found = "soft"
            assert found == expected_kind, f"{stream}: {found} deleted, acknowledged {expected_kind}"
            continue
        events = client.read_stream_events_forward(stream, 0, len(expected_ids) + 100)
        stored_ids = [e.event_id for e in events]
        assert stored_ids == expected_ids, f"{stream}: not the acknowledged events\n" + _difference(
            stored_ids, expected_ids, [(a.first_number, len(a.event_ids), round(a.first_sent, 3), round(a.acknowledged, 3))
                                       for a in acks])
        assert [e.event_number for e in events] == list(range(len(expected_ids)))
        checked += len(events)
    for writer in writers:
        for stream, document in writer.log.metadata.items():
            assert client.get_stream_metadata(stream) == document, f"{stream}: metadata"
    return checked


def check_all(client: Client, writers: List[Writer], prefix: str) -> int:
    """`$all` holds every acknowledged event once, each write contiguous, in commit order:
    a write acknowledged before another was sent comes first. Returns how many."""
    acks = all_acks(writers)
    everything = client.read_all_events_forward(0, 0, 10_000_000).events
    ours = [(i, e) for i, e in enumerate(everything) if _tracked(e.stream_id, e.event_type, prefix)]
    seen: Dict[uuid.UUID, int] = {}
    for position, event in ours:
        assert event.event_id not in seen, f"event {event.event_id} twice in $all"
        seen[event.event_id] = position
    acknowledged = {event_id for ack in acks for event_id in ack.event_ids}
    assert acknowledged - set(seen) == set(), "acknowledged events missing from $all"
    assert set(seen) - acknowledged == set(), "events nobody got acknowledged are in $all"
    positions: List[Tuple[float, int]] = []
    for ack in acks:
        places = [seen[event_id] for event_id in ack.event_ids]
        assert places == list(range(places[0], places[0] + len(places))), \
            f"write to {ack.stream} is not contiguous in $all"
        positions.append((ack.acknowledged, places[0]))
    # commit order: max $all place of the writes acknowledged before `ack` was first sent
    positions.sort()
    times = [t for t, _ in positions]
    best_before: List[int] = []
    for _, place in positions:
        best_before.append(max(place, best_before[-1]) if best_before else place)
    for ack in acks:
        earlier = bisect.bisect_left(times, ack.first_sent)
        if earlier:
            assert best_before[earlier - 1] < seen[ack.event_ids[0]], \
                f"write to {ack.stream} precedes in $all a write acknowledged before it was sent"
    return len(ours)


def _tracked(stream: str, event_type: str, prefix: str) -> bool:
    """Events the writers wrote themselves (not the node's deletion records)."""
    if stream.startswith("$$"):
        return stream.startswith("$$" + prefix) and "-tmp" not in stream
    return stream.startswith(prefix) and not event_type.startswith("$")
