//! The broker state machine: per-service request queues, dispatch to workers,
//! worker liveness, reject/retry, timeouts, the reply cache and persistence
//! hooks, exactly as pigato's broker behaves on the wire.
//!
//! No I/O: the event loop feeds [`Broker::handle_incoming`] with every ROUTER
//! message (identity split off) and calls [`Broker::handle_tick`] every
//! `conf.heartbeat`; everything to do comes back as [`Outgoing`] items.
//!
//! Decisions beyond pigato (documented for the JS facade):
//! - a request lost with its worker and without `opts.retry` gets a final error
//!   reply `"C_WORKER_LOST"` instead of silence;
//! - a request refused because its service queue holds `conf.max_queue`
//!   requests, or because the broker holds `conf.max_bytes` of requests, gets a
//!   final error reply `"C_QUEUE_FULL"` (pigato queues without bound);
//! - a request whose rid is already known is dropped (`duplicate_rid`).

mod abandon;
mod dispatch;
#[cfg(test)]
mod limits_tests;
pub mod opts;
mod registry;
mod reply;
#[cfg(test)]
mod tests;
mod types;

use crate::mdp::FastMap;
use std::collections::VecDeque;

use bytes::Bytes;
use tokio::time::Instant;

use super::cache::ReplyCache;
use super::codec::{self, FromClient, FromWorker, Message, ReplyKind};
use super::routing::Router;
use opts::RequestOpts;

pub use types::*;

/// A registered worker.
#[derive(Debug)]
struct WorkerEntry {
  id: Bytes,
  service: Bytes,
  /// Registered under a wildcard or versioned name.
  special: bool,
  liveness: i64,
  /// Negative: unlimited.
  concurrency: i64,
  in_flight: u32,
  served: u64,
}

impl WorkerEntry {
  fn has_capacity(&self) -> bool {
    self.concurrency < 0 || i64::from(self.in_flight) < self.concurrency
  }
}

/// A request known to the broker (queued or assigned).
#[derive(Debug)]
struct Request {
  client: Bytes,
  service: Bytes,
  rid: Bytes,
  data: Bytes,
  opts: Bytes,
  /// Past this instant the request is dropped instead of dispatched (or let go once assigned).
  deadline: Option<Instant>,
  /// `opts.timeout`: a partial reply moves the deadline this far from its arrival, as the client
  /// measures its timeout from the last reply.
  timeout: Option<std::time::Duration>,
  retry: bool,
  persist: bool,
  nocache: bool,
  /// `opts.workerId`.
  target: Option<Bytes>,
  /// Workers that rejected it.
  rejects: Vec<Bytes>,
  /// Slot of the assigned worker.
  worker: Option<usize>,
}

impl Request {
  /// The same request with its frames copied into one allocation of its own. The frames may be
  /// slices of a large read buffer, and a request a worker holds for minutes must not pin that
  /// buffer (measured with a worker that ignores half its requests: broker RSS 200 MB and
  /// rising, 66 MB flat with this); one allocation instead of five keeps a held request small.
  fn owned(mut self) -> Request {
    let parts = [
      &self.client,
      &self.service,
      &self.rid,
      &self.data,
      &self.opts,
    ];
    let mut buf = bytes::BytesMut::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
      buf.extend_from_slice(p);
    }
    let mut all = buf.freeze();
    let mut take = |n: usize| all.split_to(n);
    self.client = take(self.client.len());
    self.service = take(self.service.len());
    self.rid = take(self.rid.len());
    self.data = take(self.data.len());
    self.opts = take(self.opts.len());
    self
  }

  /// Bytes of its frames, as counted against `conf.max_bytes`.
  fn size(&self) -> usize {
    self.client.len() + self.service.len() + self.rid.len() + self.data.len() + self.opts.len()
  }

  fn expired(&self, now: Instant) -> bool {
    self.deadline.is_some_and(|d| now > d)
  }

  fn persisted(&self) -> PersistedRequest {
    PersistedRequest {
      client: self.client.clone(),
      service: self.service.clone(),
      rid: self.rid.clone(),
      data: self.data.clone(),
      opts: self.opts.clone(),
    }
  }
}

/// Queue of requested name and the workers registered under that name.
#[derive(Debug, Default)]
struct ServiceEntry {
  queue: VecDeque<Bytes>,
  workers: Vec<usize>,
}

