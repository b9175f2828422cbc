//! Client state machine tests, with controlled instants.

use super::*;

fn b(x: &str) -> Bytes {
  Bytes::copy_from_slice(x.as_bytes())
}

fn frames(xs: &[&str]) -> Vec<Bytes> {
  xs.iter().map(|x| b(x)).collect()
}

const MS: Duration = Duration::from_millis(1);

struct H {
  c: ClientState,
  t0: Instant,
}

impl H {
  fn new() -> H {
    let t0 = Instant::now();
    let mut c = ClientState::new(ClientConf::default());
    c.start(t0, &mut Vec::new());
    H { c, t0 }
  }

  fn request(&mut self, timeout_ms: Option<u64>, token: u64) -> Bytes {
    let mut out = Vec::new();
    let t = timeout_ms.map(Duration::from_millis);
    self
      .c
      .request(b("echo"), b("1"), b("{}"), t, token, self.t0, &mut out)
  }

  fn incoming(&mut self, f: &[&str], at: Duration) -> Vec<ClientOutput> {
    let mut out = Vec::new();
    self.c.handle_incoming(&frames(f), self.t0 + at, &mut out);
    out
  }

  fn reply(
    &mut self,
    kind: &str,
    rid: &Bytes,
    status: &str,
    data: &str,
    at: Duration,
  ) -> Vec<ClientOutput> {
    let rid = String::from_utf8(rid.to_vec()).unwrap();
    self.incoming(&["C", kind, "", &rid, status, data, "{}"], at)
  }

  fn timeouts(&mut self, at: Duration) -> Vec<ClientOutput> {
    let mut out = Vec::new();
    self.c.handle_timeouts(self.t0 + at, &mut out);
    out
  }
}

fn timed_out(rid: &Bytes, token: u64) -> ClientOutput {
  ClientOutput::Failed {
    token,
    rid: rid.clone(),
    error: b("\"C_TIMEOUT\""),
  }
}

#[test]
fn start_sends_a_heartbeat_at_once() {
  let mut c = ClientState::new(ClientConf::default());
  let mut out = Vec::new();
  c.start(Instant::now(), &mut out);
  assert_eq!(out, [ClientOutput::Send(frames(&["C", "4"]))]);
}

