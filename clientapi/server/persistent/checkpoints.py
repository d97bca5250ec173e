"""A group's checkpoint: the event number up to which everything has been processed.

Processed means acked, skipped or parked. Event numbers read from the stream and not yet
processed are kept in ascending order; the checkpoint is the number just below the oldest
of them (or the last one read when none is outstanding). It is written (to the group's
checkpoint stream) when at least minCheckPointCount messages were processed and
checkPointAfterMilliseconds passed, at once when maxCheckPointCount were, and on stop.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Callable, Optional

from .settings import GroupSettings
from .store import GroupStore

log = logging.getLogger(__name__)


class Checkpoints:
    def __init__(self, store: GroupStore, stream: str, group: str, settings: GroupSettings,
                 next_read: Callable[[], int]):
        self._store = store
        self._stream = stream
        self._group = group
        self._settings = settings
        self._next_read = next_read
        self._outstanding: "OrderedDict[int, None]" = OrderedDict()
        self._processed = 0  # since the last checkpoint written
        self._written_at = time.monotonic()
        self._task: Optional[asyncio.Future] = None
        self._again = False
        self.last: Optional[int] = None  # the last checkpoint written (or loaded)

    def read(self, event_number: int) -> None:
        self._outstanding[event_number] = None

    def processed(self, event_number: int) -> None:
        self._outstanding.pop(event_number, None)
        self._processed += 1
        if self._processed >= self._settings.max_check_point_count:
            self.schedule()

    def tick(self, now: float) -> None:
        if (self._processed >= self._settings.min_check_point_count
                and now - self._written_at >= self._settings.check_point_after_ms / 1000.0):
            self.schedule()

    def schedule(self) -> None:
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.ensure_future(self.write())

    async def settle(self) -> None:
        """Waits for a write in progress."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    def _candidate(self) -> int:
        if self._outstanding:
            return next(iter(self._outstanding)) - 1
        return self._next_read() - 1

    async def write(self) -> None:
        """Writes the checkpoint if it moved (again, if more was processed meanwhile)."""
        while True:
            self._again = False
            candidate = self._candidate()
            if candidate > (self.last if self.last is not None else -1):
                try:
                    await self.save(candidate)
                except Exception:
                    log.exception("persistent subscription %s::%s: checkpoint failed",
                                  self._stream, self._group)
                    return
            if not self._again:
                return

    async def save(self, event_number: int) -> None:
        processed = self._processed
        await self._store.save_checkpoint(self._stream, self._group, event_number, self.last is None)
        self.last = event_number
        self._processed = max(0, self._processed - processed)
        self._written_at = time.monotonic()
