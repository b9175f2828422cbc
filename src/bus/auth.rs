//! Authenticated discovery (`cluster_key`): every datagram we send carries an HMAC-SHA256 over its
//! content, the sender's tag and a timestamp; every datagram we receive is checked against it, a
//! replay window and a cache of what was already seen before the election layer sees it.
//!
//! Framing: the original's JSON array, unchanged, then one trailer line:
//!
//! ```text
//! ["hb","9900000042"]\nZBMAC1 <sender: 16 hex> <timestamp: ms since the epoch> <mac: 64 hex>
//! ```
//!
//! The MAC covers `"zmqbus datagram v1\0" || sender (8 bytes) || timestamp (u64 BE) || content`.
//! A node of the original library (and ours without a key) fails to parse the whole datagram as
//! JSON and ignores it (the original catches the parse error and returns), so a keyed cluster is
//! invisible to it, and it never acts on half of one.
//!
//! Keys: HKDF-SHA256 turns the `cluster_key` text into the datagram MAC key and, separately, into
//! the X25519 secret of the cluster's one CURVE key pair (see [`ClusterKey`]).

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What starts the trailer line.
const TAG: &[u8] = b"ZBMAC1 ";
/// The start of every MAC input: a domain separator, so the key signs nothing else by accident.
const DOMAIN: &[u8] = b"zmqbus datagram v1\0";
/// HKDF salt: fixed, versioned.
const SALT: &[u8] = b"zmqbus cluster_key v1";
/// The trailer's length: tag, 16 hex, space, up to 20 digits, space, 64 hex.
const MAX_TRAILER: usize = TAG.len() + 16 + 1 + 20 + 1 + 64;

/// A datagram's timestamp may differ from our clock by this much either way.
pub const REPLAY_WINDOW: Duration = Duration::from_secs(30);
/// Authentic datagrams remembered to drop exact replays inside the window.
pub const SEEN_CAPACITY: usize = 8192;
/// A `cluster_key` must have at least this many bytes.
pub const MIN_KEY_LEN: usize = 16;

type HmacSha256 = Hmac<Sha256>;

/// Why a datagram was refused before the election saw it.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum AuthError {
  /// We have a key and the datagram carries no signature.
  #[error("unsigned datagram")]
  Unsigned,
  /// We have no key and the datagram is signed (another cluster's, or a keyed node's).
  #[error("signed datagram, and this node has no cluster_key")]
  Signed,
  /// The trailer is malformed or the MAC does not match (wrong key, altered content).
  #[error("bad signature")]
  Forged,
  /// Authentic, but its timestamp is outside the replay window.
  #[error("timestamp outside the replay window")]
  Stale,
  /// Authentic and already seen (or older than what the full cache forgot).
  #[error("replayed datagram")]
  Replayed,
}

impl AuthError {
  /// The reason's name in `node.stats()`.
  pub fn reason(self) -> &'static str {
    match self {
      Self::Unsigned => "unsigned",
      Self::Signed => "signed",
      Self::Forged => "forged",
      Self::Stale => "stale",
      Self::Replayed => "replayed",
    }
  }
}

/// The two secrets derived from a `cluster_key`.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterKey {
  mac: [u8; 32],
  /// The X25519 secret of the cluster's CURVE key pair (forwarder and links).
  pub curve_secret: [u8; 32],
}

impl std::fmt::Debug for ClusterKey {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.write_str("ClusterKey(..)") // never print secrets
  }
}

impl ClusterKey {
  /// Derives both secrets from the key's bytes (deterministic: same key, same secrets).
  pub fn derive(key: &[u8]) -> Self {
    let hk = Hkdf::<Sha256>::new(Some(SALT), key);
    let mut mac = [0u8; 32];
    let mut curve_secret = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's limit of 255 * 32, so expand cannot fail.
    hk.expand(b"discovery hmac-sha256", &mut mac)
      .expect("32 bytes is a valid HKDF length");
    hk.expand(b"forwarder curve secret", &mut curve_secret)
      .expect("32 bytes is a valid HKDF length");
    Self { mac, curve_secret }
  }

  fn mac_of(&self, sender: &[u8; 8], ts: u64, content: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so new_from_slice cannot fail.
    let mut mac = HmacSha256::new_from_slice(&self.mac).expect("HMAC accepts any key length");
    mac.update(DOMAIN);
    mac.update(sender);
    mac.update(&ts.to_be_bytes());
    mac.update(content);
    mac
  }
}

/// Milliseconds since the Unix epoch by the wall clock (0 before 1970).
pub fn now_ms() -> u64 {
  SystemTime::now()
    .duration_since(UNIX_EPOCH)
    .map(|d| d.as_millis() as u64)
    .unwrap_or(0)
}

/// Splits a datagram into its content and its trailer (the text after the last newline, when that
/// starts with the tag). Content without a trailer is returned whole.
pub fn split(bytes: &[u8]) -> (&[u8], Option<&[u8]>) {
  let tail_start = bytes.len().saturating_sub(MAX_TRAILER + 1);
  match bytes[tail_start..].iter().rposition(|&b| b == b'\n') {
    Some(i) if bytes[tail_start + i + 1..].starts_with(TAG) => {
      let nl = tail_start + i;
      (&bytes[..nl], Some(&bytes[nl + 1 + TAG.len()..]))
    }
    _ => (bytes, None),
  }
}

