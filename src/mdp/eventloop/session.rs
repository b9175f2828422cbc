//! What the client and worker loops share: one DEALER "session" towards the broker that is
//! replaced, with a new identity, whenever liveness runs out (zmq.rs DEALERs never
//! reconnect by themselves, and pigato makes a new identity at every restart anyway).

use super::kinds;
use crate::boundary::outbox::{Deliver, Outbox};
use crate::transport::{Dealer, LinkOptions, Msg, TransportError};
use bytes::Bytes;
use std::time::Duration;

/// Queue bound of a session's DEALER: generous, since a client may have 100k requests in
/// flight; past it a send is refused with a counted error rather than buffered without end.
pub(crate) const SESSION_HWM: usize = 262_144;

/// A DEALER connected (or connecting) to the broker under one identity.
pub(crate) struct Session {
  pub dealer: Dealer,
}

impl Session {
  /// Opens a session; connecting happens in the background.
  pub fn open(broker: &str, identity: String) -> Result<Session, TransportError> {
    let opts = LinkOptions {
      hwm: SESSION_HWM,
      reconnect_ivl: Duration::from_millis(100),
      ..LinkOptions::default()
    };
    let dealer = Dealer::connect_with(broker, Some(Bytes::from(identity.clone())), opts)?;
    Ok(Session { dealer })
  }

  /// Queues one message; false when refused (queue full or closed).
  pub fn send(&mut self, frames: Msg) -> bool {
    self.dealer.send(frames).is_ok()
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
