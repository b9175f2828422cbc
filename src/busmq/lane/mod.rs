//! The fast lane of a bus (issue: the thread model): Redis connections run on the JS thread's
//! own libuv loop, so the hot path crosses no thread. It carries two things, and nothing else:
//!
//! - pushes of plain queues, sent from the JS thread on a connection of its own (`EVALSHA` of
//!   the push script, `EVAL` after a `NOSCRIPT`), acked to JS in the same batches as other
//!   events. One push call per queue is in flight at a time, as on the runtime path, so a
//!   queue's messages enter Redis in push order; JS (`lib/busmq/queue.js`) keeps the order of
//!   a queue's other calls around them.
//! - the blocking pops of plain consumers ([`lease`]): the bus's loop hands a consumer's pop
//!   to the lane, which waits in `BLMPOP`, sends the next one as soon as an answer arrives,
//!   and delivers the messages to JS synchronously, until the consumer stops (the loop's
//!   `CLIENT UNBLOCK`, as before) or reaches its `max`.
//!
//! Everything else (attach, queries, notifications, reliable mode, TLS, sentinels, clusters,
//! several urls) stays on the bus's loop on the runtime thread.

mod conn;
mod lease;
mod push;

pub use conn::RespConn;
pub use lease::{Lease, LeaseEnd};

use crate::boundary::outbox::{Deliver, Outbox};
use crate::busmq::codec::encode_event;
use crate::busmq::keys::RedisTarget;
use crate::busmq::types::{Event, Failure, Qid, Rid};
use crate::driver::reactor::{IoSleep, Reactor};
use bytes::Bytes;
use std::cell::Cell;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedReceiver;

/// Pause before the push connection is made again after it failed.
pub const RETRY: Duration = Duration::from_secs(1);

/// Errors of the lane's connections.
#[derive(Debug, thiserror::Error)]
pub enum LaneError {
  /// The socket failed.
  #[error("{0}")]
  Io(#[from] std::io::Error),
  /// Redis closed the connection.
  #[error("connection closed by redis")]
  Closed,
  /// Redis refused AUTH or SELECT.
  #[error("redis refused the handshake: {0}")]
  Handshake(String),
  /// Bytes that are not RESP, or a reply of the wrong shape.
  #[error("unreadable reply from redis: {0}")]
  Protocol(String),
}

impl LaneError {
  /// The error as JS sees it (the codes of the runtime path's connection errors).
  pub fn failure(&self) -> Failure {
    let code = match self {
      LaneError::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => "ECONNREFUSED",
      LaneError::Io(_) | LaneError::Closed => "ECONNRESET",
      LaneError::Handshake(_) => "EAUTH",
      LaneError::Protocol(_) => "EPROTO",
    };
    Failure {
      code: code.to_string(),
      message: self.to_string(),
      connection: true,
    }
  }
}

/// What reaches the lane, from JS (pushes) or from the bus's loop (pops).
#[derive(Debug)]
pub enum LaneCommand {
  /// Push `payload` to queue `name` (`qid` on the JS side); `rid` names the callback.
  Push {
    qid: Qid,
    name: String,
    ttl: u32,
    maxsize: u64,
    rid: Rid,
    payload: Bytes,
  },
  /// Run a consumer's blocking pops.
  Lease(Lease),
  /// JS stopped consumer `qid` (`on`), or made it consume again (see `lease::Leases::halt`).
  Halt { qid: Qid, on: bool },
  /// Finish what is in flight, then end.
  Stop,
}

/// The lane of one bus: its push connection, its blocking-pop connections and its deliveries.
pub struct Lane<R: Reactor, D: Deliver> {
  reactor: R,
  target: RedisTarget,
  outbox: Outbox<D>,
  rx: UnboundedReceiver<LaneCommand>,
  pushes: push::Pushes<R::Stream>,
  leases: lease::Leases<R::Stream>,
  retry: R::Sleep,
  retry_at: Option<Instant>,
  /// Shared with the binding: pushes may be handed over (the push connection is up).
  ready: Rc<Cell<bool>>,
  stopping: bool,
}

impl<R: Reactor, D: Deliver> Lane<R, D> {
  /// A lane to `target` delivering into `outbox`, fed by `rx`; `ready` tells the binding
  /// whether it takes pushes. The push connection starts at the first poll.
  pub fn new(
    reactor: R,
    target: RedisTarget,
    outbox: Outbox<D>,
    rx: UnboundedReceiver<LaneCommand>,
    ready: Rc<Cell<bool>>,
  ) -> Self {
    let retry = reactor.sleep();
    Self {
      reactor,
      target,
      outbox,
      rx,
      pushes: push::Pushes::default(),
      leases: lease::Leases::default(),
      retry,
      retry_at: Some(Instant::now()),
      ready,
      stopping: false,
    }
  }

