//! The client-side state machine: pending requests with deadlines, routing of
//! partial/final/error replies, broker liveness and the `connect` event.
//!
//! Unlike pigato (which checks timeouts only on heartbeat ticks), deadlines
//! fire on time: the event loop sleeps until [`ClientState::next_deadline`]
//! and calls [`ClientState::handle_timeouts`]. As in pigato, every partial
//! reply restarts the request's timeout. Pending requests cost a map entry
//! and one deadline entry each (compacted when stale entries pile up).
//!
//! Requests are keyed by a number (`token`, the JS facade's own per-client
//! counter): the wire rid is `<base64url of 9 random bytes>.<token base36>`,
//! made here per request and parsed back on replies, so neither side hashes
//! strings per request.

use crate::mdp::FastMap;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Deserializer};
use tokio::time::Instant;

use super::broker::opts::Lax;
use super::codec::{self, CodecError, ReplyKind, ToClient, STATUS_ERR};
use deadlines::Deadlines;

#[path = "client_deadlines.rs"]
mod deadlines;
#[path = "client_rid.rs"]
mod rid;

/// Error value (JSON) of a request that timed out.
pub const C_TIMEOUT: &[u8] = b"\"C_TIMEOUT\"";

/// Client configuration.
#[derive(Debug, Clone)]
pub struct ClientConf {
  /// Tick period (pigato `heartbeat`).
  pub heartbeat: Duration,
  /// Ticks without any broker message before disconnecting.
  pub liveness: u32,
  /// Default request timeout in ms (`-1` = never), filled into opts.
  pub timeout: i64,
  /// Default `retry`, filled into opts.
  pub retry: i64,
}

impl Default for ClientConf {
  fn default() -> ClientConf {
    ClientConf {
      heartbeat: Duration::from_millis(2500),
      liveness: 3,
      timeout: crate::mdp::DEFAULT_TIMEOUT.as_millis() as i64,
      retry: 0,
    }
  }
}

/// Something the client's event loop must do or report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOutput {
  /// Send these frames on the DEALER.
  Send(Vec<Bytes>),
  /// Send this request (frames) on the DEALER; if it cannot be queued, the request fails.
  SendRequest { token: u64, frames: Vec<Bytes> },
  /// First well-formed message from the broker since start (`connect`).
  Connect,
  /// The broker went silent for `liveness` ticks: the session stopped; emit
  /// `disconnect`/`stop` and start again after `reconnect` ms.
  Disconnect,
  /// A partial reply (data is JSON).
  Partial { token: u64, rid: Bytes, data: Bytes },
  /// The final reply (data is JSON); the request is done.
  Final { token: u64, rid: Bytes, data: Bytes },
  /// The request failed (error reply, or `"C_TIMEOUT"`); `error` is JSON.
  Failed {
    token: u64,
    rid: Bytes,
    error: Bytes,
  },
  /// A protocol error to emit as the `error` event (pigato code).
  Error(&'static str),
}

#[derive(Debug)]
struct Pending {
  token: u64,
  /// Restarted by every partial reply; `None` = never times out.
  timeout: Option<Duration>,
  deadline: Option<Instant>,
}

/// Client-side protocol state.
#[derive(Debug)]
pub struct ClientState {
  conf: ClientConf,
  running: bool,
  connected: bool,
  liveness: u32,
  pending: FastMap<u64, Pending>,
  /// (deadline, token) entries; one is stale when the request is gone or its
  /// deadline moved later (a partial reply pushes the new one).
  deadlines: Deadlines,
  /// `<base64url of 9 random bytes>.`: this session's rid prefix.
  rid_base: Bytes,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Lax<'de>>, D::Error> {
  Lax::deserialize(d).map(Some)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawClientOpts<'a> {
  #[serde(borrow, deserialize_with = "present")]
  timeout: Option<Lax<'a>>,
  #[serde(borrow, deserialize_with = "present")]
  retry: Option<Lax<'a>>,
}

