//! The broker's event loop: a ROUTER on our own ZMTP engine ([`crate::driver::Router`]: tcp/ipc
//! connections and `inproc://` peers, all polled from this one task) plus the `intch` PUB for `$dir`
//! notices, driving `crate::mdp::broker::Broker`. A peer whose connection closes is told to the state
//! at once. No JavaScript on this path: JS only hears start/stop, errors and persistence calls.

use super::kinds;
use super::parked::Parked;
use super::{spawn_loop, LoopError, DRAIN_LIMIT};
use crate::boundary::batch::Records;
use crate::boundary::outbox::{Deliver, Outbox};
use crate::boundary::Command;
use crate::driver::{Recv, Router, Server, ServerConfig, ServerStats};
use crate::mdp::broker::{Broker, Outgoing, PersistedRequest};
use crate::transport::{ready_now, Endpoint, TransportError};
use crate::zmtp::socket::{PubState, RouterStats};
use bytes::Bytes;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::time::{interval_at, Instant, MissedTickBehavior};

pub use super::broker_params::BrokerParams;

/// The latest counters, readable from the JS thread.
#[derive(Clone, Default)]
pub struct StatsCell(Arc<Mutex<String>>);

impl StatsCell {
  /// The counters as a JSON object.
  pub fn to_json(&self) -> String {
    self
      .0
      .lock()
      .map(|s| {
        if s.is_empty() {
          "{}".to_string()
        } else {
          s.clone()
        }
      })
      .unwrap_or_else(|_| "{}".into())
  }

  fn set(&self, json: String) {
    if let Ok(mut s) = self.0.lock() {
      *s = json;
    }
  }
}

/// Starts a broker loop on the addon runtime.
///
/// # Errors
/// `LoopError::Transport` when the endpoint is malformed (bind errors arrive as events).
pub fn spawn<D: Deliver>(
  params: BrokerParams,
  outbox: Outbox<D>,
  stats: StatsCell,
) -> Result<UnboundedSender<Command>, LoopError> {
  if !params.intch.is_empty() {
    crate::transport::Endpoint::parse(&params.intch)?;
  }
  let endpoint = params.endpoint.clone();
  spawn_loop(&endpoint, move |commands| {
    run(params, outbox, commands, stats)
  })
}

fn error_event<D: Deliver>(outbox: &mut Outbox<D>, err: &TransportError, what: &str) {
  let msg = format!("{what}: {err}");
  outbox.push(kinds::E_ERROR, &[err.code().as_bytes(), msg.as_bytes()]);
}

async fn run<D: Deliver>(
  params: BrokerParams,
  mut outbox: Outbox<D>,
  mut commands: UnboundedReceiver<Command>,
  stats: StatsCell,
) {
  // pigato's `conf.name` only matters between ROUTERs (a bound ROUTER's identity is never sent to
  // the DEALERs that connect to it), so it is reported back to JS and not used on the wire.
  let mut router = Router::new(params.server.clone());
  if let Err(err) = router.bind(&params.endpoint).await {
    error_event(
      &mut outbox,
      &err,
      &format!("cannot bind {}", params.endpoint),
    );
    outbox.push(kinds::E_STOPPED, &[] as &[&[u8]]);
    outbox.flush_now();
    return;
  }
  // The $dir channel is an extra: a busy intch port is reported, the broker still serves.
  let mut publisher = None;
  if !params.intch.is_empty() {
    match bind_intch(&params.intch).await {
      Ok(p) => publisher = Some(p),
      Err(err) => error_event(
        &mut outbox,
        &err,
        &format!("cannot bind intch {}", params.intch),
      ),
    }
  }
  outbox.push(kinds::E_STARTED, &[params.name.as_bytes()]);
  outbox.flush();

  let heartbeat = Duration::from_millis(params.heartbeat as u64);
  let mut state = Broker::new(params.conf(), Instant::now());
  let mut tick = interval_at(Instant::now() + heartbeat, heartbeat);
  tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
  let mut out: Vec<Outgoing> = Vec::with_capacity(64);
  // Counters for `stats()` are refreshed on their own short period, off the per-message path.
  let mut stats_tick = tokio::time::interval(Duration::from_millis(100));
  // Replies for peers that are reconnecting wait this long (a client heartbeats within it).
  let park_ttl = heartbeat * (params.heartbeat_liveness as u32 + 1);
  let mut io = Io {
    router: &mut router,
    publisher: publisher.as_mut(),
    send_failures: 0,
    parked: Parked::new(PARKED_MAX, park_ttl),
  };

  loop {
    tokio::select! {
      biased;
      cmd = commands.recv() => match cmd {
        Some(Command::Batch(batch)) => restore(&mut state, batch, Instant::now(), &mut out),
        Some(Command::Stop) | None => break,
      },
      recv = io.recv() => {
        let now = Instant::now();
        io.handle(&mut state, recv, now, &mut out);
        // Batch: take what else is already queued before paying for sends and a flush.
        for _ in 0..DRAIN_LIMIT {
          match ready_now(io.router.recv()).await {
            Some(recv) => io.handle(&mut state, recv, now, &mut out),
            None => break,
          }
        }
      },
      _ = tick.tick() => {
        state.handle_tick(Instant::now(), &mut out);
        io.parked.expire(Instant::now());
        stats.set(stats_json(&state, &io));
      },
      _ = stats_tick.tick() => stats.set(stats_json(&state, &io)),
      _ = outbox.taken(), if outbox.has_pending() => {},
    }
    if !out.is_empty() {
      // Something was routed: its answer is likely soon, keep the thread polling.
      crate::runtime::activity();
    }
    io.apply(&mut out, &mut outbox, params.persist, Instant::now());
    // Everything routed this turn goes out now: one write per connection.
    io.router.flush();
    if let Some(p) = io.publisher.as_deref_mut() {
      p.flush();
    }
    outbox.flush();
  }
  stats.set(stats_json(&state, &io));
  if let Some(p) = publisher.as_mut() {
    p.close();
  }
  // Release the port now, so a broker restarted on the same endpoint can bind at once.
  router.close();
  outbox.push(kinds::E_STOPPED, &[] as &[&[u8]]);
  outbox.flush_now();
}

