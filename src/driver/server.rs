//! The listening side of a socket over our ZMTP engine: listeners, every accepted connection with its
//! [`Session`], the socket's state ([`SocketState`]: a ROUTER, a PUB, a SUB sink), timers. All of it is
//! polled from ONE task (the owner's), with no task per connection: [`Server::poll_event`] accepts, reads
//! ready connections, fires timers and writes, and hands back the state's next event.
//!
//! Hostile-peer limits: everything in the session's [`crate::zmtp::Limits`] (frame size, frames per message,
//! bytes held per peer, handshake timeout), a cap on connections still in their handshake (the oldest is
//! closed when a new one would pass it), and per-peer pipes bounded in messages and bytes. An error closes
//! that one connection and is counted by its reason; nothing else is touched.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::conn::{Conn, ReadyList};
use super::dial::{DialStats, Dialer};
use super::inproc::Pipe;
use super::listen::Bound;
use super::reactor::{IoStream, Reactor, Tokio};
use crate::mdp::FastMap;
use crate::transport::DEFAULT_HWM;
use crate::zmtp::socket::{
  AppSocket, PubState, RouteError, RouterState, SendError, SocketState, Token,
};
use crate::zmtp::SessionConfig;

/// Ready connections handled in one turn before events are handed out.
const READY_BATCH: usize = 256;
/// How a listening ROUTER is configured.
#[derive(Debug, Clone)]
pub struct ServerConfig {
  /// Per-connection session config (socket type `ROUTER`, mechanism, limits, heartbeats).
  pub session: SessionConfig,
  /// Messages queued per peer before drops (`ZMQ_SNDHWM`).
  pub hwm: usize,
  /// Bytes queued per peer before drops.
  pub hwm_bytes: usize,
  /// Most connections in their handshake at once; past it the oldest is closed.
  pub max_pending: usize,
  /// Pause before a connected endpoint is dialled again (`ZMQ_RECONNECT_IVL`, libzmq's 100 ms).
  pub reconnect_ivl: Duration,
  /// Longest pause when each failed attempt doubles it (`ZMQ_RECONNECT_IVL_MAX`; 0 = no backoff, libzmq's
  /// default).
  pub reconnect_ivl_max: Duration,
  /// `ZMQ_IMMEDIATE`: a connected endpoint gets its pipe only while its connection is up (messages are not
  /// queued for a peer that is not there, and go to the connected ones instead).
  pub immediate: bool,
  /// Kernel options of tcp streams and listeners (`ZMQ_SNDBUF`, `ZMQ_TCP_KEEPALIVE*`, `ZMQ_BACKLOG`...).
  pub tcp: super::tune::TcpTuning,
}

impl Default for ServerConfig {
  fn default() -> Self {
    Self {
      session: SessionConfig::new("ROUTER"),
      hwm: DEFAULT_HWM,
      hwm_bytes: 64 << 20,
      max_pending: 1024,
      reconnect_ivl: Duration::from_millis(100),
      reconnect_ivl_max: Duration::ZERO,
      immediate: false,
      tcp: super::tune::TcpTuning::default(),
    }
  }
}

/// Counters of a listening ROUTER.
#[derive(Debug, Clone, Default)]
pub struct ServerStats {
  /// Connections accepted.
  pub accepted: u64,
  /// Connections open now.
  pub active: usize,
  /// Connections open now that have not finished their handshake.
  pub handshaking: usize,
  /// Connections closed by us, by reason ([`crate::zmtp::ZmtpError::reason`], `bad_identity`,
  /// `pending_evicted`).
  pub refused: BTreeMap<&'static str, u64>,
  /// Connections the peer closed before finishing its handshake.
  pub handshake_eof: u64,
  /// Accepts the OS refused (file descriptors exhausted...).
  pub accept_errors: u64,
}

