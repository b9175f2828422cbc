//! The lane's pushes: per queue, the payloads JS handed over and the one push call in flight
//! (the runtime path's rule, so a queue's messages enter Redis in push order), on one
//! connection. Calls are `EVALSHA` of the push script; a `NOSCRIPT` answer (the script cache
//! was flushed, or a new master) sends the same call again as `EVAL`, which also caches it.

use super::{push_ids, LaneError, RespConn};
use crate::busmq::keys::{QueueKeys, RedisTarget};
use crate::busmq::ops::failure;
use crate::busmq::scripts;
use crate::busmq::state::{chunk_len, failure_text};
use crate::busmq::types::{Event, FailedOp, Failure, Qid, Rid};
use crate::driver::reactor::{IoStream, Reactor};
use bytes::Bytes;
use redis::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::OnceLock;
use std::task::{Context, Poll};

/// One queue's pushes.
struct Queue {
  keys: QueueKeys,
  ttl: u32,
  maxsize: u64,
  /// Handed over, not sent yet.
  items: Vec<(Rid, Bytes)>,
  in_flight: bool,
}

/// A push call on the wire.
struct Sent {
  qid: Qid,
  items: Vec<(Rid, Bytes)>,
  /// Sent as `EVAL` (a `NOSCRIPT` answer to it is an error, not a reason to send it again).
  eval: bool,
}

/// The push connection and what it carries.
pub struct Pushes<S> {
  conn: Option<RespConn<S>>,
  queues: HashMap<Qid, Queue>,
  sent: VecDeque<Sent>,
}

impl<S> Default for Pushes<S> {
  fn default() -> Self {
    Self {
      conn: None,
      queues: HashMap::new(),
      sent: VecDeque::new(),
    }
  }
}

fn push_sha() -> &'static str {
  static SHA: OnceLock<String> = OnceLock::new();
  SHA.get_or_init(|| redis::Script::new(scripts::PUSH).get_hash().to_string())
}

/// The push script call for `items` of queue `q` (`EVAL` with the script's text when `eval`).
fn push_call(q: &Queue, items: &[(Rid, Bytes)], eval: bool) -> redis::Cmd {
  let mut cmd = if eval {
    let mut c = redis::cmd("EVAL");
    c.arg(scripts::PUSH);
    c
  } else {
    let mut c = redis::cmd("EVALSHA");
    c.arg(push_sha());
    c
  };
  cmd.arg(4);
  for key in q.keys.data_keys() {
    cmd.arg(key);
  }
  cmd.arg(q.ttl).arg(&q.keys.available).arg(q.maxsize);
  for (_, payload) in items {
    cmd.arg(payload.as_ref());
  }
  cmd
}

/// The error each callback of a failed push call hears (the runtime path's text).
fn push_failed(qid: Qid, items: &[(Rid, Bytes)], f: &Failure, events: &mut Vec<Event>) {
  let text = failure_text(&FailedOp::Push(qid, Vec::new()));
  for (rid, _) in items {
    events.push(Event::ReplyError {
      rid: *rid,
      code: f.code.clone(),
      message: format!("{text}{}", f.message),
    });
  }
}

impl<S: IoStream> Pushes<S> {
  /// Starts the connection.
  ///
  /// # Errors
  /// What the OS says at once.
  pub fn connect<R: Reactor<Stream = S>>(
    &mut self,
    reactor: &R,
    target: &RedisTarget,
  ) -> Result<(), LaneError> {
    self.conn = Some(RespConn::connect(reactor, target)?);
    Ok(())
  }

  /// True while the connection is up (connected, not failed).
  pub fn connected(&self) -> bool {
    self.conn.as_ref().is_some_and(RespConn::connected)
  }

  /// True when nothing waits or is in flight.
  pub fn is_idle(&self) -> bool {
    self.sent.is_empty() && self.queues.values().all(|q| q.items.is_empty())
  }

  /// Takes one push of JS.
  pub fn add(&mut self, qid: Qid, name: &str, ttl: u32, maxsize: u64, rid: Rid, payload: Bytes) {
    let q = self.queues.entry(qid).or_insert_with(|| Queue {
      keys: QueueKeys::new(name),
      ttl,
      maxsize,
      items: Vec::new(),
      in_flight: false,
    });
    q.ttl = ttl;
    q.maxsize = maxsize;
    q.items.push((rid, payload));
  }

  /// Reads the answers that came, and sends the next call of every queue that has none out.
  ///
  /// # Errors
  /// The connection failed (the caller fails what it carried, see [`Pushes::fail_all`]).
  pub fn poll(&mut self, cx: &mut Context<'_>, events: &mut Vec<Event>) -> Result<(), LaneError> {
    let Some(mut conn) = self.conn.take() else {
      if !self.is_idle() {
        // Handed over just as the connection went: nothing of it was sent.
        return Err(LaneError::Closed);
      }
      return Ok(());
    };
    let result = self.turn(&mut conn, cx, events);
    if result.is_ok() {
      self.conn = Some(conn);
    }
    result
  }

