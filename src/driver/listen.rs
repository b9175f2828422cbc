//! The bound side of a [`Server`]: tcp, ipc and inproc listeners, each with an id and its resolved endpoint so
//! it can be unbound alone; accepting with a per-turn batch, a pause when the OS is out of descriptors, and a
//! cap on connections still in their handshake. Unbinding a listener closes the connections it accepted, as
//! libzmq's `zmq_unbind` ends the sessions of that endpoint.

use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::conn::Conn;
use super::monitor::{errno, PeerEventKind};
use super::reactor::{IoListener, IoSleep, IoStream, Reactor};
use super::server::{Close, Server};
use super::TcpTuning;
use crate::transport::{inproc, Endpoint, TransportError};
use crate::zmtp::socket::{SocketState, Token};
use crate::zmtp::Session;

/// Connections accepted per listener in one turn, so a flood of connects cannot starve traffic.
const ACCEPT_BATCH: usize = 64;
/// How long accepting pauses after the OS refused an accept (out of file descriptors).
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// The backlog of a tcp listener bound with [`Server::bind_now`] when `ZMQ_BACKLOG` is not set (libzmq's).
pub const DEFAULT_BACKLOG: i32 = 100;

/// ENFILE, EMFILE, ENOMEM and ENOBUFS (whose number differs between Linux and the BSDs).
fn is_resource_error(e: &std::io::Error) -> bool {
  const ENOBUFS: i32 = if cfg!(target_os = "linux") { 105 } else { 55 };
  matches!(e.raw_os_error(), Some(23 | 24 | 12)) || e.raw_os_error() == Some(ENOBUFS)
}

/// The errno a failed bind reports to a monitor (libzmq's `ZMQ_EVENT_BIND_FAILED` value).
fn bind_errno(e: &TransportError) -> i64 {
  const EADDRINUSE: i64 = if cfg!(target_os = "linux") { 98 } else { 48 };
  const EINVAL: i64 = 22;
  match e {
    TransportError::AddrInUse(_) => EADDRINUSE,
    TransportError::Io(io) => errno(io),
    _ => EINVAL,
  }
}

/// What a bound endpoint listens with.
pub(super) enum BoundKind<L> {
  /// tcp or ipc.
  Net(L),
  /// A name in the in-process hub.
  Inproc(inproc::Listener),
}

/// One bound endpoint.
pub(super) struct Bound<L> {
  /// Names the connections it accepted (`Conn::origin`, `Pipe::origin`).
  pub(super) id: u64,
  /// Resolved (`tcp://127.0.0.1:40123`, `ipc:///tmp/x`, `inproc://name`).
  pub(super) endpoint: String,
  pub(super) kind: BoundKind<L>,
}

