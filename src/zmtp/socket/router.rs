//! ROUTER semantics as libzmq implements them, over connections a driver names by [`Token`].
//!
//! - Routing id: the peer's `Identity` property when it is non-empty and no other peer holds it; an empty one
//!   gets a generated id, `00` + u32 BE from a counter that starts where the driver says (libzmq starts it at a
//!   random value). A peer whose `Identity` is taken is kept but ignored (libzmq without `ROUTER_HANDOVER`):
//!   nothing it sends is delivered and nothing can be routed to it. It is tried again at each of its messages,
//!   so once the older holder of that id is gone the newcomer takes it over.
//! - Incoming `(token, frames)` becomes `[id, frames...]`; outgoing `[id, frames...]` goes into that peer's
//!   pipe, or fails with [`RouteError::Unroutable`] (libzmq drops those silently without `ROUTER_MANDATORY`;
//!   the caller decides, and it is counted either way).
//! - Each pipe holds at most `hwm` messages and `hwm_bytes` bytes; a message over either is dropped and counted
//!   ([`RouteError::Full`]), as a ROUTER does: it never blocks. A pipe ends with its connection, and what it
//!   still held is dropped with it.
//! - [`RouterEvent::Connected`] and [`RouterEvent::Gone`] tell the application when a routing id appears and
//!   disappears.
//! - As an [`super::AppSocket`], a ROUTER without `ROUTER_MANDATORY` drops unroutable messages and messages to
//!   a full peer silently (`send` succeeds; both are counted). With it ([`RouterState::set_mandatory`]), an
//!   unknown id is [`super::SendError::Unroutable`] (`EHOSTUNREACH`) and a full peer
//!   [`super::SendError::WouldBlock`] (`EAGAIN`).

use std::collections::VecDeque;

use bytes::{BufMut, Bytes, BytesMut};
use thiserror::Error;

/// A driver's name for one connection.
pub type Token = u64;

/// Longest routing id libzmq accepts (`ZMQ_ROUTING_ID` is 1-255 bytes).
pub const MAX_ID_LEN: usize = 255;

/// What a ROUTER tells its application, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouterEvent {
  /// A peer finished its handshake and can be routed to under this id.
  Connected(Bytes),
  /// A message: `[id, frames...]`.
  Message(Vec<Bytes>),
  /// The peer that held this id is gone; what was queued for it is dropped.
  Gone(Bytes),
}

/// Why a message could not be routed, or a peer could not be taken.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RouteError {
  /// No connected peer holds this routing id.
  #[error("no peer with this routing id")]
  Unroutable,
  /// The peer's pipe is at its high-water mark; the message was dropped.
  #[error("the peer's queue is full")]
  Full,
  /// A message needs a routing id frame and at least one more frame.
  #[error("a ROUTER message needs a routing id and a body")]
  Invalid,
  /// A peer announced an `Identity` longer than 255 bytes (its connection should be closed).
  #[error("identity of {0} bytes, at most 255 allowed")]
  BadIdentity(usize),
}

/// Counters of a ROUTER.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouterStats {
  /// Messages dropped because their peer's pipe was full.
  pub dropped_full: u64,
  /// Messages for a routing id no peer holds.
  pub unroutable: u64,
  /// Peers that announced an `Identity` another peer held.
  pub duplicate_ids: u64,
  /// Messages from peers ignored for a duplicate id.
  pub dropped_anonymous: u64,
  /// Messages still queued for a peer when it went away.
  pub dropped_on_close: u64,
}

#[derive(Debug, Default)]
struct Pipe {
  /// The routing id; `None` while the peer's wanted id is held by another peer.
  id: Option<Bytes>,
  /// The `Identity` the peer announced.
  wanted: Bytes,
  queue: VecDeque<Vec<Bytes>>,
  queued_bytes: usize,
  /// Listed in `RouterState::woken`.
  woken: bool,
}

/// The ROUTER state: pipes by connection, routing ids, events.
#[derive(Debug)]
pub struct RouterState {
  pipes: crate::zmtp::FastMap<Token, Pipe>,
  by_id: crate::zmtp::FastMap<Bytes, Token>,
  next_id: u32,
  hwm: usize,
  hwm_bytes: usize,
  events: VecDeque<RouterEvent>,
  stats: RouterStats,
  mandatory: bool,
  woken: VecDeque<Token>,
}

