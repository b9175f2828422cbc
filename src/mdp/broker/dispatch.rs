//! Queues and worker selection for [`Broker`].
//!
//! The hot path (a request for an exact service with an idle-enough worker
//! and an empty queue) skips the queue: one service lookup, one worker pick,
//! one insert into the request table.

use bytes::Bytes;
use rand::Rng;
use tokio::time::Instant;

use super::{Broker, Dmode, Outgoing, Request, WorkerEntry, ERR_QUEUE_FULL};
use crate::mdp::codec::{self, ReplyKind, STATUS_ERR};

/// Queued requests one dispatch pass may skip (unplaceable: targeted at a
/// busy worker, rejected by all free ones) before it gives up until the next
/// event, so a long stuck queue cannot make each event O(queue).
const MAX_SKIP: usize = 256;

/// The eligible worker for `req` among `cands`, per `dmode`.
fn pick(
  workers: &[Option<WorkerEntry>],
  cands: &[usize],
  req: &Request,
  dmode: Dmode,
) -> Option<usize> {
  let mut best: Option<usize> = None;
  let mut seen = 0u32;
  for &slot in cands {
    let Some(w) = workers[slot].as_ref() else {
      continue;
    };
    if !w.has_capacity()
      || req.target.as_ref().is_some_and(|t| *t != w.id)
      || req.rejects.contains(&w.id)
    {
      continue;
    }
    best = match (dmode, best.and_then(|b| workers[b].as_ref())) {
      (Dmode::Load, Some(b)) if (b.in_flight, b.served) <= (w.in_flight, w.served) => best,
      (Dmode::Rand, Some(_)) => {
        // Reservoir sampling: each eligible worker ends up chosen with 1/n.
        seen += 1;
        if rand::thread_rng().gen_range(0..=seen) == 0 {
          Some(slot)
        } else {
          best
        }
      }
      _ => Some(slot),
    };
  }
  best
}

/// Gives `req` to worker `w` (in `slot`) and emits the request frames.
fn assign(w: &mut WorkerEntry, slot: usize, req: &mut Request, out: &mut Vec<Outgoing>) {
  req.worker = Some(slot);
  w.in_flight += 1;
  let frames = codec::encode_worker_request(
    req.client.clone(),
    req.service.clone(),
    req.rid.clone(),
    req.data.clone(),
    req.opts.clone(),
  );
  out.push(Outgoing::Route {
    peer: w.id.clone(),
    frames,
  });
}

/// A final error reply to `client` for `rid` with data frame `err`.
pub(super) fn error_reply(client: Bytes, rid: Bytes, err: &'static [u8]) -> Outgoing {
  let frames = codec::encode_client_reply(
    ReplyKind::Final,
    rid,
    Bytes::from_static(STATUS_ERR),
    Bytes::from_static(err),
    Bytes::from_static(b"{}"),
  );
  Outgoing::Route {
    peer: client,
    frames,
  }
}

impl Broker {
  /// Queues (or directly assigns) a new request. `announce`: emit PersistSet.
  pub(super) fn accept(
    &mut self,
    mut req: Request,
    announce: bool,
    now: Instant,
    out: &mut Vec<Outgoing>,
  ) {
    let size = req.size();
    let entry = self.services.entry(req.service.clone()).or_default();
    // Both bounds refuse rather than grow: a service queue at `max_queue`, or the broker holding
    // `max_bytes` of requests (queued and at workers) already.
    if entry.queue.len() >= self.conf.max_queue || self.held_bytes + size > self.conf.max_bytes {
      self.stats.dropped_queue_full += 1;
      out.push(Outgoing::Dropped {
        reason: "queue_full",
      });
      if req.persist && !announce {
        out.push(Outgoing::PersistDel {
          rid: req.rid.clone(),
        });
      }
      out.push(error_reply(req.client, req.rid, ERR_QUEUE_FULL));
      return;
    }
    if announce && req.persist {
      out.push(Outgoing::PersistSet(req.persisted()));
    }
    let exact = !entry.workers.is_empty();
    if exact && entry.queue.is_empty() {
      let found = pick(&self.workers, &entry.workers, &req, self.conf.dmode);
      if let Some(slot) = found {
        if let Some(w) = self.workers[slot].as_mut() {
          assign(w, slot, &mut req, out);
          self.held_bytes += size;
          self.requests.insert(req.rid.clone(), req);
          return;
        }
      }
    }
    let was_empty = entry.queue.is_empty();
    entry.queue.push_back(req.rid.clone());
    let service = req.service.clone();
    self.held_bytes += size;
    self.requests.insert(req.rid.clone(), req);
    // With exact workers and an empty queue the pick above already failed.
    if !(exact && was_empty) {
      self.dispatch_queue(&service, now, out);
    }
  }