#[test]
fn request_sends_pigato_frames_with_a_prefixed_counter_rid() {
  let mut c = ClientState::new(ClientConf::default());
  let mut out = Vec::new();
  let rid = c.request(
    b("echo"),
    b("\"x\""),
    b("{}"),
    None,
    71,
    Instant::now(),
    &mut out,
  );
  // 12 base64url characters, a dot, then the token in base 36 (71 = "1z").
  assert_eq!(rid.len(), 15);
  assert!(rid[..12]
    .iter()
    .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_'));
  assert_eq!(&rid[12..], b".1z");
  assert_eq!(
    out,
    [ClientOutput::SendRequest {
      token: 71,
      frames: vec![b("C"), b("2"), b("echo"), rid.clone(), b("\"x\""), b("{}")]
    }]
  );
  let other = ClientState::new(ClientConf::default());
  assert_ne!(other.rid_of(71), rid, "a prefix per session");
}

#[test]
fn rids_map_to_tokens_one_to_one() {
  let c = ClientState::new(ClientConf::default());
  for t in [0, 1, 35, 36, 1295, 1 << 40, (1 << 53) - 1, u64::MAX] {
    assert_eq!(c.token_of(&c.rid_of(t)), Some(t), "{t}");
  }
  let base = c.rid_of(0).slice(..13);
  let with = |tail: &str| [&base[..], tail.as_bytes()].concat();
  for bad in ["", "01", "A", "1.", "-1", "zzzzzzzzzzzzzz", "3w5e11264sgsg"] {
    assert_eq!(c.token_of(&with(bad)), None, "{bad:?}");
  }
  assert_eq!(c.token_of(b"x.1"), None);
  let other = ClientState::new(ClientConf::default());
  assert_eq!(other.token_of(&c.rid_of(5)), None);
}

#[test]
fn malformed_or_foreign_rids_are_invalid_replies() {
  let mut h = H::new();
  h.incoming(&["C", "4"], MS);
  let rid = h.request(None, 7);
  let mut foreign = rid.to_vec();
  foreign[0] ^= 1;
  let foreign = String::from_utf8(foreign).unwrap();
  assert_eq!(
    h.incoming(&["C", "3", "", &foreign, "0", "1"], MS),
    [ClientOutput::Error("ERR_REQ_INVALID")]
  );
  let padded = format!("{}0", String::from_utf8(rid.to_vec()).unwrap());
  assert_eq!(
    h.incoming(&["C", "3", "", &padded, "0", "1"], MS),
    [ClientOutput::Error("ERR_REQ_INVALID")]
  );
  assert_eq!(h.c.pending_len(), 1);
}

#[test]
fn deadlines_of_many_timeouts_fire_in_order() {
  let mut h = H::new();
  // More timeout values than queues, sent out of order: some go to the heap.
  let ms = [900, 100, 500, 300, 700, 200, 800, 400, 600, 1000, 50, 950];
  let mut rids = Vec::new();
  for (i, t) in ms.iter().enumerate() {
    rids.push((*t, i as u64, h.request(Some(*t), i as u64)));
  }
  rids.sort();
  for (t, token, rid) in rids {
    assert_eq!(h.c.next_deadline(), Some(h.t0 + Duration::from_millis(t)));
    assert_eq!(
      h.timeouts(Duration::from_millis(t)),
      [timed_out(&rid, token)]
    );
  }
  assert_eq!(h.c.next_deadline(), None);
}

#[test]
fn fill_opts_adds_missing_timeout_and_retry() {
  let conf = ClientConf::default();
  let (o, t) = fill_opts(&b(""), &conf);
  assert_eq!(o, b("{\"timeout\":60000,\"retry\":0}"));
  assert_eq!(t, Some(Duration::from_millis(60_000)));
  let (o, _) = fill_opts(&b("{}"), &conf);
  assert_eq!(o, b("{\"timeout\":60000,\"retry\":0}"));
  let (o, t) = fill_opts(&b("{\"timeout\":300,\"x\":1}"), &conf);
  assert_eq!(o, b("{\"retry\":0,\"timeout\":300,\"x\":1}"));
  assert_eq!(t, Some(Duration::from_millis(300)));
  let (o, t) = fill_opts(&b("{\"timeout\":-1,\"retry\":1}"), &conf);
  assert_eq!(o, b("{\"timeout\":-1,\"retry\":1}"));
  assert_eq!(t, None);
  let (o, _) = fill_opts(&b("null"), &conf);
  assert_eq!(o, b("{\"timeout\":60000,\"retry\":0}"));
  let v: serde_json::Value =
    serde_json::from_slice(&fill_opts(&b(" { \"a\" : [1] } "), &conf).0).unwrap();
  assert_eq!(v["a"][0], 1);
  assert_eq!(v["timeout"], 60000);
}

#[test]
fn fill_opts_keeps_explicit_null_and_zero_like_pigato() {
  let conf = ClientConf {
    timeout: -1,
    ..ClientConf::default()
  };
  let (o, t) = fill_opts(&b("{\"retry\":null}"), &conf);
  assert_eq!(o, b("{\"timeout\":-1,\"retry\":null}"));
  assert_eq!(t, None);
  assert_eq!(
    fill_opts(&b("{\"timeout\":0}"), &conf).1,
    Some(Duration::ZERO)
  );
}

#[test]
fn first_well_formed_broker_message_connects_once() {
  let mut h = H::new();
  assert_eq!(
    h.incoming(&["X", "4"], MS),
    [ClientOutput::Error("ERR_MSG_HEADER")]
  );
  assert!(!h.c.is_connected());
  assert_eq!(h.incoming(&["C", "4"], MS), [ClientOutput::Connect]);
  assert!(h.incoming(&["C", "4"], MS).is_empty());
}

#[test]
fn malformed_replies_give_pigato_error_codes() {
  let mut h = H::new();
  h.incoming(&["C", "4"], MS);
  assert_eq!(
    h.incoming(&["C", "3", ""], MS),
    [ClientOutput::Error("ERR_MSG_LENGTH")]
  );
  assert_eq!(
    h.incoming(&["C", "9", "", "r"], MS),
    [ClientOutput::Error("ERR_MSG_TYPE")]
  );
  assert_eq!(
    h.incoming(&["C", "3", "", "nope", "0", "1"], MS),
    [ClientOutput::Error("ERR_REQ_INVALID")]
  );
}

#[test]
fn partial_and_final_replies_are_routed_with_the_token() {
  let mut h = H::new();
  let rid = h.request(None, 42);
  let out = h.reply("6", &rid, "0", "\"p\"", MS);
  assert_eq!(
    out[1..],
    [ClientOutput::Partial {
      token: 42,
      rid: rid.clone(),
      data: b("\"p\"")
    }]
  );
  let out = h.reply("3", &rid, "0", "\"f\"", MS);
  assert_eq!(
    out,
    [ClientOutput::Final {
      token: 42,
      rid: rid.clone(),
      data: b("\"f\"")
    }]
  );
  assert_eq!(h.c.pending_len(), 0);
  assert_eq!(
    h.reply("3", &rid, "0", "1", MS),
    [ClientOutput::Error("ERR_REQ_INVALID")]
  );
}

#[test]
fn error_reply_fails_the_request_with_the_error_value() {
  let mut h = H::new();
  let rid = h.request(None, 1);
  let out = h.reply("3", &rid, "-1", "\"boom\"", MS);
  assert_eq!(
    out[1..],
    [ClientOutput::Failed {
      token: 1,
      rid: rid.clone(),
      error: b("\"boom\"")
    }]
  );
  assert_eq!(h.c.pending_len(), 0);
}

#[test]
fn timeout_fires_on_time_not_on_the_next_tick() {
  let mut h = H::new();
  let rid = h.request(Some(300), 5);
  assert_eq!(h.c.next_deadline(), Some(h.t0 + 300 * MS));
  assert!(h.timeouts(299 * MS).is_empty());
  assert_eq!(h.timeouts(300 * MS), [timed_out(&rid, 5)]);
  assert_eq!(h.c.next_deadline(), None);
  assert_eq!(
    h.reply("3", &rid, "0", "1", 400 * MS)[1..],
    [ClientOutput::Error("ERR_REQ_INVALID")]
  );
}

#[test]
fn partial_reply_restarts_the_timeout() {
  let mut h = H::new();
  let rid = h.request(Some(300), 5);
  h.reply("6", &rid, "0", "1", 200 * MS);
  assert!(h.timeouts(300 * MS).is_empty());
  assert_eq!(h.c.next_deadline(), Some(h.t0 + 500 * MS));
  assert!(h.timeouts(499 * MS).is_empty());
  assert_eq!(h.timeouts(500 * MS), [timed_out(&rid, 5)]);
}

#[test]
fn requests_without_timeout_never_expire() {
  let mut h = H::new();
  h.request(None, 1);
  assert_eq!(h.c.next_deadline(), None);
  assert!(h.timeouts(Duration::from_secs(1_000_000)).is_empty());
  assert_eq!(h.c.pending_len(), 1);
}

#[test]
fn next_deadline_skips_finished_requests() {
  let mut h = H::new();
  let early = h.request(Some(100), 1);
  h.request(Some(200), 2);
  h.reply("3", &early, "0", "1", MS);
  assert_eq!(h.c.next_deadline(), Some(h.t0 + 200 * MS));
  assert!(!h.c.cancel(12345));
}

#[test]
fn three_silent_ticks_disconnect_and_ticks_also_expire_requests() {
  let mut h = H::new();
  let rid = h.request(Some(3000), 9);
  let mut out = Vec::new();
  h.c.handle_tick(h.t0 + 2500 * MS, &mut out);
  h.c.handle_tick(h.t0 + 5000 * MS, &mut out);
  assert!(!out.contains(&ClientOutput::Disconnect));
  assert!(out.contains(&timed_out(&rid, 9)));
  let mut out = Vec::new();
  h.c.handle_tick(h.t0 + 7500 * MS, &mut out);
  assert_eq!(
    out,
    [
      ClientOutput::Send(frames(&["C", "4"])),
      ClientOutput::Disconnect
    ]
  );
  assert!(!h.c.is_running());
}

#[test]
fn broker_messages_keep_the_client_alive() {
  let mut h = H::new();
  for i in 1..20u32 {
    let mut out = Vec::new();
    h.c.handle_tick(h.t0 + i * 2500 * MS, &mut out);
    assert!(!out.contains(&ClientOutput::Disconnect));
    h.incoming(&["C", "4"], i * 2500 * MS);
  }
}

#[test]
fn request_heartbeat_uses_pigato_frames() {
  let h = H::new();
  let mut out = Vec::new();
  h.c.heartbeat_request(b("r1"), &mut out);
  assert_eq!(
    out,
    [ClientOutput::Send(frames(&["C", "4", "request", "r1"]))]
  );
}

#[test]
fn finished_requests_do_not_pile_up_in_the_deadline_heap() {
  let mut h = H::new();
  for i in 0..20_000 {
    let rid = h.request(Some(60_000), i);
    h.reply("3", &rid, "0", "1", MS);
  }
  assert_eq!(h.c.pending_len(), 0);
  assert!(h.c.deadlines.len() <= 1025);
}

#[test]
fn many_pending_requests_stay_cheap() {
  let mut h = H::new();
  for i in 0..100_000 {
    h.request(Some(60_000), i);
  }
  assert_eq!(h.c.pending_len(), 100_000);
  assert_eq!(h.c.deadlines.len(), 100_000);
  // Rough per-request footprint: map entry + deadline entry.
  let per = std::mem::size_of::<(u64, Pending)>() + std::mem::size_of::<(Instant, u64)>() + 16;
  assert!(per * 100_000 < 30 << 20, "{per} bytes per request");
}
