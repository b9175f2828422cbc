//! The node's discovery datagrams in and out: sealing what the election sends (signed with a
//! `cluster_key`), and opening, parsing and counting by reason what arrives. A refused datagram
//! never reaches the election.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tokio::time::Instant;

use super::auth::{self, AuthError};
use super::codec::{self, CodecError, Datagram};
use super::eventloop::Node;
use super::sink::EventSink;
use crate::driver::reactor::{IoDatagram, Reactor};

/// Every reason a datagram can be refused for, as named in `node.stats()`.
pub const REASONS: [&str; 7] = [
  "too_large",
  "malformed",
  "unsigned",
  "signed",
  "forged",
  "stale",
  "replayed",
];

/// Refused datagrams per reason (indexes into [`REASONS`]) since the last report.
#[derive(Debug, Default)]
pub struct Refusals([u64; REASONS.len()]);

impl Refusals {
  /// Counts one datagram refused for `reason` (one of [`REASONS`]).
  pub fn count(&mut self, reason: &'static str) {
    if let Some(i) = REASONS.iter().position(|r| *r == reason) {
      self.0[i] = self.0[i].saturating_add(1);
    }
  }

  /// The non-zero counts, reset to zero.
  pub fn take(&mut self) -> Vec<(&'static str, u64)> {
    let counts = std::mem::take(&mut self.0);
    REASONS
      .iter()
      .zip(counts)
      .filter(|(_, n)| *n > 0)
      .map(|(r, n)| (*r, n))
      .collect()
  }
}

fn codec_reason(err: &CodecError) -> &'static str {
  match err {
    CodecError::TooLarge(_) => "too_large",
    _ => "malformed",
  }
}

/// Why `bytes` must be dropped, or the datagram in it.
fn open_datagram(auth: &mut auth::DatagramAuth, bytes: &[u8]) -> Result<Datagram, &'static str> {
  if bytes.len() > codec::MAX_DATAGRAM {
    // Checked before the MAC, so a flood of large datagrams costs no hashing.
    return Err("too_large");
  }
  let content = auth
    .open(bytes, auth::now_ms())
    .map_err(AuthError::reason)?;
  codec::parse(content).map_err(|e| codec_reason(&e))
}

impl<R: Reactor + Clone, S: EventSink> Node<R, S> {
  pub(super) async fn handle_datagram(&mut self, bytes: &[u8], from: SocketAddr) -> bool {
    let from = match from.ip() {
      IpAddr::V4(ip) => ip,
      IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
    };
    match open_datagram(&mut self.auth, bytes) {
      Ok(dg) => {
        let mut out = Vec::new();
        self
          .election
          .handle_datagram(dg, from, Instant::now(), &mut out);
        self.handle_actions(out).await
      }
      Err(reason) => {
        self.refused.count(reason);
        tracing::debug!(target: crate::log::target::BUS, %from, len = bytes.len(), reason, "discovery datagram refused");
        true
      }
    }
  }

  /// Sends `dg` to the discovery group, signed when the node has a `cluster_key`.
  pub(super) async fn send_datagram(&mut self, dg: &Datagram) {
    let bytes = self.auth.seal(codec::encode(dg), auth::now_ms());
    let dest = SocketAddr::V4(self.dest);
    let udp = &self.udp;
    let sent = std::future::poll_fn(|cx| udp.poll_send_to(cx, &bytes, dest)).await;
    if let Err(e) = sent {
      // Reported once: a persistent failure would otherwise flood the owner.
      if !self.send_failed {
        self.send_failed = true;
        self.emit(super::api::NodeEvent::Error(format!(
          "discovery send failed: {e}"
        )));
      }
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use auth::{ClusterKey, DatagramAuth};

  const HB: &[u8] = br#"["hb","9900000042"]"#;

  #[test]
  fn refusals_are_counted_per_reason_and_reset_when_taken() {
    let mut r = Refusals::default();
    r.count("forged");
    r.count("forged");
    r.count("unsigned");
    assert_eq!(r.take(), vec![("unsigned", 1), ("forged", 2)]);
    assert!(r.take().is_empty());
  }

  #[test]
  fn a_keyed_node_opens_signed_datagrams_and_names_why_others_are_dropped() {
    let key = || Some(ClusterKey::derive(b"0123456789abcdef"));
    let mut sender = DatagramAuth::new(key());
    let mut receiver = DatagramAuth::new(key());
    let sealed = sender.seal(HB.to_vec(), auth::now_ms());
    assert!(matches!(
      open_datagram(&mut receiver, &sealed),
      Ok(Datagram::Heartbeat { .. })
    ));
    assert_eq!(open_datagram(&mut receiver, &sealed), Err("replayed"));
    assert_eq!(open_datagram(&mut receiver, HB), Err("unsigned"));
    let big = vec![b' '; codec::MAX_DATAGRAM + 1];
    assert_eq!(open_datagram(&mut receiver, &big), Err("too_large"));
    let junk = sender.seal(b"[1]".to_vec(), auth::now_ms());
    assert_eq!(open_datagram(&mut receiver, &junk), Err("malformed"));
    let mut keyless = DatagramAuth::new(None);
    let fresh = sender.seal(HB.to_vec(), auth::now_ms());
    assert_eq!(open_datagram(&mut keyless, &fresh), Err("signed"));
    assert!(open_datagram(&mut keyless, HB).is_ok());
  }
}
