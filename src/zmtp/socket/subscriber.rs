//! SUB and XSUB as libzmq 4.3 implements them (`sub_t` is an `xsub_t` that filters and takes subscriptions as
//! socket options):
//!
//! - Subscriptions are counted per topic, like libzmq's trie: subscribing twice needs two unsubscribes. Every
//!   subscribe goes out to every pipe; an unsubscribe goes out only when its count reaches 0 (or always, with
//!   `ZMQ_XSUB_VERBOSE_UNSUBSCRIBE`); an unsubscribe of a topic not subscribed goes nowhere.
//! - A new pipe (attached endpoint or accepted peer) gets every current subscription, once per topic, as
//!   [`Output::Subscription`] (the session picks the command or message form). When the connection of an
//!   attached pipe is lost, libzmq "hiccups" the pipe: what was queued for it is dropped (counted in
//!   `dropped_on_close`) and every current subscription is queued again for the next connection.
//! - Sending never blocks: a full pipe misses what is sent to all (counted in `dropped_full`), subscriptions
//!   included, as in libzmq.
//! - Receiving is fair-queued. SUB drops (counts in `discarded`) a message whose first frame matches no
//!   subscription prefix; XSUB hands everything out.
//! - SUB: [`SubState::subscribe`] / [`SubState::unsubscribe`] (`ZMQ_SUBSCRIBE` / `ZMQ_UNSUBSCRIBE`); `send` is
//!   `ENOTSUP`. XSUB: the application sends `01`+topic / `00`+topic messages, counted as above and forwarded
//!   unchanged (data frames, as libzmq sends them even to 3.1 peers); any other message goes to every pipe.
//!
//! Deliberate difference: only a message's first frame is looked at for `01`/`00` (libzmq 4.3 without
//! `ZMQ_ONLY_FIRST_SUBSCRIBE` looks at every frame; subscriptions are single frames in practice).

use std::collections::BTreeMap;
use std::marker::PhantomData;

use bytes::Bytes;

use super::pipe::{pipe_queues, Pipes};
use super::{AppSocket, Output, PipeOptions, SendError, SocketState, SocketStats, Token};
use crate::zmtp::command::Subscription;
use crate::zmtp::session::PeerInfo;

/// Which of SUB and XSUB a [`Subscriber`] is.
pub trait Kind {
  /// Whether received messages are filtered by the subscriptions (SUB).
  const FILTER: bool;
}

/// The SUB kind: subscriptions through methods, local filtering.
#[derive(Debug)]
pub struct Sub;

/// The XSUB kind: subscriptions as messages, no filtering.
#[derive(Debug)]
pub struct XSub;

impl Kind for Sub {
  const FILTER: bool = true;
}

impl Kind for XSub {
  const FILTER: bool = false;
}

/// The SUB state.
pub type SubState = Subscriber<Sub>;
/// The XSUB state.
pub type XSubState = Subscriber<XSub>;

/// A subscriber's state: pipes and counted subscriptions.
#[derive(Debug)]
pub struct Subscriber<K> {
  pipes: Pipes,
  /// Topic -> how many times it is subscribed.
  subs: BTreeMap<Bytes, usize>,
  verbose_unsubs: bool,
  kind: PhantomData<K>,
}

impl<K: Kind> Subscriber<K> {
  /// A subscriber whose pipes are bounded by `opts`.
  pub fn new(opts: PipeOptions) -> Self {
    Self {
      pipes: Pipes::new(opts),
      subs: BTreeMap::new(),
      verbose_unsubs: false,
      kind: PhantomData,
    }
  }

  /// `ZMQ_XSUB_VERBOSE_UNSUBSCRIBE`: every unsubscribe goes out, not only the one that ends a topic.
  pub fn set_verbose_unsubscribe(&mut self, on: bool) {
    self.verbose_unsubs = on;
  }

  /// The subscribed topics with their counts.
  pub fn subscriptions(&self) -> impl Iterator<Item = (&Bytes, usize)> {
    self.subs.iter().map(|(t, n)| (t, *n))
  }

  /// Counters.
  pub fn stats(&self) -> &SocketStats {
    &self.pipes.stats
  }

  fn add(&mut self, topic: Bytes) {
    *self.subs.entry(topic).or_default() += 1;
  }

  /// Counts `topic` down; whether an unsubscribe goes out.
  fn remove(&mut self, topic: &[u8]) -> bool {
    let last = match self.subs.get_mut(topic) {
      None => return self.verbose_unsubs,
      Some(n) => {
        *n -= 1;
        *n == 0
      }
    };
    if last {
      self.subs.remove(topic);
    }
    last || self.verbose_unsubs
  }