/// The fields of a trailer (after the tag): sender, timestamp, MAC.
fn parse_trailer(trailer: &[u8]) -> Option<([u8; 8], u64, [u8; 32])> {
  let text = std::str::from_utf8(trailer).ok()?;
  let mut parts = text.split(' ');
  let (sender, ts, mac) = (parts.next()?, parts.next()?, parts.next()?);
  if parts.next().is_some() || ts.is_empty() || ts.len() > 20 {
    return None;
  }
  if !ts.bytes().all(|b| b.is_ascii_digit()) {
    return None;
  }
  Some((hex_array(sender)?, ts.parse().ok()?, hex_array(mac)?))
}

fn hex_array<const N: usize>(s: &str) -> Option<[u8; N]> {
  if s.len() != 2 * N {
    return None;
  }
  let mut out = [0u8; N];
  for (i, pair) in s.as_bytes().chunks(2).enumerate() {
    let hi = (pair[0] as char).to_digit(16)?;
    let lo = (pair[1] as char).to_digit(16)?;
    out[i] = (hi * 16 + lo) as u8;
  }
  Some(out)
}

fn hex(bytes: &[u8]) -> String {
  bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Signs and checks the datagrams of one node.
#[derive(Debug)]
pub struct DatagramAuth {
  key: Option<ClusterKey>,
  /// Our random tag, so that two nodes sending the same content in the same ms differ.
  sender: [u8; 8],
  /// Our last timestamp: each datagram gets a larger one, so ours never look like replays.
  last_ts: u64,
  seen: HashSet<([u8; 8], u64, [u8; 32])>,
  order: VecDeque<([u8; 8], u64, [u8; 32])>,
  /// Once the cache had to forget an entry still in the window: nothing at or below it is taken.
  floor: u64,
}

impl DatagramAuth {
  /// Authentication with `key`, or none (datagrams go as the original's, signed ones are refused).
  pub fn new(key: Option<ClusterKey>) -> Self {
    Self {
      key,
      sender: rand::random(),
      last_ts: 0,
      seen: HashSet::new(),
      order: VecDeque::new(),
      floor: 0,
    }
  }

  /// Whether datagrams are signed and checked.
  pub fn is_keyed(&self) -> bool {
    self.key.is_some()
  }

  /// The datagram to send for `content` at wall-clock `now` (ms): unchanged without a key.
  pub fn seal(&mut self, mut content: Vec<u8>, now: u64) -> Vec<u8> {
    let Some(key) = &self.key else {
      return content;
    };
    if now.saturating_add(1000) < self.last_ts {
      // The clock went back: carrying on from the last timestamp would put ours in the future
      // (refused as stale by everyone); a new sender tag keeps (sender, timestamp) unique instead.
      self.sender = rand::random();
      self.last_ts = 0;
    }
    let ts = now.max(self.last_ts + 1);
    self.last_ts = ts;
    let mac = key
      .mac_of(&self.sender, ts, &content)
      .finalize()
      .into_bytes();
    let trailer = format!("\nZBMAC1 {} {ts} {}", hex(&self.sender), hex(&mac));
    content.extend_from_slice(trailer.as_bytes());
    content
  }

  /// The content of a received datagram once it passed the checks at wall-clock `now` (ms).
  ///
  /// # Errors
  /// [`AuthError`]: why it must be dropped.
  pub fn open<'a>(&mut self, bytes: &'a [u8], now: u64) -> Result<&'a [u8], AuthError> {
    let (content, trailer) = split(bytes);
    let (key, trailer) = match (&self.key, trailer) {
      (None, None) => return Ok(content),
      (None, Some(_)) => return Err(AuthError::Signed),
      (Some(_), None) => return Err(AuthError::Unsigned),
      (Some(key), Some(t)) => (key, t),
    };
    let (sender, ts, mac) = parse_trailer(trailer).ok_or(AuthError::Forged)?;
    // Constant-time comparison (hmac's verify): the MAC is checked before anything is remembered,
    // so nobody without the key can fill the cache.
    key
      .mac_of(&sender, ts, content)
      .verify_slice(&mac)
      .map_err(|_| AuthError::Forged)?;
    let window = REPLAY_WINDOW.as_millis() as u64;
    if ts.abs_diff(now) > window {
      return Err(AuthError::Stale);
    }
    if ts <= self.floor || !self.seen.insert((sender, ts, mac)) {
      return Err(AuthError::Replayed);
    }
    self.order.push_back((sender, ts, mac));
    self.forget(now.saturating_sub(window));
    Ok(content)
  }

  /// Forgets entries older than `oldest` (the window refuses them anyway), and beyond the cache's
  /// capacity the earliest ones, raising the floor so that they stay refused.
  fn forget(&mut self, oldest: u64) {
    while let Some(&front) = self.order.front() {
      let full = self.order.len() > SEEN_CAPACITY;
      if front.1 >= oldest && !full {
        break;
      }
      if full {
        self.floor = self.floor.max(front.1);
      }
      self.seen.remove(&front);
      self.order.pop_front();
    }
  }
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
