"""The one thread that owns every V8 context of the process.

mini-racer crashes the process when contexts are created from more than one Python thread
unless V8 was initialised on the main thread, and nodes run on threads of their own (tests
start several). So every context is created, driven and closed from a single long-lived
daemon thread with its own asyncio loop; a node's loop awaits the results. V8 itself
executes on mini-racer's threads, so neither this loop nor the node's ever runs JavaScript.
"""
from __future__ import annotations

import asyncio
import atexit
import threading
import weakref
from typing import Any, Awaitable, Callable, Optional, TypeVar

T = TypeVar("T")

_CLOSE_AT_EXIT_SECONDS = 5.0


class V8Host:
    _instance: Optional["V8Host"] = None
    _instance_lock = threading.Lock()

    @classmethod
    def get(cls) -> "V8Host":
        with cls._instance_lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._racers: "weakref.WeakSet[Any]" = weakref.WeakSet()
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), name="clientapi-v8", daemon=True)
        self._thread.start()
        started.wait()
        atexit.register(self._close_all)

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(started.set)
        self._loop.run_forever()

    async def run(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run `work()` on the V8 loop; cancelling the caller cancels it there too."""
        future = asyncio.run_coroutine_threadsafe(work(), self._loop)
        return await asyncio.wrap_future(future)

    async def new_racer(self, memory_limit_bytes: int) -> Any:
        import py_mini_racer

        async def create() -> Any:
            racer = py_mini_racer.MiniRacer()
            racer.set_hard_memory_limit(memory_limit_bytes)
            self._racers.add(racer)
            return racer
        return await self.run(create)

    def close_racer(self, racer: Any) -> None:
        """Free a context (from any thread; returns at once)."""
        self._racers.discard(racer)
        self._loop.call_soon_threadsafe(racer.close)

    def _close_all(self) -> None:
        """Contexts left open at exit would block the interpreter's shutdown."""
        racers = list(self._racers)
        if not racers or not self._thread.is_alive():
            return
        done = threading.Event()

        def close() -> None:
            for racer in racers:
                racer.close()
            done.set()
        self._loop.call_soon_threadsafe(close)
        done.wait(_CLOSE_AT_EXIT_SECONDS)
