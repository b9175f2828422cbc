//! REP state tests.

use super::*;
use crate::zmtp::socket::testutil::{m, peer, sent, woken};

fn rep() -> RepState {
  let mut r = RepState::new(PipeOptions::default());
  r.on_ready(1, &peer("REQ")).unwrap();
  r.on_ready(2, &peer("DEALER")).unwrap();
  r
}

#[test]
fn the_envelope_is_stripped_and_the_reply_goes_back_with_it_to_the_same_pipe() {
  let mut r = rep();
  r.on_message(1, m(&[b"", b"hello"]));
  assert_eq!(r.poll_event(), Some(m(&[b"hello"])));
  r.send(m(&[b"world"])).unwrap();
  assert_eq!(woken(&mut r), [1]);
  assert_eq!(sent(&mut r, 1), [m(&[b"", b"world"])]);
  r.on_message(2, m(&[b"\x00\x00\x00\x00\x07", b"hop", b"", b"a", b"b"]));
  assert_eq!(r.poll_event(), Some(m(&[b"a", b"b"])));
  r.send(m(&[b"c"])).unwrap();
  assert_eq!(
    sent(&mut r, 2),
    [m(&[b"\x00\x00\x00\x00\x07", b"hop", b"", b"c"])]
  );
}

#[test]
fn one_request_at_a_time_and_no_reply_without_a_request() {
  let mut r = rep();
  assert_eq!(r.send(m(&[b"x"])), Err(SendError::Fsm));
  assert!(!r.can_send());
  r.on_message(1, m(&[b"", b"1"]));
  r.on_message(2, m(&[b"", b"2"]));
  assert_eq!(r.poll_event(), Some(m(&[b"1"])));
  assert!(r.is_replying() && r.can_send());
  assert_eq!(r.poll_event(), None, "the first is unanswered");
  assert_eq!(r.send(vec![]), Err(SendError::Invalid));
  r.send(m(&[b"r1"])).unwrap();
  assert_eq!(r.poll_event(), Some(m(&[b"2"])));
}

#[test]
fn a_request_without_a_delimiter_followed_by_more_is_discarded() {
  let mut r = rep();
  r.on_message(1, m(&[b"no", b"delimiter"]));
  r.on_message(1, m(&[b"id", b""]));
  r.on_message(1, m(&[b""]));
  assert_eq!(r.poll_event(), None);
  assert_eq!(r.stats().discarded, 3);
  assert!(!r.is_replying());
}

#[test]
fn a_reply_to_a_peer_that_left_is_dropped_silently() {
  let mut r = rep();
  r.on_message(1, m(&[b"", b"q"]));
  assert!(r.poll_event().is_some());
  r.on_gone(1);
  assert_eq!(r.send(m(&[b"late"])), Ok(()));
  assert_eq!(r.stats().unroutable, 1);
  assert!(!r.is_replying());
  assert!(woken(&mut r).is_empty());
}

#[test]
fn a_reply_to_a_full_pipe_is_dropped_and_one_to_a_reconnecting_pipe_waits() {
  let mut r = RepState::new(PipeOptions {
    sndhwm: 1,
    ..PipeOptions::default()
  });
  r.on_attach(1);
  r.on_ready(1, &peer("REQ")).unwrap();
  r.on_message(1, m(&[b"", b"q1"]));
  r.poll_event();
  r.on_gone(1);
  r.send(m(&[b"r1"])).unwrap();
  r.on_ready(1, &peer("REQ")).unwrap();
  r.on_message(1, m(&[b"", b"q2"]));
  r.poll_event();
  r.send(m(&[b"r2"])).unwrap();
  assert_eq!(r.stats().dropped_full, 1);
  assert_eq!(sent(&mut r, 1), [m(&[b"", b"r1"])]);
}

#[test]
fn requests_are_fair_queued_across_peers() {
  let mut r = rep();
  r.on_message(1, m(&[b"", b"1a"]));
  r.on_message(1, m(&[b"", b"1b"]));
  r.on_message(2, m(&[b"", b"2a"]));
  let mut got = Vec::new();
  while let Some(body) = r.poll_event() {
    got.push(body);
    r.send(m(&[b"ok"])).unwrap();
  }
  assert_eq!(got, [m(&[b"1a"]), m(&[b"2a"]), m(&[b"1b"])]);
}
