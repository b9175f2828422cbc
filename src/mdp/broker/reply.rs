//! Worker replies for [`Broker`]: partial, final (with the reply cache and
//! persistence hooks) and reject.

use bytes::Bytes;
use tokio::time::Instant;

use super::{opts, Broker, Outgoing};
use crate::mdp::cache::CachedReply;
use crate::mdp::codec::{self, ReplyKind};

impl Broker {
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
      if self.abandoned.held_by(&rid, slot) {
        // The request was let go after its timeout: a late answer, not a broken worker.
        self.stats.dropped_late += 1;
        out.push(Outgoing::Dropped {
          reason: "late_reply",
        });
        return;
      }
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
        req.deadline = req.timeout.and_then(|t| now.checked_add(t));
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
    let Some(req) = self.release(&rid) else {
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
      let Some(req) = self.release(&rid) else {
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
