//! The worker's event loop: a DEALER session driving `crate::mdp::worker::WorkerState`.
//! Requests go to JS in batches; replies come back in batches. Liveness loss reconnects
//! after `reconnect`; a broker's disconnect (`W,'5'`) restarts at once, as pigato does.

use super::kinds;
use super::session::{drain, fail, Session, FAR};
use super::{new_identity, spawn_loop, LoopError, DRAIN_LIMIT};
use crate::boundary::batch::Records;
use crate::boundary::outbox::{Deliver, Outbox};
use crate::boundary::Command;
use crate::driver::dealer::DealerEvent;
use crate::driver::ServerConfig;
use crate::mdp::codec;
use crate::mdp::codec::ReplyKind;
use crate::mdp::worker::{WorkerConf, WorkerOutput as WorkerEvent, WorkerState};
use bytes::Bytes;
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::time::{interval_at, sleep_until, Instant, MissedTickBehavior};

/// How a worker session starts.
pub struct WorkerParams {
  /// Broker endpoint.
  pub broker: String,
  /// Service served (exact, `prefix*` or `name@x.y.z`).
  pub service: String,
  /// Identity prefix for restarts.
  pub prefix: String,
  /// Identity of the first session.
  pub identity: String,
  /// Heartbeat period.
  pub heartbeat: Duration,
  /// Pause before reconnecting after liveness ran out.
  pub reconnect: Duration,
  /// The connection's configuration: mechanism (CURVE/PLAIN client), limits.
  pub config: ServerConfig,
  /// Requests in flight allowed (-1 unlimited).
  pub concurrency: i64,
}

/// Starts a worker loop on the addon runtime.
///
/// # Errors
/// `LoopError::Transport` for a malformed endpoint.
pub fn spawn<D: Deliver>(
  params: WorkerParams,
  outbox: Outbox<D>,
) -> Result<UnboundedSender<Command>, LoopError> {
  let endpoint = params.broker.clone();
  spawn_loop(&endpoint, move |commands| run(params, outbox, commands))
}