/// Fills `timeout` and `retry` from `conf` into a request's opts JSON when
/// absent (as pigato's client does) and returns the opts frame to send with
/// the request's effective timeout (`None` = never).
pub fn fill_opts(opts: &Bytes, conf: &ClientConf) -> (Bytes, Option<Duration>) {
  let start = opts.iter().position(|c| !c.is_ascii_whitespace());
  let is_object = start.is_some_and(|i| opts[i] == b'{');
  let raw: RawClientOpts = if is_object {
    serde_json::from_slice(opts).unwrap_or_default()
  } else {
    RawClientOpts::default()
  };
  let timeout = match &raw.timeout {
    None => ms_timeout(conf.timeout as f64),
    Some(Lax::Num(n)) => ms_timeout(*n),
    Some(_) => None,
  };
  if raw.timeout.is_some() && raw.retry.is_some() {
    return (opts.clone(), timeout);
  }
  let mut s = BytesMut::with_capacity(opts.len() + 32);
  s.extend_from_slice(b"{");
  let mut fields = Vec::with_capacity(2);
  if raw.timeout.is_none() {
    fields.push(format!("\"timeout\":{}", conf.timeout));
  }
  if raw.retry.is_none() {
    fields.push(format!("\"retry\":{}", conf.retry));
  }
  s.extend_from_slice(fields.join(",").as_bytes());
  match start.filter(|_| is_object) {
    Some(i) => {
      let rest = &opts[i + 1..];
      if rest.iter().find(|c| !c.is_ascii_whitespace()) != Some(&b'}') {
        s.extend_from_slice(b",");
      }
      s.extend_from_slice(rest);
    }
    None => s.extend_from_slice(b"}"),
  }
  (s.freeze(), timeout)
}

/// pigato: a request expires when `timeout > -1 && now > lts + timeout`.
fn ms_timeout(n: f64) -> Option<Duration> {
  if n > -1.0 {
    Some(Duration::try_from_secs_f64(n.max(0.0) / 1000.0).unwrap_or(Duration::MAX))
  } else {
    None
  }
}

impl ClientState {
  /// A stopped client.
  pub fn new(conf: ClientConf) -> ClientState {
    ClientState {
      conf,
      running: false,
      connected: false,
      liveness: 0,
      pending: FastMap::default(),
      deadlines: Deadlines::default(),
      rid_base: rid::new_base(),
    }
  }

  /// The configuration.
  pub fn conf(&self) -> &ClientConf {
    &self.conf
  }

  /// Starts (or restarts) a session: a heartbeat at once. Pending requests
  /// survive restarts (as in pigato) and keep their deadlines.
  pub fn start(&mut self, _now: Instant, out: &mut Vec<ClientOutput>) {
    self.running = true;
    self.connected = false;
    self.liveness = self.conf.liveness;
    out.push(ClientOutput::Send(codec::encode_client_heartbeat()));
  }

  /// Stops the session (no more heartbeats or liveness checks).
  pub fn stop(&mut self) {
    self.running = false;
    self.connected = false;
  }

  /// Whether a session is running.
  pub fn is_running(&self) -> bool {
    self.running
  }

  /// Whether the broker has spoken since start.
  pub fn is_connected(&self) -> bool {
    self.connected
  }

  /// Requests waiting for their final reply.
  pub fn pending_len(&self) -> usize {
    self.pending.len()
  }

  /// The wire rid of request `token`: the session's prefix and the token in base 36.
  pub fn rid_of(&self, token: u64) -> Bytes {
    rid::rid_of(&self.rid_base, token)
  }

  /// The token of a rid this session made (`None` for any other, malformed or not canonical).
  pub fn token_of(&self, rid: &[u8]) -> Option<u64> {
    rid::token_of(&self.rid_base, rid)
  }

  /// Sends request `token` (a number unique among this client's requests) under the rid
  /// [`Self::rid_of`] makes; returns that rid. `opts` should come from [`fill_opts`], `timeout` too.
  #[allow(clippy::too_many_arguments)]
  pub fn request(
    &mut self,
    service: Bytes,
    data: Bytes,
    opts: Bytes,
    timeout: Option<Duration>,
    token: u64,
    now: Instant,
    out: &mut Vec<ClientOutput>,
  ) -> Bytes {
    let deadline = timeout.and_then(|t| now.checked_add(t));
    if let (Some(t), Some(d)) = (timeout, deadline) {
      self.deadlines.push(t, d, token);
    }
    self.pending.insert(
      token,
      Pending {
        token,
        timeout,
        deadline,
      },
    );
    let rid = self.rid_of(token);
    let frames = codec::encode_request(service, rid.clone(), data, opts);
    out.push(ClientOutput::SendRequest { token, frames });
    rid
  }

