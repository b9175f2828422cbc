//! A plain consumer's blocking pops on the lane: the bus's loop hands over ("leases") the
//! consumer's pop, and the lane keeps it waiting in `BLMPOP` on a connection of its own. When an
//! answer comes, the next `BLMPOP` is written before the messages reach JS, so the consumer
//! never stops waiting while it has work. The lease ends when the loop's unblock stopped its
//! ticket (a `stop()`, `detach()` or `disconnect()`), when the consumer's `max` is reached, or
//! when its connection fails; the loop then hears how many messages were delivered.
//!
//! Wire compatibility and the stop rule are those of `crate::busmq::ops::blocking`: whole
//! pairs are taken, and a pop that was served is delivered even when the consumer stops.

use super::{LaneError, RespConn};
use crate::busmq::keys::RedisTarget;
use crate::busmq::ops::{blmpop_messages, failure, Ticket, BLOCK_SECS};
use crate::busmq::types::{Event, Failure, Qid};
use crate::driver::reactor::{IoStream, Reactor};
use redis::Value;
use std::collections::HashSet;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::oneshot;

/// Idle blocking-pop connections kept for the next lease.
const MAX_IDLE: usize = 32;

/// A consumer's blocking pops, handed to the lane.
#[derive(Debug)]
pub struct Lease {
  /// The consumer.
  pub qid: Qid,
  /// Its queue's list of messages.
  pub messages: String,
  /// Messages asked for by one pop.
  pub batch: u32,
  /// Messages it may still take (`-1`: no limit).
  pub remaining: i64,
  /// Shared with the loop's unblock.
  pub ticket: Arc<Ticket>,
  /// Where the end is told.
  pub done: oneshot::Sender<LeaseEnd>,
}

/// How a lease ended.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LeaseEnd {
  /// Messages delivered to JS.
  pub delivered: u64,
  /// The connection failed or could not be made (the consumer waits for a notification).
  pub lost: bool,
  /// Redis refused the pop (a key of another type).
  pub failure: Option<Failure>,
  /// JS stopped the consumer (`stop()`, `detach()`, `close()`) before the loop heard of it: the
  /// consumer does not pop again at once.
  pub halted: bool,
}

impl Lease {
  /// Ends the lease before it ran (the lane is stopping).
  pub fn refuse(self) {
    self.ticket.finish();
    let _ = self.done.send(LeaseEnd {
      lost: true,
      ..LeaseEnd::default()
    });
  }

  /// The next `BLMPOP`.
  fn pop(&self) -> redis::Cmd {
    let count = if self.remaining > 0 {
      u32::try_from(self.remaining)
        .unwrap_or(self.batch)
        .min(self.batch)
    } else {
      self.batch
    };
    let mut cmd = redis::cmd("BLMPOP");
    cmd
      .arg(BLOCK_SECS)
      .arg(1)
      .arg(&self.messages)
      .arg("LEFT")
      .arg("COUNT")
      .arg(2 * u64::from(count.max(1)));
    cmd
  }
}

struct Active<S> {
  lease: Lease,
  conn: RespConn<S>,
  /// The connection's client id, once known.
  id: Option<i64>,
  delivered: u64,
  /// No pop is out: JS has not taken the messages of the last one yet.
  parked: bool,
  /// JS stopped the consumer: no more pops (the one out is still delivered).
  halted: bool,
}

/// The leases running, those ended whose messages JS has not had yet, and the idle connections.
pub struct Leases<S> {
  active: Vec<Active<S>>,
  ended: Vec<(Lease, LeaseEnd)>,
  idle: Vec<(RespConn<S>, i64)>,
  /// Consumers JS stopped since they last called `consume()`.
  halted: HashSet<Qid>,
}

impl<S> Default for Leases<S> {
  fn default() -> Self {
    Self {
      active: Vec::new(),
      ended: Vec::new(),
      idle: Vec::new(),
      halted: HashSet::new(),
    }
  }
}

impl<S: IoStream> Leases<S> {
  /// True when no lease runs or waits to report its end.
  pub fn is_idle(&self) -> bool {
    self.active.is_empty() && self.ended.is_empty()
  }

  /// JS stopped consumer `qid` (`on`), or made it consume again: a stopped one's lease pops no
  /// more, and a lease for it ends at once, so it stops as promptly as on the runtime thread
  /// (where the stop reaches the loop before its next pop).
  pub fn halt(&mut self, qid: Qid, on: bool) {
    if !on {
      self.halted.remove(&qid);
      return;
    }
    self.halted.insert(qid);
    for a in self.active.iter_mut().filter(|a| a.lease.qid == qid) {
      a.halted = true;
    }
  }

  /// True when a lease waits for JS to take its messages before it pops again (nothing wakes
  /// it but the lane's next turn).
  pub fn has_parked(&self) -> bool {
    self.active.iter().any(|a| a.parked)
  }

  /// Closes the idle connections.
  pub fn drop_idle(&mut self) {
    self.idle.clear();
  }

  /// Tells the loop how the ended leases ended; call once JS has every message they delivered,
  /// so that what the loop emits next (`consuming(false)`) comes after them.
  pub fn report_ended(&mut self) {
    for (lease, end) in self.ended.drain(..) {
      let _ = lease.done.send(end);
    }
  }

