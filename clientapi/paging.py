"""Reading a chain of pages where each page says which one comes next.

The next page is asked for as soon as the current one has arrived, before its entries are
decoded: the server renders the next page while the client decodes this one, instead of
the two taking turns. Decoding gives the event loop a turn now and then (`let_io_run`),
so the next request goes out and its answer comes in meanwhile.
"""
from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Awaitable, Callable, List, Optional, TypeVar

__all__ = ["read_chain", "decode_in_slices", "let_io_run"]

Page = TypeVar("Page")
Decoded = TypeVar("Decoded")


async def let_io_run() -> None:
    """One turn of the event loop for the I/O of requests in flight."""
    await asyncio.sleep(0)


async def read_chain(first: Any, fetch: Callable[[Any], Awaitable[Page]],
                     following: Callable[[Page], Optional[Any]],
                     decode: Callable[[Any, Page], Awaitable[Decoded]]) -> List[Decoded]:
    """`fetch(request)` gets a page; `following(page)` gives the request for the next page
    (None: this was the last), before `decode(request, page)` turns it into results. On a
    failure the page in flight is abandoned."""
    results: List[Decoded] = []
    request: Optional[Any] = first
    pending: Optional[asyncio.Future] = asyncio.ensure_future(fetch(first))
    try:
        while pending is not None:
            page = await pending
            current, request = request, following(page)
            pending = asyncio.ensure_future(fetch(request)) if request is not None else None
            results.append(await decode(current, page))
            del page  # its entries are many objects: free them before the collector meets them
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):  # it was not wanted
                await pending
        elif pending is not None and not pending.cancelled():
            pending.exception()  # its failure does not matter any more: mark it as seen
    return results


async def decode_in_slices(items: List[Any], decode: Callable[[List[Any]], List[Decoded]],
                           size: int = 512) -> List[Decoded]:
    """`decode(items)`, a slice at a time, with a turn of the event loop before each."""
    decoded: List[Decoded] = []
    for start in range(0, len(items), size):
        await let_io_run()
        decoded += decode(items[start:start + size])
    return decoded
