//! What the client and worker loops share: one DEALER "session" towards the broker, on our own ZMTP
//! engine, replaced with a new identity whenever liveness runs out or the connection to the broker closes
//! (pigato makes a new identity at every restart).

use super::kinds;
use crate::boundary::outbox::{Deliver, Outbox};
use crate::driver::dealer::Dealer;
use crate::driver::reactor::{Reactor, Tokio};
use crate::driver::ServerConfig;
use crate::transport::{Msg, TransportError};
use crate::zmtp::security::SecurityParams;
use bytes::Bytes;
use std::time::Duration;

/// Queue bound of a session's DEALER: generous, since a client may have 100k requests in
/// flight; past it a send is refused with a counted error rather than buffered without end.
pub(crate) const SESSION_HWM: usize = 262_144;

/// The connecting side's configuration from the facade's security JSON (`{curve}` / `{plain}`, or nothing
/// for NULL).
///
/// # Errors
/// `LoopError::Config` for JSON that is not security options, or options unusable by a client.
pub fn connect_config(security: Option<&str>) -> Result<ServerConfig, super::LoopError> {
  let mut config = ServerConfig::default();
  if let Some(json) = security.filter(|j| !j.is_empty()) {
    let params: SecurityParams =
      serde_json::from_str(json).map_err(|e| super::LoopError::Config(e.to_string()))?;
    config.session.mechanism = params
      .client()
      .map_err(|e| super::LoopError::Config(e.to_string()))?;
  }
  Ok(config)
}

/// A DEALER connected (or connecting) to the broker under one identity, driven by `R` (tokio's runtime
/// thread, or the JS thread's libuv loop).
pub struct Session<R: Reactor = Tokio> {
  pub dealer: Dealer<R>,
}

impl<R: Reactor> Session<R> {
  /// Opens a session with `base`'s mechanism on `reactor`; connecting happens in the background.
  ///
  /// # Errors
  /// `Endpoint` for a malformed broker address, `Invalid` for an identity over 255 bytes.
  pub fn open(
    broker: &str,
    identity: String,
    base: &ServerConfig,
    reactor: R,
  ) -> Result<Self, TransportError> {
    let mut config = base.clone();
    config.session.socket_type = "DEALER".into();
    config.session.identity = Bytes::from(identity);
    config.reconnect_ivl = Duration::from_millis(100);
    let dealer = Dealer::connect_on(broker, config, SESSION_HWM, reactor)?;
    Ok(Session { dealer })
  }

  /// Queues one message; false when refused (queue full or closed).
  pub fn send(&mut self, frames: Msg) -> bool {
    self.dealer.send(frames).is_ok()
  }
}

/// Ends a session loop that could not even open its socket: an error, then `E_STOPPED`.
pub(crate) fn fail<D: Deliver>(mut outbox: Outbox<D>, message: &str) {
  outbox.push(kinds::E_ERROR, &[b"EINVAL".as_slice(), message.as_bytes()]);
  outbox.push(kinds::E_STOPPED, &[] as &[&[u8]]);
  outbox.flush_now();
}
