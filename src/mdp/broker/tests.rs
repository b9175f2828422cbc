//! Broker state machine tests, driven with frames and controlled instants.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::*;

pub(super) fn b(x: &str) -> Bytes {
  Bytes::copy_from_slice(x.as_bytes())
}

pub(super) fn text(x: &Bytes) -> String {
  String::from_utf8_lossy(x).into_owned()
}

/// A broker plus a clock.
pub(super) struct H {
  pub(super) br: Broker,
  pub(super) now: Instant,
}

impl H {
  pub(super) fn new() -> H {
    H::with(BrokerConf::default())
  }

  pub(super) fn with(conf: BrokerConf) -> H {
    let now = Instant::now();
    H {
      br: Broker::new(conf, now),
      now,
    }
  }

  pub(super) fn send(&mut self, peer: &str, frames: &[&str]) -> Vec<Outgoing> {
    let frames: Vec<Bytes> = frames.iter().map(|f| b(f)).collect();
    let mut out = Vec::new();
    self
      .br
      .handle_incoming(b(peer), &frames, self.now, &mut out);
    out
  }

  pub(super) fn ready(&mut self, w: &str, service: &str) -> Vec<Outgoing> {
    self.send(w, &["W", "1", service])
  }

  pub(super) fn request(&mut self, c: &str, service: &str, rid: &str, opts: &str) -> Vec<Outgoing> {
    self.send(c, &["C", "2", service, rid, "\"data\"", opts])
  }

  pub(super) fn reply(
    &mut self,
    w: &str,
    kind: &str,
    rid: &str,
    data: &str,
    opts: &str,
  ) -> Vec<Outgoing> {
    self.send(w, &["W", kind, "client", "", rid, "0", data, opts])
  }

  pub(super) fn concurrency(&mut self, w: &str, n: i64) -> Vec<Outgoing> {
    let info = format!("{{\"concurrency\":{n}}}");
    self.send(w, &["W", "4", "", &info])
  }

  pub(super) fn tick(&mut self) -> Vec<Outgoing> {
    self.now += self.br.conf().heartbeat;
    let mut out = Vec::new();
    self.br.handle_tick(self.now, &mut out);
    out
  }
}

/// Every routed message as (peer, frames) strings.
pub(super) fn routes(out: &[Outgoing]) -> Vec<(String, Vec<String>)> {
  (out.iter())
    .filter_map(|o| match o {
      Outgoing::Route { peer, frames } => Some((text(peer), frames.iter().map(text).collect())),
      _ => None,
    })
    .collect()
}

/// Rids of the requests dispatched to `worker`.
pub(super) fn dispatched(out: &[Outgoing], worker: &str) -> Vec<String> {
  (routes(out).into_iter())
    .filter(|(p, f)| p == worker && f[0] == "W" && f[1] == "2")
    .map(|(_, f)| f[5].clone())
    .collect()
}

/// (peer, dispatched rid) of every request dispatched.
fn assignments(out: &[Outgoing]) -> Vec<(String, String)> {
  (routes(out).into_iter())
    .filter(|(_, f)| f[0] == "W" && f[1] == "2")
    .map(|(p, f)| (p, f[5].clone()))
    .collect()
}

pub(super) fn disconnected(out: &[Outgoing], worker: &str) -> bool {
  routes(out)
    .iter()
    .any(|(p, f)| p == worker && f == &["W", "5"])
}

pub(super) fn client_frames(out: &[Outgoing], client: &str) -> Vec<Vec<String>> {
  (routes(out).into_iter())
    .filter(|(p, f)| p == client && f[0] == "C")
    .map(|(_, f)| f)
    .collect()
}

fn directory(out: &[Outgoing]) -> Option<String> {
  out.iter().rev().find_map(|o| match o {
    Outgoing::Directory(d) => Some(text(d)),
    _ => None,
  })
}

pub(super) fn dropped(out: &[Outgoing]) -> Vec<&'static str> {
  (out.iter())
    .filter_map(|o| match o {
      Outgoing::Dropped { reason } => Some(*reason),
      _ => None,
    })
    .collect()
}

