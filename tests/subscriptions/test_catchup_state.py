"""The sans-IO catch-up state machine, driven by a model of the server's paging."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clientapi.wire.catchup import (
    START_OF_ALL, AllCheckpoint, AllCursor, AllPosition, CatchUp, FetchedPage, Read, StreamCursor,
)
from clientapi.retry import Backoff

STEADY = Backoff(max_retries=100, first_delay=0.05, max_delay=2.0, jitter=False)

from .paging_model import AllModel, Ev, StreamModel


def stream_catch_up(last_delivered: int = -1, at_head: bool = False,
                    backoff: Backoff = STEADY) -> CatchUp:
    return CatchUp(StreamCursor(last_delivered, lambda e: e.number), start_at_head=at_head,
                   backoff=backoff)


def drain(catch_up: CatchUp, model, reads: list | None = None, max_reads: int = 10_000) -> list:
    """Run reads until the subscription polls at the head; returns what was handed over."""
    delivered = []
    for _ in range(max_reads):
        read = catch_up.next_read()
        if reads is not None:
            reads.append(read)
        if read.find_head:
            catch_up.on_head(model.last + 1 if isinstance(model, StreamModel) else model.head)
            continue
        page = model.read(read)
        for event in catch_up.on_page(page, elapsed=1.0):
            delivered.append(event)
            catch_up.delivered(event)
        if page.newer is None and not page.events:
            return delivered
    raise AssertionError("never reached the head")


def test_follows_previous_links_like_the_recorded_paging_then_polls_the_last_read():
    model = StreamModel("long", 45)
    catch_up = stream_catch_up()
    reads: list[Read] = []

    delivered = drain(catch_up, model, reads)

    assert [e.number for e in delivered] == list(range(45))
    assert [(r.start, r.long_poll) for r in reads] == [
        (0, False), (20, False), (40, False), (45, True)]  # 40..44 reached the head
    assert catch_up.next_read() == Read(start=45, long_poll=True)
    assert catch_up.is_live and catch_up.checkpoint == 44


def test_live_once_a_page_reaches_the_head_of_the_stream():
    model = StreamModel("long", 25)
    catch_up = stream_catch_up()
    catch_up.on_page(model.read(catch_up.next_read()), 1.0)
    assert not catch_up.is_live  # 0..19 of 25
    catch_up.on_page(model.read(catch_up.next_read()), 1.0)
    assert catch_up.is_live  # 20..24: headOfStream, still linked onwards


def test_a_new_event_at_the_head_is_handed_over_by_the_repeated_read():
    model = StreamModel("long", 45)
    catch_up = stream_catch_up()
    drain(catch_up, model)
    model.append(3)
    assert [e.number for e in drain(catch_up, model)] == [45, 46, 47]


def test_starts_right_after_a_stored_event_number():
    model = StreamModel("long", 45)
    catch_up = stream_catch_up(last_delivered=22)
    assert catch_up.next_read() == Read(start=23)
    catch_up = stream_catch_up(last_delivered=22)
    assert [e.number for e in drain(catch_up, model)] == list(range(23, 45))


def test_from_the_head_only_events_written_after():
    model = StreamModel("long", 45)
    catch_up = stream_catch_up(at_head=True)
    reads: list[Read] = []
    assert drain(catch_up, model, reads) == []
    assert reads[0].find_head and reads[1] == Read(start=45, long_poll=True)  # live at once
    model.append(2)
    assert [e.number for e in drain(catch_up, model)] == [45, 46]


def test_a_failed_read_backs_off_and_resumes_right_after_the_last_event_handed_over():
    model = StreamModel("long", 45)
    catch_up = stream_catch_up()
    page = model.read(catch_up.next_read())
    fresh = catch_up.on_page(page, 1.0)
    for event in fresh[:7]:  # the callback got 0..6, then the connection broke
        catch_up.delivered(event)

    delays = [catch_up.on_failure() for _ in range(8)]

    assert delays == [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]
    read = catch_up.next_read()
    assert read == Read(start=7, delay=2.0)
    assert [e.number for e in drain(catch_up, model)] == list(range(7, 45))
    assert catch_up.on_failure() == 0.05  # a success resets the back-off


def test_events_already_handed_over_are_never_handed_over_again():
    catch_up = stream_catch_up(last_delivered=4)
    catch_up.next_read()
    events = [Ev("s", n) for n in (3, 4, 5, 5, 2, 6)]
    assert [e.number for e in catch_up.on_page(FetchedPage(events, 7))] == [5, 6]


def test_resolved_links_are_ordered_by_their_number_in_the_stream_read():
    # a category stream: link numbers 0..3, targets in other streams with their own numbers
    links = [Ev("$ce-order", n, target_number=t) for n, t in enumerate([0, 0, 1, 0])]
    catch_up = stream_catch_up()
    catch_up.next_read()
    fresh = catch_up.on_page(FetchedPage(links, None))
    assert fresh == links


def test_empty_pages_below_a_truncation_are_followed_not_polled():
    model = StreamModel("long", 70)
    model.floor = 50
    catch_up = stream_catch_up()
    reads: list[Read] = []
    delivered = drain(catch_up, model, reads)
    assert [e.number for e in delivered] == list(range(50, 70))
    assert all(r.delay == 0 for r in reads)
    assert [r.start for r in reads] == [0, 20, 40, 60, 70]


def test_a_missing_stream_is_polled_until_it_appears():
    catch_up = stream_catch_up()
    assert catch_up.next_read() == Read(start=0)
    catch_up.on_missing_stream(elapsed=0.001)  # 404 at once: no long poll was asked for
    assert catch_up.is_live
    assert catch_up.next_read() == Read(start=0, long_poll=True)
    catch_up.on_missing_stream(elapsed=10.0)  # parked the whole long poll, then 404
    assert catch_up.next_read() == Read(start=0, long_poll=True)
    catch_up.on_missing_stream(elapsed=0.001)  # a server that does not park a 404
    assert catch_up.next_read() == Read(start=0, long_poll=True, delay=0.05)


def test_an_empty_answer_that_did_not_wait_is_repeated_after_a_growing_delay():
    model = StreamModel("long", 5)
    catch_up = stream_catch_up()
    drain(catch_up, model)
    delays = []
    for _ in range(4):
        read = catch_up.next_read()
        catch_up.on_page(model.read(read), elapsed=0.001)
        delays.append(catch_up.next_read().delay)
    assert delays == [0.05, 0.1, 0.2, 0.4]
    catch_up.on_page(model.read(catch_up.next_read()), elapsed=30.0)
    assert catch_up.next_read().delay == 0.0


def test_a_linked_page_with_no_previous_link_continues_from_the_checkpoint():
    catch_up = stream_catch_up()
    catch_up.next_read()
    for event in catch_up.on_page(FetchedPage([Ev("s", 0), Ev("s", 1)], None)):
        catch_up.delivered(event)
    assert catch_up.next_read() == Read(start=2)


# ---- $all -----------------------------------------------------------------------

def all_catch_up(checkpoint: AllCheckpoint = AllCheckpoint(START_OF_ALL), at_head=False) -> CatchUp:
    return CatchUp(AllCursor(checkpoint), start_at_head=at_head, backoff=STEADY)


@pytest.mark.parametrize("real_server_links", [False, True])
def test_all_from_the_start_hands_over_every_record_once(real_server_links):
    model = AllModel(page_size=20, real_server_links=real_server_links)
    for i in range(13):
        model.append(f"s-{i % 4}", 4)
    catch_up = all_catch_up()
    reads: list[Read] = []
    delivered = drain(catch_up, model, reads)
    assert delivered == [e for _, e in model.records]
    assert reads[0] == Read(start=START_OF_ALL)
    assert len(reads) == 4 and all(r.delay == 0 for r in reads)
    assert catch_up.is_live


def test_all_checkpoint_counts_records_handed_over_since_the_page_position():
    model = AllModel(page_size=20)
    model.append("a", 30)
    catch_up = all_catch_up()
    page = model.read(catch_up.next_read())
    fresh = catch_up.on_page(page, 1.0)
    for event in fresh[:5]:
        catch_up.delivered(event)
    assert catch_up.checkpoint == AllCheckpoint(START_OF_ALL, 5)
    for event in fresh[5:]:
        catch_up.delivered(event)
    second = catch_up.next_read()
    events = catch_up.on_page(model.read(second), 1.0)
    catch_up.delivered(events[0])
    assert catch_up.checkpoint == AllCheckpoint(second.start, 1)


def test_all_resumes_mid_page_from_a_stored_checkpoint_exactly():
    model = AllModel(page_size=20)
    model.append("a", 50)
    first = all_catch_up()
    page = model.read(first.next_read())
    for event in first.on_page(page, 1.0)[:13]:
        first.delivered(event)

    resumed = all_catch_up(first.checkpoint)
    delivered = drain(resumed, model)

    assert delivered == [e for _, e in model.records][13:]


def test_all_failure_re_reads_the_page_and_skips_what_was_handed_over():
    model = AllModel(page_size=20, real_server_links=True)
    model.append("a", 50)
    catch_up = all_catch_up()
    delivered = []
    for handed_over in (20, 7):  # the whole first page, then 7 of the second
        page = model.read(catch_up.next_read())
        for event in catch_up.on_page(page, 1.0)[:handed_over]:
            delivered.append(event)
            catch_up.delivered(event)
    catch_up.on_failure()
    delivered += drain(catch_up, model)
    assert delivered == [e for _, e in model.records]


def test_all_from_the_head():
    model = AllModel()
    model.append("a", 10)
    catch_up = all_catch_up(at_head=True)
    assert drain(catch_up, model) == []
    model.append("b", 2)
    assert drain(catch_up, model) == [Ev("b", 0), Ev("b", 1)]


def test_gives_up_after_max_retries_failures_in_a_row():
    catch_up = stream_catch_up(backoff=Backoff(max_retries=2, jitter=False))
    catch_up.next_read()
    assert catch_up.on_failure() is not None and catch_up.on_failure() is not None
    assert catch_up.on_failure() is None


def test_the_default_backoff_is_jittered_and_never_gives_up():
    catch_up = CatchUp(StreamCursor(-1, lambda e: e.number))
    delays = [catch_up.on_failure() for _ in range(200)]
    assert all(d is not None and 0 <= d <= 2.0 for d in delays)
    assert len(set(delays)) > 100  # drawn, so that many subscriptions do not retry in step


# ---- property: any mix of page sizes, appends, failures and restarts ------------

actions = st.lists(
    st.one_of(
        st.tuples(st.just("read"), st.integers(0, 0)),
        st.tuples(st.just("append"), st.integers(1, 30)),
        st.tuples(st.just("fail"), st.integers(0, 0)),
        st.tuples(st.just("restart"), st.integers(0, 0)),
        st.tuples(st.just("deliver_some"), st.integers(0, 25)),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(page_size=st.integers(1, 25), initial=st.integers(0, 60), script=actions,
       on_all=st.booleans())
def test_every_event_exactly_once_in_order_whatever_happens(page_size, initial, script, on_all):
    if on_all:
        model = AllModel(page_size=page_size, real_server_links=True)
        model.append("x", initial)
        make = lambda checkpoint=AllCheckpoint(START_OF_ALL): all_catch_up(checkpoint)
        everything = lambda: [e for _, e in model.records]
        grow = lambda n: model.append("x", n)
    else:
        model = StreamModel("s", initial, page_size)
        make = lambda checkpoint=-1: stream_catch_up(checkpoint)
        everything = lambda: list(model.events)
        grow = model.append

    catch_up = make()
    delivered: list = []
    undelivered: list = []  # fetched, not yet handed over (the callback runs one by one)

    def deliver(n):
        for event in undelivered[:n]:
            delivered.append(event)
            catch_up.delivered(event)
        del undelivered[:n]

    for action, arg in script:
        if action == "append":
            grow(arg)
        elif action == "read":
            deliver(len(undelivered))
            read = catch_up.next_read()
            undelivered.extend(catch_up.on_page(model.read(read), 1.0))
        elif action == "deliver_some":
            deliver(arg)
        elif action == "fail":
            # the connection broke: fetched-but-undelivered events are lost with it
            undelivered.clear()
            catch_up.on_failure()
        elif action == "restart":
            # the process restarts from the stored checkpoint
            undelivered.clear()
            catch_up = make(catch_up.checkpoint)

    deliver(len(undelivered))
    delivered.extend(drain(catch_up, model))
    assert delivered == everything()
