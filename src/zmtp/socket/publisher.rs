//! PUB semantics as libzmq implements them: each subscriber connection has a subscription *set* (a repeated
//! SUBSCRIBE counts once, one CANCEL removes it), taken from the 3.1 commands and from the 3.0 message form
//! (`01`/`00` + topic as a message's first frame); a message goes to every connection with a subscription
//! that is a prefix of its first frame. A PUB never blocks: a connection whose pipe is at its high-water mark
//! loses that message (counted).
//!
//! A connection made by `on_attach` (a PUB that `connect()`s) keeps its pipe, subscriptions and queue across
//! reconnects until `on_detach`, as libzmq keeps a connecting side's pipe; an accepted one ends with its
//! connection. [`PubState`] is also the PUB application side ([`AppSocket`]) and the core of
//! [`super::XPubState`].
//!
//! A relay publishes what it received as wire bytes ([`PubState::publish_raw`]): each matching pipe holds the
//! same refcounted bytes, and a plaintext connection gets them appended as they are.

use std::collections::{BTreeSet, VecDeque};

use bytes::Bytes;

use super::{AppSocket, Output, SendError, SocketState, Token};
use crate::zmtp::command::Subscription;
use crate::zmtp::raw::RawMessage;
use crate::zmtp::session::PeerInfo;

/// A message waiting in a subscriber's pipe.
#[derive(Debug)]
enum Queued {
  Frames(Vec<Bytes>),
  Raw(RawMessage),
}

impl Queued {
  /// Body bytes, as the pipe's byte limit counts them.
  fn size(&self) -> usize {
    match self {
      Self::Frames(m) => m.iter().map(Bytes::len).sum(),
      Self::Raw(m) => m.size(),
    }
  }
}

#[derive(Debug, Default)]
struct Subscriber {
  subs: BTreeSet<Bytes>,
  queue: VecDeque<Queued>,
  queued_bytes: usize,
  /// Made by `on_attach`: outlives its connections.
  attached: bool,
  /// Listed in `PubState::woken`.
  woken: bool,
}

impl Subscriber {
  /// Whether a message of `size` bytes fits (one always fits an empty queue).
  fn has_room(&self, size: usize, hwm: usize, hwm_bytes: usize) -> bool {
    let over_bytes = !self.queue.is_empty() && self.queued_bytes + size > hwm_bytes;
    self.queue.len() < hwm && !over_bytes
  }
}

/// The publisher state: subscribers and their pipes.
#[derive(Debug)]
pub struct PubState {
  peers: crate::zmtp::FastMap<Token, Subscriber>,
  hwm: usize,
  hwm_bytes: usize,
  /// Messages dropped because a subscriber's pipe was full.
  pub dropped_full: u64,
  woken: VecDeque<Token>,
}

impl PubState {
  /// A publisher whose pipes hold at most `hwm` messages and `hwm_bytes` bytes each (one message always fits).
  pub fn new(hwm: usize, hwm_bytes: usize) -> Self {
    Self {
      peers: Default::default(),
      hwm: hwm.max(1),
      hwm_bytes,
      dropped_full: 0,
      woken: VecDeque::new(),
    }
  }

  /// Queues `msg` for every matching subscriber; the connections that got it are appended to `to`.
  pub fn publish(&mut self, msg: &[Bytes], to: &mut Vec<Token>) {
    let Some(first) = msg.first() else {
      return;
    };
    let size: usize = msg.iter().map(Bytes::len).sum();
    self.fan_out(first, size, to, || Queued::Frames(msg.to_vec()));
  }

  /// As [`PubState::publish`] for a message given as its wire bytes: the same prefix match on its first
  /// frame, the same limits on its body bytes; each pipe holds the same bytes (refcounted, no copy).
  pub fn publish_raw(&mut self, msg: &RawMessage, to: &mut Vec<Token>) {
    self.fan_out(msg.first(), msg.size(), to, || Queued::Raw(msg.clone()));
  }

  fn fan_out(&mut self, first: &[u8], size: usize, to: &mut Vec<Token>, item: impl Fn() -> Queued) {
    for (token, peer) in self.peers.iter_mut() {
      if !peer.subs.iter().any(|s| first.starts_with(s)) {
        continue;
      }
      if !peer.has_room(size, self.hwm, self.hwm_bytes) {
        self.dropped_full += 1;
        continue;
      }
      peer.queued_bytes += size;
      peer.queue.push_back(item());
      to.push(*token);
    }
  }

