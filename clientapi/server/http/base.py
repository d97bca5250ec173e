"""What every HTTP handler of the node shares (contract: NODE HTTP owns it, others build on it).

- authentication (HTTP Basic through `core.authenticate`, anonymous otherwise; wrong
  credentials -> 401);
- the CORS headers on every response and `OPTIONS` answered for any matched path;
- Accept negotiation (406) and Content-Type checks (415) from per-method codec lists;
- mapping of core errors to the real server's statuses, reason phrases and bodies;
- JSON written in the real server's layout, absolute links built from the request;
- 404 for unknown routes, 405 (with the allowed methods) for wrong ones, and never a
  500 with a traceback.

Subclass `NodeHandler`, implement `get`/`post`/... as coroutines, declare
`RESPONSE_CODECS = {"GET": (...)}` and, for bodies, `REQUEST_CODECS = {"POST": (...)}`.
In a method: `self.principal`, `self.media_type`, `self.core`, `self.node`, `self.base_url`,
`self.es_header(name)` / `self.bool_header(name)` (ES-* and Kurrent-* alike),
`self.query_value(name)`, `self.read_json_body()`, `self.require_authenticated()` /
`require_ops()` / `require_admin()`, `self.reply(...)` / `self.reply_json(doc)`; raise core
errors, `HttpProblem` or `bad_request(text)` for refusals (mapped by `problem_for`).
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import time
import zlib
from email.utils import formatdate
from typing import Any, Mapping, Optional
from urllib.parse import quote

from ..core import errors
from ..core.model import ANONYMOUS, Principal
from ..atom.text import json_text
from . import media
from .framework import Handler, Headers, HTTPError

log = logging.getLogger("clientapi.server.http")

HEADER_PREFIXES = ("ES-", "Kurrent-")
ALLOW_HEADERS = ", ".join([
    "Content-Type", "X-Requested-With", "X-Forwarded-Host", "X-Forwarded-Prefix", "X-PINGOTHER",
    "Authorization",
    *(prefix + name for prefix in HEADER_PREFIXES
      for name in ("LongPoll", "ExpectedVersion", "EventId", "EventType", "RequireMaster",
                   "RequireLeader", "HardDelete", "ResolveLinkTos"))])
EXPOSE_HEADERS = "Location, ES-Position, ES-CurrentVersion, Kurrent-Position, Kurrent-CurrentVersion"
# 401 from a controller (not allowed) and from the authentication middleware (bad credentials).
CHALLENGE_NOT_ALLOWED = 'BasicCustom realm="ES"'
CHALLENGE_BAD_CREDENTIALS = 'X-Basic realm="ESDB"'
_COMPRESSION_WINDOWS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": -zlib.MAX_WBITS}
SERVER_HEADER = "Kestrel"  # what EventStoreDB 20+ answers with
_date = [0, ""]


def _http_date(now: int) -> str:
    """The Date header value, formatted at most once a second."""
    if now != _date[0]:
        _date[0], _date[1] = now, formatdate(now, usegmt=True)
    return _date[1]


ANY_METHOD = frozenset({"GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "HEAD"})


_PREFIXED: dict[str, tuple[str, ...]] = {}


def _prefixed(name: str) -> tuple[str, ...]:
    """The header names that carry `name`, the Kurrent one first."""
    names = _PREFIXED.get(name)
    if names is None:
        names = _PREFIXED[name] = tuple(prefix + name for prefix in reversed(HEADER_PREFIXES))
    return names


def header_value(headers: Headers, name: str) -> Optional[str]:
    """The header's value (several fields joined with commas), None when it is absent."""
    return headers.get(name)


class HttpProblem(Exception):
    """A refusal decided by the HTTP layer itself (validation, negotiation, routing)."""

    def __init__(self, status: int, reason: Optional[str] = None, text: str = "",
                 headers: Optional[Mapping[str, str]] = None, content_type: Optional[str] = None):
        super().__init__(reason or text or str(status))
        self.status = status
        self.reason = reason
        self.text = text
        self.headers = dict(headers or {})
        self.content_type = content_type


def bad_request(text: str) -> HttpProblem:
    """A validation error as v20+ sends it: reason `Bad Request`, the text as a plain body."""
    return HttpProblem(400, "Bad Request", text, content_type=media.TEXT_PLAIN)


