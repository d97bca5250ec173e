"""The request/handler layer under the node's handlers: routing, requests, responses.

It keeps the shape of tornado.web that the handlers were written against (`prepare`, one
coroutine per method, `set_status`/`set_header`/`finish`, `write_error`) and drops what a
JSON API node never uses: cookies, templates, XSRF, output transforms, host routing, and
header-name normalisation. That last one matters on the wire: the real server sends
`ES-CurrentVersion`, `ETag` and `WWW-Authenticate`, not `Es-Currentversion`. A request
costs a fraction of what tornado.web spends on it, which is most of what a small append
costs the node apart from its commit.
"""
from __future__ import annotations

import asyncio
import http.client
import logging
import re
import time
from typing import Any, Callable, Iterator, Optional
from urllib.parse import parse_qs, unquote_to_bytes

log = logging.getLogger("clientapi.server.http")

SUPPORTED_METHODS = frozenset({"GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS"})
_NO_CONTENT_STATUSES = frozenset({204, 304})
_REPRESENTATION_HEADERS = ("Content-Encoding", "Content-Language", "Content-Type")
_REASONS = http.client.responses
_UNSAFE_HEADER_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_UNSAFE_REASON = re.compile(r"[\x00-\x08\x0a-\x1f\x7f<]")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0e-\x1f]")
_REGEX_SYNTAX = frozenset(".^$*+?{}[]\\|()")
_MISSING = object()
_REMEMBERED_PATHS = 4096


class HTTPError(Exception):
    """A refusal by this layer itself (405 for an unknown method, 400 for undecodable paths)."""

    def __init__(self, status_code: int, reason: Optional[str] = None):
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code
        self.reason = reason


class Headers:
    """Header fields, looked up without regard to case, sent with the casing they were given."""

    __slots__ = ("_fields",)

    def __init__(self, template: Optional["Headers"] = None) -> None:
        # lowered name -> (name, values); the value tuples are never changed in place, so a
        # copy of a template shares them safely
        self._fields: dict[str, tuple[str, tuple[str, ...]]] = (
            {} if template is None else template._fields.copy())

    def add(self, name: str, value: str) -> None:
        key = name.lower()
        field = self._fields.get(key)
        self._fields[key] = (name, (value,)) if field is None else (field[0], field[1] + (value,))

    def __setitem__(self, name: str, value: str) -> None:
        self._fields[name.lower()] = (name, (value,))

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._fields

    def get(self, name: str, default: Any = None) -> Any:
        """The value; several fields of the name are joined with commas, as HTTP allows."""
        field = self._fields.get(name.lower())
        if field is None:
            return default
        values = field[1]
        return values[0] if len(values) == 1 else ",".join(values)

    def get_list(self, name: str) -> list[str]:
        field = self._fields.get(name.lower())
        return list(field[1]) if field is not None else []

    def pop(self, name: str, default: Any = None) -> Any:
        field = self._fields.pop(name.lower(), None)
        return default if field is None else ",".join(field[1])

    def get_all(self) -> Iterator[tuple[str, str]]:
        for name, values in self._fields.values():
            for value in values:
                yield name, value

    def __len__(self) -> int:
        return len(self._fields)


class Request:
    """One parsed request: what handlers read."""

    __slots__ = ("method", "uri", "version", "path", "query", "headers", "body", "host",
                 "protocol", "remote_ip", "connection", "_query_arguments", "_started")

    def __init__(self, method: str, uri: str, version: str, headers: Headers, body: bytes,
                 host: str, connection: Any):
        self.method = method
        self.uri = uri
        self.version = version
        self.path, _, self.query = uri.partition("?")
        self.headers = headers
        self.body = body
        self.host = host
        self.connection = connection
        context = getattr(connection, "context", None)
        self.protocol = getattr(context, "protocol", "http")
        self.remote_ip = getattr(context, "remote_ip", None)
        self._query_arguments: Optional[dict[str, list[bytes]]] = None
        self._started = time.monotonic()

    @property
    def query_arguments(self) -> dict[str, list[bytes]]:
        """{name: [raw values]}, blank values kept (parsed when first asked for)."""
        if self._query_arguments is None:
            parsed = parse_qs(self.query, keep_blank_values=True, encoding="latin-1") \
                if self.query else {}
            self._query_arguments = {name: [value.encode("latin-1") for value in values]
                                     for name, values in parsed.items()}
        return self._query_arguments

    def request_time(self) -> float:
        return time.monotonic() - self._started


