//! Binds, unbinds, connects and disconnects of a classic socket, all on its one [`crate::driver::Server`]:
//! tcp and ipc listeners and dialers, and `inproc://` names in the hub. A bind is remembered as given and as
//! resolved, so `unbind` takes either (`tcp://*:5555` or `tcp://0.0.0.0:5555`).
//! Monitor events (`monitor()`) come from the same server and go out with the turn's batch.

use std::sync::mpsc::SyncSender;

use super::engine::Classic;
use super::eventloop::{normalize, BindReply, SocketLoop};
use bytes::Bytes;

use super::{SocketError, E_BOUND, E_MONITOR, E_UNBOUND};
use crate::boundary::outbox::Deliver;
use crate::driver::reactor::Reactor;

impl<S: Classic, R: Reactor + Clone, D: Deliver> SocketLoop<S, R, D> {
  /// Binds `ep`; returns the resolved endpoint.
  pub(super) fn bind(&mut self, ep: &str) -> Result<String, SocketError> {
    let endpoint = normalize(ep)?;
    let server = self.server()?;
    let resolved = server.bind_now(&endpoint)?;
    self.binds.push((endpoint.to_string(), resolved.clone()));
    Ok(resolved)
  }

  /// Answers a bind: on the synchronous channel when `bindSync` waits, else with an event tagged `req`.
  pub(super) fn answer_bind(
    &mut self,
    req: String,
    r: Result<String, SocketError>,
    reply: Option<SyncSender<BindReply>>,
  ) {
    match &r {
      Ok(resolved) => tracing::debug!(target: crate::log::target::SOCKET, %resolved, "bound"),
      Err(e) => tracing::debug!(target: crate::log::target::SOCKET, err = %e, "bind failed"),
    }
    match (reply, r) {
      (Some(reply), r) => {
        // The JS thread is blocked in bindSync waiting for this; if it timed out, nobody reads it.
        let _ = reply.send(r.map_err(|e| (e.code(), e.to_string())));
      }
      (None, Ok(resolved)) => self
        .outbox
        .push(E_BOUND, &[req.as_bytes(), resolved.as_bytes()]),
      (None, Err(e)) => self.error(req.as_bytes(), &e),
    }
  }

  /// Unbinds `ep` (as given or as resolved) and answers with `E_UNBOUND` or `E_ERROR` (`ENOENT`).
  pub(super) fn unbind(&mut self, req: &str, ep: &str) {
    let found = normalize(ep).and_then(|endpoint| {
      let given = endpoint.to_string();
      let i = (self.binds.iter())
        .position(|(g, r)| *g == given || *r == given || r == ep)
        .ok_or_else(|| SocketError::NotFound(ep.to_string()))?;
      Ok(self.binds.remove(i).1)
    });
    match found {
      Ok(resolved) => {
        if let Some(server) = self.server.as_mut() {
          server.unbind(&resolved);
        }
        self
          .outbox
          .push(E_UNBOUND, &[req.as_bytes(), resolved.as_bytes()]);
      }
      Err(e) => self.error(req.as_bytes(), &e),
    }
  }

  /// Connects to `ep` in the background (reconnecting after losses, except inproc).
  pub(super) fn connect(&mut self, ep: &str) -> Result<(), SocketError> {
    let endpoint = normalize(ep)?;
    self.server()?.connect(&endpoint)?;
    Ok(())
  }

  /// Stops connecting to `ep`; `ENOENT` when it was not connected.
  pub(super) fn disconnect(&mut self, ep: &str) -> Result<(), SocketError> {
    let endpoint = normalize(ep)?;
    let server = self.server.as_mut();
    let token = server.as_ref().and_then(|s| s.dialer_token(&endpoint));
    match (server, token) {
      (Some(server), Some(token)) => {
        server.disconnect(token);
        Ok(())
      }
      _ => Err(SocketError::NotFound(ep.to_string())),
    }
  }
}

impl<S: Classic, R: Reactor + Clone, D: Deliver> SocketLoop<S, R, D> {
  /// `monitor()` / `unmonitor()`: the server reports its peer events from now on (or stops).
  pub(super) fn set_monitor(&mut self, on: bool) {
    self.monitoring = on;
    if let Some(server) = self.server.as_mut() {
      server.set_monitor(on);
    }
  }

  /// Hands the server's monitor events to JS (`E_MONITOR`), in the batch of this turn.
  pub(super) fn report_monitor(&mut self) {
    if !self.monitoring {
      return;
    }
    let Some(server) = self.server.as_mut() else {
      return;
    };
    while let Some(ev) = server.take_peer_event() {
      let (kind, value) = ((ev.kind as u16).to_string(), ev.value.to_string());
      self.outbox.push(
        E_MONITOR,
        &[kind.as_bytes(), value.as_bytes(), ev.endpoint.as_bytes()],
      );
    }
  }

  /// The engine's counters as JSON, for `statsSync`.
  pub(super) fn stats_json(&self) -> String {
    let Some(server) = self.server.as_ref() else {
      return "{}".into();
    };
    let (stats, dial) = (server.stats(), server.dial_stats());
    serde_json::json!({
      "accepted": stats.accepted,
      "active": stats.active,
      "handshaking": stats.handshaking,
      "refused": stats.refused,
      "handshakeEof": stats.handshake_eof,
      "dial": { "attempts": dial.attempts, "failed": dial.failed, "connected": dial.connected },
    })
    .to_string()
  }

  /// `ZMQ_SUBSCRIBE` (`on`) or `ZMQ_UNSUBSCRIBE`.
  pub(super) fn subscription(&mut self, prefix: Bytes, on: bool) {
    // Subscriptions made before the first bind/connect live in the state, which needs no connection.
    match self.server() {
      Ok(server) => {
        server.update_state(|state| state.subscription(prefix, on));
      }
      Err(e) => self.error(b"", &e),
    }
  }
}
