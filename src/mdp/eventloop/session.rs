//! What the client and worker loops share: one DEALER "session" towards the broker, on our own ZMTP
//! engine, replaced with a new identity whenever liveness runs out or the connection to the broker closes
//! (pigato makes a new identity at every restart).

use super::kinds;
use crate::boundary::outbox::{Deliver, Outbox};
use crate::driver::dealer::{Dealer, DealerEvent};
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

/// A DEALER connected (or connecting) to the broker under one identity.
pub struct Session {
  pub dealer: Dealer,
}

impl Session {
  /// Opens a session with `base`'s mechanism; connecting happens in the background.
  pub fn open(
    broker: &str,
    identity: String,
    base: &ServerConfig,
  ) -> Result<Session, TransportError> {
    let mut config = base.clone();
    config.session.socket_type = "DEALER".into();
    config.session.identity = Bytes::from(identity);
    config.reconnect_ivl = Duration::from_millis(100);
    let dealer = Dealer::connect(broker, config, SESSION_HWM)?;
    Ok(Session { dealer })
  }

  /// Queues one message; false when refused (queue full or closed).
  pub fn send(&mut self, frames: Msg) -> bool {
    self.dealer.send(frames).is_ok()
  }
}

/// Hands `first` and whatever else the DEALER has ready now (up to `limit` events) to `on`; stops after a
/// `Down`, since the session ends there.
pub async fn drain<F: FnMut(DealerEvent)>(
  dealer: &mut Dealer,
  first: DealerEvent,
  limit: usize,
  mut on: F,
) {
  let mut event = first;
  for taken in 1..=limit {
    let down = event == DealerEvent::Down;
    on(event);
    // Nothing is taken from the DEALER that this call does not hand on.
    if down || taken == limit {
      return;
    }
    match crate::transport::ready_now(dealer.recv()).await {
      Some(next) => event = next,
      None => return,
    }
  }
}

/// A far-off instant for `sleep_until` arms that are disabled.
pub(crate) const FAR: Duration = Duration::from_secs(86_400 * 365);

/// Ends a session loop that could not even open its socket: an error, then `E_STOPPED`.
pub(crate) fn fail<D: Deliver>(mut outbox: Outbox<D>, message: &str) {
  outbox.push(kinds::E_ERROR, &[b"EINVAL".as_slice(), message.as_bytes()]);
  outbox.push(kinds::E_STOPPED, &[] as &[&[u8]]);
  outbox.flush_now();
}
