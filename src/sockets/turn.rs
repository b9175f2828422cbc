//! The waiting side of a classic socket's loop ([`super::eventloop`]): what one turn waits on beside the
//! controls (the server's next event, room for queued sends, the proxy's channels, a send retry) and the
//! bounded drain of a burst after it.

use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::sleep;

use super::engine::Classic;
use super::eventloop::SocketLoop;
use super::proxy::ProxyEnd;
use crate::boundary::outbox::Deliver;
use crate::driver::Server;
use crate::transport::Msg;

/// Most socket messages handled in one loop turn before the outbox is flushed.
const DRAIN_LIMIT: usize = 512;
/// Send retries that moved nothing, after which the loop sleeps instead of yielding.
const SPIN_RETRIES: u32 = 8;
/// Retries after which the peer is taken as gone for now and the pause grows.
const SHORT_RETRIES: u32 = 200;

/// Polls the server: its next event while the loop takes messages, else only its I/O; `Ready(None)` when
/// no event came but the turn has work: monitor events to report, or room for queued sends (a write
/// drained a full pipe), which then go at once instead of at the next retry.
pub(super) fn poll_server<S: Classic>(
  server: &mut Option<Box<Server<S>>>,
  reading: bool,
  sending: bool,
  cx: &mut Context<'_>,
) -> Poll<Option<S::Event>> {
  let Some(server) = server else {
    return Poll::Pending;
  };
  let polled = if reading {
    server.poll_event(cx)
  } else {
    let _ = server.poll_io(cx);
    Poll::Pending
  };
  match polled {
    Poll::Ready(ev) => Poll::Ready(Some(ev)),
    Poll::Pending if server.has_peer_events() => Poll::Ready(None),
    Poll::Pending if sending && server.state().can_send() => Poll::Ready(None),
    Poll::Pending => Poll::Pending,
  }
}

impl<S: Classic, D: Deliver> SocketLoop<S, D> {
  /// Takes what else the server has ready now (bounded), so a burst is one turn and one batch to JS.
  pub(super) async fn drain_ready(&mut self) {
    for _ in 0..DRAIN_LIMIT {
      if !self.reading() {
        break;
      }
      match ready_now(&mut self.server).await {
        Some(ev) => self.handle_event(ev),
        None => break,
      }
    }
  }
}

/// The server's next event if one is ready now, polled with this task's own waker (so an event arriving
/// later still wakes the loop); `None` otherwise. Drains a burst in one turn.
async fn ready_now<S: Classic>(server: &mut Option<Box<Server<S>>>) -> Option<S::Event> {
  std::future::poll_fn(|cx| {
    Poll::Ready(match poll_server(server, true, false, cx) {
      Poll::Ready(ev) => ev,
      Poll::Pending => None,
    })
  })
  .await
}

/// This socket's part of a proxy: room for what it holds, or a batch to send (never, without a proxy).
pub(super) async fn proxy_step(proxy: &mut Option<Box<ProxyEnd>>, take: bool) -> Option<Vec<Msg>> {
  match proxy {
    Some(proxy) => proxy.step(take).await,
    None => std::future::pending().await,
  }
}

/// The pause before queued sends are tried again: a few yields, then 1 ms, then 10 ms once nothing moves.
pub(super) async fn retry(stalls: u32) {
  if stalls < SPIN_RETRIES {
    tokio::task::yield_now().await;
  } else if stalls < SHORT_RETRIES {
    // A slow peer: a queue of HWM messages drains in about a millisecond at full speed.
    sleep(Duration::from_millis(1)).await;
  } else {
    // Nothing moved for a while (no peer yet): poll gently.
    sleep(Duration::from_millis(10)).await;
  }
}
