//! Blocking pops: a plain (not reliable) consumer that finds its queue empty waits in `BLMPOP`
//! on a connection of its own, so a push reaches it in one Redis round trip instead of a
//! notification on `available` and then a pop.
//!
//! Wire compatibility: busmq and our push scripts add each `id, payload` pair atomically (one
//! script), and Redis serves a blocked client only after the whole script has run, so taking an
//! even number of elements from the head (`BLMPOP ... LEFT COUNT 2n`) takes whole pairs, as
//! busmq's pop script does. The notification is still published and heard; it only wakes
//! consumers that are not waiting.
//!
//! Stopping: `CLIENT UNBLOCK <id>` (from the write connection) makes a waiting `BLMPOP` answer
//! nil at once; one already served answers with its messages, which are then delivered. So a
//! stop never loses a message a blocking pop took. The unblock is retried every millisecond
//! while the pop has not reached Redis yet (bounded by [`UNBLOCK_TRIES`]). A pop that loops (the
//! JS thread's lane, `crate::busmq::lane`) sees the ticket stopped and does not wait again.

use super::queue::messages_of;
use super::writer::Writer;
use super::{failure, Completion};
use crate::busmq::types::{Done, FailedOp, Qid};
use redis::aio::MultiplexedConnection;
use redis::{RedisResult, Value};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Seconds one `BLMPOP` waits before it answers nil (the consumer then waits again): bounds how
/// long a lost unblock can hold a `stop()`.
pub const BLOCK_SECS: u64 = 5;
/// Longest wait for a blocking pop's answer: its wait plus the bus's response timeout.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(BLOCK_SECS + 30);
/// Longest wait for a blocker's connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// `CLIENT UNBLOCK` attempts, a millisecond apart, while the pop has not reached Redis yet.
pub const UNBLOCK_TRIES: u32 = 2000;

/// A connection that runs blocking pops, one at a time, and its Redis client id.
pub struct Blocker {
  conn: MultiplexedConnection,
  id: i64,
}

impl std::fmt::Debug for Blocker {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.debug_struct("Blocker").field("id", &self.id).finish()
  }
}

/// What a blocking pop in flight shares with the unblock that may end it.
#[derive(Debug, Default)]
pub struct Ticket {
  /// The client id of the pop's connection, `0` until it is known.
  id: AtomicI64,
  /// The pop has come back.
  done: AtomicBool,
  /// The consumer stops: a pop that loops (the lane's) must not wait again.
  stopped: AtomicBool,
}

impl Ticket {
  /// The client id of the connection the pop waits on, once known.
  pub fn set_id(&self, id: i64) {
    self.id.store(id, Ordering::Release);
  }

  /// The pop came back for good: unblocks stop trying.
  pub fn finish(&self) {
    self.done.store(true, Ordering::Release);
  }

  /// True once an unblock was asked for.
  pub fn stopped(&self) -> bool {
    self.stopped.load(Ordering::Acquire)
  }
}

async fn connect(client: &redis::Client) -> RedisResult<Blocker> {
  let config = redis::AsyncConnectionConfig::new()
    .set_connection_timeout(Some(CONNECT_TIMEOUT))
    .set_response_timeout(Some(RESPONSE_TIMEOUT));
  let mut conn = client
    .get_multiplexed_async_connection_with_config(&config)
    .await?;
  let id: i64 = redis::cmd("CLIENT")
    .arg("ID")
    .query_async(&mut conn)
    .await?;
  Ok(Blocker { conn, id })
}

