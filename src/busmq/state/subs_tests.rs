//! Muting a queue's `available` channel while its consumers wait on the lane (`subs.rs`).

use super::tests::{attached, consuming, now, ops};
use super::*;

const CHANNEL: &str = "bus:queue:q:available";

fn unsubscribe() -> Op {
  Op::Unsubscribe {
    channel: CHANNEL.into(),
  }
}

fn subscribe() -> Op {
  Op::Subscribe {
    channel: CHANNEL.into(),
  }
}

fn lease_end(s: &mut Queues, qid: Qid, again: bool) -> Vec<Action> {
  s.handle_done(
    Done::Leased {
      qid,
      delivered: 1,
      again,
      failure: None,
    },
    now(),
  )
}

fn consume(s: &mut Queues, qid: Qid) -> Vec<Action> {
  s.handle_command(
    Command::Consume {
      qid,
      remove: true,
      max: -1,
      reliable: None,
    },
    now(),
  )
}

/// A second queue object `2` on queue `q`, attached.
fn second(s: &mut Queues) {
  s.handle_command(
    Command::Open {
      qid: 2,
      name: "q".into(),
    },
    now(),
  );
  s.handle_command(
    Command::Attach {
      qid: 2,
      opts: super::tests::opts(30),
    },
    now(),
  );
  s.handle_done(
    Done::Probed {
      qid: 2,
      ttl: Some(30),
    },
    now(),
  );
}

#[test]
fn a_leased_consumer_mutes_its_channel_and_a_lost_lease_subscribes_and_pops_again() {
  let mut s = attached();
  consuming(&mut s);
  assert_eq!(ops(&s.handle_leasing(1)), vec![unsubscribe()]);
  assert_eq!(ops(&s.handle_leasing(1)), vec![], "muted once");
  // The lane lost its connection: listen again, and pop once that is confirmed (messages
  // pushed meanwhile are found by that pop).
  assert_eq!(ops(&lease_end(&mut s, 1, false)), vec![subscribe()]);
  let a = s.handle_done(
    Done::Subscribed {
      channel: CHANNEL.into(),
    },
    now(),
  );
  assert!(matches!(ops(&a)[..], [Op::Pop { qid: 1, .. }]));
  // That pop ran plain (not leased): notifications are heard.
  s.handle_done(
    Done::Popped {
      qid: 1,
      messages: vec![],
    },
    now(),
  );
  let a = s.handle_notify(CHANNEL);
  assert!(matches!(ops(&a)[..], [Op::Pop { qid: 1, .. }]));
}

#[test]
fn a_lease_that_ends_and_pops_again_subscribes_before_its_next_pop() {
  let mut s = attached();
  consuming(&mut s);
  s.handle_leasing(1);
  let a = lease_end(&mut s, 1, true);
  assert!(matches!(
    ops(&a)[..],
    [Op::Subscribe { .. }, Op::Pop { qid: 1, .. }]
  ));
  s.handle_leasing(1);
  // A confirmation while all consumers are leased mutes again.
  let a = s.handle_done(
    Done::Subscribed {
      channel: CHANNEL.into(),
    },
    now(),
  );
  assert_eq!(ops(&a), vec![unsubscribe()]);
}

#[test]
fn stop_of_a_muted_consumer_sends_no_second_unsubscribe() {
  let mut s = attached();
  consuming(&mut s);
  s.handle_leasing(1);
  let a = s.handle_command(Command::Stop { qid: 1 }, now());
  assert_eq!(ops(&a), vec![Op::Unblock { qid: 1 }]);
  let a = lease_end(&mut s, 1, true);
  assert!(ops(&a).is_empty(), "already unsubscribed: {a:?}");
  // Consuming again subscribes again.
  let a = consume(&mut s, 1);
  assert_eq!(ops(&a), vec![subscribe()]);
}

#[test]
fn a_consumer_not_on_the_lane_keeps_the_channel_subscribed() {
  let mut s = attached();
  second(&mut s);
  consuming(&mut s);
  s.handle_leasing(1);
  // Muted while consumer 1 is the only one; consumer 2 comes: subscribe again.
  let a = consume(&mut s, 2);
  assert_eq!(ops(&a), vec![subscribe()]);
  let a = s.handle_done(
    Done::Subscribed {
      channel: CHANNEL.into(),
    },
    now(),
  );
  // 2 pops (1's pop is in flight: it pops again after); 2 is not leased, so no mute.
  assert!(matches!(ops(&a)[..], [Op::Pop { qid: 2, .. }]));
  assert!(s.handle_notify(CHANNEL).is_empty(), "both pops in flight");
  assert_eq!(ops(&s.handle_leasing(2)), vec![unsubscribe()]);
}

#[test]
fn online_again_subscribes_muted_channels_and_ignores_a_stale_confirmation() {
  let mut s = attached();
  consuming(&mut s);
  s.handle_leasing(1);
  // A confirmation of a SUBSCRIBE sent before the mute changes nothing.
  let a = s.handle_done(
    Done::Subscribed {
      channel: CHANNEL.into(),
    },
    now(),
  );
  assert!(a.is_empty(), "{a:?}");
  assert!(s.handle_notify(CHANNEL).is_empty());
  let a = s.handle_online();
  assert_eq!(ops(&a), vec![subscribe()]);
  let a = s.handle_done(
    Done::Subscribed {
      channel: CHANNEL.into(),
    },
    now(),
  );
  // Still leased: mutes again after the confirmation.
  assert_eq!(ops(&a), vec![unsubscribe()]);
}
