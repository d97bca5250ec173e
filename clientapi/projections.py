"""Projections management: `client.projections`, each operation blocking and `_async`.

    projections = client.projections
    projections.create_continuous("counter", "fromAll().when({$any: function (s, e) { ... }})",
                                  emit=True)
    projections.wait_until_caught_up("counter")
    projections.state("counter")                       # the state, parsed: {"count": 3}
    projections.state("counter", partition="order-1")
    projections.status("counter").status               # "Running"
    projections.disable("counter"); projections.delete("counter", delete_checkpoint_stream=True)

The 2013 client's names keep working: `post_continuous`, `post_one_time`, `get_projections`,
`get_any`, `get_continuous`, `get_one_time`, `query_get`, `query_put`, `status_get`,
`state_get`, `statistics_get`, `enable`, `disable`, `delete`. Results are Python objects
(`ProjectionStatus`, `ProjectionQuery`, `ProjectionConfig`, parsed JSON), never raw
responses. An unknown name raises ProjectionNotFound, creating an existing one
ProjectionAlreadyExists. Changing projections needs credentials (the config endpoints
`$ops` or `$admins`).
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional
from urllib.parse import quote, urlencode

from .admin import JSON, ClientSection
from .errors import EventStoreError, HttpError, ProtocolError, StreamNotFound, Timeout
from .faces import operation
from .wire import Credentials, CredentialsLike, Request, Response
from .wire import arguments as check

__all__ = ["Projections", "ProjectionStatus", "ProjectionQuery", "ProjectionConfig",
           "ProjectionNotFound", "ProjectionAlreadyExists", "ProjectionNotRunning"]

JAVASCRIPT = "application/javascript"
POSITION_HEADERS = ("Kurrent-Position", "ES-Position")
LIST_KINDS = ("any", "all-non-transient", "onetime", "continuous", "transient")
COMMANDS = ("enable", "disable", "reset", "abort")


class ProjectionNotFound(HttpError):
    """404: no projection has that name."""


class ProjectionAlreadyExists(HttpError):
    """409: a projection with that name exists already."""


class ProjectionNotRunning(EventStoreError):
    """wait_until_caught_up() on a projection that is stopped or faulted (see `status`)."""

    def __init__(self, message: str, status: "ProjectionStatus") -> None:
        super().__init__(message)
        self.projection = status


@dataclass(frozen=True)
class ProjectionStatus:
    """A projection's statistics document (`GET /projection/{name}`), with the raw one in `document`."""

    name: str
    status: str
    mode: str
    state_reason: str
    position: str
    progress: float
    events_processed_after_restart: int
    version: int
    epoch: int
    document: Dict[str, Any] = dataclasses.field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_document(cls, document: Any) -> "ProjectionStatus":
        if not isinstance(document, dict) or not isinstance(document.get("name"), str):
            raise ValueError("a projection statistics document needs a name")
        return cls(name=document["name"], status=str(document.get("status") or ""),
                   mode=str(document.get("mode") or ""), state_reason=str(document.get("stateReason") or ""),
                   position=str(document.get("position") or ""), progress=float(document.get("progress", -1)),
                   events_processed_after_restart=int(document.get("eventsProcessedAfterRestart") or 0),
                   version=int(document.get("version", -1)), epoch=int(document.get("epoch", -1)),
                   document=document)

    # The status text starts with the state ("Faulted", "Running", "Stopped (Enabled)"...).
    @property
    def running(self) -> bool:
        return self.status.startswith("Running")

    @property
    def faulted(self) -> bool:
        return self.status.startswith("Faulted")

    @property
    def completed(self) -> bool:
        return self.status.startswith("Completed")

    @property
    def stopped(self) -> bool:
        return self.status.startswith(("Stopped", "Aborted"))


@dataclass(frozen=True)
class ProjectionQuery:
    """`GET /projection/{name}/query?config=yes`: the source and how it is run."""

    name: str
    query: str
    mode: str
    emit_enabled: bool
    track_emitted_streams: bool
    checkpoints_enabled: bool
    definition: Dict[str, Any]

    @classmethod
    def from_document(cls, document: Any) -> "ProjectionQuery":
        if not isinstance(document, dict):
            raise ValueError("the query document is not an object")
        return cls(name=str(document.get("name") or ""), query=str(document.get("query") or ""),
                   mode=str(document.get("type") or ""), emit_enabled=bool(document.get("emitEnabled")),
                   track_emitted_streams=bool(document.get("trackEmittedStreams")),
                   checkpoints_enabled=bool(document.get("checkpointsEnabled")),
                   definition=dict(document.get("definition") or {}))


