"""The public client: every stream and `$all` operation, blocking and `_async`.

Each operation below is written once, as a plan (see `faces.py`): check arguments, build
requests with the pure `wire` functions, then a coroutine sends them through the
transport and parses the answers with `wire` again.
"""
from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, List, Optional, Tuple, Union

from tornado.ioloop import IOLoop

from . import cluster
from .admin import Admin
from .errors import EventNotFound, StreamAlreadyExists, StreamNotFound, WrongExpectedVersion
from .events import AllEventsSlice, ReadEvent, WriteEvent
from .faces import LoopRunner, operation
from .persistent import PersistentSubscriptions
from .projections import Projections
from .retry import Backoff
from .subscriptions import CatchUpSubscriptions
from .transport import Transport, TransportSettings
from .users import Users
from .wire import Credentials, CredentialsLike, Request, Response, as_credentials
from .wire import arguments as check
from .wire import decoding, requests
from .wire.encoding import DEFAULT_MAX_APPEND_SIZE
from .wire.status import raise_for_status

__all__ = ["Client", "PAGE_LIMIT"]

# The server refuses reads of more than 4096 events at once (500 "Read size too big").
PAGE_LIMIT = 4096
STREAM_CREATED = "$stream-created"


def _abandon(fetching: "asyncio.Future[Any]") -> None:
    """A page read ahead that is no longer wanted (the read failed or was cancelled)."""
    if fetching.done():
        if not fetching.cancelled():
            fetching.exception()  # retrieved: no "exception was never retrieved" warning
    else:
        fetching.cancel()