class Authenticator:
    """HTTP Basic -> Principal through the core (which remembers verified credentials)."""

    def __init__(self, core: Any):
        self._core = core

    async def principal_for(self, authorization: Optional[str]) -> Optional[Principal]:
        """The caller, ANONYMOUS without credentials, None for wrong credentials."""
        if not authorization:
            return ANONYMOUS
        scheme, _, token = authorization.partition(" ")
        if scheme != "Basic":
            return ANONYMOUS  # other schemes belong to plugins this node does not have
        try:
            login, sep, password = base64.b64decode(token.strip(), validate=True).decode(
                "utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        if not sep:
            return None
        return await self._core.authenticate(login, password)


def _implemented_methods(cls: type) -> tuple[str, ...]:
    base = Handler
    return tuple(method for method in ("GET", "POST", "PUT", "DELETE")
                 if getattr(cls, method.lower()) is not getattr(base, method.lower()))


def header_safe(value: str) -> str:
    """`value` fit for a header line: control and non-ASCII characters percent-encoded.

    Location headers carry names as they were sent, and a name may hold anything (a `%00`
    in a URL arrives as NUL); set_header refuses such values and latin-1 cannot encode others.
    """
    if value.isascii() and value.isprintable():
        return value
    return quote(value, safe="".join(chr(code) for code in range(0x20, 0x7F)))


class NodeHandler(Handler):
    """Base of every handler of the node (see the module docstring)."""

    RESPONSE_CODECS: Mapping[str, tuple[str, ...]] = {}
    REQUEST_CODECS: Mapping[str, tuple[str, ...]] = {}
    ALLOW_METHODS: Optional[tuple[str, ...]] = None  # default: the implemented ones
    AUTHENTICATE = True
    _allow_header = "OPTIONS"
    _implemented = frozenset({"OPTIONS"})

    principal: Principal = ANONYMOUS
    media_type: Optional[str] = None
    request_media_type: Optional[str] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_allow_header" not in cls.__dict__:
            methods = (cls.ALLOW_METHODS if cls.ALLOW_METHODS is not None
                       else _implemented_methods(cls))
            cls._allow_header = ", ".join((*methods, "OPTIONS"))
        if "_implemented" not in cls.__dict__:
            cls._implemented = frozenset(_implemented_methods(cls)) | {"OPTIONS"}

    # --- plumbing ------------------------------------------------------------------
    def set_header(self, name: str, value: Any) -> None:
        super().set_header(name, header_safe(value) if isinstance(value, str) else value)

    @property
    def node(self) -> Any:
        return self.settings["node"]

    @property
    def core(self) -> Any:
        return self.settings["node"].core

    @property
    def insecure(self) -> bool:
        return bool(getattr(self.settings["node"], "insecure", False))

    def clear(self) -> None:
        """A fresh response: the headers every answer of the real server carries."""
        self._headers = Headers(self._default_headers())
        self._write_buffer = []
        self._status_code = 200
        self._reason = "OK"

    @classmethod
    def _default_headers(cls) -> Headers:
        """This handler's usual headers, made once a second (they change with the Date)."""
        now = int(time.time())
        made = cls.__dict__.get("_defaults_made")
        if made is None or made[0] != now:
            headers = Headers()
            headers["Server"] = SERVER_HEADER
            headers["Date"] = _http_date(now)
            headers["Access-Control-Allow-Methods"] = cls._allow_header
            headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
            headers["Access-Control-Allow-Origin"] = "*"
            headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
            made = (now, headers)
            cls._defaults_made = made
        return made[1]

    async def prepare(self) -> None:
        method = self.request.method
        if method not in self._implemented:
            raise HttpProblem(405, "Method Not Allowed")
        if method == "OPTIONS":
            return
        if self.AUTHENTICATE:
            principal = await self.settings["authenticator"].principal_for(
                header_value(self.request.headers, "Authorization"))
            if principal is None:
                if not self.insecure:
                    raise HttpProblem(401, "Unauthorized", headers={
                        "WWW-Authenticate": CHALLENGE_BAD_CREDENTIALS}, content_type=media.TEXT_PLAIN)
                principal = ANONYMOUS
            self.principal = principal
        request_codecs = self.REQUEST_CODECS.get(method)
        if request_codecs is not None:
            self.request_media_type = media.request_codec(
                header_value(self.request.headers, "Content-Type"), request_codecs)
            if self.request_media_type is None:
                raise HttpProblem(415, "Invalid or missing Content-Type")
        response_codecs = self.RESPONSE_CODECS.get(method)
        if response_codecs is not None:
            self.media_type = self.negotiate(response_codecs)

    def negotiate(self, codecs: tuple[str, ...]) -> str:
        try:
            chosen = media.negotiate(header_value(self.request.headers, "Accept"),
                                     self.query_value("format"), codecs)
        except media.UnknownFormat:
            raise HttpProblem(500, "Internal Server Error", "Unknown format requested",
                              content_type=media.TEXT_PLAIN) from None
        if chosen is None:
            raise HttpProblem(406, "Requested URI is not available in requested format")
        return chosen

    async def options(self, *args: Any) -> None:
        self.set_status(200)
        self.finish()

    # --- request helpers -------------------------------------------------------------
    def query_value(self, name: str) -> Optional[str]:
        """The last `?name=` value (cheaper than get_query_argument on the hot path)."""
        values = self.request.query_arguments.get(name)
        return values[-1].decode("utf-8", "replace") if values else None

    def es_header(self, name: str) -> tuple[str, Optional[str]]:
        """(`Kurrent-<name>` or `ES-<name>`, value), the Kurrent name winning."""
        headers = self.request.headers
        for header in _prefixed(name):
            value = headers.get(header)
            if value is not None:
                return header, value
        return "ES-" + name, None

    def bool_header(self, *names: str, default: bool = False) -> bool:
        """`True`/`False` (any case) only; anything else is the real 400."""
        for name in names:
            header, value = self.es_header(name)
            if value is None:
                continue
            lowered = value.strip().lower()
            if lowered == "true":
                return True
            if lowered == "false":
                return False
            raise bad_request(f"{header} header in wrong format.")
        return default

    def require_leader_header(self) -> None:
        """Validated like the real server. The node leads, unless it was told to play a
        follower (a test aid, see server/follower.py): then 307 to the leader."""
        required = self.bool_header("RequireLeader", "RequireMaster")
        role = getattr(self.node, "cluster_role", None)
        if required and role is not None:
            leader = role.leader_url_for(self.node.host, self.node.port, self.request.protocol)
            if leader is not None:
                raise HttpProblem(307, "Temporary Redirect", headers={"Location": leader + self.request.uri},
                                  content_type=media.TEXT_PLAIN)

    def require_authenticated(self) -> None:
        if self.principal.is_anonymous and not self.insecure:
            raise errors.AccessDenied("authentication required")

    def require_admin(self) -> None:
        if not self.principal.is_admin and not self.insecure:
            raise errors.AccessDenied("admins only")

    def require_ops(self) -> None:
        if not self.principal.is_ops and not self.insecure:
            raise errors.AccessDenied("admins or ops only")

    def read_json_body(self) -> Any:
        try:
            return json.loads(self.request.body or b"null")
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise bad_request("Invalid JSON body.") from None

    @property
    def base_url(self) -> str:
        """scheme://host[:port][prefix] as the client addressed us (X-Forwarded-* honoured)."""
        cached = getattr(self, "_base_url", None)
        if cached is None:
            cached = self._base_url = _base_url(self.request)
        return cached

    # --- replies -------------------------------------------------------------------------
    def reply(self, status: int, body: Any = b"", media_type: Optional[str] = media.TEXT_PLAIN,
              reason: Optional[str] = None) -> None:
        self.set_status(status, reason)
        if media_type is not None:
            self._headers["Content-Type"] = media.content_type_header(media_type)
        if body:
            body = self._compressed(body)
        self.finish(body or None)

    def _compressed(self, body: bytes) -> bytes:
        """The real server compresses only for `Accept-Encoding` of exactly gzip or deflate."""
        wanted = header_value(self.request.headers, "Accept-Encoding")
        if wanted is None:
            return body
        wanted = wanted.strip().lower()
        if wanted not in _COMPRESSION_WINDOWS:
            return body
        compressor = zlib.compressobj(6, zlib.DEFLATED, _COMPRESSION_WINDOWS[wanted])
        self._headers["Content-Encoding"] = wanted
        return compressor.compress(body) + compressor.flush()

    def reply_json(self, document: Any, status: int = 200, media_type: str = media.APPLICATION_JSON,
                   reason: Optional[str] = None) -> None:
        """A document (or ready JSON text) in the real server's JSON layout."""
        text = document if isinstance(document, str) else json_text(document)
        self.reply(status, text.encode("utf-8"), media_type, reason)

    # --- errors --------------------------------------------------------------------------
    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, (HttpProblem, errors.CoreError, HTTPError)):
            return
        log.error("unexpected error on %s %s", self.request.method, self.request.uri,
                  exc_info=(typ, value, tb))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        problem = problem_for(exc_info[1] if exc_info else None, self.request.method, status_code)
        self.clear()
        self.set_status(problem.status, problem.reason)
        for name, value in problem.headers.items():
            self.set_header(name, value)
        if problem.content_type is not None:
            self._headers["Content-Type"] = media.content_type_header(problem.content_type)
        if problem.text and problem.status not in (204, 304):
            self.write(problem.text.encode("utf-8"))


