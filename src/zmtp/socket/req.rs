//! REQ as libzmq 4.3 implements it, over the DEALER's pipes:
//!
//! - `send` puts an empty delimiter frame before the body and hands the request to the next pipe with room
//!   (round-robin, blocking with [`SendError::WouldBlock`] when none has room). Requests and replies must
//!   alternate: a second `send` before the reply is [`SendError::Fsm`] (`EFSM`), and nothing is received
//!   before a request went out.
//! - Sending a request throws away every message already received (libzmq "eats" them so that an old reply
//!   can never answer a new request).
//! - A reply is taken only from the pipe the request went to, and only if it starts with the empty delimiter;
//!   anything else is discarded (counted). If that pipe ends (an accepted peer left and what it sent was read,
//!   or an attached pipe was detached), libzmq forgets it and takes the next well-formed reply from any pipe.
//! - Below the socket, libzmq's REQ session closes a connection whose message does not start with an empty
//!   frame followed by more (or a 4-byte request id, then that): here such a message is dropped and its
//!   connection reported through [`SocketState::take_violation`].
//! - `ZMQ_REQ_RELAXED` ([`ReqState::set_relaxed`]): a new request may be sent at any time; the earlier one is
//!   abandoned. `ZMQ_REQ_CORRELATE` ([`ReqState::set_correlate`]): each request is prefixed with a 4-byte
//!   request id (a counter, in host byte order as libzmq copies it) and a reply must carry the latest one.
//!
//! The classic JS layer (`src/sockets/reqrep.rs`) queues requests while a REQ waits, as the old node `zmq`
//! module did; that queueing stays above this strict state.

use std::collections::VecDeque;

use bytes::Bytes;

use super::pipe::{pipe_queues, Pipes};
use super::{AppSocket, Output, PipeOptions, SendError, SocketState, SocketStats, Token};
use crate::zmtp::session::PeerInfo;

/// The REQ state: the DEALER's pipes plus the request/reply alternation.
#[derive(Debug)]
pub struct ReqState {
  pipes: Pipes,
  relaxed: bool,
  correlate: bool,
  /// A request went out and its reply was not read yet.
  receiving_reply: bool,
  /// The pipe the last request went to; `None` once that pipe ended.
  reply_pipe: Option<Token>,
  request_id: u32,
  violations: VecDeque<(Token, &'static str)>,
}

impl ReqState {
  /// A strict REQ whose pipes are bounded by `opts`; with `ZMQ_REQ_CORRELATE` its first request gets id
  /// `first_request_id + 1` (libzmq starts the counter at a random value).
  pub fn new(opts: PipeOptions, first_request_id: u32) -> Self {
    Self {
      pipes: Pipes::new(opts),
      relaxed: false,
      correlate: false,
      receiving_reply: false,
      reply_pipe: None,
      request_id: first_request_id,
      violations: VecDeque::new(),
    }
  }

  /// `ZMQ_REQ_RELAXED`: allow a new request while one waits for its reply (the old one is abandoned).
  pub fn set_relaxed(&mut self, on: bool) {
    self.relaxed = on;
  }

  /// `ZMQ_REQ_CORRELATE`: prefix each request with a 4-byte id and take only replies that carry it.
  pub fn set_correlate(&mut self, on: bool) {
    self.correlate = on;
  }

  /// Whether a request went out and its reply was not read yet.
  pub fn is_waiting(&self) -> bool {
    self.receiving_reply
  }

  /// Counters.
  pub fn stats(&self) -> &SocketStats {
    &self.pipes.stats
  }

  /// Whether a message has the envelope libzmq's REQ session lets through: an empty frame with more after it,
  /// optionally after a 4-byte request id.
  fn envelope_ok(frames: &[Bytes]) -> bool {
    match frames {
      [first, _, ..] if first.is_empty() => true,
      [id, delim, _, ..] => id.len() == 4 && delim.is_empty(),
      _ => false,
    }
  }

