//! The worker-side state machine: broker liveness, heartbeats carrying the
//! current concurrency, and the requests being served.
//!
//! A request is tracked from its arrival until the final reply or reject,
//! under a slot number the JS facade replies with (its envelope, client id
//! and rid, stays here); a reply for an untracked slot (ended, expired, or
//! dropped by a disconnect) is refused and counted. Slot numbers are never
//! reused within a session loop, so a late reply cannot reach another client. Each request has its own liveness, refreshed by the client's
//! request heartbeats and decremented every tick, which is what
//! `reply.active()` reports. No I/O: frames to send come out as
//! [`WorkerOutput::Send`].

use crate::mdp::FastMap;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::broker::opts::RequestOpts;
use super::codec::{self, CodecError, ReplyKind, ToWorker, STATUS_ERR, STATUS_OK};
use super::StateError;

/// Worker configuration.
#[derive(Debug, Clone)]
pub struct WorkerConf {
  /// Tick period (pigato `heartbeat`).
  pub heartbeat: Duration,
  /// Ticks without any broker message before disconnecting.
  pub liveness: u32,
  /// Requests served at once (`-1` = unlimited), sent with every heartbeat.
  pub concurrency: i64,
}

impl Default for WorkerConf {
  fn default() -> WorkerConf {
    WorkerConf {
      heartbeat: Duration::from_millis(2500),
      liveness: 3,
      concurrency: 100,
    }
  }
}

/// Something the worker's event loop must do or report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerOutput {
  /// Send these frames on the DEALER.
  Send(Vec<Bytes>),
  /// First message from the broker since start (`connect` event).
  Connect,
  /// A request to serve (`request` event; data and opts are JSON), tracked as `slot`.
  Request {
    slot: u64,
    client: Bytes,
    service: Bytes,
    rid: Bytes,
    data: Bytes,
    opts: Bytes,
  },
  /// The broker went silent: `W,'5'` was sent and the worker stopped; emit
  /// `disconnect`/`stop` and start again after `reconnect` ms.
  Disconnect,
  /// The broker sent `W,'5'`: restart now (new identity, READY again).
  Restart,
  /// The client heartbeated this tracked request (refreshes `reply.active()` in JS).
  RequestHeartbeat { slot: u64 },
  /// The request's timeout (plus a grace period) passed unanswered: nobody waits for it any
  /// more (the broker lets it go too), so it is forgotten and `reply.active()` turns false.
  Expired { slot: u64 },
  /// A protocol error to emit as the `error` event (pigato code).
  Error(&'static str),
}

#[derive(Debug)]
struct Active {
  client: Bytes,
  rid: Bytes,
  liveness: u32,
  /// When the request is forgotten unanswered (`None`: no timeout).
  expires: Option<Instant>,
  /// Its timeout plus the grace period: a partial reply starts it again (the client measures its
  /// timeout from the last reply).
  window: Option<Duration>,
}

/// Ticks past a request's timeout before the worker forgets it: later than the broker (one
/// heartbeat), so a reply sent meanwhile is still welcome there.
const EXPIRY_GRACE_TICKS: u32 = 2;

/// Worker-side protocol state.
#[derive(Debug)]
pub struct WorkerState {
  conf: WorkerConf,
  service: Bytes,
  running: bool,
  connected: bool,
  liveness: u32,
  /// Requests being served, by slot.
  active: FastMap<u64, Active>,
  /// Slots by rid, for the client's request heartbeats.
  by_rid: FastMap<Bytes, u64>,
  /// The last slot given (slots start at 1).
  last_slot: u64,
  /// Replies refused: their slot was not tracked.
  dropped: u64,
}

impl WorkerState {
  /// A stopped worker for `service`.
  pub fn new(service: Bytes, conf: WorkerConf) -> WorkerState {
    WorkerState {
      conf,
      service,
      running: false,
      connected: false,
      liveness: 0,
      active: FastMap::default(),
      by_rid: FastMap::default(),
      last_slot: 0,
      dropped: 0,
    }
  }

  /// Starts (or restarts) a session: READY and a heartbeat at once.
  pub fn start(&mut self, _now: Instant, out: &mut Vec<WorkerOutput>) {
    self.running = true;
    self.connected = false;
    self.liveness = self.conf.liveness;
    self.forget_all();
    out.push(WorkerOutput::Send(codec::encode_ready(
      self.service.clone(),
    )));
    out.push(WorkerOutput::Send(self.heartbeat_frames()));
  }

  /// Stops the session, telling the broker (`W,'5'`) when it was running.
  pub fn stop(&mut self, out: &mut Vec<WorkerOutput>) {
    if self.running {
      out.push(WorkerOutput::Send(codec::encode_disconnect()));
    }
    self.running = false;
    self.forget_all();
  }

  fn forget_all(&mut self) {
    self.active.clear();
    self.by_rid.clear();
  }

  /// Forgets `slot`'s request; its rid's entry too unless a later request took the rid.
  fn forget(&mut self, slot: u64) -> Option<Active> {
    let a = self.active.remove(&slot)?;
    if self.by_rid.get(&a.rid) == Some(&slot) {
      self.by_rid.remove(&a.rid);
    }
    Some(a)
  }

  /// Whether a session is running.
  pub fn is_running(&self) -> bool {
    self.running
  }

  /// Whether the broker has spoken since start.
  pub fn is_connected(&self) -> bool {
    self.connected
  }

  /// The concurrency announced with the next heartbeat.
  pub fn concurrency(&self) -> i64 {
    self.conf.concurrency
  }

  /// Changes the concurrency; the next heartbeat carries it.
  pub fn set_concurrency(&mut self, n: i64) {
    self.conf.concurrency = n;
  }

