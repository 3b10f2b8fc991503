// The gate's single Lua script: one round trip per request. Order is the contract
// (DESIGN step 3): revocation → tenant suspension → session → rate limit → break-glass.
// Embedded as a string (not a .lua file) so any build that emits JS keeps it.
//
// KEYS (all hash-tagged `{t:<tenant>}`, one Cluster slot):
//  1 rev:jti:<jti>  2 rev:sub:<sub>  3 rev:agent:<agent>  4 rev:tenant  5 suspended
//  6 sess:<sid>  7 rl:sub:<sub>  8 rl:tenant  9 bg:<sub>
// ARGV: 1 now ms, 2 has jti, 3 has agent, 4 has sid, 5 idle ms, 6 auth time ms (-1 unknown),
//  7 max session ms, 8 subject T µs, 9 subject tolerance µs, 10 tenant T µs, 11 tenant tolerance µs
// Returns one of:
//  {'revoked', 'jti'|'sub'|'agent'|'tenant'}   {'suspended'}   {'session', 'expired'|'idle'}
//  {'limited', 'sub'|'tenant', retryAfterUs, resetUs}
//  {'ok', subRemaining, subResetUs, tenantRemaining, tenantResetUs, breakGlassJson|''}
export const GATE_LUA = `
local now = tonumber(ARGV[1])
if ARGV[2] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then return {'revoked', 'jti'} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'revoked', 'sub'} end
if ARGV[3] == '1' and redis.call('EXISTS', KEYS[3]) == 1 then return {'revoked', 'agent'} end
if redis.call('EXISTS', KEYS[4]) == 1 then return {'revoked', 'tenant'} end
if redis.call('EXISTS', KEYS[5]) == 1 then return {'suspended'} end

local idle = tonumber(ARGV[5])
local auth = tonumber(ARGV[6])
local maxms = tonumber(ARGV[7])
if auth >= 0 and now - auth > maxms then return {'session', 'expired'} end
if ARGV[4] == '1' then
  local last = tonumber(redis.call('GET', KEYS[6]))
  if last and now - last > idle then return {'session', 'idle'} end
  -- Keep the last-seen mark until the absolute lifetime is over, so an idle session
  -- cannot come back as "new" when its key expires.
  local ttl = maxms
  if auth >= 0 then ttl = auth + maxms - now end
  if ttl < idle then ttl = idle end
  redis.call('SET', KEYS[6], string.format('%.0f', now), 'PX', string.format('%.0f', ttl + 60000))
end

local nowus = now * 1000
local function step(key, t, tol)
  local tat = tonumber(redis.call('GET', key))
  if not tat or tat < nowus then tat = nowus end
  local newtat = tat + t
  local allowat = newtat - tol
  if allowat > nowus then return false, allowat - nowus, tat - nowus end
  return true, newtat, 0
end
local st, sto = tonumber(ARGV[8]), tonumber(ARGV[9])
local tt, tto = tonumber(ARGV[10]), tonumber(ARGV[11])
local sok, sv, sr = step(KEYS[7], st, sto)
local tok, tv, tr = step(KEYS[8], tt, tto)
if not sok then return {'limited', 'sub', sv, sr} end
if not tok then return {'limited', 'tenant', tv, tr} end
redis.call('SET', KEYS[7], string.format('%.0f', sv), 'PX', string.format('%.0f', math.ceil((sv - nowus) / 1000) + 1000))
redis.call('SET', KEYS[8], string.format('%.0f', tv), 'PX', string.format('%.0f', math.ceil((tv - nowus) / 1000) + 1000))

local bg = redis.call('GET', KEYS[9])
if not bg then bg = '' end
return {'ok', math.floor((nowus + sto - sv) / st), sv - nowus, math.floor((nowus + tto - tv) / tt), tv - nowus, bg}
`;
