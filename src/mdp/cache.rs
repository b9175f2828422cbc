//! The broker's reply cache.
//!
//! A worker's final reply whose opts carry `cache: <ms>` is kept under the key
//! (service, request data bytes) until it expires, and an identical later
//! request (without `nocache`) is answered from here without dispatch. The
//! cache is bounded both by entry count and by total bytes; when full, the
//! oldest entries are evicted first. Stored frames are copied into their own
//! buffers so a cached reply never pins a large receive buffer.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

/// Bytes charged per entry on top of its frames (map, order and handles).
const ENTRY_OVERHEAD: usize = 160;

/// The frames of a cached final reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedReply {
  /// Status frame (`0` or `-1`).
  pub status: Bytes,
  /// Data frame (JSON).
  pub data: Bytes,
  /// Opts frame (JSON).
  pub opts: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
  service: Bytes,
  data: Bytes,
}

#[derive(Debug)]
struct Entry {
  reply: CachedReply,
  expires: Instant,
  size: usize,
  seq: u64,
}

/// Reply cache keyed by (service, data), bounded by entries and bytes.
#[derive(Debug)]
pub struct ReplyCache {
  map: HashMap<Key, Entry>,
  /// Insertion order; an item is stale when its seq differs from the entry's.
  order: VecDeque<(Key, u64)>,
  bytes: usize,
  max_entries: usize,
  max_bytes: usize,
  seq: u64,
}

impl ReplyCache {
  /// An empty cache holding at most `max_entries` entries and `max_bytes`.
  pub fn new(max_entries: usize, max_bytes: usize) -> ReplyCache {
    ReplyCache {
      map: HashMap::new(),
      order: VecDeque::new(),
      bytes: 0,
      max_entries,
      max_bytes,
      seq: 0,
    }
  }

  /// Number of live (possibly expired, not yet pruned) entries.
  pub fn len(&self) -> usize {
    self.map.len()
  }

  /// Whether the cache holds nothing.
  pub fn is_empty(&self) -> bool {
    self.map.is_empty()
  }

  /// Bytes charged for the stored entries.
  pub fn bytes(&self) -> usize {
    self.bytes
  }

  /// The cached reply for (service, data), unless absent or expired.
  pub fn get(&mut self, service: &Bytes, data: &Bytes, now: Instant) -> Option<CachedReply> {
    if self.map.is_empty() {
      return None;
    }
    let key = Key {
      service: service.clone(),
      data: data.clone(),
    };
    let entry = self.map.get(&key)?;
    if now < entry.expires {
      return Some(entry.reply.clone());
    }
    self.remove(&key);
    None
  }

  /// Stores a reply for `ttl`. Returns false when it cannot fit at all.
  pub fn put(
    &mut self,
    service: &[u8],
    data: &[u8],
    reply: &CachedReply,
    ttl: Duration,
    now: Instant,
  ) -> bool {
    let size = ENTRY_OVERHEAD
      + service.len()
      + data.len()
      + reply.status.len()
      + reply.data.len()
      + reply.opts.len();
    if self.max_entries == 0 || size > self.max_bytes || ttl.is_zero() {
      return false;
    }
    let key = Key {
      service: Bytes::copy_from_slice(service),
      data: Bytes::copy_from_slice(data),
    };
    self.remove(&key);
    while self.map.len() >= self.max_entries || self.bytes + size > self.max_bytes {
      if !self.evict_oldest() {
        break;
      }
    }
    self.seq += 1;
    let reply = CachedReply {
      status: Bytes::copy_from_slice(&reply.status),
      data: Bytes::copy_from_slice(&reply.data),
      opts: Bytes::copy_from_slice(&reply.opts),
    };
    self.order.push_back((key.clone(), self.seq));
    self.map.insert(
      key,
      Entry {
        reply,
        expires: now + ttl,
        size,
        seq: self.seq,
      },
    );
    self.bytes += size;
    if self.order.len() > 2 * self.map.len() + 64 {
      self.compact_order();
    }
    true
  }

  /// Drops every expired entry.
  pub fn prune(&mut self, now: Instant) {
    let before = self.map.len();
    let mut freed = 0;
    self.map.retain(|_, e| {
      let keep = now < e.expires;
      if !keep {
        freed += e.size;
      }
      keep
    });
    self.bytes -= freed;
    if before != self.map.len() {
      self.compact_order();
    }
  }

  fn remove(&mut self, key: &Key) {
    if let Some(e) = self.map.remove(key) {
      self.bytes -= e.size;
    }
  }

  /// Evicts the oldest live entry; false when there is none.
  fn evict_oldest(&mut self) -> bool {
    while let Some((key, seq)) = self.order.pop_front() {
      if self.map.get(&key).is_some_and(|e| e.seq == seq) {
        self.remove(&key);
        return true;
      }
    }
    false
  }