impl RouterState {
  /// A ROUTER whose pipes hold at most `hwm` messages and `hwm_bytes` bytes each (one message always fits),
  /// and whose generated ids count up from `first_id`.
  pub fn new(hwm: usize, hwm_bytes: usize, first_id: u32) -> Self {
    Self {
      pipes: Default::default(),
      by_id: Default::default(),
      next_id: first_id,
      hwm: hwm.max(1),
      hwm_bytes,
      events: VecDeque::new(),
      stats: RouterStats::default(),
      mandatory: false,
      woken: VecDeque::new(),
    }
  }

  /// Connection `token` finished its handshake announcing `identity` (empty if none).
  ///
  /// # Errors
  /// [`RouteError::BadIdentity`] for an identity over 255 bytes: the driver closes that connection.
  pub fn handle_ready(&mut self, token: Token, identity: Bytes) -> Result<(), RouteError> {
    if identity.len() > MAX_ID_LEN {
      return Err(RouteError::BadIdentity(identity.len()));
    }
    let mut pipe = Pipe {
      wanted: identity,
      ..Pipe::default()
    };
    if pipe.wanted.is_empty() {
      pipe.id = Some(self.generate_id());
    } else if !self.by_id.contains_key(&pipe.wanted) {
      pipe.id = Some(pipe.wanted.clone());
    } else {
      self.stats.duplicate_ids += 1;
    }
    if let Some(id) = &pipe.id {
      self.by_id.insert(id.clone(), token);
      self.events.push_back(RouterEvent::Connected(id.clone()));
    }
    self.pipes.insert(token, pipe);
    Ok(())
  }

  fn generate_id(&mut self) -> Bytes {
    // Bounded: at most one try more than there are ids in use.
    for _ in 0..=self.by_id.len() {
      let mut id = BytesMut::with_capacity(5);
      id.put_u8(0);
      id.put_u32(self.next_id);
      self.next_id = self.next_id.wrapping_add(1);
      let id = id.freeze();
      if !self.by_id.contains_key(&id) {
        return id;
      }
    }
    // Unreachable in practice (more than 2^32 peers); an id of the right shape is still returned.
    Bytes::from_static(&[0, 0, 0, 0, 0])
  }

  /// A message from connection `token`; it becomes a [`RouterEvent::Message`] if the peer holds an id.
  pub fn handle_message(&mut self, token: Token, mut frames: Vec<Bytes>) {
    let Some(pipe) = self.pipes.get_mut(&token) else {
      return;
    };
    if pipe.id.is_none() && !self.by_id.contains_key(&pipe.wanted) {
      // The older holder of this id is gone: the newcomer takes it (libzmq re-identifies on activity).
      let id = pipe.wanted.clone();
      pipe.id = Some(id.clone());
      self.by_id.insert(id.clone(), token);
      self.events.push_back(RouterEvent::Connected(id));
    }
    match &pipe.id {
      Some(id) => {
        frames.insert(0, id.clone());
        self.events.push_back(RouterEvent::Message(frames));
      }
      None => self.stats.dropped_anonymous += 1,
    }
  }

  /// Connection `token` is gone (closed by the peer, by an error, or by us).
  pub fn handle_gone(&mut self, token: Token) {
    let Some(pipe) = self.pipes.remove(&token) else {
      return;
    };
    self.stats.dropped_on_close += pipe.queue.len() as u64;
    if let Some(id) = pipe.id {
      self.by_id.remove(&id);
      self.events.push_back(RouterEvent::Gone(id));
    }
  }

  /// Queues `[id, frames...]` for its peer and returns that peer's connection.
  ///
  /// # Errors
  /// [`RouteError::Invalid`] for fewer than two frames, [`RouteError::Unroutable`] for an unknown id,
  /// [`RouteError::Full`] when the peer's pipe is at its high-water mark (the message is dropped).
  pub fn send(&mut self, mut msg: Vec<Bytes>) -> Result<Token, RouteError> {
    if msg.len() < 2 {
      return Err(RouteError::Invalid);
    }
    let Some(&token) = self.by_id.get(&msg[0]) else {
      self.stats.unroutable += 1;
      return Err(RouteError::Unroutable);
    };
    let Some(pipe) = self.pipes.get_mut(&token) else {
      self.stats.unroutable += 1;
      return Err(RouteError::Unroutable);
    };
    let size: usize = msg[1..].iter().map(Bytes::len).sum();
    let over_bytes = !pipe.queue.is_empty() && pipe.queued_bytes + size > self.hwm_bytes;
    if pipe.queue.len() >= self.hwm || over_bytes {
      self.stats.dropped_full += 1;
      return Err(RouteError::Full);
    }
    msg.remove(0);
    pipe.queued_bytes += size;
    pipe.queue.push_back(msg);
    Ok(token)
  }

