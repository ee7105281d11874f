"""Token buckets on a controlled time source."""

from __future__ import annotations

import pytest

from scheduler.rate_limit import TelegramRateLimiter, TokenBucket


class Seconds:
    """A time source the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_of_one_token_spaces_messages_evenly() -> None:
    bucket = TokenBucket(rate=1 / 3, now=0.0)
    bucket.take(0.0)
    assert bucket.delay(0.0) == pytest.approx(3.0)
    assert bucket.delay(2.0) == pytest.approx(1.0)
    with pytest.raises(RuntimeError):
        bucket.take(2.999)
    bucket.take(3.0)
    assert bucket.delay(3.0) == pytest.approx(3.0)


def test_a_pause_holds_the_next_token_until_its_end_but_never_shortens_a_wait() -> None:
    bucket = TokenBucket(rate=1.0, now=0.0)
    bucket.pause_until(2.5, now=0.0)
    assert bucket.delay(0.0) == pytest.approx(2.5)
    assert bucket.delay(2.5) == 0.0
    bucket.take(2.5)
    bucket.pause_until(2.7, now=2.5)
    assert bucket.delay(2.5) == pytest.approx(1.0)


def test_the_limiter_keeps_groups_private_chats_and_the_total_apart() -> None:
    time = Seconds()
    limiter = TelegramRateLimiter(time, overall_per_second=30, group_per_minute=20, private_per_second=1)
    limiter.acquire(-100)
    assert limiter.chat_delay(-100) == pytest.approx(3.0)
    assert limiter.chat_delay(7) == 0.0
    assert limiter.overall_delay() == pytest.approx(1 / 30)
    with pytest.raises(RuntimeError):
        limiter.acquire(7)
    time.now = 1 / 30
    limiter.acquire(7)
    assert limiter.chat_delay(7) == pytest.approx(1.0)
    limiter.pause(8, 2.0)
    assert limiter.chat_delay(8) == pytest.approx(2.0)
    assert limiter.chat_delay(-100) == pytest.approx(3.0 - 1 / 30)
