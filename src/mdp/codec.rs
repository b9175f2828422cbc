//! Pigato frames <-> typed messages, in both directions.
//!
//! Frames are `bytes::Bytes`; parsing only slices (clones the handles of) the
//! incoming frames and encoding only moves handles and static constants into a
//! `Vec`, so no payload is ever copied. Data and options frames are opaque JSON
//! bytes passed through untouched. The identity frame a ROUTER adds or needs
//! is never part of these frame lists.

use bytes::Bytes;
use thiserror::Error;

/// Frame 0 of every message sent by or to a client.
pub const CLIENT: &[u8] = b"C";
/// Frame 0 of every message sent by or to a worker.
pub const WORKER: &[u8] = b"W";
/// Worker announces its service (and the broker's acknowledgement).
pub const W_READY: &[u8] = b"1";
/// A request (client -> broker -> worker).
pub const W_REQUEST: &[u8] = b"2";
/// A final reply.
pub const W_REPLY: &[u8] = b"3";
/// A heartbeat (all directions, with variants).
pub const W_HEARTBEAT: &[u8] = b"4";
/// Disconnect (worker leaving, or broker telling a worker to restart).
pub const W_DISCONNECT: &[u8] = b"5";
/// A partial reply.
pub const W_REPLY_PARTIAL: &[u8] = b"6";
/// A worker rejecting a request.
pub const W_REPLY_REJECT: &[u8] = b"7";

/// Status frame of a successful reply.
pub const STATUS_OK: &[u8] = b"0";
/// Status frame of an error reply (the data frame is then the error value).
pub const STATUS_ERR: &[u8] = b"-1";

const EMPTY: Bytes = Bytes::from_static(b"");
const SUB_REQUEST: &[u8] = b"request";
const SUB_WORKER: &[u8] = b"worker";

/// A frame list that is not a well-formed pigato message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CodecError {
  /// Frame 0 is not the expected side tag (`C` / `W`).
  #[error("message header is not C or W")]
  Header,
  /// Fewer frames than the message type needs.
  #[error("message has too few frames")]
  Length,
  /// The type frame is not one this side understands.
  #[error("unknown message type")]
  Type,
}

impl CodecError {
  /// The error string pigato uses for this problem.
  pub fn pigato_code(&self) -> &'static str {
    match self {
      CodecError::Header => "ERR_MSG_HEADER",
      CodecError::Length => "ERR_MSG_LENGTH",
      CodecError::Type => "ERR_MSG_TYPE",
    }
  }
}

/// What kind of reply a worker sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyKind {
  /// `'6'`: more replies follow.
  Partial,
  /// `'3'`: the last reply.
  Final,
  /// `'7'`: the worker refuses the request (worker -> broker only).
  Reject,
}

impl ReplyKind {
  /// The type frame for this kind.
  pub fn type_frame(self) -> &'static [u8] {
    match self {
      ReplyKind::Partial => W_REPLY_PARTIAL,
      ReplyKind::Final => W_REPLY,
      ReplyKind::Reject => W_REPLY_REJECT,
    }
  }

  fn from_type(t: &[u8]) -> Option<ReplyKind> {
    match t {
      W_REPLY_PARTIAL => Some(ReplyKind::Partial),
      W_REPLY => Some(ReplyKind::Final),
      W_REPLY_REJECT => Some(ReplyKind::Reject),
      _ => None,
    }
  }
}

/// A message a client sends to the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromClient {
  /// `C,'2',service,rid,data,opts` (missing data/opts frames are empty).
  Request {
    service: Bytes,
    rid: Bytes,
    data: Bytes,
    opts: Bytes,
  },
  /// `C,'4'`.
  Heartbeat,
  /// `C,'4','request',rid` (also the old form `C,'4',rid`).
  RequestHeartbeat { rid: Bytes },
  /// `C,'4','worker',workerId`.
  WorkerHeartbeat { worker_id: Bytes },
}

/// A message a worker sends to the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromWorker {
  /// `W,'1',service`.
  Ready { service: Bytes },
  /// `W,'4','',info` where info is JSON `{concurrency,...}` (empty if absent).
  Heartbeat { info: Bytes },
  /// `W,type,client,'',rid,status,data,opts` (missing trailing frames are empty).
  Reply {
    kind: ReplyKind,
    client: Bytes,
    rid: Bytes,
    status: Bytes,
    data: Bytes,
    opts: Bytes,
  },
  /// `W,'5'`.
  Disconnect,
}

/// A message the broker's ROUTER received (identity frame already stripped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
  /// From a client.
  Client(FromClient),
  /// From a worker.
  Worker(FromWorker),
}

/// A message the broker sends to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToClient {
  /// `C,'4'`.
  Heartbeat,
  /// `C,type,'',rid,status,data,opts` with kind Partial or Final.
  Reply {
    kind: ReplyKind,
    rid: Bytes,
    status: Bytes,
    data: Bytes,
    opts: Bytes,
  },
}

