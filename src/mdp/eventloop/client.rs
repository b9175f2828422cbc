//! The client's event loop: a DEALER session driving `crate::mdp::client::ClientState`.
//! Requests arrive from JS in batches; replies, timeouts and connection changes go back in
//! batches. Timeouts fire on time (a timer at the earliest deadline), not on heartbeat ticks.

use super::kinds;
use super::session::{drain, fail, Session, FAR};
use super::{new_identity, spawn_loop, LoopError, DRAIN_LIMIT};
use crate::boundary::batch::Records;
use crate::boundary::outbox::{Deliver, Outbox};
use crate::boundary::Command;
use crate::driver::dealer::DealerEvent;
use crate::driver::ServerConfig;
use crate::mdp::client::{ClientConf, ClientOutput, ClientState};
use crate::mdp::codec;
use bytes::Bytes;
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::time::{interval_at, sleep_until, Instant, MissedTickBehavior};

/// How a client session starts.
pub struct ClientParams {
  /// Broker endpoint.
  pub broker: String,
  /// Identity prefix for reconnects.
  pub prefix: String,
  /// Identity of the first session (made by JS, which already reported it).
  pub identity: String,
  /// Heartbeat period.
  pub heartbeat: Duration,
  /// Pause before reconnecting after liveness ran out.
  pub reconnect: Duration,
  /// The connection's configuration: mechanism (CURVE/PLAIN client), limits.
  pub config: ServerConfig,
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
  spawn_loop(&endpoint, move |commands| run(params, outbox, commands))
}

async fn run<D: Deliver>(
  params: ClientParams,
  mut outbox: Outbox<D>,
  mut commands: UnboundedReceiver<Command>,
) {
  let mut session = match Session::open(&params.broker, params.identity.clone(), &params.config) {
    Ok(s) => s,
    Err(err) => return fail(outbox, &err.to_string()),
  };
  let mut state = ClientState::new(ClientConf {
    heartbeat: params.heartbeat,
    ..ClientConf::default()
  });
  let mut events = Vec::with_capacity(64);
  state.start(Instant::now(), &mut events);
  let mut tick = interval_at(Instant::now() + params.heartbeat, params.heartbeat);
  tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
  // While `Some`, liveness ran out and a new session opens at that instant.
  let mut reconnect_at: Option<Instant> = None;

  // Each turn first applies what the state machine queued (at the first turn: READY and
  // the first heartbeat from `start`), flushes, then waits for the next input.
  loop {
    for event in events.drain(..) {
      match event {
        ClientOutput::Send(frames) => {
          // A full queue (hundreds of thousands queued while the broker is away) fails that
          // request at once instead of buffering without bound.
          let rid = (frames.get(1).is_some_and(|t| &t[..] == b"2"))
            .then(|| frames.get(3).cloned())
            .flatten();
          if !session.send(frames) {
            if let Some(rid) = rid {
              tracing::debug!(target: crate::log::target::CLIENT, "send queue full: request failed with C_QUEUE_FULL");
              state.cancel(&rid);
              outbox.push(kinds::E_FINAL, &[&rid[..], b"-1", b"\"C_QUEUE_FULL\""]);
            }
          }
        }
        ClientOutput::Connect => {
          tracing::debug!(target: crate::log::target::CLIENT, broker = %params.broker, "connected to the broker");
          outbox.push(kinds::E_CONNECT, &[] as &[&[u8]])
        }
        ClientOutput::Disconnect => {
          tracing::debug!(target: crate::log::target::CLIENT, broker = %params.broker, "broker heartbeats lost: reconnecting");
          outbox.push(kinds::E_DISCONNECT, &[b"liveness"]);
          reconnect_at = Some(Instant::now() + params.reconnect);
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
    session.dealer.flush();
    outbox.flush();
    let deadline = state
      .next_deadline()
      .unwrap_or_else(|| Instant::now() + FAR);
    tokio::select! {
      biased;
      cmd = commands.recv() => match cmd {
        Some(Command::Batch(batch)) => apply_commands(&mut state, batch, Instant::now(), &mut events),
        Some(Command::Stop) | None => break,
      },
      ev = session.dealer.recv(), if reconnect_at.is_none() && !outbox.congested() => {
        let now = Instant::now();
        drain(&mut session.dealer, ev, DRAIN_LIMIT, |ev| match ev {
          DealerEvent::Message(frames) => state.handle_incoming(&frames, now, &mut events),
          // The DEALER reconnects under the same identity, so replies the broker sends to this session
          // after a restart (persisted requests) still reach it; liveness decides when the session ends.
          DealerEvent::Up => {}
          DealerEvent::Down => {
            tracing::debug!(target: crate::log::target::CLIENT, broker = %params.broker, "connection to the broker closed: reconnecting");
          }
        })
        .await;
      },
      _ = tick.tick(), if reconnect_at.is_none() => state.handle_tick(Instant::now(), &mut events),
      _ = sleep_until(deadline) => state.handle_timeouts(Instant::now(), &mut events),
      _ = sleep_until(reconnect_at.unwrap_or_else(|| Instant::now() + FAR)), if reconnect_at.is_some() => {
        reconnect_at = None;
        let identity = new_identity(&params.prefix);
        match Session::open(&params.broker, identity.clone(), &params.config) {
          Ok(s) => session = s,
          Err(err) => return fail(outbox, &err.to_string()),
        }
        outbox.push(kinds::E_STARTED, &[identity.as_bytes()]);
        state.start(Instant::now(), &mut events);
        tick.reset();
      },
      _ = outbox.taken(), if outbox.has_pending() => {},
    }
  }
  outbox.push(kinds::E_STOPPED, &[] as &[&[u8]]);
  outbox.flush_now();
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
        state.request_with_rid(
          f[0].clone(),
          f[1].clone(),
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
      _ => {}
    }
  }
}