  /// Applies a subscription change of connection `token`; whether its set changed (`None`: no such peer).
  pub(super) fn apply(&mut self, token: Token, sub: Subscription) -> Option<bool> {
    let peer = self.peers.get_mut(&token)?;
    Some(match sub {
      Subscription::Subscribe(t) => peer.subs.insert(t),
      Subscription::Cancel(t) => peer.subs.remove(&t),
    })
  }

  /// Whether every subscriber `msg` would go to has room for it (libzmq's check under `XPUB_NODROP`).
  pub fn has_room_for(&self, msg: &[Bytes]) -> bool {
    let Some(first) = msg.first() else {
      return true;
    };
    let size: usize = msg.iter().map(Bytes::len).sum();
    self
      .peers
      .values()
      .filter(|p| p.subs.iter().any(|s| first.starts_with(s)))
      .all(|p| p.has_room(size, self.hwm, self.hwm_bytes))
  }

  /// Ends the pipe of `token` if it was accepted or `detach` is set, and returns its subscriptions.
  pub(super) fn end_pipe(&mut self, token: Token, detach: bool) -> Option<BTreeSet<Bytes>> {
    if !detach && self.peers.get(&token)?.attached {
      return None;
    }
    self.peers.remove(&token).map(|p| p.subs)
  }

  /// Whether some subscriber has asked for anything (a PUB sends nothing before that).
  pub fn subscribed(&self) -> bool {
    self.peers.values().any(|p| !p.subs.is_empty())
  }

  /// Subscribers connected now.
  pub fn subscribers(&self) -> usize {
    self.peers.len()
  }
}

impl AppSocket for PubState {
  /// Publishes `msg`; never blocks (a full subscriber misses it, counted in `dropped_full`).
  fn send(&mut self, msg: Vec<Bytes>) -> Result<(), SendError> {
    if msg.is_empty() {
      return Err(SendError::Invalid);
    }
    let mut to = Vec::new();
    self.publish(&msg, &mut to);
    for token in to {
      if let Some(peer) = self.peers.get_mut(&token) {
        if !peer.woken {
          peer.woken = true;
          self.woken.push_back(token);
        }
      }
    }
    Ok(())
  }

  fn can_send(&self) -> bool {
    true
  }

  fn poll_woken(&mut self) -> Option<Token> {
    let token = self.woken.pop_front()?;
    if let Some(peer) = self.peers.get_mut(&token) {
      peer.woken = false;
    }
    Some(token)
  }
}

impl SocketState for PubState {
  type Event = std::convert::Infallible;

  fn on_ready(&mut self, token: Token, _peer: &PeerInfo) -> Result<(), &'static str> {
    self.peers.entry(token).or_default();
    Ok(())
  }

  fn on_attach(&mut self, token: Token) {
    self.peers.entry(token).or_default().attached = true;
  }

  fn on_detach(&mut self, token: Token) {
    self.end_pipe(token, true);
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
    self.end_pipe(token, false);
  }

  fn take_output(&mut self, token: Token) -> Option<Output> {
    let peer = self.peers.get_mut(&token)?;
    let msg = peer.queue.pop_front()?;
    peer.queued_bytes -= msg.size();
    Some(match msg {
      Queued::Frames(m) => Output::Message(m),
      Queued::Raw(m) => Output::Raw(m),
    })
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
  fn an_attached_subscriber_keeps_its_subscriptions_and_queue_across_reconnects() {
    let mut p = PubState::new(10, 1 << 20);
    p.on_attach(1);
    p.on_ready(1, &peer()).unwrap();
    p.on_subscription(1, Subscription::Subscribe(b(b"t")));
    p.on_gone(1);
    p.send(vec![b(b"t1")]).unwrap();
    assert_eq!(p.poll_woken(), Some(1));
    p.on_ready(1, &peer()).unwrap();
    assert_eq!(p.take_output(1), Some(Output::Message(vec![b(b"t1")])));
    p.on_detach(1);
    assert_eq!(
      (p.subscribers(), p.send(vec![])),
      (0, Err(SendError::Invalid))
    );
  }

  #[test]
  fn has_room_for_looks_only_at_matching_subscribers() {
    let mut p = PubState::new(1, 1 << 20);
    p.on_ready(1, &peer()).unwrap();
    p.on_ready(2, &peer()).unwrap();
    p.on_subscription(1, Subscription::Subscribe(b(b"a")));
    p.on_subscription(2, Subscription::Subscribe(b(b"b")));
    p.send(vec![b(b"a")]).unwrap();
    assert!(!p.has_room_for(&[b(b"a")]));
    assert!(p.has_room_for(&[b(b"b")]));
    assert!(p.can_send());
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