/// Why a connection ends.
pub(super) enum Close {
  /// The peer closed it, or the socket failed.
  Eof,
  /// We refused the peer, for this reason.
  Refused(&'static str),
  /// We closed it ourselves (unbind, disconnect, close): no monitor event, as libzmq.
  Local,
}

/// Listeners plus connections, polled from one task.
pub struct Server<S: SocketState, R: Reactor = Tokio> {
  pub(super) reactor: R,
  pub(super) config: ServerConfig,
  /// Bound endpoints (tcp, ipc, inproc).
  pub(super) bound: Vec<Bound<R::Listener>>,
  pub(super) conns: FastMap<Token, Conn<R::Stream>>,
  next_token: Token,
  pub(super) state: S,
  pub(super) ready: Arc<ReadyList>,
  scratch: Vec<(Token, bool)>,
  pub(super) dirty: Vec<Token>,
  pub(super) timers: BinaryHeap<Reverse<(Instant, Token)>>,
  pub(super) sleep: R::Sleep,
  pub(super) sleep_at: Option<Instant>,
  pub(super) pending: VecDeque<Token>,
  pub(super) accept_pause: Option<R::Sleep>,
  /// Reused list of subscribers a publish reached.
  matched: Vec<Token>,
  pub(super) stats: ServerStats,
  /// Endpoints we connect to, by their (lasting) token.
  pub(super) dialers: FastMap<Token, Dialer>,
  pub(super) dial_stats: DialStats,
  /// Dialled connections that came up or went down, for owners that react to the peer itself (a client
  /// whose broker died); see [`Server::take_link_event`].
  pub(super) links: VecDeque<LinkEvent>,
  /// Connections not read until the state takes their input.
  pub(super) paused: Vec<Token>,
  /// `inproc://` pipes (accepted and connected), by token.
  pub(super) pipes: FastMap<Token, Pipe>,
  /// An inproc pipe waits for room whose wake-up is not registered yet (see `poll_event`).
  pub(super) pipes_unpolled: bool,
  /// Monitor events not taken yet, while monitoring is on (see [`super::monitor`]).
  pub(super) monitor: Option<VecDeque<super::monitor::PeerEvent>>,
}

/// A dialled connection finished its handshake (`up`) or was lost after it (`!up`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkEvent {
  /// The dialer's token.
  pub token: Token,
  /// Whether the connection came up.
  pub up: bool,
}

impl<S: SocketState> Server<S, Tokio> {
  /// A server over `state` with nothing bound, on the tokio runtime of the calling task.
  pub fn new(config: ServerConfig, state: S) -> Self {
    Self::with_reactor(config, state, Tokio)
  }
}

impl Server<RouterState, Tokio> {
  /// A ROUTER on the tokio runtime; generated routing ids start at a random value, as libzmq's.
  pub fn router(config: ServerConfig) -> Self {
    Self::router_with(config, Tokio)
  }
}

impl<R: Reactor> Server<RouterState, R> {
  /// A ROUTER with nothing bound; generated routing ids start at a random value, as libzmq's.
  pub fn router_with(config: ServerConfig, reactor: R) -> Self {
    let state = RouterState::new(config.hwm, config.hwm_bytes, rand::random());
    Self::with_reactor(config, state, reactor)
  }

  /// Queues `[id, frames...]` for its peer; it is written at the next [`Server::flush`] or poll.
  ///
  /// # Errors
  /// As [`RouterState::send`].
  pub fn send(&mut self, msg: Vec<Bytes>) -> Result<(), RouteError> {
    let token = self.state.send(msg)?;
    self.mark_dirty(token);
    Ok(())
  }
}

impl<R: Reactor> Server<PubState, R> {
  /// Queues `msg` for every subscriber whose subscription matches; written at the next flush or poll.
  pub fn publish(&mut self, msg: &[Bytes]) {
    let mut to = std::mem::take(&mut self.matched);
    self.state.publish(msg, &mut to);
    for token in to.drain(..) {
      self.mark_dirty(token);
    }
    self.matched = to;
  }

  /// As [`Server::publish`] for a message given as its wire bytes (a relay's): plaintext subscribers get
  /// the bytes appended as they are, CURVE ones its frames sealed.
  pub fn publish_raw(&mut self, msg: &crate::zmtp::raw::RawMessage) {
    let mut to = std::mem::take(&mut self.matched);
    self.state.publish_raw(msg, &mut to);
    for token in to.drain(..) {
      self.mark_dirty(token);
    }
    self.matched = to;
  }
}

impl<S: SocketState + AppSocket, R: Reactor> Server<S, R> {
  /// Sends as the socket type does (`zmq_send`); what it queued is written at the next flush or poll.
  ///
  /// # Errors
  /// As the state's [`AppSocket::send`] (`EAGAIN`, `EFSM`...), with nothing queued.
  pub fn submit(&mut self, msg: Vec<Bytes>) -> Result<(), SendError> {
    self.state.send(msg)?;
    while let Some(token) = self.state.poll_woken() {
      self.mark_dirty(token);
    }
    self.flush_pipes();
    Ok(())
  }
}

