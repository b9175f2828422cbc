//! The queue state machine driven by hand: commands in, outcomes in, actions checked.

use super::*;
use crate::busmq::types::{FailedOp, Failure, Query};

pub(super) fn now() -> Instant {
  Instant::now()
}

pub(super) fn opts(ttl: u32) -> AttachOptions {
  AttachOptions {
    ttl,
    maxsize: 0,
    discoverable: false,
  }
}

pub(super) fn events(actions: &[Action]) -> Vec<Event> {
  actions
    .iter()
    .filter_map(|a| match a {
      Action::Emit(e) => Some(e.clone()),
      Action::Run(_) => None,
    })
    .collect()
}

pub(super) fn ops(actions: &[Action]) -> Vec<Op> {
  actions
    .iter()
    .filter_map(|a| match a {
      Action::Run(op) => Some(op.clone()),
      Action::Emit(_) => None,
    })
    .collect()
}

/// A queue `1` named `q`, attached to an existing queue with ttl 30.
pub(super) fn attached() -> Queues {
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

pub(super) fn consuming(s: &mut Queues) {
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
fn push_chunks_are_bounded_in_bytes_and_a_big_payload_goes_alone() {
  let mut s = attached();
  let big = Bytes::from(vec![b'x'; PUSH_CHUNK_BYTES / 2 + 1]);
  for rid in 1..=3 {
    s.handle_command(
      Command::Push {
        qid: 1,
        rid,
        payload: big.clone(),
      },
      now(),
    );
  }
  let a = s.flush_pushes();
  assert!(matches!(&ops(&a)[..], [Op::Push { items, .. }] if items.len() == 1));
  let a = s.handle_done(
    Done::Pushed {
      qid: 1,
      ids: vec![],
    },
    now(),
  );
  assert!(matches!(&ops(&a)[..], [Op::Push { items, .. }] if items.len() == 1));
  assert_eq!(
    super::chunk_len(&[(1, Bytes::from(vec![0u8; PUSH_CHUNK_BYTES * 2]))]),
    1
  );
}

#[test]
fn a_query_waits_for_the_pushes_made_before_it() {
  let mut s = attached();
  let push = |s: &mut Queues, rid| {
    s.handle_command(
      Command::Push {
        qid: 1,
        rid,
        payload: "m".into(),
      },
      now(),
    )
  };
  push(&mut s, 1);
  assert_eq!(ops(&s.flush_pushes()).len(), 1);
  push(&mut s, 2);
  let count = Command::Query {
    qid: 1,
    rid: 9,
    query: Query::Count,
  };
  assert!(
    ops(&s.handle_command(count, now())).is_empty(),
    "held while pushes are in flight"
  );
  let done = |rid| Done::Pushed {
    qid: 1,
    ids: vec![(rid, Some(rid as u64))],
  };
  let a = s.handle_done(done(1), now());
  assert!(
    matches!(&ops(&a)[..], [Op::Push { .. }]),
    "the second push goes; the query still waits"
  );
  let a = s.handle_done(done(2), now());
  assert!(matches!(&ops(&a)[..], [Op::Query { rid: 9, .. }]));
  let again = Command::Query {
    qid: 1,
    rid: 10,
    query: Query::Count,
  };
  assert!(
    matches!(
      &ops(&s.handle_command(again, now()))[..],
      [Op::Query { rid: 10, .. }]
    ),
    "no push out: a query runs at once"
  );
}
