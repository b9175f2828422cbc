//! Runs one [`Op`] over the bus's Redis connections and turns the answer into a [`Completion`].
//! Each call is independent; the multiplexed write connection pipelines them on the wire.

use super::codec::ReplyValue;
use super::keys::QueueKeys;
use super::scripts;
use super::types::{AttachOptions, Done, FailedOp, Failure, Op, Qid, Query, Rid};
use bytes::Bytes;
use redis::aio::{MultiplexedConnection, PubSubSink};
use redis::{RedisError, RedisResult, Script};
use std::sync::OnceLock;

/// What came back from Redis.
#[derive(Debug)]
pub enum Completion {
  /// For the queue state machine.
  State(Done),
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
  pub write: MultiplexedConnection,
  /// SUBSCRIBE/UNSUBSCRIBE.
  pub sink: PubSubSink,
}

fn push_script() -> &'static Script {
  static S: OnceLock<Script> = OnceLock::new();
  S.get_or_init(|| Script::new(scripts::PUSH))
}

fn pop_reliable_script() -> &'static Script {
  static S: OnceLock<Script> = OnceLock::new();
  S.get_or_init(|| Script::new(scripts::POP_RELIABLE))
}

fn ack_script() -> &'static Script {
  static S: OnceLock<Script> = OnceLock::new();
  S.get_or_init(|| Script::new(scripts::ACK))
}

fn pop_script() -> &'static Script {
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
    Op::Query { rid, qid, .. } => {
      return Completion::Reply {
        rid,
        qid,
        result: Err(failure),
      }
    }
  };
  Completion::State(Done::Failed { op, failure })
}

/// Runs `op` and reports its outcome (never fails: errors become [`Done::Failed`]).
pub async fn run(op: Op, mut links: Links) -> Completion {
  let conn = &mut links.write;
  let result: RedisResult<Completion> = match &op {
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
    } => pop(conn, *qid, messages, *count, toack.as_deref(), *ttl).await,
    Op::Restore {
      keys, last, ttl, ..
    } => ack_script()
      .key(&keys.toack)
      .key(&keys.messages)
      .arg(*last)
      .arg(*ttl)
      .arg("true")
      .invoke_async::<i64>(conn)
      .await
      .map(|_| Completion::State(Done::Ack)),
    Op::Peek {
      qid,
      messages,
      from,
      count,
    } => peek(conn, *qid, messages, *from, *count).await,
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
    Op::Delete { qid, keys } => {
      let del: RedisResult<()> = redis::cmd("DEL")
        .arg(&keys.data_keys()[..])
        .query_async(conn)
        .await;
      del.map(|()| Completion::State(Done::Deleted { qid: *qid }))
    }
    Op::Query {
      rid,
      qid,
      keys,
      query,
    } => Ok(Completion::Reply {
      rid: *rid,
      qid: *qid,
      result: self::query(conn, keys, query)
        .await
        .map_err(|e| failure(&e)),
    }),
  };
  match result {
    Ok(done) => done,
    Err(err) => failed(op, failure(&err)),
  }
}

async fn probe(
  conn: &mut MultiplexedConnection,
  qid: Qid,
  metadata: &str,
) -> RedisResult<Completion> {
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
  conn: &mut MultiplexedConnection,
  qid: Qid,
  metadata: &str,
  opts: AttachOptions,
) -> RedisResult<Completion> {
  let discover = if opts.discoverable { "true" } else { "false" };
  redis::pipe()
    .atomic()
    .cmd("HSET")
    .arg(metadata)
    .arg(&[
      "ttl",
      &opts.ttl.to_string(),
      "source",
      "local",
      "discover",
      discover,
    ])
    .arg(&["maxsize", &opts.maxsize.to_string()])
    .ignore()
    .cmd("EXPIRE")
    .arg(metadata)
    .arg(opts.ttl)
    .ignore()
    .query_async::<()>(conn)
    .await?;
  Ok(Completion::State(Done::Created { qid }))
}

async fn touch(
  conn: &mut MultiplexedConnection,
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
      .arg(super::keys::NOTIFICATIONS_CHANNEL)
      .arg(notice)
      .ignore();
  }
  pipe.query_async::<()>(conn).await?;
  Ok(Completion::State(Done::Ack))
}

async fn push(
  conn: &mut MultiplexedConnection,
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
  Completion::State(Done::Popped { qid, messages })
}

async fn pop(
  conn: &mut MultiplexedConnection,
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

async fn peek(
  conn: &mut MultiplexedConnection,
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

async fn hget(
  conn: &mut MultiplexedConnection,
  key: &str,
  field: &str,
) -> RedisResult<Option<Vec<u8>>> {
  redis::cmd("HGET")
    .arg(key)
    .arg(field)
    .query_async(conn)
    .await
}

fn int_or_null(v: Option<Vec<u8>>) -> ReplyValue {
  v.and_then(|b| String::from_utf8(b).ok())
    .and_then(|s| s.trim().parse::<i64>().ok())
    .map_or(ReplyValue::Null, ReplyValue::Int)
}

async fn query(
  conn: &mut MultiplexedConnection,
  keys: &QueueKeys,
  query: &Query,
) -> RedisResult<ReplyValue> {
  let meta = keys.metadata.as_str();
  Ok(match query {
    Query::Exists => ReplyValue::Bool(
      redis::cmd("EXISTS")
        .arg(meta)
        .query_async::<i64>(conn)
        .await?
        > 0,
    ),
    Query::Count => ReplyValue::Int(
      redis::cmd("LLEN")
        .arg(&keys.messages)
        .query_async::<i64>(conn)
        .await?
        / 2,
    ),
    Query::Ttl => int_or_null(hget(conn, meta, "ttl").await?),
    Query::Maxsize => int_or_null(hget(conn, meta, "maxsize").await?),
    Query::Find => hget(conn, meta, "source")
      .await?
      .map_or(ReplyValue::Null, |s| ReplyValue::Str(s.into())),
    Query::MetaGet(field) => hget(conn, meta, field)
      .await?
      .map_or(ReplyValue::Null, |s| ReplyValue::Str(s.into())),
    Query::Ack { id, ttl } => {
      ack_script()
        .key(&keys.toack)
        .arg(*id)
        .arg(*ttl)
        .invoke_async::<i64>(conn)
        .await?;
      ReplyValue::Unit
    }
    Query::Flush => {
      redis::cmd("DEL")
        .arg(&keys.messages)
        .query_async::<()>(conn)
        .await?;
      ReplyValue::Unit
    }
    Query::MetaAll => {
      let flat: Vec<Vec<u8>> = redis::cmd("HGETALL").arg(meta).query_async(conn).await?;
      if flat.is_empty() {
        ReplyValue::Null
      } else {
        ReplyValue::Hash(flat.into_iter().map(Bytes::from).collect())
      }
    }
    Query::MetaSet { pairs, ttl } => {
      let mut hset = redis::cmd("HSET");
      hset.arg(meta);
      for (k, v) in pairs {
        hset.arg(k).arg(v);
      }
      redis::pipe()
        .atomic()
        .add_command(hset)
        .ignore()
        .cmd("EXPIRE")
        .arg(meta)
        .arg(*ttl)
        .ignore()
        .query_async::<()>(conn)
        .await?;
      ReplyValue::Unit
    }
  })
}