/// The pigato broker state machine.
#[derive(Debug)]
pub struct Broker {
  conf: BrokerConf,
  /// Worker slots; a slot index stays valid while the worker lives.
  workers: Vec<Option<WorkerEntry>>,
  free_slots: Vec<usize>,
  worker_slots: FastMap<Bytes, usize>,
  services: FastMap<Bytes, ServiceEntry>,
  router: Router,
  requests: FastMap<Bytes, Request>,
  /// Sum of [`Request::size`] over `requests`.
  held_bytes: usize,
  cache: ReplyCache,
  stats: BrokerStats,
  /// Reused candidate list for dispatch (avoids an allocation per dispatch).
  scratch: Vec<usize>,
  /// Requests let go after their timeout, for late replies.
  abandoned: abandon::Abandoned,
}

impl Broker {
  /// A broker with no workers and no requests.
  pub fn new(conf: BrokerConf, _now: Instant) -> Broker {
    let cache = ReplyCache::new(conf.cache_max_entries, conf.cache_max_bytes);
    Broker {
      conf,
      workers: Vec::new(),
      free_slots: Vec::new(),
      worker_slots: FastMap::default(),
      services: FastMap::default(),
      router: Router::new(),
      requests: FastMap::default(),
      held_bytes: 0,
      cache,
      stats: BrokerStats::default(),
      scratch: Vec::new(),
      abandoned: abandon::Abandoned::default(),
    }
  }

  /// The configuration.
  pub fn conf(&self) -> &BrokerConf {
    &self.conf
  }

  /// Counters, and gauges computed now.
  pub fn stats(&self) -> BrokerStats {
    let queued: usize = self.services.values().map(|e| e.queue.len()).sum();
    BrokerStats {
      workers: self.worker_slots.len(),
      queued,
      in_flight: self.requests.len() - queued,
      held_bytes: self.held_bytes,
      ..self.stats.clone()
    }
  }

  /// Removes a request the broker holds (queued or assigned), keeping `held_bytes` in step.
  fn release(&mut self, rid: &Bytes) -> Option<Request> {
    let req = self.requests.remove(rid)?;
    self.held_bytes -= req.size();
    Some(req)
  }

  /// Handles one ROUTER message from `peer` (`frames` after the identity).
  pub fn handle_incoming(
    &mut self,
    peer: Bytes,
    frames: &[Bytes],
    now: Instant,
    out: &mut Vec<Outgoing>,
  ) {
    match codec::parse(frames) {
      Ok(Message::Client(m)) => self.handle_incoming_client(peer, m, now, out),
      Ok(Message::Worker(m)) => self.handle_incoming_worker(peer, m, now, out),
      Err(e) => {
        self.stats.dropped_malformed += 1;
        out.push(Outgoing::Dropped {
          reason: e.pigato_code(),
        });
        // A worker that breaks the protocol is told to restart.
        if frames.first().is_some_and(|f| &f[..] == codec::WORKER) {
          self.disconnect_peer(peer, now, out);
        }
      }
    }
  }

  fn handle_incoming_client(
    &mut self,
    peer: Bytes,
    m: FromClient,
    now: Instant,
    out: &mut Vec<Outgoing>,
  ) {
    match m {
      FromClient::Request {
        service,
        rid,
        data,
        opts,
      } => self.handle_request(peer, service, rid, data, opts, now, out),
      FromClient::Heartbeat => out.push(Outgoing::Route {
        peer,
        frames: codec::encode_client_heartbeat(),
      }),
      FromClient::RequestHeartbeat { rid } => {
        let Some(req) = self.requests.get(&rid) else {
          return;
        };
        let Some(w) = req.worker.and_then(|s| self.workers[s].as_ref()) else {
          return;
        };
        let frames = codec::encode_forwarded_heartbeat(peer, rid);
        out.push(Outgoing::Route {
          peer: w.id.clone(),
          frames,
        });
      }
      FromClient::WorkerHeartbeat { worker_id } => {
        if let Some(&slot) = self.worker_slots.get(&worker_id) {
          self.touch(slot);
        }
      }
    }
  }

