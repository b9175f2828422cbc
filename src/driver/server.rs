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
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::time::Sleep;

use super::conn::{Conn, ReadyList};
use super::dial::{DialStats, Dialer};
use super::net::{Listener, Stream};
use crate::mdp::FastMap;
use crate::transport::{Endpoint, TransportError, DEFAULT_HWM};
use crate::zmtp::socket::{
  AppSocket, PubState, RouteError, RouterState, SendError, SocketState, Token,
};
use crate::zmtp::{Session, SessionConfig};

/// Connections accepted per listener in one turn, so a flood of connects cannot starve traffic.
const ACCEPT_BATCH: usize = 64;
/// Ready connections handled in one turn before events are handed out.
const READY_BATCH: usize = 256;
/// How long accepting pauses after the OS refused an accept (out of file descriptors).
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// ENFILE, EMFILE, ENOMEM and ENOBUFS (whose number differs between Linux and the BSDs).
fn is_resource_error(e: &std::io::Error) -> bool {
  const ENOBUFS: i32 = if cfg!(target_os = "linux") { 105 } else { 55 };
  matches!(e.raw_os_error(), Some(23 | 24 | 12)) || e.raw_os_error() == Some(ENOBUFS)
}

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
}

/// Listeners plus connections, polled from one task.
pub struct Server<S: SocketState> {
  pub(super) config: ServerConfig,
  listeners: Vec<Listener>,
  pub(super) conns: FastMap<Token, Conn>,
  next_token: Token,
  pub(super) state: S,
  pub(super) ready: Arc<ReadyList>,
  scratch: Vec<(Token, bool)>,
  pub(super) dirty: Vec<Token>,
  pub(super) timers: BinaryHeap<Reverse<(Instant, Token)>>,
  pub(super) sleep: Pin<Box<Sleep>>,
  pub(super) sleep_at: Option<Instant>,
  pending: VecDeque<Token>,
  accept_pause: Option<Pin<Box<Sleep>>>,
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
}

/// A dialled connection finished its handshake (`up`) or was lost after it (`!up`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkEvent {
  /// The dialer's token.
  pub token: Token,
  /// Whether the connection came up.
  pub up: bool,
}