  /// Whether some subscription is a prefix of `first`.
  fn matches(&self, first: &[u8]) -> bool {
    if self.subs.len() <= first.len() {
      self.subs.keys().any(|t| first.starts_with(t))
    } else {
      (0..=first.len()).any(|i| self.subs.contains_key(&first[..i]))
    }
  }

  /// Queues every current subscription for `token` (libzmq's `xattach_pipe` / `xhiccuped`).
  fn send_all_subscriptions(&mut self, token: Token) {
    let topics: Vec<Bytes> = self.subs.keys().cloned().collect();
    for topic in topics {
      let sub = Output::Subscription(Subscription::Subscribe(topic));
      if self.pipes.push_to(token, sub).is_err() {
        self.pipes.stats.dropped_full += 1;
      }
    }
  }
}

impl<K: Kind> SocketState for Subscriber<K> {
  type Event = Vec<Bytes>;

  pipe_queues!(pipes);

  fn on_attach(&mut self, token: Token) {
    if self.pipes.attach(token) {
      self.send_all_subscriptions(token);
    }
  }

  fn on_ready(&mut self, token: Token, _peer: &PeerInfo) -> Result<(), &'static str> {
    if self.pipes.ready(token) {
      self.send_all_subscriptions(token);
    }
    Ok(())
  }

  fn on_message(&mut self, token: Token, frames: Vec<Bytes>) {
    self.pipes.push_input(token, frames);
  }

  fn on_gone(&mut self, token: Token) {
    if !self.pipes.gone(token) && self.pipes.is_live(token) {
      // An attached pipe hiccups: a fresh queue holding every subscription waits for the next connection.
      self.pipes.clear_output(token);
      self.send_all_subscriptions(token);
    }
  }

  fn on_detach(&mut self, token: Token) {
    self.pipes.detach(token);
  }

  fn poll_event(&mut self) -> Option<Vec<Bytes>> {
    while let Some((_, msg)) = self.pipes.poll_input() {
      let keep = !K::FILTER || msg.first().is_some_and(|f| self.matches(f));
      if keep {
        return Some(msg);
      }
      self.pipes.stats.discarded += 1;
    }
    None
  }
}

impl SubState {
  /// `ZMQ_SUBSCRIBE`: counts `topic` up and sends a subscribe to every pipe (every time).
  pub fn subscribe(&mut self, topic: Bytes) {
    self.add(topic.clone());
    let sub = Output::Subscription(Subscription::Subscribe(topic));
    self.pipes.send_to_all(&sub);
  }

  /// `ZMQ_UNSUBSCRIBE`: counts `topic` down and sends a cancel to every pipe when it reaches 0. Returns
  /// whether a cancel went out.
  pub fn unsubscribe(&mut self, topic: Bytes) -> bool {
    let goes_out = self.remove(&topic);
    if goes_out {
      let cancel = Output::Subscription(Subscription::Cancel(topic));
      self.pipes.send_to_all(&cancel);
    }
    goes_out
  }
}

impl AppSocket for SubState {
  /// libzmq's SUB has no send: `ENOTSUP` (subscribe with [`SubState::subscribe`]).
  fn send(&mut self, _msg: Vec<Bytes>) -> Result<(), SendError> {
    Err(SendError::NotSupported)
  }

  fn can_send(&self) -> bool {
    false
  }

  fn poll_woken(&mut self) -> Option<Token> {
    self.pipes.poll_woken()
  }
}

impl AppSocket for XSubState {
  /// `01`+topic subscribes, `00`+topic unsubscribes (forwarded only when it ends the topic), anything else is
  /// data; what goes out goes unchanged to every pipe. Never blocks.
  fn send(&mut self, msg: Vec<Bytes>) -> Result<(), SendError> {
    let first = msg.first().ok_or(SendError::Invalid)?.clone();
    let goes_out = match Subscription::from_message(&first) {
      Some(Subscription::Subscribe(topic)) => {
        self.add(topic);
        true
      }
      Some(Subscription::Cancel(topic)) => self.remove(&topic),
      None => true,
    };
    if goes_out {
      self.pipes.send_to_all(&Output::Message(msg));
    }
    Ok(())
  }

  fn can_send(&self) -> bool {
    true
  }

  fn poll_woken(&mut self) -> Option<Token> {
    self.pipes.poll_woken()
  }
}

#[cfg(test)]
#[path = "subscriber_tests.rs"]
mod tests;