  /// Starts `lease` on an idle connection, or on a new one (whose client id comes first).
  pub fn start<R: Reactor<Stream = S>>(&mut self, lease: Lease, reactor: &R, target: &RedisTarget) {
    if self.halted.contains(&lease.qid) {
      lease.ticket.finish();
      let end = LeaseEnd {
        halted: true,
        ..LeaseEnd::default()
      };
      self.ended.push((lease, end));
      return;
    }
    if let Some((mut conn, id)) = self.idle.pop() {
      lease.ticket.set_id(id);
      conn.queue(&lease.pop());
      self.active.push(Active {
        lease,
        conn,
        id: Some(id),
        delivered: 0,
        parked: false,
        halted: false,
      });
      return;
    }
    match RespConn::connect(reactor, target) {
      Ok(mut conn) => {
        conn.queue(redis::cmd("CLIENT").arg("ID"));
        self.active.push(Active {
          lease,
          conn,
          id: None,
          delivered: 0,
          parked: false,
          halted: false,
        });
      }
      Err(e) => {
        lease.ticket.finish();
        self.ended.push((lease, lost(0, &e.into())));
      }
    }
  }

  /// Reads every lease's answers; messages go to `events`. With `room` false (JS has not taken
  /// earlier messages yet) a lease that got messages waits before it pops again; one answer
  /// with messages uses up the room of the turn, so JS sees each batch (and may stop the
  /// consumer) before the lane pops on.
  pub fn poll(&mut self, cx: &mut Context<'_>, mut room: bool, events: &mut Vec<Event>) {
    let mut i = 0;
    while i < self.active.len() {
      match self.active[i].turn(cx, &mut room, events) {
        None => i += 1,
        Some((end, reusable)) => {
          let a = self.active.swap_remove(i);
          a.lease.ticket.finish();
          if let Some(kept) = reusable.then_some(a.conn).zip(a.id) {
            if self.idle.len() < MAX_IDLE {
              self.idle.push(kept);
            }
          }
          self.ended.push((a.lease, end));
        }
      }
    }
  }
}

fn lost(delivered: u64, err: &LaneError) -> LeaseEnd {
  tracing::debug!("busmq lane: blocking pop lost its connection: {err}");
  LeaseEnd {
    delivered,
    lost: true,
    ..LeaseEnd::default()
  }
}

impl<S: IoStream> Active<S> {
  /// Handles what arrived; `Some((end, reusable))` when the lease is over.
  fn turn(
    &mut self,
    cx: &mut Context<'_>,
    room: &mut bool,
    events: &mut Vec<Event>,
  ) -> Option<(LeaseEnd, bool)> {
    if self.lease.done.is_closed() {
      // The loop is gone: nobody can stop this pop any more; closing the connection does.
      return Some((LeaseEnd::default(), false));
    }
    if self.parked {
      if self.lease.ticket.stopped() || self.halted {
        return Some((self.ended(None), true));
      }
      if !*room {
        return None;
      }
      self.parked = false;
      self.conn.queue(&self.lease.pop());
    }
    if let Err(e) = self.conn.flush(cx) {
      return Some((lost(self.delivered, &e), false));
    }
    loop {
      let before = self.delivered;
      let reply = match self.conn.poll_reply(cx) {
        Poll::Pending => return None,
        Poll::Ready(Err(e)) => return Some((lost(self.delivered, &e), false)),
        Poll::Ready(Ok(reply)) => reply,
      };
      if let Some(end) = self.answered(reply, events) {
        return Some(end);
      }
      if self.lease.ticket.stopped() || self.halted || self.lease.remaining == 0 {
        return Some((self.ended(None), true));
      }
      if !*room {
        // Pops again once JS has taken what waits (the lane polls again after each batch).
        self.parked = true;
        return None;
      }
      if self.delivered > before {
        *room = false;
      }
      self.conn.queue(&self.lease.pop());
      // The next pop leaves now, before JS sees the messages of this one.
      if let Err(e) = self.conn.flush(cx) {
        return Some((lost(self.delivered, &e), false));
      }
    }
  }

  /// One answer: the client id, or a pop's messages (into `events`). `Some` ends the lease.
  fn answered(&mut self, reply: Value, events: &mut Vec<Event>) -> Option<(LeaseEnd, bool)> {
    if self.id.is_none() {
      let Value::Int(id) = reply else {
        let err = LaneError::Protocol(format!("CLIENT ID answered {reply:?}"));
        return Some((lost(self.delivered, &err), false));
      };
      self.id = Some(id);
      self.lease.ticket.set_id(id);
      return None;
    }
    if let Value::ServerError(e) = reply {
      let f = failure(&redis::RedisError::from(e));
      return Some((self.ended(Some(f)), true));
    }
    let qid = self.lease.qid;
    let messages = blmpop_messages(reply);
    let n = messages.len() as u64;
    self.delivered += n;
    if self.lease.remaining > 0 {
      let n = i64::try_from(n).unwrap_or(i64::MAX);
      self.lease.remaining = (self.lease.remaining - n).max(0);
    }
    events.extend(
      messages
        .into_iter()
        .map(|(id, payload)| Event::Message { qid, id, payload }),
    );
    None
  }

  fn ended(&self, failure: Option<Failure>) -> LeaseEnd {
    LeaseEnd {
      delivered: self.delivered,
      lost: false,
      failure,
      halted: self.halted,
    }
  }
}