  /// Requests being served.
  pub fn active_count(&self) -> usize {
    self.active.len()
  }

  /// `W,'4','',{"concurrency":n}`.
  pub fn heartbeat_frames(&self) -> Vec<Bytes> {
    let info = format!("{{\"concurrency\":{}}}", self.conf.concurrency);
    codec::encode_worker_heartbeat(Bytes::from(info))
  }

  /// Handles one message from the broker.
  pub fn handle_incoming(&mut self, frames: &[Bytes], now: Instant, out: &mut Vec<WorkerOutput>) {
    if !self.running {
      return;
    }
    let msg = match codec::parse_to_worker(frames) {
      Err(CodecError::Header) => return out.push(WorkerOutput::Error("ERR_MSG_HEADER")),
      other => other,
    };
    self.liveness = self.conf.liveness;
    if !self.connected {
      self.connected = true;
      out.push(WorkerOutput::Connect);
    }
    match msg {
      Err(e) => out.push(WorkerOutput::Error(e.pigato_code())),
      Ok(ToWorker::ReadyAck | ToWorker::Heartbeat) => {}
      Ok(ToWorker::Request {
        client,
        service,
        rid,
        data,
        opts,
      }) => {
        let grace = self.conf.heartbeat * EXPIRY_GRACE_TICKS;
        let timeout = RequestOpts::parse(&opts).timeout;
        let window = timeout.map(|t| t + grace);
        // Held until answered or expired: copies of their own, so a request nobody answers does not pin
        // the read buffer its frames arrived in (slices of it would keep the whole chunk alive).
        let a = Active {
          client: Bytes::copy_from_slice(&client),
          rid: Bytes::copy_from_slice(&rid),
          liveness: self.conf.liveness,
          expires: window.and_then(|w| now.checked_add(w)),
          window,
        };
        self.last_slot += 1;
        let slot = self.last_slot;
        self.by_rid.insert(a.rid.clone(), slot);
        self.active.insert(slot, a);
        out.push(WorkerOutput::Request {
          slot,
          client,
          service,
          rid,
          data,
          opts,
        });
      }
      Ok(ToWorker::RequestHeartbeat { client, rid }) => {
        let Some(&slot) = self.by_rid.get(&rid) else {
          return;
        };
        if let Some(a) = self.active.get_mut(&slot).filter(|a| a.client == client) {
          a.liveness = self.conf.liveness;
          out.push(WorkerOutput::RequestHeartbeat { slot });
        }
      }
      Ok(ToWorker::Disconnect) => {
        self.running = false;
        self.forget_all();
        out.push(WorkerOutput::Restart);
      }
    }
  }

  /// The connection to the broker closed: the session ends at once, as when liveness runs out.
  pub fn handle_peer_lost(&mut self, out: &mut Vec<WorkerOutput>) {
    if self.running {
      self.stop(out);
      out.push(WorkerOutput::Disconnect);
    }
  }

  /// Periodic work every `conf.heartbeat`: liveness, heartbeat, request liveness.
  pub fn handle_tick(&mut self, now: Instant, out: &mut Vec<WorkerOutput>) {
    if !self.running {
      return;
    }
    self.liveness = self.liveness.saturating_sub(1);
    if self.liveness == 0 {
      self.stop(out);
      out.push(WorkerOutput::Disconnect);
      return;
    }
    out.push(WorkerOutput::Send(self.heartbeat_frames()));
    for a in self.active.values_mut() {
      a.liveness = a.liveness.saturating_sub(1);
    }
    let by_rid = &mut self.by_rid;
    self.active.retain(|&slot, a| {
      let keep = a.expires.is_none_or(|at| now <= at);
      if !keep {
        if by_rid.get(&a.rid) == Some(&slot) {
          by_rid.remove(&a.rid);
        }
        out.push(WorkerOutput::Expired { slot });
      }
      keep
    });
  }

  /// A partial reply for `slot` went out at `now`: its timeout starts again, as the client's does.
  pub fn handle_partial_sent(&mut self, slot: u64, now: Instant) {
    if let Some(a) = self.active.get_mut(&slot) {
      a.expires = a.window.and_then(|w| now.checked_add(w));
    }
  }

  /// Whether `slot` is tracked, not ended, and its client's heartbeats are alive.
  pub fn is_active(&self, slot: u64) -> bool {
    self.running && self.active.get(&slot).is_some_and(|a| a.liveness > 0)
  }

  /// Replies refused so far because their slot was not tracked.
  pub fn dropped_replies(&self) -> u64 {
    self.dropped
  }

  /// Sends a reply for `slot`: partial, final (ends it) or reject (ends it).
  ///
  /// # Errors
  /// [`StateError::Inactive`] when `slot` is not tracked (already ended, expired,
  /// or dropped by a disconnect); nothing is sent then, and it is counted.
  pub fn handle_outgoing_reply(
    &mut self,
    kind: ReplyKind,
    slot: u64,
    is_error: bool,
    data: Bytes,
    opts: Bytes,
    out: &mut Vec<WorkerOutput>,
  ) -> Result<(), StateError> {
    let found = if !self.running {
      None
    } else if kind == ReplyKind::Partial {
      self
        .active
        .get(&slot)
        .map(|a| (a.client.clone(), a.rid.clone()))
    } else {
      self.forget(slot).map(|a| (a.client, a.rid))
    };
    let Some((client, rid)) = found else {
      self.dropped += 1;
      return Err(StateError::Inactive);
    };
    let status = Bytes::from_static(if is_error { STATUS_ERR } else { STATUS_OK });
    let frames = codec::encode_worker_reply(kind, client, rid, status, data, opts);
    out.push(WorkerOutput::Send(frames));
    Ok(())
  }
}

#[cfg(test)]
#[path = "worker_tests.rs"]
mod tests;
