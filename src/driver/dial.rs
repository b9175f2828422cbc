//! The connecting side of a socket over our ZMTP engine: endpoints the application `connect()`ed, each with
//! a token that outlives its connections (the socket state keeps that pipe across reconnects, as libzmq does
//! for a non-`IMMEDIATE` connect), dialled without blocking and dialled again after every loss.
//!
//! - A connect is started with a non-blocking socket; write readiness plus `SO_ERROR` say how it ended.
//! - A failed attempt, a refused handshake, or a lost connection schedules the next attempt after
//!   `ZMQ_RECONNECT_IVL` plus a random part of it (so restarted servers are not hit by every peer at once),
//!   doubling up to `ZMQ_RECONNECT_IVL_MAX` when that is set; a finished handshake resets the interval.
//! - Retries sit in the same timer heap as the connections' deadlines, under the dialer's token.

use std::cmp::Reverse;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::conn::Conn;
use super::monitor::PeerEventKind;
use super::reactor::{IoStream, Reactor};
use super::server::{Close, LinkEvent, Server};
use crate::transport::{Endpoint, TransportError};
use crate::zmtp::socket::{SocketState, Token};
use crate::zmtp::Session;

/// One connected endpoint.
#[derive(Debug)]
pub(super) struct Dialer {
  pub(super) endpoint: Endpoint,
  /// The pause before the next attempt (grows with backoff).
  current: Duration,
  /// When the next attempt is due, while the endpoint has no connection.
  pub(super) retry_at: Option<Instant>,
}

/// Counters of the connecting side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DialStats {
  /// Connect attempts started.
  pub attempts: u64,
  /// Attempts that failed before a handshake could start (refused, unreachable, no such file).
  pub failed: u64,
  /// Handshakes finished on dialled connections.
  pub connected: u64,
}

impl Dialer {
  /// The pause before the next attempt: the current interval plus jitter, then backoff if configured.
  fn next_pause(&mut self, ivl: Duration, max: Duration) -> Duration {
    let ivl_ms = ivl.as_millis().max(1) as u64;
    let jitter = Duration::from_millis(rand::random::<u64>() % ivl_ms);
    let pause = if max > Duration::ZERO {
      (self.current + jitter).min(max.max(ivl))
    } else {
      self.current + jitter
    };
    if max > ivl {
      self.current = (self.current * 2).min(max);
    }
    pause
  }
}

impl<S: SocketState, R: Reactor> Server<S, R> {
  /// Connects to a tcp or ipc endpoint, now and after every loss, until [`Server::disconnect`]. The state is
  /// told at once ([`SocketState::on_attach`]), so messages can queue for the peer before it is there.
  ///
  /// `inproc://` endpoints go through the in-process hub ([`Server::connect_inproc`]).
  ///
  /// # Errors
  /// None today; kept for endpoints a later transport may refuse.
  pub fn connect(&mut self, endpoint: &Endpoint) -> Result<Token, TransportError> {
    if let Endpoint::Inproc(name) = endpoint {
      return Ok(self.connect_inproc(name));
    }
    let token = self.take_token();
    self.dialers.insert(
      token,
      Dialer {
        endpoint: endpoint.clone(),
        current: self.config.reconnect_ivl,
        retry_at: None,
      },
    );
    if !self.config.immediate {
      self.state.on_attach(token);
    }
    self.dial(token, Instant::now());
    Ok(token)
  }

  /// Stops connecting to the endpoint of `token`: its connection closes and its pipe ends. Returns whether
  /// there was such an endpoint.
  pub fn disconnect(&mut self, token: Token) -> bool {
    if self.disconnect_inproc(token) {
      return true;
    }
    if self.dialers.remove(&token).is_none() {
      return false;
    }
    self.close_conn(token, Close::Local);
    self.state.on_detach(token);
    true
  }

  /// The token of the endpoint connected as `endpoint` (for `disconnect(endpoint)`).
  pub fn dialer_token(&self, endpoint: &Endpoint) -> Option<Token> {
    let mut found = self.dialers.iter().filter(|(_, d)| &d.endpoint == endpoint);
    found
      .next()
      .map(|(t, _)| *t)
      .or_else(|| self.inproc_token(endpoint))
  }

  /// Counters of the connecting side.
  pub fn dial_stats(&self) -> DialStats {
    self.dial_stats.clone()
  }