#[test]
fn ready_registers_the_worker_acks_and_publishes_the_directory() {
  let mut h = H::new();
  let out = h.ready("w1", "echo");
  assert_eq!(
    routes(&out),
    [("w1".to_string(), vec!["W".to_string(), "1".to_string()])]
  );
  assert_eq!(directory(&out).unwrap(), "$dir {\"echo\":[\"w1\"]}");
  let out = h.ready("w2", "echo");
  assert_eq!(directory(&out).unwrap(), "$dir {\"echo\":[\"w1\",\"w2\"]}");
  assert_eq!(h.br.stats().workers, 2);
}

#[test]
fn request_is_dispatched_with_pigato_frames() {
  let mut h = H::new();
  h.ready("w1", "echo");
  let out = h.request("c1", "echo", "r1", "{\"a\":1}");
  assert_eq!(
    routes(&out),
    [(
      "w1".to_string(),
      ["W", "2", "c1", "echo", "", "r1", "\"data\"", "{\"a\":1}"]
        .map(String::from)
        .to_vec()
    )]
  );
  let s = h.br.stats();
  assert_eq!((s.requests, s.in_flight, s.queued), (1, 1, 0));
}

#[test]
fn request_waits_in_the_queue_until_a_worker_is_ready() {
  let mut h = H::new();
  assert!(h.request("c1", "echo", "r1", "{}").is_empty());
  assert_eq!(h.br.stats().queued, 1);
  let out = h.ready("w1", "echo");
  assert_eq!(dispatched(&out, "w1"), ["r1"]);
  assert_eq!(h.br.stats().queued, 0);
}

#[test]
fn replies_are_routed_to_the_client_with_pigato_frames() {
  let mut h = H::new();
  h.ready("w1", "echo");
  h.request("c1", "echo", "r1", "{}");
  let out = h.send("w1", &["W", "6", "c1", "", "r1", "0", "\"part\"", "{}"]);
  assert_eq!(
    client_frames(&out, "c1"),
    [["C", "6", "", "r1", "0", "\"part\"", "{}"]]
  );
  let out = h.send(
    "w1",
    &["W", "3", "c1", "", "r1", "-1", "\"err\"", "{\"x\":1}"],
  );
  assert_eq!(
    client_frames(&out, "c1"),
    [["C", "3", "", "r1", "-1", "\"err\"", "{\"x\":1}"]]
  );
  let s = h.br.stats();
  assert_eq!((s.partials, s.replies, s.in_flight), (1, 1, 0));
}

#[test]
fn concurrency_limits_in_flight_requests_and_a_reply_frees_a_slot() {
  let mut h = H::new();
  h.ready("w1", "echo");
  h.concurrency("w1", 2);
  let mut sent = Vec::new();
  for r in ["r1", "r2", "r3"] {
    sent.extend(dispatched(&h.request("c", "echo", r, "{}"), "w1"));
  }
  assert_eq!(sent, ["r1", "r2"]);
  assert_eq!(h.br.stats().queued, 1);
  let out = h.reply("w1", "3", "r1", "1", "{}");
  assert_eq!(dispatched(&out, "w1"), ["r3"]);
}

#[test]
fn default_concurrency_is_one_hundred() {
  let mut h = H::new();
  h.ready("w1", "echo");
  for i in 0..101 {
    h.request("c", "echo", &format!("r{i}"), "{}");
  }
  let s = h.br.stats();
  assert_eq!((s.in_flight, s.queued), (100, 1));
}

#[test]
fn raising_concurrency_by_heartbeat_dispatches_waiting_requests() {
  let mut h = H::new();
  h.ready("w1", "echo");
  h.concurrency("w1", 0);
  h.request("c", "echo", "r1", "{}");
  h.request("c", "echo", "r2", "{}");
  assert_eq!(h.br.stats().queued, 2);
  let out = h.concurrency("w1", 1);
  assert_eq!(dispatched(&out, "w1"), ["r1"]);
  let out = h.concurrency("w1", -1);
  assert_eq!(dispatched(&out, "w1"), ["r2"]);
}

