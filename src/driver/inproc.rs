//! `inproc://` connections of a [`Server`]: a pipe is one of the in-process hub's channel pairs
//! (`crate::transport::inproc`), with no ZMTP session. A message read from it goes straight to
//! [`SocketState::on_message`]; what the state has for it ([`SocketState::take_output`]) goes straight into
//! it. A subscription travels as its 3.0 message form (`01`/`00` + topic), which every PUB/XPUB state reads
//! from a message. So every socket state works over inproc unchanged.
//!
//! - Binding: the hub hands accepted connections to the bound name; each becomes a pipe whose peer routing
//!   id is the one the connecting socket gave.
//! - Connecting: the pipe exists at once (libzmq's inproc connect-before-bind); the hub parks it until a
//!   binder takes it, and a link-up event follows the bind. A connected pipe never reconnects (libzmq's inproc
//!   pipes end with their peer): when the peer goes, the state is told, and the pipe stays attached until
//!   `disconnect`.
//! - Back-pressure: a full channel holds the state's queue; a reservation future registers the wake-up for
//!   room. Reading stops while the state does not want input (`RCVHWM`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use tokio::sync::mpsc::error::{SendError, TrySendError};
use tokio::sync::mpsc::OwnedPermit;
use tokio::sync::oneshot;

use super::listen::BoundKind;
use super::reactor::Reactor;
use super::server::{LinkEvent, Server};
use crate::transport::inproc::{self, Incoming, PipeEnd};
use crate::transport::{Endpoint, Msg, SocketKind};
use crate::zmtp::command::{Properties, Subscription};
use crate::zmtp::greeting::Version;
use crate::zmtp::socket::{Output, SocketState, Token};
use crate::zmtp::PeerInfo;

/// Messages read from one pipe per turn before the others get theirs.
const READ_BATCH: usize = 256;

type Reserve = Pin<Box<dyn Future<Output = Result<OwnedPermit<Msg>, SendError<()>>> + Send>>;

/// One inproc connection.
pub(super) struct Pipe {
  end: PipeEnd,
  /// The endpoint for a connected pipe; `None` for an accepted one.
  dialed: Option<Endpoint>,
  /// Resolves when a binder took a connected pipe.
  accepted: Option<oneshot::Receiver<()>>,
  /// The state knows this pipe as a peer (`on_ready` done, `on_gone` not yet).
  ready: bool,
  /// A wake-up for room in the peer's channel.
  reserve: Option<Reserve>,
  /// The bound endpoint that accepted it (0 for a connected pipe).
  origin: u64,
}

/// The hub's kind for a socket type (the hub knows fewer kinds than ZMTP; inproc checks no more than this,
/// as libzmq's inproc does not compare socket types at all).
fn hub_kind(socket_type: &str) -> SocketKind {
  match socket_type {
    "ROUTER" | "REP" => SocketKind::Router,
    "PUB" => SocketKind::Pub,
    "XPUB" => SocketKind::XPub,
    "SUB" | "XSUB" => SocketKind::Sub,
    "PUSH" => SocketKind::Push,
    "PULL" => SocketKind::Pull,
    _ => SocketKind::Dealer,
  }
}

fn peer_info(kind: Option<SocketKind>, identity: Bytes) -> PeerInfo {
  let socket_type = kind.map(|k| format!("{k:?}").to_ascii_uppercase());
  PeerInfo {
    socket_type: socket_type.unwrap_or_default(),
    identity,
    properties: Properties::default(),
    user_id: None,
    version: Version::V30,
  }
}

/// A state's output as an inproc message (subscriptions in their 3.0 message form).
fn encode(out: Output) -> Msg {
  match out {
    Output::Message(m) => m,
    Output::Raw(m) => m.frames(),
    Output::Subscription(sub) => {
      let (flag, topic) = match sub {
        Subscription::Subscribe(t) => (1u8, t),
        Subscription::Cancel(t) => (0u8, t),
      };
      let mut frame = BytesMut::with_capacity(topic.len() + 1);
      frame.put_u8(flag);
      frame.put_slice(&topic);
      vec![frame.freeze()]
    }
  }
}

impl<S: SocketState, R: Reactor> Server<S, R> {
  /// The hub's kind for this server's socket type.
  pub(super) fn inproc_kind(&self) -> SocketKind {
    hub_kind(&self.config.session.socket_type)
  }

