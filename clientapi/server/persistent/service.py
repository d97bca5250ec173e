"""The node's persistent-subscriptions subsystem: the registry of groups and its rules.

The HTTP layer calls these coroutines with the caller's Principal; refusals are raised as core
errors (AccessDenied, NotFound, Conflict, BadRequest) for it to map. Authorization follows the
v20+ policy (digest §10.2): create/update/delete/replay need $ops or $admins; reading messages,
ack and nack need an authenticated caller with read access to the stream; info and lists need
an authenticated caller. A node run with insecure=True allows everything.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any, Iterable, Optional

from tornado.ioloop import PeriodicCallback

from ..core.errors import AccessDenied, Conflict, NotFound
from ..core.model import Principal
from .group import Message, SubscriptionGroup
from .settings import GroupSettings
from .store import GroupStore

log = logging.getLogger(__name__)

TICK_MILLISECONDS = 50  # resolution of message timeouts and checkpoint timers


class GroupNotFound(NotFound):
    pass


class GroupExists(Conflict):
    pass


class PersistentSubscriptions:
    def __init__(self, core: Any):
        self.core = core
        self.store = GroupStore(core)
        self._groups: dict[tuple[str, str], SubscriptionGroup] = {}
        self._admin_lock = asyncio.Lock()
        self._ticker: Optional[PeriodicCallback] = None

    @property
    def _insecure(self) -> bool:
        return bool(getattr(self.core, "insecure", False))

    # --- life cycle -----------------------------------------------------------------
    async def start(self) -> None:
        for stream, name, settings in await self.store.load_definitions():
            await self._start_group(stream, name, settings)
        self._ticker = PeriodicCallback(self._tick, TICK_MILLISECONDS)
        self._ticker.start()

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        groups, self._groups = list(self._groups.values()), {}
        await asyncio.gather(*(group.stop() for group in groups), return_exceptions=True)

    def _tick(self) -> None:
        now = time.monotonic()
        for group in list(self._groups.values()):
            try:
                group.tick(now)
            except Exception:
                log.exception("persistent subscription %s::%s: timer failed", group.stream, group.name)

    async def _start_group(self, stream: str, name: str, settings: GroupSettings) -> SubscriptionGroup:
        group = SubscriptionGroup(self.core, self.store, stream, name, settings)
        checkpoint = await self.store.load_checkpoint(stream, name)
        self._groups[(stream, name)] = group
        await group.start(checkpoint)
        return group

    async def _save_definitions(self, principal: Principal) -> None:
        definitions = [(g.stream, g.name, g.settings) for g in self._groups.values()]
        await self.store.save_definitions(definitions, principal.login)

    # --- authorization --------------------------------------------------------------
    def require_ops(self, principal: Principal) -> None:
        if not self._insecure and not principal.is_ops:
            raise AccessDenied("Access denied")

    def _require_user(self, principal: Principal) -> None:
        if not self._insecure and principal.is_anonymous:
            raise AccessDenied("Access denied")

    async def _require_read(self, stream: str, principal: Principal) -> None:
        self._require_user(principal)
        if self._insecure:
            return
        metadata = await self.core.get_metadata(stream)
        if not self.core.check_access(stream, "read", principal, metadata):
            raise AccessDenied("Access denied")

    # --- administration -------------------------------------------------------------
    async def create(self, stream: str, name: str, settings: GroupSettings, principal: Principal) -> None:
        self.require_ops(principal)
        async with self._admin_lock:
            if (stream, name) in self._groups:
                raise GroupExists(f"Group '{name}' already exists.")
            await self.store.delete_group_streams(stream, name)  # leftovers of an earlier group
            await self._start_group(stream, name, settings)
            await self._save_definitions(principal)

    async def update(self, stream: str, name: str, settings: GroupSettings, principal: Principal) -> None:
        """Full replacement of the settings; the group restarts from its checkpoint."""
        self.require_ops(principal)
        async with self._admin_lock:
            old = self._groups.get((stream, name))
            if old is None:
                raise GroupNotFound(f"Group '{name}' does not exist.")
            await old.stop()
            await self._start_group(stream, name, settings)
            await self._save_definitions(principal)

    async def delete(self, stream: str, name: str, principal: Principal) -> None:
        self.require_ops(principal)
        async with self._admin_lock:
            group = self._groups.pop((stream, name), None)
            if group is None:
                raise GroupNotFound(f"Group '{name}' does not exist.")
            await group.stop(write_checkpoint=False)
            await self._save_definitions(principal)
            await self.store.delete_group_streams(stream, name)

    async def restart(self, principal: Principal) -> None:
        """`POST /subscriptions/restart`: every group starts again from its checkpoint."""
        self.require_ops(principal)
        async with self._admin_lock:
            groups = list(self._groups.values())
            await asyncio.gather(*(group.stop() for group in groups), return_exceptions=True)
            for group in groups:
                await self._start_group(group.stream, group.name, group.settings)

    async def replay_parked(self, stream: str, name: str, stop_at: Optional[int],
                            principal: Principal) -> None:
        self.require_ops(principal)
        await self.group(stream, name).replay_parked(stop_at)

    # --- lookups --------------------------------------------------------------------
    def group(self, stream: str, name: str) -> SubscriptionGroup:
        group = self._groups.get((stream, name))
        if group is None:
            raise GroupNotFound(f"Group '{name}' does not exist.")
        return group

    def groups(self, stream: Optional[str] = None) -> list[SubscriptionGroup]:
        return [g for (s, _), g in self._groups.items() if stream is None or s == stream]

    def stream_has_groups(self, stream: str) -> bool:
        return any(s == stream for s, _ in self._groups)

    async def info(self, stream: str, name: str, principal: Principal) -> SubscriptionGroup:
        self._require_user(principal)
        return self.group(stream, name)

    async def list_groups(self, stream: Optional[str], principal: Principal) -> list[SubscriptionGroup]:
        self._require_user(principal)
        return self.groups(stream)

    # --- consuming ------------------------------------------------------------------
    async def read(self, stream: str, name: str, count: int, principal: Principal, reader: str,
                   wait_seconds: float = 0) -> list[Message]:
        """Messages for `reader` (the consumer's identity), in flight once returned."""
        await self._require_read(stream, principal)
        group = self.group(stream, name)
        return await group.read(reader, principal.login or "", count, wait_seconds)

    def hand_back(self, stream: str, name: str, messages: list[Message]) -> None:
        """Messages read for a client that went away before getting them."""
        group = self._groups.get((stream, name))
        if group is not None:
            group.hand_back(messages)

    async def ack(self, stream: str, name: str, ids: Iterable[uuid.UUID], principal: Principal) -> None:
        await self._require_read(stream, principal)
        group = self._groups.get((stream, name))
        if group is not None:  # fire-and-forget, like the real server: unknown groups are fine
            group.ack(ids)

    async def nack(self, stream: str, name: str, ids: Iterable[uuid.UUID], action: str,
                   principal: Principal) -> None:
        await self._require_read(stream, principal)
        group = self._groups.get((stream, name))
        if group is not None:
            group.nack(ids, action)