async fn run<D: Deliver>(
  params: WorkerParams,
  mut outbox: Outbox<D>,
  mut commands: UnboundedReceiver<Command>,
) {
  let mut session = match Session::open(&params.broker, params.identity.clone(), &params.config) {
    Ok(s) => s,
    Err(err) => return fail(outbox, &err.to_string()),
  };
  let service = Bytes::from(params.service.clone());
  let conf = WorkerConf {
    heartbeat: params.heartbeat,
    concurrency: params.concurrency,
    ..WorkerConf::default()
  };
  let mut state = WorkerState::new(service, conf);
  let mut events = Vec::with_capacity(64);
  state.start(Instant::now(), &mut events);
  let mut tick = interval_at(Instant::now() + params.heartbeat, params.heartbeat);
  tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
  let mut reconnect_at: Option<Instant> = None;
  // What the next `disconnect` event says: missed heartbeats, or the connection closed.
  let mut why: &[u8] = b"liveness";

  // Each turn first applies what the state machine queued (at the first turn: READY and
  // the first heartbeat from `start`), flushes, then waits for the next input.
  loop {
    let mut restart = false;
    for event in events.drain(..) {
      match event {
        WorkerEvent::Send(frames) => {
          let _ = session.send(frames);
        }
        WorkerEvent::Connect => {
          tracing::debug!(target: crate::log::target::WORKER, broker = %params.broker, "connected to the broker");
          outbox.push(kinds::E_CONNECT, &[] as &[&[u8]])
        }
        WorkerEvent::Disconnect => {
          tracing::debug!(target: crate::log::target::WORKER, broker = %params.broker, reason = %String::from_utf8_lossy(why), "broker lost: reconnecting");
          outbox.push(kinds::E_DISCONNECT, &[why]);
          // A closed connection is known at once: the new session starts now, and its DEALER keeps
          // dialling until the broker is back. Missed heartbeats wait the `reconnect` pause first.
          let pause = if why == b"closed" {
            Duration::ZERO
          } else {
            params.reconnect
          };
          why = b"liveness";
          reconnect_at = Some(Instant::now() + pause);
        }
        WorkerEvent::Restart => {
          tracing::debug!(target: crate::log::target::WORKER, broker = %params.broker, "the broker asked for a restart");
          outbox.push(kinds::E_DISCONNECT, &[b"broker"]);
          restart = true;
        }
        WorkerEvent::Request {
          client,
          service,
          rid,
          data,
          opts,
        } => {
          outbox.push(kinds::E_REQUEST, &[client, service, rid, data, opts]);
        }
        WorkerEvent::RequestHeartbeat { rid } => outbox.push(kinds::E_REQ_HEARTBEAT, &[rid]),
        WorkerEvent::Expired { rid } => {
          tracing::debug!(target: crate::log::target::WORKER, rid = %String::from_utf8_lossy(&rid), "request forgotten after its timeout");
          outbox.push(kinds::E_REQ_EXPIRED, &[rid])
        }
        WorkerEvent::Error(code) => outbox.push(kinds::E_ERROR, &[code.as_bytes(), b""]),
      }
    }
    // A restart (broker's W 5, or the reconnect pause elapsed) opens a new session now.
    if restart || reconnect_at.is_some_and(|at| at <= Instant::now()) {
      reconnect_at = None;
      let identity = new_identity(&params.prefix);
      match Session::open(&params.broker, identity.clone(), &params.config) {
        Ok(s) => session = s,
        Err(err) => return fail(outbox, &err.to_string()),
      }
      outbox.push(kinds::E_STARTED, &[identity.as_bytes()]);
      state.start(Instant::now(), &mut events);
      for event in events.drain(..) {
        if let WorkerEvent::Send(frames) = event {
          let _ = session.send(frames);
        }
      }
      tick.reset();
    }
    session.dealer.flush();
    outbox.flush();
    tokio::select! {
      biased;
      cmd = commands.recv() => match cmd {
        Some(Command::Batch(batch)) => apply_commands(&mut state, batch, &mut events),
        Some(Command::Stop) | None => break,
      },
      ev = session.dealer.recv(), if reconnect_at.is_none() && !outbox.congested() => {
        let now = Instant::now();
        drain(&mut session.dealer, ev, DRAIN_LIMIT, |ev| match ev {
          DealerEvent::Message(frames) => state.handle_incoming(&frames, now, &mut events),
          DealerEvent::Up => {}
          DealerEvent::Down => {
            why = b"closed";
            state.handle_peer_lost(&mut events);
          }
        })
        .await;
      },
      _ = tick.tick(), if reconnect_at.is_none() => state.handle_tick(Instant::now(), &mut events),
      _ = sleep_until(reconnect_at.unwrap_or_else(|| Instant::now() + FAR)), if reconnect_at.is_some() => {
        reconnect_at = Some(Instant::now());
      },
      _ = outbox.taken(), if outbox.has_pending() => {},
    }
  }
  // Say goodbye so the broker re-queues nothing to us (pigato's stop() does the same).
  state.stop(&mut events);
  for event in events.drain(..) {
    if let WorkerEvent::Send(frames) = event {
      let _ = session.send(frames);
    }
  }
  // The goodbye goes out in this write, before the connection closes.
  session.dealer.flush();
  drop(session);
  outbox.push(kinds::E_STOPPED, &[] as &[&[u8]]);
  outbox.flush_now();
}

fn apply_commands(state: &mut WorkerState, batch: Bytes, events: &mut Vec<WorkerEvent>) {
  for record in Records::new(batch) {
    let Ok(record) = record else { break };
    let f = &record.frames;
    match (record.kind, f.len()) {
      (kinds::W_REPLY, 6) => {
        let kind = match &f[0][..] {
          b"6" => ReplyKind::Partial,
          b"7" => ReplyKind::Reject,
          _ => ReplyKind::Final,
        };
        // A reply for a request no longer tracked (ended, or lost with a disconnect) is
        // refused here rather than sent to a broker that would drop us for it.
        let sent = state.handle_outgoing_reply(
          kind,
          &f[2],
          &f[3][..] == b"-1",
          f[4].clone(),
          f[5].clone(),
          events,
        );
        if sent.is_ok() && kind == ReplyKind::Partial {
          state.handle_partial_sent(&f[2], Instant::now());
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
