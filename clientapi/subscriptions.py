"""Catch-up subscriptions to a stream or to `$all`, run on the client's event loop.

    sub = client.subscribe("orders", on_event, start_from_beginning=True,
                           on_live=lambda: print("caught up"), on_error=print)
    client.wait()              # callbacks run while wait() drives the loop
    sub.stop()                 # or client.unsubscribe("orders")

    async for event in client.subscribe("orders"):     # from asyncio code
        ...

How it behaves:
- Outside async code the subscription runs on the client's private IOLoop, so its
  callbacks run while `wait()` runs (as the `_async` callbacks do); called from a
  running asyncio loop it runs on that loop. No threads, no polling timers. Inside a
  callback use the `_async` operations (a blocking call there raises UsageError).
- Catch-up reads whole forward pages (`page_size`, 4096 by default) with `embed=body`.
  Once it has caught up (`on_live`), every read carries ES-LongPoll: the server answers
  as soon as a new event is written, so it arrives within milliseconds.
- Every event is handed over exactly once and in order, across pages, reconnects and
  node restarts (see clientapi.wire.catchup for how).
- A failed read (connection refused or cut, timeout, 5xx) is retried from right after
  the last event handed over, after a growing, jittered delay (`retry`: a Backoff, by
  default RetryPolicy(): forever, 0.05 s doubling up to 2 s); each failure goes to
  `on_error` while the subscription keeps going. A failure that retrying cannot fix (401 access
  denied, 410 stream deleted, 400), or `retry.max_retries` failures in a row, stops it
  and is passed to `on_error`. A stream that does not exist yet is waited for.
- A callback that raises stops the subscription: the event it was given does not
  count as handed over, so resuming from `checkpoint` hands it over again. The error
  goes to `on_error` as a CallbackError (its `event` and `__cause__` tell what
  happened); without `on_error` it makes the running (or next) `wait()` raise it, as a
  failing `_async` callback does. Errors that stop a subscription are never dropped.
- `stop()` (and `unsubscribe`) takes effect at once: no callback runs after it returns,
  and a coroutine callback still running is cancelled (its event does not count as
  handed over). Call it from a callback or while no `wait()` runs (a Client is not
  thread-safe). A long poll already sent is left to end on the server's side; its
  answer is dropped. `Client.close()` stops every subscription of the client.
- Each live subscription keeps one connection busy with its long poll: give the Client
  `max_connections` above the number of subscriptions plus other requests in flight.
"""
from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
from typing import Any, Callable, Dict, List, Optional, Protocol, Tuple, Union, cast

from tornado.queues import Queue

from .errors import EventStoreError, ProtocolError, StreamNotFound
from .events import ReadEvent
from .faces import LoopRunner
from .retry import Backoff, as_backoff, may_retry
from .transport import TransportSettings
from .wire import Credentials, CredentialsLike, Request
from .wire.decoding import FeedPage
from .wire import arguments as check
from .wire.catchup import (START_OF_ALL, AllCheckpoint, AllCursor, AllPosition, CatchUp, Read,
                           SUBSCRIPTION_BACKOFF, RetryPolicy, StreamCursor, fetched_page,
                           head_start)

__all__ = ["CatchUpSubscriptions", "CatchUpSubscription", "CallbackError", "AllCheckpoint",
           "AllPosition", "Backoff", "RetryPolicy", "DEFAULT_PAGE_SIZE"]

log = logging.getLogger("clientapi.subscriptions")

ALL = "$all"
# Whole pages as large as the server serves (as the client's plain reads use): fewest
# round trips while catching up; at the head a page holds only what is new anyway.
DEFAULT_PAGE_SIZE = MAX_PAGE_SIZE = 4096
LONG_POLL_HEADER = "ES-LongPoll"  # accepted under this name by every server generation
LONG_POLL_SECONDS = 10

Callback = Callable[[ReadEvent], Any]


class CallbackError(EventStoreError):
    """A subscription's callback raised; the original exception is `__cause__`.
    `event` is the event it was given (not counted as handed over)."""

    def __init__(self, event: ReadEvent, error: BaseException) -> None:
        super().__init__("subscription callback raised {!r} on event {}@{}".format(
            error, event.event_number, event.stream_id))
        self.event = event


def _position_in_stream_read(event: ReadEvent) -> int:
    """The event's number in the stream subscribed to: a resolved link's own number."""
    if event.original_event_number is not None:
        return event.original_event_number
    return event.event_number


