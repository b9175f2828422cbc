//! Runs one [`Op`] over the bus's Redis connections and turns the answer into a [`Completion`].
//! Each call is independent; the multiplexed write connection pipelines them on the wire.

use super::codec::ReplyValue;
use super::keys::{instance_for, queue_route_key};
use super::scripts;
use super::types::{Done, FailedOp, Failure, Op, Qid, Rid};
use redis::aio::PubSubSink;
use redis::{RedisError, Script};
use std::sync::OnceLock;

mod blocking;
mod query;
mod queue;
mod writer;

pub use blocking::{blmpop_messages, blocking_pop, unblock, Blocker, Ticket, BLOCK_SECS};
pub use queue::{blmpop_supported, lpop_count_supported};
pub use writer::Writer;

/// What came back from Redis.
#[derive(Debug)]
pub enum Completion {
  /// For the queue state machine.
  State(Done),
  /// The liveness PING of connection `.0` came back (or failed: the stream's end or the PING
  /// timeout tells).
  Pong(usize),
  /// The instance that serves `key` was found (`complete` when every connection answered, so
  /// the choice may be cached).
  Located {
    key: String,
    index: usize,
    complete: bool,
  },
  /// A blocking pop on connection `index` came back: its blocker (for the next one; `None` when
  /// that connection is lost or could not be made) and its outcome.
  Blocking {
    index: usize,
    qid: Qid,
    blocker: Option<Blocker>,
    done: Done,
  },
  /// The lane's blocking pops of consumer `qid` on connection `index` ended.
  Leased {
    index: usize,
    qid: Qid,
    end: crate::busmq::lane::LeaseEnd,
  },
  /// For a JS callback (a stateless query).
  Reply {
    rid: Rid,
    qid: Qid,
    result: Result<ReplyValue, Failure>,
  },
}

/// The two connections of a bus: commands and SUBSCRIBE.
#[derive(Clone)]
pub struct Links {
  /// Every command but SUBSCRIBE (pipelined by the multiplexer).
  pub write: Writer,
  /// SUBSCRIBE/UNSUBSCRIBE.
  pub sink: PubSubSink,
  /// The server takes `LPOP key count` (Redis 6.2+): plain pops need no script.
  pub lpop_count: bool,
  /// Where blocking pops connect (one connection each, pooled by the loop): a single master
  /// that takes `BLMPOP` (Redis 7+). `None` on a cluster or an older server.
  pub blocking: Option<redis::Client>,
}

pub(super) fn push_script() -> &'static Script {
  static S: OnceLock<Script> = OnceLock::new();
  S.get_or_init(|| Script::new(scripts::PUSH))
}

pub(super) fn pop_reliable_script() -> &'static Script {
  static S: OnceLock<Script> = OnceLock::new();
  S.get_or_init(|| Script::new(scripts::POP_RELIABLE))
}

pub(super) fn ack_script() -> &'static Script {
  static S: OnceLock<Script> = OnceLock::new();
  S.get_or_init(|| Script::new(scripts::ACK))
}

pub(super) fn hset_expire_script() -> &'static Script {
  static S: OnceLock<Script> = OnceLock::new();
  S.get_or_init(|| Script::new(scripts::HSET_EXPIRE))
}

/// `HSET key pairs...` and `EXPIRE key ttl` as one atomic call (a script rather than MULTI, so
/// that it also runs on a cluster).
pub(super) async fn hset_expire(
  conn: &mut Writer,
  key: &str,
  ttl: u32,
  pairs: &[(&str, &str)],
) -> redis::RedisResult<()> {
  let mut call = hset_expire_script().key(key);
  call.arg(ttl);
  for (k, v) in pairs {
    call.arg(*k).arg(*v);
  }
  call.invoke_async::<i64>(conn).await.map(drop)
}

pub(super) fn pop_script() -> &'static Script {
  static S: OnceLock<Script> = OnceLock::new();
  S.get_or_init(|| Script::new(scripts::POP))
}