#[test]
fn unlimited_concurrency_takes_every_request() {
  let mut h = H::new();
  h.ready("w1", "echo");
  h.concurrency("w1", -1);
  for i in 0..500 {
    h.request("c", "echo", &format!("r{i}"), "{}");
  }
  assert_eq!(h.br.stats().in_flight, 500);
}

#[test]
fn load_mode_prefers_fewest_in_flight_then_fewest_served() {
  let mut h = H::new();
  h.ready("w1", "echo");
  h.ready("w2", "echo");
  let a = assignments(&h.request("c", "echo", "r1", "{}"));
  let b2 = assignments(&h.request("c", "echo", "r2", "{}"));
  assert_ne!(a[0].0, b2[0].0, "second request goes to the idle worker");
  // Both finish; the one that served more loses the tie next time.
  h.reply(&a[0].0, "3", "r1", "1", "{}");
  h.reply(&b2[0].0, "3", "r2", "1", "{}");
  let first = assignments(&h.request("c", "echo", "r3", "{}"))[0]
    .0
    .clone();
  h.reply(&first, "3", "r3", "1", "{}");
  let next = assignments(&h.request("c", "echo", "r4", "{}"))[0]
    .0
    .clone();
  assert_ne!(first, next);
}

#[test]
fn rand_mode_spreads_requests_over_eligible_workers() {
  let mut h = H::with(BrokerConf {
    dmode: Dmode::Rand,
    ..BrokerConf::default()
  });
  for w in ["w1", "w2", "w3"] {
    h.ready(w, "echo");
    h.concurrency(w, -1);
  }
  let mut seen = std::collections::HashSet::new();
  for i in 0..300 {
    for (w, _) in assignments(&h.request("c", "echo", &format!("r{i}"), "{}")) {
      seen.insert(w);
    }
  }
  assert_eq!(seen.len(), 3);
}

#[test]
fn worker_id_option_targets_only_that_worker() {
  let mut h = H::new();
  h.ready("w1", "echo");
  h.ready("w2", "echo");
  for i in 0..5 {
    let out = h.request("c", "echo", &format!("r{i}"), "{\"workerId\":\"w2\"}");
    assert_eq!(assignments(&out)[0].0, "w2");
  }
}

#[test]
fn targeted_request_waits_for_its_busy_worker_without_blocking_others() {
  let mut h = H::new();
  h.ready("w1", "echo");
  h.ready("w2", "echo");
  h.concurrency("w2", 1);
  h.request("c", "echo", "busy", "{\"workerId\":\"w2\"}");
  assert!(h
    .request("c", "echo", "t", "{\"workerId\":\"w2\"}")
    .is_empty());
  assert_eq!(
    dispatched(&h.request("c", "echo", "free", "{}"), "w1"),
    ["free"]
  );
  let out = h.reply("w2", "3", "busy", "1", "{}");
  assert_eq!(dispatched(&out, "w2"), ["t"]);
}

#[test]
fn reject_requeues_and_never_reoffers_to_the_rejecting_worker() {
  let mut h = H::new();
  h.ready("w1", "echo");
  let out = h.request("c", "echo", "r1", "{}");
  assert_eq!(dispatched(&out, "w1"), ["r1"]);
  let out = h.reply("w1", "7", "r1", "null", "{}");
  assert!(dispatched(&out, "w1").is_empty());
  assert_eq!(h.br.stats().queued, 1);
  assert!(h.concurrency("w1", 5).is_empty());
  let out = h.ready("w2", "echo");
  assert_eq!(dispatched(&out, "w2"), ["r1"]);
  assert_eq!(h.br.stats().rejects, 1);
}

#[test]
fn liveness_purge_requeues_retry_requests_to_another_worker() {
  let mut h = H::new();
  h.ready("w1", "echo");
  h.request("c", "echo", "r1", "{\"retry\":1}");
  h.ready("w2", "echo");
  // w2 keeps talking, w1 is silent: liveness 3 -> purged on the 4th tick.
  let mut out = Vec::new();
  for _ in 0..4 {
    h.concurrency("w2", 100);
    out = h.tick();
  }
  assert!(disconnected(&out, "w1"));
  assert_eq!(dispatched(&out, "w2"), ["r1"]);
  assert_eq!(directory(&out).unwrap(), "$dir {\"echo\":[\"w2\"]}");
  assert_eq!(h.br.stats().requeued, 1);
}