  /// Takes the oldest message queued for connection `token` (the driver encodes it into that session).
  pub fn take_message(&mut self, token: Token) -> Option<Vec<Bytes>> {
    let pipe = self.pipes.get_mut(&token)?;
    let msg = pipe.queue.pop_front()?;
    pipe.queued_bytes -= msg.iter().map(Bytes::len).sum::<usize>();
    Some(msg)
  }

  /// Whether messages wait for connection `token`.
  pub fn has_queued(&self, token: Token) -> bool {
    self.pipes.get(&token).is_some_and(|p| !p.queue.is_empty())
  }

  /// The next event, if any.
  pub fn poll_event(&mut self) -> Option<RouterEvent> {
    self.events.pop_front()
  }

  /// The connection holding routing id `id`.
  pub fn token_of(&self, id: &[u8]) -> Option<Token> {
    self.by_id.get(id).copied()
  }

  /// Peers that finished their handshake (with or without an id).
  pub fn peers(&self) -> usize {
    self.pipes.len()
  }

  /// Counters.
  pub fn stats(&self) -> &RouterStats {
    &self.stats
  }

  /// `ZMQ_ROUTER_MANDATORY`: [`super::AppSocket::send`] reports unroutable and full peers instead of
  /// dropping silently. [`RouterState::send`] is not affected (it always reports).
  pub fn set_mandatory(&mut self, on: bool) {
    self.mandatory = on;
  }
}

impl super::AppSocket for RouterState {
  /// Routes `[id, frames...]`; see the module notes for what `ROUTER_MANDATORY` changes.
  fn send(&mut self, msg: Vec<Bytes>) -> Result<(), super::SendError> {
    use super::SendError;
    match RouterState::send(self, msg) {
      Ok(token) => {
        if let Some(pipe) = self.pipes.get_mut(&token) {
          if !pipe.woken {
            pipe.woken = true;
            self.woken.push_back(token);
          }
        }
        Ok(())
      }
      Err(RouteError::Unroutable) if self.mandatory => Err(SendError::Unroutable),
      Err(RouteError::Full) if self.mandatory => Err(SendError::WouldBlock),
      Err(RouteError::Unroutable | RouteError::Full) => Ok(()),
      Err(RouteError::Invalid | RouteError::BadIdentity(_)) => Err(SendError::Invalid),
    }
  }

  /// Always, as libzmq says of a ROUTER; with `ROUTER_MANDATORY`, only while some routable peer has room.
  fn can_send(&self) -> bool {
    !self.mandatory
      || self
        .pipes
        .values()
        .any(|p| p.id.is_some() && p.queue.len() < self.hwm)
  }

  fn poll_woken(&mut self) -> Option<Token> {
    let token = self.woken.pop_front()?;
    if let Some(pipe) = self.pipes.get_mut(&token) {
      pipe.woken = false;
    }
    Some(token)
  }
}

#[cfg(test)]
#[path = "router_tests.rs"]
mod tests;

impl super::SocketState for RouterState {
  type Event = RouterEvent;

  fn on_ready(&mut self, token: Token, peer: &super::PeerInfo) -> Result<(), &'static str> {
    self
      .handle_ready(token, peer.identity.clone())
      .map_err(|_| "bad_identity")
  }

  fn on_message(&mut self, token: Token, frames: Vec<Bytes>) {
    self.handle_message(token, frames);
  }

  fn on_gone(&mut self, token: Token) {
    self.handle_gone(token);
  }

  fn take_output(&mut self, token: Token) -> Option<super::Output> {
    self.take_message(token).map(super::Output::Message)
  }

  fn has_output(&self, token: Token) -> bool {
    self.has_queued(token)
  }

  fn poll_event(&mut self) -> Option<RouterEvent> {
    RouterState::poll_event(self)
  }
}
