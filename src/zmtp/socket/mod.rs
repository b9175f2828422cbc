//! Floor 2: socket semantics over ZMTP sessions, as pure state machines. A driver (floor 3) owns the
//! connections and tells a socket state which connection became ready, sent a message or went away; the state
//! says what goes out to each connection and what the application sees. No I/O, no clock.
//!
//! - [`router`]: ROUTER routing ids (the peer's `Identity`, or a generated `00` + u32), per-peer pipes with a
//!   high-water mark, peer connected/gone events.
//! - [`publisher`]: PUB fan-out: per-peer subscription sets (both wire forms), prefix match, drop at the HWM.
//! - [`sink`]: a SUB that subscribes every publisher to everything and hands out what they send (as wire
//!   bytes when it can: [`crate::zmtp::raw`]).
//! - [`pipe`]: the shared pipe set: per-connection bounded queues, round-robin sending, fair-queued receiving.
//! - [`dealer`]: DEALER, PUSH and PULL. [`req`]: REQ. [`rep`]: REP. [`pair`]: PAIR.
//! - [`xpub`]: XPUB (subscriptions handed to the application). [`subscriber`]: SUB and XSUB.
//!
//! The application side of every socket is [`AppSocket`]: `send` queues a message (or says why not, as libzmq's
//! errno would), and what the application receives comes out of [`SocketState::poll_event`].

pub mod dealer;
pub mod pair;
pub mod pipe;
pub mod publisher;
#[cfg(test)]
mod relay_tests;
pub mod rep;
pub mod req;
pub mod router;
pub mod sink;
pub mod subscriber;
#[cfg(test)]
mod testutil;
pub mod xpub;

use bytes::Bytes;
use thiserror::Error;

use super::command::Subscription;
use super::raw::RawMessage;
use super::session::PeerInfo;

pub use dealer::{DealerState, PullState, PushState};
pub use pair::PairState;
pub use pipe::{PipeOptions, SocketStats};
pub use publisher::PubState;
pub use rep::RepState;
pub use req::ReqState;
pub use router::{RouteError, RouterEvent, RouterState, RouterStats, Token};
pub use sink::{Relayed, SinkState};
pub use subscriber::{SubState, XSubState};
pub use xpub::XPubState;

/// Something a socket state wants written to one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
  /// A multipart message.
  Message(Vec<Bytes>),
  /// A subscription change (the session picks the wire form the peer's version calls for).
  Subscription(Subscription),
  /// A whole message as its wire bytes (a relay's): a plaintext session appends them as they are.
  Raw(RawMessage),
}

/// What a driver needs from a socket's state.
pub trait SocketState {
  /// What the application sees.
  type Event;

  /// Connection `token` finished its handshake.
  ///
  /// # Errors
  /// A reason to count when the peer is refused (the driver closes its connection).
  fn on_ready(&mut self, token: Token, peer: &PeerInfo) -> Result<(), &'static str>;

  /// A message from connection `token`.
  fn on_message(&mut self, token: Token, frames: Vec<Bytes>);

  /// A message from connection `token` as its wire bytes (sessions configured for raw messages). By
  /// default it is split into its frames for [`SocketState::on_message`].
  fn on_raw(&mut self, token: Token, msg: RawMessage) {
    self.on_message(token, msg.frames());
  }

  /// A subscription command (3.1 form) from connection `token`.
  fn on_subscription(&mut self, token: Token, sub: Subscription) {
    let _ = (token, sub);
  }

  /// Connection `token` is gone. For a token made by [`SocketState::on_attach`] the pipe stays, with what it
  /// holds, until [`SocketState::on_detach`] (libzmq keeps a connecting side's pipe across reconnects).
  fn on_gone(&mut self, token: Token);

  /// The driver made a pipe for `token` before its connection exists: an endpoint the application
  /// `connect()`ed (libzmq's default, non-`IMMEDIATE` connect), so messages may queue for it at once. The
  /// same token then comes `on_ready` at each (re)connection and `on_gone` at each loss.
  fn on_attach(&mut self, token: Token) {
    let _ = token;
  }

  /// The pipe of an attached token ends for good (the endpoint was disconnected, or the socket closed); what
  /// it held is dropped. A driver calls [`SocketState::on_gone`] first if the connection was up.
  fn on_detach(&mut self, token: Token) {
    let _ = token;
  }

  /// The next thing to write to connection `token`.
  fn take_output(&mut self, token: Token) -> Option<Output>;

  /// Whether something waits to be written to connection `token`.
  fn has_output(&self, token: Token) -> bool;

  /// The next event for the application.
  fn poll_event(&mut self) -> Option<Self::Event>;

  /// Whether the state takes more messages from connection `token` now. `false` when that connection's receive
  /// queue is at its high-water mark: libzmq stops reading that engine (TCP back-pressure) until the application
  /// has read some. A driver that delivers anyway sees the message dropped and counted.
  fn wants_input(&self, token: Token) -> bool {
    let _ = token;
    true
  }

  /// A connection the state wants closed for a protocol error, with a reason to count (libzmq's session drops
  /// such a connection, e.g. a REQ getting a reply without its empty delimiter). Polled after `on_message`.
  fn take_violation(&mut self) -> Option<(Token, &'static str)> {
    None
  }
}

/// Why [`AppSocket::send`] did not take a message, named after the errno libzmq gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SendError {
  /// `EAGAIN`: no pipe has room (DEALER, PUSH, REQ and PAIR block instead of dropping), or the peer's pipe
  /// is full under `ROUTER_MANDATORY` or `XPUB_NODROP`. Try again after the driver has written something.
  #[error("no pipe has room (EAGAIN)")]
  WouldBlock,
  /// `EFSM`: the socket's send/receive alternation forbids sending now (a REQ waiting for its reply, a REP
  /// with no request to answer).
  #[error("not in a state to send (EFSM)")]
  Fsm,
  /// `EHOSTUNREACH`: a ROUTER with `ROUTER_MANDATORY` has no peer with this routing id.
  #[error("no peer with this routing id (EHOSTUNREACH)")]
  Unroutable,
  /// `EINVAL`: the message is malformed for this socket (no frame at all, a ROUTER message without a body).
  #[error("malformed message for this socket (EINVAL)")]
  Invalid,
  /// `ENOTSUP`: this socket type never sends (PULL, SUB).
  #[error("this socket type cannot send (ENOTSUP)")]
  NotSupported,
}

impl SendError {
  /// The errno name libzmq gives for this case, for a binding's `err.code`.
  pub fn code(self) -> &'static str {
    match self {
      Self::WouldBlock => "EAGAIN",
      Self::Fsm => "EFSM",
      Self::Unroutable => "EHOSTUNREACH",
      Self::Invalid => "EINVAL",
      Self::NotSupported => "ENOTSUP",
    }
  }
}

/// The application side of a socket state: what `zmq_send` does, and what `ZMQ_POLLOUT` says.
pub trait AppSocket {
  /// Queues one whole multipart message as this socket type does in libzmq.
  ///
  /// # Errors
  /// [`SendError`], with nothing queued.
  fn send(&mut self, msg: Vec<Bytes>) -> Result<(), SendError>;

  /// Whether a `send` could succeed now (libzmq's `ZMQ_POLLOUT`).
  fn can_send(&self) -> bool;

  /// The next connection that got something to write because of an application call (`send`, a subscription
  /// change); the driver flushes it. Each connection comes at most once until it is polled again. It may name
  /// an attached pipe whose connection is down (its queue waits for the next one) or a connection that has
  /// since gone; a driver skips those.
  fn poll_woken(&mut self) -> Option<Token>;
}