impl<S: SocketState + AppSocket, R: Reactor> Server<S, R> {
  /// Changes the state through `f` (a subscription, an option) and marks what it woke for writing.
  pub fn update<T>(&mut self, f: impl FnOnce(&mut S) -> T) -> T {
    let result = f(&mut self.state);
    while let Some(token) = self.state.poll_woken() {
      self.mark_dirty(token);
    }
    result
  }
}

impl<S: SocketState, R: Reactor> Server<S, R> {
  /// Whether something is still to be written: queued in a pipe, taken but not accepted by the kernel.
  pub fn is_backlogged(&self) -> bool {
    self
      .conns
      .iter()
      .any(|(t, c)| c.write_armed || c.dirty || !c.wbuf.is_empty() || self.state.has_output(*t))
  }

  /// A server over `state` with nothing bound, driven by `reactor`.
  pub fn with_reactor(config: ServerConfig, state: S, reactor: R) -> Self {
    let sleep = reactor.sleep();
    Self {
      reactor,
      config,
      bound: Vec::new(),
      conns: FastMap::default(),
      next_token: 1,
      state,
      ready: Arc::default(),
      scratch: Vec::new(),
      dirty: Vec::new(),
      timers: BinaryHeap::new(),
      sleep,
      sleep_at: None,
      pending: VecDeque::new(),
      accept_pause: None,
      matched: Vec::new(),
      stats: ServerStats::default(),
      dialers: FastMap::default(),
      dial_stats: DialStats::default(),
      links: VecDeque::new(),
      paused: Vec::new(),
      pipes: FastMap::default(),
      pipes_unpolled: false,
      monitor: None,
    }
  }

  /// The socket's state (for its counters).
  pub fn state(&self) -> &S {
    &self.state
  }

  /// Closes every listener and connection now: ports and file descriptors are released on return.
  pub fn close(&mut self) {
    self.bound.clear();
    self.close_inproc();
    let dialers: Vec<Token> = self.dialers.keys().copied().collect();
    for token in dialers {
      self.disconnect(token);
    }
    let tokens: Vec<Token> = self.conns.keys().copied().collect();
    for token in tokens {
      self.close_conn(token, Close::Local);
    }
  }

  pub(super) fn mark_dirty(&mut self, token: Token) {
    if let Some(conn) = self.conns.get_mut(&token) {
      if !conn.dirty && !conn.write_armed {
        conn.dirty = true;
        self.dirty.push(token);
      }
    }
  }

  /// Writes what is queued for every connection that has something (one write per connection).
  pub fn flush(&mut self) {
    self.flush_pipes();
    while !self.dirty.is_empty() {
      for token in std::mem::take(&mut self.dirty) {
        self.flush_conn(token);
      }
    }
  }

  /// The next dialled connection that came up or went down since the last call (filled while polling; look
  /// after every [`Server::poll_event`]). At most two per dialer and reconnect, so it stays small.
  pub fn take_link_event(&mut self) -> Option<LinkEvent> {
    self.links.pop_front()
  }

  /// Whether messages wait to be written to a peer that is connected now (a connection past its handshake,
  /// or an inproc pipe with a live peer): what a lingering close waits for. Messages queued for a peer that is
  /// away are not counted (they would wait for a reconnect that a closing socket will not make).
  pub fn has_unsent(&self) -> bool {
    let conns = (self.conns.iter()).any(|(t, c)| {
      c.ready && (!c.wbuf.is_empty() || c.session.has_output() || self.state.has_output(*t))
    });
    conns || self.pipes_unsent()
  }

  /// Counters, with gauges computed now.
  pub fn stats(&self) -> ServerStats {
    ServerStats {
      active: self.conns.len(),
      ..self.stats.clone()
    }
  }

  /// Accepts, reads, fires timers and writes until an event is ready. Cancel-safe: all state is in `self`,
  /// and an event leaves the queue only in the poll that returns it.
  pub fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<S::Event> {
    self.poll_turn(cx, true)
  }

  /// Accepts, reads, fires timers and writes like [`Server::poll_event`], but leaves the state's events where
  /// they are (`Pending` always): for an owner that cannot take messages now. The state's queues then fill
  /// to their `RCVHWM` and reading stops (back-pressure on the peers), while writes, accepts and heartbeats
  /// go on.
  pub fn poll_io(&mut self, cx: &mut Context<'_>) -> Poll<()> {
    match self.poll_turn(cx, false) {
      Poll::Ready(_) => Poll::Ready(()),
      Poll::Pending => Poll::Pending,
    }
  }

