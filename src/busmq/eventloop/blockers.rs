//! The bus's pool of blocking-pop connections (see `crate::busmq::ops::blocking`): per url, the
//! idle ones and how many exist, and the ticket of each blocking pop in flight so that a
//! `stop()` (or `disconnect()`) can end it. With a lane (`crate::busmq::lane`), the pops are
//! leased to the JS thread instead, and their end comes back here.

use super::{BusLoop, Running};
use crate::boundary::outbox::Deliver;
use crate::busmq::lane::LeaseEnd;
use crate::busmq::lane::{LaneCommand, Lease};
use crate::busmq::ops::{self, Blocker, Completion, Links, Ticket};
use crate::busmq::types::Done;
use crate::busmq::types::Qid;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;

/// Blocking-pop connections per url; consumers beyond that pop after notifications, as before.
pub const MAX_BLOCKERS: usize = 32;
/// Stopped consumers remembered whose pop had not started blocking.
const MAX_STOPPED: usize = 10_000;

/// Blocking-pop connections of one bus.
#[derive(Default)]
pub struct Blockers {
  /// Url index -> idle connections.
  idle: HashMap<usize, Vec<Blocker>>,
  /// Url index -> connections that exist (idle, or in a pop).
  open: HashMap<usize, usize>,
  /// Url index -> blocking pops off until that url reconnects (a blocker could not be made).
  off: HashMap<usize, bool>,
  /// Url index -> how many times it went down or came back: a connection that comes back from
  /// a pop started before is not pooled (it may lead to a Redis that is gone).
  generation: HashMap<usize, u64>,
  /// Consumer -> the url, its generation and the ticket of its blocking pop in flight.
  in_flight: HashMap<Qid, (usize, u64, Arc<Ticket>)>,
  /// Consumers stopped while their pop waited elsewhere (parked or held back): that pop must
  /// not block.
  stopped: HashSet<Qid>,
}

impl Blockers {
  /// A blocking pop of up to `count` messages of `messages` for `qid` on url `index`, when that
  /// url's Redis takes them and a connection is free (or may be made); `None` otherwise (the
  /// caller runs a plain pop). With a `lane` (the JS thread's), the pops are leased to it: they
  /// go on until the consumer stops or has taken `remaining` messages.
  #[allow(clippy::too_many_arguments)]
  pub fn pop(
    &mut self,
    index: usize,
    links: &Links,
    qid: Qid,
    messages: &str,
    count: u32,
    remaining: i64,
    lane: Option<&UnboundedSender<LaneCommand>>,
  ) -> Option<Running> {
    if self.stopped.remove(&qid) || self.off.get(&index).copied().unwrap_or(false) {
      return None;
    }
    let client = links.blocking.clone()?;
    if let Some(lane) = lane {
      return self.lease(index, qid, messages, count, remaining, lane);
    }
    let blocker = self.idle.get_mut(&index).and_then(Vec::pop);
    if blocker.is_none() {
      let open = self.open.entry(index).or_default();
      if *open >= MAX_BLOCKERS {
        return None;
      }
      *open += 1;
    }
    let ticket = Arc::new(Ticket::default());
    let generation = self.generation.get(&index).copied().unwrap_or(0);
    self
      .in_flight
      .insert(qid, (index, generation, ticket.clone()));
    Some(Box::pin(ops::blocking_pop(
      index,
      qid,
      messages.to_string(),
      count,
      blocker,
      client,
      ticket,
    )))
  }