impl<S: SocketState, R: Reactor> Server<S, R> {
  /// Serves an already bound tcp listener (bound synchronously by its owner, so its port is known early).
  ///
  /// # Errors
  /// When the listener cannot be registered with the runtime.
  pub fn add_tcp_listener(&mut self, listener: std::net::TcpListener) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    let listener = self.reactor.adopt_tcp_listener(listener)?;
    let endpoint = Endpoint::Tcp {
      host: local.ip().to_string(),
      port: local.port(),
    };
    self.push_bound(endpoint.to_string(), BoundKind::Net(listener));
    Ok(())
  }

  /// Binds one more tcp, ipc or inproc endpoint; returns it resolved (the real port for `:0` / `:*`).
  ///
  /// # Errors
  /// As [`Listener::bind`]; `AddrInUse` for an inproc name already bound.
  pub async fn bind(&mut self, endpoint: &Endpoint) -> Result<String, TransportError> {
    if let Endpoint::Inproc(name) = endpoint {
      let listener = inproc::bind(name, self.inproc_kind())?;
      self.push_bound(endpoint.to_string(), BoundKind::Inproc(listener));
      return Ok(endpoint.to_string());
    }
    // The tcp listener with a backlog is made synchronously: no borrow of the server spans an await.
    let bound = match endpoint {
      Endpoint::Tcp { .. } if self.config.tcp.backlog >= 0 => {
        bind_net(&self.reactor, self.config.tcp, endpoint)
      }
      _ => self.reactor.bind(endpoint).await,
    };
    self.bound_result(endpoint, bound)
  }

  /// Binds like [`Server::bind`] without waiting, for an owner that is a poll function (a classic socket
  /// on a JS thread's loop): tcp with the configured backlog ([`DEFAULT_BACKLOG`] when none is set), ipc
  /// and inproc at once.
  ///
  /// # Errors
  /// As [`Server::bind`].
  pub fn bind_now(&mut self, endpoint: &Endpoint) -> Result<String, TransportError> {
    let bound = match endpoint {
      Endpoint::Inproc(name) => {
        let listener = inproc::bind(name, self.inproc_kind())?;
        self.push_bound(endpoint.to_string(), BoundKind::Inproc(listener));
        return Ok(endpoint.to_string());
      }
      Endpoint::Tcp { .. } | Endpoint::Ipc(_) => bind_net(&self.reactor, self.config.tcp, endpoint),
    };
    self.bound_result(endpoint, bound)
  }

  /// Keeps a new listener (a `Listening` monitor event) or reports its failure (`BindFailed`).
  fn bound_result(
    &mut self,
    endpoint: &Endpoint,
    bound: Result<(R::Listener, String), TransportError>,
  ) -> Result<String, TransportError> {
    let (listener, resolved) = match bound {
      Ok(bound) => bound,
      Err(e) => {
        // libzmq names a failed bind by its address without the transport (`127.0.0.1:5555`).
        let given = endpoint.to_string();
        let ep = given
          .split_once("://")
          .map_or(given.clone(), |(_, a)| a.to_string());
        self.peer_event(PeerEventKind::BindFailed, bind_errno(&e), |_| ep);
        return Err(e);
      }
    };
    let fd = listener.raw_fd();
    self.push_bound(resolved.clone(), BoundKind::Net(listener));
    let ep = resolved.clone();
    self.peer_event(PeerEventKind::Listening, fd, |_| ep);
    Ok(resolved)
  }

  /// A tcp listener with the configured `ZMQ_BACKLOG`, made here and adopted by the reactor.
  fn push_bound(&mut self, endpoint: String, kind: BoundKind<R::Listener>) {
    let id = self.take_token();
    self.bound.push(Bound { id, endpoint, kind });
  }

  /// Stops listening on the bound endpoint `endpoint` (as [`Server::bind`] returned it) and closes the
  /// connections it accepted. Returns whether it was bound.
  pub fn unbind(&mut self, endpoint: &str) -> bool {
    let Some(i) = self.bound.iter().position(|b| b.endpoint == endpoint) else {
      return false;
    };
    let bound = self.bound.remove(i);
    let id = bound.id;
    if let BoundKind::Net(listener) = &bound.kind {
      let fd = listener.raw_fd();
      self.peer_event(PeerEventKind::Closed, fd, |_| endpoint.to_string());
    }
    // The listener closes here, before its connections (as libzmq's `zmq_unbind`).
    drop(bound);
    let accepted: Vec<Token> = (self.conns.iter())
      .filter(|(_, c)| c.origin == id)
      .map(|(t, _)| *t)
      .collect();
    for token in accepted {
      self.close_conn(token, Close::Local);
    }
    self.close_inproc_from(id);
    true
  }

  /// Endpoints bound now, resolved.
  pub fn bound_endpoints(&self) -> impl Iterator<Item = &str> {
    self.bound.iter().map(|b| b.endpoint.as_str())
  }

  pub(super) fn poll_accepts(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
    if let Some(pause) = self.accept_pause.as_mut() {
      if pause.poll_fired(cx).is_pending() {
        return false;
      }
      self.accept_pause = None;
    }
    let mut fresh = Vec::new();
    let mut failed = Vec::new();
    for bound in &self.bound {
      let BoundKind::Net(listener) = &bound.kind else {
        continue;
      };
      for _ in 0..ACCEPT_BATCH {
        match listener.poll_accept(cx) {
          Poll::Ready(Ok(stream)) => fresh.push((bound.id, stream)),
          Poll::Ready(Err(e)) => {
            self.stats.accept_errors += 1;
            failed.push((bound.endpoint.clone(), errno(&e)));
            // Out of descriptors or memory: the pending connection stays in the backlog and the
            // listener stays readable, so back off instead of spinning. Anything else (a peer that reset
            // before accept) concerns that one connection only.
            if is_resource_error(&e) {
              let mut pause = self.reactor.sleep();
              pause.reset(now + ACCEPT_PAUSE);
              self.accept_pause = Some(pause);
              break;
            }
          }
          Poll::Pending => break,
        }
      }
    }
    let progressed = !fresh.is_empty() || self.accept_pause.is_some();
    for (ep, value) in failed {
      self.peer_event(PeerEventKind::AcceptFailed, value, |_| ep);
    }
    for (origin, stream) in fresh {
      self.add_conn(origin, stream, now);
    }
    if let Some(pause) = self.accept_pause.as_mut() {
      // Registers the wake-up that ends the pause.
      let _ = pause.poll_fired(cx);
    }
    progressed && !self.bound.is_empty()
  }

  fn add_conn(&mut self, origin: u64, stream: R::Stream, now: Instant) {
    let token = self.take_token();
    self.stats.accepted += 1;
    self.stats.handshaking += 1;
    let fd = stream.raw_fd();
    let tcp = (self.bound.iter()).any(|b| b.id == origin && b.endpoint.starts_with("tcp://"));
    if tcp {
      if let Err(e) = self.config.tcp.apply(fd) {
        tracing::debug!(target: crate::log::target::ZMTP, error = %e, "tcp options not applied");
      }
    }
    self.peer_event(PeerEventKind::Accepted, fd, |s| {
      s.conn_endpoint(token, origin)
    });
    let session = Session::new(self.config.session.clone(), now);
    let mut conn = Conn::new(token, stream, session, &self.ready);
    conn.origin = origin;
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
}