#[test]
fn liveness_purge_without_retry_answers_the_client_with_worker_lost() {
  let mut h = H::new();
  h.ready("w1", "echo");
  h.request("c", "echo", "r1", "{\"retry\":0}");
  let outs: Vec<Vec<Outgoing>> = (0..4).map(|_| h.tick()).collect();
  assert!(outs[..3].iter().all(|o| !disconnected(o, "w1")));
  assert!(disconnected(&outs[3], "w1"));
  assert_eq!(
    client_frames(&outs[3], "c"),
    [["C", "3", "", "r1", "-1", "\"C_WORKER_LOST\"", "{}"]]
  );
  assert_eq!(dropped(&outs[3]), ["worker_lost"]);
  let s = h.br.stats();
  assert_eq!((s.workers, s.in_flight, s.dropped_worker_lost), (0, 0, 1));
}

#[test]
fn tick_heartbeats_live_workers_and_any_message_resets_liveness() {
  let mut h = H::new();
  h.ready("w1", "echo");
  for _ in 0..10 {
    let out = h.tick();
    assert_eq!(
      routes(&out),
      [("w1".to_string(), vec!["W".to_string(), "4".to_string()])]
    );
    h.send("w1", &["W", "4"]);
  }
}

#[test]
fn client_worker_heartbeat_refreshes_that_workers_liveness() {
  let mut h = H::new();
  h.ready("w1", "echo");
  for _ in 0..10 {
    assert!(!disconnected(&h.tick(), "w1"));
    h.send("c", &["C", "4", "worker", "w1"]);
  }
}

#[test]
fn queued_request_past_its_timeout_is_dropped_instead_of_dispatched() {
  let mut h = H::new();
  h.request("c", "echo", "r1", "{\"timeout\":100}");
  h.now += Duration::from_millis(101);
  let out = h.ready("w1", "echo");
  assert!(dispatched(&out, "w1").is_empty());
  assert_eq!(dropped(&out), ["expired"]);
  assert_eq!(h.br.stats().dropped_expired, 1);
}

#[test]
fn tick_expires_queued_requests_but_not_never_expiring_ones() {
  let mut h = H::new();
  h.request("c", "echo", "short", "{\"timeout\":1000}");
  h.request("c", "echo", "never", "{\"timeout\":-1}");
  h.request("c", "echo", "default", "{}");
  let out = h.tick();
  assert_eq!(dropped(&out), ["expired"]);
  for _ in 0..23 {
    h.tick();
  }
  assert_eq!(h.br.stats().queued, 2);
  let out = h.tick(); // 62.5 s after the requests.
  assert_eq!(dropped(&out), ["expired"]);
  let out = h.ready("w1", "echo");
  assert_eq!(dispatched(&out, "w1"), ["never"]);
}

#[test]
fn request_heartbeat_is_forwarded_to_the_assigned_worker() {
  let mut h = H::new();
  h.ready("w1", "echo");
  h.request("c1", "echo", "r1", "{}");
  let out = h.send("c1", &["C", "4", "request", "r1"]);
  assert_eq!(
    routes(&out),
    [(
      "w1".to_string(),
      ["W", "4", "c1", "", "r1"].map(String::from).to_vec()
    )]
  );
  assert!(h.send("c1", &["C", "4", "request", "unknown"]).is_empty());
}

#[test]
fn client_heartbeat_is_answered() {
  let mut h = H::new();
  let out = h.send("c1", &["C", "4"]);
  assert_eq!(client_frames(&out, "c1"), [["C", "4"]]);
}

