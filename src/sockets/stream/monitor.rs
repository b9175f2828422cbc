//! Monitor events of a STREAM socket (`monitor()`): its connections are not the driver's, so it reports
//! what it does itself, with the driver's numbers and values ([`PeerEventKind`], libzmq's): the fd of a
//! listener, an accepted or a connected stream; `EINPROGRESS` for a delayed connect; the pause before a
//! retry in milliseconds; the errno of a failed bind.

use super::StreamLoop;
use crate::boundary::outbox::Deliver;
use crate::driver::reactor::Reactor;
use crate::driver::PeerEventKind;
use crate::sockets::{SocketError, E_MONITOR};
use crate::transport::TransportError;

/// EINPROGRESS on Linux and the BSDs: the value of a delayed connect, as libzmq reports it.
pub(super) const EINPROGRESS: i64 = if cfg!(target_os = "linux") { 115 } else { 36 };

impl<R: Reactor, D: Deliver> StreamLoop<R, D> {
  /// Reports one event while monitoring is on.
  pub(super) fn peer_event(&mut self, kind: PeerEventKind, value: i64, endpoint: &str) {
    if !self.monitoring {
      return;
    }
    let (kind, value) = ((kind as u16).to_string(), value.to_string());
    self.push(
      E_MONITOR,
      &[kind.as_bytes(), value.as_bytes(), endpoint.as_bytes()],
    );
  }

  /// `ZMQ_EVENT_BIND_FAILED` for `ep`, named by its address without the transport (as libzmq).
  pub(super) fn bind_failed(&mut self, ep: &str, err: &SocketError) {
    const EADDRINUSE: i64 = if cfg!(target_os = "linux") { 98 } else { 48 };
    const EINVAL: i64 = 22;
    let value = match err {
      SocketError::Transport(TransportError::AddrInUse(_)) => EADDRINUSE,
      SocketError::Transport(TransportError::Io(io)) => io.raw_os_error().map_or(-1, i64::from),
      _ => EINVAL,
    };
    let address = ep.split_once("://").map_or(ep, |(_, a)| a).to_string();
    self.peer_event(PeerEventKind::BindFailed, value, &address);
  }
}