/// Binds a tcp or ipc `endpoint` now and hands the listener to `reactor`; returns it with the endpoint
/// resolved (the real port). Shared by the driver and the STREAM socket, which owns its listeners itself.
///
/// # Errors
/// `Endpoint` (malformed, inproc, ipc off unix), `AddrInUse`, `Io`.
pub fn bind_net<R: Reactor>(
  reactor: &R,
  mut tuning: TcpTuning,
  endpoint: &Endpoint,
) -> Result<(R::Listener, String), TransportError> {
  match endpoint {
    Endpoint::Tcp { host, port } => {
      let addr = super::net::bind_address(host, *port)
        .map_err(|e| TransportError::Endpoint(format!("{endpoint}: {e}")))?;
      if tuning.backlog < 0 {
        tuning.backlog = DEFAULT_BACKLOG;
      }
      let listener = tuning.listener(addr).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
          TransportError::AddrInUse(e.to_string())
        } else {
          TransportError::Io(e)
        }
      })?;
      let local = listener.local_addr()?;
      let resolved = Endpoint::Tcp {
        host: local.ip().to_string(),
        port: local.port(),
      };
      Ok((reactor.adopt_tcp_listener(listener)?, resolved.to_string()))
    }
    #[cfg(unix)]
    Endpoint::Ipc(path) => {
      let listener = super::net::bind_ipc(path)?;
      Ok((
        reactor.adopt_ipc_listener(listener, path.clone())?,
        endpoint.to_string(),
      ))
    }
    #[cfg(not(unix))]
    Endpoint::Ipc(_) => Err(TransportError::Endpoint(format!(
      "{endpoint}: ipc is not available on this platform"
    ))),
    Endpoint::Inproc(_) => Err(TransportError::Endpoint(format!(
      "{endpoint}: not a network endpoint"
    ))),
  }
}
