//! The client's role in a session loop ([`super::peer`]): `crate::mdp::client::ClientState` with its
//! outputs turned into sends and JS events. Requests arrive from JS in batches; replies, timeouts and
//! connection changes go back in batches. Timeouts fire on time (the loop's timer at the earliest
//! deadline), not on heartbeat ticks.

use super::kinds;
use super::peer::{Link, LinkParams, Opened, PeerLoop, Role};
use super::{spawn_loop, LoopError};
use crate::boundary::batch::{frame_id, frame_num, num_frame, Records};
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
      let _ = link.session.send(frames);
    }
    ClientOutput::SendRequest { token, frames } => {
      // A full queue (hundreds of thousands queued while the broker is away) fails that request at once
      // instead of buffering without bound.
      if !link.session.send(frames) {
        tracing::debug!(target: crate::log::target::CLIENT, "send queue full: request failed with C_QUEUE_FULL");
        state.cancel(token);
        outbox.push(kinds::E_FAILED, &[&id(token)[..], b"\"C_QUEUE_FULL\""]);
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
    ClientOutput::Partial { token, data, .. } => {
      outbox.push(kinds::E_PARTIAL, &[&id(token)[..], &data[..]])
    }
    ClientOutput::Final { token, data, .. } => {
      outbox.push(kinds::E_FINAL, &[&id(token)[..], &data[..]])
    }
    ClientOutput::Failed { token, error, .. } => {
      outbox.push(kinds::E_FAILED, &[&id(token)[..], &error[..]])
    }
    ClientOutput::Error(code) => outbox.push(kinds::E_ERROR, &[code.as_bytes(), b""]),
  }
}

/// A request's id frame for JS (ids come from JS, below 2^53: exact as f64).
fn id(token: u64) -> [u8; 8] {
  num_frame(token as f64)
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
        let Some(token) = frame_id(&f[1]) else {
          continue;
        };
        let timeout = frame_num(&f[4]).unwrap_or(crate::mdp::DEFAULT_TIMEOUT.as_millis() as f64);
        let timeout = (timeout >= 0.0).then(|| Duration::from_millis(timeout as u64));
        state.request(
          f[0].clone(),
          f[2].clone(),
          f[3].clone(),
          timeout,
          token,
          now,
          events,
        );
      }
      (kinds::C_REQ_HEARTBEAT, 1) => state.heartbeat_request(f[0].clone(), events),
      (kinds::C_REQ_HEARTBEAT_ID, 1) => {
        if let Some(token) = frame_id(&f[0]) {
          state.heartbeat_request(state.rid_of(token), events);
        }
      }
      (kinds::C_WORKER_HEARTBEAT, 1) => events.push(ClientOutput::Send(
        codec::encode_worker_liveness(f[0].clone()),
      )),
      (kinds::C_HEARTBEAT, 0) => events.push(ClientOutput::Send(codec::encode_client_heartbeat())),
      (kinds::C_CANCEL, 1) => {
        if let Some(token) = frame_id(&f[0]) {
          state.cancel(token);
        }
      }
      _ => {}
    }
  }
}
