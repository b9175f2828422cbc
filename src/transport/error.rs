//! Errors of the transport layer, with the errno-style code the JS boundary shows as `err.code`.

use thiserror::Error;

/// Everything that can go wrong in the transport layer.
#[derive(Debug, Error)]
pub enum TransportError {
  /// The endpoint string is malformed or uses an unsupported transport.
  #[error("invalid endpoint: {0}")]
  Endpoint(String),
  /// An operating-system error (bind, connect, file system).
  #[error("io error: {0}")]
  Io(#[from] std::io::Error),
  /// A message was malformed for this socket (e.g. a ROUTER send without identity frame).
  #[error("invalid message: {0}")]
  Invalid(String),
  /// A ROUTER send named a peer that is not connected.
  #[error("peer is not connected (unroutable)")]
  Unroutable,
  /// The peer's (or the local) queue is at its high-water mark; nothing was sent.
  #[error("queue full, message not sent")]
  WouldBlock,
  /// The socket (or its background task) is closed.
  #[error("socket is closed")]
  Closed,
  /// The address (tcp port, ipc path or inproc name) is already bound.
  #[error("address already in use: {0}")]
  AddrInUse(String),
}

impl TransportError {
  /// The errno-style code shown to JavaScript as `err.code`.
  pub fn code(&self) -> &'static str {
    match self {
      TransportError::Endpoint(_) | TransportError::Invalid(_) => "EINVAL",
      TransportError::Io(e) => io_code(e),
      TransportError::Unroutable => "EHOSTUNREACH",
      TransportError::WouldBlock => "EAGAIN",
      TransportError::Closed => "ENOTSOCK",
      TransportError::AddrInUse(_) => "EADDRINUSE",
    }
  }
}

fn io_code(e: &std::io::Error) -> &'static str {
  use std::io::ErrorKind as K;
  match e.kind() {
    K::AddrInUse => "EADDRINUSE",
    K::AddrNotAvailable => "EADDRNOTAVAIL",
    K::ConnectionRefused => "ECONNREFUSED",
    K::PermissionDenied => "EACCES",
    K::NotFound => "ENOENT",
    K::TimedOut => "ETIMEDOUT",
    _ => "EIO",
  }
}

/// Result type of the transport layer.
pub type Result<T, E = TransportError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn codes_match_libzmq_errno_names() {
    assert_eq!(TransportError::Endpoint("x".into()).code(), "EINVAL");
    assert_eq!(TransportError::Unroutable.code(), "EHOSTUNREACH");
    assert_eq!(TransportError::WouldBlock.code(), "EAGAIN");
    assert_eq!(TransportError::Closed.code(), "ENOTSOCK");
    assert_eq!(TransportError::AddrInUse("x".into()).code(), "EADDRINUSE");
    let io = std::io::Error::from(std::io::ErrorKind::AddrInUse);
    assert_eq!(TransportError::Io(io).code(), "EADDRINUSE");
  }
}