fn restore(state: &mut Broker, batch: Bytes, now: Instant, out: &mut Vec<Outgoing>) {
  let reqs = Records::new(batch)
    .flatten()
    .filter(|r| r.kind == kinds::B_RESTORE && r.frames.len() == 5)
    .map(|r| {
      let mut f = r.frames.into_iter();
      let mut next = || f.next().unwrap_or_default();
      PersistedRequest {
        rid: next(),
        client: next(),
        service: next(),
        data: next(),
        opts: next(),
      }
    });
  state.restore(reqs, now, out);
}

fn stats_json(state: &Broker, io: &Io<'_>) -> String {
  let s = state.stats();
  serde_json::json!({
    "requests": s.requests,
    "replies": s.replies,
    "partials": s.partials,
    "rejects": s.rejects,
    "cacheHits": s.cache_hits,
    "requeued": s.requeued,
    "droppedExpired": s.dropped_expired,
    "abandoned": s.abandoned,
    "droppedLate": s.dropped_late,
    "workersGone": s.workers_gone,
    "droppedWorkerLost": s.dropped_worker_lost,
    "droppedQueueFull": s.dropped_queue_full,
    "droppedDuplicate": s.dropped_duplicate,
    "droppedMalformed": s.dropped_malformed,
    "droppedProtocol": s.dropped_protocol,
    "inFlight": s.in_flight,
    "workers": s.workers,
    "queued": s.queued,
    "heldBytes": s.held_bytes,
    "sendFailures": io.send_failures,
    "parked": io.parked.len(),
    "parkedExpired": io.parked.expired,
    "parkedOverflow": io.parked.overflow,
    "connections": connections_json(&io.router.stats(), &io.router.router_stats()),
  })
  .to_string()
}

/// The listening socket's counters: connections, and refusals by reason.
fn connections_json(c: &ServerStats, r: &RouterStats) -> serde_json::Value {
  serde_json::json!({
    "accepted": c.accepted,
    "active": c.active,
    "handshaking": c.handshaking,
    "handshakeEof": c.handshake_eof,
    "acceptErrors": c.accept_errors,
    "refused": c.refused,
    "refusedTotal": c.refused.values().sum::<u64>(),
    "droppedFull": r.dropped_full,
    "duplicateIds": r.duplicate_ids,
    "droppedAnonymous": r.dropped_anonymous,
    "droppedOnClose": r.dropped_on_close,
  })
}

/// Most replies parked for reconnecting peers at once.
const PARKED_MAX: usize = 100_000;

struct Io<'a> {
  router: &'a mut Router,
  publisher: Option<&'a mut Server<PubState>>,
  send_failures: u64,
  parked: Parked,
}