/// A Redis error as JS sees it: a code and a message; `connection` when the link is gone.
pub fn failure(err: &RedisError) -> Failure {
  let connection = err.is_io_error() || err.is_connection_dropped() || err.is_connection_refusal();
  let code = if err.is_connection_refusal() {
    "ECONNREFUSED"
  } else if err.is_timeout() {
    "ETIMEDOUT"
  } else if err.is_connection_dropped() {
    "ECONNRESET"
  } else if let Some(code) = err.code() {
    code
  } else if let Some(code) = err
    .is_io_error()
    .then(|| super::tls::handshake_code(&err.to_string()))
    .flatten()
  {
    code
  } else if err.is_io_error() {
    "EIO"
  } else {
    match err.kind() {
      // A reply that is not RESP, or not the shape a command answers with: a broken or
      // hostile server.
      redis::ErrorKind::Parse | redis::ErrorKind::UnexpectedReturnType => "EPROTO",
      redis::ErrorKind::AuthenticationFailed => "EAUTH",
      _ => "EREDIS",
    }
  };
  Failure {
    code: code.to_string(),
    message: err.to_string(),
    connection,
  }
}

/// A failure made here rather than by Redis (no connection, too much buffered).
pub fn local_failure(code: &str, message: &str) -> Failure {
  Failure {
    code: code.to_string(),
    message: message.to_string(),
    connection: true,
  }
}

/// What `op` completes with when it cannot run at all.
pub fn failed(op: Op, failure: Failure) -> Completion {
  let op = match op {
    Op::Probe { qid, .. } | Op::Create { qid, .. } => FailedOp::Attach(qid),
    Op::Touch { qid, .. } => FailedOp::Touch(qid),
    Op::Push { qid, items, .. } => FailedOp::Push(qid, items.iter().map(|(rid, _)| *rid).collect()),
    Op::Pop { qid, .. } | Op::Peek { qid, .. } => FailedOp::Pop(qid),
    Op::Subscribe { channel } | Op::Unsubscribe { channel } => FailedOp::Subscribe(channel),
    Op::Delete { qid, .. } => FailedOp::Delete(qid),
    Op::Restore { qid, .. } => FailedOp::Restore(qid),
    // Nothing waits for an unblock's outcome.
    Op::Unblock { .. } => return Completion::State(Done::Ack),
    Op::Key { rid, .. } => {
      return Completion::Reply {
        rid,
        qid: 0,
        result: Err(failure),
      }
    }
    Op::Publish { rid, pid: qid, .. } | Op::Query { rid, qid, .. } => {
      return Completion::Reply {
        rid,
        qid,
        result: Err(failure),
      }
    }
  };
  Completion::State(Done::Failed { op, failure })
}

/// One liveness PING on the write connection of connection `index`.
pub async fn ping(index: usize, mut links: Links) -> Completion {
  let _: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut links.write).await;
  Completion::Pong(index)
}

/// The key that decides which Redis instance runs `op` (busmq's `_connection(key)`): a queue's
/// metadata key. `None` means the first connection (pub/sub of `bus.pubsub()`).
pub fn route_key(op: &Op) -> Option<String> {
  match op {
    Op::Probe { metadata, .. } | Op::Create { metadata, .. } => Some(metadata.clone()),
    Op::Touch { keys, .. }
    | Op::Push { keys, .. }
    | Op::Restore { keys, .. }
    | Op::Delete { keys, .. }
    | Op::Query { keys, .. } => Some(keys.metadata.clone()),
    Op::Pop { messages, .. } | Op::Peek { messages, .. } => queue_route_key(messages),
    Op::Subscribe { channel } | Op::Unsubscribe { channel } => queue_route_key(channel),
    // busmq: pub/sub on the first connection, persisted objects where their key lives.
    // The loop runs an unblock where the pop it ends runs.
    Op::Publish { .. } | Op::Unblock { .. } => None,
    Op::Key { key, .. } => Some(key.clone()),
  }
}

