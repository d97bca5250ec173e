"""The two faces of every operation, generated from one implementation.

An operation is written once as a *plan*: a plain method that checks its arguments and
builds its requests synchronously (so TypeError/ValueError surface at the call, in both
modes), then returns the coroutine that sends them and parses the answers. `@operation`
turns a plan `name` into:

- `name(...)`: blocking. Runs the coroutine on the client's private IOLoop (the way
  tornado's HTTPClient drives an AsyncHTTPClient) and returns its result or raises.
- `name_async(..., on_success=None, on_failed=None)`: returns at once a future. Outside
  any running loop the work is queued on the private IOLoop and its callbacks run when
  `wait()` drives that loop; inside a running asyncio loop (the caller's async code) it
  runs on that loop, so `await client.name_async(...)` just works. Exactly one callback
  is called, on the loop, with the result or with the very exception object the blocking
  call would have raised.
"""
from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import threading
import weakref
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Coroutine, Optional, TypeVar

from tornado.ioloop import IOLoop

from .errors import Timeout, UsageError
from .wire.arguments import check_callback

__all__ = ["operation", "LoopRunner"]

log = logging.getLogger("clientapi")


def _run_pending_callbacks(loop: asyncio.AbstractEventLoop) -> None:
    """asyncio transports close their sockets from a loop callback: run it before the
    loop is closed. A loop cannot run inside another one running in the same thread (a
    client closed from async code), so then it runs in a thread of its own for that."""
    if _running_loop() is None:
        loop.run_until_complete(asyncio.sleep(0))
        return
    runner = threading.Thread(target=loop.run_until_complete, args=(asyncio.sleep(0),),
                              name="clientapi-close")
    runner.start()
    runner.join()


def _running_loop() -> Optional[asyncio.AbstractEventLoop]:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class LoopRunner:
    """Owns the private IOLoop, one transport per event loop, and wait()/resume()."""

    def __init__(self, make_transport: Callable[[], Any]) -> None:
        self._make_transport = make_transport
        self._io_loop: Optional[IOLoop] = None
        self._transports: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any]" = \
            weakref.WeakKeyDictionary()
        self._waiter: Optional[asyncio.Future] = None
        self._resume_pending = False
        self._callback_error: Optional[BaseException] = None
        self.closed = False

    # --- loops and transports ----------------------------------------------------
    @property
    def io_loop(self) -> IOLoop:
        if self.closed:
            raise UsageError("the client is closed")
        if self._io_loop is None:
            self._io_loop = IOLoop(make_current=False)
        return self._io_loop

    @property
    def asyncio_loop(self) -> asyncio.AbstractEventLoop:
        return self.io_loop.asyncio_loop  # type: ignore[attr-defined]  # an AsyncIOLoop

    def is_private(self, loop: asyncio.AbstractEventLoop) -> bool:
        return self._io_loop is not None and loop is self.asyncio_loop

    def transport(self) -> Any:
        """The transport of the running loop (created there on first use)."""
        loop = asyncio.get_running_loop()
        transport = self._transports.get(loop)
        if transport is None:
            transport = self._transports[loop] = self._make_transport()
        return transport

    def close(self) -> None:
        if self.closed:
            return
        if self._io_loop is not None and self.asyncio_loop.is_running():
            raise UsageError("close() cannot run inside wait() or a blocking call; call resume() "
                             "and close the client after wait() returns")
        for loop, transport in list(self._transports.items()):
            if not loop.is_closed():
                transport.close()
        self._transports.clear()
        if self._io_loop is not None:
            _run_pending_callbacks(self.asyncio_loop)
            self._io_loop.close(all_fds=True)
        self.closed = True

    # --- the two faces -------------------------------------------------------------
    def refuse_inside_running_loop(self, what: str) -> None:
        if _running_loop() is not None:
            raise UsageError(
                "{} blocks, so it cannot be called inside a running event loop (it would "
                "deadlock); use the _async form and await it or pass callbacks".format(what))

    def run_blocking(self, name: str, start: Callable[[], Awaitable[Any]]) -> Any:
        self.refuse_inside_running_loop(name + "()")
        loop = self.asyncio_loop
        work = start()  # argument checks happen here, before any request
        # Straight to asyncio: IOLoop.run_sync costs a class definition per call.
        return loop.run_until_complete(work)

    def run_async(self, name: str, work: Coroutine[Any, Any, Any], on_success: Optional[Callable],
                  on_failed: Optional[Callable]) -> "asyncio.Future[Any]":
        if self.closed:
            work.close()  # never started: no "never awaited" warning
            raise UsageError("the client is closed")
        loop = _running_loop() or self.asyncio_loop
        future = asyncio.ensure_future(work, loop=loop)
        if on_success is not None or on_failed is not None:
            future.add_done_callback(functools.partial(self._deliver, name, on_success, on_failed))
        return future

    def _deliver(self, name: str, on_success: Optional[Callable], on_failed: Optional[Callable],
                 future: "asyncio.Future[Any]") -> None:
        error: Optional[BaseException]
        error = asyncio.CancelledError() if future.cancelled() else future.exception()
        try:
            if error is None:
                if on_success is not None:
                    on_success(future.result())
            elif on_failed is not None:
                on_failed(error)
            else:
                log.warning("%s_async failed and no on_failed callback was given: %s", name, error)
        except Exception as callback_error:  # a broken callback must not vanish silently
            self._report_callback_error(name, callback_error)

    def _report_callback_error(self, name: str, error: Exception) -> None:
        # With wait() running (or about to run) the error ends it and is raised from it;
        # on a foreign loop it can only be logged.
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error)
        elif self.is_private(asyncio.get_running_loop()):
            self._callback_error = self._callback_error or error
        else:
            log.error("callback of %s_async raised", name, exc_info=error)

    # --- wait / resume -------------------------------------------------------------
    def wait(self, timeout: Optional[float] = None) -> None:
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
                raise TypeError("timeout must be a number of seconds or None")
            if timeout < 0:
                raise ValueError("timeout must not be negative")
        self.refuse_inside_running_loop("wait()")
        loop = self.asyncio_loop

        async def until_resumed() -> None:
            # Checked on the loop, after any resume() already queued there has run.
            if self._take_pending():
                return
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self._waiter, timeout)
            except asyncio.TimeoutError:
                raise Timeout("wait() gave up after {} s without resume()".format(timeout)) from None
            finally:
                self._waiter = None

        loop.run_until_complete(until_resumed())

    def _take_pending(self) -> bool:
        if self._callback_error is not None:
            error, self._callback_error = self._callback_error, None
            raise error
        if self._resume_pending:
            self._resume_pending = False
            return True
        return False

    def resume(self) -> None:
        """Thread-safe; a resume() with no wait() running makes the next wait() return at once."""
        self.io_loop.add_callback(self._resumed)

    def _resumed(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        else:
            self._resume_pending = True


def _result_annotation(plan: Callable) -> Any:
    """The plan returns `Awaitable[T]`; its faces return T and a future of T."""
    returns = inspect.signature(plan).return_annotation
    if isinstance(returns, str) and returns.startswith("Awaitable[") and returns.endswith("]"):
        return returns[len("Awaitable["):-1]
    return returns


def _signature_of_face(plan: Callable, asynchronous: bool) -> inspect.Signature:
    signature = inspect.signature(plan)
    returns = _result_annotation(plan)
    if not asynchronous:
        return signature.replace(return_annotation=returns)
    params = list(signature.parameters.values())
    extra = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None,
                               annotation="Optional[Callable[[Any], Any]]")
             for name in ("on_success", "on_failed")]
    last = [p for p in params if p.kind == inspect.Parameter.VAR_KEYWORD]
    head = [p for p in params if p.kind != inspect.Parameter.VAR_KEYWORD]
    future = "asyncio.Future[{}]".format(returns if isinstance(returns, str) else
                                         getattr(returns, "__name__", returns))
    return signature.replace(parameters=head + extra + last, return_annotation=future)


