"""Persistent subscriptions (competing consumers) over HTTP: the client side.

    client.create_persistent_subscription("orders", "billing",
                                          PersistentSubscriptionSettings(max_retry_count=3))
    handle = client.connect_to_persistent_subscription("orders", "billing", on_event)
    client.wait()            # callbacks run while wait() drives the loop
    handle.stop()

    for message in client.read_persistent_messages("orders", "billing", 10):
        ...
        client.ack_persistent_messages("orders", "billing", message)

Every operation has a blocking form and an `_async` twin (see `clientapi.faces`).
Messages come as `PersistentEvent`s: ReadEvents that also carry the `message_id` to ack or
nack (for a resolved link that is the link's id, not the target event's) and the server's
`retry_count` (0 on servers older than 20.x, which do not send it).

`connect_to_persistent_subscription` keeps reading (with ES-LongPoll, which the embedded
node honours; real servers answer at once, so an empty answer is followed by a short
pause), hands each message to the callback, acks the ones whose callback returned and
nacks (retry) the ones whose callback raised, in bulk after each batch.
"""
from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable, List, Optional, Union
from urllib.parse import quote

from .errors import (BadRequest, ConnectionFailure, EventStoreError, HttpError, ProtocolError,
                     ServerError, Timeout)
from .events import ReadEvent
from .faces import operation
from .subscriptions import CallbackError
from .wire import Credentials, CredentialsLike, Request, Response
from .wire import arguments as check
from .wire import decoding
from .wire.status import error_for, server_message

__all__ = ["PersistentSubscriptions", "PersistentSubscriptionSettings", "PersistentEvent",
           "PersistentSubscription", "SubscriptionGroupNotFound", "SubscriptionGroupAlreadyExists",
           "CallbackError", "NACK_ACTIONS", "STRATEGIES"]

log = logging.getLogger("clientapi.persistent")

COMPETING_JSON = "application/vnd.eventstore.competingatom+json"
COMPETING_TYPES = frozenset({COMPETING_JSON, "application/vnd.kurrent.competingatom+json"})
ADMIN_JSON = "application/json"
LONG_POLL_HEADER = "ES-LongPoll"
# tryharder: the only embed level that carries the payload of every event in one read
# (a persistent read cannot be repeated: a second read takes other messages).
MESSAGE_EMBED = "tryharder"
MAX_MESSAGES_PER_READ = 100  # the server's limit
NACK_ACTIONS = ("park", "retry", "skip", "stop")
STRATEGIES = ("RoundRobin", "DispatchToSingle", "Pinned", "PinnedByCorrelation")
RETRYABLE = (ConnectionFailure, Timeout, ServerError, ProtocolError)


class SubscriptionGroupNotFound(HttpError):
    """404: no such subscription group on that stream."""


class SubscriptionGroupAlreadyExists(HttpError):
    """409: the group exists already."""


@dataclass(frozen=True)
class PersistentSubscriptionSettings:
    """A group's settings; the defaults are the server's HTTP defaults. Times in milliseconds.

    `start_from`: the event number to start at, -1 for "from the end of the stream".
    `consumer_strategy`: one of STRATEGIES.
    """

    resolve_links: bool = False
    start_from: int = 0
    message_timeout_ms: int = 10000
    extra_statistics: bool = False
    max_retry_count: int = 10
    live_buffer_size: int = 500
    buffer_size: int = 500
    read_batch_size: int = 20
    checkpoint_after_ms: int = 1000
    min_checkpoint_count: int = 10
    max_checkpoint_count: int = 500
    max_subscriber_count: int = 10
    consumer_strategy: str = "RoundRobin"

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if item.type in ("bool", bool):
                check.check_bool(item.name, value)
            elif item.type in ("int", int):
                check.check_int(item.name, value)
                if item.name != "start_from":
                    _check_positive_setting(item.name, value, item.default)
        if self.consumer_strategy not in STRATEGIES:
            raise ValueError("consumer_strategy must be one of {}".format(", ".join(STRATEGIES)))
        if self.start_from < -1:
            raise ValueError("start_from must be an event number or -1 (the end of the stream)")
        if self.buffer_size <= self.read_batch_size:
            raise ValueError("buffer_size must be larger than read_batch_size")

    def to_json(self) -> dict:
        """The body the server takes (its camelCase names)."""
        return {
            "resolveLinktos": self.resolve_links, "startFrom": self.start_from,
            "messageTimeoutMilliseconds": self.message_timeout_ms,
            "extraStatistics": self.extra_statistics, "maxRetryCount": self.max_retry_count,
            "liveBufferSize": self.live_buffer_size, "bufferSize": self.buffer_size,
            "readBatchSize": self.read_batch_size,
            "checkPointAfterMilliseconds": self.checkpoint_after_ms,
            "minCheckPointCount": self.min_checkpoint_count,
            "maxCheckPointCount": self.max_checkpoint_count,
            "maxSubscriberCount": self.max_subscriber_count,
            "namedConsumerStrategy": self.consumer_strategy,
        }