  fn turn(
    &mut self,
    conn: &mut RespConn<S>,
    cx: &mut Context<'_>,
    events: &mut Vec<Event>,
  ) -> Result<(), LaneError> {
    // Read even with nothing out: an idle connection that Redis closed (a restart) is noticed
    // now, not by the next push.
    while let Poll::Ready(reply) = conn.poll_reply(cx) {
      self.answered(conn, reply?, events)?;
    }
    for (qid, q) in &mut self.queues {
      if q.in_flight || q.items.is_empty() {
        continue;
      }
      let rest = q.items.split_off(chunk_len(&q.items));
      let items = std::mem::replace(&mut q.items, rest);
      conn.queue(&push_call(q, &items, false));
      q.in_flight = true;
      self.sent.push_back(Sent {
        qid: *qid,
        items,
        eval: false,
      });
    }
    self
      .queues
      .retain(|_, q| q.in_flight || !q.items.is_empty());
    conn.flush(cx)?;
    Ok(())
  }

  fn answered(
    &mut self,
    conn: &mut RespConn<S>,
    reply: Value,
    events: &mut Vec<Event>,
  ) -> Result<(), LaneError> {
    let sent = self
      .sent
      .pop_front()
      .ok_or_else(|| LaneError::Protocol("an answer to no call".into()))?;
    let Some(q) = self.queues.get_mut(&sent.qid) else {
      return Err(LaneError::Protocol(
        "an answer for a queue not pushing".into(),
      ));
    };
    match reply {
      Value::ServerError(e) => {
        let err = redis::RedisError::from(e);
        if err.code() == Some("NOSCRIPT") && !sent.eval {
          conn.queue(&push_call(q, &sent.items, true));
          self.sent.push_back(Sent { eval: true, ..sent });
          return Ok(());
        }
        push_failed(sent.qid, &sent.items, &failure(&err), events);
      }
      value => match redis::from_redis_value::<Vec<u64>>(value) {
        Ok(ids) => {
          let rids: Vec<Rid> = sent.items.iter().map(|(rid, _)| *rid).collect();
          events.extend(push_ids(&rids, ids));
        }
        Err(e) => {
          let f = LaneError::Protocol(e.to_string()).failure();
          push_failed(sent.qid, &sent.items, &f, events);
        }
      },
    }
    q.in_flight = false;
    Ok(())
  }

  /// The connection is gone: every push it carried or held fails with `f`.
  pub fn fail_all(&mut self, f: &Failure, events: &mut Vec<Event>) {
    self.conn = None;
    for sent in std::mem::take(&mut self.sent) {
      push_failed(sent.qid, &sent.items, f, events);
    }
    for (qid, q) in std::mem::take(&mut self.queues) {
      push_failed(qid, &q.items, f, events);
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn queue() -> Queue {
    Queue {
      keys: QueueKeys::new("q"),
      ttl: 30,
      maxsize: 5,
      items: Vec::new(),
      in_flight: false,
    }
  }

  fn args(cmd: &redis::Cmd) -> Vec<String> {
    cmd
      .args_iter()
      .map(|a| match a {
        redis::Arg::Simple(b) => String::from_utf8_lossy(b).into_owned(),
        _ => "<cursor>".into(),
      })
      .collect()
  }

  #[test]
  fn a_push_call_is_the_push_script_over_busmqs_four_keys_then_ttl_channel_maxsize_payloads() {
    let items = vec![(1, Bytes::from_static(b"a")), (2, Bytes::from_static(b"b"))];
    let sha = redis::Script::new(scripts::PUSH).get_hash().to_string();
    assert_eq!(
      args(&push_call(&queue(), &items, false)),
      [
        "EVALSHA",
        sha.as_str(),
        "4",
        "bus:queue:q:metadata",
        "bus:queue:q:messages",
        "bus:queue:q:msgid",
        "bus:queue:q:toack",
        "30",
        "bus:queue:q:available",
        "5",
        "a",
        "b"
      ]
    );
    let eval = args(&push_call(&queue(), &items, true));
    assert_eq!(eval[0], "EVAL");
    assert_eq!(eval[1], scripts::PUSH);
    assert_eq!(eval[2..], args(&push_call(&queue(), &items, false))[2..]);
  }

  #[test]
  fn a_failed_call_answers_every_callback_with_busmqs_push_text() {
    let f = Failure {
      code: "OOM".into(),
      message: "command not allowed when used memory > 'maxmemory'".into(),
      connection: false,
    };
    let mut events = Vec::new();
    push_failed(3, &[(7, Bytes::new()), (8, Bytes::new())], &f, &mut events);
    let rids: Vec<Rid> = events
      .iter()
      .map(|e| match e {
        Event::ReplyError { rid, code, message } => {
          assert_eq!(code, "OOM");
          assert!(message.starts_with("error pushing to queue (push): command not allowed"));
          *rid
        }
        other => panic!("{other:?}"),
      })
      .collect();
    assert_eq!(rids, [7, 8]);
  }
}
