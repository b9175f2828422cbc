//! Classic ZeroMQ sockets for JavaScript (the old `zmq` module's `socket(type)` API), on our own ZMTP engine.
//!
//! Each socket is ONE [`crate::driver::Server`] over a floor-2 socket state (`crate::zmtp::socket`) that owns
//! all its binds and connects (tcp, ipc, inproc), as a libzmq socket owns its endpoints:
//! - [`options`]: the options a socket acts on (identity, HWMs, reconnect, heartbeats, limits, security,
//!   the state's switches) and how they become a connection's configuration.
//! - [`control`]: the commands the napi handle sends a socket's loop.
//! - [`engine`]: what the loop needs from each socket state ([`engine::Classic`]).
//! - [`endpoints`]: bind / unbind / connect / disconnect on the socket's server.
//! - [`eventloop`]: the one loop per socket, a poll function driven by [`eventloop::Control`] messages from
//!   the napi handle and answering with batched event records (`E_*` below). It also keeps the old `zmq`
//!   module's REQ queueing (requests wait while a REQ waits for its reply) above the strict floor-2 REQ.
//! - `turn`: one turn of that loop (what ends it, what it takes: controls, the server, the proxy, retries);
//!   `linger`: how it closes.
//! - [`start`]: where the loop runs: a task on the libuv loop of the JS thread that made the socket (the
//!   default), or a tokio task on the runtime thread (`ZMQBUS_THREAD=runtime`, and STREAM sockets).
//! - [`proxy`]: `zmq.proxy` between two sockets (and a capture) of this engine, loop to loop.
//! - [`stream`]: ZMQ_STREAM, whose peers are raw byte streams (no ZMTP), in a tokio loop of its own.

pub mod control;
pub mod endpoints;
pub mod engine;
pub mod eventloop;
mod linger;
pub mod options;
pub mod proxy;
pub mod start;
pub mod stream;
mod turn;

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
  /// ZMQ_PAIR: exactly one peer.
  Pair,
  /// ZMQ_STREAM: raw TCP peers, `[id, bytes]` (see [`stream`]).
  Stream,
}

impl SocketType {
  /// Parses a type name (`"pub"`, `"dealer"`, `"xrep"`...) as the `zmq` module accepts them.
  ///
  /// # Errors
  /// `SocketError::UnknownType` for names libzmq does not know, `SocketError::NotSupported`
  /// for types this package does not implement (none today).
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
      "pair" => SocketType::Pair,
      "stream" => SocketType::Stream,
      _ => return Err(SocketError::UnknownType(name.to_string())),
    })
  }

  /// Whether sockets of this type receive messages.
  pub fn receives(self) -> bool {
    !matches!(self, SocketType::Pub | SocketType::Push)
  }

  /// Whether a send waits for room (libzmq `EAGAIN`) rather than being answered at once: every type but
  /// REP (whose send without a request is `EFSM`), ROUTER (which routes or drops at once; with
  /// `ROUTER_MANDATORY` an unknown peer is `EHOSTUNREACH` and a full one `EAGAIN`, as `zmq_send` with
  /// `ZMQ_DONTWAIT` says) and the receive-only SUB and PULL (`ENOTSUP`).
  pub fn blocks_on_send(self) -> bool {
    !matches!(
      self,
      SocketType::Rep | SocketType::Router | SocketType::Sub | SocketType::Pull
    )
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
  /// A send the socket refused, with libzmq's errno (`EFSM`, `EHOSTUNREACH`, `ENOTSUP`...).
  #[error("send refused: {0}")]
  Send(crate::zmtp::socket::SendError),
  /// A security option that cannot be used (a malformed or missing key).
  #[error(transparent)]
  Security(#[from] crate::zmtp::security::SecurityError),
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
      SocketError::Send(e) => e.code(),
      SocketError::Security(_) => "EINVAL",
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

crate::record_kinds!(SOCKET_KINDS {
  /// Command record (JS -> Rust, inside a packed batch): one message to send, `[frames...]`.
  C_SEND = 1;
  /// Command record: one message whose outcome a send callback waits for, `[reqId, frames...]`; answered
  /// with `E_SENT` or `E_ERROR` tagged `reqId`.
  C_SEND_ACK = 2;

  /// Event record: a received message, `[frames...]`.
  E_MESSAGE = 1;
  /// Event record: a bind finished, `[reqId, resolvedEndpoint]`.
  E_BOUND = 2;
  /// Event record: an unbind finished, `[reqId, endpoint]`.
  E_UNBOUND = 3;
  /// Event record: an error, `[reqId or "", code, message]`.
  E_ERROR = 4;
  /// Event record: the socket is closed and its task has ended, `[]`.
  E_CLOSED = 5;
  /// Event record: the state took a `C_SEND_ACK` message, `[reqId]`.
  E_SENT = 6;
  /// Event record: a monitor event (while monitoring), `[event number, value, endpoint]`, the numbers as
  /// decimal text (`crate::driver::PeerEventKind`).
  E_MONITOR = 7;
});

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
    assert_eq!(unknown.code(), "EINVAL");
    assert_eq!(SocketType::parse("PAIR").unwrap(), SocketType::Pair);
    assert_eq!(SocketType::parse("stream").unwrap(), SocketType::Stream);
    assert!(SocketError::NotSupported("x".into())
      .to_string()
      .contains("not supported"));
    assert!(unknown.to_string().contains("unknown socket type"));
  }
}