def _check_positive_setting(name: str, value: int, default: Any) -> None:
    if value < 0:
        raise ValueError("{} must not be negative".format(name))
    if value == 0:
        # Every server reads a 0 as "not given" (its JSON reader skips default values) and
        # would silently use its default instead: refuse rather than mislead.
        raise ValueError("{} cannot be 0 over HTTP: the server takes 0 for 'not given' and uses "
                         "its default ({})".format(name, default))


class PersistentEvent(ReadEvent):
    """A ReadEvent handed out by a persistent subscription, with what it takes to settle it."""

    __slots__ = ("message_id", "retry_count")

    def __init__(self, event: ReadEvent, message_id: uuid.UUID, retry_count: int) -> None:
        super().__init__(event.stream_id, event.event_number, event.event_type, event.data,
                         event.metadata, event.event_id, event.is_json, event.created,
                         event.original_stream_id, event.original_event_number, event.link_metadata)
        self.message_id = message_id
        self.retry_count = retry_count

    def __repr__(self) -> str:
        return "Persistent{} (message {}, retry {})".format(
            super().__repr__(), self.message_id, self.retry_count)


MessageIds = Union[PersistentEvent, uuid.UUID, str, Iterable[Union[PersistentEvent, uuid.UUID, str]]]


# --- requests and answers (pure) -----------------------------------------------------------

def _group_path(stream_id: str, group: str, *parts: str) -> str:
    return "/subscriptions/{}/{}".format(quote(stream_id, safe=""), quote(group, safe="")) + "".join(
        "/" + part for part in parts)


