//! PUB semantics as libzmq implements them: each subscriber connection has a subscription *set* (a repeated
//! SUBSCRIBE counts once, one CANCEL removes it), taken from the 3.1 commands and from the 3.0 message form
//! (`01`/`00` + topic as a message's first frame); a message goes to every connection with a subscription
//! that is a prefix of its first frame. A PUB never blocks: a connection whose pipe is at its high-water mark
//! loses that message (counted).

use std::collections::{BTreeSet, VecDeque};

use bytes::Bytes;

use super::{Output, SocketState, Token};
use crate::zmtp::command::Subscription;
use crate::zmtp::session::PeerInfo;

#[derive(Debug, Default)]
struct Subscriber {
  subs: BTreeSet<Bytes>,
  queue: VecDeque<Vec<Bytes>>,
  queued_bytes: usize,
}

/// The publisher state: subscribers and their pipes.
#[derive(Debug)]
pub struct PubState {
  peers: crate::mdp::FastMap<Token, Subscriber>,
  hwm: usize,
  hwm_bytes: usize,
  /// Messages dropped because a subscriber's pipe was full.
  pub dropped_full: u64,
}

impl PubState {
  /// A publisher whose pipes hold at most `hwm` messages and `hwm_bytes` bytes each (one message always fits).
  pub fn new(hwm: usize, hwm_bytes: usize) -> Self {
    Self {
      peers: Default::default(),
      hwm: hwm.max(1),
      hwm_bytes,
      dropped_full: 0,
    }
  }

  /// Queues `msg` for every matching subscriber; the connections that got it are appended to `to`.
  pub fn publish(&mut self, msg: &[Bytes], to: &mut Vec<Token>) {
    let Some(first) = msg.first() else {
      return;
    };
    let size: usize = msg.iter().map(Bytes::len).sum();
    for (token, peer) in self.peers.iter_mut() {
      if !peer.subs.iter().any(|s| first.starts_with(s)) {
        continue;
      }
      let over_bytes = !peer.queue.is_empty() && peer.queued_bytes + size > self.hwm_bytes;
      if peer.queue.len() >= self.hwm || over_bytes {
        self.dropped_full += 1;
        continue;
      }
      peer.queued_bytes += size;
      peer.queue.push_back(msg.to_vec());
      to.push(*token);
    }
  }

  fn apply(&mut self, token: Token, sub: Subscription) {
    let Some(peer) = self.peers.get_mut(&token) else {
      return;
    };
    match sub {
      Subscription::Subscribe(t) => {
        peer.subs.insert(t);
      }
      Subscription::Cancel(t) => {
        peer.subs.remove(&t);
      }
    }
  }

  /// Subscribers connected now.
  pub fn subscribers(&self) -> usize {
    self.peers.len()
  }
}

impl SocketState for PubState {
  type Event = std::convert::Infallible;

  fn on_ready(&mut self, token: Token, _peer: &PeerInfo) -> Result<(), &'static str> {
    self.peers.insert(token, Subscriber::default());
    Ok(())
  }

  fn on_message(&mut self, token: Token, frames: Vec<Bytes>) {
    // Only a message's first frame can be a 3.0 (un)subscription; PUB drops anything else.
    if let Some(sub) = frames.first().and_then(Subscription::from_message) {
      self.apply(token, sub);
    }
  }

  fn on_subscription(&mut self, token: Token, sub: Subscription) {
    self.apply(token, sub);
  }

  fn on_gone(&mut self, token: Token) {
    self.peers.remove(&token);
  }

  fn take_output(&mut self, token: Token) -> Option<Output> {
    let peer = self.peers.get_mut(&token)?;
    let msg = peer.queue.pop_front()?;
    peer.queued_bytes -= msg.iter().map(Bytes::len).sum::<usize>();
    Some(Output::Message(msg))
  }

  fn has_output(&self, token: Token) -> bool {
    self.peers.get(&token).is_some_and(|p| !p.queue.is_empty())
  }

  fn poll_event(&mut self) -> Option<Self::Event> {
    None
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::zmtp::command::Properties;
  use crate::zmtp::greeting::Version;

  fn peer() -> PeerInfo {
    PeerInfo {
      socket_type: "SUB".into(),
      identity: Bytes::new(),
      properties: Properties::default(),
      user_id: None,
      version: Version::V31,
    }
  }

  fn b(x: &'static [u8]) -> Bytes {
    Bytes::from_static(x)
  }

  #[test]
  fn a_message_goes_to_subscribers_whose_prefix_matches_in_either_wire_form() {
    let mut p = PubState::new(10, 1 << 20);
    p.on_ready(1, &peer()).unwrap();
    p.on_ready(2, &peer()).unwrap();
    p.on_ready(3, &peer()).unwrap();
    p.on_subscription(1, Subscription::Subscribe(b(b"eq")));
    p.on_message(2, vec![b(b"\x01")]);
    let mut to = Vec::new();
    p.publish(&[b(b"equity"), b(b"1")], &mut to);
    p.publish(&[b(b"bond"), b(b"2")], &mut to);
    to.sort();
    assert_eq!(to, [1, 2, 2]);
    assert_eq!(
      p.take_output(1),
      Some(Output::Message(vec![b(b"equity"), b(b"1")]))
    );
    assert!(!p.has_output(3));
  }

  #[test]
  fn a_repeated_subscribe_counts_once_and_one_cancel_removes_it() {
    let mut p = PubState::new(10, 1 << 20);
    p.on_ready(1, &peer()).unwrap();
    p.on_subscription(1, Subscription::Subscribe(b(b"a")));
    p.on_message(1, vec![b(b"\x01a")]);
    p.on_message(1, vec![b(b"\x00a")]);
    let mut to = Vec::new();
    p.publish(&[b(b"abc")], &mut to);
    assert!(to.is_empty());
  }

  #[test]
  fn a_full_subscriber_loses_the_message_and_it_is_counted() {
    let mut p = PubState::new(1, 1 << 20);
    p.on_ready(1, &peer()).unwrap();
    p.on_subscription(1, Subscription::Subscribe(Bytes::new()));
    let mut to = Vec::new();
    p.publish(&[b(b"x")], &mut to);
    p.publish(&[b(b"y")], &mut to);
    assert_eq!((to.len(), p.dropped_full), (1, 1));
    p.on_gone(1);
    assert_eq!(p.subscribers(), 0);
  }
}
