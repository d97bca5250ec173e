"""Futures woken when something is committed: what long polls wait on (no threads)."""
from __future__ import annotations

import asyncio
from typing import Iterable, Optional


class AppendWaiters:
    def __init__(self) -> None:
        self._by_stream: dict[Optional[str], set[asyncio.Future]] = {}

    def wait(self, stream_id: Optional[str], timeout: float) -> "asyncio.Future[bool]":
        """A future: True when woken by a commit to `stream_id` (None = any stream), False
        on timeout. Registered before this returns, not when first awaited: a long poll
        that found nothing and then waits must not miss a commit landing in between."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        waiters = self._by_stream.setdefault(stream_id, set())
        waiters.add(future)
        timer = loop.call_later(max(0.0, timeout), _resolve, future, False)

        def forget(_: asyncio.Future) -> None:  # resolved, timed out or cancelled
            timer.cancel()
            waiters.discard(future)
            if not waiters and self._by_stream.get(stream_id) is waiters:
                del self._by_stream[stream_id]

        future.add_done_callback(forget)
        return future

    def notify(self, streams: Iterable[str]) -> None:
        if not self._by_stream:
            return
        for stream in set(streams):
            for future in self._by_stream.get(stream, ()):
                _resolve(future, True)
        for future in self._by_stream.get(None, ()):
            _resolve(future, True)

    def wake_all(self) -> None:
        """On shutdown: let every long poll answer now."""
        for waiters in self._by_stream.values():
            for future in waiters:
                _resolve(future, False)

    def __len__(self) -> int:
        return sum(len(waiters) for waiters in self._by_stream.values())


def _resolve(future: asyncio.Future, value: bool) -> None:
    if not future.done():
        future.set_result(value)
