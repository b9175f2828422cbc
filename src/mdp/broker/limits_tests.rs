//! The broker's bounds on what it holds: requests per service queue and bytes in all.

use super::tests::{client_frames, dispatched, H};
use super::*;

#[test]
fn full_queue_refuses_a_request_with_an_error_reply() {
  let mut h = H::with(BrokerConf {
    max_queue: 2,
    ..BrokerConf::default()
  });
  h.request("c", "echo", "r1", "{}");
  h.request("c", "echo", "r2", "{}");
  let out = h.request("c", "echo", "r3", "{\"persist\":1}");
  assert_eq!(
    client_frames(&out, "c"),
    [["C", "3", "", "r3", "-1", "\"C_QUEUE_FULL\"", "{}"]]
  );
  assert!(!out.iter().any(|o| matches!(o, Outgoing::PersistSet(_))));
  assert_eq!(h.br.stats().dropped_queue_full, 1);
}

#[test]
fn queue_bound_is_per_service() {
  let mut h = H::with(BrokerConf {
    max_queue: 1,
    ..BrokerConf::default()
  });
  h.request("c", "a", "r1", "{}");
  let out = h.request("c", "b", "r2", "{}");
  assert!(client_frames(&out, "c").is_empty());
  assert_eq!(h.br.stats().queued, 2);
}

/// Each request here holds 15 bytes: client `c`, service `echo`, a 2-byte rid, `"data"`, `{}`.
const REQ_BYTES: usize = 15;

#[test]
fn byte_bound_counts_queued_and_assigned_requests_and_frees_them_on_reply() {
  let mut h = H::with(BrokerConf {
    max_bytes: 2 * REQ_BYTES + 10,
    ..BrokerConf::default()
  });
  h.request("c", "echo", "r1", "{}");
  h.request("c", "echo", "r2", "{}");
  assert_eq!(h.br.stats().held_bytes, 2 * REQ_BYTES);
  let out = h.request("c", "echo", "r3", "{}");
  assert_eq!(
    client_frames(&out, "c"),
    [["C", "3", "", "r3", "-1", "\"C_QUEUE_FULL\"", "{}"]]
  );
  // At a worker they are still held: the bound still refuses.
  let out = h.ready("w", "echo");
  assert_eq!(dispatched(&out, "w").len(), 2);
  assert_eq!(h.br.stats().held_bytes, 2 * REQ_BYTES);
  assert_eq!(
    client_frames(&h.request("c", "echo", "r4", "{}"), "c").len(),
    1
  );
  // A final reply frees its request's bytes, and the next request is taken.
  h.reply("w", "3", "r1", "1", "{}");
  assert_eq!(h.br.stats().held_bytes, REQ_BYTES);
  let out = h.request("c", "echo", "r5", "{}");
  assert!(client_frames(&out, "c").is_empty());
  assert_eq!(h.br.stats().held_bytes, 2 * REQ_BYTES);
  assert_eq!(h.br.stats().dropped_queue_full, 2);
}

#[test]
fn held_bytes_return_to_zero_when_requests_expire_or_their_worker_is_lost() {
  let mut h = H::new();
  h.request("c", "echo", "r1", "{\"timeout\":1}");
  h.ready("w", "other");
  h.request("c", "other", "r2", "{}");
  // r1 carries 11 more bytes of options, r2 one more of service name.
  assert_eq!(h.br.stats().held_bytes, 2 * REQ_BYTES + 12);
  for _ in 0..5 {
    h.tick();
  }
  let s = h.br.stats();
  assert_eq!((s.queued, s.in_flight, s.held_bytes), (0, 0, 0));
}
