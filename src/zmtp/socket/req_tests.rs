//! REQ state tests.

use super::*;
use crate::zmtp::socket::testutil::{events, m, peer, sent};

fn req() -> ReqState {
  let mut r = ReqState::new(PipeOptions::default(), 0);
  r.on_ready(1, &peer("REP")).unwrap();
  r.on_ready(2, &peer("REP")).unwrap();
  r
}

#[test]
fn a_request_gets_an_empty_delimiter_and_send_and_receive_must_alternate() {
  let mut r = req();
  r.on_message(1, m(&[b"", b"unasked"]));
  assert_eq!(r.poll_event(), None, "nothing to receive before a request");
  r.send(m(&[b"hello"])).unwrap();
  assert_eq!(r.stats().discarded, 1, "sending ate the unasked message");
  assert!(r.is_waiting());
  assert_eq!(r.send(m(&[b"again"])), Err(SendError::Fsm));
  assert_eq!(SendError::Fsm.code(), "EFSM");
  assert!(!r.can_send());
  assert_eq!(sent(&mut r, 1), [m(&[b"", b"hello"])]);
  r.on_message(1, m(&[b"", b"world", b"!"]));
  assert_eq!(events(&mut r), [m(&[b"world", b"!"])]);
  assert!(!r.is_waiting() && r.can_send());
  r.send(m(&[b"next"])).unwrap();
  assert_eq!(sent(&mut r, 2), [m(&[b"", b"next"])], "round-robin");
}

#[test]
fn a_reply_from_another_pipe_or_without_the_delimiter_is_discarded() {
  let mut r = req();
  r.send(m(&[b"q"])).unwrap();
  r.on_message(2, m(&[b"", b"from 2"]));
  r.on_message(1, m(&[b"\x01\x02\x03\x04", b"", b"with an id"]));
  assert_eq!(r.poll_event(), None);
  assert_eq!(r.stats().discarded, 2);
  r.on_message(1, m(&[b"", b"ok"]));
  assert_eq!(r.poll_event(), Some(m(&[b"ok"])));
}

#[test]
fn a_reply_without_an_empty_frame_and_more_is_a_protocol_error_on_its_connection() {
  let mut r = req();
  r.send(m(&[b"q"])).unwrap();
  r.on_message(1, m(&[b"no delimiter", b"x"]));
  r.on_message(1, m(&[b""]));
  r.on_message(1, m(&[b"\x01\x02\x03\x04", b"x", b"y"]));
  assert_eq!(r.take_violation(), Some((1, "req_bad_envelope")));
  assert_eq!(r.take_violation(), Some((1, "req_bad_envelope")));
  assert_eq!(r.take_violation(), Some((1, "req_bad_envelope")));
  assert_eq!(r.take_violation(), None);
  assert_eq!(r.stats().protocol_errors, 3);
  assert_eq!(r.poll_event(), None);
}

#[test]
fn with_no_pipe_a_request_blocks_and_the_state_stays_ready_to_send() {
  let mut r = ReqState::new(PipeOptions::default(), 0);
  assert_eq!(r.send(m(&[b"q"])), Err(SendError::WouldBlock));
  assert!(!r.is_waiting());
  assert_eq!(r.send(vec![]), Err(SendError::Invalid));
  r.on_attach(9);
  r.send(m(&[b"q"])).unwrap();
  r.on_ready(9, &peer("ROUTER")).unwrap();
  assert_eq!(sent(&mut r, 9), [m(&[b"", b"q"])]);
  r.on_message(9, m(&[b"", b"a"]));
  assert_eq!(r.poll_event(), Some(m(&[b"a"])));
}

#[test]
fn relaxed_allows_a_new_request_and_the_old_reply_no_longer_counts() {
  let mut r = req();
  r.set_relaxed(true);
  r.send(m(&[b"first"])).unwrap();
  assert!(r.can_send());
  r.send(m(&[b"second"])).unwrap();
  r.on_message(1, m(&[b"", b"late reply to first"]));
  r.on_message(2, m(&[b"", b"reply to second"]));
  assert_eq!(events(&mut r), [m(&[b"reply to second"])]);
  assert_eq!(r.stats().discarded, 1);
}

#[test]
fn correlate_prefixes_a_host_order_id_and_takes_only_the_latest_one() {
  let mut r = ReqState::new(PipeOptions::default(), 0x0a0b_0c0c);
  r.set_correlate(true);
  r.set_relaxed(true);
  r.on_ready(1, &peer("ROUTER")).unwrap();
  r.send(m(&[b"a"])).unwrap();
  r.send(m(&[b"b"])).unwrap();
  let id1 = 0x0a0b_0c0du32.to_ne_bytes();
  let id2 = 0x0a0b_0c0eu32.to_ne_bytes();
  let out = sent(&mut r, 1);
  assert_eq!(out[1][0][..], id2[..]);
  assert_eq!(out[0][1..], m(&[b"", b"a"])[..]);
  let reply = |id: [u8; 4], body: &'static [u8]| {
    vec![
      Bytes::copy_from_slice(&id),
      Bytes::new(),
      Bytes::from_static(body),
    ]
  };
  r.on_message(1, reply(id1, b"stale"));
  r.on_message(1, m(&[b"", b"no id"]));
  r.on_message(1, reply(id2, b"fresh"));
  assert_eq!(events(&mut r), [m(&[b"fresh"])]);
  assert_eq!(r.stats().discarded, 2);
}

#[test]
fn once_the_reply_pipe_ended_and_was_read_up_a_reply_from_any_pipe_is_taken() {
  let mut r = req();
  r.send(m(&[b"q"])).unwrap();
  r.on_message(1, m(&[b"", b"kept"]));
  r.on_gone(1);
  assert_eq!(r.poll_event(), Some(m(&[b"kept"])), "read before the end");
  r.send(m(&[b"q2"])).unwrap();
  r.on_gone(2);
  r.on_ready(3, &peer("REP")).unwrap();
  r.on_message(3, m(&[b"", b"from 3"]));
  assert_eq!(r.poll_event(), Some(m(&[b"from 3"])));
}

#[test]
fn a_detached_reply_pipe_is_forgotten_but_an_attached_one_survives_reconnects() {
  let mut r = ReqState::new(PipeOptions::default(), 0);
  r.on_attach(1);
  r.on_ready(1, &peer("REP")).unwrap();
  r.on_ready(2, &peer("REP")).unwrap();
  r.send(m(&[b"q"])).unwrap();
  r.on_gone(1);
  r.on_message(2, m(&[b"", b"not yet"]));
  assert_eq!(r.poll_event(), None, "pipe 1 still holds the request");
  r.on_detach(1);
  r.on_message(2, m(&[b"", b"now"]));
  assert_eq!(r.poll_event(), Some(m(&[b"now"])));
}
