"""The Lua scripts behind :mod:`service.throttle`: each check or update is one atomic step
in Redis, shared by every instance. Every key a script touches is declared in KEYS."""

from __future__ import annotations

# KEYS: account counter, address failures, device counter, the account's devices, the
# address's attempts in flight (a sorted set by start time).
# ARGV: account limit, address limit, window, device id or '', device limit, now,
# device ttl, 1 when the address is exempt, attempt id, seconds an attempt may be in flight.
# -> {seconds to wait (0 = allowed), 1 when the device is trusted, 1 when the address is
# busy: retry shortly}; an allowed attempt is counted at once on the device (trusted), or
# on the account and put in flight on the address (untrusted).
CHECK_SCRIPT = """
local trusted = false
if ARGV[4] ~= '' then
  local seen = redis.call('ZSCORE', KEYS[4], ARGV[4])
  trusted = seen ~= false and tonumber(seen) > tonumber(ARGV[6]) - tonumber(ARGV[7])
end
local counted = trusted and {KEYS[3], ARGV[5]} or {KEYS[1], ARGV[1]}
local checks = {counted}
local by_address = not trusted and ARGV[8] ~= '1'
if by_address then checks[2] = {KEYS[2], ARGV[2]} end
local wait = 0
for _, check in ipairs(checks) do
  local count = tonumber(redis.call('GET', check[1]) or '0')
  if count >= tonumber(check[2]) then
    -- Rounded up, so Retry-After never sends a client back too early.
    local ttl = math.ceil(redis.call('PTTL', check[1]) / 1000)
    if ttl < 1 then ttl = 1 end
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return {wait, trusted and 1 or 0, 0} end
if by_address then
  -- An attempt whose instance died never ends: it stops counting after a while.
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', tonumber(ARGV[6]) - tonumber(ARGV[10]))
  local failures = tonumber(redis.call('GET', KEYS[2]) or '0')
  if failures + redis.call('ZCARD', KEYS[5]) >= tonumber(ARGV[2]) then
    return {0, 0, 1}
  end
  redis.call('ZADD', KEYS[5], ARGV[6], ARGV[9])
  redis.call('EXPIRE', KEYS[5], ARGV[10])
end
if redis.call('INCR', counted[1]) == 1 then redis.call('EXPIRE', counted[1], ARGV[3]) end
return {0, trusted and 1 or 0, 0}
"""

# KEYS: the address's attempts in flight, address failures. ARGV: attempt id, window.
FAILED_SCRIPT = """
redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('INCR', KEYS[2]) == 1 then redis.call('EXPIRE', KEYS[2], ARGV[2]) end
return 1
"""

# KEYS: counter to clear, the account's devices, the address's attempts in flight.
# ARGV: device id, now, device ttl, max, attempt id ('' when not in flight).
SUCCESS_SCRIPT = """
redis.call('DEL', KEYS[1])
if ARGV[5] ~= '' then redis.call('ZREM', KEYS[3], ARGV[5]) end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[2]) - tonumber(ARGV[3]))
local extra = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if extra > 0 then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, extra - 1) end
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
"""

# -> how many devices the account had; it has none afterwards.
REVOKE_ALL_SCRIPT = """
local count = redis.call('ZCARD', KEYS[1])
redis.call('DEL', KEYS[1])
return count
"""

# -> 0 when allowed (and counted), else seconds to wait.
SIGNUP_SCRIPT = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= tonumber(ARGV[1]) then
  local ttl = math.ceil(redis.call('PTTL', KEYS[1]) / 1000)
  if ttl < 1 then ttl = 1 end
  return ttl
end
if redis.call('INCR', KEYS[1]) == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
