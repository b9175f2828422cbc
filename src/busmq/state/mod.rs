//! The pure state of a bus's queues: attach, push batching, consuming, stop and close, as a
//! machine that takes commands, Redis outcomes and `now`, and returns [`Action`]s. No I/O.
//!
//! Two promises busmq does not keep live here: a `stop()` or `detach()` that arrives while a pop
//! is in flight waits for that pop and delivers what it brought before `consuming(false)`
//! (busmq drops it), and a consumer never has two pops in flight.

use crate::busmq::keys::QueueKeys;
use crate::busmq::types::{
  Action, AttachOptions, Command, Done, Event, FailedOp, Op, Qid, Query, Rid,
};
use bytes::Bytes;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// Messages asked for by one pop call.
pub const POP_BATCH: u32 = 256;
/// Payloads sent in one push script call.
pub const PUSH_CHUNK: usize = 512;
/// Payload bytes sent in one push script call (a single larger payload still goes alone).
/// Redis closes a client whose unread request passes `client-query-buffer-limit` (1 GB by
/// default), so a batch must never add up to that.
pub const PUSH_CHUNK_BYTES: usize = 4 << 20;
/// Deferred commands one queue holds before it is attached.
pub const MAX_DEFERRED: usize = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
  Idle,
  Attaching,
  Attached,
  Detaching,
}

#[derive(Debug)]
struct Consumer {
  remove: bool,
  /// Reliable mode: popped messages stay in `toack` until acked.
  reliable: bool,
  /// Messages still wanted; negative = unlimited.
  remaining: i64,
  /// Next message index to peek (remove = false).
  offset: u64,
  in_flight: bool,
  /// The pop in flight is the lane's blocking pops (see `subs.rs`).
  leased: bool,
  /// A notification arrived during a pop: pop again when it returns.
  again: bool,
  stopping: bool,
}

#[derive(Debug)]
struct Queue {
  keys: QueueKeys,
  phase: Phase,
  opts: AttachOptions,
  deferred: Vec<Command>,
  consumer: Option<Consumer>,
  next_touch: Option<Instant>,
  detach_after_attach: bool,
  closing: bool,
  outbox: Vec<(Rid, Bytes)>,
  push_in_flight: bool,
  /// Queries made while pushes were waiting or in flight: they run once those are in Redis.
  after_pushes: Vec<(Rid, Query)>,
}

/// Every queue object of one bus.
#[derive(Debug, Default)]
pub struct Queues {
  queues: HashMap<Qid, Queue>,
  /// Channel -> consuming queue objects, and whether the SUBSCRIBE is confirmed.
  subs: HashMap<String, (Vec<Qid>, bool)>,
  /// Channels of `subs` unsubscribed while all their consumers wait on the lane (`subs.rs`).
  muted: HashSet<String>,
  /// Queues with pushes waiting for [`Queues::flush_pushes`].
  pushing: Vec<Qid>,
  /// `bus.pubsub()` channels and their listening objects.
  pubsubs: HashMap<String, pubsub::Listeners>,
  /// Queue keys are hash-tagged for a Redis Cluster.
  clustered: bool,
}

fn emit(event: Event) -> Action {
  Action::Emit(event)
}

fn queue_error(qid: Qid, code: &str, message: impl Into<String>) -> Action {
  emit(Event::Error {
    qid,
    code: code.to_string(),
    message: message.into(),
  })
}

fn touch_period(ttl: u32) -> Duration {
  Duration::from_millis((u64::from(ttl) * 1000 / 3).max(100))
}

impl Queues {
  /// No queues.
  pub fn new() -> Self {
    Self::default()
  }

  /// No queues, on a Redis Cluster (hash-tagged keys, as busmq names them there).
  pub fn clustered() -> Self {
    Self {
      clustered: true,
      ..Self::default()
    }
  }

  /// Handles one command from JavaScript at `now`.
  pub fn handle_command(&mut self, cmd: Command, _now: Instant) -> Vec<Action> {
    // No command needs the clock yet; the parameter keeps every entry point alike (commands,
    // outcomes, ticks) for when one does.
    let mut out = Vec::new();
    match cmd {
      Command::Open { qid, name } => self.open(qid, &name),
      Command::Forget { qid } => self.forget(qid, &mut out),
      Command::Subscribe { pid, channel } => out = self.handle_subscribe(pid, channel),
      Command::Unsubscribe { pid, channel } => out = self.handle_unsubscribe(pid, &channel),
      Command::Publish {
        pid,
        rid,
        channel,
        payload,
      } => out.push(Action::Run(Op::Publish {
        pid,
        rid,
        channel,
        payload,
      })),
      Command::Key { rid, key, query } => out.push(Action::Run(Op::Key { rid, key, query })),
      other => self.queue_command(other, &mut out),
    }
    out
  }

  fn open(&mut self, qid: Qid, name: &str) {
    self.queues.entry(qid).or_insert_with(|| Queue {
      keys: if self.clustered {
        QueueKeys::clustered(name)
      } else {
        QueueKeys::new(name)
      },
      phase: Phase::Idle,
      opts: AttachOptions {
        ttl: 30,
        maxsize: 0,
        discoverable: false,
      },
      deferred: Vec::new(),
      consumer: None,
      next_touch: None,
      detach_after_attach: false,
      closing: false,
      outbox: Vec::new(),
      push_in_flight: false,
      after_pushes: Vec::new(),
    });
  }

  fn forget(&mut self, qid: Qid, out: &mut Vec<Action>) {
    self.forget_pubsub(qid, out);
    if self.queues.contains_key(&qid) {
      self.unsubscribe(qid, out);
      self.queues.remove(&qid);
    }
  }

