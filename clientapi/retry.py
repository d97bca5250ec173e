"""When to try a request again, and how long to wait first.

    Backoff(max_retries=3, first_delay=0.1, max_delay=2.0)   # the default for clusters
    Backoff.off()                                             # never retry

Delays grow exponentially and are drawn with "full jitter" (uniformly between zero and
the exponential cap), so that many clients cut off by the same failure do not come back
at the same instant.

What may be retried is decided by the error, not by the caller's hopes:
- a request that never reached a server (`ConnectionFailure`) is always safe to send
  again (to the same node or, in a cluster, to another one);
- after a `Timeout`, a cut connection (`ProtocolError`) or a 5xx, the server may have
  acted on the request, so only requests marked `retryable` are sent again: reads, and
  appends whose event ids let the server recognise the replay (same body, same ids);
- a wrong expected version, an access refusal or any other 4xx is an answer, never retried.
"""
from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from typing import Awaitable, Callable, Optional, TypeVar, Union

from .errors import (ConnectionFailure, EventStoreError, ProtocolError, ServerError, Timeout,
                     WrongExpectedVersion)

__all__ = ["Backoff", "as_backoff", "may_retry", "retrying", "DEFAULT_CLUSTER_BACKOFF"]

log = logging.getLogger("clientapi.retry")

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """`max_retries` further attempts after the first (0: none); before retry number n
    (1-based) wait a random time between 0 and min(max_delay, first_delay * multiplier**(n-1))."""

    max_retries: int = 3
    first_delay: float = 0.1
    max_delay: float = 2.0
    multiplier: float = 2.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise TypeError("max_retries must be an int")
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        for name in ("first_delay", "max_delay", "multiplier"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError("{} must be a number".format(name))
            if value < 0:
                raise ValueError("{} must not be negative".format(name))
        if self.multiplier < 1:
            raise ValueError("multiplier must be >= 1 (delays never shrink)")

    @classmethod
    def off(cls) -> "Backoff":
        return cls(max_retries=0)

    @property
    def enabled(self) -> bool:
        return self.max_retries > 0

    def cap(self, retry_number: int) -> float:
        """The longest wait before retry `retry_number` (1 for the first retry)."""
        if retry_number < 1:
            raise ValueError("retry numbers start at 1")
        # min() before the power would overflow for absurd retry counts
        exponent = min(retry_number - 1, 64)
        return min(self.max_delay, self.first_delay * (self.multiplier ** exponent))

    def delay(self, retry_number: int, draw: Callable[[], float] = random.random) -> float:
        """The wait before retry `retry_number`; `draw` returns a float in [0, 1)."""
        cap = self.cap(retry_number)
        return cap * draw() if self.jitter else cap


DEFAULT_CLUSTER_BACKOFF = Backoff()


def as_backoff(value: Union[int, Backoff, None]) -> Backoff:
    """What `Client(retries=...)` takes: a number of retries (with the default delays),
    a Backoff, or None / 0 for none."""
    if value is None:
        return Backoff.off()
    if isinstance(value, Backoff):
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("retries must be an int or a Backoff, not {}".format(type(value).__name__))
    if value < 0:
        raise ValueError("retries must be >= 0")
    return Backoff(max_retries=value)


def may_retry(error: BaseException, retryable: bool) -> bool:
    """Whether a request that failed with `error` may be sent again (see the module doc)."""
    if isinstance(error, WrongExpectedVersion):
        return False
    if isinstance(error, ConnectionFailure):
        return True
    if isinstance(error, (Timeout, ProtocolError, ServerError)):
        return retryable
    return False


async def retrying(attempt: Callable[[], Awaitable[T]], backoff: Backoff, *, retryable: bool,
                   what: str = "request",
                   on_failure: Optional[Callable[[EventStoreError], None]] = None,
                   sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> T:
    """Run `attempt()` until it succeeds, fails for good, or the retries are used up (then
    the last error is raised). `on_failure(error)` is called on every failure that will be
    retried (e.g. to make a cluster route around the node that failed)."""
    retry_number = 0
    while True:
        try:
            return await attempt()
        except EventStoreError as error:
            if retry_number >= backoff.max_retries or not may_retry(error, retryable):
                raise
            retry_number += 1
            if on_failure is not None:
                on_failure(error)
            pause = backoff.delay(retry_number)
            # Errors never hold credentials (requests describe themselves by method and path).
            subject = str(error) if error.request else "{}: {}".format(what, error)
            log.warning("%s; retry %d of %d in %.3f s", subject, retry_number, backoff.max_retries, pause)
            await sleep(pause)
