//! Messages the broker's ROUTER could not route because their peer is not connected right
//! now: typically a client whose connection is being re-established (a broker restart with
//! `persist`, a network blip). They wait, in order and bounded in count and age, until that
//! peer sends anything, which proves it is reachable again; what expires is counted.

use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::time::Duration;
use tokio::time::Instant;

/// Parked messages by peer identity; frames exclude the identity.
pub(crate) struct Parked {
  by_peer: HashMap<Bytes, VecDeque<(Instant, Vec<Bytes>)>>,
  len: usize,
  max: usize,
  ttl: Duration,
  /// Messages dropped because they waited longer than the TTL.
  pub expired: u64,
  /// Messages dropped because the bound was reached.
  pub overflow: u64,
}

impl Parked {
  /// Holds at most `max` messages, each for at most `ttl`.
  pub fn new(max: usize, ttl: Duration) -> Self {
    Self {
      by_peer: HashMap::new(),
      len: 0,
      max,
      ttl,
      expired: 0,
      overflow: 0,
    }
  }

  /// Messages waiting.
  pub fn len(&self) -> usize {
    self.len
  }

  /// True when messages wait for `peer`.
  pub fn has(&self, peer: &[u8]) -> bool {
    self.len > 0 && self.by_peer.contains_key(peer)
  }

  /// Parks one message for `peer`; false (and counted) when full.
  pub fn park(&mut self, peer: Bytes, frames: Vec<Bytes>, now: Instant) -> bool {
    if self.len >= self.max {
      self.overflow += 1;
      return false;
    }
    self
      .by_peer
      .entry(peer)
      .or_default()
      .push_back((now, frames));
    self.len += 1;
    true
  }

  /// Takes every message waiting for `peer`, oldest first.
  pub fn take(&mut self, peer: &[u8]) -> Option<VecDeque<(Instant, Vec<Bytes>)>> {
    let queue = self.by_peer.remove(peer)?;
    self.len -= queue.len();
    Some(queue)
  }

  /// Puts messages back at the front of `peer`'s queue (the peer vanished again mid-flush).
  pub fn restore(&mut self, peer: Bytes, mut rest: VecDeque<(Instant, Vec<Bytes>)>) {
    self.len += rest.len();
    if let Some(mut newer) = self.by_peer.remove(&peer) {
      rest.append(&mut newer);
    }
    self.by_peer.insert(peer, rest);
  }

  /// Drops messages older than the TTL.
  pub fn expire(&mut self, now: Instant) {
    if self.len == 0 {
      return;
    }
    let ttl = self.ttl;
    let mut dropped = 0;
    self.by_peer.retain(|_, q| {
      while q
        .front()
        .is_some_and(|(at, _)| now.duration_since(*at) > ttl)
      {
        q.pop_front();
        dropped += 1;
      }
      !q.is_empty()
    });
    self.len -= dropped;
    self.expired += dropped as u64;
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
  }

  #[test]
  fn parked_messages_come_back_in_order_for_their_peer_only() {
    let now = Instant::now();
    let mut p = Parked::new(10, Duration::from_secs(5));
    assert!(p.park(b("c1"), vec![b("1")], now));
    assert!(p.park(b("c2"), vec![b("x")], now));
    assert!(p.park(b("c1"), vec![b("2")], now));
    assert!(p.has(b"c1") && !p.has(b"c3"));
    let got: Vec<_> = p
      .take(b"c1")
      .unwrap()
      .into_iter()
      .map(|(_, f)| f[0].clone())
      .collect();
    assert_eq!(got, vec![b("1"), b("2")]);
    assert!(!p.has(b"c1"));
    assert_eq!(p.len(), 1);
  }

  #[test]
  fn the_bound_refuses_and_counts() {
    let now = Instant::now();
    let mut p = Parked::new(1, Duration::from_secs(5));
    assert!(p.park(b("c1"), vec![b("1")], now));
    assert!(!p.park(b("c1"), vec![b("2")], now));
    assert_eq!(p.overflow, 1);
  }

  #[test]
  fn old_messages_expire_and_are_counted() {
    let t0 = Instant::now();
    let mut p = Parked::new(10, Duration::from_millis(100));
    p.park(b("c1"), vec![b("old")], t0);
    p.park(b("c1"), vec![b("new")], t0 + Duration::from_millis(80));
    p.expire(t0 + Duration::from_millis(150));
    assert_eq!(p.expired, 1);
    let left: Vec<_> = p
      .take(b"c1")
      .unwrap()
      .into_iter()
      .map(|(_, f)| f[0].clone())
      .collect();
    assert_eq!(left, vec![b("new")]);
    assert_eq!(p.len(), 0);
  }

  #[test]
  fn restored_messages_stay_ahead_of_newer_ones() {
    let now = Instant::now();
    let mut p = Parked::new(10, Duration::from_secs(5));
    p.park(b("c1"), vec![b("1")], now);
    let taken = p.take(b"c1").unwrap();
    p.park(b("c1"), vec![b("2")], now);
    p.restore(b("c1"), taken);
    let got: Vec<_> = p
      .take(b"c1")
      .unwrap()
      .into_iter()
      .map(|(_, f)| f[0].clone())
      .collect();
    assert_eq!(got, vec![b("1"), b("2")]);
  }
}
