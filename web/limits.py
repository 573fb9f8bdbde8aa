"""Rate limits: token buckets keyed by limit name and subject (an address, an e-mail).

Each limit has an average rate and a burst: a bucket holds up to ``burst`` tokens, refills at
``rate`` tokens per second, and every request takes one. A request finding less than one token
is refused with the seconds until one is there (the Retry-After).

Two implementations share the :class:`Limiter` protocol: :class:`LocalLimiter` keeps buckets in
this process (one node), :class:`RedisLimiter` keeps them in Redis, updated by one Lua script,
so every node of a cluster draws on the same bucket. The Redis one fails open: when Redis does
not answer, the request is allowed and a warning logged, because refusing every sign-in and
booking during a Redis outage would be worse than a few minutes without limits.

Handlers call :func:`web.api.limits.enforce` (raises a 429); the composition root builds the
limiter and stores it under ``keys.LIMITER``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import structlog
from redis.asyncio import Redis

from config.settings import LimitSettings

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Rate:
    """``per_second`` tokens added per second, at most ``burst`` held. Zero in either: off."""

    per_second: float
    burst: int

    @property
    def enabled(self) -> bool:
        return self.per_second > 0 and self.burst > 0


LIMIT_NAMES = ("signin_address", "signin_email", "writes", "quality")


def rates_from(settings: LimitSettings) -> dict[str, Rate]:
    """The configured rate of every limit in :data:`LIMIT_NAMES`."""
    return {
        name: Rate(
            getattr(settings, f"{name}_per_minute") / 60.0, getattr(settings, f"{name}_burst")
        )
        for name in LIMIT_NAMES
    }


class Limiter(Protocol):
    async def hit(self, limit: str, subject: str, rate: Rate) -> float:
        """Take one token from the bucket of ``limit`` and ``subject``: 0.0 when allowed,
        else the seconds until a request would be allowed (nothing is taken then)."""
        ...

    async def close(self) -> None: ...


class LocalLimiter:
    """Buckets in this process. At most ``max_buckets`` are kept (least recently used go
    first), so a flood of distinct subjects cannot grow memory without bound."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_buckets: int = 100_000
    ) -> None:
        self._clock = clock
        self._max = max_buckets
        self._buckets: OrderedDict[tuple[str, str], tuple[float, float]] = OrderedDict()

    async def hit(self, limit: str, subject: str, rate: Rate) -> float:
        now = self._clock()
        key = (limit, subject)
        tokens, last = self._buckets.pop(key, (float(rate.burst), now))
        tokens = min(float(rate.burst), tokens + max(0.0, now - last) * rate.per_second)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / rate.per_second
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return wait

    async def close(self) -> None:
        self._buckets.clear()


# KEYS[1]: the bucket; ARGV: tokens per second, burst. Redis's own clock, so nodes with
# skewed clocks agree. Returns the wait as a string (Lua numbers would be cut to integers).
_BUCKET_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisLimiter:
    """Buckets in Redis under ``panamia:limit:<limit>:<subject>``, shared by every node."""

    def __init__(self, redis_url: str, timeout_s: float = 1.0) -> None:
        self._redis: Redis = Redis.from_url(
            redis_url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        self._script = self._redis.register_script(_BUCKET_SCRIPT)

    async def hit(self, limit: str, subject: str, rate: Rate) -> float:
        key = f"panamia:limit:{limit}:{subject}"
        try:
            answer = await self._script(keys=[key], args=[repr(rate.per_second), rate.burst])
        except Exception as exc:  # fail open: see the module docstring
            log.warning("limits.redis_unavailable", limit=limit, error=type(exc).__name__)
            return 0.0
        text = answer.decode() if isinstance(answer, bytes) else str(answer)
        return float(text)

    async def close(self) -> None:
        await self._redis.aclose()