impl Server<RouterState> {
  /// A ROUTER with nothing bound; generated routing ids start at a random value, as libzmq's.
  pub fn router(config: ServerConfig) -> Self {
    let state = RouterState::new(config.hwm, config.hwm_bytes, rand::random());
    Self::new(config, state)
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

impl Server<PubState> {
  /// Queues `msg` for every subscriber whose subscription matches; written at the next flush or poll.
  pub fn publish(&mut self, msg: &[Bytes]) {
    let mut to = std::mem::take(&mut self.matched);
    self.state.publish(msg, &mut to);
    for token in to.drain(..) {
      self.mark_dirty(token);
    }
    self.matched = to;
  }
}

impl<S: SocketState + AppSocket> Server<S> {
  /// Sends as the socket type does (`zmq_send`); what it queued is written at the next flush or poll.
  ///
  /// # Errors
  /// As the state's [`AppSocket::send`] (`EAGAIN`, `EFSM`...), with nothing queued.
  pub fn submit(&mut self, msg: Vec<Bytes>) -> Result<(), SendError> {
    self.state.send(msg)?;
    while let Some(token) = self.state.poll_woken() {
      self.mark_dirty(token);
    }
    Ok(())
  }
}

impl<S: SocketState + AppSocket> Server<S> {
  /// Changes the state through `f` (a subscription, an option) and marks what it woke for writing.
  pub fn update<R>(&mut self, f: impl FnOnce(&mut S) -> R) -> R {
    let result = f(&mut self.state);
    while let Some(token) = self.state.poll_woken() {
      self.mark_dirty(token);
    }
    result
  }
}

impl<S: SocketState> Server<S> {
  /// Whether something is still to be written: queued in a pipe, taken but not accepted by the kernel.
  pub fn is_backlogged(&self) -> bool {
    self
      .conns
      .iter()
      .any(|(t, c)| c.write_armed || c.dirty || !c.wbuf.is_empty() || self.state.has_output(*t))
  }

  /// A server over `state` with nothing bound.
  pub fn new(config: ServerConfig, state: S) -> Self {
    Self {
      config,
      listeners: Vec::new(),
      conns: FastMap::default(),
      next_token: 1,
      state,
      ready: Arc::default(),
      scratch: Vec::new(),
      dirty: Vec::new(),
      timers: BinaryHeap::new(),
      sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
      sleep_at: None,
      pending: VecDeque::new(),
      accept_pause: None,
      matched: Vec::new(),
      stats: ServerStats::default(),
      dialers: FastMap::default(),
      dial_stats: DialStats::default(),
      links: VecDeque::new(),
      paused: Vec::new(),
    }
  }

  /// Serves an already bound tcp listener (bound synchronously by its owner, so its port is known early).
  ///
  /// # Errors
  /// When the listener cannot be registered with the runtime.
  pub fn add_tcp_listener(&mut self, listener: std::net::TcpListener) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    self.listeners.push(Listener::Tcp(listener));
    Ok(())
  }

  /// The socket's state (for its counters).
  pub fn state(&self) -> &S {
    &self.state
  }

  /// Binds one more tcp or ipc endpoint; returns it resolved (the real port for `:0` / `:*`).
  ///
  /// # Errors
  /// As [`Listener::bind`].
  pub async fn bind(&mut self, endpoint: &Endpoint) -> Result<String, TransportError> {
    let (listener, resolved) = Listener::bind(endpoint).await?;
    self.listeners.push(listener);
    Ok(resolved)
  }

  /// Closes every listener and connection now: ports and file descriptors are released on return.
  pub fn close(&mut self) {
    self.listeners.clear();
    let dialers: Vec<Token> = self.dialers.keys().copied().collect();
    for token in dialers {
      self.disconnect(token);
    }
    let tokens: Vec<Token> = self.conns.keys().copied().collect();
    for token in tokens {
      self.close_conn(token, Close::Eof);
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
    for _ in 0..8 {
      if let Some(ev) = self.state.poll_event() {
        return Poll::Ready(ev);
      }
      self.resume_paused();
      if let Some(ev) = self.state.poll_event() {
        return Poll::Ready(ev);
      }
      self.flush();
      let now = Instant::now();
      let mut progressed = self.poll_accepts(cx, now);
      progressed |= self.poll_timers(cx, now);
      progressed |= self.poll_ready(cx, now);
      self.flush();
      if !progressed {
        return match self.state.poll_event() {
          Some(ev) => Poll::Ready(ev),
          None => Poll::Pending,
        };
      }
    }
    // Still busy after a bounded amount of work: yield, and come back at once.
    cx.waker().wake_by_ref();
    match self.state.poll_event() {
      Some(ev) => Poll::Ready(ev),
      None => Poll::Pending,
    }
  }

  fn poll_accepts(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
    if let Some(pause) = self.accept_pause.as_mut() {
      if pause.as_mut().poll(cx).is_pending() {
        return false;
      }
      self.accept_pause = None;
    }
    let mut fresh = Vec::new();
    for listener in &self.listeners {
      for _ in 0..ACCEPT_BATCH {
        match listener.poll_accept(cx) {
          Poll::Ready(Ok(stream)) => fresh.push(stream),
          Poll::Ready(Err(e)) => {
            self.stats.accept_errors += 1;
            // Out of descriptors or memory: the pending connection stays in the backlog and the
            // listener stays readable, so back off instead of spinning. Anything else (a peer that reset
            // before accept) concerns that one connection only.
            if is_resource_error(&e) {
              self.accept_pause = Some(Box::pin(tokio::time::sleep(ACCEPT_PAUSE)));
              break;
            }
          }
          Poll::Pending => break,
        }
      }
    }
    let progressed = !fresh.is_empty() || self.accept_pause.is_some();
    for stream in fresh {
      self.add_conn(stream, now);
    }
    if let Some(pause) = self.accept_pause.as_mut() {
      // Registers the wake-up that ends the pause.
      let _ = pause.as_mut().poll(cx);
    }
    progressed && !self.listeners.is_empty()
  }

  pub(super) fn take_token(&mut self) -> Token {
    let token = self.next_token;
    self.next_token += 1;
    token
  }

  fn add_conn(&mut self, stream: Stream, now: Instant) {
    let token = self.take_token();
    self.stats.accepted += 1;
    self.stats.handshaking += 1;
    let session = Session::new(self.config.session.clone(), now);
    let conn = Conn::new(token, stream, session, &self.ready);
    self.conns.insert(token, conn);
    self.pending.push_back(token);
    // Our greeting goes out at once; the first read happens when the peer's bytes arrive.
    self.ready.push(token, false);
    self.mark_dirty(token);
    self.update_timer(token);
    self.evict_pending();
  }

  /// Keeps the connections still in their handshake under the cap by closing the oldest.
  fn evict_pending(&mut self) {
    while self.stats.handshaking > self.config.max_pending {
      let Some(token) = self.pending.pop_front() else {
        return;
      };
      if self.conns.get(&token).is_some_and(|c| !c.ready) {
        self.close_conn(token, Close::Refused("pending_evicted"));
      }
    }
    // Forget entries of connections that finished or left, so the queue stays bounded.
    while let Some(&token) = self.pending.front() {
      if self.conns.get(&token).is_some_and(|c| !c.ready) {
        break;
      }
      self.pending.pop_front();
    }
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
      Close::Eof if !conn.ready && !conn.dialed => self.stats.handshake_eof += 1,
      Close::Eof => {}
    }
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
