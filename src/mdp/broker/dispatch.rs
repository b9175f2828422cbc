//! Queues, worker selection, replies and worker removal for [`Broker`].
//!
//! The hot path (a request for an exact service with an idle-enough worker
//! and an empty queue) skips the queue: one service lookup, one worker pick,
//! one insert into the request table.

use std::collections::BTreeMap;

use bytes::Bytes;
use rand::Rng;
use tokio::time::Instant;

use super::{opts, Broker, Dmode, Outgoing, Request, WorkerEntry, DEFAULT_CONCURRENCY};
use super::{ERR_QUEUE_FULL, ERR_WORKER_LOST};
use crate::mdp::cache::CachedReply;
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
fn error_reply(client: Bytes, rid: Bytes, err: &'static [u8]) -> Outgoing {
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
    let entry = self.services.entry(req.service.clone()).or_default();
    if entry.queue.len() >= self.conf.max_queue {
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
          self.requests.insert(req.rid.clone(), req);
          return;
        }
      }
    }
    let was_empty = entry.queue.is_empty();
    entry.queue.push_back(req.rid.clone());
    let service = req.service.clone();
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
    let Some(req) = self.requests.remove(rid) else {
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

  /// Registers a worker after its READY.
  pub(super) fn register_worker(
    &mut self,
    peer: Bytes,
    service: Bytes,
    now: Instant,
    out: &mut Vec<Outgoing>,
  ) {
    let special = self.router.register(&service);
    let w = WorkerEntry {
      id: peer.clone(),
      service: service.clone(),
      special,
      liveness: i64::from(self.conf.liveness),
      concurrency: DEFAULT_CONCURRENCY,
      in_flight: 0,
      served: 0,
    };
    let slot = match self.free_slots.pop() {
      Some(s) => s,
      None => {
        self.workers.push(None);
        self.workers.len() - 1
      }
    };
    self.workers[slot] = Some(w);
    self.worker_slots.insert(peer.clone(), slot);
    self.services.entry(service).or_default().workers.push(slot);
    out.push(Outgoing::Route {
      peer,
      frames: codec::encode_ready_ack(),
    });
    out.push(Outgoing::Directory(self.directory()));
    self.dispatch_for_worker(slot, now, out);
  }

  /// Forgets a worker (telling it to restart when `notify`); its requests are
  /// re-queued when `retry` is set, else answered with `C_WORKER_LOST`.
  pub(super) fn remove_worker(
    &mut self,
    slot: usize,
    notify: bool,
    now: Instant,
    out: &mut Vec<Outgoing>,
  ) {
    let Some(w) = self.workers[slot].take() else {
      return;
    };
    self.free_slots.push(slot);
    self.worker_slots.remove(&w.id);
    if notify {
      out.push(Outgoing::Route {
        peer: w.id.clone(),
        frames: codec::encode_disconnect(),
      });
    }
    if let Some(e) = self.services.get_mut(&w.service) {
      e.workers.retain(|&s| s != slot);
      if e.workers.is_empty() && w.special {
        self.router.unregister(&w.service);
      }
    }
    let requeued = if w.in_flight > 0 {
      self.release_requests(slot, out)
    } else {
      Vec::new()
    };
    out.push(Outgoing::Directory(self.directory()));
    for name in requeued {
      self.dispatch_queue(&name, now, out);
    }
  }

  /// Takes back the requests assigned to `slot`; returns the queues refilled.
  fn release_requests(&mut self, slot: usize, out: &mut Vec<Outgoing>) -> Vec<Bytes> {
    let lost: Vec<Bytes> = (self.requests.iter())
      .filter(|(_, r)| r.worker == Some(slot))
      .map(|(rid, _)| rid.clone())
      .collect();
    let mut names: Vec<Bytes> = Vec::new();
    for rid in lost {
      let Some(req) = self.requests.get_mut(&rid) else {
        continue;
      };
      if req.retry {
        req.worker = None;
        self.stats.requeued += 1;
        let name = req.service.clone();
        self
          .services
          .entry(name.clone())
          .or_default()
          .queue
          .push_front(rid);
        if !names.contains(&name) {
          names.push(name);
        }
      } else if let Some(req) = self.requests.remove(&rid) {
        self.stats.dropped_worker_lost += 1;
        out.push(Outgoing::Dropped {
          reason: "worker_lost",
        });
        if req.persist {
          out.push(Outgoing::PersistDel { rid: rid.clone() });
        }
        out.push(error_reply(req.client, rid, ERR_WORKER_LOST));
      }
    }
    names
  }

  /// The `$dir` notice: `'$dir ' + JSON({service: [workerId...]})`.
  pub(super) fn directory(&self) -> Bytes {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, e) in &self.services {
      if e.workers.is_empty() {
        continue;
      }
      let ids = (e.workers.iter())
        .filter_map(|&s| self.workers[s].as_ref())
        .map(|w| String::from_utf8_lossy(&w.id).into_owned())
        .collect();
      map.insert(String::from_utf8_lossy(name).into_owned(), ids);
    }
    let mut buf = b"$dir ".to_vec();
    if serde_json::to_writer(&mut buf, &map).is_err() {
      buf.extend_from_slice(b"{}");
    }
    Bytes::from(buf)
  }

  /// A worker reply: routed to the client after checking the assignment.
  #[allow(clippy::too_many_arguments)]
  pub(super) fn handle_reply(
    &mut self,
    slot: usize,
    kind: ReplyKind,
    rid: Bytes,
    status: Bytes,
    data: Bytes,
    opts: Bytes,
    now: Instant,
    out: &mut Vec<Outgoing>,
  ) {
    let Some(req) = self
      .requests
      .get_mut(&rid)
      .filter(|r| r.worker == Some(slot))
    else {
      self.stats.dropped_protocol += 1;
      out.push(Outgoing::Dropped {
        reason: "bad_reply",
      });
      self.remove_worker(slot, true, now, out);
      return;
    };
    match kind {
      ReplyKind::Partial => {
        self.stats.partials += 1;
        let frames = codec::encode_client_reply(kind, rid, status, data, opts);
        out.push(Outgoing::Route {
          peer: req.client.clone(),
          frames,
        });
      }
      ReplyKind::Reject => {
        self.stats.rejects += 1;
        req.worker = None;
        let w = self.workers[slot].as_mut();
        if let Some(w) = w {
          w.in_flight = w.in_flight.saturating_sub(1);
          req.rejects.push(w.id.clone());
        }
        let name = req.service.clone();
        self
          .services
          .entry(name.clone())
          .or_default()
          .queue
          .push_front(rid);
        self.dispatch_queue(&name, now, out);
        self.dispatch_for_worker(slot, now, out);
      }
      ReplyKind::Final => self.finish(slot, rid, CachedReply { status, data, opts }, now, out),
    }
  }

  fn finish(
    &mut self,
    slot: usize,
    rid: Bytes,
    r: CachedReply,
    now: Instant,
    out: &mut Vec<Outgoing>,
  ) {
    let Some(req) = self.requests.remove(&rid) else {
      return;
    };
    if let Some(w) = self.workers[slot].as_mut() {
      w.in_flight = w.in_flight.saturating_sub(1);
      w.served += 1;
    }
    self.stats.replies += 1;
    if req.persist {
      out.push(Outgoing::PersistDel { rid: rid.clone() });
    }
    let ttl = opts::reply_cache_ttl(&r.opts);
    if let Some(ttl) = ttl {
      if self.cache.put(&req.service, &req.data, &r, ttl, now) {
        self.flush_cached(&req.service, &req.data, &r, out);
      }
    }
    let frames = codec::encode_client_reply(ReplyKind::Final, rid, r.status, r.data, r.opts);
    out.push(Outgoing::Route {
      peer: req.client,
      frames,
    });
    self.dispatch_for_worker(slot, now, out);
  }

  /// Answers queued requests identical to a just-cached one (pigato `cflush`).
  fn flush_cached(
    &mut self,
    service: &Bytes,
    data: &Bytes,
    r: &CachedReply,
    out: &mut Vec<Outgoing>,
  ) {
    let Some(e) = self.services.get_mut(service) else {
      return;
    };
    let mut hits = Vec::new();
    e.queue.retain(|rid| {
      let hit = self
        .requests
        .get(rid)
        .is_some_and(|q| !q.nocache && q.data == *data);
      if hit {
        hits.push(rid.clone());
      }
      !hit
    });
    for rid in hits {
      let Some(req) = self.requests.remove(&rid) else {
        continue;
      };
      self.stats.cache_hits += 1;
      self.stats.replies += 1;
      if req.persist {
        out.push(Outgoing::PersistDel { rid: rid.clone() });
      }
      let (s, d, o) = (r.status.clone(), r.data.clone(), r.opts.clone());
      let frames = codec::encode_client_reply(ReplyKind::Final, rid, s, d, o);
      out.push(Outgoing::Route {
        peer: req.client,
        frames,
      });
    }
  }
}
