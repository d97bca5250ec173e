"""Passwords (salted PBKDF2 hashes), the cache of verified credentials, and ACL evaluation."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Optional

from .core.metadata import SystemSettings
from .core.model import Acl, Principal, StreamMetadata

PBKDF2_ITERATIONS = 100_000
_SALT_BYTES = 16

ALL_ROLE = "$all"
ADMINS = "$admins"
OPS = "$ops"
OPERATIONS = ("read", "write", "delete", "meta_read", "meta_write")


# --- passwords --------------------------------------------------------------------------
def _derive(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, PBKDF2_ITERATIONS)


def hash_password(password: str) -> tuple[str, str]:
    """(hash, salt), both base64, with a fresh random salt. Slow on purpose: call off the loop."""
    salt = os.urandom(_SALT_BYTES)
    return base64.b64encode(_derive(password, salt)).decode(), base64.b64encode(salt).decode()


def verify_password(password: str, password_hash: str, salt: str) -> bool:
    """Slow on purpose: call off the loop."""
    try:
        expected = base64.b64decode(password_hash)
        derived = _derive(password, base64.b64decode(salt))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(derived, expected)


class VerifiedCredentials:
    """Remembers (login, password) pairs already verified, so repeated requests skip PBKDF2.

    Keys are keyed BLAKE2 MACs under a per-process random key: the plain password is never
    kept and the keys are useless outside this process. Entries of a login are dropped whenever the user
    changes (password, groups, disabled, deleted).
    """

    def __init__(self, capacity: int = 10_000):
        self._key = os.urandom(32)
        self._capacity = capacity
        self._verified: dict[bytes, str] = {}

    def _fingerprint(self, login: str, password: str) -> bytes:
        message = login.encode("utf-8") + b"\0" + password.encode("utf-8")
        return hashlib.blake2b(message, key=self._key, digest_size=32).digest()

    def contains(self, login: str, password: str) -> bool:
        return self._verified.get(self._fingerprint(login, password)) == login

    def remember(self, login: str, password: str) -> None:
        if len(self._verified) >= self._capacity:
            self._verified.clear()
        self._verified[self._fingerprint(login, password)] = login

    def forget(self, login: str) -> None:
        self._verified = {key: owner for key, owner in self._verified.items() if owner != login}


# --- authorization ----------------------------------------------------------------------
_USER_DEFAULT = Acl(*(((ALL_ROLE,),) * 5))
_SYSTEM_DEFAULT = Acl(*(((ADMINS,),) * 5))


def is_system_stream(stream_id: str) -> bool:
    return stream_id.startswith("$")


def is_metastream(stream_id: str) -> bool:
    return stream_id.startswith("$$")


def original_stream(stream_id: str) -> str:
    return stream_id[2:] if is_metastream(stream_id) else stream_id


class Authorizer:
    """Effective ACLs (stream `$acl` -> `$settings` defaults -> built-in defaults) per digest §9.3.

    Newer-server behaviour: anonymous principals are never "everyone" for stream access,
    `$admins` always pass, and `insecure=True` switches every check off.
    """

    def __init__(self, insecure: bool = False):
        self.insecure = insecure
        self.settings = SystemSettings()

    def roles_for(self, stream_id: str, operation: str, metadata: StreamMetadata) -> tuple[str, ...]:
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}")
        for acl in self._acl_chain(stream_id, metadata):
            roles = getattr(acl, operation)
            if roles is not None:
                return roles
        raise AssertionError("built-in defaults always answer")

    def _acl_chain(self, stream_id: str, metadata: StreamMetadata) -> tuple[Acl, ...]:
        stream_acl = metadata.acl or Acl()
        if is_system_stream(stream_id):
            return stream_acl, self.settings.system_acl, _SYSTEM_DEFAULT
        return stream_acl, self.settings.user_acl, _USER_DEFAULT

    def allowed(self, stream_id: str, operation: str, principal: Principal,
                metadata: StreamMetadata) -> bool:
        """`stream_id` is the stream whose ACL applies (for `$$X` pass X with meta_* operations)."""
        if self.insecure:
            return True
        if principal.is_anonymous:
            return False
        if principal.is_admin:
            return True
        roles = self.roles_for(stream_id, operation, metadata)
        return ALL_ROLE in roles or any(role in roles for role in principal.roles)

    def is_public(self, stream_id: str, operation: str, metadata: StreamMetadata) -> bool:
        """True when `$all` is among the roles (the HTTP layer marks caching `public` then)."""
        return ALL_ROLE in self.roles_for(stream_id, operation, metadata)

    def allowed_ops(self, principal: Principal) -> bool:
        return self.insecure or principal.is_ops

    def allowed_admin(self, principal: Principal) -> bool:
        return self.insecure or principal.is_admin


def basic_principal(login: str, groups: Optional[list[str]]) -> Principal:
    return Principal(login, tuple(groups or ()))
