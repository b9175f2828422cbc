//! Worker registration and removal for [`Broker`], and the `$dir` notice.

use std::collections::BTreeMap;

use bytes::Bytes;
use tokio::time::Instant;

use super::dispatch::error_reply;
use super::{Broker, Outgoing, WorkerEntry, DEFAULT_CONCURRENCY, ERR_WORKER_LOST};
use crate::mdp::codec;

impl Broker {
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

  /// The connection of `peer` closed. A registered worker is removed at once, exactly as when its
  /// liveness runs out: its `retry` requests go back to their queue for another worker, the others fail
  /// with `C_WORKER_LOST`. There is nobody left to tell, so no `W,5` is sent. Any other peer (a client, an
  /// unknown id) changes nothing here.
  pub fn handle_peer_gone(&mut self, peer: &[u8], now: Instant, out: &mut Vec<Outgoing>) {
    if let Some(&slot) = self.worker_slots.get(peer) {
      self.stats.workers_gone += 1;
      self.remove_worker(slot, false, now, out);
    }
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
      } else if let Some(req) = self.release(&rid) {
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
}

#[cfg(test)]
mod tests {
  use super::super::tests::{b, client_frames, disconnected, dispatched, H};

  #[test]
  fn a_worker_whose_connection_closed_is_removed_at_once_retry_requests_move_and_others_fail() {
    let mut h = H::new();
    h.ready("w1", "echo");
    h.request("c", "echo", "keep", "{\"retry\":1}");
    h.request("c", "echo", "lose", "{}");
    h.ready("w2", "echo");
    let mut out = Vec::new();
    h.br.handle_peer_gone(&b("w1"), h.now, &mut out);
    assert!(!disconnected(&out, "w1"), "nobody to tell");
    assert_eq!(
      dispatched(&out, "w2"),
      ["keep"],
      "the retry request went on at once"
    );
    let failed = client_frames(&out, "c");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0][3], "lose");
    assert_eq!(failed[0][5], "\"C_WORKER_LOST\"");
    let s = h.br.stats();
    assert_eq!(
      (s.workers, s.workers_gone, s.requeued, s.dropped_worker_lost),
      (1, 1, 1, 1)
    );
  }

  #[test]
  fn a_gone_client_or_unknown_peer_changes_nothing() {
    let mut h = H::new();
    h.ready("w1", "echo");
    h.request("c", "echo", "r1", "{}");
    let mut out = Vec::new();
    h.br.handle_peer_gone(&b("c"), h.now, &mut out);
    h.br.handle_peer_gone(&b("nobody"), h.now, &mut out);
    assert!(out.is_empty());
    let s = h.br.stats();
    assert_eq!((s.workers, s.in_flight, s.workers_gone), (1, 1, 0));
  }
}