  fn take_event(&mut self, take: bool) -> Option<S::Event> {
    if take {
      self.state.poll_event()
    } else {
      None
    }
  }

  fn poll_turn(&mut self, cx: &mut Context<'_>, take: bool) -> Poll<S::Event> {
    for _ in 0..8 {
      if let Some(ev) = self.take_event(take) {
        return Poll::Ready(ev);
      }
      self.resume_paused();
      if let Some(ev) = self.take_event(take) {
        return Poll::Ready(ev);
      }
      self.flush();
      let now = Instant::now();
      let mut progressed = self.poll_accepts(cx, now);
      progressed |= self.poll_timers(cx, now);
      progressed |= self.poll_ready(cx, now);
      progressed |= self.poll_inproc(cx);
      self.flush();
      // A pipe that filled up in this last flush must have its wake-up registered: go round once more.
      progressed |= std::mem::take(&mut self.pipes_unpolled);
      if !progressed {
        return self.take_event(take).map_or(Poll::Pending, Poll::Ready);
      }
    }
    // Still busy after a bounded amount of work: yield, and come back at once.
    cx.waker().wake_by_ref();
    self.take_event(take).map_or(Poll::Pending, Poll::Ready)
  }

  /// Changes the socket's state in place (an option, a subscription); connections it gave something to
  /// write are flushed at the next [`Server::flush`] or poll.
  pub fn update_state<T>(&mut self, f: impl FnOnce(&mut S) -> T) -> T
  where
    S: AppSocket,
  {
    let r = f(&mut self.state);
    while let Some(token) = self.state.poll_woken() {
      self.mark_dirty(token);
    }
    r
  }

  /// The configuration new connections take (options set between binds and connects apply to later ones,
  /// as in libzmq).
  pub fn config_mut(&mut self) -> &mut ServerConfig {
    &mut self.config
  }

  pub(super) fn take_token(&mut self) -> Token {
    let token = self.next_token;
    self.next_token += 1;
    token
  }

  fn poll_ready(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
    self.ready.take(cx.waker(), &mut self.scratch);
    if self.scratch.is_empty() {
      return false;
    }
    let batch: Vec<(Token, bool)> = if self.scratch.len() > READY_BATCH {
      let rest = self.scratch.split_off(READY_BATCH);
      std::mem::replace(&mut self.scratch, rest)
    } else {
      std::mem::take(&mut self.scratch)
    };
    for (token, write) in batch {
      let Some(conn) = self.conns.get_mut(&token) else {
        continue;
      };
      if conn.connecting {
        if write {
          self.finish_connect(token);
        }
      } else if write {
        conn.write_armed = false;
        self.flush_conn(token);
      } else {
        self.read_conn(token, now);
      }
    }
    true
  }

  /// Ends one connection: best-effort write of what the session still had (an ERROR command), then close.
  pub(super) fn close_conn(&mut self, token: Token, why: Close) {
    let Some(mut conn) = self.conns.remove(&token) else {
      return;
    };
    if conn.wbuf.is_empty() && conn.session.has_output() {
      conn.wbuf = conn.session.take_output();
    }
    if !conn.wbuf.is_empty() {
      let _ = conn.stream.try_write(&conn.wbuf);
    }
    if !conn.ready && !conn.dialed {
      self.stats.handshaking = self.stats.handshaking.saturating_sub(1);
    }
    match why {
      Close::Refused(reason) => {
        tracing::debug!(target: crate::log::target::ZMTP, peer = %conn.stream.peer(), reason, "connection refused");
        *self.stats.refused.entry(reason).or_default() += 1
      }
      Close::Eof | Close::Local if !conn.ready && !conn.dialed => self.stats.handshake_eof += 1,
      Close::Eof | Close::Local => {}
    }
    let fd = conn.stream.raw_fd();
    self.monitor_close(token, conn.origin, conn.connecting, fd, &why);
    if conn.ready {
      self.state.on_gone(token);
    }
    if conn.dialed {
      if conn.ready {
        self.links.push_back(LinkEvent { token, up: false });
      }
      self.schedule_retry(token, Instant::now());
    }
    // `conn` drops here: the stream is deregistered and its descriptor closed now.
  }
}
