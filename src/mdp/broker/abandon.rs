//! Requests nobody waits for any more. A request whose `timeout` passed while a worker holds
//! it is let go one grace period later: the client stopped waiting at its timeout (it fails
//! the request itself with `C_TIMEOUT`), so keeping it would only let a silent worker grow the
//! broker without bound. The worker library lets its side go by the same rule (it reads the
//! same `timeout` from the request's options), so `reply.active()` turns false there.
//!
//! A late reply for a let-go request is expected, not a protocol violation: the worker's rid
//! is remembered (bounded, oldest forgotten first) and such a reply is dropped and counted,
//! where pigato would disconnect the worker.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::{Broker, Outgoing};
use crate::mdp::FastMap;

/// Let-go rids remembered for late replies; beyond this the oldest are forgotten.
const REMEMBERED: usize = 65_536;

/// Rids let go, with the worker slot that held each.
#[derive(Debug, Default)]
pub(super) struct Abandoned {
  slots: FastMap<Bytes, usize>,
  order: VecDeque<Bytes>,
}

impl Abandoned {
  fn remember(&mut self, rid: Bytes, slot: usize) {
    // A copy: the rid may be a slice of a large read buffer, which a tombstone must not pin.
    let rid = Bytes::copy_from_slice(&rid);
    if self.order.len() >= REMEMBERED {
      if let Some(old) = self.order.pop_front() {
        self.slots.remove(&old);
      }
    }
    self.slots.insert(rid.clone(), slot);
    self.order.push_back(rid);
  }

  /// True when `rid` was let go while worker `slot` held it (its partials and final may
  /// all still come).
  pub(super) fn held_by(&self, rid: &[u8], slot: usize) -> bool {
    self.slots.get(rid).is_some_and(|s| *s == slot)
  }
}

impl Broker {
  /// How long past its timeout an assigned request is kept: one heartbeat, so a reply already
  /// on its way still reaches a client that is a little late to give up.
  fn abandon_grace(&self) -> Duration {
    self.conf.heartbeat
  }

  /// Lets go of assigned requests whose timeout (plus the grace period) has passed.
  pub(super) fn expire_assigned(&mut self, now: Instant, out: &mut Vec<Outgoing>) {
    let grace = self.abandon_grace();
    let gone: Vec<(Bytes, usize)> = self
      .requests
      .iter()
      .filter_map(|(rid, r)| {
        let slot = r.worker?;
        r.deadline
          .filter(|d| now > *d + grace)
          .map(|_| (rid.clone(), slot))
      })
      .collect();
    for (rid, slot) in gone {
      let Some(req) = self.release(&rid) else {
        continue;
      };
      if let Some(w) = self.workers[slot].as_mut() {
        w.in_flight = w.in_flight.saturating_sub(1);
      }
      self.stats.abandoned += 1;
      out.push(Outgoing::Dropped {
        reason: "abandoned",
      });
      if req.persist {
        out.push(Outgoing::PersistDel { rid: rid.clone() });
      }
      self.abandoned.remember(rid, slot);
      self.dispatch_for_worker(slot, now, out);
    }
  }
}

#[cfg(test)]
mod tests {
  use super::super::tests::{client_frames, disconnected, dispatched, dropped, H};

  #[test]
  fn an_assigned_request_past_its_timeout_is_let_go_and_frees_the_workers_slot() {
    let mut h = H::new();
    h.ready("w1", "echo");
    h.concurrency("w1", 1);
    let out = h.request("c", "echo", "r1", "{\"timeout\":1000}");
    assert_eq!(dispatched(&out, "w1"), ["r1"]);
    h.request("c", "echo", "r2", "{}");
    // Within timeout + grace (one heartbeat): kept.
    let out = h.tick();
    assert!(dropped(&out).is_empty());
    h.concurrency("w1", 1);
    let out = h.tick();
    assert_eq!(dropped(&out), ["abandoned"]);
    assert_eq!(
      dispatched(&out, "w1"),
      ["r2"],
      "the slot went to the next request"
    );
    let s = h.br.stats();
    assert_eq!((s.abandoned, s.in_flight, s.queued), (1, 1, 0));
  }

  #[test]
  fn late_replies_for_a_let_go_request_are_dropped_and_the_worker_stays() {
    let mut h = H::new();
    h.ready("w1", "echo");
    h.request("c", "echo", "r1", "{\"timeout\":1000}");
    h.tick();
    h.concurrency("w1", 100);
    h.tick();
    assert_eq!(h.br.stats().abandoned, 1);
    let out = h.reply("w1", "6", "r1", "\"late partial\"", "{}");
    assert_eq!(dropped(&out), ["late_reply"]);
    let out = h.reply("w1", "3", "r1", "\"late final\"", "{}");
    assert_eq!(dropped(&out), ["late_reply"]);
    assert!(!disconnected(&out, "w1"));
    assert!(client_frames(&out, "c").is_empty());
    assert_eq!(h.br.stats().dropped_late, 2);
    // The worker still serves.
    let out = h.request("c", "echo", "r2", "{}");
    assert_eq!(dispatched(&out, "w1"), ["r2"]);
    let out = h.reply("w1", "3", "r2", "\"ok\"", "{}");
    assert_eq!(client_frames(&out, "c").len(), 1);
  }

  #[test]
  fn a_request_with_no_timeout_is_never_let_go_and_unknown_replies_still_disconnect() {
    let mut h = H::new();
    h.ready("w1", "echo");
    h.request("c", "echo", "forever", "{\"timeout\":-1}");
    for _ in 0..100 {
      h.concurrency("w1", 100);
      assert!(dropped(&h.tick()).is_empty());
    }
    assert_eq!(h.br.stats().in_flight, 1);
    let out = h.reply("w1", "3", "never-sent", "\"x\"", "{}");
    assert!(disconnected(&out, "w1"));
  }

  #[test]
  fn a_partial_reply_moves_the_deadline_so_a_trickling_request_is_kept() {
    let mut h = H::new();
    h.ready("w1", "echo");
    h.request("c", "echo", "r1", "{\"timeout\":3000}");
    for _ in 0..4 {
      // One partial per heartbeat (2500 ms): never 3000 + 2500 ms without one.
      h.concurrency("w1", 100);
      h.tick();
      let out = h.reply("w1", "6", "r1", "\"part\"", "{}");
      assert_eq!(
        client_frames(&out, "c").len(),
        1,
        "the partial reached the client"
      );
    }
    assert_eq!(h.br.stats().abandoned, 0);
    h.concurrency("w1", 100);
    h.tick();
    h.concurrency("w1", 100);
    h.tick();
    h.concurrency("w1", 100);
    assert_eq!(
      dropped(&h.tick()),
      ["abandoned"],
      "silence after the last partial"
    );
  }
}
