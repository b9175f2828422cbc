//! The packed records between `lib/busmq/` and the busmq loop (pure): command records from
//! JavaScript into [`Command`]s, and [`Event`]s into records for JavaScript. The kinds are
//! defined here once; JavaScript reads them through `busmqKinds()`.

use super::types::{AttachOptions, Command, Event, KeyQuery, Qid, Query, Rid};
use crate::boundary::batch::Record;
use bytes::Bytes;
use thiserror::Error;

/// Command record kinds (JS -> Rust), with their frames.
pub mod command {
  /// `[qid, name]`
  pub const OPEN: u8 = 1;
  /// `[qid]`
  pub const FORGET: u8 = 2;
  /// `[qid, ttl, maxsize, discoverable 1|0]`
  pub const ATTACH: u8 = 3;
  /// `[qid]`
  pub const DETACH: u8 = 4;
  /// `[qid, rid, payload]`
  pub const PUSH: u8 = 5;
  /// `[qid, remove 1|0, max]`, or `[qid, remove, max, last]` for a reliable consumer
  pub const CONSUME: u8 = 6;
  /// `[qid]`
  pub const STOP: u8 = 7;
  /// `[qid]`
  pub const CLOSE: u8 = 8;
  /// `[qid, rid, op, ...args]`: op `exists|count|ttl|maxsize|find|flush|get key|all|ack ttl id|set ttl k v...`
  pub const QUERY: u8 = 9;
  /// `[pid, channel]`: a pub/sub object subscribes.
  pub const SUBSCRIBE: u8 = 10;
  /// `[pid, channel]`
  pub const UNSUBSCRIBE: u8 = 11;
  /// `[pid, rid, channel, payload]`
  pub const PUBLISH: u8 = 12;
  /// `[0, rid, key, op, ...args]`: op `hgetall|hset ttl k v...|expire ttl`
  pub const KEY: u8 = 13;
}

/// Event record kinds (Rust -> JS), with their frames.
pub mod event {
  /// `[]`
  pub const ONLINE: u8 = 1;
  /// `[message]`
  pub const OFFLINE: u8 = 2;
  /// `[code, message]`: an error of the bus itself.
  pub const BUS_ERROR: u8 = 3;
  /// `[qid]`
  pub const ATTACHING: u8 = 4;
  /// `[qid, existed 1|0, ttl]`
  pub const ATTACHED: u8 = 5;
  /// `[qid]`
  pub const DETACHING: u8 = 6;
  /// `[qid]`
  pub const DETACHED: u8 = 7;
  /// `[qid, on 1|0]`
  pub const CONSUMING: u8 = 8;
  /// `[qid, id, payload]`
  pub const MESSAGE: u8 = 9;
  /// `[qid]`
  pub const CLOSED: u8 = 10;
  /// `[rid, id]` (empty id = queue full)
  pub const PUSHED: u8 = 11;
  /// `[rid, code, message]`
  pub const REPLY_ERROR: u8 = 12;
  /// `[qid, code, message]`
  pub const ERROR: u8 = 13;
  /// `[rid, type, ...values]`: type `n` null, `b` bool, `i` int, `s` string, `h` flat pairs, `u` nothing
  pub const REPLY: u8 = 14;
  /// `[]`: the loop has ended (after `disconnect()`).
  pub const STOPPED: u8 = 15;
  /// `[pid]`
  pub const SUBSCRIBED: u8 = 16;
  /// `[pid]`
  pub const UNSUBSCRIBED: u8 = 17;
  /// `[pid, payload]`
  pub const PUBSUB_MESSAGE: u8 = 18;
}

/// Every kind as JSON `{ "C_OPEN": 1, ..., "E_ONLINE": 1, ... }` for `lib/busmq/kinds.js`.
pub fn kinds_json() -> String {
  use command as c;
  use event as e;
  #[rustfmt::skip]
  let pairs: [(&str, u8); 31] = [
    ("C_OPEN", c::OPEN), ("C_FORGET", c::FORGET), ("C_ATTACH", c::ATTACH), ("C_DETACH", c::DETACH),
    ("C_PUSH", c::PUSH), ("C_CONSUME", c::CONSUME), ("C_STOP", c::STOP), ("C_CLOSE", c::CLOSE),
    ("C_QUERY", c::QUERY), ("E_ONLINE", e::ONLINE), ("E_OFFLINE", e::OFFLINE),
    ("E_BUS_ERROR", e::BUS_ERROR), ("E_ATTACHING", e::ATTACHING), ("E_ATTACHED", e::ATTACHED),
    ("E_DETACHING", e::DETACHING), ("E_DETACHED", e::DETACHED), ("E_CONSUMING", e::CONSUMING),
    ("E_MESSAGE", e::MESSAGE), ("E_CLOSED", e::CLOSED), ("E_PUSHED", e::PUSHED),
    ("E_REPLY_ERROR", e::REPLY_ERROR), ("E_ERROR", e::ERROR), ("E_REPLY", e::REPLY),
    ("E_STOPPED", e::STOPPED), ("C_SUBSCRIBE", c::SUBSCRIBE), ("C_UNSUBSCRIBE", c::UNSUBSCRIBE),
    ("C_PUBLISH", c::PUBLISH), ("C_KEY", c::KEY), ("E_SUBSCRIBED", e::SUBSCRIBED),
    ("E_UNSUBSCRIBED", e::UNSUBSCRIBED), ("E_PUBSUB_MESSAGE", e::PUBSUB_MESSAGE),
  ];

  let map: serde_json::Map<String, serde_json::Value> = pairs
    .iter()
    .map(|(k, v)| ((*k).to_string(), (*v).into()))
    .collect();
  serde_json::Value::Object(map).to_string()
}

