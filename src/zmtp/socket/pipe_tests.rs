//! Pipe set tests: queue bounds, round-robin, fair queueing, pipe lifecycles.

use bytes::Bytes;

use super::*;

fn b(x: &'static [u8]) -> Bytes {
  Bytes::from_static(x)
}

fn msg(x: &'static [u8]) -> Output {
  Output::Message(vec![b(x)])
}

fn opts(sndhwm: usize, rcvhwm: usize) -> PipeOptions {
  PipeOptions {
    sndhwm,
    rcvhwm,
    ..PipeOptions::default()
  }
}

#[test]
fn round_robin_skips_full_pipes_and_fails_when_all_are_full() {
  let mut p = Pipes::new(opts(1, 0));
  p.ready(1);
  p.ready(2);
  p.ready(3);
  assert_eq!(p.lb_send(msg(b"a")), Some(1));
  assert_eq!(p.take_output(1), Some(msg(b"a")));
  assert_eq!(p.lb_send(msg(b"b")), Some(2));
  assert_eq!(p.lb_send(msg(b"c")), Some(3));
  assert_eq!(p.lb_send(msg(b"d")), Some(1), "2 and 3 full, 1 drained");
  assert_eq!(p.lb_send(msg(b"e")), None);
  assert!(!p.any_room(0));
}

#[test]
fn a_zero_high_water_mark_means_no_limit_as_in_libzmq() {
  let mut p = Pipes::new(opts(0, 0));
  p.ready(1);
  for _ in 0..5000 {
    assert_eq!(p.lb_send(msg(b"x")), Some(1));
  }
}

#[test]
fn the_byte_bound_holds_except_for_a_first_message() {
  let mut p = Pipes::new(PipeOptions {
    sndhwm_bytes: 4,
    ..PipeOptions::default()
  });
  p.ready(1);
  assert_eq!(p.push_to(1, msg(b"0123456789")), Ok(()));
  assert_eq!(p.push_to(1, msg(b"x")), Err(PushError::Full));
  assert_eq!(p.push_to(9, msg(b"x")), Err(PushError::NoPipe));
  p.take_output(1);
  assert_eq!(p.push_to(1, msg(b"0123")), Ok(()));
}

#[test]
fn input_is_fair_queued_one_message_per_pipe_in_turn() {
  let mut p = Pipes::new(opts(0, 0));
  p.ready(1);
  p.ready(2);
  p.push_input(1, vec![b(b"1a")]);
  p.push_input(1, vec![b(b"1b")]);
  p.push_input(1, vec![b(b"1c")]);
  p.push_input(2, vec![b(b"2a")]);
  let order: Vec<_> = std::iter::from_fn(|| p.poll_input()).collect();
  assert_eq!(
    order,
    [
      (1, vec![b(b"1a")]),
      (2, vec![b(b"2a")]),
      (1, vec![b(b"1b")]),
      (1, vec![b(b"1c")]),
    ]
  );
}

#[test]
fn input_past_the_receive_mark_is_refused_then_dropped_and_counted() {
  let mut p = Pipes::new(opts(0, 2));
  p.ready(1);
  p.push_input(1, vec![b(b"a")]);
  assert!(p.wants_input(1));
  p.push_input(1, vec![b(b"b")]);
  assert!(!p.wants_input(1));
  p.push_input(1, vec![b(b"c")]);
  assert_eq!(p.stats.dropped_rcvhwm, 1);
  p.poll_input();
  assert!(p.wants_input(1));
}

#[test]
fn an_attached_pipe_keeps_its_queue_across_connections_and_an_accepted_one_drops_it() {
  let mut p = Pipes::new(opts(0, 0));
  p.attach(1);
  assert_eq!(
    p.lb_send(msg(b"early")),
    Some(1),
    "queued before connecting"
  );
  assert!(!p.ready(1), "the same pipe");
  assert!(!p.gone(1));
  assert!(p.has_output(1));
  p.ready(2);
  p.push_to(2, msg(b"lost")).unwrap();
  p.push_input(2, vec![b(b"kept")]);
  assert!(p.gone(2));
  assert_eq!(p.stats.dropped_on_close, 1);
  assert_eq!(
    p.poll_input(),
    Some((2, vec![b(b"kept")])),
    "input stays readable"
  );
  p.push_input(1, vec![b(b"in")]);
  p.detach(1);
  assert_eq!(p.stats.dropped_on_close, 2);
  assert_eq!(p.stats.dropped_input_on_detach, 1);
  assert_eq!(p.poll_input(), None);
  assert!(p.tokens().is_empty());
}

#[test]
fn removing_a_pipe_keeps_the_round_robin_on_the_next_one() {
  let mut p = Pipes::new(opts(0, 0));
  for t in 1..=3 {
    p.ready(t);
  }
  assert_eq!(p.lb_send(msg(b"a")), Some(1));
  p.gone(1);
  assert_eq!(p.lb_send(msg(b"b")), Some(2));
  assert_eq!(p.lb_send(msg(b"c")), Some(3));
  assert_eq!(p.lb_send(msg(b"d")), Some(2));
}

#[test]
fn send_to_all_misses_full_pipes_and_each_woken_pipe_comes_once() {
  let mut p = Pipes::new(opts(1, 0));
  p.ready(1);
  p.ready(2);
  p.push_to(2, msg(b"first")).unwrap();
  p.send_to_all(&msg(b"all"));
  assert_eq!(p.stats.dropped_full, 1);
  let woken: Vec<_> = std::iter::from_fn(|| p.poll_woken()).collect();
  assert_eq!(woken, [2, 1]);
}