  /// The body of a reply to the current request, or `None` when it must be discarded.
  fn reply_body(&self, mut frames: Vec<Bytes>) -> Option<Vec<Bytes>> {
    let skip = if self.correlate {
      let id_ok = frames.first()?[..] == self.request_id.to_ne_bytes()[..];
      if !id_ok || frames.len() < 2 {
        return None;
      }
      1
    } else {
      0
    };
    if frames.len() < skip + 2 || !frames[skip].is_empty() {
      return None;
    }
    Some(frames.split_off(skip + 1))
  }

  /// Forgets the reply pipe once it has ended and nothing it sent is left to read (libzmq's
  /// `xpipe_terminated` comes only after the pipe was read up to its end).
  fn forget_if_ended(&mut self, token: Token) {
    let ended = !self.pipes.is_live(token) && !self.pipes.has_input(token);
    if ended && self.reply_pipe == Some(token) {
      self.reply_pipe = None;
    }
  }
}

impl SocketState for ReqState {
  type Event = Vec<Bytes>;

  pipe_queues!(pipes);

  fn on_attach(&mut self, token: Token) {
    self.pipes.attach(token);
  }

  fn on_ready(&mut self, token: Token, _peer: &PeerInfo) -> Result<(), &'static str> {
    self.pipes.ready(token);
    Ok(())
  }

  fn on_message(&mut self, token: Token, frames: Vec<Bytes>) {
    if !self.pipes.is_live(token) {
      return;
    }
    if !Self::envelope_ok(&frames) {
      self.pipes.stats.protocol_errors += 1;
      self.violations.push_back((token, "req_bad_envelope"));
      return;
    }
    self.pipes.push_input(token, frames);
  }

  fn on_gone(&mut self, token: Token) {
    if self.pipes.gone(token) {
      self.forget_if_ended(token);
    }
  }

  fn on_detach(&mut self, token: Token) {
    self.pipes.detach(token);
    self.forget_if_ended(token);
  }

  /// The body of the reply to the current request; `None` while no request waits (libzmq's `EFSM`), with the
  /// message left queued.
  fn poll_event(&mut self) -> Option<Vec<Bytes>> {
    if !self.receiving_reply {
      return None;
    }
    while let Some((token, frames)) = self.pipes.poll_input() {
      let from_reply_pipe = self.reply_pipe.is_none_or(|t| t == token);
      self.forget_if_ended(token);
      match self.reply_body(frames).filter(|_| from_reply_pipe) {
        Some(body) => {
          self.receiving_reply = false;
          return Some(body);
        }
        None => self.pipes.stats.discarded += 1,
      }
    }
    None
  }

  fn take_violation(&mut self) -> Option<(Token, &'static str)> {
    self.violations.pop_front()
  }
}

impl AppSocket for ReqState {
  /// Sends a request: `[request id,] empty, body...` to the next pipe with room.
  fn send(&mut self, msg: Vec<Bytes>) -> Result<(), SendError> {
    if msg.is_empty() {
      return Err(SendError::Invalid);
    }
    if self.receiving_reply {
      if !self.relaxed {
        return Err(SendError::Fsm);
      }
      self.receiving_reply = false;
    }
    self.reply_pipe = None;
    let mut frames = Vec::with_capacity(msg.len() + 2);
    if self.correlate {
      // libzmq counts the id up before it tries the pipe, so a blocked request uses one up too.
      self.request_id = self.request_id.wrapping_add(1);
      frames.push(Bytes::copy_from_slice(&self.request_id.to_ne_bytes()));
    }
    frames.push(Bytes::new());
    frames.extend(msg);
    let token = self
      .pipes
      .lb_send(Output::Message(frames))
      .ok_or(SendError::WouldBlock)?;
    self.reply_pipe = Some(token);
    while self.pipes.poll_input().is_some() {
      self.pipes.stats.discarded += 1;
    }
    self.receiving_reply = true;
    Ok(())
  }

  fn can_send(&self) -> bool {
    (self.relaxed || !self.receiving_reply) && self.pipes.any_room(0)
  }

  fn poll_woken(&mut self) -> Option<Token> {
    self.pipes.poll_woken()
  }
}

#[cfg(test)]
#[path = "req_tests.rs"]
mod tests;
