"""Backoff with jitter, and which failures may be retried (pure, no server)."""
import asyncio

import pytest

from clientapi import errors
from clientapi.retry import Backoff, as_backoff, may_retry, retrying


def test_delays_grow_exponentially_up_to_the_cap():
    backoff = Backoff(max_retries=6, first_delay=0.1, max_delay=1.0, jitter=False)
    assert [backoff.delay(n) for n in range(1, 7)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])


def test_full_jitter_draws_between_zero_and_the_cap():
    backoff = Backoff(first_delay=0.1, max_delay=5.0)
    assert backoff.delay(3, draw=lambda: 0.0) == 0.0
    assert backoff.delay(3, draw=lambda: 0.5) == pytest.approx(0.2)
    assert all(0 <= backoff.delay(4) <= 0.8 for _ in range(200))
    assert len({backoff.delay(4) for _ in range(50)}) > 1  # really random


def test_huge_retry_numbers_do_not_overflow():
    assert Backoff(max_delay=3.0, jitter=False).delay(10_000) == 3.0


@pytest.mark.parametrize("value, retries", [(None, 0), (0, 0), (4, 4), (Backoff(max_retries=2), 2)])
def test_retries_option(value, retries):
    assert as_backoff(value).max_retries == retries
    assert as_backoff(value).enabled == (retries > 0)


@pytest.mark.parametrize("value, error", [(-1, ValueError), ("3", TypeError), (True, TypeError),
                                          (1.5, TypeError)])
def test_bad_retries_option(value, error):
    with pytest.raises(error):
        as_backoff(value)


@pytest.mark.parametrize("kwargs", [dict(first_delay=-1), dict(multiplier=0.5), dict(max_retries=-2)])
def test_bad_backoff(kwargs):
    with pytest.raises(ValueError):
        Backoff(**kwargs)


def test_what_may_be_retried():
    wev = errors.WrongExpectedVersion("conflict", status=400, current_version=3)
    assert not may_retry(wev, retryable=True)
    assert not may_retry(errors.AccessDenied("no", status=401), retryable=True)
    assert not may_retry(errors.BadRequest("bad", status=400), retryable=True)
    # Nothing reached a server: always safe.
    assert may_retry(errors.ConnectionFailure("refused"), retryable=False)
    # The server may have acted: only idempotent requests.
    for error in (errors.Timeout("slow"), errors.ProtocolError("cut"), errors.ServerError("x", status=503)):
        assert may_retry(error, retryable=True)
        assert not may_retry(error, retryable=False)


def run(coroutine):
    return asyncio.run(coroutine)


class Attempts:
    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls = 0

    async def __call__(self):
        self.calls += 1
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


async def no_sleep(seconds):
    no_sleep.slept.append(seconds)


def test_retrying_until_success_with_growing_pauses():
    no_sleep.slept = []
    attempt = Attempts(errors.ConnectionFailure("a"), errors.Timeout("b"), "done")
    failures = []
    result = run(retrying(attempt, Backoff(max_retries=3, jitter=False), retryable=True,
                          on_failure=failures.append, sleep=no_sleep))
    assert result == "done" and attempt.calls == 3
    assert no_sleep.slept == pytest.approx([0.1, 0.2])
    assert [type(error) for error in failures] == [errors.ConnectionFailure, errors.Timeout]


def test_retrying_gives_up_with_the_last_error():
    no_sleep.slept = []
    attempt = Attempts(errors.Timeout("1"), errors.Timeout("2"), errors.Timeout("3"))
    with pytest.raises(errors.Timeout, match="3"):
        run(retrying(attempt, Backoff(max_retries=2), retryable=True, sleep=no_sleep))
    assert attempt.calls == 3


def test_wrong_expected_version_is_never_retried():
    attempt = Attempts(errors.WrongExpectedVersion("conflict", status=400), "never")
    with pytest.raises(errors.WrongExpectedVersion):
        run(retrying(attempt, Backoff(max_retries=5), retryable=True, sleep=no_sleep))
    assert attempt.calls == 1


def test_timeout_of_a_non_idempotent_request_is_not_retried():
    attempt = Attempts(errors.Timeout("slow"), "never")
    with pytest.raises(errors.Timeout):
        run(retrying(attempt, Backoff(max_retries=5), retryable=False, sleep=no_sleep))
    assert attempt.calls == 1


def test_off_means_one_attempt():
    attempt = Attempts(errors.ConnectionFailure("refused"), "never")
    with pytest.raises(errors.ConnectionFailure):
        run(retrying(attempt, Backoff.off(), retryable=True, sleep=no_sleep))
    assert attempt.calls == 1
