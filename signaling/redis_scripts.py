"""The Lua scripts of the Redis bus: each changes the presence or occupancy hashes atomically.

:mod:`signaling.redis_bus` passes the keys (per channel and per node hashes) and arguments.
"""

JOIN = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
local n = redis.call('HGET', KEYS[2], ARGV[2])
if not n and redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[4]) then return -1 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[4], ARGV[5], ARGV[1])
if redis.call('HINCRBY', KEYS[2], ARGV[2], 1) == 1 then
  redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
  return 1
end
return 0
"""

LEAVE = """
local u = redis.call('HGET', KEYS[1], ARGV[1])
if not u then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[2])
if redis.call('HINCRBY', KEYS[2], u, -1) <= 0 then
  redis.call('HDEL', KEYS[2], u)
  redis.call('HDEL', KEYS[3], u)
  return u
end
return false
"""

OCCUPANCY = """
local c = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
if c <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) c = 0 end
local mine = redis.call('HINCRBY', KEYS[2], ARGV[1], ARGV[2])
if mine <= 0 then redis.call('HDEL', KEYS[2], ARGV[1]) end
return c
"""

RESET_OCCUPANCY = """
-- Make this node's share of the occupancy counts what ARGV says (channel, count, ...);
-- return the channels whose cluster-wide count fell to zero.
local want = {}
for i = 1, #ARGV, 2 do want[ARGV[i]] = tonumber(ARGV[i + 1]) end
local vacated = {}
local mine = redis.call('HGETALL', KEYS[2])
for i = 1, #mine, 2 do
  local ch, have = mine[i], tonumber(mine[i + 1])
  local w = want[ch] or 0
  want[ch] = nil
  if w ~= have then
    local c = redis.call('HINCRBY', KEYS[1], ch, w - have)
    if c <= 0 then
      redis.call('HDEL', KEYS[1], ch)
      table.insert(vacated, ch)
    end
  end
  if w > 0 then redis.call('HSET', KEYS[2], ch, w) else redis.call('HDEL', KEYS[2], ch) end
end
for ch, w in pairs(want) do
  if w > 0 then
    redis.call('HINCRBY', KEYS[1], ch, w)
    redis.call('HSET', KEYS[2], ch, w)
  end
end
return vacated
"""
