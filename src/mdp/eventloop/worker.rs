//! The worker's role in a session loop ([`super::peer`]): `crate::mdp::worker::WorkerState`.
//! Requests go to JS in batches; replies come back in batches. Liveness loss reconnects
//! after `reconnect`; a broker's disconnect (`W,'5'`) restarts at once, as pigato does.

use super::kinds;
use super::peer::{Link, LinkParams, Opened, PeerLoop, Role};
use super::{spawn_loop, LoopError};
use crate::boundary::batch::{frame_id, num_frame, Records};
use crate::boundary::outbox::{Deliver, Outbox};
use crate::boundary::Command;
use crate::driver::reactor::{Reactor, Tokio};
use crate::mdp::codec;
use crate::mdp::codec::ReplyKind;
use crate::mdp::worker::{WorkerConf, WorkerOutput as WorkerEvent, WorkerState};
use bytes::Bytes;
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

/// How a worker session starts: the link, the service and the concurrency.
pub struct WorkerParams {
  /// Broker, identities, timing and security.
  pub link: LinkParams,
  /// Service served (exact, `prefix*` or `name@x.y.z`).
  pub service: String,
  /// Requests in flight allowed (-1 unlimited).
  pub concurrency: i64,
}

/// The worker's state machine, what it queued, and why the session is ending.
pub struct WorkerRole {
  state: WorkerState,
  events: Vec<WorkerEvent>,
  /// What the next `disconnect` event says: missed heartbeats, or the connection closed.
  why: &'static [u8],
}

impl WorkerRole {
  /// A worker for `service`.
  pub fn new(service: &str, heartbeat: Duration, concurrency: i64) -> Self {
    let conf = WorkerConf {
      heartbeat,
      concurrency,
      ..WorkerConf::default()
    };
    Self {
      state: WorkerState::new(Bytes::from(service.to_owned()), conf),
      events: Vec::with_capacity(64),
      why: b"liveness",
    }
  }
}

/// The worker loop on reactor `R`.
pub type WorkerLoop<R, D> = PeerLoop<WorkerRole, R, D>;

/// Opens a worker loop on `reactor` (see [`PeerLoop::open`]).
pub fn open<R: Reactor + Clone, D: Deliver>(
  params: WorkerParams,
  outbox: Outbox<D>,
  commands: UnboundedReceiver<Command>,
  reactor: R,
) -> Opened<WorkerRole, R, D> {
  let role = WorkerRole::new(&params.service, params.link.heartbeat, params.concurrency);
  PeerLoop::open(role, params.link, outbox, commands, reactor)
}

/// Starts a worker loop on the addon runtime.
///
/// # Errors
/// `LoopError::Transport` for a malformed endpoint.
pub fn spawn<D: Deliver>(
  params: WorkerParams,
  outbox: Outbox<D>,
) -> Result<UnboundedSender<Command>, LoopError> {
  let endpoint = params.link.broker.clone();
  spawn_loop(&endpoint, move |commands| async move {
    match open(params, outbox, commands, Tokio) {
      Ok(mut lp) => std::future::poll_fn(|cx| lp.poll(cx)).await,
      Err(failed) => PeerLoop::<WorkerRole, Tokio, D>::fail(failed),
    }
  })
}

impl Role for WorkerRole {
  fn start(&mut self, now: Instant) {
    self.state.start(now, &mut self.events);
  }

  fn apply<R: Reactor + Clone, D: Deliver>(&mut self, link: &mut Link<R, D>) {
    for event in self.events.drain(..) {
      self.why = apply_one(event, self.why, link);
    }
  }

  fn on_message(&mut self, frames: &[Bytes], now: Instant) {
    self.state.handle_incoming(frames, now, &mut self.events);
  }

  fn on_down(&mut self) {
    self.why = b"closed";
    self.state.handle_peer_lost(&mut self.events);
  }

  fn on_tick(&mut self, now: Instant) {
    self.state.handle_tick(now, &mut self.events);
  }

  fn on_commands(&mut self, batch: Bytes, _now: Instant) {
    apply_commands(&mut self.state, batch, &mut self.events);
  }

