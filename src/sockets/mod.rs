//! Classic ZeroMQ sockets for JavaScript (the old `zmq` module's `socket(type)` API).
//!
//! Layers, as in every engine of this crate:
//! - [`reqrep`]: the pure REQ and REP state machines (envelopes, strict alternation).
//! - [`ports`]: one socket's endpoints (each bind or connect is a port over a `crate::transport`
//!   socket), with fair receive, round-robin / fan-out / routed send, and subscriptions.
//! - [`eventloop`]: the one tokio task per socket, driven by [`eventloop::Control`] messages
//!   from the napi handle and answering with batched event records (`E_*` below).

pub mod eventloop;
pub mod ports;
pub mod reqrep;

use thiserror::Error;

/// Socket types of the `zmq` module, numbered as libzmq.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketType {
  /// ZMQ_PUB
  Pub,
  /// ZMQ_SUB
  Sub,
  /// ZMQ_REQ
  Req,
  /// ZMQ_REP
  Rep,
  /// ZMQ_DEALER
  Dealer,
  /// ZMQ_ROUTER
  Router,
  /// ZMQ_PULL
  Pull,
  /// ZMQ_PUSH
  Push,
  /// ZMQ_XSUB: a SUB whose subscriptions are sent as `[1|0, prefix...]` messages.
  XSub,
  /// ZMQ_XPUB: a PUB that receives its subscribers' `[1|0, prefix...]` messages.
  XPub,
}

impl SocketType {
  /// Parses a type name (`"pub"`, `"dealer"`, `"xrep"`...) as the `zmq` module accepts them.
  ///
  /// # Errors
  /// `SocketError::UnknownType` for names libzmq does not know, `SocketError::NotSupported`
  /// for types this package does not implement (PAIR, STREAM).
  pub fn parse(name: &str) -> Result<SocketType, SocketError> {
    Ok(match name.to_ascii_lowercase().as_str() {
      "pub" => SocketType::Pub,
      "sub" => SocketType::Sub,
      "req" => SocketType::Req,
      "rep" => SocketType::Rep,
      "dealer" | "xreq" => SocketType::Dealer,
      "router" | "xrep" => SocketType::Router,
      "pull" => SocketType::Pull,
      "push" => SocketType::Push,
      "xsub" => SocketType::XSub,
      "xpub" => SocketType::XPub,
      "pair" | "stream" => return Err(SocketError::NotSupported(format!("socket type {name}"))),
      _ => return Err(SocketError::UnknownType(name.to_string())),
    })
  }

  /// Whether sockets of this type receive messages.
  pub fn receives(self) -> bool {
    !matches!(self, SocketType::Pub | SocketType::Push)
  }
}

/// Errors of the sockets engine.
#[derive(Debug, Error)]
pub enum SocketError {
  /// The transport failed (bad endpoint, address in use, ...).
  #[error(transparent)]
  Transport(#[from] crate::transport::TransportError),
  /// A socket type name libzmq does not know.
  #[error("unknown socket type {0:?}")]
  UnknownType(String),
  /// A feature this package does not implement.
  #[error("{0} is not supported")]
  NotSupported(String),
  /// The operation is not valid in the socket's current state (libzmq EFSM).
  #[error("operation not valid in the current state: {0}")]
  State(#[from] reqrep::StateError),
  /// No bind or connect matches the endpoint given to unbind/disconnect.
  #[error("endpoint not in use: {0}")]
  NotFound(String),
  /// The socket is closed.
  #[error("socket is closed")]
  Closed,
}

impl SocketError {
  /// The errno-style code JavaScript sees as `err.code`.
  pub fn code(&self) -> &'static str {
    match self {
      SocketError::Transport(t) => t.code(),
      SocketError::UnknownType(_) | SocketError::NotSupported(_) => "EINVAL",
      SocketError::State(_) => "EFSM",
      SocketError::NotFound(_) => "ENOENT",
      SocketError::Closed => "ENOTSOCK",
    }
  }
}

impl From<SocketError> for crate::error::JsError {
  fn from(err: SocketError) -> Self {
    crate::error::JsError::new(err.code(), err.to_string())
  }
}

/// Command record (JS -> Rust, inside a packed batch): one message to send, `[frames...]`.
pub const C_SEND: u8 = 1;

/// Event record: a received message, `[frames...]`.
pub const E_MESSAGE: u8 = 1;
/// Event record: a bind finished, `[reqId, resolvedEndpoint]`.
pub const E_BOUND: u8 = 2;
/// Event record: an unbind finished, `[reqId, endpoint]`.
pub const E_UNBOUND: u8 = 3;
/// Event record: an error, `[reqId or "", code, message]`.
pub const E_ERROR: u8 = 4;
/// Event record: the socket is closed and its task has ended, `[]`.
pub const E_CLOSED: u8 = 5;

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn type_names_parse_case_insensitively_with_old_aliases() {
    assert_eq!(SocketType::parse("PUB").unwrap(), SocketType::Pub);
    assert_eq!(SocketType::parse("xrep").unwrap(), SocketType::Router);
    assert_eq!(SocketType::parse("xreq").unwrap(), SocketType::Dealer);
    assert_eq!(SocketType::parse("xpub").unwrap(), SocketType::XPub);
  }

  #[test]
  fn unknown_and_unsupported_types_are_einval_with_distinct_messages() {
    let unknown = SocketType::parse("bogus").unwrap_err();
    let pair = SocketType::parse("pair").unwrap_err();
    assert_eq!((unknown.code(), pair.code()), ("EINVAL", "EINVAL"));
    assert!(pair.to_string().contains("not supported"));
    assert!(unknown.to_string().contains("unknown socket type"));
  }
}