/// A message the broker sends to a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToWorker {
  /// `W,'1'`.
  ReadyAck,
  /// `W,'2',client,service,'',rid,data,opts`.
  Request {
    client: Bytes,
    service: Bytes,
    rid: Bytes,
    data: Bytes,
    opts: Bytes,
  },
  /// `W,'4'`.
  Heartbeat,
  /// `W,'4',client,'',rid`: a client's heartbeat for one request.
  RequestHeartbeat { client: Bytes, rid: Bytes },
  /// `W,'5'`: restart.
  Disconnect,
}

/// Frame `i`, or an empty frame when it is missing.
fn opt(frames: &[Bytes], i: usize) -> Bytes {
  frames.get(i).cloned().unwrap_or(EMPTY)
}

fn type_frame(frames: &[Bytes]) -> Result<&[u8], CodecError> {
  frames.get(1).map(|b| &b[..]).ok_or(CodecError::Length)
}

/// Parses a message as received by the broker (after the identity frame).
///
/// # Errors
/// `Header` when frame 0 is not `C`/`W`, `Length` when frames are missing,
/// `Type` for an unknown type.
pub fn parse(frames: &[Bytes]) -> Result<Message, CodecError> {
  match frames.first().map(|b| &b[..]) {
    Some(CLIENT) => parse_from_client(frames).map(Message::Client),
    Some(WORKER) => parse_from_worker(frames).map(Message::Worker),
    Some(_) => Err(CodecError::Header),
    None => Err(CodecError::Length),
  }
}

fn parse_from_client(f: &[Bytes]) -> Result<FromClient, CodecError> {
  match type_frame(f)? {
    W_REQUEST if f.len() >= 4 => Ok(FromClient::Request {
      service: f[2].clone(),
      rid: f[3].clone(),
      data: opt(f, 4),
      opts: opt(f, 5),
    }),
    W_REQUEST => Err(CodecError::Length),
    W_HEARTBEAT => match f.len() {
      2 => Ok(FromClient::Heartbeat),
      3 => Ok(FromClient::RequestHeartbeat { rid: f[2].clone() }),
      _ => match &f[2][..] {
        SUB_REQUEST => Ok(FromClient::RequestHeartbeat { rid: f[3].clone() }),
        SUB_WORKER => Ok(FromClient::WorkerHeartbeat {
          worker_id: f[3].clone(),
        }),
        _ => Err(CodecError::Type),
      },
    },
    _ => Err(CodecError::Type),
  }
}

fn parse_from_worker(f: &[Bytes]) -> Result<FromWorker, CodecError> {
  let t = type_frame(f)?;
  match t {
    W_READY if f.len() >= 3 => Ok(FromWorker::Ready {
      service: f[2].clone(),
    }),
    W_READY => Err(CodecError::Length),
    W_HEARTBEAT => Ok(FromWorker::Heartbeat { info: opt(f, 3) }),
    W_DISCONNECT => Ok(FromWorker::Disconnect),
    _ => {
      let kind = ReplyKind::from_type(t).ok_or(CodecError::Type)?;
      if f.len() < 5 {
        return Err(CodecError::Length);
      }
      Ok(FromWorker::Reply {
        kind,
        client: f[2].clone(),
        rid: f[4].clone(),
        status: opt(f, 5),
        data: opt(f, 6),
        opts: opt(f, 7),
      })
    }
  }
}

/// Parses a broker -> client message as the client's DEALER receives it.
///
/// # Errors
/// `Header` when frame 0 is not `C`, `Length` when frames are missing, `Type`
/// for an unknown type.
pub fn parse_to_client(f: &[Bytes]) -> Result<ToClient, CodecError> {
  match f.first().map(|b| &b[..]) {
    Some(CLIENT) => {}
    Some(_) => return Err(CodecError::Header),
    None => return Err(CodecError::Length),
  }
  let t = type_frame(f)?;
  if t == W_HEARTBEAT {
    return Ok(ToClient::Heartbeat);
  }
  let kind = match ReplyKind::from_type(t) {
    Some(k @ (ReplyKind::Partial | ReplyKind::Final)) => k,
    _ => return Err(CodecError::Type),
  };
  if f.len() < 4 {
    return Err(CodecError::Length);
  }
  Ok(ToClient::Reply {
    kind,
    rid: f[3].clone(),
    status: opt(f, 4),
    data: opt(f, 5),
    opts: opt(f, 6),
  })
}

