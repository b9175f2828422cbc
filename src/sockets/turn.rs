//! One turn of a classic socket's loop ([`super::eventloop`]): the work that ends a turn (sends to the state,
//! one write per connection, monitor events, one batch to JS), then every input that is ready: controls,
//! the server's events drained as a burst, the proxy's channels, a send retry, JS taking its batch.

use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use super::engine::Classic;
use super::eventloop::{Control, Outgoing, SocketLoop};
use super::proxy::PROXY_QUEUE;
use crate::boundary::outbox::Deliver;
use crate::driver::reactor::Reactor;
use crate::driver::Server;

/// Most socket messages handled in one loop turn before the outbox is flushed.
const DRAIN_LIMIT: usize = 512;
/// Send retries that moved nothing, after which the loop waits on its timer instead of turning again.
const SPIN_RETRIES: u32 = 8;
/// Retries after which the peer is taken as gone for now and the pause grows.
const SHORT_RETRIES: u32 = 200;
/// Most turns one poll takes before it yields, so a flood never holds the thread for long.
const MAX_TURNS: usize = 64;
/// Time one poll may take once it has delivered a batch to JS (whose handlers may be slow) before it yields.
const TURN_BUDGET: std::time::Duration = std::time::Duration::from_millis(2);

/// What one turn of a socket's loop did.
pub(super) enum Turn {
  /// Nothing was ready: wait for a wake-up.
  Idle,
  /// Something moved; `delivered` when a batch went to JS.
  Busy { delivered: bool },
  /// The loop's last answer (it is closing, or closed).
  Done(Poll<()>),
}

impl Turn {
  pub(super) fn of(busy: bool, delivered: bool) -> Self {
    if busy {
      Turn::Busy { delivered }
    } else {
      Turn::Idle
    }
  }
}

/// Runs `turn` until it is idle or done, at most [`MAX_TURNS`] times; after a delivery to JS it yields at
/// once (`yield_on_delivery`: on a JS thread, whose task delivers the batch after this poll) or once
/// [`TURN_BUDGET`] is spent, and asks to be polled again. Shared by the engine's sockets and STREAM.
pub(super) fn run_turns(
  cx: &mut Context<'_>,
  yield_on_delivery: bool,
  mut turn: impl FnMut(&mut Context<'_>) -> Turn,
) -> Poll<()> {
  let started = std::time::Instant::now();
  for _ in 0..MAX_TURNS {
    match turn(cx) {
      Turn::Done(answer) => return answer,
      Turn::Idle => return Poll::Pending,
      Turn::Busy { delivered } => {
        if delivered && (yield_on_delivery || started.elapsed() >= TURN_BUDGET) {
          break;
        }
      }
    }
  }
  // Still busy: let the rest of the thread run, then come back.
  cx.waker().wake_by_ref();
  Poll::Pending
}

/// Polls the server: its next event while the loop takes messages, else only its I/O; `Ready(None)` when
/// no event came but the turn has work: monitor events to report, or room for queued sends (a write
/// drained a full pipe), which then go at once instead of at the next retry.
pub(super) fn poll_server<S: Classic, R: Reactor>(
  server: &mut Option<Box<Server<S, R>>>,
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

impl<S: Classic, R: Reactor + Clone, D: Deliver> SocketLoop<S, R, D> {
  /// Runs turns until nothing is ready; `Ready` once the socket is closed (`E_CLOSED` delivered).
  pub fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
    run_turns(cx, self.yield_on_delivery, |cx| {
      if self.closing.is_some() {
        return Turn::Done(self.poll_close(cx));
      }
      let mut busy = self.poll_inputs(cx);
      let delivered = self.end_turn();
      // Records JS could not take yet (it holds a batch): hear when it does.
      busy |= self.outbox.has_pending() && self.outbox.poll_taken(cx).is_ready();
      Turn::of(busy, delivered)
    })
  }

  /// What ends a turn: queued sends to the state, one write per connection, monitor events, one batch to
  /// JS. True when a batch went to JS.
  fn end_turn(&mut self) -> bool {
    if let Some(proxy) = self.proxy.as_mut() {
      proxy.dispatch();
    }
    self.send_pending();
    if let Some(server) = self.server.as_mut() {
      server.flush();
    }
    self.report_monitor();
    self.outbox.flush()
  }

  /// Takes every input that is ready; true when one was (the loop turns again).
  fn poll_inputs(&mut self, cx: &mut Context<'_>) -> bool {
    let mut busy = self.poll_controls(cx);
    if self.closing.is_some() {
      return true;
    }
    let (reading, retrying) = (self.reading(), self.retrying());
    if let Poll::Ready(ev) = poll_server(&mut self.server, reading, retrying, cx) {
      // `None`: only monitor events or room for sends, which the end of the turn takes care of.
      if let Some(ev) = ev {
        self.handle_event(ev);
        self.drain_ready(cx);
      }
      busy = true;
    }
    busy |= self.poll_proxy(cx);
    busy | self.poll_retry(cx)
  }

  /// Handles every control queued (each one's sends are handed to the state before the next, as they came);
  /// stops at `Close`, or when the handle is gone (nobody can wait for queued sends then).
  fn poll_controls(&mut self, cx: &mut Context<'_>) -> bool {
    let mut busy = false;
    while self.closing.is_none() {
      match self.controls.poll_recv(cx) {
        Poll::Ready(Some(c)) => {
          self.handle_control(c);
          self.send_pending();
          busy = true;
        }
        Poll::Ready(None) => {
          self.handle_control(Control::Close {
            linger: Some(Duration::ZERO),
          });
          busy = true;
        }
        Poll::Pending => break,
      }
    }
    busy
  }

  /// Takes what else the server has ready now (bounded), so a burst is one turn and one batch to JS.
  fn drain_ready(&mut self, cx: &mut Context<'_>) {
    for _ in 0..DRAIN_LIMIT {
      if !self.reading() {
        break;
      }
      match poll_server(&mut self.server, true, false, cx) {
        Poll::Ready(Some(ev)) => self.handle_event(ev),
        _ => break,
      }
    }
  }

  /// This socket's part of a proxy: room for what it holds, or a batch to send; true when either came.
  fn poll_proxy(&mut self, cx: &mut Context<'_>) -> bool {
    let taking = self.pending.len() < PROXY_QUEUE;
    let Some(proxy) = self.proxy.as_mut().filter(|p| p.waits(taking)) else {
      return false;
    };
    match proxy.poll_step(taking, cx) {
      Poll::Ready(got) => {
        let queued = got.into_iter().flatten();
        (self.pending).extend(queued.map(|frames| Outgoing { frames, ack: None }));
        true
      }
      Poll::Pending => false,
    }
  }

  /// The pause before queued sends are tried again: a few turns at once, then 1 ms, then 10 ms once nothing
  /// moves. True when a retry is due now.
  fn poll_retry(&mut self, cx: &mut Context<'_>) -> bool {
    if !self.retrying() {
      self.retry_at = None;
      return false;
    }
    if self.stalls < SPIN_RETRIES {
      return true;
    }
    let at = *self.retry_at.get_or_insert_with(|| {
      // A slow peer: a queue of HWM messages drains in about a millisecond at full speed. Past that,
      // nothing moved for a while (no peer yet): poll gently.
      let pause = if self.stalls < SHORT_RETRIES { 1 } else { 10 };
      Instant::now() + Duration::from_millis(pause)
    });
    if self.timer_fired(at, cx) {
      self.retry_at = None;
      return true;
    }
    false
  }
}