  /// Sends a heartbeat for one request (`stream.heartbeat()`).
  pub fn heartbeat_request(&self, rid: Bytes, out: &mut Vec<ClientOutput>) {
    out.push(ClientOutput::Send(codec::encode_request_heartbeat(rid)));
  }

  /// Forgets a pending request (its replies then count as `ERR_REQ_INVALID`).
  pub fn cancel(&mut self, token: u64) -> bool {
    let found = self.pending.remove(&token).is_some();
    self.compact();
    found
  }

  /// Handles one message from the broker.
  pub fn handle_incoming(&mut self, frames: &[Bytes], now: Instant, out: &mut Vec<ClientOutput>) {
    // pigato counts any message as a sign of life, even a malformed one.
    self.liveness = self.conf.liveness;
    let msg = match codec::parse_to_client(frames) {
      Err(CodecError::Header) => return out.push(ClientOutput::Error("ERR_MSG_HEADER")),
      other => other,
    };
    if !self.connected {
      self.connected = true;
      out.push(ClientOutput::Connect);
    }
    match msg {
      Err(e) => out.push(ClientOutput::Error(e.pigato_code())),
      Ok(ToClient::Heartbeat) => {}
      Ok(ToClient::Reply {
        kind,
        rid,
        status,
        data,
        ..
      }) => self.handle_reply(kind, rid, status, data, now, out),
    }
  }

  fn handle_reply(
    &mut self,
    kind: ReplyKind,
    rid: Bytes,
    status: Bytes,
    data: Bytes,
    now: Instant,
    out: &mut Vec<ClientOutput>,
  ) {
    let found = self.token_of(&rid);
    let Some(p) = found.and_then(|t| self.pending.get_mut(&t)) else {
      return out.push(ClientOutput::Error("ERR_REQ_INVALID"));
    };
    let token = p.token;
    if &status[..] == STATUS_ERR {
      // An error ends the request, partial or not.
      self.pending.remove(&token);
      self.compact();
      return out.push(ClientOutput::Failed {
        token,
        rid,
        error: data,
      });
    }
    if kind == ReplyKind::Partial {
      // The old entry turns stale; the new one keeps its queue in order (a later deadline).
      p.deadline = p.timeout.and_then(|t| now.checked_add(t));
      if let (Some(t), Some(d)) = (p.timeout, p.deadline) {
        self.deadlines.push(t, d, token);
      }
      return out.push(ClientOutput::Partial { token, rid, data });
    }
    self.pending.remove(&token);
    self.compact();
    out.push(ClientOutput::Final { token, rid, data });
  }

  /// Periodic work every `conf.heartbeat`: heartbeat, liveness, timeouts.
  pub fn handle_tick(&mut self, now: Instant, out: &mut Vec<ClientOutput>) {
    if self.running {
      out.push(ClientOutput::Send(codec::encode_client_heartbeat()));
      self.liveness = self.liveness.saturating_sub(1);
      if self.liveness == 0 {
        self.stop();
        out.push(ClientOutput::Disconnect);
      }
    }
    self.handle_timeouts(now, out);
  }

  /// Fails every request whose deadline is reached with `"C_TIMEOUT"`.
  pub fn handle_timeouts(&mut self, now: Instant, out: &mut Vec<ClientOutput>) {
    while let Some((at, _)) = self.deadlines.peek() {
      if at > now {
        break;
      }
      let Some((at, token)) = self.deadlines.pop() else {
        break;
      };
      // Stale unless it is the request's current deadline.
      if self.pending.get(&token).and_then(|p| p.deadline) == Some(at) {
        self.pending.remove(&token);
        let rid = self.rid_of(token);
        let error = Bytes::from_static(C_TIMEOUT);
        out.push(ClientOutput::Failed { token, rid, error });
      }
    }
    self.compact();
  }

  /// The earliest pending deadline (after dropping stale entries).
  pub fn next_deadline(&mut self) -> Option<Instant> {
    while let Some((at, token)) = self.deadlines.peek() {
      if self.pending.get(&token).and_then(|p| p.deadline) == Some(at) {
        return Some(at);
      }
      self.deadlines.pop();
    }
    None
  }

  /// Drops stale deadline entries when they dominate.
  fn compact(&mut self) {
    if self.deadlines.len() <= 2 * self.pending.len() + 1024 {
      return;
    }
    let pending = &self.pending;
    self
      .deadlines
      .retain(|token, at| pending.get(&token).and_then(|p| p.deadline) == Some(at));
  }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