  fn on_stop(&mut self) {
    // Say goodbye so the broker re-queues nothing to us (pigato's stop() does the same).
    self.state.stop(&mut self.events);
  }
}

/// Acts on one output; returns what the next `disconnect` event will say.
fn apply_one<R: Reactor + Clone, D: Deliver>(
  event: WorkerEvent,
  why: &'static [u8],
  link: &mut Link<R, D>,
) -> &'static [u8] {
  let outbox = &mut link.outbox;
  match event {
    WorkerEvent::Send(frames) => {
      let _ = link.session.send(frames);
    }
    WorkerEvent::Connect => {
      tracing::debug!(target: crate::log::target::WORKER, broker = %link.params.broker, "connected to the broker");
      outbox.push(kinds::E_CONNECT, &[] as &[&[u8]])
    }
    WorkerEvent::Disconnect => {
      tracing::debug!(target: crate::log::target::WORKER, broker = %link.params.broker, reason = %String::from_utf8_lossy(why), "broker lost: reconnecting");
      outbox.push(kinds::E_DISCONNECT, &[why]);
      // A closed connection is known at once: the new session starts now, and its DEALER keeps dialling
      // until the broker is back. Missed heartbeats wait the `reconnect` pause first.
      let pause = if why == b"closed" {
        Duration::ZERO
      } else {
        link.params.reconnect
      };
      link.reconnect_after(pause);
      return b"liveness";
    }
    WorkerEvent::Restart => {
      tracing::debug!(target: crate::log::target::WORKER, broker = %link.params.broker, "the broker asked for a restart");
      outbox.push(kinds::E_DISCONNECT, &[b"broker"]);
      link.reconnect_after(Duration::ZERO);
    }
    // The envelope (client id, rid) stays in the state machine: JS gets the slot.
    WorkerEvent::Request {
      slot, data, opts, ..
    } => {
      outbox.push(
        kinds::E_REQUEST,
        &[&num_frame(slot as f64)[..], &data[..], &opts[..]],
      );
    }
    WorkerEvent::RequestHeartbeat { slot } => {
      outbox.push(kinds::E_REQ_HEARTBEAT, &[num_frame(slot as f64)])
    }
    WorkerEvent::Expired { slot } => {
      tracing::debug!(target: crate::log::target::WORKER, slot, "request forgotten after its timeout");
      outbox.push(kinds::E_REQ_EXPIRED, &[num_frame(slot as f64)])
    }
    WorkerEvent::Error(code) => outbox.push(kinds::E_ERROR, &[code.as_bytes(), b""]),
  }
  why
}

fn apply_commands(state: &mut WorkerState, batch: Bytes, events: &mut Vec<WorkerEvent>) {
  for record in Records::new(batch) {
    let Ok(record) = record else { break };
    let f = &record.frames;
    match (record.kind, f.len()) {
      (kinds::W_REPLY, 5) => {
        let kind = match &f[0][..] {
          b"6" => ReplyKind::Partial,
          b"7" => ReplyKind::Reject,
          _ => ReplyKind::Final,
        };
        let Some(slot) = frame_id(&f[1]) else {
          continue;
        };
        // A reply for a request no longer tracked (ended, expired, or lost with a disconnect) is
        // refused here rather than sent to a broker that would drop us for it.
        let sent = state.handle_outgoing_reply(
          kind,
          slot,
          f[2][..] == [1],
          f[3].clone(),
          f[4].clone(),
          events,
        );
        if sent.is_ok() && kind == ReplyKind::Partial {
          state.handle_partial_sent(slot, Instant::now());
        }
      }
      (kinds::W_HEARTBEAT, 1) => events.push(WorkerEvent::Send(codec::encode_worker_heartbeat(
        f[0].clone(),
      ))),
      (kinds::W_CONCURRENCY, 1) => {
        if let Some(n) = std::str::from_utf8(&f[0])
          .ok()
          .and_then(|s| s.parse::<i64>().ok())
        {
          state.set_concurrency(n);
        }
      }
      _ => {}
    }
  }
}