  /// Hands queued requests for the requested name `name` to eligible workers.
  pub(super) fn dispatch_queue(&mut self, name: &Bytes, now: Instant, out: &mut Vec<Outgoing>) {
    let mut cands = std::mem::take(&mut self.scratch);
    cands.clear();
    self.fill_candidates(name, &mut cands);
    if !cands.is_empty() {
      self.drain_queue(name, &cands, now, out);
    }
    self.scratch = cands;
  }

  /// Worker slots that may serve requests for `name`.
  fn fill_candidates(&mut self, name: &Bytes, cands: &mut Vec<usize>) {
    if let Some(e) = self.services.get(name) {
      if !e.workers.is_empty() {
        cands.extend_from_slice(&e.workers);
        return;
      }
    }
    if self.router.is_empty() {
      return;
    }
    for n in self.router.resolve(name).iter() {
      if let Some(e) = self.services.get(n) {
        cands.extend_from_slice(&e.workers);
      }
    }
  }

  fn drain_queue(&mut self, name: &Bytes, cands: &[usize], now: Instant, out: &mut Vec<Outgoing>) {
    let (mut i, mut skipped) = (0, 0);
    loop {
      let Some(entry) = self.services.get_mut(name) else {
        return;
      };
      let Some(rid) = entry.queue.get(i) else {
        return;
      };
      let Some(req) = self.requests.get_mut(rid) else {
        entry.queue.remove(i);
        continue;
      };
      if req.expired(now) {
        if let Some(rid) = entry.queue.remove(i) {
          self.drop_expired(&rid, out);
        }
        continue;
      }
      match pick(&self.workers, cands, req, self.conf.dmode) {
        Some(slot) => {
          if let Some(w) = self.workers[slot].as_mut() {
            assign(w, slot, req, out);
          }
          entry.queue.remove(i);
        }
        None => {
          let free = cands
            .iter()
            .any(|&s| self.workers[s].as_ref().is_some_and(|w| w.has_capacity()));
          skipped += 1;
          if !free || skipped >= MAX_SKIP {
            return;
          }
          i += 1;
        }
      }
    }
  }

  /// Dispatches every queue the worker in `slot` may serve.
  pub(super) fn dispatch_for_worker(&mut self, slot: usize, now: Instant, out: &mut Vec<Outgoing>) {
    let Some(w) = self.workers[slot].as_ref() else {
      return;
    };
    if !w.has_capacity() {
      return;
    }
    let service = w.service.clone();
    if w.special {
      let names: Vec<Bytes> = (self.services.iter())
        .filter(|(n, e)| !e.queue.is_empty() && e.workers.is_empty() && **n != service)
        .map(|(n, _)| n.clone())
        .collect();
      for n in names {
        if self.router.resolve(&n).contains(&service) {
          self.dispatch_queue(&n, now, out);
        }
      }
    }
    if self
      .services
      .get(&service)
      .is_some_and(|e| !e.queue.is_empty())
    {
      self.dispatch_queue(&service, now, out);
    }
  }

  fn drop_expired(&mut self, rid: &Bytes, out: &mut Vec<Outgoing>) {
    let Some(req) = self.release(rid) else {
      return;
    };
    self.stats.dropped_expired += 1;
    out.push(Outgoing::Dropped { reason: "expired" });
    if req.persist {
      out.push(Outgoing::PersistDel { rid: req.rid });
    }
  }

  /// Drops queued requests whose timeout passed, and empty service entries.
  pub(super) fn expire_queued(&mut self, now: Instant, out: &mut Vec<Outgoing>) {
    let mut expired = Vec::new();
    for e in self.services.values_mut() {
      e.queue.retain(|rid| {
        let gone = self.requests.get(rid).is_none_or(|r| r.expired(now));
        if gone {
          expired.push(rid.clone());
        }
        !gone
      });
    }
    for rid in expired {
      self.drop_expired(&rid, out);
    }
    self
      .services
      .retain(|_, e| !e.queue.is_empty() || !e.workers.is_empty());
  }
}