  /// One turn: commands, connections, deliveries. `Ready` once stopped and drained.
  pub fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
    self.commands(cx);
    self.connect_if_due(cx);
    let mut events = Vec::new();
    if let Err(err) = self.pushes.poll(cx, &mut events) {
      tracing::debug!("busmq lane: push connection lost: {err}");
      self.pushes.fail_all(&err.failure(), &mut events);
      // The idle pop connections lead to the same Redis: most likely gone too.
      self.leases.drop_idle();
      self.retry_at = Some(Instant::now() + RETRY);
      self.retry.reset(Instant::now() + RETRY);
      let _ = self.retry.poll_fired(cx);
    }
    // Messages JS has not taken yet: leases that got more wait before they pop again.
    let room = !self.outbox.has_pending();
    self.leases.poll(cx, room, &mut events);
    for ev in &events {
      let outbox = &mut self.outbox;
      encode_event(ev, &mut |kind, frames| outbox.push(kind, frames));
    }
    self.ready.set(!self.stopping && self.pushes.connected());
    // JS runs in here, and may push again: the task polls once more when it does.
    self.outbox.flush();
    if self.outbox.has_pending() {
      // One batch per turn: the rest after Node's loop had its turn (the task yields on budget).
      cx.waker().wake_by_ref();
    } else {
      self.leases.report_ended();
      if self.leases.has_parked() {
        // JS took everything: parked leases pop again in the next turn.
        cx.waker().wake_by_ref();
      }
    }
    if self.stopping && self.pushes.is_idle() && self.leases.is_idle() {
      self.ready.set(false);
      // JS waits for this and for the loop's before it gives up on unanswered calls.
      self
        .outbox
        .push::<&[u8]>(crate::busmq::codec::event::STOPPED, &[]);
      self.outbox.flush_now();
      return Poll::Ready(());
    }
    Poll::Pending
  }

  fn commands(&mut self, cx: &mut Context<'_>) {
    while let Poll::Ready(cmd) = self.rx.poll_recv(cx) {
      match cmd {
        Some(LaneCommand::Push {
          qid,
          name,
          ttl,
          maxsize,
          rid,
          payload,
        }) => self.pushes.add(qid, &name, ttl, maxsize, rid, payload),
        Some(LaneCommand::Halt { qid, on }) => self.leases.halt(qid, on),
        Some(LaneCommand::Lease(lease)) if self.stopping => lease.refuse(),
        Some(LaneCommand::Lease(lease)) => self.leases.start(lease, &self.reactor, &self.target),
        Some(LaneCommand::Stop) => self.stopping = true,
        None => {
          // Every sender is gone (the binding and the bus's loop): nothing more will come.
          self.stopping = true;
          break;
        }
      }
    }
  }

  /// Makes the push connection when it is down and its retry is due.
  fn connect_if_due(&mut self, cx: &mut Context<'_>) {
    let Some(at) = self.retry_at else { return };
    if self.stopping {
      self.retry_at = None;
      return;
    }
    if at > Instant::now() && self.retry.poll_fired(cx).is_pending() {
      return;
    }
    self.retry_at = None;
    if let Err(err) = self.pushes.connect(&self.reactor, &self.target) {
      tracing::debug!("busmq lane: connect failed: {err}");
      self.retry_at = Some(Instant::now() + RETRY);
      self.retry.reset(Instant::now() + RETRY);
      let _ = self.retry.poll_fired(cx);
    }
  }
}

/// The ids of a push reply: one per payload, `None` for a payload refused because the queue was
/// full (the script answers `0`).
pub fn push_ids(rids: &[Rid], ids: Vec<u64>) -> Vec<Event> {
  rids
    .iter()
    .zip(ids.into_iter().chain(std::iter::repeat(0)))
    .map(|(rid, id)| Event::PushReply {
      rid: *rid,
      id: (id != 0).then_some(id),
    })
    .collect()
}