class _Route:
    __slots__ = ("regex", "handler_class", "kwargs", "literal")

    def __init__(self, pattern: str, handler_class: type, kwargs: Optional[dict] = None):
        if not pattern.endswith("$"):
            pattern += "$"
        self.regex = re.compile(pattern)
        self.handler_class = handler_class
        self.kwargs = kwargs or {}
        # the pattern's leading literal text: a cheap test that skips most regexes
        literal = []
        for character in pattern:
            if character in _REGEX_SYNTAX:
                if character in "?*{" and literal:
                    literal.pop()  # the character before a quantifier may be absent
                break
            literal.append(character)
        self.literal = "".join(literal)


class Application:
    """Routes requests to handler classes; `settings` is what handlers see as `self.settings`."""

    def __init__(self, routes: list[tuple], default_handler_class: type,
                 log_function: Optional[Callable[["Handler"], None]] = None, **settings: Any):
        self._routes = [_Route(*route) for route in routes]
        self._default = default_handler_class
        self._found: dict[str, tuple] = {}  # path -> find_handler's answer, for repeated paths
        self.log_function = log_function
        self.settings = settings

    def find_handler(self, path: str) -> tuple[type, dict, tuple[Optional[bytes], ...]]:
        """(handler class, its initialize() arguments, the path's groups unquoted)."""
        found = self._found.get(path)
        if found is None:
            found = self._match(path)
            if len(self._found) >= _REMEMBERED_PATHS:
                self._found.clear()
            self._found[path] = found
        return found

    def _match(self, path: str) -> tuple[type, dict, tuple[Optional[bytes], ...]]:
        for route in self._routes:
            if not path.startswith(route.literal):
                continue
            match = route.regex.match(path)
            if match is not None:
                return (route.handler_class, route.kwargs,
                        tuple(None if group is None else unquote_to_bytes(group)
                              for group in match.groups()))
        return self._default, {}, ()

    def serve(self, request: Request, exchange: Any) -> "asyncio.Task[None]":
        """Start answering `request`; the response goes to `exchange`."""
        handler_class, kwargs, arguments = self.find_handler(request.path)
        handler = handler_class(self, request, exchange, **kwargs)
        exchange.handler = handler
        return asyncio.get_running_loop().create_task(handler.execute(arguments))