  #[allow(clippy::too_many_arguments)]
  fn handle_request(
    &mut self,
    client: Bytes,
    service: Bytes,
    rid: Bytes,
    data: Bytes,
    opts: Bytes,
    now: Instant,
    out: &mut Vec<Outgoing>,
  ) {
    self.stats.requests += 1;
    if self.requests.contains_key(&rid) {
      self.stats.dropped_duplicate += 1;
      out.push(Outgoing::Dropped {
        reason: "duplicate_rid",
      });
      return;
    }
    let o = RequestOpts::parse(&opts);
    if !o.nocache {
      if let Some(hit) = self.cache.get(&service, &data, now) {
        self.stats.cache_hits += 1;
        self.stats.replies += 1;
        let frames =
          codec::encode_client_reply(ReplyKind::Final, rid, hit.status, hit.data, hit.opts);
        out.push(Outgoing::Route {
          peer: client,
          frames,
        });
        return;
      }
    }
    let req = Request {
      deadline: o.timeout.and_then(|t| now.checked_add(t)),
      timeout: o.timeout,
      retry: o.retry,
      persist: o.persist,
      nocache: o.nocache,
      target: o.worker_id,
      rejects: Vec::new(),
      worker: None,
      client,
      service,
      rid,
      data,
      opts,
    };
    self.accept(req.owned(), true, now, out);
  }

  /// Re-queues requests the persistence controller returned at start.
  pub fn restore(
    &mut self,
    reqs: impl IntoIterator<Item = PersistedRequest>,
    now: Instant,
    out: &mut Vec<Outgoing>,
  ) {
    for p in reqs {
      if self.requests.contains_key(&p.rid) {
        continue;
      }
      let o = RequestOpts::parse(&p.opts);
      let req = Request {
        deadline: o.timeout.and_then(|t| now.checked_add(t)),
        timeout: o.timeout,
        retry: o.retry,
        persist: true,
        nocache: o.nocache,
        target: o.worker_id,
        rejects: Vec::new(),
        worker: None,
        client: p.client,
        service: p.service,
        rid: p.rid,
        data: p.data,
        opts: p.opts,
      };
      self.accept(req, false, now, out);
    }
  }

  fn handle_incoming_worker(
    &mut self,
    peer: Bytes,
    m: FromWorker,
    now: Instant,
    out: &mut Vec<Outgoing>,
  ) {
    let slot = self.worker_slots.get(&peer).copied();
    let Some(slot) = slot else {
      match m {
        FromWorker::Ready { service } => self.register_worker(peer, service, now, out),
        FromWorker::Disconnect => {}
        _ => {
          self.stats.dropped_protocol += 1;
          out.push(Outgoing::Dropped {
            reason: "unknown_worker",
          });
          out.push(Outgoing::Route {
            peer,
            frames: codec::encode_disconnect(),
          });
        }
      }
      return;
    };
    self.touch(slot);
    match m {
      // pigato: a second READY from a registered worker is a protocol error.
      FromWorker::Ready { .. } => {
        self.stats.dropped_protocol += 1;
        self.remove_worker(slot, true, now, out);
      }
      FromWorker::Heartbeat { info } => {
        if let Some(c) = opts::heartbeat_concurrency(&info) {
          if let Some(w) = self.workers[slot].as_mut() {
            w.concurrency = c;
          }
          self.dispatch_for_worker(slot, now, out);
        }
      }
      FromWorker::Reply {
        kind,
        rid,
        status,
        data,
        opts,
        ..
      } => self.handle_reply(slot, kind, rid, status, data, opts, now, out),
      FromWorker::Disconnect => self.remove_worker(slot, false, now, out),
    }
  }

  /// Resets a worker's liveness.
  fn touch(&mut self, slot: usize) {
    if let Some(w) = self.workers[slot].as_mut() {
      w.liveness = i64::from(self.conf.liveness);
    }
  }

  /// Tells `peer` to restart and forgets it if it was a registered worker.
  fn disconnect_peer(&mut self, peer: Bytes, now: Instant, out: &mut Vec<Outgoing>) {
    match self.worker_slots.get(&peer).copied() {
      Some(slot) => self.remove_worker(slot, true, now, out),
      None => out.push(Outgoing::Route {
        peer,
        frames: codec::encode_disconnect(),
      }),
    }
  }

  /// Periodic work: worker liveness and heartbeats, queued request expiry,
  /// cache pruning. Call every `conf.heartbeat`.
  pub fn handle_tick(&mut self, now: Instant, out: &mut Vec<Outgoing>) {
    let mut dead = Vec::new();
    for (slot, w) in self.workers.iter_mut().enumerate() {
      let Some(w) = w else { continue };
      w.liveness -= 1;
      if w.liveness < 0 {
        dead.push(slot);
      } else {
        out.push(Outgoing::Route {
          peer: w.id.clone(),
          frames: codec::encode_broker_heartbeat(),
        });
      }
    }
    for slot in dead {
      self.remove_worker(slot, true, now, out);
    }
    self.expire_queued(now, out);
    self.expire_assigned(now, out);
    self.cache.prune(now);
  }
}
