//! The consuming half of the queue state machine driven by hand: subscriptions, pops, stop,
//! reliable mode, reconnects.

use super::tests::{attached, consuming, events, now, ops, opts};
use super::*;
use crate::busmq::types::Failure;

#[test]
fn consume_subscribes_then_pops_after_the_subscribe_is_confirmed() {
  let mut s = attached();
  let a = s.handle_command(
    Command::Consume {
      qid: 1,
      remove: true,
      max: -1,
      reliable: None,
    },
    now(),
  );
  assert_eq!(events(&a), vec![Event::Consuming { qid: 1, on: true }]);
  assert_eq!(
    ops(&a),
    vec![Op::Subscribe {
      channel: "bus:queue:q:available".into()
    }]
  );
  let a = s.handle_done(
    Done::Subscribed {
      channel: "bus:queue:q:available".into(),
    },
    now(),
  );
  assert!(matches!(
    ops(&a)[..],
    [Op::Pop {
      qid: 1,
      count: POP_BATCH,
      ..
    }]
  ));
}

#[test]
fn a_notification_during_a_pop_triggers_exactly_one_more_pop() {
  let mut s = attached();
  consuming(&mut s);
  assert!(
    ops(&s.handle_notify("bus:queue:q:available")).is_empty(),
    "pop in flight"
  );
  assert!(ops(&s.handle_notify("bus:queue:q:available")).is_empty());
  let a = s.handle_done(
    Done::Popped {
      qid: 1,
      messages: vec![(1, "x".into())],
    },
    now(),
  );
  assert_eq!(
    events(&a),
    vec![Event::Message {
      qid: 1,
      id: 1,
      payload: "x".into()
    }]
  );
  assert_eq!(ops(&a).len(), 1, "one more pop");
  let a = s.handle_done(
    Done::Popped {
      qid: 1,
      messages: vec![],
    },
    now(),
  );
  assert!(a.is_empty(), "idle until the next notification");
}

#[test]
fn stop_during_a_pop_delivers_its_messages_before_consuming_false() {
  let mut s = attached();
  consuming(&mut s);
  let a = s.handle_command(Command::Stop { qid: 1 }, now());
  assert!(events(&a).is_empty(), "consuming(false) waits for the pop");
  assert_eq!(
    ops(&a),
    vec![Op::Unblock { qid: 1 }],
    "a blocking pop is ended"
  );
  let a = s.handle_done(
    Done::Popped {
      qid: 1,
      messages: vec![(1, "x".into()), (2, "y".into())],
    },
    now(),
  );
  assert_eq!(
    events(&a),
    vec![
      Event::Message {
        qid: 1,
        id: 1,
        payload: "x".into()
      },
      Event::Message {
        qid: 1,
        id: 2,
        payload: "y".into()
      },
      Event::Consuming { qid: 1, on: false },
    ]
  );
  assert_eq!(
    ops(&a),
    vec![Op::Unsubscribe {
      channel: "bus:queue:q:available".into()
    }]
  );
}

#[test]
fn max_limits_pop_size_and_stops_when_reached() {
  let mut s = attached();
  s.handle_command(
    Command::Consume {
      qid: 1,
      remove: true,
      max: 2,
      reliable: None,
    },
    now(),
  );
  let a = s.handle_done(
    Done::Subscribed {
      channel: "bus:queue:q:available".into(),
    },
    now(),
  );
  assert!(matches!(ops(&a)[..], [Op::Pop { count: 2, .. }]));
  let a = s.handle_done(
    Done::Popped {
      qid: 1,
      messages: vec![(1, "a".into()), (2, "b".into())],
    },
    now(),
  );
  assert_eq!(
    events(&a).last(),
    Some(&Event::Consuming { qid: 1, on: false })
  );
}

#[test]
fn consume_without_remove_peeks_forward_from_its_own_offset() {
  let mut s = attached();
  s.handle_command(
    Command::Consume {
      qid: 1,
      remove: false,
      max: -1,
      reliable: None,
    },
    now(),
  );
  s.handle_done(
    Done::Subscribed {
      channel: "bus:queue:q:available".into(),
    },
    now(),
  );
  s.handle_notify("bus:queue:q:available");
  let a = s.handle_done(
    Done::Popped {
      qid: 1,
      messages: vec![(1, "a".into())],
    },
    now(),
  );
  assert!(matches!(ops(&a)[..], [Op::Peek { from: 1, .. }]));
}

#[test]
fn two_consumers_of_one_queue_share_a_subscription() {
  let mut s = attached();
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
      opts: opts(30),
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
  consuming(&mut s);
  let a = s.handle_command(
    Command::Consume {
      qid: 2,
      remove: true,
      max: -1,
      reliable: None,
    },
    now(),
  );
  assert!(
    matches!(ops(&a)[..], [Op::Pop { qid: 2, .. }]),
    "already subscribed: pop at once"
  );
  let a = s.handle_command(Command::Forget { qid: 1 }, now());
  assert!(ops(&a).is_empty(), "queue 2 still listens");
}

#[test]
fn online_again_resubscribes_every_consumed_channel() {
  let mut s = attached();
  consuming(&mut s);
  assert_eq!(
    ops(&s.handle_online()),
    vec![Op::Subscribe {
      channel: "bus:queue:q:available".into()
    }]
  );
}

