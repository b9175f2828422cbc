//! XPUB as libzmq 4.3 implements it: a PUB ([`PubState`]: prefix matching, per-peer subscription sets, a full
//! pipe loses the message) that also tells its application about subscriptions.
//!
//! - The application receives `01`+topic when a topic gets its first subscriber, and `00`+topic when its last
//!   one cancels or leaves (a departing peer's topics count as cancelled). A repeated subscribe from the same
//!   peer changes nothing and is not passed on.
//! - libzmq quirk kept: a cancel for a topic the peer never subscribed is passed on too (libzmq notifies on
//!   "not found" as well as on "last one removed").
//! - `ZMQ_XPUB_VERBOSE` passes every subscribe on; `ZMQ_XPUB_VERBOSER` every subscribe and every cancel.
//! - Messages from an XSUB that are not (un)subscriptions reach the application unchanged.
//! - `ZMQ_XPUB_NODROP`: instead of dropping, `send` says [`SendError::WouldBlock`] while a matching
//!   subscriber's pipe is full.
//!
//! Not implemented: `ZMQ_XPUB_MANUAL`, `ZMQ_XPUB_WELCOME_MSG`, `ZMQ_INVERT_MATCHING`. Only a message's first
//! frame is looked at for `01`/`00` (libzmq 4.3 without `ZMQ_ONLY_FIRST_SUBSCRIBE` looks at every frame).

use std::collections::VecDeque;

use bytes::{BufMut, Bytes, BytesMut};

use super::{AppSocket, Output, PubState, SendError, SocketState, Token};
use crate::zmtp::command::Subscription;
use crate::zmtp::session::PeerInfo;
use crate::zmtp::FastMap;

/// The XPUB state.
#[derive(Debug)]
pub struct XPubState {
  inner: PubState,
  /// Topic -> how many peers hold it.
  topics: FastMap<Bytes, usize>,
  verbose_subs: bool,
  verbose_unsubs: bool,
  nodrop: bool,
  events: VecDeque<Vec<Bytes>>,
}

/// `flag` + `topic`, the form an XPUB application reads.
fn notification(flag: u8, topic: &[u8]) -> Vec<Bytes> {
  let mut frame = BytesMut::with_capacity(topic.len() + 1);
  frame.put_u8(flag);
  frame.put_slice(topic);
  vec![frame.freeze()]
}

impl XPubState {
  /// An XPUB whose pipes hold at most `hwm` messages and `hwm_bytes` bytes each (one message always fits).
  pub fn new(hwm: usize, hwm_bytes: usize) -> Self {
    Self {
      inner: PubState::new(hwm, hwm_bytes),
      topics: FastMap::default(),
      verbose_subs: false,
      verbose_unsubs: false,
      nodrop: false,
      events: VecDeque::new(),
    }
  }

  /// `ZMQ_XPUB_VERBOSE`: pass every subscribe on (and cancels only as usual).
  pub fn set_verbose(&mut self, on: bool) {
    self.verbose_subs = on;
    self.verbose_unsubs = false;
  }

  /// `ZMQ_XPUB_VERBOSER`: pass every subscribe and every cancel on.
  pub fn set_verboser(&mut self, on: bool) {
    self.verbose_subs = on;
    self.verbose_unsubs = on;
  }

  /// `ZMQ_XPUB_NODROP`: `send` blocks instead of dropping at a full subscriber.
  pub fn set_nodrop(&mut self, on: bool) {
    self.nodrop = on;
  }

  /// The publisher underneath (subscriber count, `dropped_full`).
  pub fn publisher(&self) -> &PubState {
    &self.inner
  }

  fn handle(&mut self, token: Token, sub: Subscription) {
    let Some(changed) = self.inner.apply(token, sub.clone()) else {
      return;
    };
    match sub {
      Subscription::Subscribe(topic) => {
        let first = changed && {
          let n = self.topics.entry(topic.clone()).or_default();
          *n += 1;
          *n == 1
        };
        if first || self.verbose_subs {
          self.events.push_back(notification(1, &topic));
        }
      }
      Subscription::Cancel(topic) => {
        // Not found (`!changed`) notifies too, as in libzmq.
        let remains = changed && !self.count_down(&topic);
        if !remains || self.verbose_unsubs {
          self.events.push_back(notification(0, &topic));
        }
      }
    }
  }

  /// Counts one peer off `topic`; whether it was the last.
  fn count_down(&mut self, topic: &Bytes) -> bool {
    let Some(n) = self.topics.get_mut(topic) else {
      return true;
    };
    *n -= 1;
    let last = *n == 0;
    if last {
      self.topics.remove(topic);
    }
    last
  }

  fn end(&mut self, token: Token, detach: bool) {
    for topic in self.inner.end_pipe(token, detach).into_iter().flatten() {
      if self.count_down(&topic) || self.verbose_unsubs {
        self.events.push_back(notification(0, &topic));
      }
    }
  }
}

impl SocketState for XPubState {
  type Event = Vec<Bytes>;

  fn on_ready(&mut self, token: Token, peer: &PeerInfo) -> Result<(), &'static str> {
    self.inner.on_ready(token, peer)
  }

  fn on_attach(&mut self, token: Token) {
    self.inner.on_attach(token);
  }

  /// A 3.0 (un)subscription, or an XSUB's upstream message for the application.
  fn on_message(&mut self, token: Token, frames: Vec<Bytes>) {
    match frames.first().and_then(Subscription::from_message) {
      Some(sub) => self.handle(token, sub),
      None if !frames.is_empty() => self.events.push_back(frames),
      None => {}
    }
  }

  fn on_subscription(&mut self, token: Token, sub: Subscription) {
    self.handle(token, sub);
  }

  fn on_gone(&mut self, token: Token) {
    self.end(token, false);
  }

  fn on_detach(&mut self, token: Token) {
    self.end(token, true);
  }

  fn take_output(&mut self, token: Token) -> Option<Output> {
    self.inner.take_output(token)
  }

  fn has_output(&self, token: Token) -> bool {
    self.inner.has_output(token)
  }

  /// `01`+topic / `00`+topic notifications and upstream messages, in arrival order.
  fn poll_event(&mut self) -> Option<Vec<Bytes>> {
    self.events.pop_front()
  }
}

impl AppSocket for XPubState {
  /// Publishes `msg`; with `XPUB_NODROP`, [`SendError::WouldBlock`] while a matching subscriber is full.
  fn send(&mut self, msg: Vec<Bytes>) -> Result<(), SendError> {
    if self.nodrop && !self.inner.has_room_for(&msg) {
      return Err(SendError::WouldBlock);
    }
    self.inner.send(msg)
  }

  fn can_send(&self) -> bool {
    true
  }

  fn poll_woken(&mut self) -> Option<Token> {
    self.inner.poll_woken()
  }
}

#[cfg(test)]
#[path = "xpub_tests.rs"]
mod tests;
