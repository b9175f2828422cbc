//! REP as libzmq 4.3 implements it (a ROUTER underneath):
//!
//! - Requests are fair-queued across peers. Each one is split at its first empty frame that has more after it:
//!   the frames up to and including it (the envelope: a DEALER's or a proxy's routing frames, then the
//!   delimiter) are kept, the rest (the body) goes to the application. A request without such a delimiter is
//!   discarded (counted).
//! - One request at a time: nothing more is received until the application replied, and a reply without a
//!   request is [`SendError::Fsm`] (`EFSM`).
//! - The reply goes to the pipe the request came from, with the saved envelope before it. If that peer is gone
//!   (or its pipe is full) the reply is dropped silently, as libzmq's ROUTER does without `ROUTER_MANDATORY`
//!   (counted in `unroutable` / `dropped_full`).
//!
//! Deliberate differences: libzmq looks up the reply pipe (and drops a reply to a full one) when it *reads*
//! the request, this state when the reply is sent; and libzmq's ROUTER ignores a peer announcing an `Identity`
//! another peer holds, while this state answers every peer by its connection and does not use identities.

use bytes::Bytes;

use super::pipe::{pipe_lifecycle, pipe_queues, Pipes, PushError};
use super::{AppSocket, Output, PipeOptions, SendError, SocketState, SocketStats, Token};
use crate::zmtp::session::PeerInfo;

/// The REP state: fair-queued pipes and the request being answered.
#[derive(Debug)]
pub struct RepState {
  pipes: Pipes,
  /// The request being answered: its pipe and its envelope (delimiter included).
  replying: Option<(Token, Vec<Bytes>)>,
}

impl RepState {
  /// A REP whose pipes are bounded by `opts`.
  pub fn new(opts: PipeOptions) -> Self {
    Self {
      pipes: Pipes::new(opts),
      replying: None,
    }
  }

  /// Whether a request was handed out and not answered yet.
  pub fn is_replying(&self) -> bool {
    self.replying.is_some()
  }

  /// Counters.
  pub fn stats(&self) -> &SocketStats {
    &self.pipes.stats
  }
}

impl SocketState for RepState {
  type Event = Vec<Bytes>;

  pipe_lifecycle!(pipes);
  pipe_queues!(pipes);

  fn on_message(&mut self, token: Token, frames: Vec<Bytes>) {
    self.pipes.push_input(token, frames);
  }

  /// The next request's body; `None` while the last one is unanswered (libzmq's `EFSM`).
  fn poll_event(&mut self) -> Option<Vec<Bytes>> {
    if self.replying.is_some() {
      return None;
    }
    while let Some((token, mut frames)) = self.pipes.poll_input() {
      // The delimiter must have more after it: the last frame never counts.
      let last = frames.len().saturating_sub(1);
      match frames[..last].iter().position(Bytes::is_empty) {
        Some(i) => {
          let body = frames.split_off(i + 1);
          self.replying = Some((token, frames));
          return Some(body);
        }
        None => self.pipes.stats.discarded += 1,
      }
    }
    None
  }
}

impl AppSocket for RepState {
  /// Sends the reply to the current request: its envelope, then `msg`.
  fn send(&mut self, msg: Vec<Bytes>) -> Result<(), SendError> {
    if msg.is_empty() {
      return Err(SendError::Invalid);
    }
    let (token, mut frames) = self.replying.take().ok_or(SendError::Fsm)?;
    frames.extend(msg);
    match self.pipes.push_to(token, Output::Message(frames)) {
      Ok(()) => {}
      Err(PushError::NoPipe) => self.pipes.stats.unroutable += 1,
      Err(PushError::Full) => self.pipes.stats.dropped_full += 1,
    }
    Ok(())
  }

  fn can_send(&self) -> bool {
    self.replying.is_some()
  }

  fn poll_woken(&mut self) -> Option<Token> {
    self.pipes.poll_woken()
  }
}

#[cfg(test)]
#[path = "rep_tests.rs"]
mod tests;
