"""Lua scripts behind room leases: each check-and-write runs atomically inside Redis.

A lease is one key per session whose value is ``"<fence> <owner url>"``. The fence is Redis's
own clock in microseconds at the claim, so a later claim always carries a larger fence, even
across a restart of Redis that lost every key (the clock keeps moving; a counter would not).

Why a grace period: a Redis without persistence comes back empty after a restart, so it can no
longer tell that a room had an owner. The first script to run against an empty Redis (no epoch
marker) opens a grace period of one lease TTL. During it nobody may claim a free room, but an
owner may re-assert the exact lease it held (compare-and-set on the full value). An owner that
cannot renew stops serving its rooms before its lease would have expired (see lease.py), so by
the time the grace period ends every room either has its old owner back or has no owner that
still serves it: a room is never split between two nodes.
"""

from __future__ import annotations

_GRACE = """
local function grace_left(epoch_key, grace_key, ttl_ms)
  if redis.call('EXISTS', epoch_key) == 0 then
    redis.call('SET', epoch_key, '1')
    redis.call('SET', grace_key, '1', 'PX', ttl_ms)
  end
  local left = redis.call('PTTL', grace_key)
  if left < 0 then return 0 end
  return left
end
"""

CLAIM = (
    _GRACE
    + """
-- KEYS: lease, epoch marker, grace; ARGV: candidate owner url, ttl ms.
-- Returns {0, value} claimed, {1, value} already owned, {2, ms} wait (grace period).
local ttl = tonumber(ARGV[2])
local wait = grace_left(KEYS[2], KEYS[3], ttl)
local current = redis.call('GET', KEYS[1])
if current then return {1, current} end
if wait > 0 then return {2, tostring(wait)} end
local now = redis.call('TIME')
local fence = now[1] .. string.format('%06d', tonumber(now[2]))
local value = fence .. ' ' .. ARGV[1]
redis.call('SET', KEYS[1], value, 'PX', ttl)
return {0, value}
"""
)

RENEW = (
    _GRACE
    + """
-- KEYS: lease, epoch marker, grace; ARGV: the owner's full lease value, ttl ms.
-- Returns 1 renewed, 2 re-asserted (the key was gone: Redis restarted), 0 lost.
local ttl = tonumber(ARGV[2])
grace_left(KEYS[2], KEYS[3], ttl)
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ttl)
  return 1
end
if not current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
  return 2
end
return 0
"""
)

RELEASE = """
-- KEYS: lease; ARGV: the owner's full lease value. Deletes it only if it is still ours.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

OPEN = (
    _GRACE
    + """
-- KEYS: epoch marker, grace; ARGV: ttl ms. Opens a restarted Redis's grace period (if it is
-- one) even while no room is held; returns the grace period's remaining milliseconds.
return grace_left(KEYS[1], KEYS[2], tonumber(ARGV[1]))
"""
)
