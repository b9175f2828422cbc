//! Tests of the worker-side state machine.
use super::*;

fn b(x: &str) -> Bytes {
  Bytes::copy_from_slice(x.as_bytes())
}

fn frames(xs: &[&str]) -> Vec<Bytes> {
  xs.iter().map(|x| b(x)).collect()
}

fn started() -> (WorkerState, Vec<WorkerOutput>) {
  let mut w = WorkerState::new(b("echo"), WorkerConf::default());
  let mut out = Vec::new();
  w.start(Instant::now(), &mut out);
  (w, out)
}

fn sent(out: &[WorkerOutput]) -> Vec<Vec<Bytes>> {
  (out.iter())
    .filter_map(|o| match o {
      WorkerOutput::Send(f) => Some(f.clone()),
      _ => None,
    })
    .collect()
}

fn incoming(w: &mut WorkerState, f: &[&str]) -> Vec<WorkerOutput> {
  let mut out = Vec::new();
  w.handle_incoming(&frames(f), Instant::now(), &mut out);
  out
}

fn tick(w: &mut WorkerState) -> Vec<WorkerOutput> {
  let mut out = Vec::new();
  w.handle_tick(Instant::now(), &mut out);
  out
}

const REQ: &[&str] = &["W", "2", "c1", "echo", "", "r1", "\"hi\"", "{}"];

#[test]
fn start_sends_ready_and_a_heartbeat_with_concurrency() {
  let (_, out) = started();
  assert_eq!(
    sent(&out),
    [
      frames(&["W", "1", "echo"]),
      frames(&["W", "4", "", "{\"concurrency\":100}"])
    ]
  );
}

#[test]
fn first_broker_message_connects_once() {
  let (mut w, _) = started();
  assert_eq!(incoming(&mut w, &["W", "1"]), [WorkerOutput::Connect]);
  assert!(incoming(&mut w, &["W", "4"]).is_empty());
  assert!(w.is_connected());
}

#[test]
fn three_silent_ticks_disconnect_and_send_w5() {
  let (mut w, _) = started();
  assert_eq!(sent(&tick(&mut w)).len(), 1);
  assert_eq!(sent(&tick(&mut w)).len(), 1);
  let out = tick(&mut w);
  assert_eq!(
    out,
    [
      WorkerOutput::Send(frames(&["W", "5"])),
      WorkerOutput::Disconnect
    ]
  );
  assert!(!w.is_running());
  assert!(tick(&mut w).is_empty());
}

#[test]
fn broker_messages_keep_the_worker_alive() {
  let (mut w, _) = started();
  for _ in 0..10 {
    assert!(!tick(&mut w).contains(&WorkerOutput::Disconnect));
    incoming(&mut w, &["W", "4"]);
  }
}

#[test]
fn bad_header_is_an_error_and_does_not_count_as_liveness() {
  let (mut w, _) = started();
  assert_eq!(
    incoming(&mut w, &["C", "4"]),
    [WorkerOutput::Error("ERR_MSG_HEADER")]
  );
  tick(&mut w);
  tick(&mut w);
  assert!(tick(&mut w).contains(&WorkerOutput::Disconnect));
}

#[test]
fn unknown_type_and_short_request_are_errors() {
  let (mut w, _) = started();
  incoming(&mut w, &["W", "1"]);
  assert_eq!(
    incoming(&mut w, &["W", "9"]),
    [WorkerOutput::Error("ERR_MSG_TYPE")]
  );
  assert_eq!(
    incoming(&mut w, &["W", "2", "c"]),
    [WorkerOutput::Error("ERR_MSG_LENGTH")]
  );
}

#[test]
fn heartbeat_carries_changed_concurrency() {
  let (mut w, _) = started();
  w.set_concurrency(-1);
  incoming(&mut w, &["W", "4"]);
  assert_eq!(
    sent(&tick(&mut w)),
    [frames(&["W", "4", "", "{\"concurrency\":-1}"])]
  );
}