/// Parses a broker -> worker message as the worker's DEALER receives it.
///
/// # Errors
/// `Header` when frame 0 is not `W`, `Length` when frames are missing, `Type`
/// for an unknown type.
pub fn parse_to_worker(f: &[Bytes]) -> Result<ToWorker, CodecError> {
  match f.first().map(|b| &b[..]) {
    Some(WORKER) => {}
    Some(_) => return Err(CodecError::Header),
    None => return Err(CodecError::Length),
  }
  match type_frame(f)? {
    W_READY => Ok(ToWorker::ReadyAck),
    W_REQUEST if f.len() >= 6 => Ok(ToWorker::Request {
      client: f[2].clone(),
      service: f[3].clone(),
      rid: f[5].clone(),
      data: opt(f, 6),
      opts: opt(f, 7),
    }),
    W_REQUEST => Err(CodecError::Length),
    W_HEARTBEAT if f.len() >= 5 => Ok(ToWorker::RequestHeartbeat {
      client: f[2].clone(),
      rid: f[4].clone(),
    }),
    W_HEARTBEAT => Ok(ToWorker::Heartbeat),
    W_DISCONNECT => Ok(ToWorker::Disconnect),
    _ => Err(CodecError::Type),
  }
}

#[inline]
fn s(b: &'static [u8]) -> Bytes {
  Bytes::from_static(b)
}

/// Client -> broker request: `C,'2',service,rid,data,opts`.
pub fn encode_request(service: Bytes, rid: Bytes, data: Bytes, opts: Bytes) -> Vec<Bytes> {
  vec![s(CLIENT), s(W_REQUEST), service, rid, data, opts]
}

/// Client -> broker heartbeat, and the broker's answer: `C,'4'`.
pub fn encode_client_heartbeat() -> Vec<Bytes> {
  vec![s(CLIENT), s(W_HEARTBEAT)]
}

/// Client -> broker heartbeat for one request: `C,'4','request',rid`.
pub fn encode_request_heartbeat(rid: Bytes) -> Vec<Bytes> {
  vec![s(CLIENT), s(W_HEARTBEAT), s(SUB_REQUEST), rid]
}

/// Client -> broker refresh of a worker's liveness: `C,'4','worker',id`.
pub fn encode_worker_liveness(worker_id: Bytes) -> Vec<Bytes> {
  vec![s(CLIENT), s(W_HEARTBEAT), s(SUB_WORKER), worker_id]
}

/// Broker -> client reply: `C,type,'',rid,status,data,opts`.
///
/// A `Reject` kind is written as a final reply (clients never see rejects).
pub fn encode_client_reply(
  kind: ReplyKind,
  rid: Bytes,
  status: Bytes,
  data: Bytes,
  opts: Bytes,
) -> Vec<Bytes> {
  let t = match kind {
    ReplyKind::Partial => W_REPLY_PARTIAL,
    _ => W_REPLY,
  };
  vec![s(CLIENT), s(t), EMPTY, rid, status, data, opts]
}

/// Worker -> broker ready: `W,'1',service`.
pub fn encode_ready(service: Bytes) -> Vec<Bytes> {
  vec![s(WORKER), s(W_READY), service]
}

/// Worker -> broker heartbeat: `W,'4','',info`.
pub fn encode_worker_heartbeat(info: Bytes) -> Vec<Bytes> {
  vec![s(WORKER), s(W_HEARTBEAT), EMPTY, info]
}

/// Worker -> broker reply: `W,type,client,'',rid,status,data,opts`.
pub fn encode_worker_reply(
  kind: ReplyKind,
  client: Bytes,
  rid: Bytes,
  status: Bytes,
  data: Bytes,
  opts: Bytes,
) -> Vec<Bytes> {
  vec![
    s(WORKER),
    s(kind.type_frame()),
    client,
    EMPTY,
    rid,
    status,
    data,
    opts,
  ]
}

/// Worker -> broker or broker -> worker disconnect: `W,'5'`.
pub fn encode_disconnect() -> Vec<Bytes> {
  vec![s(WORKER), s(W_DISCONNECT)]
}

/// Broker -> worker ready acknowledgement: `W,'1'`.
pub fn encode_ready_ack() -> Vec<Bytes> {
  vec![s(WORKER), s(W_READY)]
}

/// Broker -> worker request: `W,'2',client,service,'',rid,data,opts`.
pub fn encode_worker_request(
  client: Bytes,
  service: Bytes,
  rid: Bytes,
  data: Bytes,
  opts: Bytes,
) -> Vec<Bytes> {
  vec![
    s(WORKER),
    s(W_REQUEST),
    client,
    service,
    EMPTY,
    rid,
    data,
    opts,
  ]
}

/// Broker -> worker heartbeat: `W,'4'`.
pub fn encode_broker_heartbeat() -> Vec<Bytes> {
  vec![s(WORKER), s(W_HEARTBEAT)]
}

/// Broker -> worker forwarded request heartbeat: `W,'4',client,'',rid`.
pub fn encode_forwarded_heartbeat(client: Bytes, rid: Bytes) -> Vec<Bytes> {
  vec![s(WORKER), s(W_HEARTBEAT), client, EMPTY, rid]
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
