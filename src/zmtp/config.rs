//! What a session is configured with: socket type and identity, mechanism, hostile-peer limits, heartbeats;
//! and which socket types may talk to each other.

use std::time::Duration;

use bytes::Bytes;

use super::mechanism::MechanismConfig;

/// What a peer may make us hold. Defaults protect a process; libzmq's own defaults are unlimited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
  /// Largest frame accepted after the handshake (`ZMQ_MAXMSGSIZE`).
  pub max_msg_size: u64,
  /// Largest handshake command (READY/INITIATE with their properties).
  pub max_handshake_frame: u64,
  /// Most frames in one message.
  pub max_frames: usize,
  /// Most bytes held for one peer: the partial frame plus the partial message.
  pub max_buffered: usize,
  /// Time allowed for greeting plus handshake (`ZMQ_HANDSHAKE_IVL`).
  pub handshake_timeout: Duration,
}

impl Default for Limits {
  fn default() -> Self {
    Self {
      max_msg_size: 64 << 20,
      max_handshake_frame: 64 << 10,
      max_frames: 1024,
      max_buffered: 128 << 20,
      handshake_timeout: Duration::from_secs(30),
    }
  }
}

/// ZMTP heartbeats (`ZMQ_HEARTBEAT_IVL/TIMEOUT/TTL`); all off by default, as libzmq.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Heartbeat {
  /// Send a PING this often after the handshake.
  pub ivl: Option<Duration>,
  /// Close if nothing arrives this long after a PING (default: `ivl`).
  pub timeout: Option<Duration>,
  /// TTL written into our PINGs (0.1 s units on the wire).
  pub ttl: Option<Duration>,
}

/// Everything one connection needs to know about its socket.
#[derive(Debug, Clone)]
pub struct SessionConfig {
  /// Our `Socket-Type` (`DEALER`, `ROUTER`, `PUB`...).
  pub socket_type: String,
  /// Our routing id (sent as `Identity` by REQ, DEALER and ROUTER).
  pub identity: Bytes,
  /// Security.
  pub mechanism: MechanismConfig,
  /// Hostile-peer limits.
  pub limits: Limits,
  /// Heartbeats.
  pub heartbeat: Heartbeat,
  /// Hand over whole messages as their wire bytes ([`super::session::Event::Raw`]) when the mechanism
  /// leaves frames in plaintext (a relay's input; see [`super::raw`]).
  pub raw_messages: bool,
}

impl SessionConfig {
  /// A NULL config with default limits and no heartbeats.
  pub fn new(socket_type: &str) -> Self {
    Self {
      socket_type: socket_type.to_string(),
      identity: Bytes::new(),
      mechanism: MechanismConfig::Null,
      limits: Limits::default(),
      heartbeat: Heartbeat::default(),
      raw_messages: false,
    }
  }
}

/// The pairs libzmq accepts (exact strings).
pub fn socket_types_match(ours: &str, peer: &str) -> bool {
  matches!(
    (ours, peer),
    ("REQ", "REP" | "ROUTER")
      | ("REP", "REQ" | "DEALER")
      | ("DEALER", "REP" | "DEALER" | "ROUTER")
      | ("ROUTER", "REQ" | "DEALER" | "ROUTER")
      | ("PUB" | "XPUB", "SUB" | "XSUB")
      | ("SUB" | "XSUB", "PUB" | "XPUB")
      | ("PUSH", "PULL")
      | ("PULL", "PUSH")
      | ("PAIR", "PAIR")
  )
}