#[test]
fn a_reliable_consumer_restores_unacked_messages_then_pops_into_toack() {
  let mut s = attached();
  let a = s.handle_command(
    Command::Consume {
      qid: 1,
      remove: true,
      max: -1,
      reliable: Some(3),
    },
    now(),
  );
  match &ops(&a)[..] {
    [Op::Restore {
      last: 3,
      ttl: 30,
      keys,
      ..
    }, Op::Subscribe { .. }] => {
      assert_eq!(keys.toack, "bus:queue:q:toack")
    }
    other => panic!("{other:?}"),
  }
  let a = s.handle_done(
    Done::Subscribed {
      channel: "bus:queue:q:available".into(),
    },
    now(),
  );
  assert!(matches!(
    &ops(&a)[..],
    [Op::Pop { toack: Some(t), ttl: 30, block: false, .. }] if t == "bus:queue:q:toack"
  ));
  let a = s.handle_command(Command::Stop { qid: 1 }, now());
  assert!(a.is_empty(), "no blocking pop to end: {a:?}");
}

#[test]
fn a_blocking_pop_that_comes_back_waits_again_at_once() {
  let mut s = attached();
  consuming(&mut s);
  for messages in [vec![(1, "x".into())], vec![]] {
    let a = s.handle_done(Done::PoppedBlocking { qid: 1, messages }, now());
    assert!(
      matches!(
        ops(&a)[..],
        [Op::Pop {
          qid: 1,
          block: true,
          ..
        }]
      ),
      "{a:?}"
    );
  }
  // A notification meanwhile asks for nothing more: one pop in flight.
  assert!(ops(&s.handle_notify("bus:queue:q:available")).is_empty());
}

#[test]
fn stop_during_a_blocking_pop_delivers_what_it_took_then_stops_popping() {
  let mut s = attached();
  consuming(&mut s);
  let a = s.handle_command(Command::Stop { qid: 1 }, now());
  assert_eq!(ops(&a), vec![Op::Unblock { qid: 1 }]);
  // A second stop does not unblock again.
  assert!(s.handle_command(Command::Stop { qid: 1 }, now()).is_empty());
  let a = s.handle_done(
    Done::PoppedBlocking {
      qid: 1,
      messages: vec![(5, "late".into())],
    },
    now(),
  );
  assert_eq!(
    events(&a),
    vec![
      Event::Message {
        qid: 1,
        id: 5,
        payload: "late".into()
      },
      Event::Consuming { qid: 1, on: false },
    ]
  );
  assert!(
    !ops(&a).iter().any(|op| matches!(op, Op::Pop { .. })),
    "no pop after stop: {a:?}"
  );
}

#[test]
fn reliable_without_remove_is_a_plain_peek() {
  let mut s = attached();
  let a = s.handle_command(
    Command::Consume {
      qid: 1,
      remove: false,
      max: -1,
      reliable: Some(0),
    },
    now(),
  );
  assert!(!ops(&a).iter().any(|op| matches!(op, Op::Restore { .. })));
}

#[test]
fn a_lease_that_delivered_part_of_max_pops_again_for_the_rest_only() {
  let mut s = attached();
  s.handle_command(
    Command::Consume {
      qid: 1,
      remove: true,
      max: 5,
      reliable: None,
    },
    now(),
  );
  let a = s.handle_done(
    Done::Subscribed {
      channel: "bus:queue:q:available".into(),
    },
    now(),
  );
  assert!(matches!(
    ops(&a)[..],
    [Op::Pop {
      count: 5,
      remaining: 5,
      block: true,
      ..
    }]
  ));
  // The lane delivered 3 itself (no Message events here), then lost its connection.
  let a = s.handle_done(
    Done::Leased {
      qid: 1,
      delivered: 3,
      again: true,
      failure: None,
    },
    now(),
  );
  assert!(events(&a).is_empty(), "{a:?}");
  assert!(matches!(
    ops(&a)[..],
    [Op::Pop {
      count: 2,
      remaining: 2,
      ..
    }]
  ));
  let a = s.handle_done(
    Done::Leased {
      qid: 1,
      delivered: 2,
      again: true,
      failure: None,
    },
    now(),
  );
  assert_eq!(events(&a), vec![Event::Consuming { qid: 1, on: false }]);
}

#[test]
fn a_lost_lease_waits_for_a_notification_and_a_refused_one_is_a_queue_error() {
  let mut s = attached();
  consuming(&mut s);
  let a = s.handle_done(
    Done::Leased {
      qid: 1,
      delivered: 0,
      again: false,
      failure: None,
    },
    now(),
  );
  assert!(
    a.is_empty(),
    "a lost lease pops again only when told: {a:?}"
  );
  let a = s.handle_notify("bus:queue:q:available");
  assert!(matches!(ops(&a)[..], [Op::Pop { qid: 1, .. }]));
  let refused = Failure {
    code: "WRONGTYPE".into(),
    message: "wrong kind of value".into(),
    connection: false,
  };
  let a = s.handle_done(
    Done::Leased {
      qid: 1,
      delivered: 1,
      again: true,
      failure: Some(refused),
    },
    now(),
  );
  assert!(ops(&a).is_empty(), "no pop after a refusal: {a:?}");
  assert_eq!(
    events(&a),
    vec![Event::Error {
      qid: 1,
      code: "WRONGTYPE".into(),
      message: "error consuming message: wrong kind of value".into(),
    }]
  );
}

#[test]
fn stop_during_a_lease_unblocks_it_and_ends_after_it_reports() {
  let mut s = attached();
  consuming(&mut s);
  let a = s.handle_command(Command::Stop { qid: 1 }, now());
  assert_eq!(ops(&a), vec![Op::Unblock { qid: 1 }]);
  let a = s.handle_done(
    Done::Leased {
      qid: 1,
      delivered: 7,
      again: true,
      failure: None,
    },
    now(),
  );
  assert_eq!(events(&a), vec![Event::Consuming { qid: 1, on: false }]);
  assert!(!ops(&a).iter().any(|op| matches!(op, Op::Pop { .. })));
}