/// busmq's instance choice for `key` among `links` (`None` = that connection is down): the first
/// connection (in url order) whose Redis has the key, else [`instance_for`] of the key.
pub async fn locate(key: String, links: Vec<Option<Links>>) -> Completion {
  let n = links.len();
  let probes = links.into_iter().map(|link| {
    let key = key.clone();
    async move {
      let mut link = link?;
      let found: redis::RedisResult<i64> = redis::cmd("EXISTS")
        .arg(&key)
        .query_async(&mut link.write)
        .await;
      found.ok()
    }
  });
  let answers = futures::future::join_all(probes).await;
  let complete = answers.iter().all(Option::is_some);
  let index = answers
    .iter()
    .position(|a| *a == Some(1))
    .unwrap_or_else(|| instance_for(&key, n));
  Completion::Located {
    key,
    index,
    complete,
  }
}

/// Runs `op` and reports its outcome (never fails: errors become [`Done::Failed`]).
pub async fn run(op: Op, mut links: Links) -> Completion {
  let result = match &op {
    Op::Subscribe { channel } => links.sink.subscribe(channel).await.map(|()| {
      Completion::State(Done::Subscribed {
        channel: channel.clone(),
      })
    }),
    Op::Unsubscribe { channel } => links
      .sink
      .unsubscribe(channel)
      .await
      .map(|()| Completion::State(Done::Ack)),
    Op::Query {
      rid,
      qid,
      keys,
      query,
    } => {
      let result = query::run(&mut links.write, keys, query).await;
      return Completion::Reply {
        rid: *rid,
        qid: *qid,
        result: result.map_err(|e| failure(&e)),
      };
    }
    Op::Publish {
      pid,
      rid,
      channel,
      payload,
    } => {
      let result: redis::RedisResult<i64> = redis::cmd("PUBLISH")
        .arg(channel)
        .arg(payload.as_ref())
        .query_async(&mut links.write)
        .await;
      return Completion::Reply {
        rid: *rid,
        qid: *pid,
        result: result.map(|_| ReplyValue::Unit).map_err(|e| failure(&e)),
      };
    }
    Op::Key { rid, key, query } => {
      let result = query::run_key(&mut links.write, key, query).await;
      return Completion::Reply {
        rid: *rid,
        qid: 0,
        result: result.map_err(|e| failure(&e)),
      };
    }
    op => queue::run(&mut links.write, links.lpop_count, op).await,
  };
  match result {
    Ok(done) => done,
    Err(err) => failed(op, failure(&err)),
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::busmq::keys::QueueKeys;

  #[test]
  fn queue_operations_route_by_their_metadata_key_and_pubsub_by_the_first_url() {
    let keys = QueueKeys::new("q");
    let meta = Some("bus:queue:q:metadata".to_string());
    let pop = Op::Pop {
      qid: 1,
      messages: keys.messages.clone(),
      count: 1,
      toack: None,
      ttl: 30,
      block: true,
      remaining: -1,
    };
    assert_eq!(route_key(&pop), meta);
    let sub = Op::Subscribe {
      channel: keys.available.clone(),
    };
    assert_eq!(route_key(&sub), meta);
    let push = Op::Push {
      qid: 1,
      keys,
      ttl: 30,
      maxsize: 0,
      items: Vec::new(),
    };
    assert_eq!(route_key(&push), meta);
    let pubsub = Op::Subscribe {
      channel: "bus:pubsub:news".into(),
    };
    assert_eq!(route_key(&pubsub), None);
    let persisted = Op::Key {
      rid: 1,
      key: "bus:persisted:p".into(),
      query: crate::busmq::types::KeyQuery::HGetAll,
    };
    assert_eq!(route_key(&persisted).as_deref(), Some("bus:persisted:p"));
  }
}
