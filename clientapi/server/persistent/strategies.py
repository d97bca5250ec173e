"""Consumer strategies: which reader gets which message.

Over HTTP a consumer is a *reader*: the client connection (remote address and port) that
fetches messages, so one keep-alive connection is one consumer, as a TCP/gRPC connection is one
on the real server. (The real server's HTTP endpoint ignores the strategy altogether and hands
every GET the next messages in order; ours applies it where it can matter.)

- A GET that finds messages available takes the next ones it is *eligible* for, in order.
  RoundRobin and DispatchToSingle make every reader eligible for every message; Pinned and
  PinnedByCorrelation only let a reader take messages whose bucket (hash of the event's stream,
  or of its `$correlationId`) is unowned or owned by that reader, ownership lapsing when the owner
  has not been seen for messageTimeoutMilliseconds.
- Readers parked in a long poll are served as messages arrive: RoundRobin deals one message to
  each waiting reader in turn; DispatchToSingle fills the longest-waiting reader up to its count
  before the next one gets anything; Pinned hands each message to its bucket's owner (or to the
  next reader in turn for an unowned bucket, which that reader then owns).
"""
from __future__ import annotations

import json
import zlib
from typing import Callable, Optional, Sequence

from ..core.model import ResolvedEvent
from .settings import DISPATCH_TO_SINGLE, PINNED, PINNED_BY_CORRELATION, ROUND_ROBIN

BUCKETS = 1024

ReaderIsAlive = Callable[[str], bool]


class Strategy:
    def eligible(self, event: ResolvedEvent, reader: str, alive: ReaderIsAlive) -> bool:
        return True

    def delivered(self, event: ResolvedEvent, reader: str) -> None:
        pass

    def choose(self, event: ResolvedEvent, waiting: Sequence[str], alive: ReaderIsAlive) -> Optional[str]:
        """The reader (among `waiting`, which all have room) that gets `event`, or None to hold it."""
        raise NotImplementedError


class RoundRobin(Strategy):
    def __init__(self) -> None:
        self._turn = 0

    def choose(self, event, waiting, alive):
        reader = waiting[self._turn % len(waiting)]
        self._turn += 1
        return reader


class DispatchToSingle(Strategy):
    def choose(self, event, waiting, alive):
        return waiting[0]


class Pinned(Strategy):
    def __init__(self) -> None:
        self._owners: dict[int, str] = {}
        self._round_robin = RoundRobin()

    def _key(self, event: ResolvedEvent) -> str:
        target = event.event if event.event is not None else event.original
        return target.stream_id

    def _bucket(self, event: ResolvedEvent) -> int:
        return zlib.crc32(self._key(event).encode("utf-8")) % BUCKETS

    def _owner(self, event: ResolvedEvent, alive: ReaderIsAlive) -> Optional[str]:
        owner = self._owners.get(self._bucket(event))
        return owner if owner is not None and alive(owner) else None

    def eligible(self, event, reader, alive):
        owner = self._owner(event, alive)
        return owner is None or owner == reader

    def delivered(self, event, reader):
        self._owners[self._bucket(event)] = reader

    def choose(self, event, waiting, alive):
        owner = self._owner(event, alive)
        if owner is None:
            return self._round_robin.choose(event, waiting, alive)
        return owner if owner in waiting else None


class PinnedByCorrelation(Pinned):
    def _key(self, event: ResolvedEvent) -> str:
        target = event.event if event.event is not None else event.original
        try:
            correlation = json.loads(target.metadata.decode("utf-8")).get("$correlationId")
        except (ValueError, AttributeError, UnicodeDecodeError):
            correlation = None
        return correlation if isinstance(correlation, str) else target.stream_id


_BY_NAME = {ROUND_ROBIN: RoundRobin, DISPATCH_TO_SINGLE: DispatchToSingle, PINNED: Pinned,
            PINNED_BY_CORRELATION: PinnedByCorrelation}


def strategy_for(name: str) -> Strategy:
    return _BY_NAME[name]()