def _long_poll_seconds(request_timeout: float) -> int:
    # The server must answer a long poll well before the client gives up on it.
    return max(1, min(LONG_POLL_SECONDS, int(request_timeout / 2)))


def _with_long_poll(request: Request, seconds: int) -> Request:
    headers = dict(request.headers)
    headers[LONG_POLL_HEADER] = str(seconds)
    return dataclasses.replace(request, headers=headers)


_END = object()  # wakes an `async for` when the subscription stops


class _Client(Protocol):
    """What subscriptions use of the Client they are mixed into."""

    _runner: LoopRunner
    _settings: TransportSettings

    def _auth(self, credentials: CredentialsLike) -> Optional[Credentials]: ...

    async def _read(self, request: Request, auth: Optional[Credentials],
                    single: bool = False) -> Tuple[Optional[FeedPage], List[ReadEvent]]: ...

    def _page_request(self, stream_id: str, start: Optional[int], size: int, forward: bool,
                      resolve_links: bool) -> Request: ...

    def _all_request(self, position: Optional[Tuple[int, int]], size: int, forward: bool,
                     resolve_links: bool) -> Request: ...

    def _catch_up_subscriptions(self) -> "_Registry": ...


class CatchUpSubscription:
    """A running catch-up subscription: stop it, see where it stands, or iterate it.

    - `stop()`: no callback after it returns (idempotent).
    - `checkpoint`: what has been handed over: for a stream, the number of the last event
      (-1 for none), for `$all` an AllCheckpoint. Pass it as `start_after` to resume.
    - `is_running`, `is_live` (has caught up at least once), `error` (what stopped it).
    - Without a callback, `async for event in subscription` yields the events; the
      iteration ends when the subscription stops, raising the error that stopped it.
      `async with` stops it on leaving the block.
    """

    def __init__(self, client: _Client, stream_id: str, catch_up: CatchUp, *,
                 callback: Optional[Callback], on_live: Optional[Callable[[], Any]],
                 on_error: Optional[Callable[[EventStoreError], Any]], resolve_links: bool,
                 page_size: int, auth: Optional[Credentials]) -> None:
        self.stream_id = stream_id
        self.error: Optional[Exception] = None
        self._client = client
        self._catch_up = catch_up
        self._callback = callback
        self._on_live = on_live
        self._on_error = on_error
        self._resolve_links = resolve_links
        self._page_size = page_size
        self._auth = auth
        self._long_poll = _long_poll_seconds(client._settings.request_timeout)
        self._stopped = False
        self._told_live = False
        self._queue: Optional[Queue] = Queue() if callback is None else None
        self._task: Optional["asyncio.Future[None]"] = None

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else ("live" if self.is_live else "catching up")
        return "<CatchUpSubscription {!r} {} at {!r}>".format(self.stream_id, state, self.checkpoint)

    @property
    def of_all(self) -> bool:
        return self.stream_id == ALL

    @property
    def checkpoint(self) -> Union[int, AllCheckpoint]:
        return self._catch_up.checkpoint

    @property
    def is_live(self) -> bool:
        return self._catch_up.is_live

    @property
    def is_running(self) -> bool:
        return not self._stopped

    def _start(self) -> None:
        self._task = self._client._runner.run_async("subscribe", self._run(), None, None)
        self._client._catch_up_subscriptions().track(self._task)

    def stop(self) -> None:
        """Stop now: no callback runs after this returns."""
        if self._stopped:
            return
        self._stopped = True
        self._client._catch_up_subscriptions().forget(self)
        if self._queue is not None:
            self._queue.put_nowait(_END)
        if self._task is not None and not self._task.done():
            self._task.cancel()

    # --- the loop ------------------------------------------------------------------
    async def _run(self) -> None:
        try:
            while not self._stopped:
                read = self._catch_up.next_read()
                if read.delay:
                    await asyncio.sleep(read.delay)
                if read.find_head:
                    await self._find_head()
                    self._tell_if_live()
                else:
                    await self._read_from(read)
        except asyncio.CancelledError:
            pass  # stop()
        except Exception as error:  # a fault of ours: stop and say so rather than vanish
            log.exception("subscription to %s failed", self.stream_id)
            self._fail(error)

    def _request(self, start: Union[int, AllPosition, None], size: int, forward: bool) -> Request:
        """A page of the stream (or `$all`) from `start`; None = backward from the head."""
        if self.of_all:
            return self._client._all_request(cast(Optional[AllPosition], start), size, forward,
                                             self._resolve_links)
        return self._client._page_request(self.stream_id, cast(Optional[int], start), size, forward,
                                          self._resolve_links)

    async def _fetch(self, request: Request) -> Tuple[FeedPage, List[ReadEvent]]:
        page, events = await self._client._read(request, self._auth)
        assert page is not None  # a feed read always yields its page
        return page, events

    async def _find_head(self) -> None:
        try:
            page, _ = await self._fetch(self._request(None, 1, False))
        except StreamNotFound:
            self._catch_up.on_head(0)  # every event of a stream yet to be written is new
        except EventStoreError as error:
            self._retry_or_fail(error)
        else:
            self._catch_up.on_head(head_start(page, self.of_all))

    async def _read_from(self, read: Read) -> None:
        request = self._request(read.start, self._page_size, True)
        if read.long_poll:
            request = _with_long_poll(request, self._long_poll)
        loop = asyncio.get_running_loop()
        began = loop.time()
        try:
            page, events = await self._fetch(request)
        except StreamNotFound:
            self._catch_up.on_missing_stream(loop.time() - began)
            self._tell_if_live()
            return
        except EventStoreError as error:
            self._retry_or_fail(error)
            return
        if self._stopped:
            return
        try:
            fetched = fetched_page(page, events, self.of_all, self._page_size)
        except ProtocolError as error:  # a link we cannot follow: retrying will not help
            self._fail(error)
            return
        fresh = self._catch_up.on_page(fetched, loop.time() - began)
        if self._queue is not None:
            await self._hand_to_iterator(fresh)
        else:
            await self._hand_to_callback(fresh)
        self._tell_if_live()

    def _tell_if_live(self) -> None:
        if self._catch_up.is_live and not self._told_live and not self._stopped:
            self._told_live = True
            if self._on_live is not None:
                self._call_user("on_live", self._on_live)

    async def _hand_to_callback(self, events: List[ReadEvent]) -> None:
        for event in events:
            if self._stopped:
                return
            try:
                result = self._callback(event)  # type: ignore[misc]
                if result is not None and inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception as error:
                failure = CallbackError(event, error)
                failure.__cause__ = error
                self._fail(failure)
                return
            self._catch_up.delivered(event)

    async def _hand_to_iterator(self, events: List[ReadEvent]) -> None:
        assert self._queue is not None
        for event in events:
            self._queue.put_nowait(event)
        # The page is handed over once the consumer took all of it (`__anext__` counts
        # each one), which also keeps at most one page in memory.
        await self._queue.join()

    # --- failures --------------------------------------------------------------------
    def _retry_or_fail(self, error: EventStoreError) -> None:
        """Reads are safe to repeat: connection failures, timeouts, cut answers and 5xx
        are retried (the server may come back); other answers (401, 410, 400) will not
        change, so they stop the subscription."""
        delay = self._catch_up.on_failure() if may_retry(error, retryable=True) else None
        if delay is None:
            self._fail(error)
            return
        if self._stopped:
            return
        if self._on_error is not None:
            self._call_user("on_error", self._on_error, error)
        else:
            log.warning("subscription to %s: %s; retrying in %.2f s", self.stream_id, error, delay)

    def _fail(self, error: Exception) -> None:
        if self._stopped:  # stopped by the user meanwhile: no callback after stop()
            log.error("subscription to %s, already stopped: %s", self.stream_id, error)
            return
        self.error = error
        self.stop()
        if self._on_error is not None:
            self._call_user("on_error", self._on_error, error)
        elif self._queue is None:
            self._client._runner._report_callback_error("subscribe", error)

    def _call_user(self, name: str, function: Callable[..., Any], *args: Any) -> None:
        try:
            function(*args)
        except Exception as error:  # a broken on_live/on_error must not vanish either
            self._client._runner._report_callback_error("subscription " + name, error)

    # --- async iteration ---------------------------------------------------------------
    def __aiter__(self) -> "CatchUpSubscription":
        if self._queue is None:
            raise TypeError("this subscription hands its events to its callback; subscribe "
                            "without a callback to iterate over it")
        return self

    async def __anext__(self) -> ReadEvent:
        assert self._queue is not None
        while not self._stopped:
            item = await self._queue.get()
            self._queue.task_done()
            if item is _END or self._stopped:
                break
            self._catch_up.delivered(item)
            return item
        if self.error is not None:
            raise self.error
        raise StopAsyncIteration

    async def __aenter__(self) -> "CatchUpSubscription":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self.stop()


