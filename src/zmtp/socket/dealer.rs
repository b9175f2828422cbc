//! DEALER, PUSH and PULL as libzmq implements them; none of them changes a message's frames.
//!
//! - DEALER sends round-robin over the pipes with room, counting pipes of `connect()`ed endpoints whose
//!   connection is not up yet (libzmq's default non-`IMMEDIATE` connect: messages wait there for it). When no
//!   pipe has room, `send` says [`SendError::WouldBlock`]: a DEALER blocks, it never drops. It receives
//!   fair-queued, one message per peer in turn, each peer's queue bounded by `RCVHWM`.
//! - PUSH is a DEALER that never receives: what a peer sends to it is dropped and counted (a PULL never sends).
//! - PULL is a DEALER that never sends: `send` is [`SendError::NotSupported`] (libzmq's `ENOTSUP`).

use std::convert::Infallible;

use bytes::Bytes;

use super::pipe::{pipe_lifecycle, pipe_queues, Pipes};
use super::{AppSocket, Output, PipeOptions, SendError, SocketState, SocketStats, Token};
use crate::zmtp::session::PeerInfo;

/// The DEALER state: pipes by connection, load-balanced out, fair-queued in.
#[derive(Debug)]
pub struct DealerState {
  pub(super) pipes: Pipes,
}

impl DealerState {
  /// A DEALER whose pipes are bounded by `opts`.
  pub fn new(opts: PipeOptions) -> Self {
    Self {
      pipes: Pipes::new(opts),
    }
  }

  /// Counters.
  pub fn stats(&self) -> &SocketStats {
    &self.pipes.stats
  }

  /// Pipes now: attached endpoints (connected or not) and accepted peers.
  pub fn pipes(&self) -> usize {
    self.pipes.tokens().len()
  }

  /// Queues `msg` on the next pipe with room and returns that pipe's connection (the driver flushes it).
  ///
  /// # Errors
  /// [`SendError::Invalid`] for a message without frames, [`SendError::WouldBlock`] when no pipe has room.
  pub fn send_to_next(&mut self, msg: Vec<Bytes>) -> Result<Token, SendError> {
    if msg.is_empty() {
      return Err(SendError::Invalid);
    }
    self
      .pipes
      .lb_send(Output::Message(msg))
      .ok_or(SendError::WouldBlock)
  }
}

impl SocketState for DealerState {
  type Event = Vec<Bytes>;

  pipe_lifecycle!(pipes);
  pipe_queues!(pipes);

  fn on_message(&mut self, token: Token, frames: Vec<Bytes>) {
    self.pipes.push_input(token, frames);
  }

  fn poll_event(&mut self) -> Option<Vec<Bytes>> {
    self.pipes.poll_input().map(|(_, msg)| msg)
  }
}

impl AppSocket for DealerState {
  fn send(&mut self, msg: Vec<Bytes>) -> Result<(), SendError> {
    self.send_to_next(msg).map(drop)
  }

  fn can_send(&self) -> bool {
    self.pipes.any_room(0)
  }

  fn poll_woken(&mut self) -> Option<Token> {
    self.pipes.poll_woken()
  }
}

/// The PUSH state: a DEALER that never receives.
#[derive(Debug)]
pub struct PushState {
  inner: DealerState,
}

impl PushState {
  /// A PUSH whose pipes are bounded by `opts` (only the sending bounds matter).
  pub fn new(opts: PipeOptions) -> Self {
    Self {
      inner: DealerState::new(opts),
    }
  }

  /// Counters; `discarded` counts messages peers sent to this PUSH.
  pub fn stats(&self) -> &SocketStats {
    self.inner.stats()
  }
}

impl SocketState for PushState {
  type Event = Infallible;

  pipe_lifecycle!(inner.pipes);
  pipe_queues!(inner.pipes);

  /// A PULL never sends: whatever arrives is a peer's protocol violation, dropped and counted.
  fn on_message(&mut self, _token: Token, _frames: Vec<Bytes>) {
    self.inner.pipes.stats.discarded += 1;
  }

  fn poll_event(&mut self) -> Option<Infallible> {
    None
  }
}

impl AppSocket for PushState {
  fn send(&mut self, msg: Vec<Bytes>) -> Result<(), SendError> {
    self.inner.send(msg)
  }

  fn can_send(&self) -> bool {
    self.inner.can_send()
  }

  fn poll_woken(&mut self) -> Option<Token> {
    self.inner.poll_woken()
  }
}

/// The PULL state: a DEALER that never sends.
#[derive(Debug)]
pub struct PullState {
  inner: DealerState,
}

impl PullState {
  /// A PULL whose pipes are bounded by `opts` (only the receiving bounds matter).
  pub fn new(opts: PipeOptions) -> Self {
    Self {
      inner: DealerState::new(opts),
    }
  }

  /// Counters.
  pub fn stats(&self) -> &SocketStats {
    self.inner.stats()
  }
}

impl SocketState for PullState {
  type Event = Vec<Bytes>;

  pipe_lifecycle!(inner.pipes);
  pipe_queues!(inner.pipes);

  fn on_message(&mut self, token: Token, frames: Vec<Bytes>) {
    self.inner.on_message(token, frames);
  }

  fn poll_event(&mut self) -> Option<Vec<Bytes>> {
    self.inner.poll_event()
  }
}

impl AppSocket for PullState {
  /// libzmq's PULL has no send: `ENOTSUP`.
  fn send(&mut self, _msg: Vec<Bytes>) -> Result<(), SendError> {
    Err(SendError::NotSupported)
  }

  fn can_send(&self) -> bool {
    false
  }

  fn poll_woken(&mut self) -> Option<Token> {
    None
  }
}

#[cfg(test)]
#[path = "dealer_tests.rs"]
mod tests;