def _check_group(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("group must be a str, not {}".format(type(value).__name__))
    if not value:
        raise ValueError("group must not be empty")
    return value


def _check_settings(value: Any) -> PersistentSubscriptionSettings:
    if value is None:
        return PersistentSubscriptionSettings()
    if not isinstance(value, PersistentSubscriptionSettings):
        raise TypeError("settings must be PersistentSubscriptionSettings or None, not {}".format(
            type(value).__name__))
    return value


def _check_message_ids(value: Any) -> List[uuid.UUID]:
    items = [value] if isinstance(value, (PersistentEvent, uuid.UUID, str)) else value
    try:
        items = list(items)
    except TypeError:
        raise TypeError("message ids must be PersistentEvents, UUIDs or str, or a list of them") from None
    ids = []
    for item in items:
        if isinstance(item, PersistentEvent):
            ids.append(item.message_id)
        elif isinstance(item, uuid.UUID):
            ids.append(item)
        elif isinstance(item, str):
            ids.append(uuid.UUID(item))  # ValueError for a malformed id
        else:
            raise TypeError("a message id must be a PersistentEvent, UUID or str, not {}".format(
                type(item).__name__))
    if not ids:
        raise ValueError("no message ids given")
    return ids


def _settings_request(method: str, stream_id: str, group: str,
                      settings: PersistentSubscriptionSettings) -> Request:
    return Request(method, _group_path(stream_id, group),
                   headers={"Content-Type": ADMIN_JSON, "Accept": ADMIN_JSON},
                   body=json.dumps(settings.to_json()).encode("utf-8"), retryable=False)


def _messages_request(stream_id: str, group: str, count: int, long_poll: int) -> Request:
    headers = {"Accept": COMPETING_JSON}
    if long_poll:
        headers[LONG_POLL_HEADER] = str(long_poll)
    # Not retryable: a repeated read would take (and leave in flight) other messages.
    return Request("GET", _group_path(stream_id, group, str(count)), "embed=" + MESSAGE_EMBED,
                   headers=headers, retryable=False)


def _settle_request(stream_id: str, group: str, verb: str, ids: List[uuid.UUID],
                    action: Optional[str] = None) -> Request:
    query = "ids=" + ",".join(str(i) for i in ids)
    if action is not None:
        query += "&action=" + action
    return Request("POST", _group_path(stream_id, group, verb), query, body=b"", retryable=True)


def _message_id(entry: dict) -> uuid.UUID:
    for link in entry.get("links") or ():
        if isinstance(link, dict) and link.get("relation") == "ack":
            try:
                return uuid.UUID(str(link.get("uri", "")).rstrip("/").rsplit("/", 1)[-1])
            except ValueError:
                break
    try:
        return uuid.UUID(str(entry.get("eventId")))
    except ValueError:
        raise ProtocolError("message entry has neither an ack link nor an eventId") from None


def parse_messages(response: Response) -> List[PersistentEvent]:
    """A competingatom+json feed as PersistentEvents, oldest first."""
    document = decoding.parse_json_body(response, COMPETING_TYPES)
    entries = document.get("entries") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise ProtocolError("subscription feed without a list of entries", status=response.status,
                            request=response.describe_request())
    messages = []
    for entry in reversed(entries):
        retry_count = entry.get("retryCount")
        messages.append(PersistentEvent(decoding.read_event_from_entry(entry), _message_id(entry),
                                        retry_count if isinstance(retry_count, int) else 0))
    return messages


def _completion_reason(response: Response) -> Optional[str]:
    """The `reason` of the server's completion message ({"result": ..., "reason": ...}),
    which admin operations send instead of a text body."""
    if not response.body or response.media_type != ADMIN_JSON:
        return None
    try:
        reason = json.loads(response.body.decode("utf-8")).get("reason")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None
    return reason if isinstance(reason, str) and reason else None


_GROUP_ERRORS = {404: SubscriptionGroupNotFound, 409: SubscriptionGroupAlreadyExists, 400: BadRequest}


def _raise_for(response: Response, expected: tuple) -> None:
    if response.status in expected:
        return
    kind = _GROUP_ERRORS.get(response.status)
    reason = _completion_reason(response)
    if kind is None or (kind is BadRequest and reason is None):
        raise error_for(response)
    raise kind(reason or server_message(response), status=response.status,
               request=response.describe_request(), reason=response.reason)


def _json_document(response: Response) -> Any:
    return decoding.parse_json_body(response, frozenset({ADMIN_JSON}))


# --- the operations ----------------------------------------------------------------------------

class PersistentSubscriptions:
    """The persistent-subscription methods of `Client` (mixed into it).

    Uses the client's `_runner`, `_settings` and `_auth`; `Client.close()` should call
    `_close_persistent_subscriptions()`.
    """

    async def _persistent_exchange(self, request: Request, auth: Optional[Credentials],
                                   expected: tuple) -> Response:
        response = await self._runner.transport().send(request, auth)  # type: ignore[attr-defined]
        _raise_for(response, expected)
        return response

    async def _persistent_send(self, request: Request, auth: Optional[Credentials],
                               expected: tuple) -> None:
        await self._persistent_exchange(request, auth, expected)

    @operation
    def create_persistent_subscription(self, stream_id: str, group: str,
                                       settings: Optional[PersistentSubscriptionSettings] = None, *,
                                       credentials: CredentialsLike = None) -> Awaitable[None]:
        """Create subscription group `group` on `stream_id` (needs $ops or $admins).
        Raises SubscriptionGroupAlreadyExists if there is one."""
        request = _settings_request("PUT", check.check_stream_id(stream_id), _check_group(group),
                                    _check_settings(settings))
        return self._persistent_send(request, self._auth(credentials), (201,))  # type: ignore[attr-defined]

    @operation
    def update_persistent_subscription(self, stream_id: str, group: str,
                                       settings: Optional[PersistentSubscriptionSettings] = None, *,
                                       credentials: CredentialsLike = None) -> Awaitable[None]:
        """Replace all the group's settings (unset ones return to their defaults); the group
        restarts from its last checkpoint. Raises SubscriptionGroupNotFound."""
        request = _settings_request("POST", check.check_stream_id(stream_id), _check_group(group),
                                    _check_settings(settings))
        return self._persistent_send(request, self._auth(credentials), (200,))  # type: ignore[attr-defined]

    @operation
    def delete_persistent_subscription(self, stream_id: str, group: str, *,
                                       credentials: CredentialsLike = None) -> Awaitable[None]:
        """Delete the group. Raises SubscriptionGroupNotFound."""
        request = Request("DELETE", _group_path(check.check_stream_id(stream_id), _check_group(group)),
                          headers={"Accept": ADMIN_JSON}, retryable=False)
        return self._persistent_send(request, self._auth(credentials), (200,))  # type: ignore[attr-defined]

    @operation
    def get_persistent_subscription_info(self, stream_id: str, group: str, *,
                                         credentials: CredentialsLike = None) -> Awaitable[dict]:
        """The server's detail document of the group (`config`, `status`, counters,
        `connections`...), as a dict. Raises SubscriptionGroupNotFound."""
        request = Request("GET", _group_path(check.check_stream_id(stream_id), _check_group(group), "info"),
                          headers={"Accept": ADMIN_JSON})
        return self._persistent_document(request, self._auth(credentials))  # type: ignore[attr-defined]

    @operation
    def list_persistent_subscriptions(self, stream_id: Optional[str] = None, *,
                                      credentials: CredentialsLike = None) -> Awaitable[List[dict]]:
        """Summaries (dicts) of every group, or of the groups of `stream_id` (an empty list
        when it has none)."""
        path = "/subscriptions" if stream_id is None else "/subscriptions/" + quote(
            check.check_stream_id(stream_id), safe="")
        request = Request("GET", path, headers={"Accept": ADMIN_JSON})
        return self._persistent_list(request, self._auth(credentials))  # type: ignore[attr-defined]

    async def _persistent_document(self, request: Request, auth: Optional[Credentials]) -> Any:
        return _json_document(await self._persistent_exchange(request, auth, (200,)))

    async def _persistent_list(self, request: Request, auth: Optional[Credentials]) -> List[dict]:
        try:
            document = await self._persistent_document(request, auth)
        except SubscriptionGroupNotFound:
            return []  # a stream without groups
        if not isinstance(document, list):
            raise ProtocolError("expected a list of subscription summaries", request=request.describe())
        return document

    @operation
    def read_persistent_messages(self, stream_id: str, group: str, count: int = 1, *,
                                 long_poll: int = 0,
                                 credentials: CredentialsLike = None) -> Awaitable[List[PersistentEvent]]:
        """Up to `count` (1..100) messages, oldest first; they are in flight until acked or
        nacked (or until the group's message timeout, after which they are offered again).
        `long_poll=N` asks the server to wait up to N seconds for a first message when
        none is available (the embedded node does; other servers answer at once)."""
        count = check.check_int("count", count)
        if not 1 <= count <= MAX_MESSAGES_PER_READ:
            raise ValueError("count must be between 1 and {}".format(MAX_MESSAGES_PER_READ))
        long_poll = check.check_int("long_poll", long_poll)
        if long_poll < 0:
            raise ValueError("long_poll must be >= 0 seconds")
        request = _messages_request(check.check_stream_id(stream_id), _check_group(group), count, long_poll)
        return self._read_messages(request, self._auth(credentials))  # type: ignore[attr-defined]

    async def _read_messages(self, request: Request, auth: Optional[Credentials]) -> List[PersistentEvent]:
        return parse_messages(await self._persistent_exchange(request, auth, (200,)))

    @operation
    def ack_persistent_messages(self, stream_id: str, group: str, messages: MessageIds, *,
                                credentials: CredentialsLike = None) -> Awaitable[None]:
        """Acknowledge messages (PersistentEvents or their `message_id`s), in one request.
        The server accepts acks without checking them (unknown ids are ignored)."""
        request = _settle_request(check.check_stream_id(stream_id), _check_group(group), "ack",
                                  _check_message_ids(messages))
        return self._persistent_send(request, self._auth(credentials), (202,))  # type: ignore[attr-defined]

    @operation
    def nack_persistent_messages(self, stream_id: str, group: str, messages: MessageIds,
                                 action: str = "retry", *, credentials: CredentialsLike = None) -> Awaitable[None]:
        """Refuse messages: `retry` (offer again; parked after the group's max retry count),
        `park` (to the parked-messages stream), `skip` (drop) or `stop`."""
        if action not in NACK_ACTIONS:
            raise ValueError("action must be one of {}".format(", ".join(NACK_ACTIONS)))
        request = _settle_request(check.check_stream_id(stream_id), _check_group(group), "nack",
                                  _check_message_ids(messages), action)
        return self._persistent_send(request, self._auth(credentials), (202,))  # type: ignore[attr-defined]

    @operation
    def replay_parked_messages(self, stream_id: str, group: str, stop_at: Optional[int] = None, *,
                               credentials: CredentialsLike = None) -> Awaitable[None]:
        """Offer the parked messages again, before new ones (`stop_at`: only that many;
        20.x+ servers). Needs $ops or $admins. Raises SubscriptionGroupNotFound."""
        query = ""
        if stop_at is not None:
            if check.check_int("stop_at", stop_at) < 0:
                raise ValueError("stop_at must be >= 0")
            query = "stopAt={}".format(stop_at)
        request = Request("POST", _group_path(check.check_stream_id(stream_id), _check_group(group),
                                              "replayParked"), query,
                          headers={"Accept": ADMIN_JSON}, body=b"", retryable=False)
        return self._persistent_send(request, self._auth(credentials), (200,))  # type: ignore[attr-defined]

    def connect_to_persistent_subscription(
            self, stream_id: str, group: str, callback: Callable[[PersistentEvent], Any], *,
            batch_size: int = 10, long_poll: int = 10, idle_pause: float = 0.5,
            on_error: Optional[Callable[[EventStoreError], Any]] = None,
            credentials: CredentialsLike = None) -> "PersistentSubscription":
        """Keep handing the group's messages to `callback(event)` (a PersistentEvent; a
        coroutine function is awaited) until stopped. A message is acked when the callback
        returns and nacked for retry when it raises (the server parks it after the group's
        max retry count).

        Reads up to `batch_size` messages at a time with `long_poll` seconds of ES-LongPoll;
        when a read comes back empty sooner (servers that do not long-poll subscription
        reads) the next read waits `idle_pause` seconds. Like `subscribe`, it runs on the
        client's loop: callbacks run while `wait()` runs (or on the caller's asyncio loop).

        Failures go to `on_error(error)`: a callback that raised as a CallbackError (the
        subscription goes on), connection problems, timeouts and 5xx (retried with a
        growing delay), and anything else (401, group deleted), which stops it. Without
        `on_error` the stopping ones make `wait()` raise and the others are logged.
        """
        for name, function in (("callback", callback), ("on_error", on_error)):
            check.check_callback(name, function)
        if callback is None:
            raise TypeError("callback is required")
        batch_size = check.check_int("batch_size", batch_size)
        if not 1 <= batch_size <= MAX_MESSAGES_PER_READ:
            raise ValueError("batch_size must be between 1 and {}".format(MAX_MESSAGES_PER_READ))
        if check.check_int("long_poll", long_poll) < 0:
            raise ValueError("long_poll must be >= 0 seconds")
        # The server must answer a long poll well before the client gives up on the request.
        long_poll = min(long_poll, max(1, int(self._settings.request_timeout / 2)))  # type: ignore[attr-defined]
        if isinstance(idle_pause, bool) or not isinstance(idle_pause, (int, float)) or idle_pause <= 0:
            raise ValueError("idle_pause must be a positive number of seconds")
        subscription = PersistentSubscription(
            self, check.check_stream_id(stream_id), _check_group(group), callback, on_error,
            batch_size, long_poll, float(idle_pause), self._auth(credentials))  # type: ignore[attr-defined]
        subscription._start()
        self._persistent_handles().add(subscription)
        return subscription

    def _persistent_handles(self) -> "set[PersistentSubscription]":
        # Created on first use, so that the Client's __init__ need not know about it.
        return self.__dict__.setdefault("_persistent_subscription_handles", set())

    def _close_persistent_subscriptions(self) -> None:
        """Stop every persistent subscription and let its task end before the loops close
        (so none is left pending on a closed loop). For `Client.close()`."""
        handles = self._persistent_handles()
        tasks = [handle._stop_now() for handle in list(handles)]
        handles.clear()
        pending = [task for task in tasks if task is not None and not task.done()]
        if pending and _running_loop() is None:
            for loop in {task.get_loop() for task in pending}:
                if not loop.is_closed() and not loop.is_running():
                    loop.run_until_complete(asyncio.wait([t for t in pending if t.get_loop() is loop]))


RETRY_DELAYS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)  # after consecutive failed reads