def _name_face(face: Callable, plan: Callable, name: str, owner: type, doc: str,
               asynchronous: bool) -> None:
    face.__name__ = name
    face.__qualname__ = "{}.{}".format(owner.__qualname__, name)
    face.__module__ = plan.__module__
    face.__doc__ = doc
    face.__signature__ = _signature_of_face(plan, asynchronous)  # type: ignore[attr-defined]


class _Operation:
    """Decorator for plans (see the module docstring)."""

    def __init__(self, plan: Callable[..., Awaitable[Any]]) -> None:
        self.plan = plan

    def __set_name__(self, owner: type, name: str) -> None:
        plan = self.plan

        def blocking(client: Any, *args: Any, **kwargs: Any) -> Any:
            return client._runner.run_blocking(name, lambda: plan(client, *args, **kwargs))

        def asynchronous(client: Any, *args: Any, on_success: Optional[Callable] = None,
                         on_failed: Optional[Callable] = None, **kwargs: Any) -> "asyncio.Future[Any]":
            check_callback("on_success", on_success)
            check_callback("on_failed", on_failed)
            work = plan(client, *args, **kwargs)
            return client._runner.run_async(name, work, on_success, on_failed)

        doc = inspect.cleandoc(plan.__doc__ or "")
        _name_face(blocking, plan, name, owner, doc, asynchronous=False)
        _name_face(asynchronous, plan, name + "_async", owner,
                   "Asynchronous form of `{}`: returns a future at once and calls exactly one of "
                   "`on_success(result)` / `on_failed(error)` on the event loop.\n\n{}".format(name, doc),
                   asynchronous=True)
        setattr(owner, name, blocking)
        setattr(owner, name + "_async", asynchronous)


if TYPE_CHECKING:
    # Type checkers see each decorated plan as the blocking method it becomes:
    # `(self, *args) -> Awaitable[T]` turns into `(self, *args) -> T`. The `_async` twins
    # are covered by `Client.__getattr__` in clientapi.client.
    from typing_extensions import Concatenate, ParamSpec

    _P = ParamSpec("_P")
    _T = TypeVar("_T")
    _Self = TypeVar("_Self")

    def operation(plan: Callable[Concatenate[_Self, _P], Awaitable[_T]]
                  ) -> Callable[Concatenate[_Self, _P], _T]: ...
else:
    operation = _Operation