_CONFIG_FIELDS = (("emit_enabled", "emitEnabled", bool), ("track_emitted_streams", "trackEmittedStreams", bool),
                  ("checkpoint_after_ms", "checkpointAfterMs", int),
                  ("checkpoint_handled_threshold", "checkpointHandledThreshold", int),
                  ("checkpoint_unhandled_bytes_threshold", "checkpointUnhandledBytesThreshold", int),
                  ("pending_events_threshold", "pendingEventsThreshold", int),
                  ("max_write_batch_length", "maxWriteBatchLength", int),
                  ("max_allowed_writes_in_flight", "maxAllowedWritesInFlight", int))


@dataclass(frozen=True)
class ProjectionConfig:
    """`GET/PUT /projection/{name}/config`. A PUT replaces every field, so read, change
    with `dataclasses.replace`, and write back. `projection_execution_timeout` (ms) is
    known to 23.x and later only; None leaves the server's default."""

    emit_enabled: bool = False
    track_emitted_streams: bool = False
    checkpoint_after_ms: int = 0
    checkpoint_handled_threshold: int = 0
    checkpoint_unhandled_bytes_threshold: int = 0
    pending_events_threshold: int = 0
    max_write_batch_length: int = 0
    max_allowed_writes_in_flight: int = 0
    projection_execution_timeout: Optional[int] = None

    @classmethod
    def from_document(cls, document: Any) -> "ProjectionConfig":
        if not isinstance(document, dict):
            raise ValueError("the config document is not an object")
        values: Dict[str, Any] = {name: kind(document.get(key) or kind()) for name, key, kind in _CONFIG_FIELDS}
        timeout = document.get("projectionExecutionTimeout")
        values["projection_execution_timeout"] = int(timeout) if timeout is not None else None
        return cls(**values)

    def to_document(self) -> Dict[str, Any]:
        document: Dict[str, Any] = {key: getattr(self, name) for name, key, _kind in _CONFIG_FIELDS}
        if self.projection_execution_timeout is not None:
            document["projectionExecutionTimeout"] = self.projection_execution_timeout
        return document


