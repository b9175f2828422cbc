//! DEALER, PUSH and PULL state tests.

use super::*;
use crate::zmtp::socket::testutil::{events, m, peer, sent, woken};

fn small(sndhwm: usize) -> PipeOptions {
  PipeOptions {
    sndhwm,
    ..PipeOptions::default()
  }
}

#[test]
fn a_dealer_queues_on_a_connecting_pipe_and_the_queue_survives_reconnects() {
  let mut d = DealerState::new(PipeOptions::default());
  d.on_attach(7);
  d.send(m(&[b"early"])).unwrap();
  assert_eq!(woken(&mut d), [7]);
  d.on_ready(7, &peer("ROUTER")).unwrap();
  d.on_gone(7);
  d.send(m(&[b"", b"while down"])).unwrap();
  d.on_ready(7, &peer("ROUTER")).unwrap();
  assert_eq!(sent(&mut d, 7), [m(&[b"early"]), m(&[b"", b"while down"])]);
  assert_eq!(d.stats().dropped_on_close, 0);
}

#[test]
fn a_dealer_sends_round_robin_with_frames_unchanged() {
  let mut d = DealerState::new(PipeOptions::default());
  d.on_ready(1, &peer("ROUTER")).unwrap();
  d.on_ready(2, &peer("REP")).unwrap();
  for body in [b"a" as &[u8], b"b", b"c"] {
    d.send(vec![
      bytes::Bytes::new(),
      bytes::Bytes::copy_from_slice(body),
    ])
    .unwrap();
  }
  assert_eq!(sent(&mut d, 1), [m(&[b"", b"a"]), m(&[b"", b"c"])]);
  assert_eq!(sent(&mut d, 2), [m(&[b"", b"b"])]);
}

#[test]
fn a_dealer_blocks_when_every_pipe_is_full_and_never_drops() {
  let mut d = DealerState::new(small(1));
  assert_eq!(d.send(m(&[b"x"])), Err(SendError::WouldBlock), "no pipe");
  assert!(!d.can_send());
  d.on_ready(1, &peer("ROUTER")).unwrap();
  d.send(m(&[b"1"])).unwrap();
  assert_eq!(d.send(m(&[b"2"])), Err(SendError::WouldBlock));
  assert!(!d.can_send());
  assert_eq!(d.take_output(1), Some(Output::Message(m(&[b"1"]))));
  assert!(d.can_send());
  assert_eq!(d.send_to_next(m(&[b"2"])), Ok(1));
  assert_eq!(d.send(vec![]), Err(SendError::Invalid));
}

#[test]
fn an_accepted_peer_that_leaves_takes_its_queue_but_what_it_sent_stays_readable() {
  let mut d = DealerState::new(PipeOptions::default());
  d.on_ready(1, &peer("DEALER")).unwrap();
  d.send(m(&[b"out"])).unwrap();
  d.on_message(1, m(&[b"in"]));
  d.on_gone(1);
  assert_eq!(d.stats().dropped_on_close, 1);
  assert!(!d.has_output(1));
  assert_eq!(events(&mut d), [m(&[b"in"])]);
  assert_eq!(d.pipes(), 0);
  assert_eq!(d.send(m(&[b"x"])), Err(SendError::WouldBlock));
}

#[test]
fn a_detached_pipe_drops_both_ways_and_counts() {
  let mut d = DealerState::new(PipeOptions::default());
  d.on_attach(3);
  d.on_ready(3, &peer("ROUTER")).unwrap();
  d.send(m(&[b"out"])).unwrap();
  d.on_message(3, m(&[b"in"]));
  d.on_gone(3);
  d.on_detach(3);
  assert_eq!(d.stats().dropped_on_close, 1);
  assert_eq!(d.stats().dropped_input_on_detach, 1);
  assert!(events(&mut d).is_empty());
}

#[test]
fn a_dealer_receives_fair_queued_and_bounds_each_peer_by_rcvhwm() {
  let mut d = DealerState::new(PipeOptions {
    rcvhwm: 2,
    ..PipeOptions::default()
  });
  d.on_ready(1, &peer("ROUTER")).unwrap();
  d.on_ready(2, &peer("ROUTER")).unwrap();
  d.on_message(1, m(&[b"1a"]));
  d.on_message(1, m(&[b"1b"]));
  assert!(!d.wants_input(1));
  assert!(d.wants_input(2));
  d.on_message(1, m(&[b"1c"]));
  d.on_message(2, m(&[b"2a", b"more"]));
  assert_eq!(d.stats().dropped_rcvhwm, 1);
  assert_eq!(
    events(&mut d),
    [m(&[b"1a"]), m(&[b"2a", b"more"]), m(&[b"1b"])]
  );
}

#[test]
fn a_message_from_a_connection_without_a_pipe_is_ignored() {
  let mut d = DealerState::new(PipeOptions::default());
  d.on_message(5, m(&[b"ghost"]));
  assert!(events(&mut d).is_empty());
}

#[test]
fn a_push_load_balances_and_drops_what_a_peer_sends_it() {
  let mut p = PushState::new(small(1));
  p.on_ready(1, &peer("PULL")).unwrap();
  p.on_attach(2);
  p.send(m(&[b"a"])).unwrap();
  p.send(m(&[b"b"])).unwrap();
  assert_eq!(p.send(m(&[b"c"])), Err(SendError::WouldBlock));
  assert_eq!(woken(&mut p), [1, 2]);
  p.on_message(1, m(&[b"bogus"]));
  assert_eq!(p.stats().discarded, 1);
  assert!(p.poll_event().is_none());
  assert_eq!(sent(&mut p, 2), [m(&[b"b"])]);
  assert!(p.can_send());
}

#[test]
fn a_pull_receives_fair_queued_and_cannot_send() {
  let mut p = PullState::new(PipeOptions::default());
  p.on_ready(1, &peer("PUSH")).unwrap();
  p.on_attach(2);
  p.on_ready(2, &peer("PUSH")).unwrap();
  p.on_message(1, m(&[b"1"]));
  p.on_message(1, m(&[b"11"]));
  p.on_message(2, m(&[b"2"]));
  assert_eq!(events(&mut p), [m(&[b"1"]), m(&[b"2"]), m(&[b"11"])]);
  assert_eq!(p.send(m(&[b"x"])), Err(SendError::NotSupported));
  assert_eq!(SendError::NotSupported.code(), "ENOTSUP");
  assert!(!p.can_send() && !p.has_output(1));
  assert_eq!(p.stats().discarded, 0);
}
