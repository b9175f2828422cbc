//! The queue state machine driven by hand: commands in, outcomes in, actions checked.

use super::*;
use crate::busmq::types::{FailedOp, Failure, Query};

fn now() -> Instant {
  Instant::now()
}

fn opts(ttl: u32) -> AttachOptions {
  AttachOptions {
    ttl,
    maxsize: 0,
    discoverable: false,
  }
}

fn events(actions: &[Action]) -> Vec<Event> {
  actions
    .iter()
    .filter_map(|a| match a {
      Action::Emit(e) => Some(e.clone()),
      Action::Run(_) => None,
    })
    .collect()
}

fn ops(actions: &[Action]) -> Vec<Op> {
  actions
    .iter()
    .filter_map(|a| match a {
      Action::Run(op) => Some(op.clone()),
      Action::Emit(_) => None,
    })
    .collect()
}

/// A queue `1` named `q`, attached to an existing queue with ttl 30.
fn attached() -> Queues {
  let mut s = Queues::new();
  s.handle_command(
    Command::Open {
      qid: 1,
      name: "q".into(),
    },
    now(),
  );
  s.handle_command(
    Command::Attach {
      qid: 1,
      opts: opts(30),
    },
    now(),
  );
  s.handle_done(
    Done::Probed {
      qid: 1,
      ttl: Some(30),
    },
    now(),
  );
  s
}