#[test]
fn request_is_reported_and_replies_use_pigato_frames() {
  let (mut w, _) = started();
  let out = incoming(&mut w, REQ);
  assert_eq!(
    out[1],
    WorkerOutput::Request {
      slot: 1,
      client: b("c1"),
      service: b("echo"),
      rid: b("r1"),
      data: b("\"hi\""),
      opts: b("{}")
    }
  );
  let mut out = Vec::new();
  w.handle_outgoing_reply(ReplyKind::Partial, 1, false, b("1"), b("{}"), &mut out)
    .unwrap();
  w.handle_outgoing_reply(ReplyKind::Final, 1, true, b("\"e\""), b("{}"), &mut out)
    .unwrap();
  assert_eq!(
    sent(&out),
    [
      frames(&["W", "6", "c1", "", "r1", "0", "1", "{}"]),
      frames(&["W", "3", "c1", "", "r1", "-1", "\"e\"", "{}"])
    ]
  );
}

#[test]
fn reply_after_end_is_refused() {
  let (mut w, _) = started();
  incoming(&mut w, REQ);
  let mut out = Vec::new();
  w.handle_outgoing_reply(ReplyKind::Reject, 1, false, b(""), b(""), &mut out)
    .unwrap();
  let again = w.handle_outgoing_reply(ReplyKind::Final, 1, false, b(""), b(""), &mut out);
  assert_eq!(again, Err(StateError::Inactive));
  assert_eq!(out.len(), 1);
}

#[test]
fn reply_after_disconnect_is_refused() {
  let (mut w, _) = started();
  incoming(&mut w, REQ);
  for _ in 0..3 {
    tick(&mut w);
  }
  let mut out = Vec::new();
  let r = w.handle_outgoing_reply(ReplyKind::Final, 1, false, b(""), b(""), &mut out);
  assert_eq!(r, Err(StateError::Inactive));
  assert!(!w.is_active(1));
}

#[test]
fn broker_disconnect_asks_for_a_restart_and_drops_requests() {
  let (mut w, _) = started();
  incoming(&mut w, REQ);
  assert_eq!(incoming(&mut w, &["W", "5"]), [WorkerOutput::Restart]);
  assert_eq!(w.active_count(), 0);
  let mut out = Vec::new();
  w.start(Instant::now(), &mut out);
  assert_eq!(sent(&out)[0], frames(&["W", "1", "echo"]));
}

#[test]
fn request_liveness_follows_client_request_heartbeats() {
  let (mut w, _) = started();
  incoming(&mut w, REQ);
  for _ in 0..5 {
    incoming(&mut w, &["W", "4", "c1", "", "r1"]);
    tick(&mut w);
    assert!(w.is_active(1));
  }
  // A heartbeat naming another client does not count.
  for _ in 0..3 {
    incoming(&mut w, &["W", "4", "other", "", "r1"]);
    tick(&mut w);
  }
  assert!(!w.is_active(1));
  assert_eq!(
    w.active_count(),
    1,
    "still tracked: a late final reply is allowed"
  );
}

#[test]
fn a_request_unanswered_past_its_timeout_and_grace_is_forgotten() {
  let (mut w, _) = started();
  let t0 = Instant::now();
  let mut out = Vec::new();
  let req = frames(&[
    "W",
    "2",
    "c1",
    "echo",
    "",
    "r1",
    "\"hi\"",
    "{\"timeout\":1000}",
  ]);
  w.handle_incoming(&req, t0, &mut out);
  let forever = frames(&[
    "W",
    "2",
    "c1",
    "echo",
    "",
    "r2",
    "\"hi\"",
    "{\"timeout\":-1}",
  ]);
  w.handle_incoming(&forever, t0, &mut out);
  // timeout 1000 ms + 2 heartbeats of grace (2 x 2500 ms): still tracked at 6000 ms.
  let mut out = Vec::new();
  w.handle_incoming(
    &frames(&["W", "4"]),
    t0 + Duration::from_millis(5000),
    &mut out,
  );
  w.handle_tick(t0 + Duration::from_millis(6000), &mut out);
  assert!(!out
    .iter()
    .any(|o| matches!(o, WorkerOutput::Expired { .. })));
  let mut out = Vec::new();
  w.handle_tick(t0 + Duration::from_millis(6001), &mut out);
  assert!(out.contains(&WorkerOutput::Expired { slot: 1 }));
  assert_eq!(w.active_count(), 1, "the request with no timeout stays");
  let mut out = Vec::new();
  let late = w.handle_outgoing_reply(ReplyKind::Final, 1, false, b("\"x\""), b("{}"), &mut out);
  assert_eq!(late, Err(StateError::Inactive));
  assert!(out.is_empty(), "nothing is sent for a forgotten request");
}

