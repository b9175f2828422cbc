//! What every engine shares below the sockets: endpoints (`tcp://`, `ipc://`, `inproc://`), the in-process
//! hub for `inproc://`, the transport error with its errno-style code, and small helpers of the event loops.
//! The sockets themselves are our ZMTP engine's ([`crate::driver`], [`crate::zmtp`]).

pub mod endpoint;
pub mod error;
pub mod inproc;

use std::future::Future;
use std::pin::pin;
use std::task::Poll;

pub use endpoint::Endpoint;
pub use error::{Result, TransportError};

/// One multipart message: a list of frames.
pub type Msg = Vec<bytes::Bytes>;

/// Default high-water mark (messages queued per direction), as libzmq's SNDHWM/RCVHWM.
pub const DEFAULT_HWM: usize = 1000;

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