def unauthorized() -> HttpProblem:
    return HttpProblem(401, "Unauthorized", headers={"WWW-Authenticate": CHALLENGE_NOT_ALLOWED},
                       content_type=media.TEXT_PLAIN)


def problem_for(exc: Optional[BaseException], method: str, status_code: int = 500) -> HttpProblem:
    """The real server's answer to a refusal (core error, HTTP problem or framework error)."""
    if isinstance(exc, HttpProblem):
        return exc
    if isinstance(exc, errors.WrongExpectedVersion):
        version = str(exc.current_version)
        return HttpProblem(400, "Wrong expected EventNumber", content_type=media.TEXT_PLAIN,
                           headers={"ES-CurrentVersion": version, "Kurrent-CurrentVersion": version})
    if isinstance(exc, (errors.StreamNotFound, errors.EventNotFound, errors.NotFound)):
        return HttpProblem(404, "Not Found", content_type=media.TEXT_PLAIN)
    if isinstance(exc, errors.StreamDeleted):
        reason = "Stream deleted" if method in ("POST", "DELETE", "PUT") else "Deleted"
        return HttpProblem(410, reason, content_type=media.TEXT_PLAIN)
    if isinstance(exc, errors.AccessDenied):
        return unauthorized()
    if isinstance(exc, errors.BadRequest):
        return bad_request(errors.message_of(exc, "Bad Request"))
    if isinstance(exc, errors.Conflict):
        return HttpProblem(409, "Conflict", errors.message_of(exc, "Conflict"),
                           content_type=media.TEXT_PLAIN)
    if isinstance(exc, errors.ReadTooBig):
        text = errors.message_of(exc)
        return HttpProblem(500, text, text, content_type=media.TEXT_PLAIN)
    if isinstance(exc, HTTPError):
        if exc.status_code == 405:
            return HttpProblem(405, "Method Not Allowed")
        return HttpProblem(exc.status_code, exc.reason)
    return HttpProblem(500, "Internal Server Error", "Internal Server Error",
                       content_type=media.TEXT_PLAIN)