/// `BLMPOP` of up to `count` messages of list `messages` on `blocker` (a new connection of
/// `client` when `None`). A connection lost or refused completes as an empty plain pop without
/// an error, as for a consumer that waits for a notification: the consumer waits for the next
/// one (or for the reconnect) and pops again then.
pub async fn blocking_pop(
  index: usize,
  qid: Qid,
  messages: String,
  count: u32,
  blocker: Option<Blocker>,
  client: redis::Client,
  ticket: Arc<Ticket>,
) -> Completion {
  let blocker = match blocker {
    Some(b) => Ok(b),
    None => connect(&client).await,
  };
  let mut blocker = match blocker {
    Ok(b) => b,
    Err(err) => {
      ticket.done.store(true, Ordering::Release);
      return lost(index, qid, &err);
    }
  };
  ticket.id.store(blocker.id, Ordering::Release);
  let answer: RedisResult<Value> = redis::cmd("BLMPOP")
    .arg(BLOCK_SECS)
    .arg(1)
    .arg(&messages)
    .arg("LEFT")
    .arg("COUNT")
    .arg(2 * u64::from(count.max(1)))
    .query_async(&mut blocker.conn)
    .await;
  ticket.done.store(true, Ordering::Release);
  match answer {
    Ok(value) => Completion::Blocking {
      index,
      qid,
      blocker: Some(blocker),
      done: Done::PoppedBlocking {
        qid,
        messages: messages_of(elements(value)),
      },
    },
    Err(err) if failure(&err).connection => lost(index, qid, &err),
    // Redis refused this pop (a key of another type): the connection itself is fine.
    Err(err) => Completion::Blocking {
      index,
      qid,
      blocker: Some(blocker),
      done: Done::Failed {
        op: FailedOp::Pop(qid),
        failure: failure(&err),
      },
    },
  }
}

/// A blocking pop without a connection: an empty plain pop when the connection is the problem
/// (nothing was taken), else the error.
fn lost(index: usize, qid: Qid, err: &redis::RedisError) -> Completion {
  let f = failure(err);
  let done = if f.connection {
    Done::Popped {
      qid,
      messages: Vec::new(),
    }
  } else {
    Done::Failed {
      op: FailedOp::Pop(qid),
      failure: f,
    }
  };
  Completion::Blocking {
    index,
    qid,
    blocker: None,
    done,
  }
}

/// The messages of a `BLMPOP` answer (none for nil).
pub fn blmpop_messages(value: Value) -> Vec<(u64, bytes::Bytes)> {
  messages_of(elements(value))
}

/// The popped elements of a `BLMPOP` answer: nil, or `[key, [elements...]]`.
fn elements(value: Value) -> Vec<Vec<u8>> {
  let Value::Array(mut parts) = value else {
    return Vec::new();
  };
  let Some(Value::Array(items)) = parts.pop() else {
    return Vec::new();
  };
  items
    .into_iter()
    .filter_map(|v| match v {
      Value::BulkString(b) => Some(b),
      Value::SimpleString(s) => Some(s.into_bytes()),
      _ => None,
    })
    .collect()
}

/// Ends the blocking pop of `ticket` through `write` (a connection to the same Redis): retries
/// while its client id is unknown or its `BLMPOP` has not reached Redis, until it comes back.
/// An unblock that hits a later pop of the same connection only makes that one start over.
pub async fn unblock(ticket: Arc<Ticket>, mut write: Writer) -> Completion {
  // Before the first try: a pop that loops checks this before it waits again.
  ticket.stopped.store(true, Ordering::Release);
  for _ in 0..UNBLOCK_TRIES {
    if ticket.done.load(Ordering::Acquire) {
      break;
    }
    let id = ticket.id.load(Ordering::Acquire);
    if id != 0 {
      let hit: RedisResult<i64> = redis::cmd("CLIENT")
        .arg("UNBLOCK")
        .arg(id)
        .query_async(&mut write)
        .await;
      if !matches!(hit, Ok(0)) {
        break;
      }
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
  }
  Completion::State(Done::Ack)
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn a_blmpop_answer_gives_its_elements_and_nil_gives_none() {
    let answer = Value::Array(vec![
      Value::BulkString(b"bus:queue:q:messages".to_vec()),
      Value::Array(vec![
        Value::BulkString(b"1".to_vec()),
        Value::BulkString(b"a".to_vec()),
      ]),
    ]);
    assert_eq!(elements(answer), vec![b"1".to_vec(), b"a".to_vec()]);
    assert!(elements(Value::Nil).is_empty());
  }
}
