//! SUB and XSUB state tests.

use super::*;
use crate::zmtp::socket::testutil::{b, events, m, outputs, peer, sent, woken};

fn subscribe(t: &'static [u8]) -> Output {
  Output::Subscription(Subscription::Subscribe(b(t)))
}

fn cancel(t: &'static [u8]) -> Output {
  Output::Subscription(Subscription::Cancel(b(t)))
}

#[test]
fn a_new_pipe_gets_every_subscription_once_per_topic() {
  let mut s = SubState::new(PipeOptions::default());
  s.subscribe(b(b"a"));
  s.subscribe(b(b"a"));
  s.subscribe(b(b"b"));
  s.on_attach(1);
  s.on_ready(2, &peer("PUB")).unwrap();
  assert_eq!(outputs(&mut s, 1), [subscribe(b"a"), subscribe(b"b")]);
  assert_eq!(outputs(&mut s, 2), [subscribe(b"a"), subscribe(b"b")]);
  s.on_ready(1, &peer("PUB")).unwrap();
  assert!(
    !s.has_output(1),
    "an attached pipe is not new at its connection"
  );
}

#[test]
fn every_subscribe_goes_out_but_a_cancel_only_when_the_count_reaches_zero() {
  let mut s = SubState::new(PipeOptions::default());
  s.on_ready(1, &peer("PUB")).unwrap();
  s.on_ready(2, &peer("XPUB")).unwrap();
  s.subscribe(b(b"t"));
  s.subscribe(b(b"t"));
  assert!(!s.unsubscribe(b(b"t")));
  assert!(!s.unsubscribe(b(b"never")));
  assert!(s.unsubscribe(b(b"t")));
  assert_eq!(woken(&mut s), [1, 2]);
  let expected = [subscribe(b"t"), subscribe(b"t"), cancel(b"t")];
  assert_eq!(outputs(&mut s, 1), expected);
  assert_eq!(outputs(&mut s, 2), expected);
  assert_eq!(s.subscriptions().count(), 0);
}

#[test]
fn a_sub_filters_by_prefix_on_its_own_side() {
  let mut s = SubState::new(PipeOptions::default());
  s.on_ready(1, &peer("PUB")).unwrap();
  s.subscribe(b(b"eq"));
  s.subscribe(b(b"bond.long.name"));
  for msg in [
    m(&[b"equity", b"1"]),
    m(&[b"e", b"2"]),
    m(&[b"bond", b"3"]),
    m(&[b"eq", b"4"]),
    m(&[b"bond.long.names", b"5"]),
  ] {
    s.on_message(1, msg);
  }
  assert_eq!(
    events(&mut s),
    [
      m(&[b"equity", b"1"]),
      m(&[b"eq", b"4"]),
      m(&[b"bond.long.names", b"5"])
    ]
  );
  assert_eq!(s.stats().discarded, 2);
  s.subscribe(Bytes::new());
  s.on_message(1, m(&[b"", b"anything"]));
  assert_eq!(events(&mut s).len(), 1, "the empty topic matches all");
}

#[test]
fn a_reconnect_drops_the_queue_and_queues_the_subscriptions_again() {
  let mut s = SubState::new(PipeOptions::default());
  s.on_attach(1);
  s.on_ready(1, &peer("PUB")).unwrap();
  s.subscribe(b(b"x"));
  s.subscribe(b(b"y"));
  s.unsubscribe(b(b"y"));
  s.on_gone(1);
  assert_eq!(s.stats().dropped_on_close, 3);
  s.on_ready(1, &peer("PUB")).unwrap();
  assert_eq!(outputs(&mut s, 1), [subscribe(b"x")]);
}

#[test]
fn an_accepted_publisher_leaving_ends_its_pipe() {
  let mut s = SubState::new(PipeOptions::default());
  s.on_ready(1, &peer("PUB")).unwrap();
  s.subscribe(b(b"x"));
  assert_eq!(woken(&mut s), [1]);
  s.on_gone(1);
  assert!(!s.has_output(1));
  assert_eq!(s.stats().dropped_on_close, 1);
  s.subscribe(b(b"z"));
  assert!(woken(&mut s).is_empty());
}

#[test]
fn a_sub_cannot_send() {
  let mut s = SubState::new(PipeOptions::default());
  assert_eq!(s.send(m(&[b"\x01x"])), Err(SendError::NotSupported));
  assert!(!s.can_send());
}

#[test]
fn an_xsub_forwards_its_subscription_messages_unchanged_and_counts_them() {
  let mut x = XSubState::new(PipeOptions::default());
  x.on_ready(1, &peer("XPUB")).unwrap();
  x.send(m(&[b"\x01news"])).unwrap();
  x.send(m(&[b"\x01news"])).unwrap();
  x.send(m(&[b"\x00news"])).unwrap();
  x.send(m(&[b"\x00other"])).unwrap();
  assert_eq!(sent(&mut x, 1), [m(&[b"\x01news"]), m(&[b"\x01news"])]);
  x.send(m(&[b"\x00news"])).unwrap();
  assert_eq!(sent(&mut x, 1), [m(&[b"\x00news"])]);
  x.send(m(&[b"\x01a"])).unwrap();
  x.on_ready(2, &peer("XPUB")).unwrap();
  assert_eq!(
    outputs(&mut x, 2),
    [subscribe(b"a")],
    "a resend is a command"
  );
}

#[test]
fn verbose_unsubscribe_forwards_every_cancel() {
  let mut x = XSubState::new(PipeOptions::default());
  x.set_verbose_unsubscribe(true);
  x.on_ready(1, &peer("XPUB")).unwrap();
  x.send(m(&[b"\x01t"])).unwrap();
  x.send(m(&[b"\x01t"])).unwrap();
  x.send(m(&[b"\x00t"])).unwrap();
  x.send(m(&[b"\x00u"])).unwrap();
  assert_eq!(sent(&mut x, 1).len(), 4);
}

#[test]
fn an_xsub_sends_other_messages_to_every_pipe_dropping_where_full_and_does_not_filter() {
  let mut x = XSubState::new(PipeOptions {
    sndhwm: 1,
    ..PipeOptions::default()
  });
  x.on_ready(1, &peer("XPUB")).unwrap();
  x.on_attach(2);
  x.send(m(&[b"up", b"stream"])).unwrap();
  x.send(m(&[b"second"])).unwrap();
  assert!(x.can_send());
  assert_eq!(x.stats().dropped_full, 2);
  assert_eq!(sent(&mut x, 2), [m(&[b"up", b"stream"])]);
  assert_eq!(x.send(vec![]), Err(SendError::Invalid));
  x.on_message(1, m(&[b"unsubscribed topic"]));
  assert_eq!(events(&mut x), [m(&[b"unsubscribed topic"])]);
}