def _check_start_from_beginning(start_from_beginning: Any, start_from_begining: Any) -> bool:
    """The original client's spelling keeps working (as a keyword)."""
    if start_from_begining is not None:
        check.check_bool("start_from_begining", start_from_begining)
        if start_from_beginning and not start_from_begining:
            raise ValueError("start_from_beginning and start_from_begining disagree")
        return start_from_begining
    return check.check_bool("start_from_beginning", start_from_beginning)


def _check_page_size(page_size: Any) -> int:
    page_size = check.check_count(page_size)
    if page_size > MAX_PAGE_SIZE:
        raise ValueError("page_size must be at most {} (the server's limit)".format(MAX_PAGE_SIZE))
    return page_size


def _check_retry(retry: Any) -> Backoff:
    """A Backoff; or a number of retries, with the subscription's usual delays; or None."""
    if isinstance(retry, Backoff):
        return retry
    if isinstance(retry, int) and not isinstance(retry, bool) and retry >= 0:
        return RetryPolicy(max_retries=retry)
    return as_backoff(retry)  # raises the TypeError/ValueError that fits


def _stream_catch_up(from_beginning: bool, start_after: Any, retry: Backoff) -> CatchUp:
    if start_after is not None:
        if from_beginning:
            raise ValueError("give start_from_beginning or start_after, not both")
        last = check.check_int("start_after", start_after)
        if last < -1:
            raise ValueError("start_after must be an event number, or -1 for before the first")
        return CatchUp(StreamCursor(last, _position_in_stream_read), backoff=retry)
    if from_beginning:
        return CatchUp(StreamCursor(-1, _position_in_stream_read), backoff=retry)
    return CatchUp(StreamCursor(-1, _position_in_stream_read), start_at_head=True, backoff=retry)


