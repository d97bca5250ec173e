"""Expected versions (digest §4.4) and idempotent retries (§4.6)."""
import pytest

from clientapi.server.core.errors import (AccessDenied, StreamDeleted, StreamNotFound,
                                          WrongExpectedVersion)
from clientapi.server.core.model import ANY, NO_STREAM, STREAM_EXISTS

from .helpers import ADMIN, BOB, event, events, metadata_event, numbers, with_core


def test_numbers_are_consecutive_and_positions_grow():
    async def body(core):
        first = await core.append("orders-1", events(3), ANY, BOB)
        second = await core.append("orders-1", events(2), ANY, BOB)
        assert (first.first_event_number, first.last_event_number) == (0, 2)
        assert (second.first_event_number, second.last_event_number) == (3, 4)
        assert second.position > first.position
        assert await numbers(core, "orders-1") == [0, 1, 2, 3, 4]
        assert await core.last_event_number("orders-1") == 4
        assert await core.last_event_number("never") == -1
    with_core(body)


def test_no_stream_on_new_and_existing_stream():
    async def body(core):
        await core.append("s", events(1), NO_STREAM, BOB)
        with pytest.raises(WrongExpectedVersion) as refused:
            await core.append("s", events(1), NO_STREAM, BOB)
        assert refused.value.current_version == 0
    with_core(body)


def test_exact_version_matches_only_the_last_number():
    async def body(core):
        await core.append("s", events(2), ANY, BOB)
        await core.append("s", events(1), 1, BOB)
        for wrong in (0, 3, 7):
            with pytest.raises(WrongExpectedVersion) as refused:
                await core.append("s", events(1), wrong, BOB)
            assert refused.value.current_version == 2
        assert await numbers(core, "s") == [0, 1, 2]
    with_core(body)


def test_zero_means_exactly_one_event():
    async def body(core):
        with pytest.raises(WrongExpectedVersion) as refused:
            await core.append("s", events(1), 0, BOB)
        assert refused.value.current_version == -1
        await core.append("s", events(1), ANY, BOB)
        result = await core.append("s", events(1), 0, BOB)
        assert result.first_event_number == 1
    with_core(body)


def test_stream_exists_on_missing_stream_and_on_metadata_only():
    async def body(core):
        with pytest.raises(WrongExpectedVersion) as refused:
            await core.append("missing", events(1), STREAM_EXISTS, BOB)
        assert refused.value.current_version == -1
        await core.append("$$meta-only", [metadata_event({"custom": 1})], ANY, BOB)
        result = await core.append("meta-only", events(1), STREAM_EXISTS, BOB)
        assert result.first_event_number == 0
        await core.append("present", events(1), ANY, BOB)
        assert (await core.append("present", events(1), STREAM_EXISTS, BOB)).first_event_number == 1
    with_core(body)


def test_any_retry_of_a_batch_is_idempotent():
    async def body(core):
        batch = events(3)
        first = await core.append("s", batch, ANY, BOB)
        again = await core.append("s", batch, ANY, BOB)
        assert (again.first_event_number, again.last_event_number) == (0, 2)
        assert again.position == first.position
        assert await numbers(core, "s") == [0, 1, 2]
        exists = await core.append("s", batch, STREAM_EXISTS, BOB)
        assert exists.first_event_number == 0
    with_core(body)


def test_any_retry_with_a_changed_tail_is_a_conflict():
    async def body(core):
        batch = events(2)
        await core.append("s", batch, ANY, BOB)
        with pytest.raises(WrongExpectedVersion) as refused:
            await core.append("s", [batch[0], event()], ANY, BOB)
        assert refused.value.current_version == 1
        assert await numbers(core, "s") == [0, 1]
    with_core(body)


def test_same_event_id_in_another_stream_is_written():
    async def body(core):
        batch = events(1)
        await core.append("a", batch, ANY, BOB)
        result = await core.append("b", batch, ANY, BOB)
        assert result.first_event_number == 0
        assert await numbers(core, "b") == [0]
    with_core(body)