class Client(CatchUpSubscriptions, PersistentSubscriptions):
    """HTTP client for EventStore 3.x-5.x, EventStoreDB 20.x-24.x (with AtomPub enabled),
    KurrentDB 25 and the embedded node.

    Credentials given here are used for every call; each operation also takes
    `credentials=(username, password)` (or a `Credentials`) for that call only.
    `require_leader=True` sends ES-RequireLeader and ES-RequireMaster and follows the
    server's redirect to the leader with the same credentials.
    `seeds=["node1:2113", ...]` talks to a cluster instead of host/port: the leader is
    found through the nodes' gossip, writes go to it, reads too unless `prefer="follower"`
    (or "random"), and a node that stops answering is routed around (clientapi.cluster).
    `retries`: a number or a `clientapi.retry.Backoff` (exponential, with jitter); by
    default none for one node and 3 for a cluster. A wrong expected version is never
    retried; appends are retried with the same event ids, so never written twice.
    A Client is not thread-safe: use it from one thread at a time.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 2113,
                 username: Optional[str] = None, password: Optional[str] = None, *,
                 https: bool = False, ca_file: Optional[str] = None, validate_cert: bool = True,
                 client_cert: Optional[str] = None, client_key: Optional[str] = None,
                 connect_timeout: float = 10.0, request_timeout: float = 30.0,
                 require_leader: bool = False, max_append_size: int = DEFAULT_MAX_APPEND_SIZE,
                 http_client: str = "auto", max_connections: int = 32,
                 retries: Union[int, Backoff, None] = None, seeds: Any = None,
                 prefer: str = "leader") -> None:
        if not isinstance(host, str):
            raise TypeError("host must be a str, not {}".format(type(host).__name__))
        if not host:
            raise ValueError("host must not be empty")
        port = check.check_int("port", port)
        if not 0 < port < 65536:
            raise ValueError("port must be between 1 and 65535")
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        self._credentials = (Credentials(username, password)
                             if username is not None and password is not None else None)
        for flag, flag_value in (("https", https), ("validate_cert", validate_cert),
                                 ("require_leader", require_leader)):
            check.check_bool(flag, flag_value)
        for timeout, seconds in (("connect_timeout", connect_timeout),
                                 ("request_timeout", request_timeout)):
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
                raise TypeError("{} must be a number of seconds".format(timeout))
            if seconds <= 0:
                raise ValueError("{} must be positive".format(timeout))
        for option, path in (("ca_file", ca_file), ("client_cert", client_cert),
                             ("client_key", client_key)):
            if path is not None and not isinstance(path, str):
                raise TypeError("{} must be a path (str) or None".format(option))
            if path is not None and not os.path.isfile(path):
                raise ValueError("{} {!r}: no such file".format(option, path))
        if http_client not in ("auto", "native", "curl", "simple"):
            raise ValueError("http_client must be 'auto', 'native', 'curl' or 'simple'")
        if check.check_int("max_append_size", max_append_size) <= 0:
            raise ValueError("max_append_size must be positive")
        if check.check_int("max_connections", max_connections) <= 0:
            raise ValueError("max_connections must be positive")
        # Cluster seeds, read preference and retry policy (clientapi.cluster, clientapi.retry).
        production = cluster.transport_options(seeds, prefer, retries, default_port=port)
        self._settings = TransportSettings(
            host=host, port=port, https=https, ca_file=ca_file, validate_cert=validate_cert,
            client_cert=client_cert, client_key=client_key, connect_timeout=float(connect_timeout),
            request_timeout=float(request_timeout), http_client=http_client,
            max_connections=max_connections, **production)
        self._require_leader = require_leader
        self._max_append_size = max_append_size
        self._runner = LoopRunner(lambda: Transport(self._settings))

    if TYPE_CHECKING:
        # The `NAME_async` twins are generated (see faces.py); for type checkers they are
        # callables returning a future.
        def __getattr__(self, name: str) -> Callable[..., "asyncio.Future[Any]"]: ...

    # --- life cycle -------------------------------------------------------------------
    @property
    def io_loop(self) -> IOLoop:
        """The client's private IOLoop (where `_async` callbacks run outside async code)."""
        return self._runner.io_loop

    @property
    def base_url(self) -> str:
        return self._settings.base_url

    @property
    def http_engine(self) -> str:
        """"native", "curl" or "simple": the HTTP engine in use (see clientapi.transport)."""
        return self._settings.engine

    @functools.cached_property
    def projections(self) -> Projections:
        """The projections API (`client.projections.create_continuous(...)`, ...)."""
        return Projections(self)

    @functools.cached_property
    def users(self) -> Users:
        """The users API (needs an admin, except for reading and changing one's own)."""
        return Users(self)

    @functools.cached_property
    def admin(self) -> Admin:
        """Operational calls: ping, info, stats, scavenge, shutdown."""
        return Admin(self)

    def close(self) -> None:
        """Stop this client's subscriptions, close connections and the private IOLoop.
        Idempotent."""
        if not self._runner.closed:
            self._close_subscriptions()
            self._close_persistent_subscriptions()
        self._runner.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        user = self._credentials.username if self._credentials else None
        where = self.base_url
        if self._settings.seeds:
            where = "seeds=" + ",".join(map(cluster.format_address, self._settings.seeds))
        return "Client({!r}, user={!r})".format(where, user)

    def wait(self, timeout: Optional[float] = None) -> None:
        """Run the private IOLoop (and so the `_async` callbacks) until a callback calls
        `resume()`. With `timeout`, raise errors.Timeout if nobody resumes in time. If a
        callback raises, wait() stops and raises that exception."""
        self._runner.wait(timeout)

    def resume(self) -> None:
        """Make the running (or the next) `wait()` return. Safe from any thread."""
        self._runner.resume()

    # --- helpers shared by the operations ------------------------------------------------
    def _auth(self, credentials: CredentialsLike) -> Optional[Credentials]:
        return as_credentials(credentials) if credentials is not None else self._credentials

    async def _exchange(self, request: Request, auth: Optional[Credentials], expected: Tuple[int, ...],
                        not_found=StreamNotFound) -> Response:
        response = await self._runner.transport().send(request, auth)
        raise_for_status(response, expected, not_found)
        return response

    async def _fetch_page(self, request: Request, auth: Optional[Credentials],
                          single: bool) -> decoding.FeedPage:
        """A feed page, or a single entry seen as a page of one."""
        if single:
            response = await self._exchange(request, auth, (200,), EventNotFound)
            return decoding.FeedPage([decoding.parse_entry(response)])
        return decoding.parse_feed(await self._exchange(request, auth, (200,)))

    async def _read(self, request: Request, auth: Optional[Credentials],
                    single: bool = False) -> Tuple[decoding.FeedPage, List[ReadEvent]]:
        """One page (or one entry) as ReadEvents, in the order the server lists them.
        `embed=body` omits non-JSON payloads; only when the page holds such events is it
        read a second time at `embed=tryharder` to fill them in."""
        return await self._events_of(await self._fetch_page(request, auth, single), request,
                                     auth, single)

    async def _events_of(self, page: decoding.FeedPage, request: Request,
                         auth: Optional[Credentials],
                         single: bool = False) -> Tuple[decoding.FeedPage, List[ReadEvent]]:
        events = decoding.read_events_from_entries(page.entries)
        # data None marks an entry without its payload (checked on the events: one cheap pass)
        lacking = [index for index, event in enumerate(events)
                   if event.data is None and decoding.needs_text(page.entries[index])]
        if lacking:
            again = dataclasses.replace(request, query="embed=" + requests.TEXT_EMBED)
            full = await self._fetch_page(again, auth, single)
            texts = {decoding.entry_key(entry): entry["data"] for entry in full.entries
                     if isinstance(entry.get("data"), str)}
            for index in lacking:
                entry = page.entries[index]
                events[index] = decoding.read_event_from_entry(entry, texts.get(decoding.entry_key(entry)))
        return page, events

    async def _pages(self, request: Request, auth: Optional[Credentials],
                     next_request: Callable[[decoding.FeedPage], Optional[Request]]
                     ) -> AsyncIterator[List[ReadEvent]]:
        """The events of `request`'s page, then of each page that `next_request` asks for
        after it. Each next page is asked for (from the links) before the current page's
        events are decoded, so that the server builds it meanwhile."""
        fetching: Optional[asyncio.Future] = asyncio.ensure_future(
            self._fetch_page(request, auth, False))
        try:
            while fetching is not None:
                page = await fetching
                following = next_request(page)
                fetching = None
                if following is not None:
                    fetching = asyncio.ensure_future(self._fetch_page(following, auth, False))
                    await asyncio.sleep(0)  # the task sends its request before decoding starts
                yield (await self._events_of(page, request, auth))[1]
                if following is not None:
                    request = following
        finally:
            if fetching is not None:
                _abandon(fetching)

    # --- streams ----------------------------------------------------------------------
    @operation
    def create_stream(self, stream_id: str, metadata: Any = "", *,
                      credentials: CredentialsLike = None) -> Awaitable[None]:
        """Create `stream_id` with a first event of type `$stream-created` whose data is
        `metadata` (written expecting no stream). A dict `metadata` is also set as the
        stream's metadata. Raises StreamAlreadyExists if the stream exists."""
        stream_id = check.check_stream_id(stream_id)
        check.check_create_metadata(metadata)
        first = WriteEvent(metadata, event_type=STREAM_CREATED, is_json=isinstance(metadata, (dict, list)))
        append = requests.append_request(stream_id, [first], -1, require_leader=self._require_leader,
                                         max_append_size=self._max_append_size)
        set_metadata = None
        if isinstance(metadata, dict):
            set_metadata = requests.metadata_write_request(stream_id, metadata, -2,
                                                           require_leader=self._require_leader)
        return self._create_stream(stream_id, append, set_metadata, self._auth(credentials))

    async def _create_stream(self, stream_id: str, append: Request, set_metadata: Optional[Request],
                             auth: Optional[Credentials]) -> None:
        try:
            await self._exchange(append, auth, (201,))
        except WrongExpectedVersion as conflict:
            raise StreamAlreadyExists(
                "stream {!r} already exists".format(stream_id), status=conflict.status,
                request=conflict.request, reason=conflict.reason,
                current_version=conflict.current_version) from conflict
        if set_metadata is not None:
            await self._exchange(set_metadata, auth, (201,))

    @operation
    def delete_stream(self, stream_id: str, expected_version: int = -2, hard_delete: bool = False, *,
                      credentials: CredentialsLike = None) -> Awaitable[None]:
        """Soft delete (the stream can be recreated by appending) or, with
        `hard_delete=True`, delete forever (StreamDeleted on any later use)."""
        request = requests.delete_request(
            check.check_stream_id(stream_id), check.check_expected_version(expected_version),
            check.check_bool("hard_delete", hard_delete), require_leader=self._require_leader)
        return self._send_expecting(request, self._auth(credentials), (200, 204))

    async def _send_expecting(self, request: Request, auth: Optional[Credentials],
                              expected: Tuple[int, ...]) -> None:
        await self._exchange(request, auth, expected)

    @operation
    def append_to_stream(self, stream_id: str, events: Any, expected_version: int = -2, *,
                         credentials: CredentialsLike = None) -> Awaitable[List[int]]:
        """Append one WriteEvent or a list of them atomically, in one request. Returns the
        event numbers written. Appending the same WriteEvents again (e.g. after a timeout)
        is recognised by the server through their event ids. A batch over the size limits
        raises AppendTooLarge before anything is sent."""
        batch = check.check_events(events)
        request = requests.append_request(
            check.check_stream_id(stream_id), batch, check.check_expected_version(expected_version),
            require_leader=self._require_leader, max_append_size=self._max_append_size)
        return self._append(request, len(batch), self._auth(credentials))

    async def _append(self, request: Request, count: int, auth: Optional[Credentials]) -> List[int]:
        response = await self._exchange(request, auth, (201,))
        return decoding.appended_event_numbers(response, count)

    @operation
    def read_event(self, stream_id: str, event_number: int, *, resolve_links: bool = True,
                   credentials: CredentialsLike = None) -> Awaitable[ReadEvent]:
        """One event (`event_number` -1 = the last one). Raises EventNotFound (a
        StreamNotFound) when there is no such event or stream."""
        request = requests.event_request(
            check.check_stream_id(stream_id), check.check_event_number(event_number),
            resolve_links=check.check_bool("resolve_links", resolve_links),
            require_leader=self._require_leader)
        return self._read_one(request, self._auth(credentials))

    async def _read_one(self, request: Request, auth: Optional[Credentials]) -> ReadEvent:
        _, events = await self._read(request, auth, single=True)
        return events[0]

    @operation
    def read_stream_events_forward(self, stream_id: str, start_position: int, count: int, *,
                                   resolve_links: bool = True,
                                   credentials: CredentialsLike = None) -> Awaitable[List[ReadEvent]]:
        """Up to `count` events from `start_position` on, oldest first (-1 = the end: none)."""
        return self._stream_plan(stream_id, start_position, count, True, resolve_links, credentials)

    @operation
    def read_stream_events_backward(self, stream_id: str, start_position: int, count: int, *,
                                    resolve_links: bool = True,
                                    credentials: CredentialsLike = None) -> Awaitable[List[ReadEvent]]:
        """Up to `count` events from `start_position` back, newest first (-1 = the end)."""
        return self._stream_plan(stream_id, start_position, count, False, resolve_links, credentials)

    def _stream_plan(self, stream_id: Any, start: Any, count: Any, forward: bool,
                     resolve_links: Any, credentials: CredentialsLike) -> Awaitable[List[ReadEvent]]:
        return self._read_stream(check.check_stream_id(stream_id), check.check_start_position(start),
                                 check.check_count(count), forward,
                                 check.check_bool("resolve_links", resolve_links), self._auth(credentials))

    def _page_request(self, stream_id: str, start: Optional[int], size: int, forward: bool,
                      resolve_links: bool) -> Request:
        return requests.stream_page_request(stream_id, start, size, forward, resolve_links=resolve_links,
                                            require_leader=self._require_leader)

    async def _read_stream(self, stream_id: str, start: int, count: int, forward: bool,
                           resolve_links: bool, auth: Optional[Credentials]) -> List[ReadEvent]:
        position: Optional[int] = None if start == -1 else start  # None = the head
        if forward and position is None:
            # Nothing lies after the end, but a missing stream is still reported.
            await self._read(self._page_request(stream_id, None, 1, False, resolve_links), auth)
            return []
        events: List[ReadEvent] = []

        def next_request(page: decoding.FeedPage) -> Optional[Request]:
            # Forward: follow `previous` (newer), including through the empty pages below
            # a truncation point; backward: follow `next` (older) to the stream's floor.
            nonlocal position
            wanted = count - len(events) - len(page.entries)
            following = decoding.stream_link_start(page.link("previous" if forward else "next"))
            if (wanted <= 0 or following is None or (forward and page.head_of_stream and page.entries)
                    or (position is not None  # no progress: never loop
                        and (following <= position if forward else following >= position))):
                return None
            position = following
            return self._page_request(stream_id, following, min(wanted, PAGE_LIMIT), forward,
                                      resolve_links)

        first = self._page_request(stream_id, position, min(count, PAGE_LIMIT), forward, resolve_links)
        async for page_events in self._pages(first, auth, next_request):
            if forward:
                page_events.reverse()  # every page lists newest first
            events.extend(page_events[:count - len(events)])
        return events

    # --- $all ------------------------------------------------------------------------------
    @operation
    def read_all_events_forward(self, prepare_position: int, commit_position: int, count: int, *,
                                resolve_links: bool = False,
                                credentials: CredentialsLike = None) -> Awaitable[AllEventsSlice]:
        """Up to `count` events of the whole log from the position on, oldest first.
        (0, 0) is the start; (-1, -1) the end (no events, but the position of the end)."""
        return self._all_plan(prepare_position, commit_position, count, True, resolve_links, credentials)

    @operation
    def read_all_events_backward(self, prepare_position: int, commit_position: int, count: int, *,
                                 resolve_links: bool = False,
                                 credentials: CredentialsLike = None) -> Awaitable[AllEventsSlice]:
        """Up to `count` events of the whole log before the position, newest first
        ((-1, -1) = from the end)."""
        return self._all_plan(prepare_position, commit_position, count, False, resolve_links, credentials)

    def _all_plan(self, prepare: Any, commit: Any, count: Any, forward: bool, resolve_links: Any,
                  credentials: CredentialsLike) -> Awaitable[AllEventsSlice]:
        return self._read_all(check.check_all_position(prepare, commit), check.check_count(count), forward,
                              check.check_bool("resolve_links", resolve_links), self._auth(credentials))

    def _all_request(self, position: Optional[Tuple[int, int]], size: int, forward: bool,
                     resolve_links: bool) -> Request:
        return requests.all_page_request(position, size, forward, resolve_links=resolve_links,
                                         require_leader=self._require_leader)

    async def _read_all(self, position: Optional[Tuple[int, int]], count: int, forward: bool,
                        resolve_links: bool, auth: Optional[Credentials]) -> AllEventsSlice:
        if forward and position is None:
            page, _ = await self._read(self._all_request(None, 1, False, resolve_links), auth)
            end = decoding.all_link_position(page.link("previous")) or (0, 0)
            return AllEventsSlice([], prepare_position=end[1], commit_position=end[0])
        events: List[ReadEvent] = []
        size = min(count, PAGE_LIMIT)

        def next_request(page: decoding.FeedPage) -> Optional[Request]:
            nonlocal position, size
            if forward:
                # `previous` (newer) is absent only on an empty page: stay where we are.
                following = decoding.all_link_position(page.link("previous"))
                done = following is None or len(page.entries) < size
                position = following or position
            else:
                # `next` (older) is absent when the page reached the start of the log; an
                # empty page or a `next` that does not go back would only repeat itself.
                following = decoding.all_link_position(page.link("next"))
                done = (following is None or not page.entries
                        or (position is not None and following >= position))
                position = following or (0, 0)
            wanted = count - len(events) - len(page.entries)
            if done or wanted <= 0:
                return None
            size = min(wanted, PAGE_LIMIT)
            return self._all_request(position, size, forward, resolve_links)

        first = self._all_request(position, size, forward, resolve_links)
        async for page_events in self._pages(first, auth, next_request):
            if forward:
                page_events.reverse()
            events.extend(page_events)
        assert position is not None
        return AllEventsSlice(events, prepare_position=position[1], commit_position=position[0])

    # --- metadata ------------------------------------------------------------------------
    @operation
    def get_stream_metadata(self, stream_id: str, *, credentials: CredentialsLike = None) -> Awaitable[dict]:
        """The stream's metadata document (a dict; {} when none is set)."""
        request = requests.metadata_read_request(check.check_stream_id(stream_id),
                                                 require_leader=self._require_leader)
        return self._get_metadata(request, self._auth(credentials))

    async def _get_metadata(self, request: Request, auth: Optional[Credentials]) -> dict:
        return decoding.parse_metadata_document(await self._exchange(request, auth, (200,)))

    @operation
    def set_stream_metadata(self, stream_id: str, metadata: dict, expected_version: int = -2, *,
                            credentials: CredentialsLike = None) -> Awaitable[int]:
        """Replace the stream's metadata. `expected_version` refers to the metadata stream
        (`$$stream_id`); returns the version of the metadata written."""
        request = requests.metadata_write_request(
            check.check_stream_id(stream_id), check.check_metadata_document(metadata),
            check.check_expected_version(expected_version), require_leader=self._require_leader)
        return self._set_metadata(request, self._auth(credentials))

    async def _set_metadata(self, request: Request, auth: Optional[Credentials]) -> int:
        response = await self._exchange(request, auth, (201,))
        return decoding.appended_event_numbers(response, 1)[0]
