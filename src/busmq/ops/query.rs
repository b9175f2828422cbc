//! The stateless queue calls (`count`, `exists`, `ttl`, `metadata`, `ack`...).

use super::ack_script;
use super::writer::Writer;
use crate::busmq::codec::ReplyValue;
use crate::busmq::keys::QueueKeys;
use crate::busmq::types::{KeyQuery, Query};
use bytes::Bytes;
use redis::RedisResult;

async fn hget(conn: &mut Writer, key: &str, field: &str) -> RedisResult<Option<Vec<u8>>> {
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

/// Runs one query.
pub(super) async fn run(
  conn: &mut Writer,
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
      let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
      super::hset_expire(conn, meta, *ttl, &pairs).await?;
      ReplyValue::Unit
    }
  })
}

/// Runs one call on a plain key (persisted objects).
pub(super) async fn run_key(
  conn: &mut Writer,
  key: &str,
  query: &KeyQuery,
) -> RedisResult<ReplyValue> {
  Ok(match query {
    KeyQuery::HGetAll => {
      let flat: Vec<Vec<u8>> = redis::cmd("HGETALL").arg(key).query_async(conn).await?;
      if flat.is_empty() {
        ReplyValue::Null
      } else {
        ReplyValue::Hash(flat.into_iter().map(Bytes::from).collect())
      }
    }
    KeyQuery::HSet { pairs, ttl } => {
      // busmq writes then touches; one script leaves no moment without an expiry.
      let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
      super::hset_expire(conn, key, *ttl, &pairs).await?;
      ReplyValue::Unit
    }
    KeyQuery::Expire { ttl } => {
      redis::cmd("EXPIRE")
        .arg(key)
        .arg(*ttl)
        .query_async::<()>(conn)
        .await?;
      ReplyValue::Unit
    }
  })
}
