"""The governor's Redis scripts. Each runs atomically, so many workers share one budget
without a lock; times are the caller's clock (epoch seconds) passed in, never Redis's, so
tests can freeze them. Key TTLs only collect garbage: decisions compare the stored times.

A budget is a token bucket that GitHub refills all at once: `remaining` tokens until `reset`,
then `limit` again. That is how GitHub's primary limit works (a fixed hourly window reported
in `x-ratelimit-*`), so a continuously refilling bucket would promise calls GitHub refuses.
"""

from __future__ import annotations

__all__ = ["ACQUIRE", "CHARGE", "OBSERVE", "PAUSE"]

# KEYS: pause hash, bucket hash, leases sorted set (score = lease expiry)
# ARGV: now, cost, default limit, window seconds, reserve, max concurrent, lease id,
#       lease expiry, gc ttl ms
# Returns {status, seconds to wait, detail}; numbers as strings (Lua numbers returned to
# Redis are truncated to integers).
ACQUIRE = """
local now = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local paused_until = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if paused_until > now then
  return {'paused', tostring(paused_until - now), redis.call('HGET', KEYS[1], 'reason') or ''}
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[6]) then
  local first = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  return {'concurrency', tostring(tonumber(first[2]) - now), ''}
end
local b = redis.call('HMGET', KEYS[2], 'limit', 'remaining', 'reset', 'source')
local limit = tonumber(b[1]) or tonumber(ARGV[3])
local remaining = tonumber(b[2])
local reset = tonumber(b[3]) or 0
local source = b[4] or 'local'
if remaining == nil or reset <= now then
  remaining = limit
  reset = now + tonumber(ARGV[4])
  source = 'local'
end
local floor = math.max(0, math.min(tonumber(ARGV[5]), limit - cost))
if remaining - cost < floor then
  return {'exhausted', tostring(reset - now), source}
end
redis.call('HSET', KEYS[2], 'limit', limit, 'remaining', remaining - cost, 'reset', reset,
  'source', source)
redis.call('PEXPIRE', KEYS[2], ARGV[9])
redis.call('ZADD', KEYS[3], ARGV[8], ARGV[7])
redis.call('PEXPIRE', KEYS[3], ARGV[9])
return {'ok', '0', ''}
"""

# KEYS: bucket hash.  ARGV: limit, remaining, reset, gc ttl ms
# GitHub's numbers replace ours, except a late response from an older window (its reset is
# earlier than the one GitHub already reported) which would bring back spent tokens.
OBSERVE = """
local b = redis.call('HMGET', KEYS[1], 'reset', 'source')
local reset = tonumber(ARGV[3])
if b[2] == 'github' and tonumber(b[1]) and reset < tonumber(b[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'limit', ARGV[1], 'remaining', ARGV[2], 'reset', ARGV[3],
  'source', 'github')
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""

# KEYS: bucket hash.  ARGV: now, cost
CHARGE = """
local b = redis.call('HMGET', KEYS[1], 'remaining', 'reset')
local remaining = tonumber(b[1])
if remaining ~= nil and (tonumber(b[2]) or 0) > tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'remaining', math.max(0, remaining - tonumber(ARGV[2])))
  return 1
end
return 0
"""

# KEYS: pause hash.  ARGV: until, reason, gc ttl ms.  A pause only ever grows.
PAUSE = """
local current = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if tonumber(ARGV[1]) > current then
  redis.call('HSET', KEYS[1], 'until', ARGV[1], 'reason', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0
"""