class PersistentSubscription:
    """A running `connect_to_persistent_subscription`: `stop()` it, look at `handled`,
    `failed` (callback errors), `is_running` and `error` (what stopped it)."""

    def __init__(self, client: Any, stream_id: str, group: str, callback: Callable, on_error: Any,
                 batch_size: int, long_poll: int, idle_pause: float, auth: Optional[Credentials]) -> None:
        self._client = client
        self.stream_id = stream_id
        self.group = group
        self._callback = callback
        self._on_error = on_error
        self._batch_size = batch_size
        self._long_poll = long_poll
        self._idle_pause = idle_pause
        self._auth = auth
        self._task: Optional[asyncio.Future] = None
        self._stopped = False
        self._reading = False
        self.handled = 0
        self.failed = 0
        self.error: Optional[BaseException] = None

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        return "PersistentSubscription({!r}, {!r}, {})".format(self.stream_id, self.group, state)

    @property
    def is_running(self) -> bool:
        return not self._stopped

    def _start(self) -> None:
        self._task = self._client._runner.run_async(
            "connect_to_persistent_subscription", self._run(), None, None)

    def stop(self) -> None:
        """No callback runs after this returns. Messages of the current batch not yet given
        to the callback are nacked for retry (so other consumers get them at once)."""
        if self._stopped:
            return
        self._stopped = True
        self._client._persistent_handles().discard(self)
        if self._task is not None and not self._task.done() and self._reading:
            self._task.cancel()  # only an idle read is cut short; a batch is settled first

    def _stop_now(self) -> Optional[asyncio.Future]:
        """For closing the client: stop, cutting short whatever is under way."""
        self.stop()
        if self._task is not None and not self._task.done():
            self._task.cancel()
        return self._task

    async def _run(self) -> None:
        failures = 0
        try:
            while not self._stopped:
                loop = asyncio.get_running_loop()
                began = loop.time()
                try:
                    messages = await self._idle(self._client._read_messages(
                        _messages_request(self.stream_id, self.group, self._batch_size,
                                          self._long_poll), self._auth))
                except RETRYABLE as error:
                    delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
                    failures += 1
                    self._report(error, stops=False)
                    await self._idle(asyncio.sleep(delay))
                    continue
                except EventStoreError as error:
                    self._fail(error)
                    return
                failures = 0
                if messages:
                    await self._handle(messages)
                elif not self._long_poll or loop.time() - began < self._long_poll / 2:
                    # the server did not wait for us (only the embedded node long-polls here)
                    await self._idle(asyncio.sleep(self._idle_pause))
        except asyncio.CancelledError:
            pass  # stop() during a read
        except Exception as error:  # a fault of ours: stop and say so rather than vanish
            log.exception("persistent subscription %s/%s failed", self.stream_id, self.group)
            self._fail(error)
        finally:
            self._stopped = True

    async def _idle(self, waiting: Awaitable[Any]) -> Any:
        """Awaits something stop() may cut short (a read or a pause, never a batch)."""
        self._reading = True
        try:
            return await waiting
        finally:
            self._reading = False

    async def _handle(self, messages: List[PersistentEvent]) -> None:
        done: List[uuid.UUID] = []
        retry: List[uuid.UUID] = []
        for message in messages:
            if self._stopped:
                retry.append(message.message_id)
                continue
            try:
                result = self._callback(message)
                if inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception as error:
                retry.append(message.message_id)
                self.failed += 1
                failure = CallbackError(message, error)
                failure.__cause__ = error
                self._report(failure, stops=False)
            else:
                done.append(message.message_id)
                self.handled += 1
        await self._settle("ack", done, None)
        await self._settle("nack", retry, "retry")

    async def _settle(self, verb: str, ids: List[uuid.UUID], action: Optional[str]) -> None:
        if not ids:
            return
        try:
            await self._client._persistent_send(
                _settle_request(self.stream_id, self.group, verb, ids, action), self._auth, (202,))
        except EventStoreError as error:
            # The messages stay in flight and come back after the group's message timeout.
            self._report(error, stops=False)

    def _report(self, error: EventStoreError, stops: bool) -> None:
        if self._on_error is not None:
            try:
                self._on_error(error)
            except Exception as callback_error:  # a broken on_error must not vanish either
                self._client._runner._report_callback_error("on_error", callback_error)
        elif stops:
            self._client._runner._report_callback_error("connect_to_persistent_subscription", error)
        else:
            log.warning("persistent subscription %s/%s: %s", self.stream_id, self.group, error)

    def _fail(self, error: BaseException) -> None:
        self.error = error
        self.stop()
        self._report(error, stops=True)  # type: ignore[arg-type]


def _running_loop() -> Optional[asyncio.AbstractEventLoop]:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
