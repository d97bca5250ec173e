"""User management: `client.users`, each operation blocking and `_async`.

    client.users.create("ann", "s3cret", full_name="Ann", groups=["$ops"])
    client.users.get("ann")             # UserDetails(login='ann', ..., disabled=False)
    client.users.list()
    client.users.update("ann", full_name="Ann B.", groups=[])
    client.users.disable("ann"); client.users.enable("ann")
    client.users.reset_password("ann", "new")                    # admins
    client.users.change_password("ann", "new", "newer", credentials=("ann", "new"))  # the user
    client.users.delete("ann")

Only servers with internal authentication have these endpoints. Everything but
`current()`, `get()` of oneself and `change_password` needs `$admins`; an unknown user
raises UserNotFound, creating an existing one UserAlreadyExists. Passwords are sent
in request bodies only: never in paths, logs, errors or reprs.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, List, Optional, Tuple
from urllib.parse import quote

from .admin import JSON, ClientSection
from .errors import AccessDenied, HttpError, ProtocolError
from .faces import operation
from .wire import Credentials, CredentialsLike, Request, Response

__all__ = ["Users", "UserDetails", "UserNotFound", "UserAlreadyExists"]

CURRENT_USER = "$current"


class UserNotFound(HttpError):
    """404: no user with that login."""


class UserAlreadyExists(HttpError):
    """409: a user with that login exists already."""


@dataclass(frozen=True)
class UserDetails:
    login: str
    full_name: str
    groups: Tuple[str, ...]
    disabled: bool

    @classmethod
    def from_document(cls, document: Any) -> "UserDetails":
        """A user object of the API (`loginName`, `fullName`, `groups`, `disabled`)."""
        if not isinstance(document, dict) or not isinstance(document.get("loginName"), str):
            raise ValueError("a user document needs a loginName")
        groups = document.get("groups") or []
        if not isinstance(groups, list):
            raise ValueError("groups must be a list")
        return cls(login=document["loginName"], full_name=str(document.get("fullName") or ""),
                   groups=tuple(str(group) for group in groups),
                   disabled=bool(document.get("disabled", False)))


def _check_login(login: Any) -> str:
    if not isinstance(login, str):
        raise TypeError("login must be a str, not {}".format(type(login).__name__))
    if not login:
        raise ValueError("login must not be empty")
    return login


def _check_password(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("{} must be a str".format(name))  # never echo the value
    if not value:
        raise ValueError("{} must not be empty".format(name))
    return value


def _check_full_name(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("full_name must be a str")
    return value


def _check_groups(groups: Any) -> List[str]:
    if isinstance(groups, str) or not isinstance(groups, Iterable):
        raise TypeError("groups must be a list of str (e.g. ['$admins']), not {}".format(
            type(groups).__name__))
    result = list(groups)
    if not all(isinstance(group, str) and group for group in result):
        raise TypeError("groups must be non-empty str")
    return result


def _user_path(login: str, *parts: str) -> str:
    return "/users/" + quote(login, safe="") + "".join("/" + part for part in parts)


def _json_request(method: str, path: str, document: Any, retryable: bool) -> Request:
    return Request(method, path, headers={"Accept": JSON, "Content-Type": JSON},
                   body=json.dumps(document).encode("utf-8"), retryable=retryable)


def _read_request(path: str) -> Request:
    return Request("GET", path, headers={"Accept": JSON})


def _describe_missing(login: str):
    return lambda response: "user {!r} not found".format(login)


def _data_of(document: Any, request: Request) -> Any:
    """Answers wrap the user(s) in `data`; `$current` on old servers sends it bare."""
    if isinstance(document, dict) and "data" in document:
        return document["data"]
    if isinstance(document, dict) and "loginName" in document:
        return document
    raise ProtocolError("unexpected user document", request=request.describe())


class Users(ClientSection):
    """`client.users` (see the module docstring)."""

    @operation
    def list(self, *, credentials: CredentialsLike = None) -> List[UserDetails]:
        """Every user (admins only)."""
        return self._list(_read_request("/users/"), self._auth(credentials))

    async def _list(self, request: Request, auth: Optional[Credentials]) -> List[UserDetails]:
        data = _data_of(await self._json(request, auth), request)
        if not isinstance(data, list):
            raise ProtocolError("the user list is not a list", request=request.describe())
        return [self._details(item, request) for item in data]

    @staticmethod
    def _details(document: Any, request: Request) -> UserDetails:
        try:
            return UserDetails.from_document(document)
        except ValueError as error:
            raise ProtocolError("invalid user document: {}".format(error),
                                request=request.describe()) from None

    @operation
    def get(self, login: str, *, credentials: CredentialsLike = None) -> UserDetails:
        """One user (admins, or the user itself). Raises UserNotFound."""
        login = _check_login(login)
        return self._get(_read_request(_user_path(login)), login, self._auth(credentials))

    async def _get(self, request: Request, login: str, auth: Optional[Credentials]) -> UserDetails:
        document = await self._json(request, auth, errors_by_status={404: UserNotFound},
                                    describe=_describe_missing(login))
        return self._details(_data_of(document, request), request)

    @operation
    def current(self, *, credentials: CredentialsLike = None) -> UserDetails:
        """The user whose credentials are used (AccessDenied when anonymous)."""
        return self._get(_read_request(_user_path(CURRENT_USER)), CURRENT_USER, self._auth(credentials))

    @operation
    def create(self, login: str, password: str, full_name: str = "", groups: Iterable[str] = (), *,
               credentials: CredentialsLike = None) -> None:
        """Create a user (admins only). Raises UserAlreadyExists."""
        login = _check_login(login)
        document = {"loginName": login, "fullName": _check_full_name(full_name),
                    "groups": _check_groups(groups), "password": _check_password("password", password)}
        # Not retryable: a replay after a lost answer would say 409 for our own creation.
        request = _json_request("POST", "/users/", document, retryable=False)
        return self._no_result(request, self._auth(credentials), (200, 201),
                               errors_by_status={409: UserAlreadyExists},
                               describe=lambda response: "user {!r} already exists".format(login))

    @operation
    def update(self, login: str, full_name: str, groups: Iterable[str] = (), *,
               credentials: CredentialsLike = None) -> None:
        """Replace the user's full name and groups (admins only). Raises UserNotFound."""
        login = _check_login(login)
        document = {"fullName": _check_full_name(full_name), "groups": _check_groups(groups)}
        return self._change(_json_request("PUT", _user_path(login), document, True), login, credentials)

    @operation
    def delete(self, login: str, *, credentials: CredentialsLike = None) -> None:
        """Delete the user (admins only). Raises UserNotFound."""
        login = _check_login(login)
        request = Request("DELETE", _user_path(login), headers={"Accept": JSON}, retryable=False)
        return self._change(request, login, credentials)

    @operation
    def enable(self, login: str, *, credentials: CredentialsLike = None) -> None:
        """Let a disabled user log in again (admins only). Raises UserNotFound."""
        return self._command(login, "enable", None, credentials)

    @operation
    def disable(self, login: str, *, credentials: CredentialsLike = None) -> None:
        """Refuse the user's credentials from now on (admins only). Raises UserNotFound."""
        return self._command(login, "disable", None, credentials)

    @operation
    def reset_password(self, login: str, new_password: str, *,
                       credentials: CredentialsLike = None) -> None:
        """Set a new password without knowing the old one (admins only)."""
        document = {"newPassword": _check_password("new_password", new_password)}
        return self._command(login, "reset-password", document, credentials)

    @operation
    def change_password(self, login: str, current_password: str, new_password: str, *,
                        credentials: CredentialsLike = None) -> None:
        """A user changes their own password (call it with that user's credentials).
        A wrong `current_password` raises AccessDenied."""
        document = {"currentPassword": _check_password("current_password", current_password),
                    "newPassword": _check_password("new_password", new_password)}
        return self._command(login, "change-password", document, credentials, retryable=False)

    def _command(self, login: Any, command: str, document: Optional[dict],
                 credentials: CredentialsLike, retryable: bool = True):
        login = _check_login(login)
        path = _user_path(login, "command", command)
        request = (_json_request("POST", path, document, retryable) if document is not None else
                   Request("POST", path, headers={"Accept": JSON}, body=b"", retryable=retryable))
        return self._change(request, login, credentials)

    def _change(self, request: Request, login: str, credentials: CredentialsLike):
        return self._no_result(request, self._auth(credentials), (200,),
                               errors_by_status={404: UserNotFound, 401: AccessDenied},
                               describe=lambda response: _refusal(response, login))


def _refusal(response: Response, login: str) -> str:
    if response.status == 404:
        return "user {!r} not found".format(login)
    return "not allowed (wrong credentials, or not permitted to change user {!r})".format(login)