class Handler:
    """One request's handler (see the module docstring); subclass and implement `get` etc."""

    def __init__(self, application: Application, request: Request, exchange: Any,
                 **kwargs: Any):
        self.application = application
        self.settings = application.settings
        self.request = request
        self._exchange = exchange
        self._headers_written = False
        self._finished = False
        self.path_args: list[Optional[str]] = []
        self.clear()
        self.initialize(**kwargs)

    def initialize(self, **kwargs: Any) -> None:
        pass

    async def prepare(self) -> None:
        pass

    def on_connection_close(self) -> None:
        """The client went away before the response was finished."""

    # A handler implements the methods it answers; the others are 405.
    def _not_allowed(self, *args: Any) -> None:
        raise HTTPError(405)

    get = head = post = put = delete = patch = options = _not_allowed

    # --- the response ---------------------------------------------------------------------
    def clear(self) -> None:
        self._headers = Headers()
        self._write_buffer: list[bytes] = []
        self._status_code = 200
        self._reason = "OK"

    def set_status(self, status_code: int, reason: Optional[str] = None) -> None:
        self._status_code = status_code
        if reason is None:
            self._reason = _REASONS.get(status_code, "Unknown")
        elif _UNSAFE_REASON.search(reason) or not reason.isascii():
            self._reason = "Unknown"
        else:
            self._reason = reason

    def get_status(self) -> int:
        return self._status_code

    def set_header(self, name: str, value: Any) -> None:
        self._headers[name] = _header_text(value)

    def add_header(self, name: str, value: Any) -> None:
        self._headers.add(name, _header_text(value))

    def clear_header(self, name: str) -> None:
        self._headers.pop(name)

    def write(self, chunk: Any) -> None:
        if self._finished:
            raise RuntimeError("Cannot write() after finish()")
        if isinstance(chunk, str):
            chunk = chunk.encode("utf-8")
        elif not isinstance(chunk, bytes):
            raise TypeError("write() takes bytes or str")
        self._write_buffer.append(chunk)

    def flush(self) -> "asyncio.Future[None]":
        chunk = b"".join(self._write_buffer)
        self._write_buffer = []
        if self._headers_written:
            return self._exchange.write(chunk)
        self._headers_written = True
        return self._exchange.write_headers(self._status_code, self._reason, self._headers, chunk)

    def finish(self, chunk: Any = None) -> "asyncio.Future[None]":
        if self._finished:
            raise RuntimeError("finish() called twice")
        if chunk is not None:
            self.write(chunk)
        if not self._headers_written:
            status = self._status_code
            if status in _NO_CONTENT_STATUSES or 100 <= status < 200:
                if any(self._write_buffer):
                    raise RuntimeError(f"Cannot send body with status code HTTP{status}")
                for name in _REPRESENTATION_HEADERS:
                    self._headers.pop(name)
            elif "Content-Length" not in self._headers:
                self._headers["Content-Length"] = str(sum(map(len, self._write_buffer)))
        future = self.flush()
        self._exchange.finish()
        self._finished = True
        if self.application.log_function is not None:
            self.application.log_function(self)
        return future

    # --- the request ----------------------------------------------------------------------
    def get_query_argument(self, name: str, default: Any = _MISSING) -> Any:
        """The last `?name=` value, decoded, control characters blanked, stripped."""
        values = self.request.query_arguments.get(name)
        if not values:
            if default is _MISSING:
                raise HTTPError(400, "Bad Request")
            return default
        return _CONTROL_CHARACTERS.sub(" ", _decoded(values[-1])).strip()

    # --- running ----------------------------------------------------------------------------
    async def execute(self, arguments: tuple[Optional[bytes], ...]) -> None:
        try:
            method = self.request.method
            if method not in SUPPORTED_METHODS:
                raise HTTPError(405)
            self.path_args = [None if argument is None else _decoded(argument)
                              for argument in arguments]
            prepared = self.prepare()
            if prepared is not None:
                await prepared
            if self._finished:
                return
            result = getattr(self, method.lower())(*self.path_args)
            if result is not None:
                await result
            if not self._finished:
                self.finish()
        except asyncio.CancelledError:
            if not self._finished:  # the node is stopping: still answer, then stop
                self.send_error(500)
            raise
        except Exception as error:
            self._handle_exception(error)

    def _handle_exception(self, error: Exception) -> None:
        try:
            self.log_exception(type(error), error, error.__traceback__)
        except Exception:
            log.error("the exception logger failed", exc_info=True)
        if self._finished:
            return
        status = error.status_code if isinstance(error, HTTPError) else 500
        self.send_error(status, exc_info=(type(error), error, error.__traceback__))

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        if self._headers_written:
            log.error("an error after the response headers were sent")
            if not self._finished:
                try:
                    self.finish()
                except Exception:
                    log.error("could not finish a partial response", exc_info=True)
            return
        self.clear()
        self.set_status(status_code)
        try:
            if status_code != 304:
                self.write_error(status_code, **kwargs)
        except Exception:
            log.error("write_error failed", exc_info=True)
        if not self._finished:
            self.finish()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        pass

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        log.error("unexpected error on %s %s", self.request.method, self.request.uri,
                  exc_info=(typ, value, tb))

    def request_summary(self) -> str:
        return f"{self.request.method} {self.request.uri} ({self.request.remote_ip})"


def _decoded(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPError(400, "Bad Request") from None


def _header_text(value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        raise TypeError(f"unsupported header value {value!r}")
    elif isinstance(value, int):
        return str(value)
    elif isinstance(value, bytes):
        text = value.decode("latin-1")
    else:
        raise TypeError(f"unsupported header value {value!r}")
    if _UNSAFE_HEADER_VALUE.search(text):
        raise ValueError(f"unsafe header value {text!r}")
    return text
