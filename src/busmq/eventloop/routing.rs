//! Which of a bus's urls serves an operation: busmq's choice (the first whose Redis has the
//! queue's key, else a hash of it), found once per key and remembered for [`ROUTE_TTL`].

use super::{BusLoop, ROUTES_PRUNE_AT, ROUTE_TTL};
use crate::boundary::outbox::Deliver;
use crate::busmq::ops;
use crate::busmq::types::Op;
use tokio::time::Instant;

impl<D: Deliver> BusLoop<D> {
  /// The connection that runs `op`, when known without asking Redis.
  pub(super) fn instance_of(&self, op: &Op) -> Option<usize> {
    if self.conns.len() == 1 {
      return Some(0);
    }
    let Some(key) = ops::route_key(op) else {
      return Some(0);
    };
    if self.locating.contains_key(&key) {
      return None;
    }
    let (index, at) = self.routes.get(&key)?;
    (at.elapsed() < ROUTE_TTL).then_some(*index)
  }

  /// Holds `op` until its key's instance is found (asking every connection, as busmq does).
  pub(super) fn locate(&mut self, op: Op) {
    // instance_of only answers None for ops that have a route key.
    let Some(key) = ops::route_key(&op) else {
      return self.start_on(0, op);
    };
    if let Some(waiting) = self.locating.get_mut(&key) {
      waiting.push(op);
      return;
    }
    self.locating.insert(key.clone(), vec![op]);
    let links = self.conns.iter().map(|c| c.links.clone()).collect();
    self.running.push(Box::pin(ops::locate(key, links)));
  }

  pub(super) fn located(&mut self, key: String, index: usize, complete: bool) {
    if complete {
      if self.routes.len() >= ROUTES_PRUNE_AT {
        self.routes.retain(|_, (_, at)| at.elapsed() < ROUTE_TTL);
      }
      self.routes.insert(key.clone(), (index, Instant::now()));
    }
    for op in self.locating.remove(&key).unwrap_or_default() {
      self.start_on(index, op);
    }
  }
}
