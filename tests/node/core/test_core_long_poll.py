"""wait_for_append: woken by commits, not by threads or polling."""
import asyncio
import time

from clientapi.server.core.model import ANY

from .helpers import BOB, events, with_core


def test_waiter_on_a_stream_is_woken_by_a_commit_to_it():
    async def body(core):
        waiting = asyncio.ensure_future(core.wait_for_append("watched", 5))
        other = asyncio.ensure_future(core.wait_for_append("elsewhere", 0.3))
        await asyncio.sleep(0.01)
        started = time.perf_counter()
        await core.append("watched", events(1), ANY, BOB)
        assert await waiting is True
        assert time.perf_counter() - started < 0.5
        assert await other is False
        assert core.stats()["longPollsWaiting"] == 0
    with_core(body)


def test_waiter_on_all_is_woken_by_any_commit_and_sees_it():
    async def body(core):
        head = core.head_position()
        waiting = asyncio.ensure_future(core.wait_for_append(None, 5))
        await asyncio.sleep(0.01)
        await core.append("anything", events(1), ANY, BOB)
        assert await waiting is True
        assert core.head_position() > head
        assert await core.last_event_number("anything") == 0
    with_core(body)


def test_waiter_times_out():
    async def body(core):
        started = time.perf_counter()
        assert await core.wait_for_append("quiet", 0.1) is False
        assert 0.09 < time.perf_counter() - started < 1.0
    with_core(body)


def test_many_waiters_cost_no_threads():
    import threading

    async def body(core):
        threads_before = threading.active_count()
        waiting = [asyncio.ensure_future(core.wait_for_append(f"s{i % 10}", 5)) for i in range(500)]
        await asyncio.sleep(0.01)
        assert threading.active_count() <= threads_before + 1
        for i in range(10):
            await core.append(f"s{i}", events(1), ANY, BOB)
        assert all(await asyncio.gather(*waiting))
    with_core(body)
