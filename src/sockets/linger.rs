//! How a classic socket's loop ends ([`super::eventloop`]): after `Close` it keeps handing queued sends to
//! the state and writing for at most the linger (`ZMQ_LINGER`, bounded by [`super::eventloop::MAX_LINGER`]),
//! then closes every listener and connection and delivers `E_CLOSED`.

use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use super::engine::Classic;
use super::eventloop::SocketLoop;
use super::E_CLOSED;
use crate::boundary::outbox::Deliver;
use crate::driver::reactor::Reactor;

/// Steps of a lingering close per poll before it yields.
const MAX_STEPS: usize = 64;
/// How long a lingering close waits for I/O before it looks again (wake-ups from the writes come sooner).
const STEP: Duration = Duration::from_millis(5);

impl<S: Classic, R: Reactor + Clone, D: Deliver> SocketLoop<S, R, D> {
  /// Flushes what is queued until it is written or the linger is over; `Ready` once closed.
  pub(super) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<()> {
    let Some(deadline) = self.closing else {
      return Poll::Pending;
    };
    for _ in 0..MAX_STEPS {
      match self.linger_step(deadline, cx) {
        Some(true) => continue,
        Some(false) => return Poll::Pending,
        None => return self.finish(),
      }
    }
    cx.waker().wake_by_ref();
    Poll::Pending
  }

  /// One step of a lingering close: `None` when it is over, `Some(true)` to step again now, `Some(false)`
  /// to wait for I/O or the step's timer.
  fn linger_step(&mut self, deadline: Instant, cx: &mut Context<'_>) -> Option<bool> {
    self.send_pending();
    let server = self.server.as_mut()?;
    server.flush();
    // Requests queued behind a REQ's unanswered one can never go: they are not waited for.
    let stuck = server.state().awaiting_reply();
    let queued = !self.pending.is_empty() && !stuck;
    if (!queued && !server.has_unsent()) || Instant::now() >= deadline {
      return None;
    }
    // Wait for the writes to make room for what is queued (or to finish), not for a fixed step: a close
    // right after a burst of sends runs at the socket's full speed.
    let _ = server.poll_io(cx);
    let room = queued && server.state().can_send();
    if room || (!queued && !server.has_unsent()) {
      return Some(true);
    }
    let step = (Instant::now() + STEP).min(deadline);
    let at = *self.retry_at.get_or_insert(step);
    if self.timer_fired(at, cx) {
      self.retry_at = None;
      return Some(true);
    }
    Some(false)
  }

  /// Closes every listener and connection now and tells JS (`E_CLOSED`, delivered whatever JS is doing).
  fn finish(&mut self) -> Poll<()> {
    if let Some(server) = self.server.as_mut() {
      // A closed socket's monitor ends with it (the old module's close() stops monitoring first).
      server.set_monitor(false);
      server.close();
    }
    self.server = None;
    self.outbox.push(E_CLOSED, &[] as &[&[u8]]);
    self.outbox.flush_now();
    Poll::Ready(())
  }
}
