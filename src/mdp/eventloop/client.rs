//! The client's role in a session loop ([`super::peer`]): `crate::mdp::client::ClientState` with its
//! outputs turned into sends and JS events. Requests arrive from JS in batches; replies, timeouts and
//! connection changes go back in batches. Timeouts fire on time (the loop's timer at the earliest
//! deadline), not on heartbeat ticks.

use super::kinds;
use super::peer::{Link, LinkParams, Opened, PeerLoop, Role};
use super::{spawn_loop, LoopError};
use crate::boundary::batch::Records;
use crate::boundary::outbox::{Deliver, Outbox};
use crate::boundary::Command;
use crate::driver::reactor::{Reactor, Tokio};
use crate::mdp::client::{ClientConf, ClientOutput, ClientState};
use crate::mdp::codec;
use bytes::Bytes;
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

/// How a client session starts.
pub type ClientParams = LinkParams;

/// The client's state machine and what it queued.
pub struct ClientRole {
  state: ClientState,
  events: Vec<ClientOutput>,
  /// Connection changes not yet told to JS (a multi-broker client moves requests on a close).
  links: Vec<bool>,
}

impl ClientRole {
  /// A client heartbeating every `heartbeat`.
  pub fn new(heartbeat: Duration) -> Self {
    Self {
      state: ClientState::new(ClientConf {
        heartbeat,
        ..ClientConf::default()
      }),
      events: Vec::with_capacity(64),
      links: Vec::new(),
    }
  }
}

/// The client loop on reactor `R`.
pub type ClientLoop<R, D> = PeerLoop<ClientRole, R, D>;

/// Opens a client loop on `reactor` (see [`PeerLoop::open`]).
pub fn open<R: Reactor + Clone, D: Deliver>(
  params: ClientParams,
  outbox: Outbox<D>,
  commands: UnboundedReceiver<Command>,
  reactor: R,
) -> Opened<ClientRole, R, D> {
  let role = ClientRole::new(params.heartbeat);
  PeerLoop::open(role, params, outbox, commands, reactor)
}

/// Starts a client loop on the addon runtime.
///
/// # Errors
/// `LoopError::Transport` for a malformed endpoint.
pub fn spawn<D: Deliver>(
  params: ClientParams,
  outbox: Outbox<D>,
) -> Result<UnboundedSender<Command>, LoopError> {
  let endpoint = params.broker.clone();
  spawn_loop(&endpoint, move |commands| async move {
    match open(params, outbox, commands, Tokio) {
      Ok(mut lp) => std::future::poll_fn(|cx| lp.poll(cx)).await,
      Err(failed) => PeerLoop::<ClientRole, Tokio, D>::fail(failed),
    }
  })
}

impl Role for ClientRole {
  fn start(&mut self, now: Instant) {
    self.state.start(now, &mut self.events);
  }

  fn apply<R: Reactor + Clone, D: Deliver>(&mut self, link: &mut Link<R, D>) {
    for up in self.links.drain(..) {
      let flag: &[u8] = if up { b"1" } else { b"0" };
      link.outbox.push(kinds::E_LINK, &[flag]);
    }
    for event in self.events.drain(..) {
      apply_one(&mut self.state, event, link);
    }
  }

  fn on_message(&mut self, frames: &[Bytes], now: Instant) {
    self.state.handle_incoming(frames, now, &mut self.events);
  }

  fn on_up(&mut self) {
    self.links.push(true);
  }

  fn on_down(&mut self) {
    // The DEALER redials under the same identity, so replies the broker sends to this session after a
    // restart (persisted requests) still reach it; liveness decides when the session ends.
    tracing::debug!(target: crate::log::target::CLIENT, "connection to the broker closed: redialling");
    self.links.push(false);
  }

  fn on_tick(&mut self, now: Instant) {
    self.state.handle_tick(now, &mut self.events);
  }