/// Why a command record cannot be read (a facade bug, never user input).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CodecError {
  /// Unknown kind byte.
  #[error("unknown busmq command kind {0}")]
  Kind(u8),
  /// Missing or malformed frame.
  #[error("malformed busmq command of kind {0}")]
  Frame(u8),
}

/// The value a query answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyValue {
  /// `cb(null)` with nothing.
  Unit,
  /// `cb(null, null)`.
  Null,
  /// `cb(null, bool)`.
  Bool(bool),
  /// `cb(null, number)`.
  Int(i64),
  /// `cb(null, string)`.
  Str(Bytes),
  /// `cb(null, object)` from flat field/value pairs.
  Hash(Vec<Bytes>),
}

struct Frames<'a> {
  kind: u8,
  frames: &'a [Bytes],
  at: usize,
}

impl Frames<'_> {
  fn bytes(&mut self) -> Result<Bytes, CodecError> {
    let f = self
      .frames
      .get(self.at)
      .ok_or(CodecError::Frame(self.kind))?;
    self.at += 1;
    Ok(f.clone())
  }
  fn text(&mut self) -> Result<String, CodecError> {
    String::from_utf8(self.bytes()?.to_vec()).map_err(|_| CodecError::Frame(self.kind))
  }
  fn num<T: std::str::FromStr>(&mut self) -> Result<T, CodecError> {
    self
      .text()?
      .parse()
      .map_err(|_| CodecError::Frame(self.kind))
  }
  fn flag(&mut self) -> Result<bool, CodecError> {
    Ok(self.bytes()?.as_ref() == b"1")
  }
}

/// Reads one command record.
///
/// # Errors
/// [`CodecError`] for an unknown kind or a missing or malformed frame.
pub fn parse_command(record: &Record) -> Result<Command, CodecError> {
  let mut f = Frames {
    kind: record.kind,
    frames: &record.frames,
    at: 0,
  };
  let qid: Qid = f.num()?;
  Ok(match record.kind {
    command::OPEN => Command::Open {
      qid,
      name: f.text()?,
    },
    command::FORGET => Command::Forget { qid },
    command::ATTACH => Command::Attach {
      qid,
      opts: AttachOptions {
        ttl: f.num()?,
        maxsize: f.num()?,
        discoverable: f.flag()?,
      },
    },
    command::DETACH => Command::Detach { qid },
    command::PUSH => Command::Push {
      qid,
      rid: f.num()?,
      payload: f.bytes()?,
    },
    command::CONSUME => Command::Consume {
      qid,
      remove: f.flag()?,
      max: f.num()?,
      // Optional fourth frame: the `last` id of a reliable consumer.
      reliable: if f.at < f.frames.len() {
        Some(f.num()?)
      } else {
        None
      },
    },
    command::STOP => Command::Stop { qid },
    command::CLOSE => Command::Close { qid },
    command::SUBSCRIBE => Command::Subscribe {
      pid: qid,
      channel: f.text()?,
    },
    command::UNSUBSCRIBE => Command::Unsubscribe {
      pid: qid,
      channel: f.text()?,
    },
    command::PUBLISH => Command::Publish {
      pid: qid,
      rid: f.num()?,
      channel: f.text()?,
      payload: f.bytes()?,
    },
    command::KEY => Command::Key {
      rid: f.num()?,
      key: f.text()?,
      query: parse_key_query(&mut f)?,
    },
    command::QUERY => {
      let rid: Rid = f.num()?;
      Command::Query {
        qid,
        rid,
        query: parse_query(&mut f)?,
      }
    }
    other => return Err(CodecError::Kind(other)),
  })
}

