/**
 * Lua scripts of the Redis metadata store. Each write and its change notice run in one script,
 * so the write is atomic and notices reach subscribers in the order the writes happened.
 */

/** KEYS[1] process hash; ARGV: name, record JSON, channel, notice. Returns 1 if created. */
export const CREATE_PROCESS = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
`;

/**
 * KEYS[1] process hash; ARGV: name, expected revision, new record JSON, channel, notice.
 * Returns 1 if the stored revision matched and the record was replaced.
 */
export const UPDATE_PROCESS = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 0 end
if cjson.decode(current).revision ~= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
`;

/** KEYS[1] process hash; ARGV: name, channel, notice. Returns 1 if deleted. */
export const DELETE_PROCESS = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
`;

/**
 * KEYS[1] apps hash; ARGV: name, expected version ('' = no record yet), new record JSON.
 * Returns 1 if the stored version matched and the record was written.
 */
export const PUT_APP_IF = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[2] == '' then
  if current then return 0 end
else
  if not current then return 0 end
  if cjson.decode(current).version ~= tonumber(ARGV[2]) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`;