def _base_url(request: Any) -> str:
    headers = request.headers
    scheme = header_value(headers, "X-Forwarded-Proto") or request.protocol
    host = header_value(headers, "X-Forwarded-Host") or request.host or "127.0.0.1"
    port = header_value(headers, "X-Forwarded-Port")
    if port:
        host = f"{_strip_port(host)}:{port}"
    prefix = (header_value(headers, "X-Forwarded-Prefix") or "").rstrip("/")
    if prefix and not prefix.startswith("/"):
        prefix = "/" + prefix
    return f"{scheme}://{host}{prefix}"


def _strip_port(host: str) -> str:
    if host.startswith("["):  # [v6]:port
        return host[:host.index("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class NotFoundHandler(NodeHandler):
    """Any path no route matches: 404 with no body, whatever the method."""

    AUTHENTICATE = False
    _allow_header = ""
    _implemented = ANY_METHOD

    async def prepare(self) -> None:
        raise HttpProblem(404, "Not Found")


class TrailingSlashHandler(NodeHandler):
    """`/streams/{s}/` and friends: 307 to the same URI without the slash, method kept."""

    AUTHENTICATE = False
    _allow_header = "GET, POST, PUT, DELETE, OPTIONS"
    _implemented = ANY_METHOD

    async def prepare(self) -> None:
        if self.request.method == "OPTIONS":
            return
        path = self.request.path.rstrip("/")
        query = f"?{self.request.query}" if self.request.query else ""
        self.set_header("Location", f"{self.base_url}{path}{query}")
        self.set_header("Cache-Control", "max-age=31536000, public")
        self.reply(307, b"Moved Permanently", media.TEXT_PLAIN, "Temporary Redirect")