#[test]
fn cacheable_reply_answers_an_identical_request_without_dispatch() {
  let mut h = H::new();
  h.ready("w1", "echo");
  h.request("c1", "echo", "r1", "{}");
  h.reply("w1", "3", "r1", "\"cached\"", "{\"cache\":1000}");
  let out = h.request("c2", "echo", "r2", "{}");
  assert!(dispatched(&out, "w1").is_empty());
  assert_eq!(
    client_frames(&out, "c2"),
    [["C", "3", "", "r2", "0", "\"cached\"", "{\"cache\":1000}"]]
  );
  assert_eq!(h.br.stats().cache_hits, 1);
  // Different data or service misses.
  let out = h.send("c2", &["C", "2", "echo", "r3", "\"other\"", "{}"]);
  assert_eq!(dispatched(&out, "w1"), ["r3"]);
}

#[test]
fn nocache_option_bypasses_the_cache() {
  let mut h = H::new();
  h.ready("w1", "echo");
  h.request("c1", "echo", "r1", "{}");
  h.reply("w1", "3", "r1", "1", "{\"cache\":1000}");
  let out = h.request("c1", "echo", "r2", "{\"nocache\":true}");
  assert_eq!(dispatched(&out, "w1"), ["r2"]);
}

#[test]
fn cached_reply_expires() {
  let mut h = H::new();
  h.ready("w1", "echo");
  h.request("c1", "echo", "r1", "{}");
  h.reply("w1", "3", "r1", "1", "{\"cache\":1000}");
  h.now += Duration::from_millis(1000);
  let out = h.request("c1", "echo", "r2", "{}");
  assert_eq!(dispatched(&out, "w1"), ["r2"]);
}

#[test]
fn reply_without_cache_option_is_not_cached() {
  let mut h = H::new();
  h.ready("w1", "echo");
  h.request("c1", "echo", "r1", "{}");
  h.reply("w1", "3", "r1", "1", "{}");
  assert_eq!(
    dispatched(&h.request("c1", "echo", "r2", "{}"), "w1"),
    ["r2"]
  );
}

#[test]
fn cache_bound_of_zero_entries_disables_caching() {
  let mut h = H::with(BrokerConf {
    cache_max_entries: 0,
    ..BrokerConf::default()
  });
  h.ready("w1", "echo");
  h.request("c1", "echo", "r1", "{}");
  h.reply("w1", "3", "r1", "1", "{\"cache\":1000}");
  assert_eq!(
    dispatched(&h.request("c1", "echo", "r2", "{}"), "w1"),
    ["r2"]
  );
}

#[test]
fn cacheable_reply_also_answers_queued_identical_requests() {
  let mut h = H::new();
  h.ready("w1", "echo");
  h.concurrency("w1", 1);
  h.request("c1", "echo", "r1", "{}");
  h.request("c2", "echo", "r2", "{}");
  h.request("c3", "echo", "r3", "{\"nocache\":1}");
  let out = h.reply("w1", "3", "r1", "1", "{\"cache\":1000}");
  assert_eq!(client_frames(&out, "c2").len(), 1);
  assert_eq!(dispatched(&out, "w1"), ["r3"]);
}

#[test]
fn persist_option_emits_set_on_accept_and_del_on_final_reply() {
  let mut h = H::new();
  h.ready("w1", "echo");
  let out = h.request("c1", "echo", "r1", "{\"persist\":true}");
  let set = out.iter().find_map(|o| match o {
    Outgoing::PersistSet(p) => Some(p.clone()),
    _ => None,
  });
  let p = set.unwrap();
  assert_eq!(
    (text(&p.client), text(&p.service), text(&p.rid)),
    ("c1".into(), "echo".into(), "r1".into())
  );
  assert!(!h
    .reply("w1", "6", "r1", "1", "{}")
    .iter()
    .any(|o| matches!(o, Outgoing::PersistDel { .. })));
  let out = h.reply("w1", "3", "r1", "1", "{}");
  assert!(out.contains(&Outgoing::PersistDel { rid: b("r1") }));
  let out = h.request("c1", "echo", "r2", "{}");
  assert!(!out.iter().any(|o| matches!(o, Outgoing::PersistSet(_))));
}

