"""The governor's Redis scripts. Each runs atomically, so many workers share one budget
without a lock; times are the caller's clock (epoch seconds) passed in, never Redis's, so
tests can freeze them. Key TTLs only collect garbage: decisions compare the stored times.

A budget is a token bucket that GitHub refills all at once: `remaining` tokens until `reset`,
then `limit` again. That is how GitHub's primary limit works (a fixed hourly window reported
in `x-ratelimit-*`), so a continuously refilling bucket would promise calls GitHub refuses.

Writes are also paced against GitHub's content-creation limits (N a minute, M an hour, and a
minimum gap) with a sliding log: a sorted set of the start times of the last hour's writes.
GitHub does not say how it aligns those windows; fixed windows would let 2N writes through
in a few seconds around a boundary, which a sliding count at GitHub refuses, while a sliding
log never lets more than N start in any 60 seconds, whichever way GitHub counts. The log
holds at most M entries per installation. A cap of 0 is no cap.
"""

from __future__ import annotations

__all__ = ["ACQUIRE", "CHARGE", "HOLD", "NEXT_WRITE", "OBSERVE", "PAUSE"]

# write_wait(key, now, per minute, per hour, min gap) -> seconds from `now` until the next
# write's turn (<= 0: now) and which limit sets it ('gap', 'minute' or 'hour'). Reads only.
# The log may hold turns already given out for later (start times after `now`): the next turn
# comes after all of them. An entry at time t counts in the window of `span` seconds before
# a turn at T while t > T - span; pushing T later only lets entries leave, so a few passes
# over the windows settle it.
_WRITE_WAIT = """
local function write_wait(key, now, per_minute, per_hour, gap)
  local turn, limit = now, ''
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] and tonumber(last[2]) + gap > turn then
    turn, limit = tonumber(last[2]) + gap, 'gap'
  end
  local function window(span, cap, name)
    if cap <= 0 then return false end  -- 0: no such limit
    local floor = string.format('(%.6f', turn - span)
    local n = redis.call('ZCOUNT', key, floor, '+inf')
    if n >= cap then
      -- Enough writes must leave the window that one more fits: the oldest n - cap + 1.
      local e = redis.call('ZRANGEBYSCORE', key, floor, '+inf', 'WITHSCORES', 'LIMIT', n - cap, 1)
      turn, limit = tonumber(e[2]) + span, name
      return true
    end
    return false
  end
  for _ = 1, 4 do
    local moved = window(60, per_minute, 'minute')
    moved = window(3600, per_hour, 'hour') or moved
    if not moved then break end
  end
  return turn - now, limit
end
"""

# KEYS: pause hash, bucket hash, leases sorted set (score = lease expiry), writes sorted set
#       (score = start time)
# ARGV: now, cost, default limit, window seconds, reserve, max concurrent, lease id,
#       lease expiry, gc ttl ms, is write (0/1), writes per minute, writes per hour,
#       min seconds between writes, writes gc ttl ms, turn held (0/1), longest wait for a turn
# Returns {status, seconds to wait, detail}; numbers as strings (Lua numbers returned to
# Redis are truncated to integers). Nothing is spent unless the call may go, except a
# write's turn: a write that must wait for its turn, at most the longest wait, is given the
# next one ('turn'), entered in the log at its start time, so that writers waiting together
# go first come, first served instead of racing for each turn. The caller comes back then
# with "turn held" and only the other checks apply. A turn its caller does not use (it died,
# or a pause came first) stays in the log: a write that never happened only slows the pace.
ACQUIRE = (
    _WRITE_WAIT
    + """
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
local write = ARGV[10] == '1' and ARGV[15] ~= '1'
if write then
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - 3600)
  local wait, held_by = write_wait(KEYS[4], now, tonumber(ARGV[11]), tonumber(ARGV[12]),
    tonumber(ARGV[13]))
  if wait > 0 then
    if wait <= tonumber(ARGV[16]) then
      redis.call('ZADD', KEYS[4], string.format('%.6f', now + wait), ARGV[7])
      redis.call('PEXPIRE', KEYS[4], ARGV[14])
      return {'turn', tostring(wait), held_by}
    end
    return {'pacing', tostring(wait), held_by}
  end
end
redis.call('HSET', KEYS[2], 'limit', limit, 'remaining', remaining - cost, 'reset', reset,
  'source', source)
redis.call('PEXPIRE', KEYS[2], ARGV[9])
redis.call('ZADD', KEYS[3], ARGV[8], ARGV[7])
redis.call('PEXPIRE', KEYS[3], ARGV[9])
if write then
  redis.call('ZADD', KEYS[4], ARGV[1], ARGV[7])
  redis.call('PEXPIRE', KEYS[4], ARGV[14])
end
return {'ok', '0', ''}
"""
)

# KEYS: pause hash, core bucket hash, writes sorted set.
# ARGV: now, reserve, writes per minute, writes per hour, min seconds between writes
# Returns {seconds until a write could start (<= 0: now), what holds it}; reads only.
# In-flight calls are left out: a concurrency slot frees up in seconds, not minutes.
NEXT_WRITE = (
    _WRITE_WAIT
    + """
local now = tonumber(ARGV[1])
local wait, held_by = write_wait(KEYS[3], now, tonumber(ARGV[3]), tonumber(ARGV[4]),
  tonumber(ARGV[5]))
local paused_until = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if paused_until - now > wait then
  wait, held_by = paused_until - now, 'paused'
end
local b = redis.call('HMGET', KEYS[2], 'limit', 'remaining', 'reset')
local limit, remaining, reset = tonumber(b[1]), tonumber(b[2]), tonumber(b[3]) or 0
if remaining ~= nil and reset > now then
  local floor = math.max(0, math.min(tonumber(ARGV[2]), limit - 1))
  if remaining - 1 < floor and reset - now > wait then
    wait, held_by = reset - now, 'exhausted'
  end
end
return {tostring(wait), held_by}
"""
)

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

# A counting semaphore of expiring holds: the mutations in flight for one installation.
# KEYS: holds sorted set (score = hold expiry)
# ARGV: now, max holds, hold id, hold expiry, gc ttl ms
# Returns {status, seconds until the oldest hold expires}: 'ok' (held) or 'full'.
HOLD = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {'full', tostring(tonumber(first[2]) - now)}
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {'ok', '0'}
"""