  /// Connects to `inproc://name` (parked in the hub until it is bound); returns the pipe's lasting token.
  pub fn connect_inproc(&mut self, name: &str) -> Token {
    let token = self.take_token();
    let identity = self.config.session.identity.clone();
    let id = (!identity.is_empty()).then_some(identity);
    let pending = inproc::connect(name, self.inproc_kind(), id, self.config.hwm);
    let pipe = Pipe {
      end: pending.end,
      dialed: Some(Endpoint::Inproc(name.to_string())),
      accepted: Some(pending.accepted),
      ready: false,
      reserve: None,
      origin: 0,
    };
    self.pipes.insert(token, pipe);
    if !self.config.immediate {
      self.state.on_attach(token);
    }
    // The binder's routing id does not travel through the hub: a connecting ROUTER names it by a
    // generated id.
    let ok = self.state.on_ready(token, &peer_info(None, Bytes::new()));
    if let (Ok(()), Some(pipe)) = (ok, self.pipes.get_mut(&token)) {
      pipe.ready = true;
    }
    token
  }

  /// The token of the inproc endpoint connected as `endpoint`.
  pub(super) fn inproc_token(&self, endpoint: &Endpoint) -> Option<Token> {
    let mut found = self.pipes.iter();
    found
      .find(|(_, p)| p.dialed.as_ref() == Some(endpoint))
      .map(|(t, _)| *t)
  }

  /// Ends a connected inproc pipe for good; false when `token` is none.
  pub(super) fn disconnect_inproc(&mut self, token: Token) -> bool {
    if self.pipes.get(&token).is_none_or(|p| p.dialed.is_none()) {
      return false;
    }
    self.pipe_gone(token, true);
    true
  }

  /// Closes every inproc pipe (the socket closes).
  pub(super) fn close_inproc(&mut self) {
    let tokens: Vec<Token> = self.pipes.keys().copied().collect();
    for token in tokens {
      self.pipe_gone(token, true);
    }
  }

  /// Closes the pipes accepted by the bound endpoint `origin` (it was unbound).
  pub(super) fn close_inproc_from(&mut self, origin: u64) {
    let from: Vec<Token> = (self.pipes.iter())
      .filter(|(_, p)| p.origin == origin && p.dialed.is_none())
      .map(|(t, _)| *t)
      .collect();
    for token in from {
      self.pipe_gone(token, true);
    }
  }

  /// The peer side of `token` is gone (or we end it, `detach`): the state is told; an accepted pipe, or a
  /// detached one, is dropped, which the peer sees as its channel closing.
  fn pipe_gone(&mut self, token: Token, detach: bool) {
    let Some(pipe) = self.pipes.get_mut(&token) else {
      return;
    };
    let dialed = pipe.dialed.is_some();
    if std::mem::take(&mut pipe.ready) {
      self.state.on_gone(token);
      if dialed {
        self.links.push_back(LinkEvent { token, up: false });
      }
    }
    if !dialed || detach {
      self.pipes.remove(&token);
    }
    if dialed && detach {
      self.state.on_detach(token);
    }
  }

  fn accept_inproc(&mut self, origin: u64, incoming: Incoming) {
    let (identity, kind, end) = incoming.accept();
    let token = self.take_token();
    let info = peer_info(Some(kind), identity.unwrap_or_default());
    self.pipes.insert(
      token,
      Pipe {
        end,
        dialed: None,
        accepted: None,
        ready: false,
        reserve: None,
        origin,
      },
    );
    match self.state.on_ready(token, &info) {
      Ok(()) => {
        if let Some(pipe) = self.pipes.get_mut(&token) {
          pipe.ready = true;
        }
      }
      // Refused (a second PAIR peer, a bad routing id): dropping the pipe tells the connecting side.
      Err(_) => {
        self.pipes.remove(&token);
      }
    }
  }