fn parse_query(f: &mut Frames<'_>) -> Result<Query, CodecError> {
  Ok(match f.text()?.as_str() {
    "exists" => Query::Exists,
    "count" => Query::Count,
    "ttl" => Query::Ttl,
    "maxsize" => Query::Maxsize,
    "find" => Query::Find,
    "flush" => Query::Flush,
    "get" => Query::MetaGet(f.text()?),
    "all" => Query::MetaAll,
    "ack" => Query::Ack {
      ttl: f.num()?,
      id: f.num()?,
    },
    "set" => {
      let ttl = f.num()?;
      let mut pairs = Vec::new();
      while f.at + 1 < f.frames.len() {
        pairs.push((f.text()?, f.text()?));
      }
      if pairs.is_empty() {
        return Err(CodecError::Frame(f.kind));
      }
      Query::MetaSet { pairs, ttl }
    }
    _ => return Err(CodecError::Frame(f.kind)),
  })
}

fn parse_key_query(f: &mut Frames<'_>) -> Result<KeyQuery, CodecError> {
  Ok(match f.text()?.as_str() {
    "hgetall" => KeyQuery::HGetAll,
    "expire" => KeyQuery::Expire { ttl: f.num()? },
    "hset" => {
      let ttl = f.num()?;
      let mut pairs = Vec::new();
      while f.at + 1 < f.frames.len() {
        pairs.push((f.text()?, f.text()?));
      }
      if pairs.is_empty() {
        return Err(CodecError::Frame(f.kind));
      }
      KeyQuery::HSet { pairs, ttl }
    }
    _ => return Err(CodecError::Frame(f.kind)),
  })
}

fn flag(on: bool) -> &'static [u8] {
  if on {
    b"1"
  } else {
    b"0"
  }
}

/// Appends `event` as one record through `push(kind, frames)`.
pub fn encode_event(ev: &Event, push: &mut impl FnMut(u8, &[&[u8]])) {
  use self::event as k;
  match ev {
    Event::Attaching(q) => push(k::ATTACHING, &[q.to_string().as_bytes()]),
    Event::Attached { qid, existed, ttl } => push(
      k::ATTACHED,
      &[
        qid.to_string().as_bytes(),
        flag(*existed),
        ttl.to_string().as_bytes(),
      ],
    ),
    Event::Detaching(q) => push(k::DETACHING, &[q.to_string().as_bytes()]),
    Event::Detached(q) => push(k::DETACHED, &[q.to_string().as_bytes()]),
    Event::Consuming { qid, on } => push(k::CONSUMING, &[qid.to_string().as_bytes(), flag(*on)]),
    Event::Message { qid, id, payload } => push(
      k::MESSAGE,
      &[
        qid.to_string().as_bytes(),
        id.to_string().as_bytes(),
        payload,
      ],
    ),
    Event::Closed(q) => push(k::CLOSED, &[q.to_string().as_bytes()]),
    Event::Subscribed(p) => push(k::SUBSCRIBED, &[p.to_string().as_bytes()]),
    Event::Unsubscribed(p) => push(k::UNSUBSCRIBED, &[p.to_string().as_bytes()]),
    Event::PubsubMessage { pid, payload } => {
      push(k::PUBSUB_MESSAGE, &[pid.to_string().as_bytes(), payload]);
    }
    Event::PushReply { rid, id } => {
      let id = id.map(|i| i.to_string()).unwrap_or_default();
      push(k::PUSHED, &[rid.to_string().as_bytes(), id.as_bytes()]);
    }
    Event::ReplyError { rid, code, message } => push(
      k::REPLY_ERROR,
      &[
        rid.to_string().as_bytes(),
        code.as_bytes(),
        message.as_bytes(),
      ],
    ),
    Event::Error { qid, code, message } => push(
      k::ERROR,
      &[
        qid.to_string().as_bytes(),
        code.as_bytes(),
        message.as_bytes(),
      ],
    ),
  }
}

/// Appends a query's answer as one `REPLY` record.
pub fn encode_reply(rid: Rid, value: &ReplyValue, push: &mut impl FnMut(u8, &[&[u8]])) {
  let rid = rid.to_string();
  let rid = rid.as_bytes();
  match value {
    ReplyValue::Unit => push(event::REPLY, &[rid, b"u"]),
    ReplyValue::Null => push(event::REPLY, &[rid, b"n"]),
    ReplyValue::Bool(b) => push(event::REPLY, &[rid, b"b", flag(*b)]),
    ReplyValue::Int(i) => push(event::REPLY, &[rid, b"i", i.to_string().as_bytes()]),
    ReplyValue::Str(s) => push(event::REPLY, &[rid, b"s", s]),
    ReplyValue::Hash(items) => {
      let mut frames: Vec<&[u8]> = vec![rid, b"h"];
      frames.extend(items.iter().map(|b| b.as_ref()));
      push(event::REPLY, &frames);
    }
  }
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
