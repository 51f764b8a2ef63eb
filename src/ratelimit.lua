-- embedguard: one atomic rate-limit step on a key's two buckets (requests, tokens).
-- The same integer arithmetic as embedguard's src/budget.rs, step for step: levels are
-- in 1/60000ths of a request or token, so a refill of `limit` per minute is `limit` per
-- millisecond, and every number stays below 2^53 (Lua's numbers are doubles).
--
-- KEYS[1]  the key's bucket hash: fields r, t (levels), at (ms of the last refill)
-- ARGV[1]  'admit' | 'refund' | 'settle'
-- ARGV[2]  now, in ms since the Unix epoch (below 2^53); '' for the server's clock (TIME)
-- ARGV[3]  requests per minute (0: not limited)
-- ARGV[4]  tokens per minute (0: not limited)
-- ARGV[5]  the request's tokens (admit, refund), or the estimated tokens (settle)
-- ARGV[6]  the tokens the upstream reported (settle only)
-- Returns {outcome, requests level, tokens level, at}: outcome 0 admitted (or done),
-- 1 the request alone is larger than the tokens limit, 2 tokens, 3 requests.
-- An absent hash is two full buckets: the hash is deleted when a step leaves both full,
-- and otherwise expires a second (EXPIRY_SLACK_MS) after they are full again.

local SCALE = 60000
local MAX_LIMIT = 10000000000
-- expiring late is harmless (a full bucket stays full), early is not: a margin for
-- callers whose clock (ARGV[2]) runs behind the server's
local EXPIRY_SLACK_MS = 1000

-- a non-negative integer (NaN fails the floor test, infinity is refused by name)
local function int_arg(i)
  local v = tonumber(ARGV[i])
  if v == nil or v < 0 or v == math.huge or v ~= math.floor(v) then
    return nil
  end
  return v
end

-- floor(a / b) for integers below 2^53, b > 0: the division is corrected, never trusted
local function idiv(a, b)
  local q = math.floor(a / b)
  if q * b > a then
    q = q - 1
  elseif (q + 1) * b <= a then
    q = q + 1
  end
  return q
end

local function ceil_div(a, b)
  return idiv(a + b - 1, b)
end

local function clamp(lim, level)
  local cap = lim * SCALE
  if level > cap then
    return cap
  elseif level < -cap then
    return -cap
  end
  return level
end

local function refill(lim, level, elapsed)
  local cap = lim * SCALE
  level = clamp(lim, level)
  if elapsed >= ceil_div(cap - level, lim) then
    return cap
  end
  return level + elapsed * lim
end

local function give(lim, level, units)
  units = math.min(units, 2 * lim)
  return math.min(clamp(lim, level) + units * SCALE, lim * SCALE)
end

local function take(lim, level, units)
  units = math.min(units, 2 * lim)
  return math.max(clamp(lim, level) - units * SCALE, -lim * SCALE)
end

local function holds(lim, level, units)
  return units <= lim and clamp(lim, level) >= units * SCALE
end

local function until_full(lim, level)
  local deficit = lim * SCALE - clamp(lim, level)
  if deficit <= 0 then
    return 0
  end
  return ceil_div(deficit, lim)
end

local op = ARGV[1]
local now
if ARGV[2] == '' then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
else
  now = int_arg(2)
  -- above 2^53 ms (year 287,000) a double no longer counts milliseconds
  if now ~= nil and now >= 9007199254740992 then
    now = nil
  end
end
local rlim, tlim, n = int_arg(3), int_arg(4), int_arg(5)
local actual = 0
if op == 'settle' then
  actual = int_arg(6)
end
if now == nil or rlim == nil or tlim == nil or n == nil or actual == nil then
  return redis.error_reply('embedguard: bad arguments')
end
rlim = math.min(rlim, MAX_LIMIT)
tlim = math.min(tlim, MAX_LIMIT)

local key = KEYS[1]
local fields = redis.call('HMGET', key, 'r', 't', 'at')
local r = tonumber(fields[1]) or rlim * SCALE
local t = tonumber(fields[2]) or tlim * SCALE
local at = tonumber(fields[3]) or now

-- a clock that went back (another replica's) refills nothing and keeps the later time
local elapsed = 0
if now > at then
  elapsed = now - at
  at = now
end
if rlim > 0 then
  r = refill(rlim, r, elapsed)
end
if tlim > 0 then
  t = refill(tlim, t, elapsed)
end

local outcome = 0
if op == 'admit' then
  -- tokens answer first when both fail
  if tlim > 0 and n > tlim then
    outcome = 1
  elseif tlim > 0 and not holds(tlim, t, n) then
    outcome = 2
  elseif rlim > 0 and not holds(rlim, r, 1) then
    outcome = 3
  else
    if rlim > 0 then
      r = take(rlim, r, 1)
    end
    if tlim > 0 then
      t = take(tlim, t, n)
    end
  end
elseif op == 'refund' then
  if rlim > 0 then
    r = give(rlim, r, 1)
  end
  if tlim > 0 then
    t = give(tlim, t, n)
  end
elseif op == 'settle' then
  if tlim > 0 then
    if actual >= n then
      t = take(tlim, t, actual - n)
    else
      t = give(tlim, t, n - actual)
    end
  end
else
  return redis.error_reply('embedguard: unknown operation')
end

-- once both buckets are full the state equals an absent hash: let it expire then
local idle = 0
if rlim > 0 then
  idle = until_full(rlim, r)
end
if tlim > 0 then
  idle = math.max(idle, until_full(tlim, t))
end
idle = idle + (at - now)
if idle <= 0 then
  redis.call('DEL', key)
else
  redis.call('HSET', key, 'r', string.format('%d', r), 't', string.format('%d', t),
    'at', string.format('%d', at))
  redis.call('PEXPIRE', key, string.format('%d', idle + EXPIRY_SLACK_MS))
end
return {outcome, r, t, at}
