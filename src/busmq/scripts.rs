//! Our Lua scripts over busmq 3.1's queue layout. They are written for this crate (batched: one
//! call pushes or pops many messages) but leave Redis exactly as busmq's one-message scripts
//! would, so busmq processes and ours share queues: ids from the same INCR counter, flat
//! `id, payload` pairs, every written key EXPIREd, one PUBLISH of the newest id per call.

/// Pushes `ARGV[4..]` in order. KEYS `[metadata, messages, msgid, toack]`, ARGV
/// `[ttl, availableChannel, maxsize, payload...]`. Returns one id per payload, `0` for a payload
/// refused because the queue holds `maxsize` messages (maxsize `0` = unbounded).
pub const PUSH: &str = r"
local ttl = ARGV[1]
local limit = tonumber(ARGV[3]) or 0
local ids = {}
local last = nil
for i = 4, #ARGV do
  if limit > 0 and redis.call('llen', KEYS[2]) >= 2 * limit then
    ids[#ids + 1] = 0
  else
    last = redis.call('incr', KEYS[3])
    redis.call('rpush', KEYS[2], last, ARGV[i])
    ids[#ids + 1] = last
  end
end
for k = 1, 4 do
  redis.call('expire', KEYS[k], ttl)
end
if last then
  redis.call('publish', ARGV[2], last)
end
return ids
";

/// Pops up to `ARGV[1]` messages. KEYS `[messages]`. Returns flat `id, payload` pairs (empty
/// when the queue is empty). Atomic, so a message is popped by one consumer only.
pub const POP: &str = r"
local out = {}
for i = 1, tonumber(ARGV[1]) do
  local id = redis.call('lpop', KEYS[1])
  if not id then
    break
  end
  out[#out + 1] = id
  out[#out + 1] = redis.call('lpop', KEYS[1])
end
return out
";

/// Reliable pop: like [`POP`], but each popped pair is also appended to `toack` until acked.
/// KEYS `[messages, toack]`, ARGV `[count, ttl]`.
pub const POP_RELIABLE: &str = r"
local out = {}
for i = 1, tonumber(ARGV[1]) do
  local id = redis.call('lpop', KEYS[1])
  if not id then
    break
  end
  local body = redis.call('lpop', KEYS[1])
  redis.call('rpush', KEYS[2], id, body)
  out[#out + 1] = id
  out[#out + 1] = body
end
if #out > 0 then
  redis.call('expire', KEYS[2], ARGV[2])
end
return out
";

/// Acks every pair of `toack` whose id is at most `ARGV[1]`. With a second key and `ARGV[3] ==
/// 'true'`, the pairs left unacked go back to the head of `messages`, in their order (a reliable
/// consumer starting over). KEYS `[toack]` or `[toack, messages]`, ARGV `[last, ttl, restore?]`.
pub const ACK: &str = r"
local last = tonumber(ARGV[1]) or 0
while true do
  local head = redis.call('lindex', KEYS[1], 0)
  if not head or (tonumber(head) or 0) > last then
    break
  end
  redis.call('lpop', KEYS[1])
  redis.call('lpop', KEYS[1])
end
if ARGV[3] == 'true' and KEYS[2] then
  local moved = 0
  while true do
    local body = redis.call('rpop', KEYS[1])
    if not body then
      break
    end
    local id = redis.call('rpop', KEYS[1])
    redis.call('lpush', KEYS[2], body, id)
    moved = moved + 1
  end
  if moved > 0 then
    redis.call('expire', KEYS[2], ARGV[2])
  end
end
if redis.call('exists', KEYS[1]) == 1 then
  redis.call('expire', KEYS[1], ARGV[2])
end
return 1
";

/// `HSET KEYS[1] ARGV[2..]` then `EXPIRE KEYS[1] ARGV[1]`, atomically (metadata and persisted
/// objects: no moment without an expiry).
pub const HSET_EXPIRE: &str = r"
redis.call('hset', KEYS[1], unpack(ARGV, 2))
redis.call('expire', KEYS[1], ARGV[1])
return 1
";

/// Every script, for `SCRIPT LOAD` when a connection comes online.
pub const ALL: [&str; 5] = [PUSH, POP, POP_RELIABLE, ACK, HSET_EXPIRE];

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn scripts_touch_only_keys_they_are_given() {
    // Redis Cluster needs every key of a script in KEYS; no script may build key names.
    for script in ALL {
      assert!(!script.contains("bus:queue"), "{script}");
    }
  }

  #[test]
  fn push_expires_all_four_keys_and_publishes_once() {
    assert!(PUSH.contains("for k = 1, 4 do\n  redis.call('expire', KEYS[k], ttl)"));
    assert_eq!(PUSH.matches("publish").count(), 1);
  }
}
