//! The client-side state machine: pending requests with deadlines, routing of
//! partial/final/error replies, broker liveness and the `connect` event.
//!
//! Unlike pigato (which checks timeouts only on heartbeat ticks), deadlines
//! fire on time: the event loop sleeps until [`ClientState::next_deadline`]
//! and calls [`ClientState::handle_timeouts`]. As in pigato, every partial
//! reply restarts the request's timeout. Pending requests cost a map entry
//! and one heap entry each (the heap is compacted when stale entries pile up).

use crate::mdp::FastMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rand::Rng;
use serde::{Deserialize, Deserializer};
use tokio::time::Instant;

use super::broker::opts::Lax;
use super::codec::{self, CodecError, ReplyKind, ToClient, STATUS_ERR};

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
  pending: FastMap<Bytes, Pending>,
  /// Min-heap of (deadline, rid); an entry is stale when the request is gone
  /// or its deadline moved later (then it is pushed again when reached).
  deadlines: BinaryHeap<Reverse<(Instant, Bytes)>>,
}

/// A fresh uuid v4 as text (36 bytes), pigato's rid format.
pub fn new_rid() -> Bytes {
  let mut r: [u8; 16] = rand::thread_rng().gen();
  r[6] = (r[6] & 0x0f) | 0x40;
  r[8] = (r[8] & 0x3f) | 0x80;
  const HEX: &[u8; 16] = b"0123456789abcdef";
  let mut s = BytesMut::with_capacity(36);
  for (i, byte) in r.iter().enumerate() {
    if matches!(i, 4 | 6 | 8 | 10) {
      s.extend_from_slice(b"-");
    }
    s.extend_from_slice(&[HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 15)]]);
  }
  s.freeze()
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
      deadlines: BinaryHeap::new(),
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

  /// Sends a request with a fresh rid; returns it. `opts` should come from [`fill_opts`],
  /// `timeout` too; `token` is echoed in this request's outputs.
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
    self.request_with_rid(service, new_rid(), data, opts, timeout, token, now, out)
  }

  /// Sends a request whose rid the caller made (the JS facade keys its streams by it).
  #[allow(clippy::too_many_arguments)]
  pub fn request_with_rid(
    &mut self,
    service: Bytes,
    rid: Bytes,
    data: Bytes,
    opts: Bytes,
    timeout: Option<Duration>,
    token: u64,
    now: Instant,
    out: &mut Vec<ClientOutput>,
  ) -> Bytes {
    let deadline = timeout.and_then(|t| now.checked_add(t));
    if let Some(d) = deadline {
      self.deadlines.push(Reverse((d, rid.clone())));
    }
    self.pending.insert(
      rid.clone(),
      Pending {
        token,
        timeout,
        deadline,
      },
    );
    out.push(ClientOutput::Send(codec::encode_request(
      service,
      rid.clone(),
      data,
      opts,
    )));
    rid
  }

  /// Sends a heartbeat for one request (`stream.heartbeat()`).
  pub fn heartbeat_request(&self, rid: Bytes, out: &mut Vec<ClientOutput>) {
    out.push(ClientOutput::Send(codec::encode_request_heartbeat(rid)));
  }

  /// Forgets a pending request (its replies then count as `ERR_REQ_INVALID`).
  pub fn cancel(&mut self, rid: &[u8]) -> bool {
    let found = self.pending.remove(rid).is_some();
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
    let Some(p) = self.pending.get_mut(&rid) else {
      return out.push(ClientOutput::Error("ERR_REQ_INVALID"));
    };
    let token = p.token;
    if &status[..] == STATUS_ERR {
      // An error ends the request, partial or not.
      self.pending.remove(&rid);
      self.compact();
      return out.push(ClientOutput::Failed {
        token,
        rid,
        error: data,
      });
    }
    if kind == ReplyKind::Partial {
      // Lazy: the heap entry is moved when its old deadline is reached.
      p.deadline = p.timeout.and_then(|t| now.checked_add(t));
      return out.push(ClientOutput::Partial { token, rid, data });
    }
    self.pending.remove(&rid);
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
    while let Some(Reverse((at, _))) = self.deadlines.peek() {
      if *at > now {
        break;
      }
      let Some(Reverse((at, rid))) = self.deadlines.pop() else {
        break;
      };
      let Some(p) = self.pending.get(&rid) else {
        continue;
      };
      match p.deadline {
        Some(d) if d <= now => {
          let token = p.token;
          self.pending.remove(&rid);
          let error = Bytes::from_static(C_TIMEOUT);
          out.push(ClientOutput::Failed { token, rid, error });
        }
        // Moved later by a partial reply: track the new deadline.
        Some(d) if d != at => self.deadlines.push(Reverse((d, rid))),
        _ => {}
      }
    }
    self.compact();
  }

  /// The earliest pending deadline (after dropping stale heap entries).
  pub fn next_deadline(&mut self) -> Option<Instant> {
    while let Some(Reverse((at, rid))) = self.deadlines.peek() {
      match self.pending.get(rid).and_then(|p| p.deadline) {
        Some(d) if d == *at => return Some(d),
        Some(d) => {
          let rid = rid.clone();
          self.deadlines.pop();
          self.deadlines.push(Reverse((d, rid)));
        }
        None => {
          self.deadlines.pop();
        }
      }
    }
    None
  }

  /// Rebuilds the heap when finished requests' entries dominate it.
  fn compact(&mut self) {
    if self.deadlines.len() <= 2 * self.pending.len() + 1024 {
      return;
    }
    let live =
      (self.pending.iter()).filter_map(|(rid, p)| p.deadline.map(|d| Reverse((d, rid.clone()))));
    self.deadlines = live.collect();
  }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
