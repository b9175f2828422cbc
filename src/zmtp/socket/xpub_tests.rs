//! XPUB state tests.

use super::*;
use crate::zmtp::socket::testutil::{b, events, m, peer, sent, woken};

fn sub(t: &'static [u8]) -> Subscription {
  Subscription::Subscribe(b(t))
}

fn cancel(t: &'static [u8]) -> Subscription {
  Subscription::Cancel(b(t))
}

fn xpub() -> XPubState {
  let mut x = XPubState::new(1000, usize::MAX);
  x.on_ready(1, &peer("SUB")).unwrap();
  x.on_ready(2, &peer("XSUB")).unwrap();
  x
}

#[test]
fn only_the_first_subscribe_and_the_last_cancel_of_a_topic_reach_the_application() {
  let mut x = xpub();
  x.on_subscription(1, sub(b"news"));
  x.on_message(2, m(&[b"\x01news"]));
  x.on_subscription(1, sub(b"news"));
  x.on_subscription(1, cancel(b"news"));
  assert_eq!(events(&mut x), [m(&[b"\x01news"])]);
  x.on_message(2, m(&[b"\x00news"]));
  assert_eq!(events(&mut x), [m(&[b"\x00news"])]);
}

#[test]
fn a_cancel_of_a_topic_the_peer_never_held_is_passed_on_as_libzmq_does() {
  let mut x = xpub();
  x.on_subscription(1, sub(b"t"));
  x.on_subscription(2, sub(b"t"));
  x.on_subscription(1, cancel(b"t"));
  x.on_subscription(1, cancel(b"t"));
  assert_eq!(events(&mut x), [m(&[b"\x01t"]), m(&[b"\x00t"])]);
}

#[test]
fn a_departing_peer_cancels_the_topics_only_it_held() {
  let mut x = xpub();
  x.on_subscription(1, sub(b"a"));
  x.on_subscription(1, sub(b"b"));
  x.on_subscription(2, sub(b"b"));
  events(&mut x);
  x.on_gone(1);
  assert_eq!(events(&mut x), [m(&[b"\x00a"])]);
  x.on_gone(2);
  assert_eq!(events(&mut x), [m(&[b"\x00b"])]);
  assert_eq!(x.publisher().subscribers(), 0);
}

#[test]
fn verbose_passes_every_subscribe_and_verboser_every_cancel_too() {
  let mut x = xpub();
  x.set_verbose(true);
  x.on_subscription(1, sub(b"t"));
  x.on_subscription(2, sub(b"t"));
  x.on_subscription(2, cancel(b"t"));
  assert_eq!(events(&mut x), [m(&[b"\x01t"]), m(&[b"\x01t"])]);
  x.set_verboser(true);
  x.on_subscription(2, sub(b"t"));
  x.on_subscription(2, cancel(b"t"));
  x.on_subscription(2, sub(b"u"));
  x.on_gone(2);
  assert_eq!(
    events(&mut x),
    [
      m(&[b"\x01t"]),
      m(&[b"\x00t"]),
      m(&[b"\x01u"]),
      m(&[b"\x00u"])
    ]
  );
}

#[test]
fn upstream_messages_from_an_xsub_reach_the_application_unchanged() {
  let mut x = xpub();
  x.on_message(2, m(&[b"up", b"stream"]));
  x.on_message(2, m(&[b"", b"empty first frame is data"]));
  assert_eq!(
    events(&mut x),
    [
      m(&[b"up", b"stream"]),
      m(&[b"", b"empty first frame is data"])
    ]
  );
}

#[test]
fn sending_goes_to_matching_subscribers_and_drops_at_a_full_pipe_unless_nodrop() {
  let mut x = XPubState::new(1, usize::MAX);
  x.on_ready(1, &peer("SUB")).unwrap();
  x.on_subscription(1, sub(b""));
  x.send(m(&[b"a"])).unwrap();
  x.send(m(&[b"b"])).unwrap();
  assert_eq!(x.publisher().dropped_full, 1);
  x.set_nodrop(true);
  assert_eq!(x.send(m(&[b"c"])), Err(SendError::WouldBlock));
  assert_eq!(woken(&mut x), [1]);
  assert_eq!(sent(&mut x, 1), [m(&[b"a"])]);
  assert_eq!(x.send(m(&[b"c"])), Ok(()));
}

#[test]
fn an_attached_subscriber_keeps_its_topics_across_reconnects() {
  let mut x = XPubState::new(10, usize::MAX);
  x.on_attach(1);
  x.on_ready(1, &peer("SUB")).unwrap();
  x.on_subscription(1, sub(b"k"));
  x.on_gone(1);
  x.on_ready(1, &peer("SUB")).unwrap();
  x.on_subscription(1, sub(b"k"));
  assert_eq!(events(&mut x), [m(&[b"\x01k"])]);
  x.on_gone(1);
  x.on_detach(1);
  assert_eq!(events(&mut x), [m(&[b"\x00k"])]);
}