#[test]
fn restore_requeues_persisted_requests_without_storing_them_again() {
  let mut h = H::new();
  let p = PersistedRequest {
    client: b("c1"),
    service: b("echo"),
    rid: b("r1"),
    data: b("1"),
    opts: b("{}"),
  };
  let mut out = Vec::new();
  h.br.restore(vec![p], h.now, &mut out);
  assert!(out.is_empty());
  assert_eq!(h.br.stats().queued, 1);
  let out = h.ready("w1", "echo");
  assert_eq!(dispatched(&out, "w1"), ["r1"]);
  let out = h.reply("w1", "3", "r1", "1", "{}");
  assert!(out.contains(&Outgoing::PersistDel { rid: b("r1") }));
}

#[test]
fn message_from_an_unknown_worker_gets_a_disconnect() {
  let mut h = H::new();
  let out = h.send("ghost", &["W", "4", "", "{}"]);
  assert!(disconnected(&out, "ghost"));
  assert_eq!(dropped(&out), ["unknown_worker"]);
  let out = h.send("ghost", &["W", "3", "c", "", "r", "0", "1", "{}"]);
  assert!(disconnected(&out, "ghost"));
  assert!(h.send("ghost", &["W", "5"]).is_empty());
}

#[test]
fn reply_for_a_request_not_assigned_to_the_worker_disconnects_it() {
  let mut h = H::new();
  h.ready("w1", "echo");
  h.request("c", "echo", "r1", "{\"retry\":1}");
  h.ready("w2", "echo");
  let out = h.reply("w2", "3", "r1", "1", "{}");
  assert!(disconnected(&out, "w2"));
  assert!(client_frames(&out, "c").is_empty());
  assert_eq!(directory(&out).unwrap(), "$dir {\"echo\":[\"w1\"]}");
  // The real assignee still completes it.
  let out = h.reply("w1", "3", "r1", "1", "{}");
  assert_eq!(client_frames(&out, "c").len(), 1);
  let out = h.reply("w1", "3", "nope", "1", "{}");
  assert!(disconnected(&out, "w1"));
}

#[test]
fn second_ready_from_a_registered_worker_disconnects_it() {
  let mut h = H::new();
  h.ready("w1", "echo");
  let out = h.ready("w1", "echo");
  assert!(disconnected(&out, "w1"));
  assert_eq!(h.br.stats().workers, 0);
}

#[test]
fn worker_disconnect_removes_it_and_updates_the_directory() {
  let mut h = H::new();
  h.ready("w1", "echo");
  h.ready("w2", "other");
  let out = h.send("w1", &["W", "5"]);
  assert!(!disconnected(&out, "w1"));
  assert_eq!(directory(&out).unwrap(), "$dir {\"other\":[\"w2\"]}");
}

#[test]
fn wildcard_worker_serves_a_prefix_only_without_an_exact_worker() {
  let mut h = H::new();
  h.ready("wild", "ec*");
  h.ready("wilder", "e*");
  assert_eq!(
    dispatched(&h.request("c", "echo", "r1", "{}"), "wild"),
    ["r1"]
  );
  h.ready("exact", "echo");
  assert_eq!(
    dispatched(&h.request("c", "echo", "r2", "{}"), "exact"),
    ["r2"]
  );
  assert_eq!(
    dispatched(&h.request("c", "eagle", "r3", "{}"), "wilder"),
    ["r3"]
  );
  assert!(h.request("c", "zebra", "r4", "{}").is_empty());
}

#[test]
fn wildcard_worker_arriving_later_takes_queued_requests() {
  let mut h = H::new();
  h.request("c", "echo", "r1", "{}");
  let out = h.ready("wild", "ec*");
  assert_eq!(dispatched(&out, "wild"), ["r1"]);
  h.concurrency("wild", 1);
  h.request("c", "echo", "r2", "{}");
  let out = h.concurrency("wild", 2);
  assert_eq!(dispatched(&out, "wild"), ["r2"]);
}

