//! A queue's push pipeline: one push call per queue in Redis at a time, so messages enter in the
//! order they were pushed, and queries that wait for the pushes made before them (busmq sends a
//! query on the connection its pushes went on, so a `count()` after `push()` sees the message).

use super::{Queue, Queues, PUSH_CHUNK, PUSH_CHUNK_BYTES};
use crate::busmq::types::{Action, Op, Qid, Query, Rid};
use bytes::Bytes;

impl Queues {
  /// A push call came back (done or failed): the next one goes, or the queries held for it run.
  pub(super) fn pushed(&mut self, qid: Qid, out: &mut Vec<Action>) {
    if let Some(q) = self.queues.get_mut(&qid) {
      q.push_in_flight = false;
      self.next_push(qid, out);
      self.release_queries(qid, out);
    }
  }

  /// Turns the pushes gathered since the last call into push operations. One push operation
  /// per queue is in flight at a time (of up to [`PUSH_CHUNK`] payloads), so messages enter
  /// Redis in the order they were pushed; the next one starts when it returns.
  pub fn flush_pushes(&mut self) -> Vec<Action> {
    let mut out = Vec::new();
    for qid in std::mem::take(&mut self.pushing) {
      self.next_push(qid, &mut out);
    }
    out
  }

  pub(super) fn next_push(&mut self, qid: Qid, out: &mut Vec<Action>) {
    let Some(q) = self.queues.get_mut(&qid) else {
      return;
    };
    if q.push_in_flight || q.outbox.is_empty() {
      return;
    }
    let rest = q.outbox.split_off(chunk_len(&q.outbox));
    let items = std::mem::replace(&mut q.outbox, rest);
    q.push_in_flight = true;
    out.push(Action::Run(Op::Push {
      qid,
      keys: q.keys.clone(),
      ttl: q.opts.ttl,
      maxsize: q.opts.maxsize,
      items,
    }));
  }

  /// Runs a query now, or after the pushes of its queue that are waiting or in Redis.
  pub(super) fn query(&mut self, qid: Qid, rid: Rid, query: Query, out: &mut Vec<Action>) {
    let Some(q) = self.queues.get_mut(&qid) else {
      return;
    };
    if q.push_in_flight || !q.outbox.is_empty() {
      q.after_pushes.push((rid, query));
      return;
    }
    out.push(run_query(q, qid, rid, query));
  }

  /// The queries held for pushes that are all in Redis now.
  fn release_queries(&mut self, qid: Qid, out: &mut Vec<Action>) {
    let Some(q) = self.queues.get_mut(&qid) else {
      return;
    };
    if q.push_in_flight || !q.outbox.is_empty() {
      return;
    }
    for (rid, query) in std::mem::take(&mut q.after_pushes) {
      out.push(run_query(q, qid, rid, query));
    }
  }
}

fn run_query(q: &Queue, qid: Qid, rid: Rid, query: Query) -> Action {
  Action::Run(Op::Query {
    rid,
    qid,
    keys: q.keys.clone(),
    query,
  })
}

/// How many of the waiting pushes go in the next call: at least one, at most [`PUSH_CHUNK`]
/// payloads and about [`PUSH_CHUNK_BYTES`] bytes.
pub fn chunk_len(items: &[(Rid, Bytes)]) -> usize {
  let mut bytes = 0;
  let mut n = 0;
  for (_, payload) in items.iter().take(PUSH_CHUNK) {
    if n > 0 && bytes + payload.len() > PUSH_CHUNK_BYTES {
      break;
    }
    bytes += payload.len();
    n += 1;
  }
  n
}
