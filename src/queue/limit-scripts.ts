/**
 * Lua scripts of the destination limits (src/queue/limits.ts). Each runs atomically in Redis, so every
 * worker on every host sees one bucket and one semaphore per destination. `now` is passed in milliseconds
 * when the caller has its own clock (tests); an empty string means Redis's own clock.
 */

const NOW = `
local now = tonumber(ARGV[3])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/**
 * Token bucket with two lanes. KEYS[1] hash {tokens, ts}; KEYS[2] sorted set of interactive waiters (id ->
 * expiry). ARGV capacity, tokens per ms, now, lane ("interactive" or "bulk"), waiter id, waiter ttl ms.
 * Takes a token and answers 0, or takes nothing and answers the milliseconds to wait. An interactive caller
 * that has to wait registers itself; a bulk caller takes nothing while any registered waiter is alive, so
 * the next token goes to the interactive one.
 */
export const TAKE_TOKEN = `
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
${NOW}
local lane = ARGV[4]
local waiter = ARGV[5]
local waiterTtl = tonumber(ARGV[6])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate)
  ts = now
end
local wait = 0
local interval = math.ceil(1 / rate)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local yield = lane == 'bulk' and redis.call('ZCARD', KEYS[2]) > 0
if tokens >= 1 and not yield then
  tokens = tokens - 1
  if lane ~= 'bulk' then redis.call('ZREM', KEYS[2], waiter) end
elseif yield then
  wait = math.max(math.ceil((1 - tokens) / rate), math.min(interval, 250))
else
  wait = math.ceil((1 - tokens) / rate)
  if lane ~= 'bulk' then
    redis.call('ZADD', KEYS[2], now + wait + waiterTtl, waiter)
    redis.call('PEXPIRE', KEYS[2], wait + waiterTtl * 2)
  end
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate) + 1000)
return wait
`;

/**
 * Semaphore with leases. KEYS[1] sorted set lease -> expiry; ARGV limit, lease id, now, ttl ms. Drops
 * expired leases (a holder that died), then takes (or renews) a slot and answers 0, or answers the
 * milliseconds until the earliest lease expires.
 */
export const TAKE_SLOT = `
local limit = tonumber(ARGV[1])
local lease = ARGV[2]
${NOW}
local ttl = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], lease) or redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now + ttl, lease)
  redis.call('PEXPIRE', KEYS[1], ttl * 2)
  return 0
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(first[2]) - now)
`;

/** Extend a lease that is still held. KEYS[1] sorted set; ARGV lease id, (unused), now, ttl ms. 1 if held. */
export const RENEW_SLOT = `
local lease = ARGV[1]
${NOW}
local ttl = tonumber(ARGV[4])
if not redis.call('ZSCORE', KEYS[1], lease) then return 0 end
redis.call('ZADD', KEYS[1], now + ttl, lease)
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return 1
`;