  fn compact_order(&mut self) {
    let map = &self.map;
    self
      .order
      .retain(|(k, seq)| map.get(k).is_some_and(|e| e.seq == *seq));
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn b(x: &'static str) -> Bytes {
    Bytes::from_static(x.as_bytes())
  }

  fn reply(data: &'static str) -> CachedReply {
    CachedReply {
      status: b("0"),
      data: b(data),
      opts: b("{}"),
    }
  }

  const TTL: Duration = Duration::from_millis(1000);

  #[test]
  fn stored_reply_is_returned_for_the_same_service_and_data() {
    let now = Instant::now();
    let mut c = ReplyCache::new(10, 1 << 20);
    assert!(c.put(b"echo", b"1", &reply("r1"), TTL, now));
    assert_eq!(c.get(&b("echo"), &b("1"), now), Some(reply("r1")));
    assert_eq!(c.get(&b("echo"), &b("2"), now), None);
    assert_eq!(c.get(&b("other"), &b("1"), now), None);
  }

  #[test]
  fn entry_expires_after_its_ttl() {
    let now = Instant::now();
    let mut c = ReplyCache::new(10, 1 << 20);
    c.put(b"echo", b"1", &reply("r1"), TTL, now);
    assert!(c
      .get(&b("echo"), &b("1"), now + TTL - Duration::from_millis(1))
      .is_some());
    assert!(c.get(&b("echo"), &b("1"), now + TTL).is_none());
    assert!(c.is_empty());
    assert_eq!(c.bytes(), 0);
  }

  #[test]
  fn prune_drops_only_expired_entries() {
    let now = Instant::now();
    let mut c = ReplyCache::new(10, 1 << 20);
    c.put(b"s", b"short", &reply("a"), Duration::from_millis(10), now);
    c.put(b"s", b"long", &reply("b"), TTL, now);
    c.prune(now + Duration::from_millis(20));
    assert_eq!(c.len(), 1);
    assert!(c.get(&b("s"), &b("long"), now).is_some());
  }

  #[test]
  fn entry_bound_evicts_the_oldest() {
    let now = Instant::now();
    let mut c = ReplyCache::new(2, 1 << 20);
    c.put(b"s", b"1", &reply("a"), TTL, now);
    c.put(b"s", b"2", &reply("b"), TTL, now);
    c.put(b"s", b"3", &reply("c"), TTL, now);
    assert_eq!(c.len(), 2);
    assert!(c.get(&b("s"), &b("1"), now).is_none());
    assert!(c.get(&b("s"), &b("3"), now).is_some());
  }

  #[test]
  fn byte_bound_evicts_until_the_new_entry_fits() {
    let now = Instant::now();
    let mut c = ReplyCache::new(100, 2 * (ENTRY_OVERHEAD + 20));
    c.put(b"s", b"1", &reply("aaaaaaaaaa"), TTL, now);
    c.put(b"s", b"2", &reply("bbbbbbbbbb"), TTL, now);
    c.put(b"s", b"3", &reply("cccccccccc"), TTL, now);
    assert!(c.bytes() <= 2 * (ENTRY_OVERHEAD + 20));
    assert!(c.get(&b("s"), &b("1"), now).is_none());
    assert!(c.get(&b("s"), &b("3"), now).is_some());
  }

  #[test]
  fn entry_larger_than_the_byte_bound_is_not_stored() {
    let now = Instant::now();
    let mut c = ReplyCache::new(100, ENTRY_OVERHEAD + 4);
    assert!(!c.put(b"s", b"1", &reply("too large"), TTL, now));
    assert!(c.is_empty());
  }

  #[test]
  fn replacing_a_key_keeps_one_entry_and_correct_bytes() {
    let now = Instant::now();
    let mut c = ReplyCache::new(10, 1 << 20);
    for _ in 0..500 {
      c.put(b"s", b"1", &reply("a"), TTL, now);
    }
    assert_eq!(c.len(), 1);
    assert_eq!(c.bytes(), ENTRY_OVERHEAD + 1 + 1 + 1 + 1 + 2);
    assert!(c.order.len() <= 2 * c.len() + 65);
    c.put(b"s", b"2", &reply("b"), TTL, now);
    assert_eq!(c.len(), 2);
  }

  #[test]
  fn cached_frames_do_not_share_the_callers_buffers() {
    let now = Instant::now();
    let mut c = ReplyCache::new(10, 1 << 20);
    let big = Bytes::from(vec![b'x'; 64]);
    let r = CachedReply {
      status: b("0"),
      data: big.clone(),
      opts: b(""),
    };
    c.put(b"s", b"1", &r, TTL, now);
    let got = c.get(&b("s"), &b("1"), now).unwrap();
    assert_eq!(got.data, big);
    assert_ne!(got.data.as_ptr(), big.as_ptr());
  }
}
