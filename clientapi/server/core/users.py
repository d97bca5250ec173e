"""Users, kept as events like the real server does (digest §15).

`$user-<login>` holds `$UserCreated` / `$UserUpdated` / `$UserDeleted` events whose data is
the whole user (password only as a salted PBKDF2 hash); the last one is the user's state.
`$users` gets a `$User` event per created login and `$users-password-notifications` a
`$PasswordChanged` per password change. The directory is rebuilt from the log on open.
"""
from __future__ import annotations

import asyncio
import json
import uuid
from typing import Optional

from ..security import VerifiedCredentials, hash_password, verify_password
from .context import CoreContext
from .errors import AccessDenied, BadRequest, Conflict, NotFound
from .metadata import decode_json
from .model import EventRecord, NewEvent, Principal, UserRecord
from .writes import WritePath

USERS_STREAM = "$users"
USER_STREAM_PREFIX = "$user-"
PASSWORD_NOTIFICATIONS_STREAM = "$users-password-notifications"
USER_CREATED, USER_UPDATED, USER_DELETED = "$UserCreated", "$UserUpdated", "$UserDeleted"

DEFAULT_USERS = (
    ("admin", "Event Store Administrator", ["$admins"]),
    ("ops", "Event Store Operations", ["$ops"]),
)
DEFAULT_PASSWORD = "changeit"


def _copy(user: UserRecord, **changes) -> UserRecord:
    fields = dict(login=user.login, full_name=user.full_name, groups=list(user.groups),
                  disabled=user.disabled, password_hash=user.password_hash, salt=user.salt)
    fields.update(changes)
    return UserRecord(**fields)


def _document(user: UserRecord) -> bytes:
    return json.dumps({"loginName": user.login, "fullName": user.full_name, "salt": user.salt,
                       "hash": user.password_hash, "disabled": user.disabled,
                       "groups": list(user.groups)}).encode()


def _user_from_record(login: str, record: EventRecord) -> Optional[UserRecord]:
    if record.event_type == USER_DELETED:
        return None
    document = decode_json(record.data)
    if not isinstance(document, dict):
        return None
    return UserRecord(login, str(document.get("fullName") or ""), list(document.get("groups") or []),
                      bool(document.get("disabled")), str(document.get("hash") or ""),
                      str(document.get("salt") or ""))


def _check_groups(groups: object) -> list[str]:
    if groups is None:
        return []
    if not isinstance(groups, (list, tuple)) or not all(isinstance(g, str) for g in groups):
        raise BadRequest("Groups must be a list of strings")
    return list(groups)


