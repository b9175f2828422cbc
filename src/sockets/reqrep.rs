//! The REQ and REP state machines (pure: no I/O, no clock).
//!
//! REQ puts an empty delimiter frame in front of each request, keeps one request on the wire at
//! a time (later ones wait in order, as the old `zmq` module queued them), and accepts a reply
//! only from the port the request went to and only while one is awaited; anything else is
//! dropped and counted. REP strips the envelope (routing frames up to and including the empty
//! delimiter) from a request, hands the body up, and puts the envelope back on the reply; it
//! takes no new request until the current one is answered.

use std::collections::VecDeque;

use bytes::Bytes;
use thiserror::Error;

use crate::transport::Msg;

/// What a state machine asks the event loop to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
  /// Put these frames on the wire.
  Send(Msg),
  /// Hand these frames to JavaScript as a message.
  Deliver(Msg),
}

/// Errors of the REQ/REP state machines.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum StateError {
  /// A REP socket was asked to send with no request to answer.
  #[error("REP socket has no request to reply to")]
  NoRequest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
  /// Nothing on the wire.
  Idle,
  /// A request was handed to the loop but not yet written to a port.
  Sending,
  /// The request went out on this port; its reply is awaited.
  Awaiting(usize),
}

/// The REQ side.
#[derive(Debug)]
pub struct ReqState {
  phase: Phase,
  queue: VecDeque<Msg>,
  dropped: u64,
}

impl Default for ReqState {
  fn default() -> Self {
    ReqState {
      phase: Phase::Idle,
      queue: VecDeque::new(),
      dropped: 0,
    }
  }
}

impl ReqState {
  /// A REQ with nothing sent.
  pub fn new() -> ReqState {
    ReqState::default()
  }

  /// The application sends `body`: on the wire now if idle, else queued behind the current request.
  pub fn handle_outgoing(&mut self, body: Msg, out: &mut Vec<Output>) {
    if self.phase != Phase::Idle {
      self.queue.push_back(body);
      return;
    }
    let mut frames = Vec::with_capacity(body.len() + 1);
    frames.push(Bytes::new());
    frames.extend(body);
    self.phase = Phase::Sending;
    out.push(Output::Send(frames));
  }

  /// The loop wrote the pending request to `port`; only that port may answer.
  pub fn handle_sent(&mut self, port: usize) {
    if self.phase == Phase::Sending {
      self.phase = Phase::Awaiting(port);
    }
  }

  /// A message arrived on `port`: the reply if it is awaited there and well delimited.
  pub fn handle_incoming(&mut self, port: usize, frames: Msg, out: &mut Vec<Output>) {
    let delimited = frames.first().is_some_and(|f| f.is_empty());
    if self.phase != Phase::Awaiting(port) || !delimited {
      self.dropped += 1;
      return;
    }
    out.push(Output::Deliver(frames[1..].to_vec()));
    self.phase = Phase::Idle;
    if let Some(next) = self.queue.pop_front() {
      self.handle_outgoing(next, out);
    }
  }

  /// Replies dropped because none was awaited, they came from the wrong peer, or lacked the delimiter.
  pub fn dropped(&self) -> u64 {
    self.dropped
  }

  /// Requests waiting behind the one on the wire.
  pub fn queued(&self) -> usize {
    self.queue.len()
  }
}

/// The REP side.
#[derive(Debug, Default)]
pub struct RepState {
  /// Envelope of the request being served (routing frames plus the empty delimiter).
  envelope: Option<Msg>,
  dropped: u64,
}

impl RepState {
  /// A REP waiting for its first request.
  pub fn new() -> RepState {
    RepState::default()
  }

  /// True while no request is being served (the loop reads the socket only then).
  pub fn wants_input(&self) -> bool {
    self.envelope.is_none()
  }

  /// A request `[identity, routing..., "", body...]` arrived; a message without the empty
  /// delimiter after its identity frame is dropped.
  pub fn handle_incoming(&mut self, mut frames: Msg, out: &mut Vec<Output>) {
    let delimiter = frames
      .iter()
      .skip(1)
      .position(|f| f.is_empty())
      .map(|i| i + 1);
    let (Some(at), true) = (delimiter, self.envelope.is_none()) else {
      self.dropped += 1;
      return;
    };
    let body = frames.split_off(at + 1);
    self.envelope = Some(frames);
    out.push(Output::Deliver(body));
  }

