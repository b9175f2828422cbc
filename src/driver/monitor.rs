//! Peer events of a [`Server`] for a socket monitor (libzmq's `zmq_socket_monitor`): a connect started,
//! completed, failed and retried; a bind listening or failing; a peer accepted or refused; a connection lost;
//! a listener closed. The driver reports what it does itself (no polling of anything): the events are queued
//! here while the owner has monitoring on, and the owner takes them after each turn.
//!
//! Values follow libzmq: the file descriptor for most events, the retry pause in milliseconds for
//! [`PeerEventKind::ConnectRetried`], the OS error number for the failures.

use std::collections::VecDeque;

use super::reactor::Reactor;
use super::server::{Close, Server};
use crate::zmtp::socket::{SocketState, Token};

/// Events held for an owner that does not take them; past it the oldest are dropped.
const MAX_QUEUED: usize = 4096;
/// EINPROGRESS on Linux and the BSDs: the value of a delayed connect, as libzmq reports it.
const EINPROGRESS: i64 = if cfg!(target_os = "linux") { 115 } else { 36 };

/// What happened, numbered as libzmq's `ZMQ_EVENT_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerEventKind {
  /// `ZMQ_EVENT_CONNECTED`: a connect completed (value: fd).
  Connected = 1,
  /// `ZMQ_EVENT_CONNECT_DELAYED`: a connect is in progress (value: `EINPROGRESS`).
  ConnectDelayed = 2,
  /// `ZMQ_EVENT_CONNECT_RETRIED`: the next attempt is scheduled (value: the pause in ms).
  ConnectRetried = 4,
  /// `ZMQ_EVENT_LISTENING`: a bind listens (value: fd).
  Listening = 8,
  /// `ZMQ_EVENT_BIND_FAILED` (value: errno).
  BindFailed = 16,
  /// `ZMQ_EVENT_ACCEPTED` (value: the accepted fd).
  Accepted = 32,
  /// `ZMQ_EVENT_ACCEPT_FAILED` (value: errno).
  AcceptFailed = 64,
  /// `ZMQ_EVENT_CLOSED`: a listener, or a connect attempt that failed, was closed (value: fd).
  Closed = 128,
  /// `ZMQ_EVENT_CLOSE_FAILED`: never reported here (closing a descriptor does not fail in a way we can see).
  CloseFailed = 256,
  /// `ZMQ_EVENT_DISCONNECTED`: the peer went away or was refused (value: fd).
  Disconnected = 512,
}

/// One monitor event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerEvent {
  /// What happened.
  pub kind: PeerEventKind,
  /// The fd, the retry pause in ms, or the errno (see [`PeerEventKind`]).
  pub value: i64,
  /// The endpoint concerned: the one connected to, or the bound one (resolved).
  pub endpoint: String,
}

impl<S: SocketState, R: Reactor> Server<S, R> {
  /// Turns monitor events on (queued for [`Server::take_peer_event`]) or off (dropping those queued).
  pub fn set_monitor(&mut self, on: bool) {
    self.monitor = on.then(VecDeque::new);
  }

  /// The next monitor event since the last call; look after every poll (and after a bind or unbind).
  pub fn take_peer_event(&mut self) -> Option<PeerEvent> {
    self.monitor.as_mut()?.pop_front()
  }

  /// Whether monitor events wait to be taken.
  pub fn has_peer_events(&self) -> bool {
    self.monitor.as_ref().is_some_and(|q| !q.is_empty())
  }

  /// Queues an event when monitoring is on; the endpoint is only worked out then.
  pub(super) fn peer_event(
    &mut self,
    kind: PeerEventKind,
    value: i64,
    endpoint: impl FnOnce(&Self) -> String,
  ) {
    if self.monitor.is_none() {
      return;
    }
    let endpoint = endpoint(self);
    if let Some(queue) = self.monitor.as_mut() {
      if queue.len() >= MAX_QUEUED {
        queue.pop_front();
      }
      queue.push_back(PeerEvent {
        kind,
        value,
        endpoint,
      });
    }
  }

  /// The endpoint a connection belongs to: its dialer's, or the bound endpoint that accepted it.
  pub(super) fn conn_endpoint(&self, token: Token, origin: u64) -> String {
    if let Some(dialer) = self.dialers.get(&token) {
      return dialer.endpoint.to_string();
    }
    (self.bound.iter())
      .find(|b| b.id == origin)
      .map(|b| b.endpoint.clone())
      .unwrap_or_default()
  }

  /// A connect attempt started: in progress, or already done (ipc).
  pub(super) fn monitor_dial(&mut self, token: Token, pending: bool, fd: i64) {
    let (kind, value) = if pending {
      (PeerEventKind::ConnectDelayed, EINPROGRESS)
    } else {
      (PeerEventKind::Connected, fd)
    };
    self.peer_event(kind, value, |s| s.conn_endpoint(token, 0));
  }

  /// A connection ends: a connect attempt that failed is `Closed` (libzmq closes its connecter's socket), a
  /// connection the peer ended or we refused is `Disconnected`; nothing for one we close ourselves.
  pub(super) fn monitor_close(
    &mut self,
    token: Token,
    origin: u64,
    connecting: bool,
    fd: i64,
    why: &Close,
  ) {
    let kind = match why {
      Close::Local => return,
      _ if connecting => PeerEventKind::Closed,
      _ => PeerEventKind::Disconnected,
    };
    self.peer_event(kind, fd, |s| s.conn_endpoint(token, origin));
  }
}

/// The OS error number of `e`, or -1.
pub(super) fn errno(e: &std::io::Error) -> i64 {
  e.raw_os_error().map_or(-1, i64::from)
}