def _all_catch_up(from_beginning: bool, start_after: Any, retry: Backoff) -> CatchUp:
    if start_after is not None:
        if from_beginning:
            raise ValueError("give start_from_beginning or start_after, not both")
        if isinstance(start_after, AllPosition):
            start_after = AllCheckpoint(start_after)
        if not isinstance(start_after, AllCheckpoint):
            raise TypeError("start_after must be an AllCheckpoint or an AllPosition(commit, "
                            "prepare), not {}".format(type(start_after).__name__))
        check.check_all_position(start_after.position.prepare_position,
                                 start_after.position.commit_position)
        return CatchUp(AllCursor(start_after), backoff=retry)
    if from_beginning:
        return CatchUp(AllCursor(AllCheckpoint(START_OF_ALL)), backoff=retry)
    return CatchUp(AllCursor(AllCheckpoint(START_OF_ALL)), start_at_head=True, backoff=retry)


class CatchUpSubscriptions:
    """The subscription methods of `Client` (mixed into it).

    Uses the client's `_runner`, `_settings`, `_auth`, `_read`, `_page_request` and
    `_all_request`.
    """

    def subscribe(self, stream_id: str, callback: Optional[Callback] = None,
                  start_from_beginning: bool = False, *, start_after: Optional[int] = None,
                  resolve_links: bool = True, on_live: Optional[Callable[[], Any]] = None,
                  on_error: Optional[Callable[[EventStoreError], Any]] = None,
                  page_size: int = DEFAULT_PAGE_SIZE, retry: Union[Backoff, int] = SUBSCRIPTION_BACKOFF,
                  credentials: CredentialsLike = None,
                  start_from_begining: Optional[bool] = None) -> CatchUpSubscription:
        """Hand every event of `stream_id` to `callback(event)`, in order, then keep
        handing over new ones as they are written, until stopped.

        Where it starts: by default with the events written from now on;
        `start_from_beginning=True` from the first event; `start_after=N` right after
        event N (a checkpoint you stored: `subscription.checkpoint`). Links (e.g. in
        `$ce-` category streams) are resolved unless `resolve_links=False`.
        `on_live()` is called once, when the subscription has caught up; `on_error(error)`
        on each failure (see the module documentation). `callback` may be a coroutine
        function (awaited before the next event). Without a callback, iterate the
        returned subscription with `async for`.
        """
        stream_id = check.check_stream_id(stream_id)
        catch_up = _stream_catch_up(
            _check_start_from_beginning(start_from_beginning, start_from_begining), start_after,
            _check_retry(retry))
        return self._start_catch_up(stream_id, catch_up, callback, on_live, on_error,
                                        resolve_links, page_size, credentials)

    def subscribe_all(self, callback: Optional[Callback] = None, start_from_beginning: bool = False, *,
                      start_after: Union[AllCheckpoint, AllPosition, None] = None,
                      resolve_links: bool = False, on_live: Optional[Callable[[], Any]] = None,
                      on_error: Optional[Callable[[EventStoreError], Any]] = None,
                      page_size: int = DEFAULT_PAGE_SIZE, retry: Union[Backoff, int] = SUBSCRIPTION_BACKOFF,
                      credentials: CredentialsLike = None,
                      start_from_begining: Optional[bool] = None) -> CatchUpSubscription:
        """Like `subscribe`, for every event of every stream (`$all`: admins only by
        default). `start_after` takes the AllCheckpoint of an earlier subscription, or an
        AllPosition(commit, prepare) to start at (e.g. where a `read_all_events_forward`
        result says to continue). Links are not resolved unless `resolve_links=True`
        (the server's default for `$all`)."""
        catch_up = _all_catch_up(
            _check_start_from_beginning(start_from_beginning, start_from_begining), start_after,
            _check_retry(retry))
        return self._start_catch_up(ALL, catch_up, callback, on_live, on_error,
                                        resolve_links, page_size, credentials)

    def unsubscribe(self, stream_id: str) -> None:
        """Stop every subscription to `stream_id` made on this client."""
        self._catch_up_subscriptions().stop(check.check_stream_id(stream_id))

    def unsubscribe_all(self) -> None:
        """Stop every subscription to `$all` made on this client."""
        self._catch_up_subscriptions().stop(ALL)

    # --- plumbing ---------------------------------------------------------------------
    def _start_catch_up(self, stream_id: str, catch_up: CatchUp, callback: Optional[Callback],
                            on_live: Any, on_error: Any, resolve_links: Any, page_size: Any,
                            credentials: CredentialsLike) -> CatchUpSubscription:
        for name, function in (("callback", callback), ("on_live", on_live), ("on_error", on_error)):
            check.check_callback(name, function)
        client = cast(_Client, self)
        subscription = CatchUpSubscription(
            client, stream_id, catch_up, callback=callback, on_live=on_live, on_error=on_error,
            resolve_links=check.check_bool("resolve_links", resolve_links),
            page_size=_check_page_size(page_size), auth=client._auth(credentials))
        self._catch_up_subscriptions().add(subscription)
        subscription._start()
        return subscription

    def _catch_up_subscriptions(self) -> "_Registry":
        # Created on first use, so that the Client's __init__ need not know about it.
        registry = self.__dict__.get("_catch_up_registry")
        if registry is None:
            registry = self.__dict__["_catch_up_registry"] = _Registry()
        return registry

    def _close_subscriptions(self) -> None:
        """Stop every subscription and let their tasks end, before the loop is closed
        (so that none is left pending on a closed loop). For `Client.close()`."""
        registry = self._catch_up_subscriptions()
        for stream_id in list(registry.by_stream):
            registry.stop(stream_id)
        tasks = [task for task in registry.tasks if not task.done()]
        registry.tasks.clear()
        by_loop: Dict[asyncio.AbstractEventLoop, list] = {}
        for task in tasks:
            by_loop.setdefault(task.get_loop(), []).append(task)
        if _running_loop() is not None:
            return  # they end as soon as their loop runs again
        for loop, pending in by_loop.items():
            if not loop.is_closed() and not loop.is_running():
                loop.run_until_complete(asyncio.wait(pending))


def _running_loop() -> Optional[asyncio.AbstractEventLoop]:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class _Registry:
    """A client's subscriptions: running ones by stream, and the tasks of all of them."""

    def __init__(self) -> None:
        self.by_stream: Dict[str, List[CatchUpSubscription]] = {}
        self.tasks: "set[asyncio.Future[None]]" = set()

    def add(self, subscription: CatchUpSubscription) -> None:
        self.by_stream.setdefault(subscription.stream_id, []).append(subscription)

    def track(self, task: "asyncio.Future[None]") -> None:
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def stop(self, stream_id: str) -> None:
        for subscription in list(self.by_stream.get(stream_id, ())):
            subscription.stop()

    def forget(self, subscription: CatchUpSubscription) -> None:
        others = [s for s in self.by_stream.get(subscription.stream_id, ()) if s is not subscription]
        if others:
            self.by_stream[subscription.stream_id] = others
        else:
            self.by_stream.pop(subscription.stream_id, None)