  fn on_commands(&mut self, batch: Bytes, now: Instant) {
    apply_commands(&mut self.state, batch, now, &mut self.events);
  }

  fn deadline(&mut self) -> Option<Instant> {
    self.state.next_deadline()
  }

  fn on_deadline(&mut self, now: Instant) {
    self.state.handle_timeouts(now, &mut self.events);
  }
}

fn apply_one<R: Reactor + Clone, D: Deliver>(
  state: &mut ClientState,
  event: ClientOutput,
  link: &mut Link<R, D>,
) {
  let outbox = &mut link.outbox;
  match event {
    ClientOutput::Send(frames) => {
      // A full queue (hundreds of thousands queued while the broker is away) fails that request at once
      // instead of buffering without bound.
      let rid = (frames.get(1).is_some_and(|t| &t[..] == b"2"))
        .then(|| frames.get(3).cloned())
        .flatten();
      if !link.session.send(frames) {
        if let Some(rid) = rid {
          tracing::debug!(target: crate::log::target::CLIENT, "send queue full: request failed with C_QUEUE_FULL");
          state.cancel(&rid);
          outbox.push(kinds::E_FINAL, &[&rid[..], b"-1", b"\"C_QUEUE_FULL\""]);
        }
      }
    }
    ClientOutput::Connect => {
      tracing::debug!(target: crate::log::target::CLIENT, broker = %link.params.broker, "connected to the broker");
      outbox.push(kinds::E_CONNECT, &[] as &[&[u8]])
    }
    ClientOutput::Disconnect => {
      tracing::debug!(target: crate::log::target::CLIENT, broker = %link.params.broker, "broker heartbeats lost: reconnecting");
      outbox.push(kinds::E_DISCONNECT, &[b"liveness"]);
      let pause = link.params.reconnect;
      link.reconnect_after(pause);
    }
    ClientOutput::Partial { rid, data, .. } => {
      outbox.push(kinds::E_PARTIAL, &[&rid[..], b"0", &data[..]])
    }
    ClientOutput::Final { rid, data, .. } => {
      outbox.push(kinds::E_FINAL, &[&rid[..], b"0", &data[..]])
    }
    ClientOutput::Failed { rid, error, .. } => {
      outbox.push(kinds::E_FINAL, &[&rid[..], b"-1", &error[..]])
    }
    ClientOutput::Error(code) => outbox.push(kinds::E_ERROR, &[code.as_bytes(), b""]),
  }
}

fn apply_commands(
  state: &mut ClientState,
  batch: Bytes,
  now: Instant,
  events: &mut Vec<ClientOutput>,
) {
  for record in Records::new(batch) {
    let Ok(record) = record else { break };
    let f = &record.frames;
    match (record.kind, f.len()) {
      (kinds::C_REQUEST, 5) => {
        let timeout = std::str::from_utf8(&f[4])
          .ok()
          .and_then(|t| t.parse::<f64>().ok())
          .unwrap_or(crate::mdp::DEFAULT_TIMEOUT.as_millis() as f64);
        let timeout = (timeout >= 0.0).then(|| Duration::from_millis(timeout as u64));
        // The rid is kept until the answer: a copy, so it does not pin the whole command batch.
        state.request_with_rid(
          f[0].clone(),
          Bytes::copy_from_slice(&f[1]),
          f[2].clone(),
          f[3].clone(),
          timeout,
          0,
          now,
          events,
        );
      }
      (kinds::C_REQ_HEARTBEAT, 1) => state.heartbeat_request(f[0].clone(), events),
      (kinds::C_WORKER_HEARTBEAT, 1) => events.push(ClientOutput::Send(
        codec::encode_worker_liveness(f[0].clone()),
      )),
      (kinds::C_HEARTBEAT, 0) => events.push(ClientOutput::Send(codec::encode_client_heartbeat())),
      (kinds::C_CANCEL, 1) => {
        state.cancel(&f[0]);
      }
      _ => {}
    }
  }
}