/// The `$dir` channel: a PUB on `intch` (tcp, ipc or inproc) on our engine; a subscriber that stops reading
/// loses notices past its queue, as with any PUB.
async fn bind_intch(endpoint: &str) -> Result<Server<PubState>, TransportError> {
  let endpoint = Endpoint::parse(endpoint)?;
  let mut config = ServerConfig::default();
  config.session.socket_type = "PUB".into();
  let mut publisher = Server::new(
    config,
    PubState::new(crate::transport::DEFAULT_HWM, 16 << 20),
  );
  publisher.bind(&endpoint).await?;
  Ok(publisher)
}

impl Io<'_> {
  /// The next message or peer event of the ROUTER; polling also serves the `$dir` PUB (accepts its
  /// subscribers, reads their subscriptions, writes notices). Cancel-safe.
  async fn recv(&mut self) -> Recv {
    std::future::poll_fn(|cx| {
      if let Some(p) = self.publisher.as_deref_mut() {
        if let std::task::Poll::Ready(never) = p.poll_event(cx) {
          match never {}
        }
      }
      self.router.poll_recv(cx)
    })
    .await
  }

  /// One message or peer event. A peer that (re)appears first gets what waited for it; a peer that is
  /// gone is told to the state at once (a worker's requests move or fail now, not after heartbeats).
  fn handle(&mut self, state: &mut Broker, recv: Recv, now: Instant, out: &mut Vec<Outgoing>) {
    let mut frames = match recv {
      Recv::Message(frames) => frames,
      Recv::Connected(peer) => {
        tracing::debug!(target: crate::log::target::BROKER, peer = %String::from_utf8_lossy(&peer), "peer connected");
        if self.parked.has(&peer) {
          self.unpark(&peer);
        }
        return;
      }
      Recv::Gone(peer) => {
        tracing::debug!(target: crate::log::target::BROKER, peer = %String::from_utf8_lossy(&peer), "peer gone");
        return state.handle_peer_gone(&peer, now, out);
      }
    };
    if frames.is_empty() {
      return;
    }
    let peer = frames.remove(0);
    if self.parked.has(&peer) {
      self.unpark(&peer);
    }
    state.handle_incoming(peer, &frames, now, out);
  }

  fn apply<D: Deliver>(
    &mut self,
    out: &mut Vec<Outgoing>,
    outbox: &mut Outbox<D>,
    persist: bool,
    now: Instant,
  ) {
    for item in out.drain(..) {
      match item {
        Outgoing::Route { peer, frames } => self.route(peer, frames, now),
        Outgoing::Directory(notice) => {
          if let Some(p) = self.publisher.as_deref_mut() {
            p.publish(&[notice]);
          }
        }
        Outgoing::PersistSet(p) if persist => {
          outbox.push(
            kinds::E_PERSIST_SET,
            &[p.rid, p.client, p.service, p.data, p.opts],
          );
        }
        Outgoing::PersistDel { rid } if persist => outbox.push(kinds::E_PERSIST_DEL, &[rid]),
        _ => {}
      }
    }
  }

  /// Sends, or parks the message when its peer is not connected right now.
  fn route(&mut self, peer: Bytes, frames: Vec<Bytes>, now: Instant) {
    // Newer messages queue behind parked ones, so a peer sees its replies in order.
    if self.parked.has(&peer) {
      self.parked.park(peer, frames, now);
      return;
    }
    if let Err(Some(frames)) = self.send_now(&peer, frames) {
      self.parked.park(peer, frames, now);
    }
  }

  /// `Err(Some(frames))`: the peer is unknown right now (frames kept for parking);
  /// `Err(None)`: refused for another reason (full queue), counted like libzmq's ROUTER drop.
  fn send_now(&mut self, peer: &Bytes, frames: Vec<Bytes>) -> Result<(), Option<Vec<Bytes>>> {
    let mut msg = Vec::with_capacity(frames.len() + 1);
    msg.push(peer.clone());
    // Refcount clones only: the frames stay available in case the peer is unknown.
    msg.extend(frames.iter().cloned());
    match self.router.send(msg) {
      Ok(()) => Ok(()),
      Err(TransportError::Unroutable) => Err(Some(frames)),
      Err(_) => {
        self.send_failures += 1;
        Err(None)
      }
    }
  }

  fn unpark(&mut self, peer: &Bytes) {
    let Some(mut queue) = self.parked.take(peer) else {
      return;
    };
    while let Some((at, frames)) = queue.pop_front() {
      if let Err(Some(frames)) = self.send_now(peer, frames) {
        // Gone again: the rest keeps waiting, in order.
        queue.push_front((at, frames));
        self.parked.restore(peer.clone(), queue);
        return;
      }
    }
  }
}