  fn lease(
    &mut self,
    index: usize,
    qid: Qid,
    messages: &str,
    count: u32,
    remaining: i64,
    lane: &UnboundedSender<LaneCommand>,
  ) -> Option<Running> {
    let open = self.open.entry(index).or_default();
    if *open >= MAX_BLOCKERS {
      return None;
    }
    let ticket = Arc::new(Ticket::default());
    let (done, ended) = oneshot::channel();
    let lease = Lease {
      qid,
      messages: messages.to_string(),
      batch: count,
      remaining,
      ticket: ticket.clone(),
      done,
    };
    // The lane is gone (the bus is stopping): a plain pop instead.
    lane.send(LaneCommand::Lease(lease)).ok()?;
    *open += 1;
    let generation = self.generation.get(&index).copied().unwrap_or(0);
    self.in_flight.insert(qid, (index, generation, ticket));
    Some(Box::pin(async move {
      // A lane that ends without answering ends with its thread: like a lost connection.
      let end = ended
        .await
        .unwrap_or_else(|_| crate::busmq::lane::LeaseEnd {
          lost: true,
          ..Default::default()
        });
      Completion::Leased { index, qid, end }
    }))
  }

  /// A blocking pop came back: its connection goes back to the pool, or is counted out.
  pub fn returned(&mut self, index: usize, qid: Qid, blocker: Option<Blocker>) {
    let started = self.in_flight.remove(&qid).map(|(_, g, _)| g);
    let current = self.generation.get(&index).copied().unwrap_or(0);
    match blocker {
      Some(b) if started == Some(current) => self.idle.entry(index).or_default().push(b),
      _ => {
        if let Some(open) = self.open.get_mut(&index) {
          *open = open.saturating_sub(1);
        }
      }
    }
  }

  /// A blocker of url `index` could not be made or was lost: no more blocking pops there until
  /// it reconnects.
  pub fn disable(&mut self, index: usize) {
    self.off.insert(index, true);
  }

  /// The unblock of `qid`'s blocking pop in flight, through `links` of its url (`None` when it
  /// has none, or that url is down: then the pop fails or times out by itself).
  pub fn unblock(&mut self, qid: Qid, links: &[Option<&Links>]) -> Option<Running> {
    let Some((index, _, ticket)) = self.in_flight.get(&qid) else {
      if self.stopped.len() >= MAX_STOPPED {
        // Stale marks (pops that ran plain) only cost a plain pop each: forget them.
        self.stopped.clear();
      }
      self.stopped.insert(qid);
      return None;
    };
    let write = links.get(*index).copied().flatten()?.write.clone();
    Some(Box::pin(ops::unblock(ticket.clone(), write)))
  }

  /// Every consumer with a blocking pop in flight.
  pub fn waiting(&self) -> Vec<Qid> {
    self.in_flight.keys().copied().collect()
  }

  /// Url `index` went down or came back: its idle connections are dropped (closed) and
  /// blocking pops may be tried again there.
  pub fn reset(&mut self, index: usize) {
    if let Some(idle) = self.idle.remove(&index) {
      if let Some(open) = self.open.get_mut(&index) {
        *open = open.saturating_sub(idle.len());
      }
    }
    self.off.remove(&index);
    *self.generation.entry(index).or_default() += 1;
  }
}

impl<D: Deliver> BusLoop<D> {
  /// Consumer `qid`'s pops went to the lane: its queue's notifications may stop (`state/subs.rs`).
  pub(super) fn leasing(&mut self, qid: Qid) {
    let actions = self.state.handle_leasing(qid);
    self.apply(actions);
  }

  /// The lane's pops for consumer `qid` on url `index` ended: the consumer's state hears how
  /// many messages the lane delivered, and whether to pop again at once.
  pub(super) fn lease_ended(&mut self, index: usize, qid: Qid, end: LeaseEnd) {
    if end.lost && self.conns[index].links.is_some() {
      // As for a blocker lost while the url is up: plain pops there until it reconnects.
      self.blockers.disable(index);
    }
    self.blockers.returned(index, qid, None);
    let done = Done::Leased {
      qid,
      delivered: end.delivered,
      again: !end.lost && !end.halted,
      failure: end.failure,
    };
    let actions = self
      .state
      .handle_done(done, tokio::time::Instant::now().into_std());
    self.apply(actions);
  }
}