#[test]
fn versioned_worker_serves_satisfied_ranges_and_its_exact_name() {
  let mut h = H::new();
  h.ready("v1", "calc@1.2.3");
  h.ready("v2", "calc@2.0.0");
  assert_eq!(
    dispatched(&h.request("c", "calc@^1.2.x", "r1", "{}"), "v1"),
    ["r1"]
  );
  assert_eq!(
    dispatched(&h.request("c", "calc@1.2.3", "r2", "{}"), "v1"),
    ["r2"]
  );
  assert_eq!(
    dispatched(&h.request("c", "calc@>=2", "r3", "{}"), "v2"),
    ["r3"]
  );
  assert!(h.request("c", "calc@^3", "r4", "{}").is_empty());
  let out = h.ready("v3", "calc@3.1.0");
  assert_eq!(dispatched(&out, "v3"), ["r4"]);
}

#[test]
fn duplicate_rid_is_dropped() {
  let mut h = H::new();
  h.request("c", "echo", "r1", "{}");
  let out = h.request("c", "echo", "r1", "{}");
  assert_eq!(dropped(&out), ["duplicate_rid"]);
  assert_eq!(h.br.stats().queued, 1);
}

#[test]
fn malformed_messages_are_counted_and_malformed_worker_frames_disconnect() {
  let mut h = H::new();
  assert_eq!(dropped(&h.send("x", &["Z", "1"])), ["ERR_MSG_HEADER"]);
  assert_eq!(
    dropped(&h.send("c", &["C", "2", "echo"])),
    ["ERR_MSG_LENGTH"]
  );
  assert_eq!(dropped(&h.send("c", &["C", "9"])), ["ERR_MSG_TYPE"]);
  assert_eq!(dropped(&h.send("c", &[])), ["ERR_MSG_LENGTH"]);
  h.ready("w1", "echo");
  let out = h.send("w1", &["W", "9"]);
  assert!(disconnected(&out, "w1"));
  assert_eq!(h.br.stats().dropped_malformed, 5);
  assert_eq!(h.br.stats().workers, 0);
}

#[test]
fn worker_slots_are_reused_without_confusing_requests() {
  let mut h = H::new();
  h.ready("w1", "echo");
  h.request("c", "echo", "r1", "{\"retry\":1}");
  h.send("w1", &["W", "5"]);
  let out = h.ready("w2", "echo");
  assert_eq!(dispatched(&out, "w2"), ["r1"]);
  let out = h.reply("w2", "3", "r1", "1", "{}");
  assert_eq!(client_frames(&out, "c").len(), 1);
}

/// Request/reply cycles per second through the state machine (frames built
/// outside the timed loop). Run with `--release -- --ignored` for a number.
#[test]
fn many_requests_spread_over_workers_are_each_answered_once() {
  let mut h = H::new();
  for w in ["w1", "w2", "w3", "w4"] {
    h.ready(w, "echo");
  }
  let n = 20_000;
  let rids: Vec<Bytes> = (0..n).map(|i| b(&format!("{i:036}"))).collect();
  let (c, s, d, o) = (
    b("client-1"),
    b("echo"),
    b("\"hello\""),
    b("{\"timeout\":60000,\"retry\":0}"),
  );
  let mut out = Vec::with_capacity(16);
  let mut per_worker = std::collections::HashMap::new();
  for rid in &rids {
    let req = [b("C"), b("2"), s.clone(), rid.clone(), d.clone(), o.clone()];
    h.br.handle_incoming(c.clone(), &req, h.now, &mut out);
    let Some(Outgoing::Route { peer, .. }) = out.pop() else {
      panic!("not dispatched")
    };
    *per_worker.entry(peer.clone()).or_insert(0u32) += 1;
    out.clear();
    let rep = [
      b("W"),
      b("3"),
      c.clone(),
      b(""),
      rid.clone(),
      b("0"),
      d.clone(),
      b("{}"),
    ];
    h.br.handle_incoming(peer, &rep, h.now, &mut out);
    assert!(
      matches!(out.as_slice(), [Outgoing::Route { peer, .. }] if peer == &c),
      "reply routed to the client"
    );
    out.clear();
  }
  let stats = h.br.stats();
  assert_eq!(
    (stats.requests, stats.replies, stats.queued, stats.in_flight),
    (n as u64, n as u64, 0, 0)
  );
  assert_eq!(
    per_worker.len(),
    4,
    "load mode spreads work over every worker"
  );
}
