//! Socket layer shared by every engine (pigato broker/worker/client, bus, classic sockets).
//!
//! Thin wrappers over zmq.rs (`zeromq` 0.7) that add what libzmq gives and zmq.rs lacks:
//! `inproc://` (an in-memory hub), background connect with reconnect after a peer restarts,
//! non-blocking sends that report `WouldBlock`/`Unroutable`, and clean teardown on drop.
//! Everything runs on the caller's (current_thread) tokio runtime; receive methods are
//! cancel-safe so they can sit in a `tokio::select!` loop.

pub mod dealer;
pub mod endpoint;
pub mod error;
pub mod inproc;
mod link;
mod linkio;
pub mod pubsub;
pub mod pushpull;
pub mod router;
mod zsock;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

pub use dealer::Dealer;
pub use endpoint::Endpoint;
pub use error::{Result, TransportError};
pub use link::LinkState;
pub use pubsub::{Publisher, Subscriber};
pub use pushpull::{Pull, Push};
pub use router::Router;

/// One multipart message: a list of frames.
pub type Msg = Vec<bytes::Bytes>;

/// Default high-water mark (messages queued per direction), as libzmq's SNDHWM/RCVHWM.
pub const DEFAULT_HWM: usize = 1000;

/// Options common to connecting sockets.
#[derive(Debug, Clone)]
pub struct LinkOptions {
  /// Queue bound per direction (messages).
  pub hwm: usize,
  /// Pause between connection attempts and after a disconnect (libzmq ZMQ_RECONNECT_IVL).
  pub reconnect_ivl: Duration,
  /// Budget of one connection attempt (TCP connect retries plus ZMTP handshake).
  pub connect_timeout: Duration,
}

impl Default for LinkOptions {
  fn default() -> Self {
    LinkOptions {
      hwm: DEFAULT_HWM,
      reconnect_ivl: Duration::from_millis(100),
      connect_timeout: Duration::from_secs(1),
    }
  }
}

/// ZeroMQ socket types this layer implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
  /// ROUTER
  Router,
  /// DEALER
  Dealer,
  /// PUB
  Pub,
  /// XPUB: a PUB that also hands its subscribers' (un)subscriptions to the application.
  XPub,
  /// SUB
  Sub,
  /// PUSH
  Push,
  /// PULL
  Pull,
}

impl SocketKind {
  /// Whether a socket of this kind may talk to a peer of `other` kind (ZMTP rules).
  pub fn compatible(self, other: SocketKind) -> bool {
    use SocketKind::*;
    matches!(
      (self, other),
      (Router, Dealer | Router)
        | (Dealer, Router | Dealer)
        | (Pub | XPub, Sub)
        | (Sub, Pub | XPub)
        | (Push, Pull)
        | (Pull, Push)
    )
  }
}

/// Polls a future exactly once with a no-op waker; `None` if it was not ready (the future is
/// dropped). Only for *sends* inside this module: a receive polled this way would replace the
/// owning task's waker in the channel (tokio's mpsc keeps only the last one) and the task would
/// sleep through the next message. Receivers use [`ready_now`].
pub(in crate::transport) fn poll_once<F: Future>(fut: F) -> Option<F::Output> {
  let mut fut = pin!(fut);
  match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
    Poll::Ready(v) => Some(v),
    Poll::Pending => None,
  }
}

/// Polls `fut` once with the calling task's own waker: `Some(output)` when it is ready now,
/// else `None` (the future is dropped). Event loops use it to drain what is already queued
/// after a `select!` wake-up, so a batch is handled in one turn. The waker registered on the
/// way is the task's own, so a message arriving later still wakes the loop.
pub async fn ready_now<F: Future>(fut: F) -> Option<F::Output> {
  let mut fut = pin!(fut);
  std::future::poll_fn(move |cx| {
    Poll::Ready(match fut.as_mut().poll(cx) {
      Poll::Ready(v) => Some(v),
      Poll::Pending => None,
    })
  })
  .await
}

#[cfg(test)]
mod tests;
