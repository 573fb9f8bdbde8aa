"""The limiter's buckets: in this process, and in a real redis-server shared by two limiters."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
import structlog

from config.settings import LimitSettings
from tests.support.procs import free_port
from web.limits import LocalLimiter, Rate, RedisLimiter, rates_from


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_bucket_allows_its_burst_then_names_the_wait() -> None:
    clock = Clock()
    limiter = LocalLimiter(clock)
    rate = Rate(per_second=0.5, burst=3)
    assert [await limiter.hit("writes", "ana", rate) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert await limiter.hit("writes", "ana", rate) == pytest.approx(2.0)
    assert await limiter.hit("writes", "bea", rate) == 0.0  # another subject, another bucket
    clock.now += 2.0
    assert await limiter.hit("writes", "ana", rate) == 0.0
    assert await limiter.hit("writes", "ana", rate) > 0


async def test_the_local_limiter_keeps_a_bounded_number_of_buckets() -> None:
    limiter = LocalLimiter(Clock(), max_buckets=2)
    rate = Rate(per_second=0.001, burst=1)
    for subject in ("a", "b", "c"):
        assert await limiter.hit("signin_address", subject, rate) == 0.0
    assert await limiter.hit("signin_address", "a", rate) == 0.0  # forgotten, full again


def test_zero_disables_a_limit() -> None:
    rates = rates_from(LimitSettings(writes_per_minute=0, signin_email_burst=0))
    assert not rates["writes"].enabled
    assert not rates["signin_email"].enabled
    assert rates["signin_address"].enabled


@pytest.mark.redis
async def test_two_redis_limiters_share_one_bucket(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    await client.delete("panamia:limit:writes:ana@example.org")
    await client.aclose()
    first, second = RedisLimiter(redis_url), RedisLimiter(redis_url)
    rate = Rate(per_second=1 / 60, burst=2)
    try:
        assert await first.hit("writes", "ana@example.org", rate) == 0.0
        assert await second.hit("writes", "ana@example.org", rate) == 0.0
        wait = await first.hit("writes", "ana@example.org", rate)
        assert 0 < wait <= 60
        assert await second.hit("writes", "ana@example.org", rate) > 0
    finally:
        await first.close()
        await second.close()


async def test_the_redis_limiter_fails_open_when_redis_does_not_answer() -> None:
    limiter = RedisLimiter(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.5)
    rate = Rate(per_second=0.001, burst=1)
    try:
        with structlog.testing.capture_logs() as events:
            assert await limiter.hit("writes", "ana", rate) == 0.0
            assert await limiter.hit("writes", "ana", rate) == 0.0
    finally:
        await limiter.close()
    warnings = [e for e in events if e["event"] == "limits.redis_unavailable"]
    assert warnings and warnings[0]["log_level"] == "warning"