fn consuming(s: &mut Queues) {
  s.handle_command(
    Command::Consume {
      qid: 1,
      remove: true,
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
}

#[test]
fn attach_to_a_missing_queue_creates_it_then_reports_attached_false() {
  let mut s = Queues::new();
  s.handle_command(
    Command::Open {
      qid: 1,
      name: "q".into(),
    },
    now(),
  );
  let a = s.handle_command(
    Command::Attach {
      qid: 1,
      opts: opts(10),
    },
    now(),
  );
  assert_eq!(events(&a), vec![Event::Attaching(1)]);
  assert_eq!(
    ops(&a),
    vec![Op::Probe {
      qid: 1,
      metadata: "bus:queue:q:metadata".into()
    }]
  );
  let a = s.handle_done(Done::Probed { qid: 1, ttl: None }, now());
  assert!(matches!(ops(&a)[..], [Op::Create { qid: 1, .. }]));
  let a = s.handle_done(Done::Created { qid: 1 }, now());
  assert_eq!(
    events(&a),
    vec![Event::Attached {
      qid: 1,
      existed: false,
      ttl: 10
    }]
  );
  assert!(
    matches!(
      ops(&a)[..],
      [Op::Touch {
        qid: 1,
        ttl: 10,
        ..
      }]
    ),
    "touched at once"
  );
}

#[test]
fn an_existing_queue_keeps_its_stored_ttl() {
  let mut s = Queues::new();
  s.handle_command(
    Command::Open {
      qid: 1,
      name: "q".into(),
    },
    now(),
  );
  s.handle_command(
    Command::Attach {
      qid: 1,
      opts: opts(99),
    },
    now(),
  );
  let a = s.handle_done(
    Done::Probed {
      qid: 1,
      ttl: Some(7),
    },
    now(),
  );
  assert_eq!(
    events(&a),
    vec![Event::Attached {
      qid: 1,
      existed: true,
      ttl: 7
    }]
  );
}

#[test]
fn pushes_before_attach_wait_and_go_in_one_ordered_batch() {
  let mut s = Queues::new();
  s.handle_command(
    Command::Open {
      qid: 1,
      name: "q".into(),
    },
    now(),
  );
  s.handle_command(
    Command::Push {
      qid: 1,
      rid: 5,
      payload: "a".into(),
    },
    now(),
  );
  s.handle_command(
    Command::Push {
      qid: 1,
      rid: 0,
      payload: "b".into(),
    },
    now(),
  );
  assert!(s.flush_pushes().is_empty(), "not attached yet");
  s.handle_command(
    Command::Attach {
      qid: 1,
      opts: opts(30),
    },
    now(),
  );
  s.handle_done(
    Done::Probed {
      qid: 1,
      ttl: Some(30),
    },
    now(),
  );
  let a = s.flush_pushes();
  match &ops(&a)[..] {
    [Op::Push { items, ttl: 30, .. }] => assert_eq!(items, &vec![(5, "a".into()), (0, "b".into())]),
    other => panic!("{other:?}"),
  }
}

#[test]
fn one_push_call_in_flight_per_queue_keeps_order() {
  let mut s = attached();
  s.handle_command(
    Command::Push {
      qid: 1,
      rid: 1,
      payload: "a".into(),
    },
    now(),
  );
  assert_eq!(ops(&s.flush_pushes()).len(), 1);
  s.handle_command(
    Command::Push {
      qid: 1,
      rid: 2,
      payload: "b".into(),
    },
    now(),
  );
  assert!(s.flush_pushes().is_empty(), "waits for the first push");
  let a = s.handle_done(
    Done::Pushed {
      qid: 1,
      ids: vec![(1, Some(1))],
    },
    now(),
  );
  assert_eq!(
    events(&a),
    vec![Event::PushReply {
      rid: 1,
      id: Some(1)
    }]
  );
  assert!(matches!(&ops(&a)[..], [Op::Push { items, .. }] if items == &vec![(2, "b".into())]));
}

#[test]
fn large_push_bursts_are_split_into_chunks() {
  let mut s = attached();
  for i in 0..(PUSH_CHUNK + 3) {
    s.handle_command(
      Command::Push {
        qid: 1,
        rid: 0,
        payload: i.to_string().into(),
      },
      now(),
    );
  }
  let a = s.flush_pushes();
  assert!(matches!(&ops(&a)[..], [Op::Push { items, .. }] if items.len() == PUSH_CHUNK));
  let a = s.handle_done(
    Done::Pushed {
      qid: 1,
      ids: vec![],
    },
    now(),
  );
  assert!(matches!(&ops(&a)[..], [Op::Push { items, .. }] if items.len() == 3));
}

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
  assert!(s.handle_command(Command::Stop { qid: 1 }, now()).is_empty());
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
fn close_requires_attach_and_deletes_after_detached() {
  let mut s = Queues::new();
  s.handle_command(
    Command::Open {
      qid: 1,
      name: "q".into(),
    },
    now(),
  );
  let a = s.handle_command(Command::Close { qid: 1 }, now());
  assert!(matches!(&events(&a)[..], [Event::Error { code, .. }] if code == "ENOTCONN"));
  let mut s = attached();
  let a = s.handle_command(Command::Close { qid: 1 }, now());
  assert_eq!(events(&a), vec![Event::Detaching(1), Event::Detached(1)]);
  assert!(matches!(ops(&a)[..], [Op::Delete { qid: 1, .. }]));
}

#[test]
fn attaching_twice_is_busmqs_error() {
  let mut s = attached();
  let a = s.handle_command(
    Command::Attach {
      qid: 1,
      opts: opts(30),
    },
    now(),
  );
  assert_eq!(
    events(&a),
    vec![Event::Error {
      qid: 1,
      code: "EALREADY".into(),
      message: "cannot attach to queue: already attached".into()
    }]
  );
}

#[test]
fn touches_repeat_every_third_of_the_ttl_and_stop_after_detach() {
  let start = now();
  let mut s = Queues::new();
  s.handle_command(
    Command::Open {
      qid: 1,
      name: "q".into(),
    },
    start,
  );
  s.handle_command(
    Command::Attach {
      qid: 1,
      opts: opts(30),
    },
    start,
  );
  s.handle_done(
    Done::Probed {
      qid: 1,
      ttl: Some(30),
    },
    start,
  );
  assert_eq!(s.next_deadline(), Some(start + Duration::from_secs(10)));
  assert!(s.handle_tick(start + Duration::from_secs(9)).is_empty());
  assert_eq!(
    ops(&s.handle_tick(start + Duration::from_secs(10))).len(),
    1
  );
  s.handle_command(Command::Detach { qid: 1 }, start);
  assert_eq!(s.next_deadline(), None);
}

#[test]
fn failed_push_answers_callbacks_and_reports_the_rest_on_the_queue() {
  let mut s = attached();
  let failure = Failure {
    code: "MISCONF".into(),
    message: "no disk".into(),
    connection: false,
  };
  let a = s.handle_done(
    Done::Failed {
      op: FailedOp::Push(1, vec![3, 0]),
      failure,
    },
    now(),
  );
  assert_eq!(
    events(&a),
    vec![
      Event::ReplyError {
        rid: 3,
        code: "MISCONF".into(),
        message: "error pushing to queue (push): no disk".into()
      },
      Event::Error {
        qid: 1,
        code: "MISCONF".into(),
        message: "error pushing to queue (push): no disk".into()
      },
    ]
  );
}

#[test]
fn queries_pass_through_with_the_queue_keys() {
  let mut s = Queues::new();
  s.handle_command(
    Command::Open {
      qid: 4,
      name: "n".into(),
    },
    now(),
  );
  let a = s.handle_command(
    Command::Query {
      qid: 4,
      rid: 9,
      query: Query::Count,
    },
    now(),
  );
  assert!(
    matches!(&ops(&a)[..], [Op::Query { rid: 9, keys, query: Query::Count, .. }] if keys.messages == "bus:queue:n:messages")
  );
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
    [Op::Pop { toack: Some(t), ttl: 30, .. }] if t == "bus:queue:q:toack"
  ));
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
