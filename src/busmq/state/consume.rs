//! The consuming half of [`Queues`]: subscriptions, pops, stop/detach/close, periodic touches
//! and failures.

use super::{emit, queue_error, touch_period, Consumer, Phase, Queues, POP_BATCH};
use crate::busmq::keys::discovery_notice;
use crate::busmq::types::{Action, Event, FailedOp, Failure, Op, Qid};
use bytes::Bytes;
use std::time::Instant;

/// busmq's message prefix for each kind of failure (its users match on these texts).
pub fn failure_text(op: &FailedOp) -> &'static str {
  match op {
    FailedOp::Attach(_) => "error attaching to queue: ",
    FailedOp::Touch(_) => "error setting queue expiration: ",
    FailedOp::Push(..) => "error pushing to queue (push): ",
    FailedOp::Pop(_) => "error consuming message: ",
    FailedOp::Subscribe(_) => "error subscribing to channel: ",
    FailedOp::Delete(_) => "error closing queue: ",
    FailedOp::Restore(_) => "error acking and restoring messages: ",
  }
}

/// A stop while a pop is in flight: the consumer ends when that pop comes back (with whatever it
/// took); a pop that may be waiting in `BLMPOP` is told to come back now.
fn stop_in_flight(qid: Qid, c: &mut Consumer, out: &mut Vec<Action>) {
  if !c.stopping && c.remove && !c.reliable {
    out.push(Action::Run(Op::Unblock { qid }));
  }
  c.stopping = true;
}

impl Queues {
  pub(super) fn consume(
    &mut self,
    qid: Qid,
    remove: bool,
    max: i64,
    reliable: Option<u64>,
    out: &mut Vec<Action>,
  ) {
    let Some(q) = self.queues.get_mut(&qid) else {
      return;
    };
    if q.consumer.is_some() {
      return; // busmq ignores a second consume()
    }
    let remaining = if max > 0 { max } else { -1 };
    q.consumer = Some(Consumer {
      remove,
      reliable: reliable.is_some() && remove,
      remaining,
      offset: 0,
      in_flight: false,
      leased: false,
      again: false,
      stopping: false,
    });
    out.push(emit(Event::Consuming { qid, on: true }));
    if let (Some(last), true) = (reliable, remove) {
      // Unacked messages of an earlier run go back to the head of the queue first; the pops
      // that follow use the same connection, so they run after it.
      out.push(Action::Run(Op::Restore {
        qid,
        keys: q.keys.clone(),
        last,
        ttl: q.opts.ttl,
      }));
    }
    let channel = q.keys.available.clone();
    // A new consumer's first pop is not the lane's yet: the loop listens again.
    self.unmute(qid, out);
    let entry = self
      .subs
      .entry(channel.clone())
      .or_insert_with(|| (Vec::new(), false));
    entry.0.push(qid);
    if entry.0.len() == 1 {
      out.push(Action::Run(Op::Subscribe { channel }));
    } else if entry.1 {
      self.drain(qid, out);
    }
  }

  /// Starts a pop unless one is in flight or the consumer is done.
  pub(super) fn drain(&mut self, qid: Qid, out: &mut Vec<Action>) {
    let Some(q) = self.queues.get_mut(&qid) else {
      return;
    };
    let Some(c) = q.consumer.as_mut() else { return };
    if c.stopping {
      return;
    }
    if c.in_flight {
      c.again = true;
      return;
    }
    let count = if c.remaining < 0 {
      POP_BATCH
    } else {
      u32::try_from(c.remaining)
        .unwrap_or(POP_BATCH)
        .min(POP_BATCH)
    };
    c.in_flight = true;
    c.again = false;
    let messages = q.keys.messages.clone();
    out.push(Action::Run(if c.remove {
      Op::Pop {
        qid,
        messages,
        count,
        toack: c.reliable.then(|| q.keys.toack.clone()),
        ttl: q.opts.ttl,
        // Reliable pops copy each pair to toack atomically: a script, never a blocking pop.
        block: !c.reliable,
        remaining: c.remaining,
      }
    } else {
      Op::Peek {
        qid,
        messages,
        from: c.offset,
        count,
      }
    }));
  }

  /// A pop came back. After a `blocking` one the consumer pops again at once (it is how an
  /// idle consumer waits); after a plain one, only when the batch was full or a notification
  /// came meanwhile.
  pub(super) fn popped(
    &mut self,
    qid: Qid,
    messages: Vec<(u64, Bytes)>,
    blocking: bool,
    out: &mut Vec<Action>,
  ) {
    let Some(q) = self.queues.get_mut(&qid) else {
      return;
    };
    let Some(c) = q.consumer.as_mut() else { return };
    c.in_flight = false;
    let full = messages.len() as u64 >= u64::from(POP_BATCH);
    for (id, payload) in messages {
      // Everything popped is delivered, even after stop(): Redis no longer has it.
      out.push(emit(Event::Message { qid, id, payload }));
      c.offset += 1;
      if c.remaining > 0 {
        c.remaining -= 1;
      }
    }
    if c.stopping || c.remaining == 0 {
      self.finish_stop(qid, out);
    } else if full || c.again || blocking {
      self.drain(qid, out);
    }
  }

  /// The lane's blocking pops for `qid` ended, after delivering `delivered` messages to JS
  /// itself. As after a blocking pop, the consumer pops again at once when `again`.
  pub(super) fn leased(&mut self, qid: Qid, delivered: u64, again: bool, out: &mut Vec<Action>) {
    let Some(c) = self.queues.get_mut(&qid).and_then(|q| q.consumer.as_mut()) else {
      return;
    };
    c.in_flight = false;
    c.leased = false;
    c.offset += delivered;
    if c.remaining > 0 {
      let n = i64::try_from(delivered).unwrap_or(i64::MAX);
      c.remaining = (c.remaining - n).max(0);
    }
    if c.stopping || c.remaining == 0 {
      self.finish_stop(qid, out);
      return;
    }
    let again = c.again || again;
    // Its next pop may be a plain one, which needs the notifications.
    self.unmute(qid, out);
    if again {
      self.drain(qid, out);
    }
  }

