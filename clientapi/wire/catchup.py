"""The decisions of a catch-up subscription, without any I/O.

A catch-up subscription reads a stream (or `$all`) forward one page at a time, hands
every event over exactly once and in order, and at the head keeps repeating the last
read with ES-LongPoll so that a new event arrives as soon as it is written. The runner
(clientapi.subscriptions) does the HTTP; this module tells it which read to make next,
which events of a page to hand over, and where the subscription stands.

Exactly-once rests on a cursor that survives re-reads:
- a stream subscription remembers the number of the last event handed over (in the
  stream being read: for a resolved link, the link's number, not the target's) and
  hands over only events numbered above it;
- a `$all` subscription cannot, because `$all` entries carry no position. It remembers
  the position its current page was read from and how many records at or after that
  position it has handed over. The log is append-only, so a re-read from the same
  position yields the same records first, and skipping that many of them is exact.

Paging follows the server's links (digest §5.4, §6.3, §7): a page's `previous` link
leads to newer events and the runner gives it here as the `newer` start it names; a
page without one is the head, and the same read is made again, now with ES-LongPoll.
From then on (the subscription is live) every read long-polls: the server answers at
once when it has events and waits when it has none. Empty pages that still link onwards
(truncated streams) are followed, not polled.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from typing import Any, Callable, Generic, NamedTuple, Optional, Sequence, TypeVar, Union

from ..errors import ProtocolError
from ..retry import Backoff
from .decoding import FeedPage, all_link_position, decode_position, stream_link_start

__all__ = ["AllPosition", "AllCheckpoint", "START_OF_ALL", "Read", "FetchedPage",
           "StreamCursor", "AllCursor", "CatchUp", "RetryPolicy", "SUBSCRIPTION_BACKOFF", "fetched_page",
           "head_start"]

Event = TypeVar("Event")


class AllPosition(NamedTuple):
    """A position in `$all`: commit then prepare position.

    A tuple in the (commit, prepare) order of the request builders' positions, so it
    can be given to them as is; it orders as the log does.
    """

    commit_position: int
    prepare_position: int

    @classmethod
    def from_hex(cls, text: str) -> "AllPosition":
        """From the 32-hex-digit form of `$all` URIs."""
        return cls(*decode_position(text))


START_OF_ALL = AllPosition(0, 0)
Start = Union[int, AllPosition]  # an event number, or a `$all` position


@dataclass(frozen=True)
class AllCheckpoint:
    """Where a `$all` subscription stands.

    Every record before `position` has been handed over, and so have the first `skip`
    records at or after it. Store it, and pass it back as `start_after` to resume right
    after the last event handed over. A bare position (for instance the one a
    `read_all_events_forward` result says to continue from) means `skip=0`.
    """

    position: AllPosition
    skip: int = 0

    def __post_init__(self) -> None:
        if self.skip < 0:
            raise ValueError("skip cannot be negative")


@dataclass(frozen=True)
class Read:
    """The next read the runner must make, after waiting `delay` seconds.

    Either a forward read from `start` (an event number or an AllPosition), sent with
    ES-LongPoll when `long_poll` (once the subscription is live: the server only waits
    when it has nothing to return), or, with `find_head`, a look at where the stream
    ends now, answered with `CatchUp.on_head`.
    """

    start: Optional[Start] = None
    find_head: bool = False
    delay: float = 0.0
    long_poll: bool = False

    def after(self, delay: float) -> "Read":
        return replace(self, delay=delay)


@dataclass(frozen=True)
class FetchedPage(Generic[Event]):
    """A forward page as the runner got it, reduced to what matters here.

    `events` oldest first (feeds list entries newest first: the runner reverses them).
    `newer` is where the page's `previous` link says newer events continue (an event
    number or an AllPosition), None when the page has no such link (the head).
    `head_of_stream`: the page reached the last event when it was read (the feed's flag
    on stream pages; a page shorter than asked for, on `$all` ones).
    """

    events: Sequence[Event]
    newer: Optional[Start]
    head_of_stream: bool = False


class StreamCursor:
    """Exactly-once bookkeeping for one stream: the number of the last event handed over."""

    def __init__(self, last_delivered: int, event_number: Callable[[Any], int]):
        self.last_delivered = last_delivered
        self._event_number = event_number

    @property
    def checkpoint(self) -> int:
        return self.last_delivered

    def resume_read(self) -> Read:
        return Read(start=self.last_delivered + 1)

    def head_found(self, start: int) -> None:
        self.last_delivered = start - 1

    def fresh_events(self, read: Read, events: Sequence[Event]) -> list:
        fresh, last = [], self.last_delivered
        for event in events:
            number = self._event_number(event)
            if number > last:  # drops re-read events, and anything out of order
                fresh.append(event)
                last = number
        return fresh

    def delivered(self, event: Any) -> None:
        self.last_delivered = self._event_number(event)


class AllCursor:
    """Exactly-once bookkeeping for `$all`: a page position plus records handed over from it."""

    def __init__(self, checkpoint: AllCheckpoint):
        self._position = checkpoint.position
        self._skip = checkpoint.skip

    @property
    def checkpoint(self) -> AllCheckpoint:
        return AllCheckpoint(self._position, self._skip)

    def resume_read(self) -> Read:
        return Read(start=self._position)

    def head_found(self, start: AllPosition) -> None:
        self._position, self._skip = start, 0

    def fresh_events(self, read: Read, events: Sequence[Event]) -> list:
        if read.start != self._position:
            # A read from a new position only follows a `previous` link, which the
            # runner does once every record of the page before has been handed over.
            self._position, self._skip = read.start, 0  # type: ignore[assignment]
        return list(events[self._skip:])

    def delivered(self, event: Any) -> None:
        self._skip += 1


Cursor = Union[StreamCursor, AllCursor]


@dataclass(frozen=True)
class RetryPolicy(Backoff):
    """A Backoff with the defaults of subscriptions: failed reads are retried until the
    subscription is stopped (a node may be down for a while), after delays growing from
    0.05 s to 2 s, drawn at random below that cap so that many subscriptions cut off by
    one failure do not all come back at the same instant."""

    max_retries: int = sys.maxsize
    first_delay: float = 0.05
    max_delay: float = 2.0


SUBSCRIPTION_BACKOFF = RetryPolicy()
# An empty answer to a long poll quicker than this did not really wait (a server that
# ignores ES-LongPoll, or answers 404 at once for a stream not written yet): wait a
# little, growing, before asking again rather than spin.
MIN_POLL_SECONDS = 0.2


# A read with nothing set: "forward from the checkpoint", resolved when it is made, so
# that it counts every event handed over until then.
_FROM_CHECKPOINT = Read()


class CatchUp:
    """The state of one catch-up subscription.

    The runner's loop:

        read = catch_up.next_read()            # wait read.delay, then make it
        catch_up.on_head(start)                # answer to read.find_head
        for event in catch_up.on_page(page, elapsed):   # or on_missing_stream(elapsed)
            callback(event)                    # (stop checks here)
            catch_up.delivered(event)
        catch_up.on_failure()                  # instead, when the read failed:
                                               # the delay, or None to give up

    The checkpoint counts what was handed over (`delivered`), never what was fetched.
    Every event of a page must be handed over before the next read.
    """

    def __init__(self, cursor: Cursor, start_at_head: bool = False,
                 backoff: Backoff = SUBSCRIPTION_BACKOFF):
        self._cursor = cursor
        self._backoff = backoff
        self._failures = 0
        self._fast_empty_polls = 0
        self.is_live = False
        self._pending = Read(find_head=True) if start_at_head else _FROM_CHECKPOINT
        self._current = self._pending

    @property
    def checkpoint(self) -> Union[int, AllCheckpoint]:
        return self._cursor.checkpoint

    def next_read(self) -> Read:
        pending = self._pending
        if pending.start is None and not pending.find_head:
            pending = self._cursor.resume_read().after(pending.delay)
        if not pending.find_head:
            pending = replace(pending, long_poll=self.is_live)
        self._current = pending
        return pending

    def on_head(self, start: Start) -> None:
        """Where new events will start: the answer to a `find_head` read."""
        self._cursor.head_found(start)  # type: ignore[arg-type]
        self._failures = 0
        self.is_live = True  # nothing to catch up with
        self._pending = _FROM_CHECKPOINT

    def on_page(self, page: FetchedPage[Event], elapsed: float = 0.0) -> list:
        """Take a page the current read returned; the events to hand over, in order."""
        self._failures = 0
        fresh = self._cursor.fresh_events(self._current, page.events)
        if page.newer is not None:
            self._fast_empty_polls = 0
            self._pending = Read(start=page.newer)
            self.is_live = self.is_live or page.head_of_stream
        elif page.events:
            # Servers always link a non-empty page onwards; should one not, carry on
            # from the checkpoint rather than read a page already handed over again.
            self._pending = _FROM_CHECKPOINT
        else:
            self.is_live = True
            self._pending = self._poll_again(elapsed)
        return fresh

    def on_missing_stream(self, elapsed: float = 0.0) -> None:
        """The stream does not exist (yet, or again after a soft delete): wait for it."""
        self._failures = 0
        self.is_live = True
        self._pending = self._poll_again(elapsed)

    def delivered(self, event: Any) -> None:
        self._cursor.delivered(event)

    def on_failure(self) -> Optional[float]:
        """The read failed in a way worth retrying; returns the delay before the retry,
        or None once `max_retries` reads in a row have failed (give up).

        The retry reads from the checkpoint: what was handed over before the failure is
        skipped, and nothing after it is lost.
        """
        self._failures += 1
        if self._failures > self._backoff.max_retries:
            return None
        delay = self._backoff.delay(self._failures)
        resume = self._current if self._current.find_head else _FROM_CHECKPOINT
        self._pending = resume.after(delay)
        return delay

    def _poll_again(self, elapsed: float) -> Read:
        """The read to repeat at the head (it goes with ES-LongPoll from now on)."""
        if self._current.long_poll and elapsed < MIN_POLL_SECONDS:
            self._fast_empty_polls += 1
            return self._current.after(self._backoff.cap(self._fast_empty_polls))
        self._fast_empty_polls = 0
        return self._current.after(0.0)


def _newer_start(page: FeedPage, of_all: bool) -> Optional[Start]:
    """Where the page's `previous` link (newer events) starts, None without one."""
    link = page.link("previous")
    if link is None:
        return None
    if of_all:
        position = all_link_position(link)
        start: Optional[Start] = AllPosition(*position) if position is not None else None
    else:
        start = stream_link_start(link)
    if start is None:
        raise ProtocolError("cannot follow the feed's 'previous' link {!r}".format(link))
    return start


def fetched_page(page: FeedPage, events: Sequence[Event], of_all: bool,
                 count: int) -> FetchedPage[Event]:
    """A forward page for `CatchUp.on_page`; `events` as the feed lists them (newest first),
    `count` the page size asked for. A page short of it reached the end at the time it was
    read (the only end-of-stream sign `$all` pages give)."""
    at_head = page.head_of_stream or len(events) < count
    return FetchedPage(list(reversed(events)), _newer_start(page, of_all), at_head)


def head_start(page: FeedPage, of_all: bool) -> Start:
    """Where new events will start, from the head page (a backward read from the head):
    its `previous` link is always there and points just past the last event."""
    start = _newer_start(page, of_all)
    if start is None:
        raise ProtocolError("the head page has no 'previous' link")
    return start