  fn queue_command(&mut self, cmd: Command, out: &mut Vec<Action>) {
    let qid = command_qid(&cmd);
    let Some(q) = self.queues.get_mut(&qid) else {
      out.push(queue_error(qid, "EINVAL", "unknown queue object"));
      return;
    };
    match cmd {
      Command::Attach { opts, .. } => self.attach(qid, opts, out),
      Command::Detach { .. } => self.detach(qid, out),
      Command::Close { .. } => self.close(qid, out),
      Command::Stop { .. } => self.stop(qid, out),
      Command::Query { rid, query, .. } => self.query(qid, rid, query, out),
      cmd if q.phase != Phase::Attached => {
        if q.deferred.len() >= MAX_DEFERRED {
          out.push(queue_error(
            qid,
            "ENOBUFS",
            "too many calls waiting for attach",
          ));
        } else {
          q.deferred.push(cmd);
        }
      }
      Command::Push { rid, payload, .. } => {
        if q.outbox.is_empty() && !q.push_in_flight {
          self.pushing.push(qid);
        }
        q.outbox.push((rid, payload));
      }
      Command::Consume {
        remove,
        max,
        reliable,
        ..
      } => self.consume(qid, remove, max, reliable, out),
      Command::Open { .. }
      | Command::Forget { .. }
      | Command::Subscribe { .. }
      | Command::Unsubscribe { .. }
      | Command::Publish { .. }
      | Command::Key { .. } => {}
    }
  }

  fn attach(&mut self, qid: Qid, opts: AttachOptions, out: &mut Vec<Action>) {
    let Some(q) = self.queues.get_mut(&qid) else {
      return;
    };
    if q.phase != Phase::Idle {
      let msg = "cannot attach to queue: already attached";
      out.push(queue_error(qid, "EALREADY", msg));
      return;
    }
    q.phase = Phase::Attaching;
    q.opts = opts;
    q.closing = false;
    q.detach_after_attach = false;
    out.push(emit(Event::Attaching(qid)));
    let metadata = q.keys.metadata.clone();
    out.push(Action::Run(Op::Probe { qid, metadata }));
  }

  /// Handles the outcome of an operation at `now`.
  pub fn handle_done(&mut self, done: Done, now: Instant) -> Vec<Action> {
    let mut out = Vec::new();
    match done {
      Done::Probed {
        qid,
        ttl: Some(ttl),
      } => self.attached(qid, true, Some(ttl), now, &mut out),
      Done::Probed { qid, ttl: None } => {
        if let Some(q) = self.queues.get(&qid) {
          let (metadata, opts) = (q.keys.metadata.clone(), q.opts);
          out.push(Action::Run(Op::Create {
            qid,
            metadata,
            opts,
          }));
        }
      }
      Done::Created { qid } => self.attached(qid, false, None, now, &mut out),
      Done::Pushed { qid, ids } => {
        for (rid, id) in ids.into_iter().filter(|(rid, _)| *rid != 0) {
          out.push(emit(Event::PushReply { rid, id }));
        }
        self.pushed(qid, &mut out);
      }
      Done::Popped { qid, messages } => self.popped(qid, messages, false, &mut out),
      Done::PoppedBlocking { qid, messages } => self.popped(qid, messages, true, &mut out),
      Done::Leased {
        qid,
        delivered,
        again,
        failure,
      } => {
        self.leased(qid, delivered, again && failure.is_none(), &mut out);
        if let Some(f) = failure {
          let text = format!("{}{}", failure_text(&FailedOp::Pop(qid)), f.message);
          out.push(queue_error(qid, &f.code, text));
        }
      }
      Done::Subscribed { channel } => {
        self.pubsub_subscribed(&channel, &mut out);
        self.subscribed(&channel, &mut out);
      }
      Done::Ack => {}
      Done::Deleted { qid } => out.push(emit(Event::Closed(qid))),
      Done::Failed { op, failure } => self.failed(op, failure, &mut out),
    }
    out
  }

  fn attached(
    &mut self,
    qid: Qid,
    existed: bool,
    ttl: Option<u32>,
    now: Instant,
    out: &mut Vec<Action>,
  ) {
    let Some(q) = self.queues.get_mut(&qid) else {
      return;
    };
    if q.phase != Phase::Attaching {
      return;
    }
    // An existing queue keeps the ttl it was created with (busmq ignores the caller's).
    if let Some(ttl) = ttl.filter(|t| *t > 0) {
      q.opts.ttl = ttl;
    }
    q.phase = Phase::Attached;
    q.next_touch = Some(now);
    out.push(emit(Event::Attached {
      qid,
      existed,
      ttl: q.opts.ttl,
    }));
    self.touch_due(now, out);
    let deferred = self
      .queues
      .get_mut(&qid)
      .map(|q| std::mem::take(&mut q.deferred));
    for cmd in deferred.unwrap_or_default() {
      self.queue_command(cmd, out);
    }
    if self.queues.get(&qid).is_some_and(|q| q.detach_after_attach) {
      self.detach(qid, out);
    }
  }
}

fn command_qid(cmd: &Command) -> Qid {
  match cmd {
    Command::Open { qid, .. }
    | Command::Forget { qid }
    | Command::Attach { qid, .. }
    | Command::Detach { qid }
    | Command::Push { qid, .. }
    | Command::Consume { qid, .. }
    | Command::Stop { qid }
    | Command::Close { qid }
    | Command::Query { qid, .. } => *qid,
    Command::Subscribe { pid, .. }
    | Command::Unsubscribe { pid, .. }
    | Command::Publish { pid, .. } => *pid,
    Command::Key { .. } => 0,
  }
}

mod consume;
mod pubsub;
mod push;
mod subs;

pub use push::chunk_len;

pub use consume::failure_text;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod consume_tests;

#[cfg(test)]
mod subs_tests;