class UserDirectory:
    def __init__(self, context: CoreContext, writes: WritePath):
        self._context = context
        self._writes = writes
        self._users: dict[str, UserRecord] = {}
        self._verified = VerifiedCredentials()

    async def load(self) -> None:
        """Rebuild from the log; on a log that never had users, create the defaults."""
        self._users = {}
        self._verified = VerifiedCredentials()
        streams = [s for s in self._context.index.streams() if s.startswith(USER_STREAM_PREFIX)]
        last_records = await self._context.log.last_records(streams)
        for stream, record in sorted(last_records.items(), key=lambda item: item[1].position):
            login = stream[len(USER_STREAM_PREFIX):]
            user = _user_from_record(login, record)
            if user is not None:
                self._users[login] = user
        if self._context.index.last_committed(USERS_STREAM) < 0:
            defaults = [d for d in DEFAULT_USERS if d[0] not in self._users]
            hashed = await asyncio.gather(*(self._new_user(login, full_name, groups, DEFAULT_PASSWORD)
                                            for login, full_name, groups in defaults))
            for user in hashed:  # hashed in parallel, saved in a fixed order
                await self._add(user)

    # --- authentication ---------------------------------------------------------------
    async def authenticate(self, login: str, password: str) -> Optional[Principal]:
        user = self._users.get(login)
        if user is None or user.disabled:
            return None
        if not self._verified.contains(login, password):
            if not await _off_loop(verify_password, password, user.password_hash, user.salt):
                return None
            if self._users.get(login) is not user:  # changed while we were hashing
                return await self.authenticate(login, password)
            self._verified.remember(login, password)
        return Principal(login, tuple(user.groups))

    # --- management ---------------------------------------------------------------------
    def list_users(self) -> list[UserRecord]:
        return [_copy(user) for user in self._users.values()]

    def get_user(self, login: str) -> UserRecord:
        return _copy(self._existing(login))

    def _existing(self, login: str) -> UserRecord:
        user = self._users.get(login)
        if user is None:
            raise NotFound(f"User '{login}' not found")
        return user

    async def create_user(self, login: str, full_name: str, groups: list[str], password: str) -> None:
        await self._add(await self._new_user(login, full_name, groups, password))

    async def _new_user(self, login: str, full_name: str, groups: list[str],
                        password: str) -> UserRecord:
        if not login or not isinstance(login, str):
            raise BadRequest("Login name is required")
        if not password or not isinstance(password, str):
            raise BadRequest("Password is required")
        groups = _check_groups(groups)
        self._refuse_existing(login)
        password_hash, salt = await _off_loop(hash_password, password)
        return UserRecord(login, full_name or "", groups, False, password_hash, salt)

    async def _add(self, user: UserRecord) -> None:
        self._refuse_existing(user.login)  # again: another request may have won while we hashed
        await self._save(user, USER_CREATED)
        await self._writes.append_internal(USERS_STREAM, [
            NewEvent(uuid.uuid4(), "$User", user.login.encode("utf-8"), b"", False)])

    def _refuse_existing(self, login: str) -> None:
        if login in self._users:
            raise Conflict(f"User '{login}' already exists")

    async def update_user(self, login: str, full_name: str, groups: list[str]) -> None:
        user = self._existing(login)
        await self._save(_copy(user, full_name=full_name or "", groups=_check_groups(groups)),
                         USER_UPDATED)

    async def delete_user(self, login: str) -> None:
        user = self._existing(login)
        del self._users[login]
        self._verified.forget(login)
        await self._writes.append_internal(USER_STREAM_PREFIX + login, [NewEvent(
            uuid.uuid4(), USER_DELETED, json.dumps({"loginName": user.login}).encode(), b"", True)])

    async def set_user_disabled(self, login: str, disabled: bool) -> None:
        user = self._existing(login)
        await self._save(_copy(user, disabled=bool(disabled)), USER_UPDATED)

    async def reset_password(self, login: str, new_password: str) -> None:
        self._existing(login)
        if not new_password or not isinstance(new_password, str):
            raise BadRequest("Password is required")
        password_hash, salt = await _off_loop(hash_password, new_password)
        user = self._existing(login)
        await self._save(_copy(user, password_hash=password_hash, salt=salt), USER_UPDATED)
        await self._writes.append_internal(PASSWORD_NOTIFICATIONS_STREAM, [NewEvent(
            uuid.uuid4(), "$PasswordChanged", json.dumps({"loginName": login}).encode(), b"", True)])

    async def change_password(self, login: str, current_password: str, new_password: str) -> None:
        user = self._existing(login)
        if not (self._verified.contains(login, current_password) or await _off_loop(
                verify_password, current_password or "", user.password_hash, user.salt)):
            raise AccessDenied("Wrong current password")
        await self.reset_password(login, new_password)

    async def _save(self, user: UserRecord, event_type: str) -> None:
        """The new state is in effect at once (so concurrent requests see it), durable on return."""
        self._users[user.login] = user
        self._verified.forget(user.login)
        await self._writes.append_internal(USER_STREAM_PREFIX + user.login, [
            NewEvent(uuid.uuid4(), event_type, _document(user), b"", True)])

    def __len__(self) -> int:
        return len(self._users)


async def _off_loop(function, *args):
    """Password hashing is slow on purpose; keep it off the IOLoop."""
    return await asyncio.get_running_loop().run_in_executor(None, function, *args)
