//! The Redis side of the queue operations: attach, touch, push, pop, peek, restore, delete.

use super::writer::Writer;
use super::{ack_script, pop_reliable_script, pop_script, push_script, Completion};
use crate::busmq::keys::QueueKeys;
use crate::busmq::types::{AttachOptions, Done, Op, Qid, Rid};
use bytes::Bytes;
use redis::RedisResult;

/// True when the `INFO` text names a Redis of 6.2 or later, whose `LPOP key count` pops several
/// elements in one atomic command.
pub fn lpop_count_supported(info: &str) -> bool {
  redis_version(info) >= (6, 2)
}

/// Major and minor version in an `INFO` text (`(0, 0)` when it names none).
fn redis_version(info: &str) -> (u32, u32) {
  let Some(version) = info
    .lines()
    .find_map(|l| l.trim().strip_prefix("redis_version:"))
  else {
    return (0, 0);
  };
  let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
  (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// True when the `INFO` text names a Redis of 7.0 or later, which has `BLMPOP`.
pub fn blmpop_supported(info: &str) -> bool {
  redis_version(info) >= (7, 0)
}

/// Runs one queue operation (not a subscribe or a query). `lpop_count`: the server takes
/// `LPOP key count`.
pub(super) async fn run(conn: &mut Writer, lpop_count: bool, op: &Op) -> RedisResult<Completion> {
  match op {
    Op::Probe { qid, metadata } => probe(conn, *qid, metadata).await,
    Op::Create {
      qid,
      metadata,
      opts,
    } => create(conn, *qid, metadata, *opts).await,
    Op::Touch {
      keys, ttl, notice, ..
    } => touch(conn, keys, *ttl, notice.as_deref()).await,
    Op::Push {
      qid,
      keys,
      ttl,
      maxsize,
      items,
    } => push(conn, *qid, keys, *ttl, *maxsize, items).await,
    Op::Pop {
      qid,
      messages,
      count,
      toack,
      ttl,
      ..
    } => match toack {
      // Pairs are pushed by one RPUSH each (ours and busmq's), so popping an even number of
      // elements in one atomic LPOP takes whole pairs: one command instead of a script, on the
      // path of every message.
      None if lpop_count => pop_pairs(conn, *qid, messages, *count).await,
      _ => pop(conn, *qid, messages, *count, toack.as_deref(), *ttl).await,
    },
    Op::Peek {
      qid,
      messages,
      from,
      count,
    } => peek(conn, *qid, messages, *from, *count).await,
    Op::Restore {
      keys, last, ttl, ..
    } => {
      ack_script()
        .key(&keys.toack)
        .key(&keys.messages)
        .arg(*last)
        .arg(*ttl)
        .arg("true")
        .invoke_async::<i64>(conn)
        .await?;
      Ok(Completion::State(Done::Ack))
    }
    Op::Delete { qid, keys } => {
      redis::cmd("DEL")
        .arg(&keys.data_keys()[..])
        .query_async::<()>(conn)
        .await?;
      Ok(Completion::State(Done::Deleted { qid: *qid }))
    }
    // ops::run handles these itself; answering with an error keeps this total without a panic.
    Op::Subscribe { .. }
    | Op::Unsubscribe { .. }
    | Op::Query { .. }
    | Op::Publish { .. }
    | Op::Unblock { .. }
    | Op::Key { .. } => Err(redis::RedisError::from((
      redis::ErrorKind::Client,
      "not a queue operation",
    ))),
  }
}

async fn probe(conn: &mut Writer, qid: Qid, metadata: &str) -> RedisResult<Completion> {
  let ttl: Option<String> = redis::cmd("HGET")
    .arg(metadata)
    .arg("ttl")
    .query_async(conn)
    .await?;
  // A stored ttl that is not a number still means the queue exists; keep busmq's default.
  let ttl = ttl.map(|t| t.trim().parse::<u32>().unwrap_or(30));
  Ok(Completion::State(Done::Probed { qid, ttl }))
}

async fn create(
  conn: &mut Writer,
  qid: Qid,
  metadata: &str,
  opts: AttachOptions,
) -> RedisResult<Completion> {
  let discover = if opts.discoverable { "true" } else { "false" };
  let (ttl, maxsize) = (opts.ttl.to_string(), opts.maxsize.to_string());
  let pairs = [
    ("ttl", ttl.as_str()),
    ("source", "local"),
    ("discover", discover),
    ("maxsize", maxsize.as_str()),
  ];
  super::hset_expire(conn, metadata, opts.ttl, &pairs).await?;
  Ok(Completion::State(Done::Created { qid }))
}

async fn touch(
  conn: &mut Writer,
  keys: &QueueKeys,
  ttl: u32,
  notice: Option<&str>,
) -> RedisResult<Completion> {
  let mut pipe = redis::pipe();
  for key in keys.data_keys() {
    pipe.cmd("EXPIRE").arg(key).arg(ttl).ignore();
  }
  if let Some(notice) = notice {
    pipe
      .cmd("PUBLISH")
      .arg(crate::busmq::keys::NOTIFICATIONS_CHANNEL)
      .arg(notice)
      .ignore();
  }
  pipe.query_async::<()>(conn).await?;
  Ok(Completion::State(Done::Ack))
}

async fn push(
  conn: &mut Writer,
  qid: Qid,
  keys: &QueueKeys,
  ttl: u32,
  maxsize: u64,
  items: &[(Rid, Bytes)],
) -> RedisResult<Completion> {
  let mut call = push_script().prepare_invoke();
  for key in keys.data_keys() {
    call.key(key);
  }
  call.arg(ttl).arg(&keys.available).arg(maxsize);
  for (_, payload) in items {
    call.arg(payload.as_ref());
  }
  let ids: Vec<u64> = call.invoke_async(conn).await?;
  let ids = items
    .iter()
    .zip(ids.into_iter().chain(std::iter::repeat(0)))
    .map(|((rid, _), id)| (*rid, (id != 0).then_some(id)))
    .collect();
  Ok(Completion::State(Done::Pushed { qid, ids }))
}

fn pairs(qid: Qid, flat: Vec<Vec<u8>>) -> Completion {
  Completion::State(Done::Popped {
    qid,
    messages: messages_of(flat),
  })
}

/// Flat `id, payload` elements as messages (a dangling id is dropped).
pub(super) fn messages_of(flat: Vec<Vec<u8>>) -> Vec<(u64, Bytes)> {
  let mut messages = Vec::with_capacity(flat.len() / 2);
  let mut it = flat.into_iter();
  while let (Some(id), Some(payload)) = (it.next(), it.next()) {
    // Ids are INCR results; a foreign non-numeric id is delivered as 0 rather than lost.
    let id = std::str::from_utf8(&id)
      .ok()
      .and_then(|s| s.parse().ok())
      .unwrap_or(0);
    messages.push((id, Bytes::from(payload)));
  }
  messages
}

async fn pop(
  conn: &mut Writer,
  qid: Qid,
  messages: &str,
  count: u32,
  toack: Option<&str>,
  ttl: u32,
) -> RedisResult<Completion> {
  let flat: Vec<Vec<u8>> = match toack {
    None => {
      pop_script()
        .key(messages)
        .arg(count)
        .invoke_async(conn)
        .await?
    }
    Some(toack) => {
      let mut call = pop_reliable_script().key(messages);
      call.key(toack).arg(count).arg(ttl);
      call.invoke_async(conn).await?
    }
  };
  Ok(pairs(qid, flat))
}

async fn pop_pairs(
  conn: &mut Writer,
  qid: Qid,
  messages: &str,
  count: u32,
) -> RedisResult<Completion> {
  // Nil when the list is empty (or gone).
  let flat: Option<Vec<Vec<u8>>> = redis::cmd("LPOP")
    .arg(messages)
    .arg(2 * u64::from(count.max(1)))
    .query_async(conn)
    .await?;
  Ok(pairs(qid, flat.unwrap_or_default()))
}

async fn peek(
  conn: &mut Writer,
  qid: Qid,
  messages: &str,
  from: u64,
  count: u32,
) -> RedisResult<Completion> {
  let start = from.saturating_mul(2);
  let stop = start + 2 * u64::from(count) - 1;
  let flat: Vec<Vec<u8>> = redis::cmd("LRANGE")
    .arg(messages)
    .arg(start)
    .arg(stop)
    .query_async(conn)
    .await?;
  Ok(pairs(qid, flat))
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn lpop_count_needs_redis_6_2_or_later() {
    let info = |v: &str| format!("# Server\r\nredis_version:{v}\r\nredis_mode:standalone\r\n");
    assert!(lpop_count_supported(&info("7.0.15")));
    assert!(lpop_count_supported(&info("6.2.0")));
    assert!(lpop_count_supported(&info("10.0.1")));
    assert!(!lpop_count_supported(&info("6.0.20")));
    assert!(!lpop_count_supported(&info("5.0.14")));
    assert!(!lpop_count_supported("# Replication\r\nrole:master\r\n"));
  }

  #[test]
  fn blmpop_needs_redis_7_or_later() {
    let info = |v: &str| format!("# Server\r\nredis_version:{v}\r\n");
    assert!(blmpop_supported(&info("7.0.15")));
    assert!(blmpop_supported(&info("7.2.4")));
    assert!(!blmpop_supported(&info("6.2.14")));
    assert!(!blmpop_supported("role:master"));
  }

  #[test]
  fn popped_pairs_keep_their_order_and_drop_a_dangling_id() {
    let flat = vec![
      b"7".to_vec(),
      b"a".to_vec(),
      b"8".to_vec(),
      b"b".to_vec(),
      b"9".to_vec(),
    ];
    let Completion::State(Done::Popped { qid, messages }) = pairs(3, flat) else {
      panic!("not a pop");
    };
    assert_eq!(qid, 3);
    assert_eq!(
      messages,
      vec![(7, Bytes::from_static(b"a")), (8, Bytes::from_static(b"b"))]
    );
  }
}
