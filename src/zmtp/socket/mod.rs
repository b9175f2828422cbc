//! Floor 2: socket semantics over ZMTP sessions, as pure state machines. A driver (floor 3) owns the
//! connections and tells a socket state which connection became ready, sent a message or went away; the state
//! says what goes out to each connection and what the application sees. No I/O, no clock.
//!
//! - [`router`]: ROUTER routing ids (the peer's `Identity`, or a generated `00` + u32), per-peer pipes with a
//!   high-water mark, peer connected/gone events.
//! - [`publisher`]: PUB fan-out: per-peer subscription sets (both wire forms), prefix match, drop at the HWM.
//! - [`sink`]: a SUB that subscribes every publisher to everything and hands out what they send.

pub mod publisher;
pub mod router;
pub mod sink;

use bytes::Bytes;

use super::command::Subscription;
use super::session::PeerInfo;

pub use publisher::PubState;
pub use router::{RouteError, RouterEvent, RouterState, RouterStats, Token};
pub use sink::SinkState;

/// Something a socket state wants written to one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
  /// A multipart message.
  Message(Vec<Bytes>),
  /// A subscription change (the session picks the wire form the peer's version calls for).
  Subscription(Subscription),
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
}
