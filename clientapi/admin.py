"""Node administration: `client.admin.ping()`, `info()`, `stats()`, `gossip()`,
`scavenge()`, `stop_scavenge()`, `shutdown()`, each blocking and `_async`.

    client.admin.ping()                  # {"text": "Ping request successfully handled", ...}
    client.admin.info()["esVersion"]
    scavenge_id = client.admin.scavenge()

Documents are returned as the server sends them (dicts): their fields differ between
server generations (see `info()`). Scavenge and shutdown need `$ops` or `$admins`.

`ClientSection` is the base of the client's API sections (`client.admin`,
`client.users`): a section shares the client's loop runner, transport and credentials,
so its operations get both faces from `@operation` like the client's own.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple, Type
from urllib.parse import quote

from .cluster import ClusterView, parse_gossip
from .errors import HttpError, ProtocolError
from .faces import operation
from .wire import Credentials, CredentialsLike, Request, Response
from .wire import arguments as check
from .wire import decoding
from .wire.status import error_for, server_message

__all__ = ["Admin", "ClientSection", "ScavengeNotFound"]

JSON = "application/json"
JSON_HEADERS = {"Accept": JSON}


class ScavengeNotFound(HttpError):
    """404: no running scavenge has that id."""


class ClientSection:
    """Part of a Client's API, reached as a property of it (see the module docstring)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._runner = client._runner  # what @operation drives

    def __repr__(self) -> str:
        return "<{} of {!r}>".format(type(self).__name__, self._client)

    def _auth(self, credentials: CredentialsLike) -> Optional[Credentials]:
        return self._client._auth(credentials)

    async def _exchange(self, request: Request, auth: Optional[Credentials], expected: Tuple[int, ...],
                        errors_by_status: Optional[Dict[int, Type[HttpError]]] = None,
                        describe: Optional[Callable[[Response], str]] = None) -> Response:
        """Send; a status in `errors_by_status` raises that error (with `describe(response)`
        as its message when given), any other unexpected one the client's usual error."""
        response = await self._runner.transport().send(request, auth)
        if response.status in expected:
            return response
        special = (errors_by_status or {}).get(response.status)
        if special is not None:
            message = describe(response) if describe is not None else server_message(response)
            raise special(message, status=response.status, request=request.describe(),
                          reason=response.reason)
        raise error_for(response)

    async def _json(self, request: Request, auth: Optional[Credentials], expected: Tuple[int, ...] = (200,),
                    **handling: Any) -> Any:
        response = await self._exchange(request, auth, expected, **handling)
        return decoding.parse_json_body(response, media_types=frozenset({JSON}))

    async def _no_result(self, request: Request, auth: Optional[Credentials],
                         expected: Tuple[int, ...] = (200,), **handling: Any) -> None:
        await self._exchange(request, auth, expected, **handling)


def _check_stats_path(path: Any) -> str:
    if not isinstance(path, str):
        raise TypeError("path must be a str like 'proc' or 'es/queue'")
    return path.strip("/")


def _check_non_negative(name: str, value: Any) -> int:
    if check.check_int(name, value) < 0:
        raise ValueError("{} must not be negative".format(name))
    return value


# A 404 from an admin endpoint means the server does not have it (not a missing stream).
_ENDPOINT_MISSING: Dict[str, Any] = dict(
    errors_by_status={404: HttpError},
    describe=lambda response: "this server has no such endpoint")


class Admin(ClientSection):
    """`client.admin`: the operational endpoints of a node."""

    @operation
    def ping(self, *, credentials: CredentialsLike = None) -> dict:
        """`GET /ping` (anonymous): the server's answer document. Raises ConnectionFailure
        when the node is not reachable."""
        return self._json(Request("GET", "/ping", headers=JSON_HEADERS), self._auth(credentials))

    @operation
    def info(self, *, credentials: CredentialsLike = None) -> dict:
        """`GET /info`: `esVersion` and `state` on every version; `projectionsMode` on
        3.x-5.x; `features` and `authentication` on 20+; `dbVersion` on KurrentDB 25."""
        return self._json(Request("GET", "/info", headers=JSON_HEADERS), self._auth(credentials))

    @operation
    def stats(self, path: str = "", *, credentials: CredentialsLike = None) -> Any:
        """`GET /stats[/path]`: the node's statistics, nested by group (e.g. `stats("proc")`).
        Needs authentication on 20+."""
        target = _check_stats_path(path)
        request = Request("GET", "/stats" + ("/" + target if target else ""), headers=JSON_HEADERS)
        return self._json(request, self._auth(credentials))

    @operation
    def gossip(self, *, credentials: CredentialsLike = None) -> ClusterView:
        """`GET /gossip` of this node, parsed (members with their state and HTTP endpoint,
        whatever the server generation)."""
        request = Request("GET", "/gossip", headers=JSON_HEADERS)
        return self._gossip(request, self._auth(credentials))

    async def _gossip(self, request: Request, auth: Optional[Credentials]) -> ClusterView:
        document = await self._json(request, auth)
        try:
            return parse_gossip(document)
        except ValueError as error:
            raise ProtocolError("invalid gossip: {}".format(error), request=request.describe()) from None

    @operation
    def scavenge(self, start_from_chunk: int = 0, threads: int = 1, *,
                 credentials: CredentialsLike = None) -> str:
        """Start a scavenge (`POST /admin/scavenge`); returns its id ("" from 3.x servers,
        which do not name scavenges). Needs $ops or $admins."""
        query = "startFromChunk={}&threads={}".format(
            _check_non_negative("start_from_chunk", start_from_chunk), check.check_int("threads", threads))
        if threads < 1:
            raise ValueError("threads must be at least 1")
        request = Request("POST", "/admin/scavenge", query=query, headers=JSON_HEADERS, body=b"",
                          retryable=False)
        return self._scavenge(request, self._auth(credentials))

    async def _scavenge(self, request: Request, auth: Optional[Credentials]) -> str:
        response = await self._exchange(request, auth, (200,), **_ENDPOINT_MISSING)
        if not response.body.strip():
            return ""  # 3.x servers start a scavenge without naming it
        document = decoding.parse_json_body(response, media_types=frozenset({JSON}))
        scavenge_id = document.get("scavengeId") if isinstance(document, dict) else None
        if not isinstance(scavenge_id, str) or not scavenge_id:
            raise ProtocolError("the scavenge answer has no scavengeId", request=request.describe())
        return scavenge_id

    @operation
    def stop_scavenge(self, scavenge_id: str, *, credentials: CredentialsLike = None) -> None:
        """Stop a running scavenge (`DELETE /admin/scavenge/{id}`). Raises ScavengeNotFound."""
        if not isinstance(scavenge_id, str) or not scavenge_id:
            raise ValueError("scavenge_id must be a non-empty str")
        request = Request("DELETE", "/admin/scavenge/" + quote(scavenge_id, safe=""), headers=JSON_HEADERS,
                          retryable=False)
        return self._no_result(request, self._auth(credentials),
                               errors_by_status={404: ScavengeNotFound})

    @operation
    def shutdown(self, *, credentials: CredentialsLike = None) -> None:
        """Ask the node to shut down (`POST /admin/shutdown`). Needs $ops or $admins."""
        request = Request("POST", "/admin/shutdown", headers=JSON_HEADERS, body=b"", retryable=False)
        return self._no_result(request, self._auth(credentials), **_ENDPOINT_MISSING)
