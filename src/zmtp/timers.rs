//! The deadlines of one session: handshake timeout, next PING, heartbeat timeout after a PING, and the peer's
//! TTL. Pure: every method takes `now`; the driver arms one timer at [`Timers::next`].

use std::time::{Duration, Instant};

use super::config::Heartbeat;
use super::error::{Result, ZmtpError};

/// A session's deadlines.
#[derive(Debug, Clone)]
pub(super) struct Timers {
  heartbeat: Heartbeat,
  handshake: Option<Instant>,
  next_ping: Option<Instant>,
  timeout: Option<Instant>,
  ttl: Option<Instant>,
}

impl Timers {
  /// Starts the handshake clock (a zero timeout means none, as libzmq's `HANDSHAKE_IVL` 0).
  pub(super) fn new(now: Instant, handshake_timeout: Duration, heartbeat: Heartbeat) -> Self {
    let handshake = (!handshake_timeout.is_zero()).then(|| now + handshake_timeout);
    Self {
      heartbeat,
      handshake,
      next_ping: None,
      timeout: None,
      ttl: None,
    }
  }

  /// Stops the handshake clock and, if we send PINGs to this peer, schedules the first.
  pub(super) fn handshake_done(&mut self, now: Instant, send_pings: bool) {
    self.handshake = None;
    if send_pings {
      self.next_ping = self
        .heartbeat
        .ivl
        .filter(|d| !d.is_zero())
        .map(|ivl| now + ivl);
    }
  }

  /// Any frame from the peer disarms the heartbeat timeout and the TTL.
  pub(super) fn frame_received(&mut self) {
    self.timeout = None;
    self.ttl = None;
  }

  /// A PING with `ttl` (0.1 s units) arms the TTL; computed in 64 bits, so long TTLs do not wrap as in libzmq.
  pub(super) fn ping_received(&mut self, now: Instant, ttl: u16) {
    if ttl > 0 {
      self.ttl = Some(now + Duration::from_millis(u64::from(ttl) * 100));
    }
  }

  /// The earliest armed deadline.
  pub(super) fn next(&self) -> Option<Instant> {
    [self.handshake, self.next_ping, self.timeout, self.ttl]
      .into_iter()
      .flatten()
      .min()
  }

  /// Fires what is due: `Ok(Some(ttl))` when a PING (with that TTL field) must go out now.
  pub(super) fn fire(&mut self, now: Instant, ready: bool) -> Result<Option<u16>> {
    let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
    if !ready && due(self.handshake) {
      return Err(ZmtpError::HandshakeTimeout);
    }
    if due(self.timeout) || due(self.ttl) {
      return Err(ZmtpError::HeartbeatTimeout);
    }
    let (Some(ivl), true) = (self.heartbeat.ivl, due(self.next_ping)) else {
      return Ok(None);
    };
    self.next_ping = Some(now + ivl);
    if self.timeout.is_none() {
      self.timeout = Some(now + self.heartbeat.timeout.unwrap_or(ivl));
    }
    let ttl = self.heartbeat.ttl.map_or(0, |t| {
      (t.as_millis() / 100).min(u128::from(u16::MAX)) as u16
    });
    Ok(Some(ttl))
  }
}