#[test]
fn a_partial_reply_starts_the_requests_timeout_again() {
  let (mut w, _) = started();
  let t0 = Instant::now();
  let mut out = Vec::new();
  let req = frames(&[
    "W",
    "2",
    "c1",
    "echo",
    "",
    "r1",
    "\"hi\"",
    "{\"timeout\":1000}",
  ]);
  w.handle_incoming(&req, t0, &mut out);
  // A partial at 5000 ms: forgotten only 1000 + 5000 (grace) ms later, not at 6001.
  w.handle_outgoing_reply(ReplyKind::Partial, 1, false, b("1"), b("{}"), &mut out)
    .unwrap();
  w.handle_partial_sent(1, t0 + Duration::from_millis(5000));
  let mut out = Vec::new();
  w.handle_incoming(
    &frames(&["W", "4"]),
    t0 + Duration::from_millis(9000),
    &mut out,
  );
  w.handle_tick(t0 + Duration::from_millis(11_000), &mut out);
  assert!(!out
    .iter()
    .any(|o| matches!(o, WorkerOutput::Expired { .. })));
  w.handle_incoming(
    &frames(&["W", "4"]),
    t0 + Duration::from_millis(11_000),
    &mut out,
  );
  w.handle_tick(t0 + Duration::from_millis(11_001), &mut out);
  assert!(out.contains(&WorkerOutput::Expired { slot: 1 }));
}

#[test]
fn slots_are_never_reused_and_replies_to_freed_slots_are_counted() {
  let (mut w, _) = started();
  incoming(&mut w, REQ);
  let mut out = Vec::new();
  w.handle_outgoing_reply(ReplyKind::Final, 1, false, b("1"), b("{}"), &mut out)
    .unwrap();
  // The same rid again (another client): a new slot, and the old slot stays refused.
  let out = incoming(&mut w, &["W", "2", "c2", "echo", "", "r1", "2", "{}"]);
  assert!(matches!(out[..], [WorkerOutput::Request { slot: 2, .. }]));
  let mut out = Vec::new();
  let late = w.handle_outgoing_reply(ReplyKind::Final, 1, false, b("x"), b("{}"), &mut out);
  assert_eq!(late, Err(StateError::Inactive));
  assert!(out.is_empty(), "never sent to the slot's next client");
  assert_eq!(w.dropped_replies(), 1);
  // After a restart the numbering goes on: slot 2 is gone, slot 3 is the next request.
  w.start(Instant::now(), &mut Vec::new());
  let r = w.handle_outgoing_reply(ReplyKind::Final, 2, false, b("x"), b("{}"), &mut out);
  assert_eq!(r, Err(StateError::Inactive));
  let out = incoming(&mut w, REQ);
  assert!(matches!(out[1..], [WorkerOutput::Request { slot: 3, .. }]));
  // Heartbeats find the request by rid and report its slot.
  assert_eq!(
    incoming(&mut w, &["W", "4", "c1", "", "r1"]),
    [WorkerOutput::RequestHeartbeat { slot: 3 }]
  );
}

#[test]
fn a_freed_request_does_not_drop_the_rid_of_a_later_one() {
  let (mut w, _) = started();
  incoming(&mut w, REQ);
  incoming(&mut w, REQ);
  let mut out = Vec::new();
  w.handle_outgoing_reply(ReplyKind::Final, 1, false, b("1"), b("{}"), &mut out)
    .unwrap();
  assert_eq!(
    incoming(&mut w, &["W", "4", "c1", "", "r1"]),
    [WorkerOutput::RequestHeartbeat { slot: 2 }]
  );
  assert_eq!(w.active_count(), 1);
}