# --- argument checks and requests ----------------------------------------------------------
def _check_name(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError("name must be a str, not {}".format(type(name).__name__))
    if not name:
        raise ValueError("name must not be empty")
    return name


def _check_optional_name(name: Any) -> Optional[str]:
    return None if name is None else _check_name(name)


def _check_query(query: Any) -> str:
    if not isinstance(query, str):
        raise TypeError("query must be the projection's JavaScript source (a str)")
    if not query.strip():
        raise ValueError("query must not be empty")
    return query


def _check_partition(partition: Any) -> Optional[str]:
    if partition is not None and not isinstance(partition, str):
        raise TypeError("partition must be a str or None")
    return partition


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _projection_path(name: str, *parts: str) -> str:
    return "/projection/" + quote(name, safe="") + "".join("/" + part for part in parts)


def _read(path: str, query: str = "", accept: str = JSON) -> Request:
    return Request("GET", path, query=query, headers={"Accept": accept})


def _send_source(method: str, path: str, query: Dict[str, str], source: str, retryable: bool) -> Request:
    return Request(method, path, query=urlencode(query), headers={"Accept": JSON, "Content-Type": JAVASCRIPT},
                   body=source.encode("utf-8"), retryable=retryable)


def _not_found(name: str) -> Dict[str, Any]:
    return dict(errors_by_status={404: ProjectionNotFound},
                describe=lambda response: "projection {!r} not found".format(name))


def _json_text(response: Response) -> Any:
    """State and result bodies: JSON text, or nothing when there is no state (yet)."""
    text = response.body.decode("utf-8", "replace").strip() if response.body else ""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise ProtocolError("the projection state is not JSON", request=response.describe_request()) from None


class Projections(ClientSection):
    """`client.projections` (see the module docstring)."""

    # --- creating ---------------------------------------------------------------------------
    @operation
    def create_continuous(self, name: str, query: str, *, enabled: bool = True, emit: bool = False,
                          track_emitted_streams: bool = False, credentials: CredentialsLike = None) -> str:
        """Create a continuous projection (checkpointed, runs until disabled); returns its name."""
        params = {"name": _check_name(name), "type": "js", "enabled": _flag(check.check_bool("enabled", enabled)),
                  "emit": _flag(check.check_bool("emit", emit)),
                  "trackemittedstreams": _flag(check.check_bool("track_emitted_streams", track_emitted_streams))}
        return self._create("continuous", params, _check_query(query), credentials)

    @operation
    def create_one_time(self, query: str, name: Optional[str] = None, *, enabled: bool = True,
                        emit: bool = False, checkpoints: bool = False, track_emitted_streams: bool = False,
                        credentials: CredentialsLike = None) -> str:
        """Create a one-time projection (runs to the end of the log, then completes); the
        server names it when `name` is None. Returns its name."""
        params = {"type": "js", "enabled": _flag(check.check_bool("enabled", enabled)),
                  "emit": _flag(check.check_bool("emit", emit)),
                  "checkpoints": _flag(check.check_bool("checkpoints", checkpoints)),
                  "trackemittedstreams": _flag(check.check_bool("track_emitted_streams", track_emitted_streams))}
        return self._create("onetime", self._named(params, name), _check_query(query), credentials)

    @operation
    def create_transient(self, query: str, name: Optional[str] = None, *, enabled: bool = True,
                         credentials: CredentialsLike = None) -> str:
        """Create a transient projection (kept in memory by the server, never emits); returns its name."""
        params = {"type": "js", "enabled": _flag(check.check_bool("enabled", enabled))}
        return self._create("transient", self._named(params, name), _check_query(query), credentials)

    @staticmethod
    def _named(params: Dict[str, str], name: Any) -> Dict[str, str]:
        name = _check_optional_name(name)
        return dict({"name": name}, **params) if name is not None else params

    def _create(self, mode: str, params: Dict[str, str], query: str, credentials: CredentialsLike):
        # Not retryable: a replay after a lost answer would say 409 for our own creation.
        request = _send_source("POST", "/projections/" + mode, params, query, retryable=False)
        return self._created(request, params.get("name"), self._auth(credentials))

    async def _created(self, request: Request, name: Optional[str], auth: Optional[Credentials]) -> str:
        document = await self._json(request, auth, (201,), errors_by_status={409: ProjectionAlreadyExists},
                                    describe=lambda response: "projection {!r} already exists".format(name))
        created = document.get("name") if isinstance(document, dict) else None
        if not isinstance(created, str):
            raise ProtocolError("the creation answer has no name", request=request.describe())
        return created

    # --- reading ----------------------------------------------------------------------------
    @operation
    def list(self, kind: str = "any", *, credentials: CredentialsLike = None) -> List[ProjectionStatus]:
        """Projections of a kind: "any", "all-non-transient", "onetime", "continuous", "transient"."""
        if kind not in LIST_KINDS:
            raise ValueError("kind must be one of {}".format(", ".join(LIST_KINDS)))
        return self._statuses(_read("/projections/" + kind), self._auth(credentials), None)

    async def _statuses(self, request: Request, auth: Optional[Credentials],
                        name: Optional[str]) -> List[ProjectionStatus]:
        handling = _not_found(name) if name is not None else {}
        document = await self._json(request, auth, **handling)
        items = document.get("projections") if isinstance(document, dict) else None
        if not isinstance(items, list):
            raise ProtocolError("expected {\"projections\": [...]}", request=request.describe())
        return [self._status_of(item, request) for item in items]

    @staticmethod
    def _status_of(document: Any, request: Request) -> ProjectionStatus:
        try:
            return ProjectionStatus.from_document(document)
        except (ValueError, TypeError) as error:
            raise ProtocolError("invalid projection statistics: {}".format(error),
                                request=request.describe()) from None

    @operation
    def status(self, name: str, *, credentials: CredentialsLike = None) -> ProjectionStatus:
        """The projection's statistics: status ("Running", "Faulted"...), reason, position, progress."""
        name = _check_name(name)
        return self._status(name, self._auth(credentials))

    async def _status(self, name: str, auth: Optional[Credentials]) -> ProjectionStatus:
        request = _read(_projection_path(name))
        return self._status_of(await self._json(request, auth, **_not_found(name)), request)

    @operation
    def statistics(self, name: str, *, credentials: CredentialsLike = None) -> ProjectionStatus:
        """`GET /projection/{name}/statistics` (the same document, as the server wraps it)."""
        name = _check_name(name)
        return self._single(self._statuses(_read(_projection_path(name, "statistics")), self._auth(credentials),
                                           name))

    @staticmethod
    async def _single(statuses: Any) -> ProjectionStatus:
        found = await statuses
        if not found:
            raise ProtocolError("the statistics list is empty")
        return found[0]

    @operation
    def get_query(self, name: str, *, credentials: CredentialsLike = None) -> str:
        """The projection's JavaScript source."""
        name = _check_name(name)
        request = _read(_projection_path(name, "query"), accept="*/*")
        return self._source(request, name, self._auth(credentials))

    async def _source(self, request: Request, name: str, auth: Optional[Credentials]) -> str:
        response = await self._exchange(request, auth, (200,), **_not_found(name))
        return response.body.decode("utf-8", "replace")

    @operation
    def get_query_config(self, name: str, *, credentials: CredentialsLike = None) -> ProjectionQuery:
        """The source with its mode, emit/checkpoint settings and parsed definition."""
        name = _check_name(name)
        return self._query_config(name, self._auth(credentials))

    async def _query_config(self, name: str, auth: Optional[Credentials]) -> ProjectionQuery:
        request = _read(_projection_path(name, "query"), "config=yes")
        document = await self._json(request, auth, **_not_found(name))
        try:
            return ProjectionQuery.from_document(document)
        except ValueError as error:
            raise ProtocolError(str(error), request=request.describe()) from None

    @operation
    def state(self, name: str, partition: Optional[str] = None, *, credentials: CredentialsLike = None) -> Any:
        """The state (of a partition), parsed from JSON; None when there is none (not running,
        unknown partition)."""
        return self._state_like(name, "state", partition, credentials)

    @operation
    def result(self, name: str, partition: Optional[str] = None, *, credentials: CredentialsLike = None) -> Any:
        """The result (the state after transformBy/filterBy), parsed; None when there is none."""
        return self._state_like(name, "result", partition, credentials)

    def _state_like(self, name: Any, what: str, partition: Any, credentials: CredentialsLike):
        name = _check_name(name)
        partition = _check_partition(partition)
        query = urlencode({"partition": partition}) if partition is not None else ""
        return self._parsed_text(_read(_projection_path(name, what), query), name, self._auth(credentials))

    async def _parsed_text(self, request: Request, name: str, auth: Optional[Credentials]) -> Any:
        return _json_text(await self._exchange(request, auth, (200,), **_not_found(name)))

    # --- configuration ----------------------------------------------------------------------
    @operation
    def get_config(self, name: str, *, credentials: CredentialsLike = None) -> ProjectionConfig:
        """The projection's processing configuration ($ops or $admins)."""
        name = _check_name(name)
        return self._config(name, self._auth(credentials))

    async def _config(self, name: str, auth: Optional[Credentials]) -> ProjectionConfig:
        request = _read(_projection_path(name, "config"))
        document = await self._json(request, auth, **_not_found(name))
        try:
            return ProjectionConfig.from_document(document)
        except (ValueError, TypeError) as error:
            raise ProtocolError(str(error), request=request.describe()) from None

    @operation
    def update_config(self, name: str, config: ProjectionConfig, *, credentials: CredentialsLike = None) -> None:
        """Replace the configuration (every field; $ops or $admins). Takes effect when the
        projection next starts."""
        name = _check_name(name)
        if not isinstance(config, ProjectionConfig):
            raise TypeError("config must be a ProjectionConfig (see get_config)")
        request = Request("PUT", _projection_path(name, "config"), headers={"Accept": JSON, "Content-Type": JSON},
                          body=json.dumps(config.to_document()).encode("utf-8"))
        return self._no_result(request, self._auth(credentials), **_not_found(name))

    @operation
    def update_query(self, name: str, query: str, *, emit: Optional[bool] = None,
                     credentials: CredentialsLike = None) -> None:
        """Replace the source (a running projection restarts with it from its checkpoint);
        `emit` None leaves the emit setting as it is."""
        name = _check_name(name)
        params = {} if emit is None else {"emit": _flag(check.check_bool("emit", emit))}
        request = _send_source("PUT", _projection_path(name, "query"), params, _check_query(query), True)
        return self._no_result(request, self._auth(credentials), **_not_found(name))

    # --- commands ---------------------------------------------------------------------------
    @operation
    def enable(self, name: str, *, credentials: CredentialsLike = None) -> None:
        """Start the projection (from its checkpoint)."""
        return self._command(name, "enable", credentials)

    @operation
    def disable(self, name: str, *, credentials: CredentialsLike = None) -> None:
        """Stop the projection after writing a checkpoint."""
        return self._command(name, "disable", credentials)

    @operation
    def reset(self, name: str, *, credentials: CredentialsLike = None) -> None:
        """Process everything again from the start of the log (a new epoch)."""
        return self._command(name, "reset", credentials)

    @operation
    def abort(self, name: str, *, credentials: CredentialsLike = None) -> None:
        """Stop the projection at once, without a checkpoint."""
        return self._command(name, "abort", credentials)

    def _command(self, name: Any, command: str, credentials: CredentialsLike):
        name = _check_name(name)
        request = Request("POST", _projection_path(name, "command", command), headers={"Accept": JSON}, body=b"")
        return self._no_result(request, self._auth(credentials), **_not_found(name))

    @operation
    def delete(self, name: str, delete_state_stream: bool = False, delete_checkpoint_stream: bool = False,
               delete_emitted_streams: bool = False, *, deleteStateStream: Optional[bool] = None,
               deleteCheckpointStream: Optional[bool] = None, credentials: CredentialsLike = None) -> None:
        """Delete a stopped (or faulted) projection, optionally with its checkpoint streams and
        the streams it emitted to (tracked ones). The camelCase keywords are the 2013 client's."""
        name = _check_name(name)
        flags = {"deleteStateStream": delete_state_stream if deleteStateStream is None else deleteStateStream,
                 "deleteCheckpointStream": (delete_checkpoint_stream if deleteCheckpointStream is None
                                            else deleteCheckpointStream),
                 "deleteEmittedStreams": delete_emitted_streams}
        query = urlencode({key: _flag(check.check_bool(key, value)) for key, value in flags.items()})
        request = Request("DELETE", _projection_path(name), query=query, headers={"Accept": JSON},
                          retryable=False)
        return self._no_result(request, self._auth(credentials), **_not_found(name))

    # --- waiting ----------------------------------------------------------------------------
    @operation
    def wait_until_caught_up(self, name: str, timeout: float = 30.0, *,
                             credentials: CredentialsLike = None) -> ProjectionStatus:
        """Return once the projection has processed everything written before the call (a
        one-time projection: once it completed). Raises ProjectionNotRunning when it is
        stopped or faults, errors.Timeout after `timeout` seconds. Reading the end of `$all`
        needs `$admins` for projections over the whole log."""
        name = _check_name(name)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ValueError("timeout must be a positive number of seconds")
        return self._caught_up(name, float(timeout), credentials)

    async def _caught_up(self, name: str, timeout: float, credentials: CredentialsLike) -> ProjectionStatus:
        auth = self._auth(credentials)
        deadline = time.monotonic() + timeout
        target: Optional[_Target] = None
        while True:
            status = await self._status(name, auth)
            if status.completed:
                return status
            if status.faulted or status.stopped:
                raise ProjectionNotRunning("projection {!r} is {}: {}".format(
                    name, status.status, status.state_reason or "not running"), status)
            position = await self._position(name, auth) if status.running else None
            if position is not None:
                if target is None:
                    target = await self._target(position, credentials)
                if target.reached_by(position):
                    return status
            if time.monotonic() >= deadline:
                raise Timeout("projection {!r} did not catch up within {} s".format(name, timeout))
            await asyncio.sleep(0.02)

    async def _position(self, name: str, auth: Optional[Credentials]) -> Optional[dict]:
        response = await self._exchange(_read(_projection_path(name, "state")), auth, (200,), **_not_found(name))
        header = response.header(*POSITION_HEADERS)
        try:
            position = json.loads(header) if header else None
        except ValueError:
            return None
        return position if isinstance(position, dict) else None

    async def _target(self, position: dict, credentials: CredentialsLike) -> "_Target":
        """Where the source ends now: for stream sources (their position has `$s`) each
        source stream's last event number, else the newest `$all` position."""
        streams = position.get("$s")
        if isinstance(streams, dict):
            ends = {}
            for stream in streams:
                ends[stream] = await self._last_event_number(stream, credentials)
            return _Target(streams=ends)
        if isinstance(position.get("$p"), int):
            newest = await self._client.read_all_events_backward_async(-1, -1, 1, credentials=credentials)
            return _Target(prepare=newest.prepare_position if len(newest) else -1)
        return _Target()

    async def _last_event_number(self, stream: str, credentials: CredentialsLike) -> int:
        try:
            events = await self._client.read_stream_events_backward_async(
                stream, -1, 1, resolve_links=False, credentials=credentials)
        except StreamNotFound:
            return -1
        return events[0].event_number if events else -1

    # --- the 2013 client's names -----------------------------------------------------------
    @operation
    def post_continuous(self, query: str, name: Optional[str] = None, type: Optional[str] = None,
                        enabled: Optional[bool] = None, emit: Optional[bool] = None, *,
                        credentials: CredentialsLike = None) -> str:
        """Original name of `create_continuous` (query first); returns the name."""
        return self._post_original("continuous", query, name, type, enabled, emit, credentials)

    @operation
    def post_one_time(self, query: str, name: Optional[str] = None, type: Optional[str] = None,
                      enabled: Optional[bool] = None, emit: Optional[bool] = None, *,
                      credentials: CredentialsLike = None) -> str:
        """Original name of `create_one_time`; returns the name."""
        return self._post_original("onetime", query, name, type, enabled, emit, credentials)

    def _post_original(self, mode: str, query: Any, name: Any, handler_type: Any, enabled: Any, emit: Any,
                       credentials: CredentialsLike):
        params: Dict[str, str] = {"type": handler_type if handler_type is not None else "js"}
        if enabled is not None:
            params["enabled"] = _flag(check.check_bool("enabled", enabled))
        if emit is not None:
            params["emit"] = _flag(check.check_bool("emit", emit))
        return self._create(mode, self._named(params, name), _check_query(query), credentials)

    @operation
    def get_projections(self, *, credentials: CredentialsLike = None) -> List[ProjectionStatus]:
        """Original name: every projection (`list("any")`)."""
        return self._statuses(_read("/projections/any"), self._auth(credentials), None)

    @operation
    def get_any(self, *, credentials: CredentialsLike = None) -> List[ProjectionStatus]:
        """Original name of `list("any")`."""
        return self._statuses(_read("/projections/any"), self._auth(credentials), None)

    @operation
    def get_continuous(self, *, credentials: CredentialsLike = None) -> List[ProjectionStatus]:
        """Original name of `list("continuous")`."""
        return self._statuses(_read("/projections/continuous"), self._auth(credentials), None)

    @operation
    def get_one_time(self, *, credentials: CredentialsLike = None) -> List[ProjectionStatus]:
        """Original name of `list("onetime")`."""
        return self._statuses(_read("/projections/onetime"), self._auth(credentials), None)

    @operation
    def query_get(self, name: str, config: bool = True, *, credentials: CredentialsLike = None) -> Any:
        """Original name: the ProjectionQuery (`config=True`) or the bare source text."""
        name = _check_name(name)
        if check.check_bool("config", config):
            return self._query_config(name, self._auth(credentials))
        return self._source(_read(_projection_path(name, "query"), accept="*/*"), name, self._auth(credentials))

    @operation
    def query_put(self, name: str, query: str, type: Optional[str] = None, emit: Optional[bool] = None, *,
                  credentials: CredentialsLike = None) -> None:
        """Original name of `update_query` (`type` is accepted and ignored, as 20+ servers do)."""
        name = _check_name(name)
        params = {} if emit is None else {"emit": _flag(check.check_bool("emit", emit))}
        request = _send_source("PUT", _projection_path(name, "query"), params, _check_query(query), True)
        return self._no_result(request, self._auth(credentials), **_not_found(name))

    @operation
    def status_get(self, name: str, *, credentials: CredentialsLike = None) -> ProjectionStatus:
        """Original name of `status`."""
        return self._status(_check_name(name), self._auth(credentials))

    @operation
    def state_get(self, name: str, partition: Optional[str] = None, *, credentials: CredentialsLike = None) -> Any:
        """Original name of `state`."""
        return self._state_like(name, "state", partition, credentials)

    @operation
    def statistics_get(self, name: str, *, credentials: CredentialsLike = None) -> ProjectionStatus:
        """Original name of `statistics`."""
        name = _check_name(name)
        return self._single(self._statuses(_read(_projection_path(name, "statistics")), self._auth(credentials),
                                           name))


@dataclass(frozen=True)
class _Target:
    prepare: Optional[int] = None
    streams: Optional[Dict[str, int]] = None

    def reached_by(self, position: dict) -> bool:
        if self.prepare is not None:
            reached = position.get("$p")
            return isinstance(reached, int) and reached >= self.prepare
        if self.streams is not None:
            numbers = position.get("$s")
            return isinstance(numbers, dict) and all(
                isinstance(numbers.get(stream), int) and numbers[stream] >= end for stream, end in self.streams.items())
        return True

