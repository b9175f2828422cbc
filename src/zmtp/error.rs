//! The one error enum of the ZMTP layer. Every variant closes that one connection; none is fatal to a process.
//! [`ZmtpError::reason`] gives a short stable name per variant, so a driver can count refusals by reason.

use thiserror::Error;

/// Why a ZMTP connection was refused or closed by our side.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ZmtpError {
  /// Byte 0 of the greeting is not `FF`.
  #[error("greeting signature is not ZMTP 3.x (byte {offset} = {byte:#04x})")]
  BadSignature {
    /// Offset of the offending byte.
    offset: usize,
    /// The byte seen there.
    byte: u8,
  },
  /// The peer speaks ZMTP 1.0 or 2.0 (or another major below 3).
  #[error("unsupported ZMTP version {major}.{minor}")]
  UnsupportedVersion {
    /// Major version the peer announced.
    major: u8,
    /// Minor version the peer announced (0 if not yet seen).
    minor: u8,
  },
  /// The greeting names a mechanism we do not implement.
  #[error("unknown security mechanism {0:?}")]
  UnknownMechanism(String),
  /// The peer's mechanism differs from ours (libzmq closes without ERROR here, and so do we).
  #[error("mechanism mismatch: ours {ours}, peer {peer}")]
  MechanismMismatch {
    /// Our mechanism name.
    ours: &'static str,
    /// The peer's mechanism name.
    peer: &'static str,
  },
  /// A frame announced more bytes than `max_msg_size` allows (or than this machine can address).
  #[error("frame of {size} bytes exceeds the limit of {max}")]
  FrameTooLarge {
    /// Announced size.
    size: u64,
    /// The limit in force.
    max: u64,
  },
  /// A message has more frames than `max_frames` allows.
  #[error("message has more than {max} frames")]
  TooManyFrames {
    /// The limit in force.
    max: usize,
  },
  /// The peer made us hold more bytes than `max_buffered` allows.
  #[error("peer buffered {size} bytes, over the limit of {max}")]
  BufferLimit {
    /// Bytes held.
    size: usize,
    /// The limit in force.
    max: usize,
  },
  /// A command or property list does not parse (lengths past the end, leftovers, bad names).
  #[error("malformed {0}")]
  Malformed(&'static str),
  /// A command that is not allowed at this point of the handshake.
  #[error("unexpected command {0:?}")]
  UnexpectedCommand(String),
  /// A data frame arrived before the handshake finished.
  #[error("data frame before the handshake finished")]
  UnexpectedMessage,
  /// The peer's Socket-Type cannot talk to ours.
  #[error("socket type {peer:?} cannot talk to {ours:?}")]
  IncompatibleSocketType {
    /// Our socket type.
    ours: String,
    /// The peer's socket type.
    peer: String,
  },
  /// Our authenticator refused the peer (ZAP status code).
  #[error("authentication refused with status {0}")]
  AuthRefused(u16),
  /// The peer sent an ERROR command.
  #[error("peer sent ERROR: {0}")]
  PeerError(String),
  /// A CURVE box did not open, or its contents did not match (wrong key, tampered bytes).
  #[error("CURVE: {0}")]
  Crypto(&'static str),
  /// A CURVE MESSAGE nonce did not increase (a replay or a reorder).
  #[error("CURVE nonce {got} not above the last one {last}")]
  NonceReplay {
    /// Nonce received.
    got: u64,
    /// Last nonce accepted.
    last: u64,
  },
  /// Greeting plus handshake took longer than the handshake timeout.
  #[error("handshake not finished in time")]
  HandshakeTimeout,
  /// No frame arrived within the heartbeat timeout after a PING, or within the peer's TTL.
  #[error("heartbeat timed out")]
  HeartbeatTimeout,
  /// A message was given to a session whose handshake has not finished.
  #[error("handshake not finished")]
  NotReady,
  /// The session was already closed by an earlier error.
  #[error("session closed")]
  Closed,
}

impl ZmtpError {
  /// A short stable name for counting refusals (`stats()` by reason).
  pub fn reason(&self) -> &'static str {
    match self {
      Self::BadSignature { .. } => "bad_signature",
      Self::UnsupportedVersion { .. } => "unsupported_version",
      Self::UnknownMechanism(_) => "unknown_mechanism",
      Self::MechanismMismatch { .. } => "mechanism_mismatch",
      Self::FrameTooLarge { .. } => "frame_too_large",
      Self::TooManyFrames { .. } => "too_many_frames",
      Self::BufferLimit { .. } => "buffer_limit",
      Self::Malformed(_) => "malformed",
      Self::UnexpectedCommand(_) => "unexpected_command",
      Self::UnexpectedMessage => "unexpected_message",
      Self::IncompatibleSocketType { .. } => "incompatible_socket_type",
      Self::AuthRefused(_) => "auth_refused",
      Self::PeerError(_) => "peer_error",
      Self::Crypto(_) => "crypto",
      Self::NonceReplay { .. } => "nonce_replay",
      Self::HandshakeTimeout => "handshake_timeout",
      Self::HeartbeatTimeout => "heartbeat_timeout",
      Self::NotReady => "not_ready",
      Self::Closed => "closed",
    }
  }
}

/// Result alias of this layer.
pub type Result<T> = std::result::Result<T, ZmtpError>;