def test_explicit_version_retry_compares_positions():
    async def body(core):
        first_batch, second_batch = events(2), events(2)
        await core.append("s", first_batch, NO_STREAM, BOB)
        await core.append("s", second_batch, 1, BOB)
        replay = await core.append("s", first_batch, NO_STREAM, BOB)
        assert (replay.first_event_number, replay.last_event_number) == (0, 1)
        replay = await core.append("s", second_batch, 1, BOB)
        assert (replay.first_event_number, replay.last_event_number) == (2, 3)
        with pytest.raises(WrongExpectedVersion):
            await core.append("s", second_batch, 0, BOB)  # ids at 1.. differ
        with pytest.raises(WrongExpectedVersion):
            await core.append("s", second_batch + events(1), 1, BOB)  # runs past the end
        assert await numbers(core, "s") == [0, 1, 2, 3]
    with_core(body)


def test_explicit_retry_works_when_the_id_cache_forgot():
    async def body(core):
        batch = events(2)
        await core.append("s", batch, NO_STREAM, BOB)
        core._context.ids = type(core._context.ids)(10)  # a cold cache: the log must answer
        replay = await core.append("s", batch, NO_STREAM, BOB)
        assert replay.first_event_number == 0
        assert await numbers(core, "s") == [0, 1]
    with_core(body)


@pytest.mark.parametrize("durable", [False, True])
def test_concurrent_appends_share_commits_and_keep_order(tmp_path, durable):
    import asyncio

    async def body(core):
        results = await asyncio.gather(*(core.append("hot", events(1), ANY, BOB) for _ in range(200)))
        assert sorted(r.first_event_number for r in results) == list(range(200))
        assert len({r.position for r in results}) == 200
        assert core.stats()["transactions"] < 200 + 10  # grouped, never more than one per append
        assert await numbers(core, "hot") == list(range(200))
    with_core(body, path=str(tmp_path) if durable else None)


def test_writing_to_all_is_denied():
    async def body(core):
        with pytest.raises(AccessDenied):
            await core.append("$all", events(1), ANY, ADMIN)
    with_core(body)


def test_reads_of_a_missing_stream():
    async def body(core):
        with pytest.raises(StreamNotFound):
            await core.read_stream("nothing", None, 20, "backward", True, BOB)
        with pytest.raises(StreamNotFound):
            await core.read_event("nothing", 0, True, BOB)
        assert not await core.stream_exists("nothing")
    with_core(body)


def test_hard_deleted_stream_refuses_appends_with_any_version():
    async def body(core):
        await core.append("s", events(1), ANY, BOB)
        await core.delete_stream("s", ANY, True, BOB)
        for expected in (ANY, NO_STREAM, STREAM_EXISTS, 0):
            with pytest.raises(StreamDeleted):
                await core.append("s", events(1), expected, BOB)
    with_core(body)


@pytest.mark.parametrize("durable", [False, True])
def test_a_failed_commit_fails_its_callers_and_the_state_recovers(tmp_path, durable):
    import asyncio
    import sqlite3

    async def body(core):
        await core.append("s", events(2), ANY, BOB)
        log = core._context.log
        real_write = log._write_transaction

        def failing_write(rows):
            log._write_transaction = real_write
            raise sqlite3.OperationalError("disk I/O error")

        log._write_transaction = failing_write
        outcomes = await asyncio.gather(core.append("s", events(1), ANY, BOB),
                                        core.append("s", events(1), ANY, BOB), return_exceptions=True)
        assert all(isinstance(outcome, sqlite3.OperationalError) for outcome in outcomes)
        assert await core.last_event_number("s") == 1
        result = await core.append("s", events(1), 1, BOB)  # numbering resumes where the log is
        assert result.first_event_number == 2
        assert await numbers(core, "s") == [0, 1, 2]
    with_core(body, path=str(tmp_path) if durable else None)