  /// Accepts on inproc names, reads every pipe (fairly, bounded), and registers wake-ups. True when
  /// something happened.
  pub(super) fn poll_inproc(&mut self, cx: &mut Context<'_>) -> bool {
    let mut fresh = Vec::new();
    for bound in &mut self.bound {
      if let BoundKind::Inproc(listener) = &mut bound.kind {
        while let Poll::Ready(Some(incoming)) = listener.poll_accept(cx) {
          fresh.push((bound.id, incoming));
        }
      }
    }
    let mut progressed = !fresh.is_empty();
    for (origin, incoming) in fresh {
      self.accept_inproc(origin, incoming);
    }
    if self.pipes.is_empty() {
      return progressed;
    }
    let tokens: Vec<Token> = self.pipes.keys().copied().collect();
    for token in tokens {
      progressed |= self.poll_pipe(token, cx);
    }
    progressed
  }

  fn poll_pipe(&mut self, token: Token, cx: &mut Context<'_>) -> bool {
    let Some(pipe) = self.pipes.get_mut(&token) else {
      return false;
    };
    let mut progressed = false;
    if let Some(rx) = pipe.accepted.as_mut() {
      if let Poll::Ready(result) = Pin::new(rx).poll(cx) {
        pipe.accepted = None;
        progressed = true;
        if result.is_ok() && pipe.ready {
          self.links.push_back(LinkEvent { token, up: true });
        }
      }
    }
    progressed |= self.poll_room(token, cx);
    progressed |= self.read_pipe(token, cx);
    progressed
  }

  /// A reservation for room in the peer's channel: when granted, the queue moves on.
  fn poll_room(&mut self, token: Token, cx: &mut Context<'_>) -> bool {
    let Some(pipe) = self.pipes.get_mut(&token) else {
      return false;
    };
    let Some(reserve) = pipe.reserve.as_mut() else {
      return false;
    };
    let Poll::Ready(result) = reserve.as_mut().poll(cx) else {
      return false;
    };
    pipe.reserve = None;
    match result {
      Ok(permit) => {
        if let Some(out) = self.state.take_output(token) {
          permit.send(encode(out));
        }
        self.flush_pipe(token);
      }
      // The peer is gone; its end of the read side says so too.
      Err(_) => self.pipe_gone(token, false),
    }
    true
  }

  fn read_pipe(&mut self, token: Token, cx: &mut Context<'_>) -> bool {
    let mut progressed = false;
    for _ in 0..READ_BATCH {
      let Some(pipe) = self.pipes.get_mut(&token) else {
        return progressed;
      };
      if !pipe.ready || !self.state.wants_input(token) {
        return progressed;
      }
      match pipe.end.rx.poll_recv(cx) {
        Poll::Ready(Some(msg)) => {
          progressed = true;
          self.state.on_message(token, msg);
          if let Some((bad, _reason)) = self.state.take_violation() {
            // A protocol error ends that pipe, as libzmq's session would end its connection.
            self.pipe_gone(bad, false);
          }
        }
        Poll::Ready(None) => {
          self.pipe_gone(token, false);
          return true;
        }
        Poll::Pending => return progressed,
      }
    }
    // More may be there: the caller's turn loop comes back.
    true
  }

  /// Whether a pipe with a live peer has messages the state still holds.
  pub(super) fn pipes_unsent(&self) -> bool {
    (self.pipes.iter()).any(|(t, p)| p.ready && self.state.has_output(*t))
  }

  /// Moves what the state has for every pipe into the channels, until one is full.
  pub(super) fn flush_pipes(&mut self) {
    if self.pipes.is_empty() {
      return;
    }
    let tokens: Vec<Token> = self.pipes.keys().copied().collect();
    for token in tokens {
      self.flush_pipe(token);
    }
  }

  fn flush_pipe(&mut self, token: Token) {
    loop {
      let Some(pipe) = self.pipes.get_mut(&token) else {
        return;
      };
      if pipe.reserve.is_some() || !self.state.has_output(token) {
        return;
      }
      if pipe.end.tx.is_closed() {
        return self.pipe_gone(token, false);
      }
      if pipe.end.tx.capacity() == 0 {
        pipe.reserve = Some(Box::pin(pipe.end.tx.clone().reserve_owned()));
        self.pipes_unpolled = true;
        return;
      }
      let Some(out) = self.state.take_output(token) else {
        return;
      };
      // This end's sender is the only one sending now (a reservation exists only while `reserve` is set),
      // so the room just seen is still there.
      let Some(pipe) = self.pipes.get_mut(&token) else {
        return;
      };
      if let Err(TrySendError::Closed(_)) = pipe.end.tx.try_send(encode(out)) {
        return self.pipe_gone(token, false);
      }
    }
  }
}