  pub(super) fn stop(&mut self, qid: Qid, out: &mut Vec<Action>) {
    let Some(q) = self.queues.get_mut(&qid) else {
      return;
    };
    match q.consumer.as_mut() {
      Some(c) if c.in_flight => stop_in_flight(qid, c, out),
      Some(_) => self.finish_stop(qid, out),
      None => {
        // A consume() still waiting for attach is cancelled too.
        q.deferred
          .retain(|c| !matches!(c, crate::busmq::types::Command::Consume { .. }));
      }
    }
  }

  /// The consumer is gone (its last pop delivered): `consuming(false)`, maybe `detached`.
  fn finish_stop(&mut self, qid: Qid, out: &mut Vec<Action>) {
    let Some(q) = self.queues.get_mut(&qid) else {
      return;
    };
    if q.consumer.take().is_some() {
      out.push(emit(Event::Consuming { qid, on: false }));
    }
    self.unsubscribe(qid, out);
    self.finish_detach(qid, out);
  }

  pub(super) fn detach(&mut self, qid: Qid, out: &mut Vec<Action>) {
    let Some(q) = self.queues.get_mut(&qid) else {
      return;
    };
    match q.phase {
      Phase::Attached => {}
      Phase::Attaching => {
        q.detach_after_attach = true;
        return;
      }
      Phase::Idle | Phase::Detaching => return,
    }
    q.phase = Phase::Detaching;
    q.next_touch = None;
    out.push(emit(Event::Detaching(qid)));
    match q.consumer.as_mut() {
      Some(c) if c.in_flight => stop_in_flight(qid, c, out),
      Some(_) => self.finish_stop(qid, out),
      None => self.finish_detach(qid, out),
    }
  }

  fn finish_detach(&mut self, qid: Qid, out: &mut Vec<Action>) {
    let Some(q) = self.queues.get_mut(&qid) else {
      return;
    };
    if q.phase != Phase::Detaching {
      return;
    }
    q.phase = Phase::Idle;
    out.push(emit(Event::Detached(qid)));
    if std::mem::take(&mut q.closing) {
      out.push(Action::Run(Op::Delete {
        qid,
        keys: q.keys.clone(),
      }));
    }
  }

  pub(super) fn close(&mut self, qid: Qid, out: &mut Vec<Action>) {
    let Some(q) = self.queues.get_mut(&qid) else {
      return;
    };
    if q.phase != Phase::Attached {
      out.push(queue_error(
        qid,
        "ENOTCONN",
        "error closing queue: not attached",
      ));
      return;
    }
    q.closing = true;
    self.detach(qid, out);
  }

  /// Refreshes the expiry of every attached queue whose touch is due at `now`.
  pub fn handle_tick(&mut self, now: Instant) -> Vec<Action> {
    let mut out = Vec::new();
    self.touch_due(now, &mut out);
    out
  }

  pub(super) fn touch_due(&mut self, now: Instant, out: &mut Vec<Action>) {
    for (qid, q) in &mut self.queues {
      let Some(due) = q.next_touch.filter(|due| *due <= now) else {
        continue;
      };
      let ttl = q.opts.ttl;
      q.next_touch = Some(due.max(now) + touch_period(ttl));
      let notice = q.opts.discoverable.then(|| discovery_notice(&q.keys, ttl));
      out.push(Action::Run(Op::Touch {
        qid: *qid,
        keys: q.keys.clone(),
        ttl,
        notice,
      }));
    }
  }

  /// When [`Queues::handle_tick`] next has work.
  pub fn next_deadline(&self) -> Option<Instant> {
    self.queues.values().filter_map(|q| q.next_touch).min()
  }

  pub(super) fn failed(&mut self, op: FailedOp, failure: Failure, out: &mut Vec<Action>) {
    let text = format!("{}{}", failure_text(&op), failure.message);
    match op {
      FailedOp::Push(qid, rids) => {
        let mut unreported = false;
        for rid in rids {
          if rid == 0 {
            unreported = true;
          } else {
            let (code, message) = (failure.code.clone(), text.clone());
            out.push(emit(Event::ReplyError { rid, code, message }));
          }
        }
        if unreported {
          out.push(queue_error(qid, &failure.code, text));
        }
        self.pushed(qid, out);
      }
      FailedOp::Attach(qid) => {
        if let Some(q) = self.queues.get_mut(&qid) {
          q.phase = Phase::Idle;
        }
        out.push(queue_error(qid, &failure.code, text));
      }
      FailedOp::Pop(qid) => {
        if let Some(c) = self.queues.get_mut(&qid).and_then(|q| q.consumer.as_mut()) {
          c.in_flight = false;
          if c.stopping {
            self.finish_stop(qid, out);
          }
        }
        out.push(queue_error(qid, &failure.code, text));
      }
      FailedOp::Touch(qid) | FailedOp::Delete(qid) | FailedOp::Restore(qid) => {
        out.push(queue_error(qid, &failure.code, text))
      }
      FailedOp::Subscribe(channel) => {
        for pid in self.pubsub_listeners(&channel) {
          out.push(queue_error(pid, &failure.code, text.clone()));
        }
        for qid in self
          .subs
          .get(&channel)
          .map(|e| e.0.clone())
          .unwrap_or_default()
        {
          out.push(queue_error(qid, &failure.code, text.clone()));
        }
      }
    }
  }
}
