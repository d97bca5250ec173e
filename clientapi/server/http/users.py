"""`/users/...`: the user management API (digest §15) with the v20+ access policy (§10.2).

Who may call which endpoint is decided here (the core's user methods take no caller);
storage and password rules are the core's.
"""
from __future__ import annotations

from typing import Any, Optional
from urllib.parse import quote

from ..atom.xml import XML_DECLARATION, json_to_xml
from ..core import errors
from ..core.model import UserRecord
from . import media
from .base import NodeHandler, bad_request

# The message type ids the real server adds to these replies.
UPDATE_RESULT, DETAILS_RESULT, ALL_DETAILS_RESULT = 50, 51, 52
CURRENT_USER = "$current"
_BODY_CODECS = (media.APPLICATION_JSON, media.TEXT_XML, media.APPLICATION_XML)


def user_document(user: UserRecord, base: str) -> dict:
    url = f"{base}/users/{quote(user.login, safe='')}"
    links = [{"href": f"{url}/command/reset-password", "rel": "reset-password"},
             {"href": f"{url}/command/change-password", "rel": "change-password"},
             {"href": url, "rel": "edit"},
             {"href": url, "rel": "delete"}]
    toggle = "enable" if user.disabled else "disable"
    links.append({"href": f"{url}/command/{toggle}", "rel": toggle})
    return {"loginName": user.login, "fullName": user.full_name, "groups": list(user.groups),
            "disabled": bool(user.disabled), "links": links}


def _field(body: Any, name: str) -> Any:
    """A property of a JSON body, its name matched case-insensitively."""
    if not isinstance(body, dict):
        return None
    lowered = name.lower()
    for key, value in body.items():
        if str(key).lower() == lowered:
            return value
    return None


class UsersBase(NodeHandler):
    RESPONSE_CODECS = {method: media.ADMIN_JSON_CODECS for method in ("GET", "POST", "PUT", "DELETE")}

    def reply_result(self, document: dict, status: int = 200, reason: Optional[str] = None) -> None:
        if self.media_type == media.TEXT_XML:
            body = XML_DECLARATION + json_to_xml("result", document)
            self.reply(status, body.encode("utf-8"), media.TEXT_XML, reason)
        else:
            self.reply_json(document, status, media.APPLICATION_JSON, reason)

    def reply_update(self, login: str, error: str = "Success", status: int = 200,
                     reason: Optional[str] = None) -> None:
        self.reply_result({"loginName": login, "success": error == "Success", "error": error,
                           "msgTypeId": UPDATE_RESULT}, status, reason)

    async def run_update(self, login: str, operation: Any) -> None:
        """Run a user change and answer like the real server, failures included."""
        try:
            await operation
        except errors.NotFound:
            self.reply_update(login, "NotFound", 404, "Not Found")
            return
        except errors.Conflict:
            self.reply_update(login, "Conflict", 409, "Conflict")
            return
        except errors.AccessDenied:
            self.reply_update(login, "Unauthorized", 401, "Unauthorized")
            return
        self.reply_update(login)

    def text_field(self, body: Any, name: str, required: bool = True) -> str:
        value = _field(body, name)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or (required and not value):
            raise bad_request(f"{name} is required.")
        return value

    def groups_field(self, body: Any) -> list[str]:
        groups = _field(body, "groups")
        if groups is None:
            return []
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise bad_request("groups must be an array of strings.")
        return groups


class UsersHandler(UsersBase):
    """`/users` and `/users/`: list and create (admins)."""

    REQUEST_CODECS = {"POST": _BODY_CODECS}

    async def get(self) -> None:
        self.require_admin()
        users = await self.core.list_users()
        self.reply_result({"data": [user_document(user, self.base_url) for user in users],
                           "success": True, "error": "Success", "msgTypeId": ALL_DETAILS_RESULT})

    async def post(self) -> None:
        self.require_admin()
        body = self.read_json_body()
        login = self.text_field(body, "loginName")
        full_name = self.text_field(body, "fullName", required=False)
        groups = self.groups_field(body)
        password = self.text_field(body, "password")
        try:
            await self.core.create_user(login, full_name, groups, password)
        except errors.Conflict:
            self.reply_update(login, "Conflict", 409, "Conflict")
            return
        self.set_header("Location", f"{self.base_url}/users/{quote(login, safe='')}")
        self.reply_update(login, status=201, reason="Created")


class UserHandler(UsersBase):
    """`/users/{login}`: details (admins or the user), update and delete (admins)."""

    ALLOW_METHODS = ("GET", "PUT", "DELETE")
    REQUEST_CODECS = {"PUT": _BODY_CODECS}

    async def get(self, login: str) -> None:
        if login == CURRENT_USER:
            self.require_authenticated()
            login = self.principal.login or ""
        elif login != self.principal.login:
            self.require_admin()
        try:
            user = await self.core.get_user(login)
        except errors.NotFound:
            self.reply_result({"success": False, "error": "NotFound",
                               "msgTypeId": DETAILS_RESULT}, 404, "Not Found")
            return
        self.reply_result({"data": user_document(user, self.base_url), "success": True,
                           "error": "Success", "msgTypeId": DETAILS_RESULT})

    async def put(self, login: str) -> None:
        self.require_admin()
        body = self.read_json_body()
        full_name = self.text_field(body, "fullName", required=False)
        await self.run_update(login, self.core.update_user(login, full_name, self.groups_field(body)))

    async def delete(self, login: str) -> None:
        self.require_admin()
        await self.run_update(login, self.core.delete_user(login))


class UserCommandHandler(UsersBase):
    """`/users/{login}/command/{enable|disable|reset-password|change-password}` (POST)."""

    async def post(self, login: str, command: str) -> None:
        if command == "change-password":
            self.require_authenticated()
            if login != self.principal.login and not self.insecure:
                raise errors.AccessDenied("only users change their own password")
            body = self.read_json_body()
            operation = self.core.change_password(login, self.text_field(body, "currentPassword"),
                                                  self.text_field(body, "newPassword"))
        else:
            self.require_admin()
            if command == "reset-password":
                body = self.read_json_body()
                operation = self.core.reset_password(login, self.text_field(body, "newPassword"))
            else:
                operation = self.core.set_user_disabled(login, command == "disable")
        await self.run_update(login, operation)


ROUTES: list[tuple] = [
    (r"/users/?", UsersHandler),
    (r"/users/([^/]+)/command/(enable|disable|reset-password|change-password)", UserCommandHandler),
    (r"/users/([^/]+)", UserHandler),
]
