//! PAIR as libzmq implements it: exactly one peer. The first pipe (an attached endpoint or an accepted
//! connection) is the peer; any later connection is refused (`on_ready` errs, counted in `refused`, and the
//! driver closes it; libzmq terminates that pipe). Messages pass unchanged both ways; `send` blocks
//! ([`SendError::WouldBlock`]) with no peer or a full pipe. When an accepted peer leaves, a new one may come;
//! an attached peer stays the peer across its reconnects until it is detached.

use bytes::Bytes;

use super::pipe::{pipe_queues, Pipes};
use super::{AppSocket, Output, PipeOptions, SendError, SocketState, SocketStats, Token};
use crate::zmtp::session::PeerInfo;

/// The PAIR state: at most one pipe.
#[derive(Debug)]
pub struct PairState {
  pipes: Pipes,
  peer: Option<Token>,
}

impl PairState {
  /// A PAIR whose pipe is bounded by `opts`.
  pub fn new(opts: PipeOptions) -> Self {
    Self {
      pipes: Pipes::new(opts),
      peer: None,
    }
  }

  /// The connection (or attached endpoint) that is the peer.
  pub fn peer(&self) -> Option<Token> {
    self.peer
  }

  /// Counters.
  pub fn stats(&self) -> &SocketStats {
    &self.pipes.stats
  }
}

impl SocketState for PairState {
  type Event = Vec<Bytes>;

  pipe_queues!(pipes);

  fn on_attach(&mut self, token: Token) {
    // A second endpoint gets no pipe: its connections are refused at `on_ready`.
    if self.peer.is_none() {
      self.peer = Some(token);
      self.pipes.attach(token);
    }
  }

  fn on_ready(&mut self, token: Token, _peer: &PeerInfo) -> Result<(), &'static str> {
    match self.peer {
      Some(p) if p != token => {
        self.pipes.stats.refused += 1;
        Err("pair_has_a_peer")
      }
      _ => {
        self.peer = Some(token);
        self.pipes.ready(token);
        Ok(())
      }
    }
  }

  fn on_message(&mut self, token: Token, frames: Vec<Bytes>) {
    self.pipes.push_input(token, frames);
  }

  fn on_gone(&mut self, token: Token) {
    if self.peer == Some(token) && self.pipes.gone(token) {
      self.peer = None;
    }
  }

  fn on_detach(&mut self, token: Token) {
    if self.peer == Some(token) {
      self.pipes.detach(token);
      self.peer = None;
    }
  }

  fn poll_event(&mut self) -> Option<Vec<Bytes>> {
    self.pipes.poll_input().map(|(_, msg)| msg)
  }
}

impl AppSocket for PairState {
  fn send(&mut self, msg: Vec<Bytes>) -> Result<(), SendError> {
    if msg.is_empty() {
      return Err(SendError::Invalid);
    }
    let token = self.peer.ok_or(SendError::WouldBlock)?;
    self
      .pipes
      .push_to(token, Output::Message(msg))
      .map_err(|_| SendError::WouldBlock)
  }

  fn can_send(&self) -> bool {
    self.peer.is_some_and(|t| self.pipes.has_room(t, 0))
  }

  fn poll_woken(&mut self) -> Option<Token> {
    self.pipes.poll_woken()
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::zmtp::socket::testutil::{events, m, peer, sent};

  #[test]
  fn a_second_connection_is_refused_and_counted() {
    let mut p = PairState::new(PipeOptions::default());
    p.on_ready(1, &peer("PAIR")).unwrap();
    assert_eq!(p.on_ready(2, &peer("PAIR")), Err("pair_has_a_peer"));
    assert_eq!(p.stats().refused, 1);
    p.on_message(2, m(&[b"ignored"]));
    p.on_gone(2);
    p.on_message(1, m(&[b"a", b"b"]));
    assert_eq!(events(&mut p), [m(&[b"a", b"b"])]);
    assert_eq!(p.peer(), Some(1));
  }

  #[test]
  fn send_blocks_without_a_peer_or_with_a_full_pipe() {
    let mut p = PairState::new(PipeOptions {
      sndhwm: 1,
      ..PipeOptions::default()
    });
    assert_eq!(p.send(m(&[b"x"])), Err(SendError::WouldBlock));
    assert!(!p.can_send());
    p.on_ready(1, &peer("PAIR")).unwrap();
    p.send(m(&[b"1"])).unwrap();
    assert_eq!(p.send(m(&[b"2"])), Err(SendError::WouldBlock));
    assert_eq!(sent(&mut p, 1), [m(&[b"1"])]);
    assert!(p.can_send());
    assert_eq!(p.send(vec![]), Err(SendError::Invalid));
  }

  #[test]
  fn when_an_accepted_peer_leaves_another_may_come_and_its_input_stays_readable() {
    let mut p = PairState::new(PipeOptions::default());
    p.on_ready(1, &peer("PAIR")).unwrap();
    p.on_message(1, m(&[b"last words"]));
    p.on_gone(1);
    assert_eq!(p.peer(), None);
    p.on_ready(2, &peer("PAIR")).unwrap();
    assert_eq!(events(&mut p), [m(&[b"last words"])]);
  }

  #[test]
  fn an_attached_peer_queues_before_connecting_keeps_its_place_and_refuses_others() {
    let mut p = PairState::new(PipeOptions::default());
    p.on_attach(1);
    p.on_attach(2);
    p.send(m(&[b"early"])).unwrap();
    assert!(p.on_ready(3, &peer("PAIR")).is_err());
    assert!(p.on_ready(2, &peer("PAIR")).is_err());
    p.on_ready(1, &peer("PAIR")).unwrap();
    p.on_gone(1);
    assert_eq!(p.peer(), Some(1));
    assert_eq!(sent(&mut p, 1), [m(&[b"early"])]);
    p.on_detach(1);
    assert_eq!(p.peer(), None);
    p.on_ready(3, &peer("PAIR")).unwrap();
  }
}