  /// Starts one attempt for dialer `token`.
  pub(super) fn dial(&mut self, token: Token, now: Instant) {
    let Some(dialer) = self.dialers.get(&token) else {
      return;
    };
    self.dial_stats.attempts += 1;
    let (stream, pending) = match self.reactor.connect(&dialer.endpoint) {
      Ok(started) => started,
      Err(e) => {
        tracing::debug!(target: crate::log::target::ZMTP, endpoint = %dialer.endpoint, error = %e, "connect failed");
        self.dial_stats.failed += 1;
        // libzmq closes the socket of a connect refused at once (its fd is gone with it here: -1).
        self.peer_event(PeerEventKind::Closed, -1, |s| s.conn_endpoint(token, 0));
        return self.schedule_retry(token, now);
      }
    };
    if matches!(dialer.endpoint, Endpoint::Tcp { .. }) {
      if let Err(e) = self.config.tcp.apply(stream.raw_fd()) {
        tracing::debug!(target: crate::log::target::ZMTP, error = %e, "tcp options not applied");
      }
    }
    self.monitor_dial(token, pending, stream.raw_fd());
    let session = Session::new(self.config.session.clone(), now);
    let mut conn = Conn::new(token, stream, session, &self.ready);
    conn.dialed = true;
    conn.connecting = pending;
    if pending {
      let mut cx = Context::from_waker(&conn.write_waker);
      match conn.stream.poll_write_ready(&mut cx) {
        Poll::Pending => conn.write_armed = true,
        Poll::Ready(_) => self.ready.push(token, true),
      }
      self.conns.insert(token, conn);
    } else {
      self.conns.insert(token, conn);
      self.ready.push(token, false);
      self.mark_dirty(token);
    }
    self.update_timer(token);
  }

  /// Write readiness on a connect in progress: the handshake starts, or the attempt failed.
  pub(super) fn finish_connect(&mut self, token: Token) {
    let Some(conn) = self.conns.get_mut(&token) else {
      return;
    };
    conn.write_armed = false;
    if let Err(e) = conn.stream.finish_connect() {
      tracing::debug!(target: crate::log::target::ZMTP, error = %e, "connect failed");
      self.dial_stats.failed += 1;
      return self.close_conn(token, Close::Eof);
    }
    conn.connecting = false;
    let fd = conn.stream.raw_fd();
    self.ready.push(token, false);
    self.mark_dirty(token);
    self.peer_event(PeerEventKind::Connected, fd, |s| s.conn_endpoint(token, 0));
  }

  /// A dialled connection finished its handshake: the next loss retries after the base interval again.
  pub(super) fn dial_succeeded(&mut self, token: Token) {
    if let Some(dialer) = self.dialers.get_mut(&token) {
      dialer.current = self.config.reconnect_ivl;
      self.dial_stats.connected += 1;
      self.links.push_back(LinkEvent { token, up: true });
    }
  }

  /// After a dialled connection ended (or never started): the next attempt, on the timer heap.
  pub(super) fn schedule_retry(&mut self, token: Token, now: Instant) {
    let (ivl, max) = (self.config.reconnect_ivl, self.config.reconnect_ivl_max);
    let Some(dialer) = self.dialers.get_mut(&token) else {
      return;
    };
    let pause = dialer.next_pause(ivl, max);
    let at = now + pause;
    dialer.retry_at = Some(at);
    self.timers.push(Reverse((at, token)));
    let ms = i64::try_from(pause.as_millis()).unwrap_or(i64::MAX);
    self.peer_event(PeerEventKind::ConnectRetried, ms, |s| {
      s.conn_endpoint(token, 0)
    });
  }

  /// A timer entry with no connection behind it: a dialer's retry when it is the one due.
  pub(super) fn retry_due(&mut self, token: Token, at: Instant, now: Instant) -> bool {
    let Some(dialer) = self.dialers.get_mut(&token) else {
      return false;
    };
    if dialer.retry_at != Some(at) {
      return false;
    }
    dialer.retry_at = None;
    self.dial(token, now);
    true
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn dialer(ivl: u64) -> Dialer {
    Dialer {
      endpoint: Endpoint::Ipc("/tmp/x".into()),
      current: Duration::from_millis(ivl),
      retry_at: None,
    }
  }

  #[test]
  fn pauses_are_the_interval_plus_jitter_below_it_without_backoff() {
    let mut d = dialer(100);
    for _ in 0..50 {
      let p = d.next_pause(Duration::from_millis(100), Duration::ZERO);
      assert!(
        p >= Duration::from_millis(100) && p < Duration::from_millis(200),
        "{p:?}"
      );
    }
  }

  #[test]
  fn with_a_maximum_the_interval_doubles_up_to_it_and_never_passes_it() {
    let (ivl, max) = (Duration::from_millis(100), Duration::from_millis(1000));
    let mut d = dialer(100);
    let pauses: Vec<_> = (0..8).map(|_| d.next_pause(ivl, max)).collect();
    assert!(pauses.iter().all(|p| *p <= max), "{pauses:?}");
    assert_eq!(d.current, max);
    assert!(pauses[4] >= Duration::from_millis(800), "{pauses:?}");
  }
}