  /// The application replies with `body`: the frames to put on the wire.
  ///
  /// # Errors
  /// `StateError::NoRequest` when no request is being served.
  pub fn handle_outgoing(&mut self, body: Msg) -> Result<Msg, StateError> {
    let mut frames = self.envelope.take().ok_or(StateError::NoRequest)?;
    frames.extend(body);
    Ok(frames)
  }

  /// Requests dropped for a missing delimiter.
  pub fn dropped(&self) -> u64 {
    self.dropped
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn msg(frames: &[&'static [u8]]) -> Msg {
    frames.iter().map(|f| Bytes::from_static(f)).collect()
  }

  #[test]
  fn request_goes_out_with_an_empty_delimiter_in_front() {
    let mut req = ReqState::new();
    let mut out = Vec::new();
    req.handle_outgoing(msg(&[b"hello", b"x"]), &mut out);
    assert_eq!(out, vec![Output::Send(msg(&[b"", b"hello", b"x"]))]);
  }

  #[test]
  fn second_request_waits_until_the_first_is_answered() {
    let mut req = ReqState::new();
    let mut out = Vec::new();
    req.handle_outgoing(msg(&[b"one"]), &mut out);
    req.handle_outgoing(msg(&[b"two"]), &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(req.queued(), 1);
    req.handle_sent(0);
    out.clear();
    req.handle_incoming(0, msg(&[b"", b"re-one"]), &mut out);
    assert_eq!(
      out,
      vec![
        Output::Deliver(msg(&[b"re-one"])),
        Output::Send(msg(&[b"", b"two"]))
      ]
    );
  }

  #[test]
  fn reply_from_another_port_is_dropped() {
    let mut req = ReqState::new();
    let mut out = Vec::new();
    req.handle_outgoing(msg(&[b"q"]), &mut out);
    req.handle_sent(2);
    out.clear();
    req.handle_incoming(1, msg(&[b"", b"stray"]), &mut out);
    assert!(out.is_empty());
    assert_eq!(req.dropped(), 1);
    req.handle_incoming(2, msg(&[b"", b"mine"]), &mut out);
    assert_eq!(out, vec![Output::Deliver(msg(&[b"mine"]))]);
  }

  #[test]
  fn unsolicited_or_undelimited_replies_are_dropped() {
    let mut req = ReqState::new();
    let mut out = Vec::new();
    req.handle_incoming(0, msg(&[b"", b"early"]), &mut out);
    req.handle_outgoing(msg(&[b"q"]), &mut out);
    out.clear();
    req.handle_incoming(0, msg(&[b"", b"before sent"]), &mut out);
    req.handle_sent(0);
    req.handle_incoming(0, msg(&[b"no delimiter"]), &mut out);
    assert!(out.is_empty());
    assert_eq!(req.dropped(), 3);
  }

  #[test]
  fn rep_strips_the_envelope_and_puts_it_back_on_the_reply() {
    let mut rep = RepState::new();
    let mut out = Vec::new();
    rep.handle_incoming(msg(&[b"peer-1", b"hop", b"", b"what time", b""]), &mut out);
    assert_eq!(out, vec![Output::Deliver(msg(&[b"what time", b""]))]);
    assert!(!rep.wants_input());
    let wire = rep.handle_outgoing(msg(&[b"noon"])).unwrap();
    assert_eq!(wire, msg(&[b"peer-1", b"hop", b"", b"noon"]));
    assert!(rep.wants_input());
  }

  #[test]
  fn rep_reply_without_a_request_is_an_error() {
    let mut rep = RepState::new();
    assert_eq!(
      rep.handle_outgoing(msg(&[b"x"])),
      Err(StateError::NoRequest)
    );
  }

  #[test]
  fn rep_drops_a_request_without_delimiter_and_stays_ready() {
    let mut rep = RepState::new();
    let mut out = Vec::new();
    rep.handle_incoming(msg(&[b"peer", b"body"]), &mut out);
    assert!(out.is_empty());
    assert_eq!(rep.dropped(), 1);
    assert!(rep.wants_input());
  }

  #[test]
  fn rep_with_an_empty_body_keeps_the_delimiter_in_the_envelope() {
    let mut rep = RepState::new();
    let mut out = Vec::new();
    rep.handle_incoming(msg(&[b"p", b""]), &mut out);
    assert_eq!(out, vec![Output::Deliver(vec![])]);
    assert_eq!(
      rep.handle_outgoing(msg(&[b"r"])).unwrap(),
      msg(&[b"p", b"", b"r"])
    );
  }
}
